# src/init: batsim-init(8), creates, checks and removes the shm segment.
sbin_PROGRAMS += src/init/batsim-init
src_init_batsim_init_SOURCES = src/init/batsim-init.c
# views.h (view_backend_name) includes json-c's header
src_init_batsim_init_CPPFLAGS = $(AM_CPPFLAGS) $(JSONC_CFLAGS)
src_init_batsim_init_LDADD = src/lib/libbatsim.la src/common/libbscommon.la
