/*
 * batsim-init - create, size, validate or remove the batsim shared memory
 * segment (batsim-init(8)).
 *
 * It runs before batsimd (batsim-init.service, oneshot) so that the
 * segment exists with the right owner, group and mode before any writer
 * or reader starts.  All segment work is done by libbatsim; this program
 * turns options into calls and library codes into messages and exit
 * statuses that say what to do.
 */
#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "batsim/batsim.h"
#include "conf.h"
#include "env.h"
#include "log.h"
#include "util.h"
#include "views.h"

/* Exit statuses, documented in batsim-init(8). */
enum {
	EX_OK_ = 0,
	EX_USAGE_ = 1,	 /* bad option or argument (topology, slots, mode) */
	EX_CONFIG_ = 2,	 /* configuration file error */
	EX_PERM_ = 3,	 /* permission denied */
	EX_EXISTS_ = 4,	 /* exists with another topology, or in use */
	EX_INVALID_ = 5, /* not a valid or compatible batsim segment */
	EX_NOENT_ = 6,	 /* segment not found (--check, --remove) */
	EX_SYSTEM_ = 7	 /* other system error */
};

#define DEFAULT_CONFIG SYSCONFDIR "/batsim/batsim.conf"
#define DEFAULT_MODE   0640

struct init_opts {
	char name[64];
	struct bs_topology topo;
	int topo_given; /* from --topology or --config: compare on --check */
	uint32_t slots;
	mode_t mode;
	gid_t gid;
	const char *group; /* as given, for messages */
	int force;
	int action; /* 0 create, 'c' check, 'r' remove */
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: batsim-init [OPTION]...\n"
		"Create, size, check or remove the batsim shared memory "
		"segment.\n"
		"\n"
		"  -n, --name NAME       segment name (default %s)\n"
		"  -t, --topology RxMxC  racks x modules per rack x cells per "
		"module\n"
		"                        (default 20x10x32)\n"
		"  -c, --config FILE     read shm_name, racks, "
		"modules_per_rack,\n"
		"                        cells_per_module and slots from FILE\n"
		"                        (default %s when it exists\n"
		"                        and --topology is not given)\n"
		"      --slots N         snapshot slots, 2-%u (default %u)\n"
		"  -g, --group GROUP     group owning the segment (name or "
		"number)\n"
		"  -m, --mode MODE       octal permission bits (default 0%o)\n"
		"  -f, --force           replace a segment of another "
		"topology;\n"
		"                        with --remove, remove it even while a "
		"writer runs\n"
		"  -C, --check           validate the segment and print its "
		"header\n"
		"  -r, --remove          remove the segment\n"
		"  -h, --help            show this help and exit\n"
		"  -V, --version         show the version and exit\n"
		"\n"
		"Options win over BATSIM_SHM and BATSIM_CONFIG, which win "
		"over the\nconfiguration file.\n"
		"Exit status: 0 ok, 1 bad arguments, 2 configuration error,\n"
		"3 permission denied, 4 exists with another topology or in "
		"use,\n"
		"5 invalid or incompatible segment, 6 not found, 7 system "
		"error.\n"
		"See batsim-init(8).\n",
		BS_DEFAULT_NAME, DEFAULT_CONFIG, BS_MAX_SLOTS, BS_DEFAULT_SLOTS,
		DEFAULT_MODE);
}

static int bad_usage(const char *what)
{
	log_error("%s", what);
	fprintf(stderr, "Try 'batsim-init --help' for more information.\n");
	return EX_USAGE_;
}

/* "/name": one leading slash, no other, not empty, fits shm_open. */
static int name_ok(const char *n)
{
	size_t len = strlen(n);

	return len >= 2 && len < 64 && n[0] == '/' && !strchr(n + 1, '/');
}

static int parse_mode(const char *s, mode_t *out)
{
	char *end;
	unsigned long v;

	if (!*s || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 8);
	/* Permission bits only: set-id and sticky bits mean nothing on a
	 * segment and are more likely a typo. */
	if (errno || *end || v > 0777)
		return -1;
	*out = (mode_t)v;
	return 0;
}

