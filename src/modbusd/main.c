/*
 * batsim-modbusd - the batsim site as a SunSpec Modbus TCP device.  See
 * batsim-modbusd(8).
 *
 * One thread, one poll loop: listeners, client connections (framed by
 * libmodbus's modbus_receive), a signalfd, and timers (delayed answers,
 * idle connections, dev_tick's housekeeping).  A request is answered from
 * one snapshot of the segment; writes go to batsimd's control socket.
 */
#include <config.h>

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <modbus/modbus.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "env.h"
#include "log.h"
#include "modbusd.h"

#define EXIT_RUNTIME 1 /* cannot listen, cannot start */
#define EXIT_USAGE   2 /* bad option or configuration */

#define DEFAULT_CONFIG SYSCONFDIR "/batsim/batsim.conf"
#define MAX_LISTEN 8
#define MAX_ALLOW 16

struct conn {
	int fd;
	int64_t last_ns;      /* last request, for the idle bound */
	struct mb_peer peer;
	int pending;          /* a delayed answer waits */
	int64_t due_ns;
	uint8_t req[MODBUS_TCP_MAX_ADU_LENGTH];
	struct mb_result res;
};

struct allow {
	int family;
	uint8_t addr[16];
	unsigned prefix;
};

static const struct bsd_config *cfg;
static modbus_t *mb;
static struct conn *conns;
static unsigned n_conns;
static struct allow allow[MAX_ALLOW];
static unsigned n_allow;
static uint64_t n_requests;

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: batsim-modbusd [OPTION]...\n"
		"Serve the batsim site as a SunSpec Modbus TCP device "
		"(unit 1 the site,\n"
		"units 2.. the racks), writes forwarded to batsimd.\n"
		"\n"
		"  -c, --config FILE       configuration file (default %s)\n"
		"  -l, --listen ADDR:PORT  listen address, repeatable "
		"(default 127.0.0.1:5020;\n"
		"                          IPv6 as [::1]:5020; port 0 "
		"picks a free port)\n"
		"  -n, --name NAME         shared memory segment name "
		"(default %s)\n"
		"  -S, --control-socket PATH  batsimd's control socket\n"
		"  -v, --verbose           debug messages\n"
		"  -h, --help              show this help and exit\n"
		"  -V, --version           show the version and exit\n"
		"\n"
		"Options win over BATSIM_CONFIG, BATSIM_SHM, "
		"BATSIM_CONTROL_SOCKET and\n"
		"BATSIM_MODBUS_LISTEN, which win over the configuration "
		"file.\n"
		"Exit status: 0 after SIGTERM or SIGINT, 1 when it cannot "
		"listen or start,\n"
		"2 for a bad option or configuration.  See "
		"batsim-modbusd(8).\n",
		DEFAULT_CONFIG, BS_DEFAULT_NAME);
}

/* Split "host:port", "[v6]:port" or "*:port"; 0, or -1 with a message. */
static int parse_listen(const char *spec, char host[80], char port[8])
{
	const char *colon;

	if (spec[0] == '[') {
		const char *end = strchr(spec, ']');

		if (!end || end[1] != ':' || (size_t)(end - spec - 1) >= 80)
			goto bad;
		snprintf(host, 80, "%.*s", (int)(end - spec - 1), spec + 1);
		colon = end + 1;
	} else {
		colon = strrchr(spec, ':');
		if (!colon || (size_t)(colon - spec) >= 80 ||
		    memchr(spec, ':', (size_t)(colon - spec)))
			goto bad;
		snprintf(host, 80, "%.*s", (int)(colon - spec), spec);
	}
	if (strlen(colon + 1) == 0 || strlen(colon + 1) >= 8 ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1) ||
	    atoi(colon + 1) > 65535)
		goto bad;
	snprintf(port, 8, "%s", colon + 1);
	return 0;
