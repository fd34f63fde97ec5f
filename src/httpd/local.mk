# src/httpd: batsim-httpd (included by the top Makefile.am)
sbin_PROGRAMS += src/httpd/batsim-httpd
src_httpd_batsim_httpd_SOURCES = \
	src/httpd/httpd.h \
	src/httpd/main.c \
	src/httpd/buf.c \
	src/httpd/source.c \
	src/httpd/routes.c \
	src/httpd/reply.h \
	src/httpd/reply.c \
	src/httpd/rackjson.c \
	src/httpd/anscache.c \
	src/httpd/deadline.c \
	src/httpd/sse.c \
	src/httpd/overview.c \
	src/httpd/metrics.c \
	src/httpd/ctlproxy.c \
	src/httpd/files.c
src_httpd_batsim_httpd_CPPFLAGS = $(AM_CPPFLAGS) $(MHD_CFLAGS) \
	$(JSONC_CFLAGS) $(SYSTEMD_CFLAGS)
src_httpd_batsim_httpd_LDADD = src/common/libbscommon.la \
	src/lib/libbatsim.la $(MHD_LIBS) $(JSONC_LIBS) $(SYSTEMD_LIBS) \
	$(PTHREAD_LIBS) $(LIBM)
