# tests of the lib area (included by tests/local.mk)

# The test-only writer: other areas' tests use it
# ($(top_builddir)/tests/testwriter/bs-testwriter); never installed.
check_PROGRAMS += tests/testwriter/bs-testwriter
tests_testwriter_bs_testwriter_SOURCES = tests/testwriter/bs-testwriter.c
tests_testwriter_bs_testwriter_LDADD = src/lib/libbatsim.la

if HAVE_CHECK
check_PROGRAMS += tests/unit/test_lib
TESTS += tests/unit/test_lib
tests_unit_test_lib_SOURCES = tests/unit/test_lib.c
tests_unit_test_lib_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_lib_LDADD = src/lib/libbatsim.la $(CHECK_LIBS)
endif

# Torn-read stress test: writer thread, reader threads and processes.
check_PROGRAMS += tests/stress/torn
TESTS += tests/stress/torn
tests_stress_torn_SOURCES = tests/stress/torn.c
tests_stress_torn_LDADD = src/lib/libbatsim.la $(PTHREAD_LIBS)

# The same under ThreadSanitizer, threads only (TSan sees one process),
# with the library compiled in so that TSan instruments it too; -DBS_TSAN
# swaps the standalone fences for what TSan models.
if HAVE_TSAN
check_PROGRAMS += tests/stress/torn_tsan
TESTS += tests/stress/torn_tsan
tests_stress_torn_tsan_SOURCES = tests/stress/torn.c \
	src/lib/shm.c src/lib/reader.c src/lib/writer.c src/lib/error.c \
	src/lib/guard.c
tests_stress_torn_tsan_CPPFLAGS = $(AM_CPPFLAGS) -DBS_TSAN -DTORN_THREADS_ONLY
tests_stress_torn_tsan_CFLAGS = $(AM_CFLAGS) -fsanitize=thread -O1 -g
tests_stress_torn_tsan_LDFLAGS = -fsanitize=thread
tests_stress_torn_tsan_LDADD = $(PTHREAD_LIBS)
endif

# A header rewritten under readers (issue 9, defect 1): the plain build,
# and under AddressSanitizer with the library compiled in so that ASan
# instruments it too (an out-of-bounds access is a report and a failure).
check_PROGRAMS += tests/stress/hdr_rewrite
TESTS += tests/stress/hdr_rewrite
tests_stress_hdr_rewrite_SOURCES = tests/stress/hdr_rewrite.c
tests_stress_hdr_rewrite_LDADD = src/lib/libbatsim.la $(PTHREAD_LIBS)
if HAVE_ASAN
check_PROGRAMS += tests/stress/hdr_rewrite_asan
TESTS += tests/stress/hdr_rewrite_asan
tests_stress_hdr_rewrite_asan_SOURCES = tests/stress/hdr_rewrite.c \
	src/lib/shm.c src/lib/reader.c src/lib/writer.c src/lib/error.c \
	src/lib/guard.c
tests_stress_hdr_rewrite_asan_CFLAGS = $(AM_CFLAGS) -fsanitize=address \
	-fno-omit-frame-pointer -O1 -g
tests_stress_hdr_rewrite_asan_LDFLAGS = -fsanitize=address
tests_stress_hdr_rewrite_asan_LDADD = $(PTHREAD_LIBS)
endif

# Only bs_* symbols are exported, and all of batsim.h is.
TESTS += tests/unit/lib-exports.sh
EXTRA_DIST += tests/unit/lib-exports.sh