bad:
	log_error("bad listen address '%s': use HOST:PORT, [IPV6]:PORT or "
		  "*:PORT (e.g. 127.0.0.1:5020, [::1]:5020)",
		  spec);
	return -1;
}

static void addr_text(const struct sockaddr_storage *ss, char *out, size_t n,
		      unsigned *port)
{
	char a[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof a);
		snprintf(out, n, "[%s]", a);
		*port = ntohs(s6->sin6_port);
	} else {
		const struct sockaddr_in *s4 = (const void *)ss;

		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof a);
		snprintf(out, n, "%s", a);
		*port = ntohs(s4->sin_port);
	}
}

/* Open a listening socket for spec; -1 with a message on failure. */
static int open_listener(const char *spec)
{
	char host[80], port[8], shown[96];
	struct addrinfo hints = {0}, *ai = NULL;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	unsigned p = 0;
	int fd, rc, one = 1;

	if (parse_listen(spec, host, port))
		return -1;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo((!strcmp(host, "*") || !host[0]) ? NULL : host, port,
			 &hints, &ai);
	if (rc) {
		log_error("--listen %s: cannot resolve '%s': %s", spec, host,
			  gai_strerror(rc));
		return -1;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		log_error("--listen %s: socket: %s", spec, strerror(errno));
		freeaddrinfo(ai);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (ai->ai_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, SOMAXCONN)) {
		log_error("cannot listen on %s: %s (%schoose another --listen "
			  "address or stop the program using it)",
			  spec, strerror(errno),
			  errno == EACCES ? "ports below 1024 need "
					    "CAP_NET_BIND_SERVICE; "
					  : "");
		close(fd);
		freeaddrinfo(ai);
		return -1;
	}
	freeaddrinfo(ai);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
		addr_text(&ss, shown, sizeof shown, &p);
		log_notice("listening on modbus-tcp://%s:%u/ (segment %s, "
			   "writes %s)",
			   shown, p, cfg->shm_name,
			   cfg->modbus_writes ? "on" : "off");
	}
	return fd;
}

/* modbus_write_allow: "127.0.0.0/8, ::1, 192.168.1.10"; 0 or -1. */
static int parse_allow(const char *list)
{
	char buf[sizeof cfg->modbus_write_allow], *save = NULL;

	snprintf(buf, sizeof buf, "%s", list);
	for (char *t = strtok_r(buf, ", \t", &save); t;
	     t = strtok_r(NULL, ", \t", &save)) {
		struct allow *a = &allow[n_allow];
		char *slash = strchr(t, '/');
		unsigned max;

		if (n_allow == MAX_ALLOW) {
			log_error("modbus_write_allow: at most %d entries",
				  MAX_ALLOW);
			return -1;
		}
		if (slash)
			*slash = '\0';
		if (inet_pton(AF_INET, t, a->addr) == 1) {
			a->family = AF_INET;
			max = 32;
		} else if (inet_pton(AF_INET6, t, a->addr) == 1) {
			a->family = AF_INET6;
			max = 128;
		} else {
			log_error("modbus_write_allow: '%s' is not an IPv4 or "
				  "IPv6 address (e.g. 127.0.0.0/8, ::1)",
				  t);
			return -1;
		}
		a->prefix = max;
		if (slash) {
			char *end;
			unsigned long v = strtoul(slash + 1, &end, 10);

			if (*end || end == slash + 1 || v > max) {
				log_error("modbus_write_allow: bad prefix "
					  "length '/%s' (0 to %u)",
					  slash + 1, max);
				return -1;
			}
			a->prefix = (unsigned)v;
		}
		n_allow++;
	}
	return 0;
}

static int prefix_match(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned bytes = bits / 8, rest = bits % 8;

	if (memcmp(a, b, bytes))
		return 0;
	if (rest) {
		uint8_t mask = (uint8_t)(0xFF << (8 - rest));

		return (a[bytes] & mask) == (b[bytes] & mask);
	}
	return 1;
}

