# systemd: units, sysusers.d and tmpfiles.d (included by the top Makefile.am).
# The units are generated from *.service.in with the configured paths
# (sbindir, sysconfdir) and, for batsimd, Type=notify plus the watchdog when
# sd_notify support is built (HAVE_SYSTEMD), else Type=simple.

systemd_units = \
	systemd/batsim-init.service \
	systemd/batsimd.service \
	systemd/batsim-httpd.service \
	systemd/batsim-modbusd.service
# templates: one instance per site (/etc/batsim/NAME.conf)
systemd_units += \
	systemd/batsim-init@.service \
	systemd/batsimd@.service \
	systemd/batsim-httpd@.service \
	systemd/batsim-modbusd@.service

EXTRA_DIST += \
	systemd/batsim-init.service.in \
	systemd/batsimd.service.in \
	systemd/batsim-httpd.service.in \
	systemd/batsim-modbusd.service.in \
	systemd/batsim-init@.service.in \
	systemd/batsimd@.service.in \
	systemd/batsim-httpd@.service.in \
	systemd/batsim-modbusd@.service.in \
	systemd/sysusers.d/batsim.conf \
	systemd/tmpfiles.d/batsim.conf
CLEANFILES += $(systemd_units)

if HAVE_SYSTEMD
systemd_batsimd_sed = -e 's|@BATSIMD_TYPE@|notify|g' -e 's|@BATSIMD_NOTIFY@||g'
else
systemd_batsimd_sed = -e 's|@BATSIMD_TYPE@|simple|g' -e '/@BATSIMD_NOTIFY@/d'
endif

systemd_edit = $(SED) \
	-e 's|@sbindir[@]|$(sbindir)|g' \
	-e 's|@bindir[@]|$(bindir)|g' \
	-e 's|@sysconfdir[@]|$(sysconfdir)|g' \
	$(systemd_batsimd_sed)

$(systemd_units): Makefile
	$(AM_V_GEN)$(MKDIR_P) systemd && rm -f $@ $@.tmp && \
	$(systemd_edit) $(srcdir)/$@.in >$@.tmp && \
	if grep -n '@[A-Za-z_]*@' $@.tmp; then \
	  echo "$@: unsubstituted variable left (see above)" >&2; exit 1; fi && \
	mv $@.tmp $@
systemd/batsim-init.service: $(srcdir)/systemd/batsim-init.service.in
systemd/batsimd.service: $(srcdir)/systemd/batsimd.service.in
systemd/batsim-httpd.service: $(srcdir)/systemd/batsim-httpd.service.in
systemd/batsim-modbusd.service: $(srcdir)/systemd/batsim-modbusd.service.in
systemd/batsim-init@.service: $(srcdir)/systemd/batsim-init@.service.in
systemd/batsimd@.service: $(srcdir)/systemd/batsimd@.service.in
systemd/batsim-httpd@.service: $(srcdir)/systemd/batsim-httpd@.service.in
systemd/batsim-modbusd@.service: $(srcdir)/systemd/batsim-modbusd@.service.in

# Installed when a unit directory is configured (the default; configure's
# --with-systemdsystemunitdir=no turns it off).  debhelper picks them up
# from there (dh_installsystemd, dh_installsysusers, dh_installtmpfiles).
if INSTALL_UNITS
systemdsystemunit_DATA = $(systemd_units)
dist_sysusers_DATA = systemd/sysusers.d/batsim.conf
dist_tmpfiles_DATA = systemd/tmpfiles.d/batsim.conf
endif
