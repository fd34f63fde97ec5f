# tests of the httpd area (included by tests/local.mk): batsim-httpd end to
# end against the test writer and a fake control socket; hostile input
# (tests/fuzz/http-fuzz.py, python3, seeded and bounded); load scripts
# (not tests) under tests/bench/.
HTTPD_TESTS = tests/integration/httpd.sh tests/integration/httpd-batsimd.sh \
	tests/fuzz/http-fuzz.sh tests/integration/shm-hostile.sh
TESTS += $(HTTPD_TESTS)
EXTRA_DIST += $(HTTPD_TESTS) tests/fuzz/http-fuzz.py
# Load script (run by hand, see docs/PERFORMANCE.md).
EXTRA_DIST += tests/bench/httpd-load.sh tests/bench/sse-clients.py
