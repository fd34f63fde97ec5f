/*
 * files.c - static files: the dashboard (www dir) and Chart.js.
 *
 * The path is checked lexically after libmicrohttpd's unescaping: no
 * ".." or "." segment, no hidden (dot) file, no backslash, so a request
 * cannot leave the root.  Symbolic links inside the root are followed
 * (Debian's chart.js directory uses them).  ETag and Last-Modified come
 * from size and mtime; If-None-Match / If-Modified-Since give 304.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "httpd.h"
#include "reply.h"
#include "log.h"

static const struct {
	const char *ext, *type;
} types[] = {
    {".html", "text/html; charset=utf-8"},
    {".htm", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".mjs", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".json", "application/json"},
    {".map", "application/json"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".jpg", "image/jpeg"},
    {".jpeg", "image/jpeg"},
    {".gif", "image/gif"},
    {".ico", "image/vnd.microsoft.icon"},
    {".webp", "image/webp"},
    {".woff2", "font/woff2"},
    {".woff", "font/woff"},
    {".txt", "text/plain; charset=utf-8"},
    {".md", "text/markdown; charset=utf-8"},
    {".webmanifest", "application/manifest+json"},
};

static const char *content_type(const char *path)
{
	const char *dot = strrchr(path, '.');
	const char *slash = strrchr(path, '/');

	if (dot && (!slash || dot > slash))
		for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
			if (!strcasecmp(dot, types[i].ext))
				return types[i].type;
	return "application/octet-stream";
}

/* 0 when every segment of rel is a plain name. */
static int safe_path(const char *rel)
{
	const char *p = rel;

	if (strchr(rel, '\\'))
		return -1;
	while (*p) {
		const char *end = strchr(p, '/');
		size_t n = end ? (size_t)(end - p) : strlen(p);

		if (n > 0 && p[0] == '.') /* ".", "..", hidden files */
			return -1;
		if (!end)
			break;
		p = end + 1;
	}
	return 0;
}

static enum MHD_Result not_found(struct MHD_Connection *c, const char *rel)
{
	return hd_error(c, 404,
			"no such path /%.200s: the API is /summary, "
			"/rack/R, /updates, /history, /metrics, /healthz and "
			"/control (see batsim-httpd(8))",
			rel);
}

enum MHD_Result files_handle(struct MHD_Connection *c, const char *root,
			     const char *rel)
{
	char path[PATH_MAX], etag[96], lastmod[64];
	const char *inm, *ims;
	struct stat st;
	struct tm tm;
	struct MHD_Response *resp;
	enum MHD_Result ret;
	int fd, n;

	if (safe_path(rel))
		return hd_error(c, 404,
				"path /%.200s refused: dot segments and "
				"hidden files are not served",
				rel);
	n = snprintf(path, sizeof path, "%s/%s", root, rel);
	if (n < 0 || (size_t)n >= sizeof path - 16)
		return hd_error(c, 414, "path too long");
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		/* A directory: its index.html. */
		close(fd);
		snprintf(path + n, sizeof path - (size_t)n, "%sindex.html",
			 (n > 0 && path[n - 1] == '/') ? "" : "/");
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	}
	if (fd < 0) {
		if (errno != ENOENT && errno != ENOTDIR)
			log_warn("cannot open %s: %s", path, strerror(errno));
		return not_found(c, rel);
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return not_found(c, rel);
	}
	snprintf(etag, sizeof etag, "\"%llx-%llx-%lx\"",
		 (unsigned long long)st.st_size,
		 (unsigned long long)st.st_mtim.tv_sec,
		 (unsigned long)st.st_mtim.tv_nsec);
	gmtime_r(&st.st_mtim.tv_sec, &tm);
	strftime(lastmod, sizeof lastmod, "%a, %d %b %Y %H:%M:%S GMT", &tm);

	inm = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
					  MHD_HTTP_HEADER_IF_NONE_MATCH);
	ims = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
					  MHD_HTTP_HEADER_IF_MODIFIED_SINCE);
	if ((inm && (strstr(inm, etag) || !strcmp(inm, "*"))) ||
	    (!inm && ims && !strcmp(ims, lastmod))) {
		close(fd);
		resp = MHD_create_response_from_buffer(0, NULL,
						       MHD_RESPMEM_PERSISTENT);
		if (!resp)
			return MHD_NO;
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_LAST_MODIFIED,
					lastmod);
		ret = MHD_queue_response(c, MHD_HTTP_NOT_MODIFIED, resp);
		MHD_destroy_response(resp);
		return ret;
	}
	resp = MHD_create_response_from_fd((size_t)st.st_size, fd);
	if (!resp) {
		close(fd);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				content_type(path));
	MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_LAST_MODIFIED, lastmod);
	/* Revalidate each time: the dashboard changes with the package. */
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
				"no-cache");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	ret = MHD_queue_response(c, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return ret;
}
