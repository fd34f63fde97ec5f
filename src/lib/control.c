/*
 * control.c - client of batsimd's control socket (docs/control-protocol.md).
 *
 * A UNIX stream socket carrying one JSON object per line each way.  The
 * client does not parse JSON (libbatsim has no JSON dependency): it sends
 * the caller's object plus a newline and returns the next reply line.
 * Every wait is bounded by poll() against one deadline per request, so a
 * hung daemon gives -BS_ETIMEDOUT instead of a hung client.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "batsim/batsim.h"

#define CONTROL_EXPORT __attribute__((visibility("default")))

#define CONTROL_DEFAULT_TIMEOUT_MS 5000
/* Replies such as "alarms" or "state" with many faults can be long, but a
 * reply beyond this is a broken peer, not data. */
#define CONTROL_MAX_REPLY   (16u << 20)
#define CONTROL_MAX_REQUEST (64u << 10) /* the protocol's line limit */

struct bs_control {
	int fd;
	int timeout_ms;
	char *buf;  /* bytes received and not yet returned */
	size_t len; /* valid bytes in buf */
	size_t cap;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for `events` on fd until the deadline: 0, -BS_ETIMEDOUT or
 * -BS_ESYS. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - now_ms();
		struct pollfd p = {.fd = fd, .events = events};
		int n;

		if (left <= 0)
			return -BS_ETIMEDOUT;
		n = poll(&p, 1, left > 60000 ? 60000 : (int)left);
		if (n > 0)
			return 0; /* readable, writable, HUP or ERR: the
				     following read/send reports which */
		if (n < 0 && errno != EINTR)
			return -BS_ESYS;
	}
}

CONTROL_EXPORT int bs_control_open(const char *path, int timeout_ms,
				   bs_control **out)
{
	struct sockaddr_un sa;
	bs_control *c;
	size_t n;
	int fd;

	if (!out)
		return -BS_EINVAL;
	*out = NULL;
	if (!path || !*path)
		path = BS_DEFAULT_CONTROL_SOCKET;
	n = strlen(path);
	if (n >= sizeof(sa.sun_path) || timeout_ms < 0)
		return -BS_EINVAL;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, n + 1);

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno == ENOMEM || errno == ENOBUFS ? -BS_ENOMEM
							   : -BS_ESYS;
	/* A connect to a UNIX socket does not wait for the peer's accept(),
	 * but it does block while the listen backlog is full: a stuck
	 * daemon with that many clients queued would hang this connect.
	 * The send timeout bounds that wait (Linux: EAGAIN when it runs
	 * out); sends use MSG_DONTWAIT, so it bounds nothing else. */
	{
		int ms = timeout_ms ? timeout_ms : CONTROL_DEFAULT_TIMEOUT_MS;
		struct timeval tv = {.tv_sec = ms / 1000,
				     .tv_usec = (ms % 1000) * 1000};

		(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	}
	while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		if (e == EINTR)
			continue;
		close(fd);
		errno = e;
		switch (e) {
		case EAGAIN:
		case ETIMEDOUT:
			return -BS_ETIMEDOUT; /* backlog full all along */
		case ENOENT:
		case ENOTDIR:
			return -BS_ENOENT;
		case ECONNREFUSED:
			return -BS_ECONNREFUSED;
		case EACCES:
		case EPERM:
			return -BS_EACCES;
		default:
			return -BS_ESYS;
		}
	}

	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return -BS_ENOMEM;
	}
	c->fd = fd;
	c->timeout_ms = timeout_ms ? timeout_ms : CONTROL_DEFAULT_TIMEOUT_MS;
	*out = c;
	return 0;
}

