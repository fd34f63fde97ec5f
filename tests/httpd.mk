# tests of the httpd area (included by tests/local.mk): batsim-httpd end to
# end against the test writer and a fake control socket; hostile input
# (tests/fuzz/http-fuzz.py, python3, seeded and bounded); load scripts
# (not tests) under tests/bench/.
HTTPD_TESTS = tests/integration/httpd.sh tests/integration/httpd-batsimd.sh \
	tests/fuzz/http-fuzz.sh tests/integration/shm-hostile.sh \
	tests/integration/httpd-hostile.sh tests/integration/run-all.sh \
	tests/integration/httpd-sse-scale.sh \
	tests/integration/overview.sh
TESTS += $(HTTPD_TESTS)
EXTRA_DIST += $(HTTPD_TESTS) tests/fuzz/http-fuzz.py \
	tests/integration/slow-clients.py
# Load scripts (run by hand, see docs/PERFORMANCE.md).
EXTRA_DIST += tests/bench/httpd-load.sh tests/bench/sse-clients.py \
	tests/bench/httpd-vs-nginx.sh tests/bench/sse-load.sh \
	tests/bench/bench-common.sh
# the SSE load client in C (tests/bench/sse-load.sh's default; libc only)
noinst_PROGRAMS += tests/bench/sse_clients
tests_bench_sse_clients_SOURCES = tests/bench/sse_clients.c
tests_bench_sse_clients_LDADD =

# /rack/R written straight into a buffer is the JSON of view_rack()
# (hand-written TAP).
check_PROGRAMS += tests/unit/test_rackjson
TESTS += tests/unit/test_rackjson
tests_unit_test_rackjson_SOURCES = tests/unit/test_rackjson.c \
	src/httpd/rackjson.c src/httpd/buf.c
tests_unit_test_rackjson_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/src/httpd \
	$(MHD_CFLAGS) $(JSONC_CFLAGS)
tests_unit_test_rackjson_LDADD = src/common/libbscommon.la \
	src/lib/libbatsim.la $(JSONC_LIBS) $(LIBM)

# the overview's encodings: base64 and the quantised module arrays
# (src/httpd/overview.c included for its static functions; TAP)
check_PROGRAMS += tests/unit/test_overview
TESTS += tests/unit/test_overview
tests_unit_test_overview_SOURCES = tests/unit/test_overview.c src/httpd/buf.c
tests_unit_test_overview_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/src/httpd \
	$(MHD_CFLAGS) $(JSONC_CFLAGS)
tests_unit_test_overview_LDADD = src/common/libbscommon.la \
	src/lib/libbatsim.la $(JSONC_LIBS) $(LIBM)
