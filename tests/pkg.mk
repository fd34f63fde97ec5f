# tests of the pkg area (included by tests/local.mk)

# In `make check`: the library's exports, batsim.h and the Debian symbols
# file agree.
TESTS += tests/pkg/symbols.sh
EXTRA_DIST += tests/pkg/symbols.sh

# Not in `make check` (it builds the .deb and installs it as root): the
# Debian package test, run by scripts/test-all, or by hand with
# `make check-deb`.
EXTRA_DIST += tests/pkg/deb.sh
# Not run by make either: the units under a real systemd in a container
# (tests/pkg/systemd-boot.sh, see docs/PACKAGING.md).
EXTRA_DIST += tests/pkg/systemd-boot.sh
check-deb:
	$(srcdir)/tests/pkg/deb.sh
.PHONY: check-deb

# The Debian packaging travels in the release tarball too.
EXTRA_DIST += \
	debian/batsim.docs \
	debian/batsim.install \
	debian/batsim.lintian-overrides \
	debian/batsim.postinst \
	debian/batsim.postrm \
	debian/batsim.prerm \
	debian/changelog \
	debian/control \
	debian/copyright \
	debian/libbatsim-dev.install \
	debian/libbatsim-dev.lintian-overrides \
	debian/libbatsim0.install \
	debian/libbatsim0.lintian-overrides \
	debian/libbatsim0.symbols \
	debian/rules \
	debian/source/format
