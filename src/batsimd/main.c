/*
 * main.c - batsimd(8): the batsim simulator daemon.
 *
 * Reads batsim.conf(5), creates the engine (CPU or CUDA), attaches to the
 * shared memory segment as its single writer, and runs the main loop:
 * step the engine at the configured speed, publish a snapshot every
 * publish period, serve the control socket in between.  Everything runs
 * in this one thread (the CPU backend has its own workers inside
 * engine_step), so control commands reach the engine between steps
 * without locks.  Signal handlers only record a signal and wake the
 * main loop through a pipe polled with the control socket; the loop acts
 * on it between steps.  Signals are not blocked in the main thread, so a
 * stop request is recorded whatever the thread is doing: a run of steps
 * ends at its next chunk, the loaders of data files give up at their
 * next read (datafile.h), and should the loop still not see it within
 * STOP_GRACE_MS (a command stuck in the kernel), batsimd exits anyway:
 * it stops within a second of SIGTERM whatever it is doing.
 */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include <batsim/batsim.h>

#include "conf.h"
#include "control.h"
#include "datafile.h"
#include "engine.h"
#include "legacy.h"
#include "env.h"
#include "log.h"
#include "sigbus.h"
#include "trace.h"
#include "util.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#define DEFAULT_CONFIG SYSCONFDIR "/batsim/batsim.conf"

/* Exit statuses (batsimd(8)). */
#define EX_OK	  0
#define EX_FAIL	  1 /* run-time failure: segment, engine, socket, I/O */
#define EX_CONFIG 2 /* bad command line or configuration */

/* The heartbeat is beaten at least this often, whatever the publish
 * period, so that readers' staleness limit (2 s by default) holds. */
#define HEARTBEAT_MAX_NS 250000000ull
/* In "as fast as possible" mode, engine_step runs in chunks of about
 * this wall time so that control and signals stay responsive. */
#define CHUNK_TARGET_NS 10000000ull
/* Behind real time by more than this many publish periods: the speed
 * cannot be held; restart the clock instead of catching up forever. */
#define MAX_LAG_PERIODS 10
/* After SIGTERM or SIGINT, the main loop has this long to see it before
 * batsimd exits without it (see the top of this file). */
#define STOP_GRACE_MS 800

/* ---- signals ----
 * The handlers touch only these, and write one byte to sig_pipe. */
static volatile sig_atomic_t sig_stop;	/* SIGTERM or SIGINT seen: its number */
static volatile sig_atomic_t sig_hup;	/* SIGHUP seen, not yet handled */
static volatile sig_atomic_t stop_seen; /* the main loop took sig_stop */
static volatile sig_atomic_t in_loop;	/* the main loop runs: the stop
					   deadline applies */
static int sig_pipe[2] = {-1, -1};

static void on_signal(int signo)
{
	int saved = errno;

	if (signo == SIGHUP) {
		sig_hup = 1;
	} else if (!sig_stop && in_loop) {
		/* setitimer is a plain system call on Linux, safe here (the
		 * POSIX list names alarm, whose whole seconds are too coarse
		 * for "within a second") */
		struct itimerval it = {{0, 0}, {0, STOP_GRACE_MS * 1000}};

		setitimer(ITIMER_REAL, &it, NULL);
	}
	if (signo != SIGHUP && !sig_stop)
		sig_stop = signo;
	if (write(sig_pipe[1], "", 1) < 0) {
		/* the pipe is full: the loop is woken already */
	}
	errno = saved;
}

/* SIGALRM, STOP_GRACE_MS after the stop signal. */
static void on_stop_timeout(int signo)
{
	static const char msg[] =
	    "batsimd: error: still busy 0.8 s after the stop signal (in a "
	    "control command or a reload): exiting without a final "
	    "publication; readers see the segment stale until the next "
	    "start\n";

	(void)signo;
	if (stop_seen)
		return;
	if (write(STDERR_FILENO, msg, sizeof msg - 1) < 0) {
		/* nothing more to do */
	}
	_exit(1); /* EX_FAIL */
}

