/*
 * batsim-httpd - REST, Server-Sent Events, Prometheus metrics, the control
 * API and the dashboard over the batsim shared memory segment.  See
 * batsim-httpd(8).
 *
 * Threads: one libmicrohttpd daemon per listen address, each an epoll
 * event loop run by a pool of as many threads as CPUs (no thread per
 * connection: an SSE stream with nothing to send is a suspended
 * connection, see sse.c); one sampler thread (source.c); one thread that
 * pushes new snapshots to the streams (sse.c); the deadline watchdog
 * (deadline.c); the main thread waits for signals.
 */
#include <config.h>

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include "httpd.h"
#include "env.h"
#include "log.h"

#define EXIT_RUNTIME 1 /* cannot listen, cannot start */
#define EXIT_USAGE   2 /* bad option or configuration */

#define DEFAULT_CONFIG SYSCONFDIR "/batsim/batsim.conf"
#define STACK_SIZE     (512u << 10)

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: batsim-httpd [OPTION]...\n"
		"Serve the batsim shared memory segment over HTTP: REST, "
		"Server-Sent Events,\n"
		"Prometheus metrics, the control API and the dashboard.\n"
		"\n"
		"  -c, --config FILE       configuration file (default %s)\n"
		"  -l, --listen ADDR:PORT  listen address, repeatable "
		"(default 127.0.0.1:8080;\n"
		"                          IPv6 as [::1]:8080; port 0 "
		"picks a free port)\n"
		"  -w, --www DIR           dashboard directory\n"
		"      --chartjs DIR       Chart.js directory (served as "
		"/vendor/chart.js/)\n"
		"      --token-file FILE   bearer token for /control\n"
		"  -n, --name NAME         shared memory segment name "
		"(default %s)\n"
		"  -S, --control-socket PATH  batsimd's control socket\n"
		"  -v, --verbose           debug messages\n"
		"  -h, --help              show this help and exit\n"
		"  -V, --version           show the version and exit\n"
		"\n"
		"Options win over BATSIM_CONFIG, BATSIM_SHM, "
		"BATSIM_CONTROL_SOCKET and\n"
		"BATSIM_LISTEN, which win over the configuration file.\n"
		"Exit status: 0 after SIGTERM or SIGINT, 1 when it cannot "
		"listen or start,\n"
		"2 for a bad option or configuration.  See batsim-httpd(8).\n",
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
		  "*:PORT (e.g. 127.0.0.1:8080, [::1]:8080)",
		  spec);
	return -1;
}

/* Open a listening socket for spec; -1 with a message on failure.
 * *loopback is 1 when it listens on a loopback address only. */
static int open_listener(const char *spec, char *shown, size_t shown_n,
			 int *loopback)
{
	char host[80], port[8];
	struct addrinfo hints = {0}, *ai = NULL;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
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
		log_error("cannot listen on %s: %s (choose another --listen "
			  "address or stop the program using it)",
			  spec, strerror(errno));
		close(fd);
		freeaddrinfo(ai);
		return -1;
	}
	freeaddrinfo(ai);
	*loopback = 0;
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
		char a[INET6_ADDRSTRLEN] = "?";

		if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

			inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof a);
			*loopback = IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr) ||
				    (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr) &&
				     s6->sin6_addr.s6_addr[12] == 127);
			snprintf(shown, shown_n, "[%s]:%u", a,
				 ntohs(s6->sin6_port));
		} else {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

			inet_ntop(AF_INET, &s4->sin_addr, a, sizeof a);
			*loopback = (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
			snprintf(shown, shown_n, "%s:%u", a,
				 ntohs(s4->sin_port));
		}
	}
	return fd;
}

