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