/* Install the handlers and the wake-up pipe; 0 or -1 (errno). */
static int signals_init(void)
{
	struct sigaction sa;

	if (pipe2(sig_pipe, O_NONBLOCK | O_CLOEXEC) != 0)
		return -1;
	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	/* SA_RESTART: stdio (the trace, the log) and the CUDA runtime are
	 * not written for EINTR; ppoll in ctl_wait returns on a signal
	 * anyway, and the deadline covers a call that never returns */
	sa.sa_flags = SA_RESTART;
	sa.sa_handler = on_signal;
	if (sigaction(SIGTERM, &sa, NULL) != 0 ||
	    sigaction(SIGINT, &sa, NULL) != 0 ||
	    sigaction(SIGHUP, &sa, NULL) != 0)
		return -1;
	sa.sa_handler = on_stop_timeout;
	if (sigaction(SIGALRM, &sa, NULL) != 0)
		return -1;
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

/* Block (how = SIG_BLOCK) or unblock the signals above in this thread:
 * blocked while the engine starts its worker threads, which inherit the
 * mask, so that every signal goes to the main thread. */
static void signals_mask(int how)
{
	sigset_t sigs;

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGALRM);
	pthread_sigmask(how, &sigs, NULL);
}

static void notify(const char *msg)
{
#ifdef HAVE_SYSTEMD
	sd_notify(0, msg);
#else
	(void)msg;
#endif
}

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "Usage: batsimd [OPTION]...\n"
	    "Simulate a battery energy storage site cell by cell and "
	    "publish it in shared memory.\n"
	    "\n"
	    "  -c, --config FILE     configuration file (default %s)\n"
	    "  -b, --backend NAME    auto, cpu or cuda\n"
	    "      --speed X         1 real time, N times faster, 0 as "
	    "fast as possible\n"
	    "  -d, --duration S      stop after S simulated seconds "
	    "(0 = run until stopped)\n"
	    "      --threads N       CPU worker threads (0 = one per CPU)\n"
	    "      --seed N          seed of the cell-to-cell variation\n"
	    "      --trace R,M,C     write cell R,M,C after every step ...\n"
	    "      --trace-out FILE  ... to FILE as CSV (- = standard "
	    "output)\n"
	    "      --foreground      accepted for compatibility: batsimd "
	    "never forks\n"
	    "  -v, --verbose         debug messages\n"
	    "  -h, --help            this help\n"
	    "  -V, --version         version\n"
	    "\n"
	    "Options win over BATSIM_CONFIG, BATSIM_SHM and "
	    "BATSIM_CONTROL_SOCKET, which win\n"
	    "over the configuration file.  Signals: TERM and "
	    "INT stop, HUP reloads\nthe profile.  See batsimd(8) and "
	    "batsim.conf(5).\n",
	    DEFAULT_CONFIG);
}

struct options {
	const char *config;
	int config_given;
	const char *set[5][2]; /* key, value overrides */
	unsigned n_set;
	const char *trace, *trace_out;
	int verbose;
};

/* Parse the command line; EX_OK to go on, or an exit status (-1 for
 * "exit 0 now", after --help or --version). */
