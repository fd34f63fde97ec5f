# libbatsim: the shm ABI, reader, writer and control client.
lib_LTLIBRARIES += src/lib/libbatsim.la
src_lib_libbatsim_la_SOURCES = \
	src/lib/shm.c \
	src/lib/reader.c \
	src/lib/writer.c \
	src/lib/control.c \
	src/lib/error.c \
	src/lib/guard.c \
	src/lib/internal.h
src_lib_libbatsim_la_CFLAGS = $(AM_CFLAGS) -fvisibility=hidden
src_lib_libbatsim_la_LDFLAGS = -version-info $(LIBBATSIM_VERSION_INFO) \
	-export-symbols-regex '^bs_' -no-undefined
src_lib_libbatsim_la_LIBADD = $(PTHREAD_LIBS)
batsimincludedir = $(includedir)/batsim
batsiminclude_HEADERS = src/lib/batsim/batsim.h src/lib/batsim/shm.h
pkgconfig_DATA += src/lib/batsim.pc
DISTCLEANFILES += src/lib/batsim.pc
