# tests of the hostile-testing area (included by tests/local.mk)

# kill -9 and restart of batsimd and batsim-httpd (real daemons)
TESTS += tests/integration/kill9.sh
EXTRA_DIST += tests/integration/kill9.sh

# soak of batsim-httpd (a benchmark, run by scripts/test-all for a few
# seconds; docs/RELIABILITY.md)
EXTRA_DIST += tests/bench/soak.sh

#
# libFuzzer targets, built only when the compiler links -fsanitize=fuzzer
# (clang; configure says "libFuzzer: yes").  Each compiles the code it
# fuzzes itself, with coverage, ASan and UBSan; the rest comes from the
# build's libraries.  tests/fuzz/run-fuzz.sh runs each over its committed
# seed corpus (tests/fuzz/corpus/NAME) for a fixed number of runs; see
# docs/RELIABILITY.md for running them long.
FUZZ_TARGETS = tests/fuzz/fuzz_shm tests/fuzz/fuzz_conf tests/fuzz/fuzz_ocv \
	tests/fuzz/fuzz_profile tests/fuzz/fuzz_control tests/fuzz/fuzz_httpd \
	tests/fuzz/fuzz_modbusd
FUZZ_FLAGS = -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined -fno-omit-frame-pointer -g -O1
FUZZ_LDFLAGS = $(FUZZ_FLAGS) -no-install
FUZZ_COMMON = src/common/log.c src/common/util.c src/common/datafile.c \
	src/common/datafile.h

if HAVE_FUZZER
check_PROGRAMS += $(FUZZ_TARGETS)
TESTS += tests/fuzz/run-fuzz.sh
endif
EXTRA_DIST += tests/fuzz/run-fuzz.sh tests/fuzz/corpus tests/fuzz/conf.dict \
	tests/fuzz/control.dict tests/fuzz/httpd.dict

# segment header validation and the reader API on a hostile mapping
tests_fuzz_fuzz_shm_SOURCES = tests/fuzz/fuzz_shm.c \
	src/lib/shm.c src/lib/reader.c src/lib/writer.c src/lib/control.c \
	src/lib/error.c src/lib/guard.c
tests_fuzz_fuzz_shm_CFLAGS = $(AM_CFLAGS) $(FUZZ_FLAGS)
tests_fuzz_fuzz_shm_LDFLAGS = $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_shm_LDADD = $(PTHREAD_LIBS)

# batsim.conf parser
tests_fuzz_fuzz_conf_SOURCES = tests/fuzz/fuzz_conf.c tests/fuzz/fuzz_util.h \
	src/common/conf.c src/common/chemistry.c $(FUZZ_COMMON)
tests_fuzz_fuzz_conf_CFLAGS = $(AM_CFLAGS) $(FUZZ_FLAGS)
tests_fuzz_fuzz_conf_LDFLAGS = $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_conf_LDADD = $(LIBM)

# OCV CSV loader
tests_fuzz_fuzz_ocv_SOURCES = tests/fuzz/fuzz_ocv.c tests/fuzz/fuzz_util.h \
	src/common/conf.c src/common/chemistry.c $(FUZZ_COMMON)
tests_fuzz_fuzz_ocv_CFLAGS = $(AM_CFLAGS) $(FUZZ_FLAGS)
tests_fuzz_fuzz_ocv_LDFLAGS = $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_ocv_LDADD = $(LIBM)

# profile CSV loader of batsimd, on a small real engine
tests_fuzz_fuzz_profile_SOURCES = tests/fuzz/fuzz_profile.c \
	tests/fuzz/fuzz_util.h tests/fuzz/fuzz_engine.h src/batsimd/profile.c
tests_fuzz_fuzz_profile_CPPFLAGS = $(AM_CPPFLAGS) $(ENGINE_CPPFLAGS)
tests_fuzz_fuzz_profile_CFLAGS = $(AM_CFLAGS) $(FUZZ_FLAGS)
tests_fuzz_fuzz_profile_LDFLAGS = $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_profile_LDADD = $(ENGINE_LIBS)

# batsimd's control line handler, on a small real engine
tests_fuzz_fuzz_control_SOURCES = tests/fuzz/fuzz_control.c \
	tests/fuzz/fuzz_util.h tests/fuzz/fuzz_engine.h src/batsimd/control.c \
	src/batsimd/mbfaults.c
tests_fuzz_fuzz_control_CPPFLAGS = $(AM_CPPFLAGS) $(ENGINE_CPPFLAGS) \
	$(JSONC_CFLAGS)
tests_fuzz_fuzz_control_CFLAGS = $(AM_CFLAGS) $(FUZZ_FLAGS)
tests_fuzz_fuzz_control_LDFLAGS = $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_control_LDADD = $(ENGINE_LIBS) src/lib/libbatsim.la \
	$(JSONC_LIBS)

# batsim-httpd: routing, query parsing, control proxy (all but main.c)
tests_fuzz_fuzz_httpd_SOURCES = tests/fuzz/fuzz_httpd.c \
	tests/fuzz/fuzz_util.h tests/fuzz/fuzz_engine.h \
	src/httpd/routes.c src/httpd/reply.c src/httpd/source.c \
	src/httpd/sse.c src/httpd/anscache.c src/httpd/overview.c \
	src/httpd/metrics.c src/httpd/ctlproxy.c src/httpd/files.c \
	src/httpd/buf.c src/httpd/rackjson.c src/httpd/deadline.c
tests_fuzz_fuzz_httpd_CPPFLAGS = $(AM_CPPFLAGS) $(ENGINE_CPPFLAGS) \
	-I$(top_srcdir)/src/httpd $(MHD_CFLAGS) $(JSONC_CFLAGS)
tests_fuzz_fuzz_httpd_CFLAGS = $(AM_CFLAGS) $(FUZZ_FLAGS)
tests_fuzz_fuzz_httpd_LDFLAGS = $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_httpd_LDADD = $(ENGINE_LIBS) src/lib/libbatsim.la \
	$(MHD_LIBS) $(JSONC_LIBS) $(PTHREAD_LIBS) $(LIBM)

# batsim-modbusd's request handler and fault-list parser on a real
# in-process segment
tests_fuzz_fuzz_modbusd_SOURCES = tests/fuzz/fuzz_modbusd.c $(MODBUSD_SOURCES)
nodist_tests_fuzz_fuzz_modbusd_SOURCES = src/modbusd/sunspec-table.c
tests_fuzz_fuzz_modbusd_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/src/modbusd \
	$(MODBUS_CFLAGS) $(JSONC_CFLAGS)
tests_fuzz_fuzz_modbusd_CFLAGS = $(AM_CFLAGS) $(FUZZ_FLAGS)
tests_fuzz_fuzz_modbusd_LDFLAGS = $(FUZZ_LDFLAGS)
tests_fuzz_fuzz_modbusd_LDADD = src/common/libbscommon.la src/lib/libbatsim.la \
	$(MODBUS_LIBS) $(JSONC_LIBS) $(PTHREAD_LIBS) $(LIBM)