static int parse_options(int argc, char **argv, struct options *o)
{
	enum {
		OPT_SEED = 256,
		OPT_TRACE,
		OPT_TRACE_OUT,
		OPT_SPEED,
		OPT_THREADS,
		OPT_FOREGROUND
	};
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"backend", required_argument, NULL, 'b'},
	    {"speed", required_argument, NULL, OPT_SPEED},
	    {"duration", required_argument, NULL, 'd'},
	    {"threads", required_argument, NULL, OPT_THREADS},
	    {"seed", required_argument, NULL, OPT_SEED},
	    {"trace", required_argument, NULL, OPT_TRACE},
	    {"trace-out", required_argument, NULL, OPT_TRACE_OUT},
	    {"foreground", no_argument, NULL, OPT_FOREGROUND},
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	memset(o, 0, sizeof *o);
	o->config = DEFAULT_CONFIG;
	if (env_get(ENV_CONFIG)) { /* below -c */
		o->config = env_get(ENV_CONFIG);
		o->config_given = 1;
	}
	while ((c = getopt_long(argc, argv, "c:b:d:vhV", longopts,
				NULL)) != -1) {
		const char *key = NULL;

		switch (c) {
		case 'c':
			o->config = optarg;
			o->config_given = 1;
			break;
		case 'b':
			key = "backend";
			break;
		case OPT_SPEED:
			key = "speed";
			break;
		case 'd':
			key = "duration_s";
			break;
		case OPT_THREADS:
			key = "threads";
			break;
		case OPT_SEED:
			key = "seed";
			break;
		case OPT_TRACE:
			o->trace = optarg;
			break;
		case OPT_TRACE_OUT:
			o->trace_out = optarg;
			break;
		case OPT_FOREGROUND:
			break; /* batsimd always stays in the foreground */
		case 'v':
			o->verbose = 1;
			break;
		case 'h':
			usage(stdout);
			return -1;
		case 'V':
			printf("batsimd (batsim) %s\n", PACKAGE_VERSION);
			return -1;
		default:
			fprintf(stderr, "Try 'batsimd --help' for more "
					"information.\n");
			return EX_CONFIG;
		}
		if (key) {
			/* a repeated option: the last one wins */
			unsigned i;

			for (i = 0; i < o->n_set; i++)
				if (!strcmp(o->set[i][0], key))
					break;
			o->set[i][0] = key;
			o->set[i][1] = optarg;
			if (i == o->n_set)
				o->n_set++;
		}
	}
	if (optind < argc) {
		fprintf(stderr,
			"batsimd: unexpected argument '%s'\n"
			"Try 'batsimd --help' for more information.\n",
			argv[optind]);
		return EX_CONFIG;
	}
	if (!o->trace != !o->trace_out) {
		fprintf(stderr, "batsimd: --trace R,M,C and --trace-out FILE "
				"go together\n");
		return EX_CONFIG;
	}
	return EX_OK;
}

/* Defaults, then the file, then the command line; EX_OK or EX_CONFIG. */
static int load_config(const struct options *o, struct bsd_config *cfg)
{
	static const char *const optname[][2] = {
	    {"backend", "--backend"},	  {"speed", "--speed"},
	    {"duration_s", "--duration"}, {"threads", "--threads"},
	    {"seed", "--seed"},
	};
	char err[1024];

	cfg_defaults(cfg);
	if (!o->config_given && access(o->config, F_OK) != 0 &&
	    errno == ENOENT) {
		log_info("no configuration file %s: using the built-in "
			 "defaults",
			 o->config);
	} else if (cfg_load(cfg, o->config, err, sizeof err) != 0) {
		log_error("%s", err);
		return EX_CONFIG;
	}
	/* the environment, over the file, under the options (env.h) */
	if (env_shm() &&
	    cfg_set(cfg, "shm_name", env_shm(), err, sizeof err) != 0) {
		log_error("%s=%s: %s", env_get(ENV_SHM) ? ENV_SHM : ENV_SHM_OLD,
			  env_shm(), err);
		return EX_CONFIG;
	}
	if (env_get(ENV_CONTROL_SOCKET) &&
	    cfg_set(cfg, "control_socket", env_get(ENV_CONTROL_SOCKET), err,
		    sizeof err) != 0) {
		log_error("%s=%s: %s", ENV_CONTROL_SOCKET,
			  env_get(ENV_CONTROL_SOCKET), err);
		return EX_CONFIG;
	}
	for (unsigned i = 0; i < o->n_set; i++) {
		const char *name = o->set[i][0];

		for (size_t k = 0; k < sizeof optname / sizeof optname[0]; k++)
			if (!strcmp(optname[k][0], o->set[i][0]))
				name = optname[k][1];
		if (cfg_set(cfg, o->set[i][0], o->set[i][1], err, sizeof err) !=
		    0) {
			log_error("%s: %s", name, err);
			return EX_CONFIG;
		}
	}
	if (cfg_validate(cfg, err, sizeof err) != 0) {
		log_error("%s: %s", o->config, err);
		return EX_CONFIG;
	}
	return EX_OK;
}

