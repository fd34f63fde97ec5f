# src/ctl: batsimctl(1), the command line tool (read and control sides).
bin_PROGRAMS += src/ctl/batsimctl
src_ctl_batsimctl_SOURCES = src/ctl/main.c src/ctl/read.c src/ctl/command.c \
	src/ctl/util.c \
	src/ctl/ctl.h
src_ctl_batsimctl_CPPFLAGS = $(AM_CPPFLAGS) $(JSONC_CFLAGS)
src_ctl_batsimctl_LDADD = src/lib/libbatsim.la src/common/libbscommon.la \
	$(JSONC_LIBS) $(LIBM)
