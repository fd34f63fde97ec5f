# src/modbusd: batsim-modbusd (included by the top Makefile.am).  The
# SunSpec register table is generated from data/sunspec/points.csv at
# build time (src/modbusd/gen-sunspec.py); no offset is typed by hand.
sbin_PROGRAMS += src/modbusd/batsim-modbusd
MODBUSD_SOURCES = \
	src/modbusd/modbusd.h \
	src/modbusd/sunspec.h \
	src/modbusd/sunspec.c \
	src/modbusd/map.c \
	src/modbusd/faults.c \
	src/modbusd/dev.c \
	src/modbusd/req.c
src_modbusd_batsim_modbusd_SOURCES = src/modbusd/main.c $(MODBUSD_SOURCES)
nodist_src_modbusd_batsim_modbusd_SOURCES = src/modbusd/sunspec-table.c
src_modbusd_batsim_modbusd_CPPFLAGS = $(AM_CPPFLAGS) \
	-I$(top_srcdir)/src/modbusd $(MODBUS_CFLAGS) $(JSONC_CFLAGS) \
	$(SYSTEMD_CFLAGS)
src_modbusd_batsim_modbusd_LDADD = src/common/libbscommon.la \
	src/lib/libbatsim.la $(MODBUS_LIBS) $(JSONC_LIBS) $(SYSTEMD_LIBS) \
	$(PTHREAD_LIBS) $(LIBM)
src/modbusd/sunspec-table.c: $(top_srcdir)/src/modbusd/gen-sunspec.py \
		$(top_srcdir)/data/sunspec/points.csv
	$(AM_V_GEN)$(MKDIR_P) src/modbusd && \
	$(PYTHON3) $(top_srcdir)/src/modbusd/gen-sunspec.py \
		$(top_srcdir)/data/sunspec/points.csv $@.tmp && mv $@.tmp $@
BUILT_SOURCES += src/modbusd/sunspec-table.c
CLEANFILES += src/modbusd/sunspec-table.c
EXTRA_DIST += src/modbusd/gen-sunspec.py data/sunspec/points.csv \
	data/sunspec/README.md