static int backend_id(const char *name)
{
	if (!strcmp(name, "cpu"))
		return ENG_BACKEND_CPU;
	if (!strcmp(name, "cuda"))
		return ENG_BACKEND_CUDA;
	return ENG_BACKEND_AUTO;
}

/* Attach to the segment as its writer, creating it when it is missing
 * (*created set then).  EX_OK or EX_FAIL (logged). */
static int open_segment(const struct bsd_config *cfg, engine *e, bs_writer **w,
			int *created)
{
	struct bs_topology t = {cfg->racks, cfg->modules_per_rack,
				cfg->cells_per_module};
	struct bs_writer_params p = {
	    .backend = engine_backend(e),
	    .tick_period_ns = (uint64_t)cfg->publish_period_ms * 1000000u,
	    .dt_ns = (uint64_t)llround(cfg->dt_s * 1e9),
	    .chemistry = cfg->cell.chemistry,
	};
	int rc = bs_writer_open_site(cfg->shm_name, &t, &p, cfg->site_name, w);

	if (rc == -BS_ENOENT) {
		/* normally batsim-init.service made it; without it (a test, a
		 * manual start) batsimd makes it itself, mode 0660 */
		rc = bs_segment_create(cfg->shm_name, &t, cfg->slots, 0660,
				       (gid_t)-1, 0);
		if (rc < 0) {
			log_error("cannot create segment %s: %s", cfg->shm_name,
				  bs_strerror(rc));
			return EX_FAIL;
		}
		if (rc == 0) {
			*created = 1;
			log_info("created segment %s for %ux%ux%u cells, %u "
				 "slots (batsim-init was not run)",
				 cfg->shm_name, t.racks, t.modules_per_rack,
				 t.cells_per_module, cfg->slots);
		}
		rc = bs_writer_open_site(cfg->shm_name, &t, &p, cfg->site_name,
					 w);
	}
	if (rc == -BS_EEXIST) {
		bs_reader *r;
		struct bs_info info;

		if (bs_reader_open(cfg->shm_name, &r) == 0) {
			bs_reader_info(r, &info);
			bs_reader_close(r);
			log_error("segment %s has topology %ux%ux%u but the "
				  "configuration says %ux%ux%u: run "
				  "'batsim-init --force' to recreate it",
				  cfg->shm_name, info.topo.racks,
				  info.topo.modules_per_rack,
				  info.topo.cells_per_module, t.racks,
				  t.modules_per_rack, t.cells_per_module);
		} else {
			log_error("segment %s has another topology than "
				  "%ux%ux%u: run 'batsim-init --force' to "
				  "recreate it",
				  cfg->shm_name, t.racks, t.modules_per_rack,
				  t.cells_per_module);
		}
		return EX_FAIL;
	}
	if (rc < 0) {
		log_error("cannot attach to segment %s: %s", cfg->shm_name,
			  bs_strerror(rc));
		return EX_FAIL;
	}
	return EX_OK;
}

/* Everything the main loop works with. */
struct daemon {
	struct bsd_config cfg;
	const struct options *opt;
	engine *e;
	bs_writer *w;
	legacy *leg;
	trace *tr;
	ctl_server *ctl;
	struct ctl_daemon d;
	int wake_fd;	      /* read end of sig_pipe */
	int stop;	      /* TERM or INT seen */
	int failed;	      /* stop with EX_FAIL */
	uint64_t max_ticks;   /* duration_s in steps (UINT64_MAX: none) */
	uint64_t chunk;	      /* steps per engine_step at speed 0 */
	uint64_t watchdog_ns; /* WATCHDOG=1 period, 0 = none */
	uint64_t last_watchdog, last_beat;
	uint64_t last_pub_tick; /* tick of the last publication */
};

/* Advance n steps (one at a time when tracing), in chunks of about
 * CHUNK_TARGET_NS of wall time; a stop signal ends it between chunks. */
