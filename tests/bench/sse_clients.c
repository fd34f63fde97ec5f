/*
 * sse_clients.c - many concurrent Server-Sent Events clients against
 * batsim-httpd (a load program, not a test): the C twin of
 * tests/bench/sse-clients.py, with the same options, output lines and
 * exit status, so that either can drive tests/bench/sse-load.sh.
 *
 * Usage: sse_clients [--addrs A] [--procs P] HOST PORT CLIENTS SECONDS [QUERY]
 *
 * Opens CLIENTS connections to /updates?QUERY (default
 * "view=summary&rack=0&module=0"), each reading events for SECONDS after
 * it is connected, and prints: clients connected, clients that received
 * events, events per client (min / median / max), and the
 * publish-to-receive latency of summary events (the wall clock when the
 * event's last byte was read minus the snapshot's "wall_time_ns";
 * p50 / p99 / max).  The first summary of each stream is not counted: it
 * is the snapshot published before the stream began (sent at once), so
 * its "latency" is the snapshot's age, up to a publish period.  Exit status 0 when every client received at least
 * one event, 1 otherwise, 2 on a usage error.  SIGUSR1 ends every stream
 * early (as soon as it has received an event) and prints the figures as
 * usual (tests/bench/soak.sh uses it with the Python client).
 *
 * Why C: the Python client cannot read 1,000 streams of ~30 KB/s each on
 * a 2-CPU machine, so its latency was its own backlog.  This one is one
 * process and one thread: non-blocking sockets on one epoll set, the
 * event stream parsed line by line as it arrives, keeping per connection
 * only the first bytes of the current line (enough for the event name
 * and the summary's wall_time_ns), never a whole event.
 *
 * --addrs A: bind the connections to A source addresses 127.0.0.2 ..
 * (at most 250; default 1: the kernel's choice), so that 10,000
 * connections do not run out of ephemeral ports of one address pair.
 * HOST must be an IPv4 loopback address then.
 * --procs P: accepted for compatibility with sse-clients.py; ignored
 * (one process is enough).
 * The file descriptor limit is raised to the hard limit.  Connections
 * are opened CONNECT_BATCH at a time (non-blocking); one that is not
 * connected within 60 s, or fails, counts as an error.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CONNECT_BATCH	  256 /* connections being opened at once */
#define CONNECT_TIMEOUT_S 60.0
#define LINE_KEEP 192 /* first bytes kept of each line: the status line,
		       * "event: NAME", and a summary's data line up to and
		       * including wall_time_ns (tick, time_s, wall_time_ns
		       * come first: at most ~110 bytes) */
#define READ_SIZE (256 * 1024)
#define MAX_EVENTS 1024

static const char WALL[] = "\"wall_time_ns\":";
static const char TICK[] = "data: {\"tick\"";

enum phase {
	P_NEW,	      /* not yet started */
	P_CONNECTING, /* connect() in progress */
	P_SENDING,    /* the request partly written */
	P_STATUS,     /* reading the status line */
	P_HEADERS,    /* reading the header lines */
	P_BODY,	      /* reading events */
	P_DONE	      /* closed */
};

struct conn {
	int fd;
	unsigned char phase;
	unsigned char skip; /* the rest of the current line is not needed */
	unsigned char had_summary; /* the stream's first summary was read */
	uint16_t keep;	    /* bytes in line[] */
	uint16_t sent;	    /* request bytes written */
	long events;	    /* "event:" lines received */
	int64_t pending_wall_ns; /* wall_time_ns of the event being read; 0: none */
	double deadline;	 /* monotonic s: connect timeout, then end of reading */
	char line[LINE_KEEP];
};

static struct {
	long connected, errors, bad;
	char first_error[256];
	int64_t *lat_ns; /* publish-to-receive latencies */
	size_t n_lat, cap_lat;
} st;

static volatile sig_atomic_t stop_requested;

