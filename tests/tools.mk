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
# sourced by the shell tests of this file, of tests/httpd.mk and by
# tests/fuzz/http-fuzz.sh
EXTRA_DIST += tests/integration/harness.sh