static int parse_group(const char *s, gid_t *out)
{
	struct group *g;
	uint64_t n;

	errno = 0;
	g = getgrnam(s);
	if (g) {
		*out = g->gr_gid;
		return 0;
	}
	if (util_parse_u64(s, 0, UINT32_MAX - 1, &n) == 0) {
		*out = (gid_t)n;
		return 0;
	}
	return -1;
}

static const char *state_name(uint32_t s)
{
	switch (s) {
	case BS_STATE_INIT:
		return "INIT (no writer has started)";
	case BS_STATE_RUNNING:
		return "RUNNING";
	case BS_STATE_STOPPED:
		return "STOPPED (the writer exited)";
	default:
		return "unknown";
	}
}

/* Map a library code from opening or creating the segment to a message
 * and an exit status. */
static int report(const struct init_opts *o, int rc, const char *doing)
{
	switch (-rc) {
	case BS_ENOENT:
		log_error("segment %s not found: create it with batsim-init "
			  "(without --check or --remove)%s",
			  o->name,
			  env_under_systemd() ? " or systemctl start batsim-init"
					      : "");
		return EX_NOENT_;
	case BS_EACCES:
		log_error("%s %s: permission denied: run as root, or as a "
			  "member of the segment's group",
			  doing, o->name);
		return EX_PERM_;
	case BS_EMAGIC:
	case BS_EABI:
	case BS_ETRUNC:
	case BS_ELAYOUT:
		log_error("%s %s: %s", doing, o->name, bs_strerror(rc));
		return EX_INVALID_;
	case BS_EBUSY:
		log_error("%s %s: a writer (batsimd) is running on it: stop "
			  "batsimd first%s",
			  doing, o->name,
			  env_under_systemd() ? " (systemctl stop batsimd)" : "");
		return EX_EXISTS_;
	case BS_EINVAL:
	case BS_ERANGE:
		log_error("%s %s: %s", doing, o->name, bs_strerror(rc));
		return EX_USAGE_;
	default:
		log_error("%s %s: %s%s%s", doing, o->name, bs_strerror(rc),
			  rc == -BS_ESYS ? ": " : "",
			  rc == -BS_ESYS ? strerror(errno) : "");
		return EX_SYSTEM_;
	}
}

static double age_s(int64_t ns)
{
	return (double)ns / 1e9;
}

