/*
 * fuzz_httpd.c - libFuzzer target: batsim-httpd's routing, query parsing
 * and control proxy (src/httpd: routes.c, sse.c, metrics.c, ctlproxy.c,
 * files.c, source.c), served by libmicrohttpd with the options of
 * main.c on 127.0.0.1, over a real segment published by a small real
 * engine, with /control forwarded to a fake batsimd whose reply line
 * comes from the input.
 *
 * Input (lines end with '\n'):
 *   METHOD
 *   TARGET                      e.g. /rack/0/module/1?modules=1
 *   REPLY                       what the fake batsimd answers; a leading
 *                               '!' also leaves out the Authorization
 *   Header: value               zero or more extra request headers
 *   (empty line)
 *   BODY                        the rest
 * The request is sent with Connection: close and the right
 * Content-Length; every request must get an HTTP response (the server
 * neither crashes nor drops a well-formed request without one).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <microhttpd.h>

#include "fuzz_engine.h"
#include "fuzz_util.h"
#include "httpd.h"
#include "log.h"

#define TOKEN "fuzz-token"

static struct bsd_config hcfg; /* batsim-httpd's configuration */
static char seg_name[64];
static uint16_t port;
static int ctl_fd = -1;

static pthread_mutex_t reply_mu = PTHREAD_MUTEX_INITIALIZER;
static char reply_line[4096] = "{\"ok\":true}";

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- the writer: a real engine publishing every 50 ms ---- */

static void *writer_main(void *arg)
{
	bs_writer *w = arg;
	engine *e = fz_engine();
	uint64_t tick = 0;

	for (;;) {
		struct bs_slot_view v;

		engine_step(e, 1);
		if (bs_writer_begin(w, &v) == 0) {
			engine_fill(e, &v);
			bs_writer_publish(w, ++tick, engine_time_s(e));
		}
		usleep(50000);
	}
	return NULL;
}

static void remove_segment(void)
{
	bs_segment_remove(seg_name);
}

/* ---- the fake batsimd: one reply line per request line ---- */

static void *fake_batsimd(void *arg)
{
	(void)arg;
	for (;;) {
		char buf[8192], out[sizeof reply_line + 1];
		int c = accept(ctl_fd, NULL, NULL);
		ssize_t n;

		if (c < 0)
			continue;
		/* the proxy sends one line and waits for one */
		while ((n = read(c, buf, sizeof buf)) > 0)
			if (memchr(buf, '\n', (size_t)n))
				break;
		pthread_mutex_lock(&reply_mu);
		snprintf(out, sizeof out, "%s\n", reply_line);
		pthread_mutex_unlock(&reply_mu);
		if (write(c, out, strlen(out)) < 0)
			perror("fake batsimd: write");
		close(c);
	}
	return NULL;
}

static void start_fake_batsimd(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	pthread_t t;

	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
	ctl_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ctl_fd < 0 || bind(ctl_fd, (struct sockaddr *)&sa, sizeof sa) ||
	    listen(ctl_fd, 64) || pthread_create(&t, NULL, fake_batsimd, NULL))
		abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const struct bs_topology t = {FZ_R, FZ_M, FZ_C};
	struct bs_writer_params wp = {BS_BACKEND_CPU, 50000000, 1000000000,
				      "lfp280"};
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t sl = sizeof sa;
	char path[256];
	bs_writer *w;
	pthread_t th;
	int lfd;

	(void)argc;
	(void)argv;
	log_init("fuzz_httpd", LOG_ERR);
	signal(SIGPIPE, SIG_IGN);

	snprintf(seg_name, sizeof seg_name, "/bs-fuzz-httpd-%ld",
		 (long)getpid());
	if (bs_segment_create(seg_name, &t, 3, 0600, (gid_t)-1, 0) < 0 ||
	    bs_writer_open(seg_name, &t, &wp, &w) < 0) {
		fprintf(stderr, "cannot create segment %s\n", seg_name);
		abort();
	}
	atexit(remove_segment);
	if (pthread_create(&th, NULL, writer_main, w))
		abort();

	cfg_defaults(&hcfg);
	snprintf(hcfg.shm_name, sizeof hcfg.shm_name, "%s", seg_name);
	hcfg.publish_period_ms = 50;
	hcfg.http_max_connections = 1000;
	hcfg.http_max_per_ip = 1000;
	hcfg.http_timeout_s = 10;
	fz_write("token", (const uint8_t *)TOKEN "\n", sizeof TOKEN, path,
		 sizeof path);
	snprintf(hcfg.http_token_file, sizeof hcfg.http_token_file, "%s",
		 path);
	fz_write("index.html", (const uint8_t *)"<html></html>\n", 14, path,
		 sizeof path);
	fz_write("chart.min.js", (const uint8_t *)"//\n", 3, path,
		 sizeof path);
	snprintf(hcfg.http_www, sizeof hcfg.http_www, "%s", fz_tmpdir());
	snprintf(hcfg.http_chartjs, sizeof hcfg.http_chartjs, "%s",
		 fz_tmpdir());
	snprintf(hcfg.control_socket, sizeof hcfg.control_socket,
		 "%s/ctl.sock", fz_tmpdir());
	start_fake_batsimd(hcfg.control_socket);
	hd_cfg = &hcfg;
	if (src_start(&hcfg) || sse_start())
		abort();

	/* the listener and the daemon as main.c makes them */
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof sa) ||
	    listen(lfd, 128) || getsockname(lfd, (struct sockaddr *)&sa, &sl))
		abort();
	port = ntohs(sa.sin_port);
	if (!MHD_start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
		    MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC,
		0, NULL, NULL, hd_handler, NULL, MHD_OPTION_LISTEN_SOCKET, lfd,
		MHD_OPTION_CONNECTION_LIMIT,
		(unsigned)hcfg.http_max_connections,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT,
		(unsigned)hcfg.http_max_per_ip, MHD_OPTION_CONNECTION_TIMEOUT,
		(unsigned)hcfg.http_timeout_s,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(32u << 10),
		MHD_OPTION_THREAD_POOL_SIZE, 2u,
		MHD_OPTION_THREAD_STACK_SIZE, (size_t)(512u << 10),
		MHD_OPTION_URI_LOG_CALLBACK, hd_uri_logger, NULL,
		MHD_OPTION_NOTIFY_COMPLETED, hd_completed, NULL,
		MHD_OPTION_END))
		abort();
	/* wait until the sampler attached and the writer published */
	for (int i = 0; i < 200; i++) {
		char why[256];
		enum src_state st = src_check(src_acquire(), why, sizeof why);

		src_release();
		if (st == SRC_LIVE)
			break;
		usleep(50000);
	}
	return 0;
}