static int allowed(const struct sockaddr_storage *ss)
{
	uint8_t a4[4], a6[16];
	int v4 = 0, v6 = 0;

	if (ss->ss_family == AF_INET) {
		memcpy(a4, &((const struct sockaddr_in *)(const void *)ss)
				->sin_addr, 4);
		v4 = 1;
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)ss;

		memcpy(a6, &s6->sin6_addr, 16);
		v6 = 1;
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			memcpy(a4, a6 + 12, 4);
			v4 = 1;
		}
	}
	for (unsigned i = 0; i < n_allow; i++) {
		if (allow[i].family == AF_INET && v4 &&
		    prefix_match(a4, allow[i].addr, allow[i].prefix))
			return 1;
		if (allow[i].family == AF_INET6 && v6 &&
		    prefix_match(a6, allow[i].addr, allow[i].prefix))
			return 1;
	}
	return 0;
}

static void drop_conn(unsigned i, const char *why)
{
	log_debug("client %s: %s", conns[i].peer.addr, why);
	close(conns[i].fd);
	conns[i] = conns[--n_conns];
}

static void accept_one(int lfd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	struct conn *c;
	unsigned port;
	int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	if (n_conns >= cfg->modbus_max_connections) {
		/* the bound: a client over it is closed at once */
		log_warn("connection refused: %u clients already "
			 "(modbus_max_connections)",
			 n_conns);
		close(fd);
		return;
	}
	c = &conns[n_conns++];
	memset(c, 0, sizeof *c);
	c->fd = fd;
	c->last_ns = dev_now_ns();
	addr_text(&ss, c->peer.addr, sizeof c->peer.addr, &port);
	c->peer.can_write = cfg->modbus_writes && allowed(&ss);
	log_debug("client %s:%u connected (writes %s)", c->peer.addr, port,
		  c->peer.can_write ? "allowed" : "refused");
}

/* Send the answer held in c->res; -1 when the connection must close. */
static int answer(struct conn *c)
{
	struct mb_result *r = &c->res;

	switch (r->kind) {
	case MB_ANS_NONE:
		return 0;
	case MB_ANS_CLOSE:
		return -1;
	case MB_ANS_EXCEPTION:
		/* libmodbus builds the exception ADU from the request */
		modbus_set_socket(mb, c->fd);
		if (modbus_reply_exception(mb, c->req, (unsigned)r->exc) < 0)
			return -1;
		return 0;
	case MB_ANS_REPLY:
		if (send(c->fd, r->rsp, (size_t)r->rsp_len,
			 MSG_NOSIGNAL | MSG_DONTWAIT) != r->rsp_len)
			return -1; /* a client that does not read its answers */
		return 0;
	}
	return -1;
}