static int run_steps(struct daemon *dm, uint64_t n)
{
	char err[512];

	if (!dm->tr) {
		while (n && !sig_stop) {
			uint64_t k = n < dm->chunk ? n : dm->chunk;
			uint64_t t0 = util_mono_ns(), el;

			engine_step(dm->e, (unsigned)k);
			n -= k;
			el = util_mono_ns() - t0;
			/* grow only on a whole chunk: the short runs of a
			 * speed > 0 (a few steps each) say nothing of how
			 * long a chunk takes, and growing on them left a
			 * chunk of 2^20 steps (seconds without serving
			 * control) for the first run at speed 0 */
			if (k == dm->chunk && el < CHUNK_TARGET_NS / 2 &&
			    dm->chunk < (1u << 20))
				dm->chunk *= 2;
			else if (el > CHUNK_TARGET_NS * 2 && dm->chunk > 1)
				dm->chunk /= 2;
		}
		return 0;
	}
	for (uint64_t i = 0; i < n && !sig_stop; i++) {
		engine_step(dm->e, 1);
		if (trace_row(dm->tr, dm->e, err, sizeof err) != 0) {
			log_error("%s", err);
			dm->failed = dm->stop = 1;
			return -1;
		}
	}
	return 0;
}

static int publish(struct daemon *dm)
{
	struct bs_slot_view v;
	int rc = bs_writer_begin(dm->w, &v);

	if (rc == -BS_ETRUNC) {
		log_error("segment %s was truncated under batsimd: stopping; "
			  "recreate it with batsim-init --force and restart "
			  "batsimd, and check what else writes to it",
			  dm->cfg.shm_name);
		return -1;
	}
	if (rc < 0) {
		log_error("segment %s: %s", dm->cfg.shm_name, bs_strerror(rc));
		return -1;
	}
	engine_fill(dm->e, &v);
	/* daemon state beside the engine's (abi_minor 1 fields) */
	v.site->paused = dm->d.paused ? 1u : 0u;
	v.site->speed = (float)dm->d.speed;
	{
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		mbf_expire(&dm->d.mb, (int64_t)ts.tv_sec * 1000000000 +
					  ts.tv_nsec);
		mbf_publish(&dm->d.mb, v.site, util_mono_ns());
	}
	{
		/* abi_minor 2 extension regions (absent in a segment made by
		 * an older batsim-init) */
		struct bs_module_ext *mx;
		struct bs_cell_ext *cx;
		bs_writer_ext(dm->w, &mx, &cx);
		engine_fill_ext(dm->e, mx, cx);
	}
	if (dm->leg)
		legacy_write(dm->leg, v.cells);
	rc = bs_writer_publish(dm->w, engine_tick(dm->e), engine_time_s(dm->e));
	if (rc < 0) {
		log_error("segment %s: %s", dm->cfg.shm_name, bs_strerror(rc));
		return -1;
	}
	dm->last_beat = util_mono_ns();
	dm->last_pub_tick = engine_tick(dm->e);
	return 0;
}

/* SIGHUP: take the profile of the configuration file again. */
static void reload_profile(struct daemon *dm)
{
	struct bsd_config *fresh = malloc(sizeof *fresh);
	char err[1024];

	if (!fresh) {
		log_error("SIGHUP: out of memory, profile unchanged");
		return;
	}
	cfg_defaults(fresh);
	if (!dm->opt->config_given && access(dm->opt->config, F_OK) != 0 &&
	    errno == ENOENT) {
		log_notice("SIGHUP: no configuration file %s: profile set to "
			   "the default (none)",
			   dm->opt->config);
	} else if (cfg_load(fresh, dm->opt->config, err, sizeof err) != 0) {
		log_error("SIGHUP: %s (profile unchanged)", err);
		free(fresh);
		return;
	}
	err[0] = '\0';
	if (engine_set_profile(dm->e, &fresh->profile, err, sizeof err) != 0)
		log_error("SIGHUP: profile %s from %s: %s (profile unchanged)",
			  fresh->profile.name[0] ? fresh->profile.name : "none",
			  dm->opt->config, err);
	else
		log_notice("SIGHUP: profile %s%s%s reloaded from %s",
			   fresh->profile.name[0] ? fresh->profile.name
						  : "none",
			   fresh->profile.csv_path[0] ? " " : "",
			   fresh->profile.csv_path, dm->opt->config);
	free(fresh);
}

