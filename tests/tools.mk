# tests of the tools area (included by tests/local.mk): batsim-init and
# batsimctl against the real library, the test writer and a fake control
# server (tests/integration/fake-batsimd.py, python3).
TOOLS_TESTS = \
	tests/integration/init.sh \
	tests/integration/ctl.sh \
	tests/integration/ctl-control.sh \
	tests/integration/naming.sh
TESTS += $(TOOLS_TESTS)
EXTRA_DIST += $(TOOLS_TESTS) tests/integration/fake-batsimd.py
# env_apply(): the environment below the options (hand-written TAP)
check_PROGRAMS += tests/unit/test_env
TESTS += tests/unit/test_env
tests_unit_test_env_SOURCES = tests/unit/test_env.c tests/unit/tap.h
tests_unit_test_env_LDADD = src/common/libbscommon.la src/lib/libbatsim.la \
	$(JSONC_LIBS) $(LIBM)
# sourced by the shell tests of this file, of tests/httpd.mk and by
# tests/fuzz/http-fuzz.sh
EXTRA_DIST += tests/integration/harness.sh
