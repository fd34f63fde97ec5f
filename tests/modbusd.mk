# tests of the modbusd area (included by tests/local.mk): batsim-modbusd
# against the real batsimd with python3-pymodbus and mbpoll as clients.
MODBUSD_TESTS = tests/integration/modbusd.sh
TESTS += $(MODBUSD_TESTS)
EXTRA_DIST += $(MODBUSD_TESTS) tests/integration/modbusd-check.py
