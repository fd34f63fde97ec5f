# src/init: batsim-init(8), creates, checks and removes the shm segment.
sbin_PROGRAMS += src/init/batsim-init
src_init_batsim_init_SOURCES = src/init/batsim-init.c
src_init_batsim_init_LDADD = src/lib/libbatsim.la src/common/libbscommon.la
dist_man_MANS += man/batsim-init.8
