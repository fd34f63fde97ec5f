# tests of the engine area (included by tests/local.mk)
ENGINE_TEST_CPPFLAGS = $(AM_CPPFLAGS) $(ENGINE_CPPFLAGS)
if HAVE_CHECK
check_PROGRAMS += tests/unit/test_engine tests/unit/test_backends
TESTS += tests/unit/test_engine tests/unit/test_backends
endif
tests_unit_test_engine_SOURCES = tests/unit/test_engine.c \
	tests/unit/test_engine_cfg.h
tests_unit_test_engine_CPPFLAGS = $(ENGINE_TEST_CPPFLAGS)
tests_unit_test_engine_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_engine_LDADD = $(ENGINE_LIBS) $(CHECK_LIBS)
tests_unit_test_backends_SOURCES = tests/unit/test_backends.c \
	tests/unit/test_engine_cfg.h tests/unit/tap.h
tests_unit_test_backends_CPPFLAGS = $(ENGINE_TEST_CPPFLAGS)
tests_unit_test_backends_CFLAGS = $(AM_CFLAGS) $(CHECK_CFLAGS)
tests_unit_test_backends_LDADD = $(ENGINE_LIBS) $(CHECK_LIBS)

# capacity fade against BLAST-Lite's closed form (hand-written TAP)
check_PROGRAMS += tests/unit/test_ageing
TESTS += tests/unit/test_ageing
tests_unit_test_ageing_SOURCES = tests/unit/test_ageing.c \
	tests/unit/test_engine_cfg.h tests/unit/tap.h
tests_unit_test_ageing_CPPFLAGS = $(ENGINE_TEST_CPPFLAGS)
tests_unit_test_ageing_LDADD = $(ENGINE_LIBS)

# a site of 1,048,576 cells is created, stepped and published once
# (hand-written TAP, no Check)
check_PROGRAMS += tests/unit/test_engine_scale
TESTS += tests/unit/test_engine_scale
tests_unit_test_engine_scale_SOURCES = tests/unit/test_engine_scale.c \
	tests/unit/test_engine_cfg.h tests/unit/tap.h
tests_unit_test_engine_scale_CPPFLAGS = $(ENGINE_TEST_CPPFLAGS)
tests_unit_test_engine_scale_LDADD = $(ENGINE_LIBS)

# benchmark (not a test: prints figures, asserts nothing about speed)
noinst_PROGRAMS += tests/bench/bench_engine
tests_bench_bench_engine_SOURCES = tests/bench/bench_engine.c \
	tests/unit/test_engine_cfg.h
tests_bench_bench_engine_CPPFLAGS = $(ENGINE_TEST_CPPFLAGS) \
	-I$(top_srcdir)/tests/unit
tests_bench_bench_engine_LDADD = $(ENGINE_LIBS)

# ageing and SoH end to end: batsimd at speed 0 for a simulated month,
# batsim-httpd, batsimctl, --trace (about 10 s on 2 loaded cores)
TESTS += tests/integration/ageing.sh
EXTRA_DIST += tests/integration/ageing.sh
