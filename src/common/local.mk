# Code shared by the programs (not installed): configuration, logging,
# the environment variables (env.c),
# untrusted data files (datafile.c),
# the clock and command-line number parsing.
noinst_LTLIBRARIES += src/common/libbscommon.la
src_common_libbscommon_la_SOURCES = \
	src/common/conf.c src/common/conf.h \
	src/common/log.c src/common/log.h \
	src/common/util.c src/common/util.h \
	src/common/env.c src/common/env.h \
	src/common/datafile.c src/common/datafile.h
# JSON views of the API (batsim-httpd, batsimctl --json); users of
# libbscommon get json-c through its LIBADD.
src_common_libbscommon_la_SOURCES += src/common/views.c src/common/views.h
src_common_libbscommon_la_CPPFLAGS = $(AM_CPPFLAGS) $(JSONC_CFLAGS)
src_common_libbscommon_la_LIBADD = $(JSONC_LIBS) $(LIBM)
# The chemistry presets and their tables, as data every program reads
# (conf.c's cfg_defaults and cfg_preset; the engine's chem_tables,
# src/batsimd/chemtables.c, turns the tables into its model's form).
src_common_libbscommon_la_SOURCES += src/common/chemistry.c src/common/chemistry.h
