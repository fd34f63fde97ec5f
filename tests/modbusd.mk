# tests of the modbusd area (included by tests/local.mk): batsim-modbusd
# against the real batsimd with python3-pymodbus and mbpoll as clients.
MODBUSD_TESTS = tests/integration/modbusd.sh
TESTS += $(MODBUSD_TESTS)
EXTRA_DIST += $(MODBUSD_TESTS) tests/integration/modbusd-check.py
# libFuzzer target of the request handler and its seed corpus.  It is
# wired like tests/fuzz's other targets (tests/fuzz.mk, run-fuzz.sh):
#   FUZZ_TARGETS += tests/fuzz/fuzz_modbusd, sources below, and "modbusd"
#   in run-fuzz.sh's target list (see the i10 report).
EXTRA_DIST += tests/fuzz/fuzz_modbusd.c tests/fuzz/corpus/modbusd
# Load script (run by hand, see docs/PERFORMANCE.md).
EXTRA_DIST += tests/bench/modbus-load.sh tests/bench/modbus-clients.py
