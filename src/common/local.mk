# Code shared by the programs (not installed): configuration, logging.
noinst_LTLIBRARIES += src/common/libbscommon.la
src_common_libbscommon_la_SOURCES = \
	src/common/conf.c src/common/conf.h \
	src/common/log.c src/common/log.h
