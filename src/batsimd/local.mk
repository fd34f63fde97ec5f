# src/batsimd: the batsimd program (the engine itself is in engine.mk).
sbin_PROGRAMS += src/batsimd/batsimd
src_batsimd_batsimd_SOURCES = \
	src/batsimd/main.c \
	src/batsimd/control.c src/batsimd/control.h \
	src/batsimd/mbfaults.c src/batsimd/mbfaults.h \
	src/batsimd/trace.c src/batsimd/trace.h \
	src/batsimd/legacy.c src/batsimd/legacy.h \
	src/batsimd/sigbus.c src/batsimd/sigbus.h
src_batsimd_batsimd_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/src/batsimd \
	$(JSONC_CFLAGS) $(SYSTEMD_CFLAGS)
src_batsimd_batsimd_LDADD = $(ENGINE_LIBS) src/lib/libbatsim.la \
	src/common/libbscommon.la $(JSONC_LIBS) $(SYSTEMD_LIBS) $(LIBM) \
	$(PTHREAD_LIBS)

# The default configuration file, /etc/batsim/batsim.conf.
batsimconfdir = $(sysconfdir)/batsim
dist_batsimconf_DATA = data/batsim.conf

