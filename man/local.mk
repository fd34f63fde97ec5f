# man: the pages, generated from man/*.in with the configured paths
# (sysconfdir, pkgdatadir, docdir, the Chart.js directory), the version and
# one date for every page: the release's, from debian/changelog (configure's
# MAN_DATE, see build-aux/release-date).  Included by the top Makefile.am.

man_pages = \
	man/batsimctl.1 \
	man/libbatsim.3 \
	man/batsim.conf.5 \
	man/batsim-shm.7 \
	man/batsim-init.8 \
	man/batsimd.8 \
	man/batsim-httpd.8 \
	man/batsim-modbusd.8
man_MANS = $(man_pages)
EXTRA_DIST += $(man_pages:=.in) build-aux/release-date
CLEANFILES += $(man_pages)

man_edit = $(SED) \
	-e 's|@sysconfdir[@]|$(sysconfdir)|g' \
	-e 's|@pkgdatadir[@]|$(pkgdatadir)|g' \
	-e 's|@docdir[@]|$(docdir)|g' \
	-e 's|@CHARTJS_DIR[@]|$(CHARTJS_DIR)|g' \
	-e 's|@VERSION[@]|$(VERSION)|g' \
	-e 's|@MAN_DATE[@]|$(MAN_DATE)|g'

$(man_pages): Makefile
	$(AM_V_GEN)$(MKDIR_P) man && rm -f $@ $@.tmp && \
	$(man_edit) $(srcdir)/$@.in >$@.tmp && \
	if grep -n '@[A-Za-z_]*@' $@.tmp; then \
	  echo "$@: unsubstituted variable left (see above)" >&2; exit 1; fi && \
	mv $@.tmp $@
man/batsimctl.1: $(srcdir)/man/batsimctl.1.in
man/libbatsim.3: $(srcdir)/man/libbatsim.3.in
man/batsim.conf.5: $(srcdir)/man/batsim.conf.5.in
man/batsim-shm.7: $(srcdir)/man/batsim-shm.7.in
man/batsim-init.8: $(srcdir)/man/batsim-init.8.in
man/batsimd.8: $(srcdir)/man/batsimd.8.in
man/batsim-httpd.8: $(srcdir)/man/batsim-httpd.8.in
man/batsim-modbusd.8: $(srcdir)/man/batsim-modbusd.8.in

# The documents the pages point to (batsimd(8), batsim.conf(5): MODEL.md;
# batsimctl(1), batsim-httpd(8): control-protocol.md), in $(docdir).
dist_doc_DATA = docs/MODEL.md docs/control-protocol.md