static int do_check(const struct init_opts *o)
{
	const struct bs_shm_header *h;
	struct bs_info in;
	bs_reader *r;
	char magic[BS_MAGIC_LEN + 1];
	int rc, live, status = EX_OK_;

	rc = bs_reader_open(o->name, &r);
	if (rc)
		return report(o, rc, "checking");
	h = bs_reader_header(r);
	bs_reader_info(r, &in);
	live = bs_reader_live(r);
	memcpy(magic, h->magic, BS_MAGIC_LEN);
	magic[BS_MAGIC_LEN] = '\0';

	printf("segment:        %s\n", o->name);
	printf("magic:          %s\n", magic);
	printf("abi:            %u.%u (this program: %u.%u)\n", in.abi_major,
	       in.abi_minor, BS_ABI_MAJOR, BS_ABI_MINOR);
	printf("total size:     %" PRIu64 " bytes\n", in.total_size);
	printf("header size:    %" PRIu32 " bytes\n", h->header_size);
	printf("topology:       %" PRIu32 "x%" PRIu32 "x%" PRIu32 " (%" PRIu64
	       " cells)\n",
	       in.topo.racks, in.topo.modules_per_rack,
	       in.topo.cells_per_module, in.n_cells);
	printf("slots:          %" PRIu32 " x %" PRIu64
	       " bytes at offset %" PRIu64 "\n",
	       in.n_slots, h->slot_size, h->slots_offset);
	printf("records:        cell %" PRIu32 ", module %" PRIu32
	       ", rack %" PRIu32 ", site %" PRIu32 " bytes\n",
	       h->cell_size, h->module_size, h->rack_size, h->site_size);
	printf("state:          %s\n", state_name(in.state));
	printf("generation:     %" PRIu64 "\n", in.generation);
	if (in.writer_pid > 0) {
		int alive = kill(in.writer_pid, 0) == 0 || errno == EPERM;

		printf("writer pid:     %" PRId32 "%s\n", in.writer_pid,
		       in.state == BS_STATE_RUNNING && !alive
			   ? " (no such process)"
			   : "");
	} else {
		printf("writer pid:     none\n");
	}
	printf("backend:        %s\n", view_backend_name(in.backend));
	if (in.chemistry[0])
		printf("chemistry:      %.*s\n", (int)sizeof(in.chemistry),
		       in.chemistry);
	if (in.tick_period_ns)
		printf("publish period: %.0f ms\n",
		       (double)in.tick_period_ns / 1e6);
	if (in.heartbeat_ns)
		printf("heartbeat age:  %.3f s\n", age_s(in.heartbeat_age_ns));
	else
		printf("heartbeat age:  never\n");
	printf("live:           %s\n",
	       live == 0	    ? "yes"
	       : live == -BS_ESTALE ? "no (heartbeat too old: the writer "
				      "hung or died)"
	       : in.state == BS_STATE_INIT ? "no (start batsimd)"
					   : "no (writer stopped)");

	if (o->topo_given &&
	    (in.topo.racks != o->topo.racks ||
	     in.topo.modules_per_rack != o->topo.modules_per_rack ||
	     in.topo.cells_per_module != o->topo.cells_per_module)) {
		log_error("segment %s has topology %ux%ux%u, expected %ux%ux%u:"
			  " stop batsimd and run batsim-init --force",
			  o->name, in.topo.racks, in.topo.modules_per_rack,
			  in.topo.cells_per_module, o->topo.racks,
			  o->topo.modules_per_rack, o->topo.cells_per_module);
		status = EX_EXISTS_;
	}
	bs_reader_close(r);
	return status;
}

static int do_remove(const struct init_opts *o)
{
	bs_reader *r;
	int rc;

	/* Removing the name under a live writer leaves it publishing into a
	 * segment nobody can open: refuse unless forced. */
	if (!o->force && bs_reader_open(o->name, &r) == 0) {
		struct bs_info in;
		int live = bs_reader_live(r);

		bs_reader_info(r, &in);
		bs_reader_close(r);
		if (live == 0) {
			log_error("segment %s is in use by a running writer "
				  "(pid %d): stop batsimd first, or use "
				  "--force",
				  o->name, (int)in.writer_pid);
			return EX_EXISTS_;
		}
	}
	rc = bs_segment_remove(o->name);
	if (rc)
		return report(o, rc, "removing");
	log_info("removed %s", o->name);
	return EX_OK_;
}

static int do_create(const struct init_opts *o)
{
	uint64_t size = bs_segment_size(&o->topo, o->slots);
	bs_reader *r;
	int rc;

	rc = bs_segment_create(o->name, &o->topo, o->slots, o->mode, o->gid,
			       o->force ? BS_CREATE_FORCE : 0);
	if (rc == -BS_EEXIST) {
		struct bs_info in;

		if (bs_reader_open(o->name, &r) == 0) {
			bs_reader_info(r, &in);
			bs_reader_close(r);
			log_error("segment %s exists with topology %ux%ux%u "
				  "and %u slots, not %ux%ux%u and %u slots: "
				  "stop batsimd and re-run with --force to "
				  "replace it",
				  o->name, in.topo.racks,
				  in.topo.modules_per_rack,
				  in.topo.cells_per_module, in.n_slots,
				  o->topo.racks, o->topo.modules_per_rack,
				  o->topo.cells_per_module, o->slots);
		} else {
			log_error("segment %s exists with another topology: "
				  "stop batsimd and re-run with --force to "
				  "replace it",
				  o->name);
		}
		return EX_EXISTS_;
	}
	if (rc < 0)
		return report(o, rc,
			      rc == -BS_EBUSY ? "replacing" : "creating");
	log_info("%s %s: %ux%ux%u (%" PRIu64 " cells), %u slots, %" PRIu64
		 " bytes, mode 0%03o%s%s",
		 rc == 1 ? "kept existing" : "created", o->name, o->topo.racks,
		 o->topo.modules_per_rack, o->topo.cells_per_module,
		 (uint64_t)o->topo.racks * o->topo.modules_per_rack *
		     o->topo.cells_per_module,
		 o->slots, size, (unsigned)o->mode, o->group ? ", group " : "",
		 o->group ? o->group : "");
	return EX_OK_;
}