/* Act on the signals the handlers recorded. */
static void read_signals(struct daemon *dm)
{
	char buf[64];

	while (read(dm->wake_fd, buf, sizeof buf) > 0)
		;
	if (sig_stop && !stop_seen) {
		struct itimerval off = {{0, 0}, {0, 0}};

		/* seen in time: the normal stop, without the deadline */
		stop_seen = 1;
		setitimer(ITIMER_REAL, &off, NULL);
		log_notice("%s: stopping at t = %.1f s",
			   sig_stop == SIGTERM ? "SIGTERM" : "SIGINT",
			   engine_time_s(dm->e));
		dm->stop = 1;
	}
	if (sig_hup && !sig_stop) {
		sig_hup = 0;
		reload_profile(dm);
	}
}

/* Chores that fall due whatever the loop does: heartbeat, watchdog. */
static void chores(struct daemon *dm)
{
	uint64_t now = util_mono_ns();

	if (now - dm->last_beat >= HEARTBEAT_MAX_NS) {
		bs_writer_heartbeat(dm->w);
		dm->last_beat = now;
	}
	if (dm->watchdog_ns && now - dm->last_watchdog >= dm->watchdog_ns) {
		notify("WATCHDOG=1");
		dm->last_watchdog = now;
	}
}

/* The main loop; returns the exit status. */
static int main_loop(struct daemon *dm)
{
	const uint64_t period = (uint64_t)dm->cfg.publish_period_ms * 1000000u;
	const double dt = dm->cfg.dt_s;
	uint64_t base_ns = util_mono_ns(), base_tick = engine_tick(dm->e);
	uint64_t next_pub = base_ns + period;
	int lag_warned = 0;

	while (!dm->stop) {
		uint64_t now = util_mono_ns(), tick = engine_tick(dm->e);
		uint64_t deadline;

		if (dm->d.rebase) {
			base_ns = now;
			base_tick = tick;
			dm->d.rebase = 0;
		}
		if (!dm->d.paused && tick < dm->max_ticks) {
			if (dm->d.speed > 0) {
				/* the steps due by now at this speed */
				double due = (double)(now - base_ns) * 1e-9 *
					     dm->d.speed / dt;
				uint64_t target = base_tick + (uint64_t)due;

				/* at most MAX_LAG_PERIODS periods of steps at
				 * once: further behind, the speed cannot be
				 * held, and the clock restarts from here */
				uint64_t cap = (uint64_t)ceil(
				    MAX_LAG_PERIODS * (double)period * 1e-9 *
				    dm->d.speed / dt);

				if (target > dm->max_ticks)
					target = dm->max_ticks;
				if (target > tick + cap) {
					if (!lag_warned)
						log_warn(
						    "the engine cannot keep "
						    "up with speed %g: it runs "
						    "as fast as it can",
						    dm->d.speed);
					lag_warned = 1;
					target = tick + cap;
					dm->d.rebase = 1;
				}
				if (target > tick &&
				    run_steps(dm, target - tick) != 0)
					break;
			} else {
				/* as fast as possible until the next
				 * publication, in chunks of about 10 ms */
				while (!dm->stop && !dm->d.rebase &&
				       util_mono_ns() < next_pub &&
				       engine_tick(dm->e) < dm->max_ticks) {
					uint64_t left =
					    dm->max_ticks - engine_tick(dm->e);
					uint64_t n =
					    dm->chunk < left ? dm->chunk : left;

					if (run_steps(dm, n) != 0)
						break;
					chores(dm);
					ctl_wait(dm->ctl, 0, dm->wake_fd);
					read_signals(dm);
				}
			}
		}
		if (dm->failed)
			break;
		now = util_mono_ns();
		if (now >= next_pub || engine_tick(dm->e) >= dm->max_ticks ||
		    dm->stop) {
			if (publish(dm) != 0) {
				dm->failed = 1;
				break;
			}
			next_pub += period;
			if (next_pub <= now) /* fell behind: no burst */
				next_pub = now + period;
		}
		if (engine_tick(dm->e) >= dm->max_ticks) {
			log_notice("duration %g s reached (%llu steps): "
				   "stopping",
				   dm->cfg.duration_s,
				   (unsigned long long)engine_tick(dm->e));
			break;
		}
		chores(dm);
		if (dm->stop)
			break;
		/* wait for the next publication, the next heartbeat or
		 * watchdog, a control request or a signal */
		deadline = next_pub;
		if (dm->last_beat + HEARTBEAT_MAX_NS < deadline)
			deadline = dm->last_beat + HEARTBEAT_MAX_NS;
		if (dm->watchdog_ns &&
		    dm->last_watchdog + dm->watchdog_ns < deadline)
			deadline = dm->last_watchdog + dm->watchdog_ns;
		if (dm->d.speed == 0 && !dm->d.paused)
			deadline = 0; /* no waiting at full speed */
		ctl_wait(dm->ctl, deadline, dm->wake_fd);
		read_signals(dm);
	}
	return dm->failed ? EX_FAIL : EX_OK;
}

