# Tests: one fragment per area.
include tests/lib.mk
include tests/tools.mk
include tests/engine.mk
include tests/daemon.mk
include tests/httpd.mk
include tests/browser.mk
include tests/pkg.mk
include tests/fuzz.mk
include tests/modbusd.mk
