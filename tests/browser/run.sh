#!/bin/sh
# tests/browser/run.sh - the dashboard in headless Debian Chromium, driven
# by playwright-core (tests/browser/package.json, `npm ci` there), against
# the real batsim-init + batsimd + batsim-httpd of the build tree.
#
# Exit status (automake): 0 pass, 1 fail, 77 skip when node, chromium or
# node_modules/playwright-core are missing.  Screenshots (overview, module,
# alarms, controls, stale, phone) go to tests/browser/artifacts/ in the
# source tree (gitignored), or to the build tree when the source tree is
# read-only (distcheck).
#
# Environment: abs_top_srcdir, abs_top_builddir (set by make check),
# CHROMIUM (default /usr/bin/chromium), BROWSER_ARTIFACTS,
# BROWSER_WRITER=testwriter (use bs-testwriter instead of batsimd; for
# developing the page only).
here=$(cd "$(dirname "$0")" && pwd)
srcdir=${abs_top_srcdir:-$(cd "$here/../.." && pwd)}
builddir=${abs_top_builddir:-$srcdir}
chromium=${CHROMIUM:-/usr/bin/chromium}
tdir=$srcdir/tests/browser

if ! command -v node >/dev/null 2>&1; then
	echo "SKIP: node not found (apt install nodejs npm)"
	exit 77
fi
if [ ! -x "$chromium" ]; then
	echo "SKIP: $chromium not found (apt install chromium, or set CHROMIUM)"
	exit 77
fi
if [ ! -f "$tdir/node_modules/playwright-core/package.json" ]; then
	echo "SKIP: playwright-core is not installed: run 'npm ci' in $tdir"
	exit 77
fi

artifacts=${BROWSER_ARTIFACTS:-$tdir/artifacts}
if ! mkdir -p "$artifacts" 2>/dev/null || [ ! -w "$artifacts" ]; then
	artifacts=$builddir/tests/browser/artifacts
	mkdir -p "$artifacts" || exit 1
fi

BUILDDIR=$builddir SRCDIR=$srcdir CHROMIUM=$chromium BROWSER_ARTIFACTS=$artifacts \
NODE_PATH=$tdir/node_modules \
	exec node "$tdir/dashboard.test.js"
