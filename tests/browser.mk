# tests of the browser area (included by tests/local.mk)

# The dashboard in headless Chromium (playwright-core from npm, pinned in
# tests/browser/package-lock.json; `npm ci` in tests/browser first) against
# the real daemons.  Skips (77) without node, chromium or node_modules.
TESTS += tests/browser/run.sh
EXTRA_DIST += \
	tests/browser/run.sh \
	tests/browser/dashboard.test.js \
	tests/browser/package.json \
	tests/browser/package-lock.json