/* printf-like (libmicrohttpd passes its own format strings) */
__attribute__((format(printf, 2, 0))) static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	(void)cls;
	vsnprintf(msg, sizeof msg, fmt, ap);
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	/* An SSE stream ends this way when its client left (sse.c says
	 * itself when the cause is another): routine, not a warning. */
	if (strstr(msg, "application error generating response")) {
		log_debug("libmicrohttpd: %s", msg);
		return;
	}
	/* A client that went away, or a slow one that deadline.c closed
	 * (counted there, once a minute): routine, and a flood under
	 * attack. */
	if (strstr(msg, "closed by remote side") ||
	    strstr(msg, "detected connection closure") ||
	    strstr(msg, "disconnected when reading") ||
	    /* an SSE stream's client that left, seen at the next event */
	    strstr(msg, "socket is no longer available for sending") ||
	    strstr(msg, "forcibly closed by remote peer")) {
		log_debug("libmicrohttpd: %s", msg);
		return;
	}
	log_warn("libmicrohttpd: %s", msg);
}

static void raise_nofile(void)
{
	struct rlimit rl;

	/* One descriptor per connection: allow what the hard limit does. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl))
			log_debug("cannot raise RLIMIT_NOFILE: %s",
				  strerror(errno));
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"listen", required_argument, NULL, 'l'},
	    {"www", required_argument, NULL, 'w'},
	    {"chartjs", required_argument, NULL, 'J'},
	    {"token-file", required_argument, NULL, 'T'},
	    {"name", required_argument, NULL, 'n'},
	    {"control-socket", required_argument, NULL, 'S'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	static struct bsd_config cfg;
	const char *config = NULL, *www = NULL, *chartjs = NULL;
	const char *token = NULL, *name = NULL, *sock = NULL;
	const char *listen_arg[8];
	unsigned n_listen = 0;
	struct MHD_Daemon *d[8] = {NULL};
	unsigned n_d = 0, pool = 1;
	char err[512];
	sigset_t set;
	int verbose = 0, opt, status = 0, control;

	log_init(argv[0], LOG_INFO);
	while ((opt = getopt_long(argc, argv, "c:l:w:n:S:vhV", opts, NULL)) !=
	       -1) {
		switch (opt) {
		case 'c':
			config = optarg;
			break;
		case 'l':
			if (n_listen == 8) {
				log_error("at most 8 --listen addresses");
				return EXIT_USAGE;
			}
			listen_arg[n_listen++] = optarg;
			break;
		case 'w':
			www = optarg;
			break;
		case 'J':
			chartjs = optarg;
			break;
		case 'T':
			token = optarg;
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
			printf("batsim-httpd (batsim) %s, libbatsim %s\n",
			       PACKAGE_VERSION, bs_version());
			return 0;
		default:
			fprintf(stderr, "Try 'batsim-httpd --help'.\n");
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
	env_apply(&config, &name, &sock, ENV_LISTEN, listen_arg, &n_listen);

	cfg_defaults(&cfg);
	if (config || access(DEFAULT_CONFIG, F_OK) == 0) {
		if (cfg_load(&cfg, config ? config : DEFAULT_CONFIG, err,
			     sizeof err)) {
			log_error("%s", err);
			return EXIT_USAGE;
		}
	}
#define OVERRIDE(field, value)                                                 \
	do {                                                                   \
		if ((value) && snprintf(cfg.field, sizeof cfg.field, "%s",     \
					(value)) >= (int)sizeof cfg.field) {   \
			log_error("%s is too long", (value));                  \
			return EXIT_USAGE;                                     \
		}                                                              \
	} while (0)
	OVERRIDE(http_www, www);
	OVERRIDE(http_chartjs, chartjs);
	OVERRIDE(http_token_file, token);
	OVERRIDE(shm_name, name);
	OVERRIDE(control_socket, sock);
	if (name && name[0] != '/') {
		log_error("segment name '%s' must start with '/' (e.g. "
			  "/batsim)",
			  name);
		return EXIT_USAGE;
	}
	if (n_listen) {
		for (unsigned i = 0; i < n_listen; i++)
			OVERRIDE(http_listen[i], listen_arg[i]);
		cfg.http_listen_n = n_listen;
	}
	if (cfg_validate(&cfg, err, sizeof err)) {
		log_error("%s", err);
		return EXIT_USAGE;
	}
	for (unsigned i = 0; i < cfg.http_listen_n; i++) {
		char host[80], port[8];

		if (parse_listen(cfg.http_listen[i], host, port))
			return EXIT_USAGE;
	}
	hd_cfg = &cfg;
	control = ctl_token_startup();
	if (control < 0)
		return EXIT_USAGE;

	/* Signals go to the main thread only: block them before any thread
	 * starts so that every thread inherits the mask. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGQUIT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	raise_nofile();

	if (src_start(&cfg))
		return EXIT_RUNTIME;
	if (dl_start(cfg.http_request_timeout_s, cfg.http_max_connections)) {
		src_stop();
		src_close();
		return EXIT_RUNTIME;
	}
	if (sse_start()) {
		dl_stop();
		src_stop();
		src_close();
		return EXIT_RUNTIME;
	}
	{
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		pool = n < 1 ? 1u : n > 16 ? 16u : (unsigned)n;
	}
	for (unsigned i = 0; i < cfg.http_listen_n; i++) {
		char shown[96] = "";
		int loopback = 0;
		int fd = open_listener(cfg.http_listen[i], shown, sizeof shown,
				       &loopback);

		if (fd < 0) {
			status = EXIT_RUNTIME;
			break;
		}
		d[n_d] = MHD_start_daemon(
		    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
			MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG |
			MHD_USE_ITC,
		    0, NULL, NULL, hd_handler, NULL,
		    /* first, so that every message goes through it */
		    MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
		    MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT,
		    (unsigned)cfg.http_max_connections +
			dl_headroom(cfg.http_max_connections),
		    MHD_OPTION_PER_IP_CONNECTION_LIMIT,
		    (unsigned)cfg.http_max_per_ip,
		    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg.http_timeout_s,
		    /* each connection's buffer for its request head and
		     * (an SSE stream) its events: 24 KiB keeps 10,000
		     * streams near 260 MiB (docs/PERFORMANCE.md: 32 KiB
		     * gave 300), and still holds a head of 300 query
		     * arguments (16 KiB did not: tests/fuzz/http-fuzz.sh) */
		    MHD_OPTION_CONNECTION_MEMORY_LIMIT,
		    (size_t)HD_CONN_MEMORY,
		    MHD_OPTION_THREAD_POOL_SIZE, pool,
		    MHD_OPTION_THREAD_STACK_SIZE, (size_t)STACK_SIZE,
		    MHD_OPTION_URI_LOG_CALLBACK, hd_uri_logger, NULL,
		    MHD_OPTION_NOTIFY_COMPLETED, hd_completed, NULL,
		    MHD_OPTION_NOTIFY_CONNECTION, dl_notify, NULL,
		    MHD_OPTION_END);
		if (!d[n_d]) {
			log_error("cannot start the HTTP server on %s",
				  cfg.http_listen[i]);
			close(fd);
			status = EXIT_RUNTIME;
			break;
		}
		n_d++;
		log_notice("listening on http://%s/ (segment %s)", shown,
			   cfg.shm_name);
		if (control && !loopback)
			log_warn("control is enabled on %s, which is not a "
				 "loopback address: whoever reaches it with "
				 "the token (sent in clear over HTTP) controls "
				 "the simulator; listen on 127.0.0.1 or ::1 "
				 "behind a TLS proxy, or remove the token file "
				 "to disable control",
				 shown);
	}

	if (status == 0) {
#ifdef HAVE_SYSTEMD
		sd_notify(0, "READY=1\nSTATUS=serving");
#endif
		for (;;) {
			int sig = sigwaitinfo(&set, NULL);

			if (sig < 0) {
				if (errno == EINTR)
					continue;
				log_error("sigwaitinfo: %s", strerror(errno));
				break;
			}
			if (sig == SIGHUP) {
				log_notice(
				    "SIGHUP: nothing to reload (the "
				    "token file is read at each request; "
				    "restart for other settings)");
				continue;
			}
			log_notice("signal %d: closing streams and exiting",
				   sig);
			break;
		}
#ifdef HAVE_SYSTEMD
		sd_notify(0, "STOPPING=1");
#endif
	}
	/* End every stream (libmicrohttpd must not stop with suspended
	 * connections), stop the daemons (they join their threads), then
	 * detach. */
	sse_stop();
	src_stop();
	for (unsigned i = 0; i < n_d; i++)
		MHD_stop_daemon(d[i]);
	dl_stop();
	sse_close();
	src_close();
	return status;
}