/* Send all of buf before the deadline. */
static int send_all(bs_control *c, const char *buf, size_t n, int64_t deadline)
{
	while (n > 0) {
		ssize_t w;
		int rc = wait_fd(c->fd, POLLOUT, deadline);

		if (rc)
			return rc;
		/* MSG_NOSIGNAL: a daemon that went away gives EPIPE, never a
		 * SIGPIPE in the caller (the library never raises signals). */
		w = send(c->fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0) {
			if (errno == EINTR || errno == EAGAIN ||
			    errno == EWOULDBLOCK)
				continue;
			if (errno == EPIPE || errno == ECONNRESET)
				return -BS_EPROTO; /* peer closed: no reply */
			return -BS_ESYS;
		}
		buf += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Index of the first '\n' in the buffer from `from`, or -1. */
static ssize_t find_newline(const bs_control *c, size_t from)
{
	const char *p;

	if (from >= c->len)
		return -1;
	p = memchr(c->buf + from, '\n', c->len - from);
	return p ? p - c->buf : -1;
}

/* Receive until the buffer holds a full line; its length (without '\n'). */
static ssize_t recv_line(bs_control *c, int64_t deadline)
{
	size_t scanned = 0;
	ssize_t nl;

	while ((nl = find_newline(c, scanned)) < 0) {
		ssize_t r;
		int rc;

		scanned = c->len;
		if (c->len >= CONTROL_MAX_REPLY)
			return -BS_EPROTO;
		if (c->cap - c->len < 4096) {
			size_t ncap = c->cap ? c->cap * 2 : 8192;
			char *nb = realloc(c->buf, ncap);

			if (!nb)
				return -BS_ENOMEM;
			c->buf = nb;
			c->cap = ncap;
		}
		rc = wait_fd(c->fd, POLLIN, deadline);
		if (rc)
			return rc;
		r = recv(c->fd, c->buf + c->len, c->cap - c->len, MSG_DONTWAIT);
		if (r < 0) {
			if (errno == EINTR || errno == EAGAIN ||
			    errno == EWOULDBLOCK)
				continue;
			if (errno == ECONNRESET)
				return -BS_EPROTO;
			return -BS_ESYS;
		}
		if (r == 0)
			return -BS_EPROTO; /* closed before a whole line */
		c->len += (size_t)r;
	}
	return nl;
}

/* A reply must be one JSON object: starts with '{', ends with '}' (after
 * optional blanks).  Deeper checking is the caller's JSON parser's job. */
static int looks_like_object(const char *s, size_t n)
{
	size_t a = 0;

	while (a < n && (s[a] == ' ' || s[a] == '\t' || s[a] == '\r'))
		a++;
	while (n > a &&
	       (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		n--;
	return n - a >= 2 && s[a] == '{' && s[n - 1] == '}' &&
	       !memchr(s + a, '\0', n - a);
}

CONTROL_EXPORT int bs_control_request(bs_control *c, const char *request,
				      char **reply)
{
	int64_t deadline;
	size_t n;
	ssize_t line;
	char *out;
	int rc;

	if (!c || !request || !reply)
		return -BS_EINVAL;
	*reply = NULL;
	n = strlen(request);
	/* One request is one line: an embedded newline would be read by the
	 * daemon as two requests and desynchronise the replies. */
	if (n == 0 || n >= CONTROL_MAX_REQUEST || memchr(request, '\n', n))
		return -BS_EINVAL;
	if (c->fd < 0)
		return -BS_EPROTO; /* an earlier failure left the stream
				      out of step; reconnect */

	deadline = now_ms() + c->timeout_ms;
	rc = send_all(c, request, n, deadline);
	if (!rc)
		rc = send_all(c, "\n", 1, deadline);
	/* A daemon that closed before taking the request may have said why
	 * first (all its connections busy: docs/control-protocol.md): that
	 * line is the reply.  The stream ends with it. */
	if (rc == -BS_EPROTO) {
		line = recv_line(c, deadline);
		if (line < 0 || !looks_like_object(c->buf, (size_t)line))
			goto broken;
		rc = 0;
		out = malloc((size_t)line + 1);
		if (!out) {
			rc = -BS_ENOMEM;
			goto broken;
		}
		memcpy(out, c->buf, (size_t)line);
		out[line] = '\0';
		c->len = 0;
		close(c->fd);
		c->fd = -1;
		*reply = out;
		return 0;
	}
	if (rc)
		goto broken;
	line = recv_line(c, deadline);
	if (line < 0) {
		rc = (int)line;
		goto broken;
	}
	if (!looks_like_object(c->buf, (size_t)line)) {
		rc = -BS_EPROTO;
		goto broken;
	}
	out = malloc((size_t)line + 1);
	if (!out) {
		rc = -BS_ENOMEM;
		goto broken;
	}
	memcpy(out, c->buf, (size_t)line);
	out[line] = '\0';
	/* Keep whatever followed the newline (nothing, with a well-behaved
	 * daemon) for the next request. */
	c->len -= (size_t)line + 1;
	memmove(c->buf, c->buf + line + 1, c->len);
	*reply = out;
	return 0;

broken:
	/* After a timeout or garbage the next line on this stream may be the
	 * late reply to this request: never hand it to a later request. */
	close(c->fd);
	c->fd = -1;
	return rc;
}

CONTROL_EXPORT void bs_control_close(bs_control *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
	free(c);
}