/* ---- one request ---- */

/* The next line of the input (without its '\n'); NULL at the end. */
static const char *next_line(const uint8_t *data, size_t size, size_t *pos,
			     size_t *len)
{
	const uint8_t *p, *nl;

	if (*pos >= size)
		return NULL;
	p = data + *pos;
	nl = memchr(p, '\n', size - *pos);
	*len = nl ? (size_t)(nl - p) : size - *pos;
	*pos += *len + (nl ? 1 : 0);
	return (const char *)p;
}

/* Append s[0..n) keeping only bytes allowed in `what` (a method, a
 * request target or a header line). */
static void put_clean(struct buf *b, const char *s, size_t n, int header)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '\r' || ch == '\n' || ch == 0 ||
		    (!header && (ch <= ' ' || ch == 0x7f)))
			continue;
		buf_append(b, s + i, 1);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf req = {0}, resp = {0};
	const char *method, *target, *reply, *line, *body = "";
	size_t pos = 0, mlen = 0, tlen = 0, rlen = 0, len = 0, blen = 0;
	struct sockaddr_in sa = {.sin_family = AF_INET};
	size_t mark;
	int fd, auth = 1;

	method = next_line(data, size, &pos, &mlen);
	target = next_line(data, size, &pos, &tlen);
	reply = next_line(data, size, &pos, &rlen);
	mark = req.len;
	if (method)
		put_clean(&req, method, mlen, 0);
	if (req.len == mark)
		buf_puts(&req, "GET");
	buf_puts(&req, " ");
	mark = req.len;
	if (target)
		put_clean(&req, target, tlen, 0);
	if (req.len == mark)
		buf_puts(&req, "/");
	buf_puts(&req, " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
	pthread_mutex_lock(&reply_mu);
	snprintf(reply_line, sizeof reply_line, "{\"ok\":true}");
	if (reply) {
		size_t n = 0;

		if (rlen && reply[0] == '!') {
			auth = 0;
			reply++;
			rlen--;
		}
		for (size_t i = 0; i < rlen && n + 1 < sizeof reply_line; i++)
			if (reply[i] != '\r' && reply[i] != '\0')
				reply_line[n++] = reply[i];
		if (n)
			reply_line[n] = '\0';
	}
	pthread_mutex_unlock(&reply_mu);
	if (auth)
		buf_puts(&req, "Authorization: Bearer " TOKEN "\r\n");
	while ((line = next_line(data, size, &pos, &len)) && len) {
		/* the framing is ours (not what is fuzzed here); no
		 * folded lines, which would continue Connection */
		if (line[0] == ' ' || line[0] == '\t' ||
		    !strncasecmp(line, "content-length", 14) ||
		    !strncasecmp(line, "transfer-encoding", 17) ||
		    !strncasecmp(line, "connection", 10))
			continue;
		put_clean(&req, line, len, 1);
		buf_puts(&req, "\r\n");
	}
	if (pos < size) {
		body = (const char *)data + pos;
		blen = size - pos;
	}
	buf_printf(&req, "Content-Length: %zu\r\n\r\n", blen);
	buf_append(&req, body, blen);
	if (req.oom)
		abort();

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons(port);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa)) {
		perror("fuzz_httpd: connect");
		abort();
	}
	for (size_t done = 0; done < req.len;) {
		ssize_t n = send(fd, req.p + done, req.len - done, MSG_NOSIGNAL);

		if (n <= 0)
			break; /* the server may answer early and close */
		done += (size_t)n;
	}
	/* Blocking reads: a server that never answers is a hang, which
	 * libFuzzer's -timeout reports. */
	for (;;) {
		char chunk[16384];
		ssize_t n = recv(fd, chunk, sizeof chunk, 0);
		const char *end;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == ECONNRESET && !resp.len) {
			/* the server answered before reading our whole body
			 * and closed: the reset can discard its answer */
			close(fd);
			buf_free(&req);
			return 0;
		}
		if (n <= 0)
			break;
		buf_append(&resp, chunk, (size_t)n);
		/* an event stream never ends: stop after its first bytes */
		end = resp.p ? strstr(resp.p, "\r\n\r\n") : NULL;
		if (end && strstr(resp.p, "text/event-stream") &&
		    resp.len > (size_t)(end + 4 - resp.p))
			break;
		if (resp.len > (64u << 20))
			break;
	}
	close(fd);
	if (!resp.p || strncmp(resp.p, "HTTP/1.", 7) != 0) {
		fprintf(stderr, "fuzz_httpd: no HTTP response to:\n%.*s\n",
			(int)(req.len > 2000 ? 2000 : req.len), req.p);
		abort();
	}
	buf_free(&req);
	buf_free(&resp);
	return 0;
}