/* Read one request; -1 when the connection must close. */
static int serve(struct conn *c)
{
	int rc, need, have;

	modbus_set_socket(mb, c->fd);
	rc = modbus_receive(mb, c->req);
	if (rc <= 0)
		return -1; /* closed, timed out mid-frame or malformed */
	/* libmodbus frames by function code; the MBAP length must agree
	 * (an unknown function's data is still in the socket: read it) */
	have = rc - 6;
	need = (int)((unsigned)c->req[4] << 8 | c->req[5]);
	if (c->req[2] || c->req[3] || need < 2 || need < have ||
	    6 + need > (int)sizeof c->req)
		return -1;
	while (have < need) {
		struct pollfd p = {.fd = c->fd, .events = POLLIN};
		ssize_t k;

		if (poll(&p, 1, 200) != 1)
			return -1;
		k = recv(c->fd, c->req + 6 + have, (size_t)(need - have), 0);
		if (k <= 0)
			return -1;
		have += (int)k;
	}
	n_requests++;
	c->last_ns = dev_now_ns();
	req_handle(c->req, 6 + need, &c->peer, &c->res);
	if (c->res.delay_ms && c->res.kind != MB_ANS_NONE) {
		c->pending = 1;
		c->due_ns = c->last_ns + (int64_t)c->res.delay_ms * 1000000;
		return 0;
	}
	return answer(c);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"listen", required_argument, NULL, 'l'},
	    {"name", required_argument, NULL, 'n'},
	    {"control-socket", required_argument, NULL, 'S'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	static struct bsd_config c;
	const char *config = NULL, *name = NULL, *sock = NULL;
	const char *listen_arg[MAX_LISTEN];
	unsigned n_listen = 0, n_lfd = 0;
	int lfd[MAX_LISTEN], sfd, verbose = 0, opt, status = 0;
	struct pollfd *pf;
	char err[512];
	sigset_t set;

	log_init(argv[0], LOG_INFO);
	while ((opt = getopt_long(argc, argv, "c:l:n:S:vhV", opts, NULL)) !=
	       -1) {
		switch (opt) {
		case 'c':
			config = optarg;
			break;
		case 'l':
			if (n_listen == MAX_LISTEN) {
				log_error("at most %d --listen addresses",
					  MAX_LISTEN);
				return EXIT_USAGE;
			}
			listen_arg[n_listen++] = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		case 'S':
			sock = optarg;
			break;
		case 'v':
			verbose = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("batsim-modbusd (batsim) %s, libbatsim %s, "
			       "libmodbus %s\n",
			       PACKAGE_VERSION, bs_version(),
			       LIBMODBUS_VERSION_STRING);
			return 0;
		default:
			fprintf(stderr, "Try 'batsim-modbusd --help'.\n");
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		log_error("unexpected argument '%s' (try --help)",
			  argv[optind]);
		return EXIT_USAGE;
	}
	if (verbose)
		log_set_level(LOG_DEBUG);
	/* the environment, below the options (env.h) */
	env_apply(&config, &name, &sock, ENV_MODBUS_LISTEN, listen_arg,
		  &n_listen);

	cfg_defaults(&c);
	if (config || access(DEFAULT_CONFIG, F_OK) == 0) {
		if (cfg_load(&c, config ? config : DEFAULT_CONFIG, err,
			     sizeof err)) {
			log_error("%s", err);
			return EXIT_USAGE;
		}
	}
	if (name && (name[0] != '/' ||
		     snprintf(c.shm_name, sizeof c.shm_name, "%s", name) >=
			 (int)sizeof c.shm_name)) {
		log_error("segment name '%s' must start with '/' and be short "
			  "(e.g. /batsim)",
			  name);
		return EXIT_USAGE;
	}
	if (sock && snprintf(c.control_socket, sizeof c.control_socket, "%s",
			     sock) >= (int)sizeof c.control_socket) {
		log_error("control socket path '%s' is too long", sock);
		return EXIT_USAGE;
	}
	if (n_listen) {
		for (unsigned i = 0; i < n_listen; i++)
			if (snprintf(c.modbus_listen[i],
				     sizeof c.modbus_listen[i], "%s",
				     listen_arg[i]) >=
			    (int)sizeof c.modbus_listen[i]) {
				log_error("%s is too long", listen_arg[i]);
				return EXIT_USAGE;
			}
		c.modbus_listen_n = n_listen;
	}
	if (cfg_validate(&c, err, sizeof err)) {
		log_error("%s", err);
		return EXIT_USAGE;
	}
	cfg = &c;
	for (unsigned i = 0; i < c.modbus_listen_n; i++) {
		char host[80], port[8];

		if (parse_listen(c.modbus_listen[i], host, port))
			return EXIT_USAGE;
	}
	if (parse_allow(c.modbus_write_allow))
		return EXIT_USAGE;

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	mb = modbus_new_tcp("127.0.0.1", 502); /* only to frame and reply */
	conns = calloc(c.modbus_max_connections, sizeof *conns);
	pf = calloc(c.modbus_max_connections + MAX_LISTEN + 1, sizeof *pf);
	if (sfd < 0 || !mb || !conns || !pf) {
		log_error("cannot start: %s", strerror(errno));
		return EXIT_RUNTIME;
	}
	/* A frame must arrive whole: a client that stops mid-frame is
	 * closed after 500 ms (poll said the first bytes are there). */
	modbus_set_indication_timeout(mb, 1, 0);
	modbus_set_byte_timeout(mb, 0, 500000);
	if (verbose && getenv("BATSIM_MODBUS_TRACE"))
		modbus_set_debug(mb, TRUE);
	for (unsigned i = 0; i < c.modbus_listen_n; i++) {
		int fd = open_listener(c.modbus_listen[i]);

		if (fd < 0) {
			status = EXIT_RUNTIME;
			break;
		}
		lfd[n_lfd++] = fd;
	}
	dev_init(cfg);
#ifdef HAVE_SYSTEMD
	if (status == 0)
		sd_notify(0, "READY=1\nSTATUS=serving");
#endif
	while (status == 0) {
		unsigned np = 0, first_conn;
		int64_t now = dev_now_ns(), wake = now + 100000000;
		int timeout_ms, stop = 0;

		dev_tick(now, n_conns, n_requests);
		pf[np++] = (struct pollfd){.fd = sfd, .events = POLLIN};
		for (unsigned i = 0; i < n_lfd; i++)
			pf[np++] = (struct pollfd){.fd = lfd[i], .events = POLLIN};
		first_conn = np;
		for (unsigned i = 0; i < n_conns; i++) {
			/* a connection with a delayed answer reads no more
			 * requests until it is sent: answers stay in order */
			pf[np++] = (struct pollfd){
			    .fd = conns[i].fd,
			    .events = conns[i].pending ? 0 : POLLIN};
			if (conns[i].pending && conns[i].due_ns < wake)
				wake = conns[i].due_ns;
		}
		timeout_ms = (int)((wake - now + 999999) / 1000000);
		if (timeout_ms < 0)
			timeout_ms = 0;
		if (poll(pf, np, timeout_ms) < 0 && errno != EINTR) {
			log_error("poll: %s", strerror(errno));
			status = EXIT_RUNTIME;
			break;
		}
		if (pf[0].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
				if (si.ssi_signo == SIGHUP)
					log_notice("SIGHUP: nothing to reload "
						   "(restart for new settings)");
				else {
					log_notice("signal %u: exiting",
						   si.ssi_signo);
					stop = 1;
				}
			}
		}
		if (stop)
			break;
		/* connections: walk the poll entries backwards so that
		 * drop_conn's swap-with-last never skips one */
		now = dev_now_ns();
		for (unsigned k = np; k-- > first_conn;) {
			unsigned i = k - first_conn;
			struct conn *cn = &conns[i];

			if (cn->pending) {
				if (now >= cn->due_ns) {
					cn->pending = 0;
					if (answer(cn))
						drop_conn(i, "closed (drop fault "
							     "or send failed)");
				}
				continue;
			}
			if (pf[k].revents & (POLLIN | POLLHUP | POLLERR)) {
				if (serve(cn))
					drop_conn(i, "closed");
			} else if (now - cn->last_ns >
				   (int64_t)cfg->modbus_idle_s * 1000000000) {
				drop_conn(i, "idle (modbus_idle_s)");
			}
		}
		for (unsigned i = 0; i < n_lfd; i++)
			if (pf[1 + i].revents & POLLIN)
				accept_one(lfd[i]);
	}
#ifdef HAVE_SYSTEMD
	sd_notify(0, "STOPPING=1");
#endif
	while (n_conns)
		drop_conn(n_conns - 1, "shutdown");
	for (unsigned i = 0; i < n_lfd; i++)
		close(lfd[i]);
	dev_close();
	modbus_free(mb);
	free(conns);
	free(pf);
	return status;
}
