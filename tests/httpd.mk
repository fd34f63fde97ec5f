# tests of the httpd area (included by tests/local.mk): batsim-httpd end to
# end against the test writer and a fake control socket; load scripts
# (not tests) under tests/bench/.
HTTPD_TESTS = tests/integration/httpd.sh tests/integration/httpd-batsimd.sh
TESTS += $(HTTPD_TESTS)
EXTRA_DIST += $(HTTPD_TESTS)
# Load script (run by hand, see docs/PERFORMANCE.md).
EXTRA_DIST += tests/bench/httpd-load.sh tests/bench/sse-clients.py