static int load_config(struct init_opts *o, const char *path, int name_set,
		       int slots_set)
{
	static struct bsd_config cfg; /* large (OCV tables): not on stack */
	char err[512];

	cfg_defaults(&cfg);
	if (cfg_load(&cfg, path, err, sizeof(err))) {
		log_error("%s", err);
		return EX_CONFIG_;
	}
	o->topo.racks = cfg.racks;
	o->topo.modules_per_rack = cfg.modules_per_rack;
	o->topo.cells_per_module = cfg.cells_per_module;
	if (bs_topology_check(&o->topo)) {
		log_error("%s: topology %ux%ux%u is not supported (at most %u "
			  "racks, %u modules per rack, %u cells per module, %u "
			  "cells): fix racks, modules_per_rack and "
			  "cells_per_module",
			  path, cfg.racks, cfg.modules_per_rack,
			  cfg.cells_per_module, BS_MAX_RACKS,
			  BS_MAX_MODULES_PER_RACK, BS_MAX_CELLS_PER_MODULE,
			  BS_MAX_CELLS);
		return EX_CONFIG_;
	}
	if (!name_set) {
		if (!name_ok(cfg.shm_name)) {
			log_error("%s: shm_name '%s' must be '/' followed by "
				  "a name without '/'",
				  path, cfg.shm_name);
			return EX_CONFIG_;
		}
		snprintf(o->name, sizeof(o->name), "%s", cfg.shm_name);
	}
	if (!slots_set && cfg.slots) {
		if (cfg.slots < 2 || cfg.slots > BS_MAX_SLOTS) {
			log_error("%s: slots = %u is out of range: use 2 to %u",
				  path, cfg.slots, BS_MAX_SLOTS);
			return EX_CONFIG_;
		}
		o->slots = cfg.slots;
	}
	o->topo_given = 1;
	return EX_OK_;
}

static const char *topology_error(int rc)
{
	return rc == -BS_ERANGE
		   ? "is beyond the supported maximum (racks <= 4096, "
		     "modules per rack <= 1024, cells per module <= "
		     "1024, 4194304 cells in all)"
		   : "is not of the form RxMxC with three positive "
		     "integers, e.g. 20x10x32";
}