int main(int argc, char **argv)
{
	static struct daemon dm; /* large (the config): not on the stack */
	struct options opt;
	uint32_t trace_loc[3];
	char err[1024];
	int rc, created = 0, started = 0;

	log_init(argv[0], LOG_INFO);
	rc = parse_options(argc, argv, &opt);
	if (rc)
		return rc < 0 ? EX_OK : rc;
	if (opt.verbose)
		log_set_level(LOG_DEBUG);
	dm.opt = &opt;
	dm.wake_fd = -1;
	rc = load_config(&opt, &dm.cfg);
	if (rc)
		return rc;
	if (opt.trace && trace_parse_cell(opt.trace, &dm.cfg, trace_loc, err,
					  sizeof err) != 0) {
		log_error("%s", err);
		return EX_CONFIG;
	}
	dm.max_ticks = UINT64_MAX;
	if (dm.cfg.duration_s > 0) {
		/* whole steps; a tiny tolerance so 10 / 0.1 is 100 steps */
		dm.max_ticks =
		    (uint64_t)ceil(dm.cfg.duration_s / dm.cfg.dt_s - 1e-9);
		if (dm.max_ticks == 0)
			dm.max_ticks = 1;
	}

	/* TERM, INT and HUP: recorded by handlers, acted on between steps */
	if (signals_init() != 0) {
		log_error("cannot set up the signal handlers: %s",
			  strerror(errno));
		return EX_FAIL;
	}
	dm.wake_fd = sig_pipe[0];
	/* a stop request ends the loading of a data file (profile, OCV) */
	df_set_abort_flag(&sig_stop);

	err[0] = '\0';
	signals_mask(SIG_BLOCK); /* the engine's threads inherit it */
	rc = engine_create(&dm.cfg, backend_id(dm.cfg.backend), &dm.e, err,
			   sizeof err);
	signals_mask(SIG_UNBLOCK);
	if (rc != 0) {
		log_error("%s", err[0] ? err : "cannot create the engine");
		return EX_FAIL;
	}
	log_info("backend %s (asked: %s)", engine_backend_desc(dm.e),
		 dm.cfg.backend);
	log_info("%ux%ux%u cells of %s, dt %g s, publish every %u ms, speed "
		 "%g%s",
		 dm.cfg.racks, dm.cfg.modules_per_rack, dm.cfg.cells_per_module,
		 dm.cfg.cell.chemistry, dm.cfg.dt_s, dm.cfg.publish_period_ms,
		 dm.cfg.speed,
		 dm.cfg.speed == 0 ? " (as fast as possible)" : "");
	dm.d.speed = dm.cfg.speed;
	dm.d.backend = engine_backend(dm.e) == BS_BACKEND_CUDA ? "cuda" : "cpu";
	dm.d.backend_desc = engine_backend_desc(dm.e);
	dm.chunk = 1;

	/* A segment truncated under us: exit with a message, not SIGBUS */
	sigbus_arm("batsimd", dm.cfg.shm_name, NULL, 0, EX_FAIL);
	rc = open_segment(&dm.cfg, dm.e, &dm.w, &created);
	if (rc) {
		if (created)
			bs_segment_remove(dm.cfg.shm_name);
		engine_destroy(dm.e);
		return rc;
	}
	{
		void *base;
		size_t len;

		bs_writer_slots(dm.w, &base, &len);
		sigbus_arm("batsimd", dm.cfg.shm_name, bs_writer_header(dm.w),
			   (size_t)((char *)base + len -
				    (const char *)bs_writer_header(dm.w)),
			   EX_FAIL);
		if (engine_register_host(dm.e, base, len) != 0)
			log_warn("cannot page-lock the segment for the GPU: "
				 "copying through a staging buffer");
	}
	if (dm.cfg.legacy_shm_name[0]) {
		uint64_t n = (uint64_t)dm.cfg.racks * dm.cfg.modules_per_rack *
			     dm.cfg.cells_per_module;

		if (legacy_open(dm.cfg.legacy_shm_name, n, &dm.leg, err,
				sizeof err) != 0) {
			log_error("%s", err);
			rc = EX_FAIL;
			goto out;
		}
		if (err[0])
			log_notice("%s", err);
		log_info("legacy mirror %s (struct BatterySim, %llu cells)",
			 dm.cfg.legacy_shm_name, (unsigned long long)n);
	}
	if (ctl_open(dm.cfg.control_socket, &dm.cfg, dm.e, &dm.d, &dm.ctl, err,
		     sizeof err) != 0) {
		log_error("%s", err);
		rc = EX_FAIL;
		goto out;
	}
	if (opt.trace) {
		err[0] = '\0';
		if (trace_open(opt.trace_out, trace_loc, dm.e, &dm.tr, err,
			       sizeof err) != 0) {
			log_error("%s", err);
			rc = EX_FAIL;
			goto out;
		}
		log_info("tracing cell %u,%u,%u to %s", trace_loc[0],
			 trace_loc[1], trace_loc[2], opt.trace_out);
	}
#ifdef HAVE_SYSTEMD
	{
		uint64_t usec;

		if (sd_watchdog_enabled(0, &usec) > 0)
			dm.watchdog_ns = usec * 1000u / 2; /* twice a period */
	}
#endif
	if (publish(&dm) != 0) {
		rc = EX_FAIL;
		goto out;
	}
	log_info("publishing to %s, control socket %s", dm.cfg.shm_name,
		 dm.cfg.control_socket);
	started = 1;
	notify("READY=1\nSTATUS=publishing");
	dm.last_watchdog = util_mono_ns();

	in_loop = 1;
	rc = main_loop(&dm);
	in_loop = 0;
	{
		struct itimerval off = {{0, 0}, {0, 0}};

		setitimer(ITIMER_REAL, &off, NULL);
	}

	notify("STOPPING=1");
	/* the final state, then STOPPED below */
	if (!dm.failed && dm.last_pub_tick != engine_tick(dm.e) &&
	    publish(&dm) != 0)
		rc = EX_FAIL;
out:
	if (dm.tr && trace_close(dm.tr, err, sizeof err) != 0) {
		log_error("%s", err);
		rc = EX_FAIL;
	}
	ctl_close(dm.ctl);
	engine_unregister_host(dm.e);
	bs_writer_close(dm.w); /* state STOPPED */
	/* A start that failed leaves nothing behind: a segment made for it
	 * would hold its topology against the next start (--force). */
	if (!started && created && rc != EX_OK) {
		int r = bs_segment_remove(dm.cfg.shm_name);

		if (r < 0 && r != -BS_ENOENT)
			log_warn("cannot remove the segment %s made for this "
				 "failed start: %s",
				 dm.cfg.shm_name, bs_strerror(r));
		else
			log_info("removed the segment %s made for this failed "
				 "start",
				 dm.cfg.shm_name);
	}
	/* the mirror is always made by this start (O_EXCL): ours to remove */
	if (!started && rc != EX_OK && dm.leg)
		shm_unlink(dm.cfg.legacy_shm_name);
	legacy_close(dm.leg);
	engine_destroy(dm.e);
	df_set_abort_flag(NULL);
	if (rc == EX_OK)
		log_info("stopped");
	return rc;
}