static void on_usr1(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int64_t wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void error_at(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* One client's error: counted; the first one's text kept for the report. */
static void error_at(const char *fmt, ...)
{
	va_list ap;

	if (st.errors++ == 0) {
		va_start(ap, fmt);
		vsnprintf(st.first_error, sizeof st.first_error, fmt, ap);
		va_end(ap);
	}
}

static void add_latency(int64_t ns)
{
	if (st.n_lat == st.cap_lat) {
		size_t cap = st.cap_lat ? 2 * st.cap_lat : 65536;
		int64_t *p = realloc(st.lat_ns, cap * sizeof *p);

		if (!p) {
			fprintf(stderr, "sse_clients: out of memory for %zu "
					"latency samples\n", cap);
			exit(1);
		}
		st.lat_ns = p;
		st.cap_lat = cap;
	}
	st.lat_ns[st.n_lat++] = ns;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

static int cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return (x > y) - (x < y);
}

static int ep = -1;
static size_t n_open;	  /* connections started and not yet closed */
static size_t n_connecting; /* of which connect() is in progress */

static void finish(struct conn *c)
{
	if (c->fd >= 0) {
		close(c->fd); /* also leaves the epoll set */
		c->fd = -1;
	}
	if (c->phase == P_CONNECTING)
		n_connecting--;
	if (c->phase != P_DONE && c->phase != P_NEW)
		n_open--;
	c->phase = P_DONE;
}

/* A line of the answer is complete (nl: its newline was seen) or its
 * first LINE_KEEP bytes are in (nl == 0); the line has no newline. */
static void line_done(struct conn *c, int nl, int64_t now_ns)
{
	size_t len = c->keep;
	const char *l = c->line;

	if (nl && len > 0 && l[len - 1] == '\r')
		len--;
	switch (c->phase) {
	case P_STATUS:
		if (len < 7 || memcmp(l, "HTTP/1.", 7) != 0) {
			error_at("not an HTTP answer: %.80s", l);
			finish(c);
		} else if (!memmem(l, len, " 200 ", 5)) {
			error_at("%.*s", (int)(len > 200 ? 200 : len), l);
			finish(c);
		} else {
			c->phase = P_HEADERS;
		}
		return;
	case P_HEADERS:
		if (nl && len == 0)
			c->phase = P_BODY;
		return;
	case P_BODY:
		break;
	default:
		return;
	}
	if (nl && len == 0) { /* a blank line: the event is complete */
		if (c->pending_wall_ns) {
			if (c->had_summary)
				add_latency(now_ns - c->pending_wall_ns);
			c->had_summary = 1;
			c->pending_wall_ns = 0;
		}
		return;
	}
	if (len >= 7 && memcmp(l, "event: ", 7) == 0) {
		c->events++;
		return;
	}
	/* Only the timestamp of each summary: the rest of its line is
	 * skipped unread. */
	if (len >= sizeof TICK - 1 && memcmp(l, TICK, sizeof TICK - 1) == 0) {
		const char *w = memmem(l, len, WALL, sizeof WALL - 1);
		const char *e, *d;
		int64_t v = 0;
		int neg = 0;

		if (!w) {
			st.bad++;
			return;
		}
		d = w + sizeof WALL - 1;
		e = l + len;
		if (d < e && *d == '-') {
			neg = 1;
			d++;
		}
		if (d == e || *d < '0' || *d > '9') {
			st.bad++;
			return;
		}
		while (d < e && *d >= '0' && *d <= '9')
			v = v * 10 + (*d++ - '0');
		if (d == e || *d != ',') {
			st.bad++;
			return;
		}
		c->pending_wall_ns = neg ? -v : v;
	}
}

/* Bytes of the answer, in the order received. */
static void feed(struct conn *c, const char *p, size_t n, int64_t now_ns)
{
	while (n > 0 && c->phase != P_DONE) {
		const char *nl = memchr(p, '\n', n);
		size_t take = nl ? (size_t)(nl - p) : n;

		if (!c->skip) {
			size_t room = LINE_KEEP - c->keep;
			size_t k = take < room ? take : room;

			memcpy(c->line + c->keep, p, k);
			c->keep += (uint16_t)k;
			if (c->keep == LINE_KEEP) {
				line_done(c, 0, now_ns);
				c->skip = 1;
			}
		}
		if (!nl)
			return;
		if (!c->skip)
			line_done(c, 1, now_ns);
		c->keep = 0;
		c->skip = 0;
		p = nl + 1;
		n -= take + 1;
	}
}

static struct addrinfo *target;
static struct sockaddr_in *sources; /* NULL: the kernel's choice */
static int n_sources = 1;
static char request[1024];
static size_t request_len;
static double seconds;

/* "ADDRESS:PORT" (or "ADDRESS" when the port is 0) */
static const char *addr_text(const struct sockaddr *sa, char *buf, size_t len)
{
	char h[INET6_ADDRSTRLEN], p[8];

	if (getnameinfo(sa, sa->sa_family == AF_INET ? sizeof(struct sockaddr_in)
						     : sizeof(struct sockaddr_in6),
			h, sizeof h, p, sizeof p,
			NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		snprintf(buf, len, "?");
	else if (strcmp(p, "0") == 0)
		snprintf(buf, len, "%s", h);
	else
		snprintf(buf, len, "%s:%s", h, p);
	return buf;
}

static void watch(struct conn *c, size_t idx, uint32_t events, int op)
{
	struct epoll_event ev = {.events = events, .data.u64 = idx};

	if (epoll_ctl(ep, op, c->fd, &ev) != 0) {
		error_at("epoll_ctl: %s", strerror(errno));
		finish(c);
	}
}

/* The request is written (all of it: it is small) or the client fails. */
static void send_request(struct conn *c, size_t idx)
{
	while (c->sent < request_len) {
		ssize_t w = send(c->fd, request + c->sent, request_len - c->sent,
				 MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			return; /* still watched for EPOLLOUT */
		}
		if (w < 0) {
			error_at("sending the request: %s", strerror(errno));
			finish(c);
			return;
		}
		c->sent += (uint16_t)w;
	}
	c->phase = P_STATUS;
	watch(c, idx, EPOLLIN, EPOLL_CTL_MOD);
}

static void connected(struct conn *c, size_t idx, double now)
{
	st.connected++;
	n_connecting--;
	c->phase = P_SENDING;
	c->deadline = now + seconds;
	send_request(c, idx);
}

static void start(struct conn *conns, size_t idx, double now)
{
	struct conn *c = &conns[idx];
	char a[64];

	c->fd = socket(target->ai_family,
		       SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		error_at("socket: %s%s", strerror(errno),
			 errno == EMFILE ? " (raise the file descriptor limit: "
					   "ulimit -n)"
					 : "");
		c->phase = P_DONE;
		return;
	}
	c->phase = P_CONNECTING;
	n_open++;
	n_connecting++;
	if (sources) {
		const struct sockaddr_in *s = &sources[idx % (size_t)n_sources];

#ifdef IP_BIND_ADDRESS_NO_PORT
		/* the port is chosen at connect(), per destination: bind()
		 * alone would reserve one of the address's ports each */
		int one = 1;

		setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one,
			   sizeof one);
#endif
		if (bind(c->fd, (const struct sockaddr *)s, sizeof *s) != 0) {
			error_at("bind to %s: %s", addr_text((const struct sockaddr *)s, a, sizeof a),
				 strerror(errno));
			finish(c);
			return;
		}
	}
	c->deadline = now + CONNECT_TIMEOUT_S;
	if (connect(c->fd, target->ai_addr, target->ai_addrlen) == 0) {
		watch(c, idx, EPOLLOUT, EPOLL_CTL_ADD);
		if (c->phase != P_DONE)
			connected(c, idx, now);
		return;
	}
	if (errno != EINPROGRESS) {
		error_at("connect to %s: %s",
			 addr_text(target->ai_addr, a, sizeof a), strerror(errno));
		finish(c);
		return;
	}
	watch(c, idx, EPOLLOUT, EPOLL_CTL_ADD);
}

static void on_ready(struct conn *conns, size_t idx, char *rbuf, double now)
{
	struct conn *c = &conns[idx];
	char a[64];

	if (c->phase == P_CONNECTING) {
		int err = 0;
		socklen_t len = sizeof err;

		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
			err = errno;
		if (err) {
			error_at("connect to %s: %s",
				 addr_text(target->ai_addr, a, sizeof a),
				 strerror(err));
			finish(c);
			return;
		}
		connected(c, idx, now);
		return;
	}
	if (c->phase == P_SENDING) {
		send_request(c, idx);
		return;
	}
	if (c->phase < P_STATUS || c->phase > P_BODY)
		return;
	/* One read per readiness (level-triggered): every stream gets its
	 * turn. */
	ssize_t r = recv(c->fd, rbuf, READ_SIZE, 0);

	if (r < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return;
		error_at("reading: %s", strerror(errno));
		finish(c);
		return;
	}
	if (r == 0) { /* the server ended the stream */
		finish(c);
		return;
	}
	feed(c, rbuf, (size_t)r, wall_ns());
	if (stop_requested && c->events && c->phase != P_DONE)
		finish(c);
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: sse_clients [--addrs A] [--procs P] HOST PORT CLIENTS "
		"SECONDS [QUERY]\n"
		"Opens CLIENTS Server-Sent Events streams on "
		"http://HOST:PORT/updates?QUERY\n"
		"(default QUERY: view=summary&rack=0&module=0), reads each for "
		"SECONDS once\n"
		"connected, and prints the clients connected and served, the "
		"events per\n"
		"client and the publish-to-receive latency of summary events "
		"(p50/p99/max).\n"
		"Exit status 0 when every client received an event, 1 "
		"otherwise, 2 on a\n"
		"usage error.  SIGUSR1 ends the streams early.\n\n"
		"  --addrs A  spread the connections over A source addresses "
		"127.0.0.2 ..\n"
		"             (at most 250; HOST must be an IPv4 loopback "
		"address)\n"
		"  --procs P  ignored (sse-clients.py's option; one process "
		"suffices)\n"
		"  -h, --help     this text\n"
		"  -V, --version  the version\n");
}

static int bad_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A usage error: what is wrong, then where to read more; exit status 2. */
static int bad_usage(const char *fmt, ...)
{
	va_list ap;

	fputs("sse_clients: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'sse_clients --help'.\n", stderr);
	return 2;
}

/* A whole decimal number in [min, max], or -1 (all allowed values are
 * >= 0). */
static long parse_long(const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -1;
	return v;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"addrs", required_argument, NULL, 'a'},
	    {"procs", required_argument, NULL, 'p'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	const char *host, *port, *query = "view=summary&rack=0&module=0";
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
	struct epoll_event *evs;
	struct conn *conns;
	struct rlimit rl;
	long n, *ev, got = 0;
	size_t next = 0, i;
	double t0, now, next_sweep = 0, wall;
	char *end, *rbuf;
	int opt, rc, swept_stop = 0;
	struct sigaction sa;

	while ((opt = getopt_long(argc, argv, "hV", opts, NULL)) != -1) {
		switch (opt) {
		case 'a':
			n_sources = (int)parse_long(optarg, 1, 1000000);
			if (n_sources < 1)
				return bad_usage("--addrs '%s': a number of "
						 "source addresses >= 1 is "
						 "needed",
						 optarg);
			break;
		case 'p':
			if (parse_long(optarg, 0, 1000000) < 0)
				return bad_usage("--procs '%s': a number of "
						 "processes is needed",
						 optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("sse_clients (%s) %s\n", PACKAGE_NAME,
			       PACKAGE_VERSION);
			return 0;
		default:
			fprintf(stderr, "Try 'sse_clients --help'.\n");
			return 2;
		}
	}
	if (argc - optind < 4 || argc - optind > 5)
		return bad_usage("%s: HOST PORT CLIENTS SECONDS [QUERY] are "
				 "needed",
				 argc - optind < 4 ? "too few arguments"
						   : "too many arguments");
	host = argv[optind];
	port = argv[optind + 1];
	if (parse_long(port, 1, 65535) < 0)
		return bad_usage("PORT '%s': a TCP port 1..65535 is needed",
				 port);
	n = parse_long(argv[optind + 2], 1, 10000000);
	if (n < 1)
		return bad_usage("CLIENTS '%s': a number of clients >= 1 is "
				 "needed",
				 argv[optind + 2]);
	errno = 0;
	seconds = strtod(argv[optind + 3], &end);
	if (errno || end == argv[optind + 3] || *end || !(seconds > 0) ||
	    seconds > 1e7)
		return bad_usage("SECONDS '%s': a duration in seconds > 0 is "
				 "needed",
				 argv[optind + 3]);
	if (argc - optind == 5)
		query = argv[optind + 4];

	rc = getaddrinfo(host, port, &hints, &target);
	if (rc != 0) {
		fprintf(stderr, "sse_clients: HOST '%s': %s\n", host,
			rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
		return 2;
	}
	if (n_sources > 250)
		n_sources = 250;
	if (n_sources > 1) {
		const struct sockaddr_in *t =
		    (const struct sockaddr_in *)target->ai_addr;

		if (target->ai_family != AF_INET ||
		    (ntohl(t->sin_addr.s_addr) >> 24) != 127) {
			fprintf(stderr,
				"sse_clients: --addrs needs an IPv4 loopback "
				"HOST (127.x.x.x), not '%s'\n",
				host);
			return 2;
		}
		sources = calloc((size_t)n_sources, sizeof *sources);
		if (!sources) {
			fprintf(stderr, "sse_clients: out of memory\n");
			return 1;
		}
		for (int k = 0; k < n_sources; k++) {
			sources[k].sin_family = AF_INET;
			sources[k].sin_addr.s_addr =
			    htonl(0x7f000000u | (uint32_t)(2 + k));
		}
	}
	/* HTTP/1.0: the stream comes as it is, not chunked. */
	rc = snprintf(request, sizeof request,
		      "GET /updates?%s HTTP/1.0\r\nHost: %s\r\n"
		      "Accept: text/event-stream\r\n\r\n",
		      query, host);
	if (rc < 0 || (size_t)rc >= sizeof request) {
		fprintf(stderr, "sse_clients: QUERY and HOST too long (the "
				"request must fit in %zu bytes)\n",
			sizeof request);
		return 2;
	}
	request_len = (size_t)rc;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		if (rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max;
			setrlimit(RLIMIT_NOFILE, &rl);
			getrlimit(RLIMIT_NOFILE, &rl);
		}
		if (rl.rlim_cur < (rlim_t)n + 64)
			fprintf(stderr, "warning: file descriptor limit %ld is "
					"below %ld clients\n",
				(long)rl.rlim_cur, n);
	}

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1; /* no SA_RESTART: epoll_wait returns */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	conns = calloc((size_t)n, sizeof *conns);
	ev = calloc((size_t)n, sizeof *ev);
	evs = calloc(MAX_EVENTS, sizeof *evs);
	rbuf = malloc(READ_SIZE);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (!conns || !ev || !evs || !rbuf) {
		fprintf(stderr, "sse_clients: out of memory for %ld clients\n",
			n);
		return 1;
	}
	if (ep < 0) {
		fprintf(stderr, "sse_clients: epoll_create1: %s\n",
			strerror(errno));
		return 1;
	}
	for (i = 0; i < (size_t)n; i++)
		conns[i].fd = -1;

	t0 = mono_s();
	now = t0;
	for (;;) {
		int k;

		/* At most CONNECT_BATCH connect()s in progress, so that the
		 * server's accept queue does not overflow into SYN retries. */
		while (next < (size_t)n && n_connecting < CONNECT_BATCH)
			start(conns, next++, now);
		if (next == (size_t)n && n_open == 0)
			break;
		k = epoll_wait(ep, evs, MAX_EVENTS, 50);
		if (k < 0 && errno != EINTR) {
			fprintf(stderr, "sse_clients: epoll_wait: %s\n",
				strerror(errno));
			return 1;
		}
		now = mono_s();
		for (int j = 0; j < k; j++)
			on_ready(conns, (size_t)evs[j].data.u64, rbuf, now);
		if (stop_requested && !swept_stop) {
			swept_stop = 1;
			for (i = 0; i < next; i++)
				if (conns[i].events && conns[i].phase != P_DONE)
					finish(&conns[i]);
		}
		if (now >= next_sweep) { /* the deadlines, 20 times a second */
			next_sweep = now + 0.05;
			for (i = 0; i < next; i++) {
				struct conn *c = &conns[i];

				if (c->phase == P_DONE || now < c->deadline)
					continue;
				if (c->phase == P_CONNECTING)
					error_at("connect: no answer in %.0f s",
						 CONNECT_TIMEOUT_S);
				finish(c);
			}
		}
	}
	wall = mono_s() - t0;

	for (i = 0; i < (size_t)n; i++) {
		ev[i] = conns[i].events;
		got += ev[i] > 0;
	}
	qsort(ev, (size_t)n, sizeof *ev, cmp_long);
	printf("clients: %ld, connected: %ld, received events: %ld, errors: "
	       "%ld, unparsable events: %ld\n",
	       n, st.connected, got, st.errors, st.bad);
	if (st.errors)
		printf("first error: %s\n", st.first_error);
	/* the median as Python's statistics.median, printed with %d */
	printf("events per client in %.1f s: min %ld, median %ld, max %ld\n",
	       wall, ev[0],
	       n % 2 ? ev[n / 2] : (ev[n / 2 - 1] + ev[n / 2]) / 2,
	       ev[n - 1]);
	if (st.n_lat) {
		qsort(st.lat_ns, st.n_lat, sizeof *st.lat_ns, cmp_i64);
		printf("summary latency ms (publish to receive): p50 %.1f, "
		       "p99 %.1f, max %.1f over %zu events\n",
		       st.lat_ns[st.n_lat / 2] / 1e6,
		       st.lat_ns[(size_t)((double)st.n_lat * 0.99)] / 1e6,
		       st.lat_ns[st.n_lat - 1] / 1e6, st.n_lat);
	}
	fflush(stdout);
	return got == n ? 0 : 1;
}