int main(int argc, char **argv)
{
	enum { OPT_SLOTS = 256 };
	static const struct option longopts[] = {
	    {"name", required_argument, NULL, 'n'},
	    {"topology", required_argument, NULL, 't'},
	    {"config", required_argument, NULL, 'c'},
	    {"slots", required_argument, NULL, OPT_SLOTS},
	    {"group", required_argument, NULL, 'g'},
	    {"mode", required_argument, NULL, 'm'},
	    {"force", no_argument, NULL, 'f'},
	    {"check", no_argument, NULL, 'C'},
	    {"remove", no_argument, NULL, 'r'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	struct init_opts o = {
	    .slots = BS_DEFAULT_SLOTS,
	    .mode = DEFAULT_MODE,
	    .gid = (gid_t)-1,
	};
	const char *config = NULL, *topology = NULL;
	int name_set = 0, slots_set = 0, opt, rc;
	uint64_t u;
	char msg[300];

	log_init(argv[0], LOG_INFO);
	snprintf(o.name, sizeof(o.name), "%s", BS_DEFAULT_NAME);
	while ((opt = getopt_long(argc, argv, "n:t:c:g:m:fCrhV", longopts,
				  NULL)) != -1) {
		switch (opt) {
		case 'n':
			if (!name_ok(optarg)) {
				snprintf(msg, sizeof(msg),
					 "--name '%s': a segment name is '/' "
					 "followed by up to 62 characters "
					 "without '/', e.g. /batsim",
					 optarg);
				return bad_usage(msg);
			}
			snprintf(o.name, sizeof(o.name), "%s", optarg);
			name_set = 1;
			break;
		case 't':
			topology = optarg;
			break;
		case 'c':
			config = optarg;
			break;
		case OPT_SLOTS:
			if (util_parse_u64(optarg, 2, BS_MAX_SLOTS, &u)) {
				snprintf(msg, sizeof(msg),
					 "--slots '%s': give a number from 2 "
					 "to %u",
					 optarg, BS_MAX_SLOTS);
				return bad_usage(msg);
			}
			o.slots = (uint32_t)u;
			slots_set = 1;
			break;
		case 'g':
			if (parse_group(optarg, &o.gid)) {
				snprintf(msg, sizeof(msg),
					 "--group '%s': no such group: give an "
					 "existing group name or number "
					 "(see getent group)",
					 optarg);
				return bad_usage(msg);
			}
			o.group = optarg;
			break;
		case 'm':
			if (parse_mode(optarg, &o.mode)) {
				snprintf(msg, sizeof(msg),
					 "--mode '%s': give octal permission "
					 "bits from 0 to 0777, e.g. 0640",
					 optarg);
				return bad_usage(msg);
			}
			break;
		case 'f':
			o.force = 1;
			break;
		case 'C':
		case 'r':
			if (o.action && o.action != opt)
				return bad_usage("--check and --remove "
						 "exclude each other");
			o.action = opt == 'C' ? 'c' : 'r';
			break;
		case 'h':
			usage(stdout);
			return EX_OK_;
		case 'V':
			printf("batsim-init (batsim) %s, libbatsim %s\n",
			       PACKAGE_VERSION, bs_version());
			return EX_OK_;
		default:
			fprintf(stderr, "Try 'batsim-init --help' for more "
					"information.\n");
			return EX_USAGE_;
		}
	}
	if (optind < argc) {
		snprintf(msg, sizeof(msg), "unexpected argument '%s'",
			 argv[optind]);
		return bad_usage(msg);
	}
	/* the environment, below the options (env.h) */
	if (!name_set && env_shm()) {
		if (!name_ok(env_shm())) {
			snprintf(msg, sizeof(msg),
				 "%s='%s': a segment name is '/' followed by "
				 "up to 62 characters without '/', e.g. "
				 "/batsim",
				 env_get(ENV_SHM) ? ENV_SHM : ENV_SHM_OLD,
				 env_shm());
			return bad_usage(msg);
		}
		snprintf(o.name, sizeof(o.name), "%s", env_shm());
		name_set = 1;
	}
	if (!config && !topology)
		config = env_get(ENV_CONFIG);
	if (topology && config)
		return bad_usage("--topology and --config exclude each other: "
				 "give one");

	if (topology) {
		rc = bs_topology_parse(topology, &o.topo);
		if (rc) {
			snprintf(msg, sizeof(msg), "--topology '%s' %s",
				 topology, topology_error(rc));
			return bad_usage(msg);
		}
		o.topo_given = 1;
	} else if (config) {
		rc = load_config(&o, config, name_set, slots_set);
		if (rc)
			return rc;
	} else if (access(DEFAULT_CONFIG, F_OK) == 0) {
		/* What batsimd reads by default, so that both agree on the
		 * name and topology; --check compares the topology only when
		 * it was asked for explicitly. */
		rc = load_config(&o, DEFAULT_CONFIG, name_set, slots_set);
		if (rc)
			return rc;
		o.topo_given = 0;
	} else {
		o.topo.racks = 20;
		o.topo.modules_per_rack = 10;
		o.topo.cells_per_module = 32;
	}

	switch (o.action) {
	case 'c':
		return do_check(&o);
	case 'r':
		return do_remove(&o);
	default:
		return do_create(&o);
	}
}
