# tests of the daemon area (included by tests/local.mk)

# batsim.conf parser (Check)
if HAVE_CHECK
check_PROGRAMS += tests/unit/test_conf
TESTS += tests/unit/test_conf
tests_unit_test_conf_SOURCES = tests/unit/test_conf.c
tests_unit_test_conf_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_conf_LDADD = src/common/libbscommon.la $(CHECK_LIBS) $(LIBM)
endif

# batsimd end to end: the real daemon, its segment and control socket
check_PROGRAMS += tests/integration/bsd-peek
tests_integration_bsd_peek_SOURCES = tests/integration/bsd-peek.c
tests_integration_bsd_peek_LDADD = src/lib/libbatsim.la
TESTS += tests/integration/batsimd.sh
EXTRA_DIST += tests/integration/batsimd.sh

# batsimd with a full /dev/shm (private mount namespace; skips unless root)
TESTS += tests/integration/batsimd-shmfull.sh
EXTRA_DIST += tests/integration/batsimd-shmfull.sh

# the model against an independent integrator (python3, standard library)
TESTS += tests/integration/trace-check.sh
EXTRA_DIST += tests/integration/trace-check.sh \
	tests/integration/trace-check.py

# the lab tests of a cell through the real batsimd (python3)
TESTS += tests/integration/lab-checks.sh
EXTRA_DIST += tests/integration/lab-checks.sh \
	tests/integration/lab-checks.py
