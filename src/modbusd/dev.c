/*
 * dev.c - the device behind the Modbus server: the segment (attached
 * read-only through libbatsim, followed across writer restarts and
 * segment re-creation), the register image of each unit (built from one
 * snapshot, cached until the next tick), the values the daemon holds for
 * the writable points, the control client (writes, the fault list, the
 * modbus_report), and the reversion timers of 704 and 124.
 */
#include <config.h>

#include <json-c/json.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "env.h"
#include "log.h"
#include "modbusd.h"

#define CTL_TIMEOUT_MS 2000
#define SIDE_TIMEOUT_MS 2000  /* fault list */
#define SIDE_BACKOFF_NS 3000000000LL
#define REPORT_NS 1000000000LL
#define FAULT_POLL_NS 100000000LL

struct cache {
	uint16_t *img;
	uint64_t tick, generation;
	int valid;
	int stale;
	struct mb_state st; /* site: the writable state it was built with */
	int64_t rem_s;      /* site: WSetRvrtRem it shows */
};

static const struct bsd_config *cfg;
static bs_reader *reader;
static struct mb_geom geom;
static struct mb_site_snap site_snap;
static struct mb_rack_snap rack_snap;
static struct cache *caches; /* [1 + n_rack_units] */
static unsigned n_caches;
static struct mb_state state;
static struct mb_faults faults;
static uint32_t seen_revision = UINT32_MAX;
static bs_control *ctl;      /* writes */
static bs_control *side;     /* the fault list */
static int64_t next_fault_poll, next_attach, side_retry_at, next_name_check;
/* the reporter thread: its own connection, so that a hung batsimd never
 * holds up the poll loop for a report */
static atomic_uint rep_clients;
static atomic_ullong rep_requests;
static atomic_int rep_stop;
static pthread_t rep_thread;
static int rep_started;
static char last_why[320];
static uint64_t last_generation = UINT64_MAX;

int64_t dev_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t dev_wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

const struct mb_geom *dev_geom(void)
{
	return reader ? &geom : NULL;
}

struct mb_faults *dev_faults(void)
{
	return &faults;
}

struct mb_state *dev_state(void)
{
	return &state;
}

static void say_once(const char *why)
{
	if (strcmp(why, last_why)) {
		snprintf(last_why, sizeof last_why, "%s", why);
		if (why[0])
			log_warn("%s", why);
	}
}

static void detach(void)
{
	for (unsigned i = 0; i < n_caches; i++)
		free(caches[i].img);
	free(caches);
	caches = NULL;
	n_caches = 0;
	free(site_snap.racks);
	free(rack_snap.mods);
	free(rack_snap.cells);
	memset(&site_snap, 0, sizeof site_snap);
	memset(&rack_snap, 0, sizeof rack_snap);
	bs_reader_close(reader);
	reader = NULL;
}

/* Defaults of the writable state for a geometry (at the first attach). */
static void state_defaults(void)
{
	static int done;

	if (done)
		return;
	done = 1;
	memset(&state, 0, sizeof state);
	state.wset_mod = 1; /* WATTS */
	state.wcha_max = (uint16_t)(geom.w_cha_rtg / 1e0 /
				    __builtin_powi(10.0, geom.sf.w_rtg) +
				    0.5);
	state.wcha_gra = 100;
	state.wdischa_gra = 100;
	state.in_wrte = (int16_t)(100 * __builtin_powi(10.0, -geom.sf.pct));
	state.out_wrte = state.in_wrte;
	state.set_inv_state = 3; /* INVERTER_STARTED */
}

static int attach(void)
{
	char err[200], why[320];
	const struct bs_geometry *h;
	struct bs_info info;
	bs_reader *r;
	int rc = bs_reader_open(cfg->shm_name, &r);

	if (rc) {
		if (rc == -BS_ENOENT)
			snprintf(why, sizeof why,
				 "segment %s not found: create it with "
				 "batsim-init or %s",
				 cfg->shm_name, env_start_batsimd());
		else if (rc == -BS_EACCES)
			snprintf(why, sizeof why,
				 "segment %s: permission denied: run "
				 "batsim-modbusd as a member of the segment's "
				 "group (batsim)",
				 cfg->shm_name);
		else
			snprintf(why, sizeof why,
				 "segment %s cannot be used: %s (recreate it "
				 "with batsim-init)",
				 cfg->shm_name, bs_strerror(rc));
		say_once(why);
		return -1;
	}
	/* sizes only from the geometry the library copied and validated
	 * (batsim-shm(7)); the chemistry from the writer identity */
	h = bs_reader_geometry(r);
	memset(&info, 0, sizeof info);
	bs_reader_info(r, &info);
	if (map_geometry(&geom, h, info.chemistry, cfg, err, sizeof err)) {
		snprintf(why, sizeof why, "segment %s: %s", cfg->shm_name, err);
		say_once(why);
		bs_reader_close(r);
		return -1;
	}
	bs_reader_set_max_age(r, (uint64_t)cfg->modbus_stale_ms * 1000000u);
	reader = r;
	n_caches = 1 + geom.n_rack_units;
	caches = calloc(n_caches, sizeof *caches);
	site_snap.racks = calloc(h->n_racks, sizeof *site_snap.racks);
	rack_snap.mods = calloc(h->modules_per_rack, sizeof *rack_snap.mods);
	rack_snap.cells = calloc((size_t)h->modules_per_rack *
				     h->cells_per_module,
				 sizeof *rack_snap.cells);
	if (!caches || !site_snap.racks || !rack_snap.mods ||
	    !rack_snap.cells) {
		log_error("out of memory attaching segment %s", cfg->shm_name);
		detach();
		return -1;
	}
	state_defaults();
	say_once("");
	log_notice("attached to segment %s (%ux%ux%u): unit 1 site (%u "
		   "registers, %u strings in 803), units 2-%u racks (%u "
		   "registers, %u modules each)%s",
		   cfg->shm_name, h->n_racks, h->modules_per_rack,
		   h->cells_per_module, geom.site.n_regs, geom.n_str,
		   1 + geom.n_rack_units, geom.rack.n_regs, geom.n_mod,
		   geom.n_rack_units < h->n_racks ||
			   geom.n_mod < h->modules_per_rack ||
			   geom.n_str < h->n_racks
		       ? " (the rest is not exposed: see batsim-modbusd(8))"
		       : "");
	seen_revision = UINT32_MAX;
	return 0;
}

static void *reporter(void *arg);

void dev_init(const struct bsd_config *c)
{
	int rc;

	cfg = c;
	rc = pthread_create(&rep_thread, NULL, reporter, NULL);
	if (rc)
		log_warn("no modbus_report thread (%s): batsimd will show the "
			 "daemon as absent",
			 strerror(rc));
	else
		rep_started = 1;
}

void dev_close(void)
{
	atomic_store(&rep_stop, 1);
	if (rep_started)
		pthread_join(rep_thread, NULL);
	rep_started = 0;
	detach();
	bs_control_close(ctl);
	bs_control_close(side);
	ctl = side = NULL;
}

int dev_command(const char *json, char *err, size_t errlen)
{
	char *reply = NULL;
	json_object *o, *v;
	int rc;

	for (int attempt = 0; attempt < 2; attempt++) {
		if (!ctl) {
			rc = bs_control_open(cfg->control_socket,
					     CTL_TIMEOUT_MS, &ctl);
			if (rc) {
				snprintf(err, errlen,
					 "cannot reach batsimd at %s: %s "
					 "(%s)",
					 cfg->control_socket, bs_strerror(rc),
					 env_start_batsimd());
				ctl = NULL;
				return -1;
			}
		}
		rc = bs_control_request(ctl, json, &reply);
		if (rc == 0)
			break;
		/* batsimd restarted: the old connection is dead, one
		 * reconnect (not a retry of a lost answer: nothing was
		 * answered) */
		bs_control_close(ctl);
		ctl = NULL;
		if (attempt == 1) {
			snprintf(err, errlen, "batsimd at %s: %s",
				 cfg->control_socket, bs_strerror(rc));
			return -1;
		}
	}
	o = json_tokener_parse(reply);
	if (o && json_object_object_get_ex(o, "ok", &v) &&
	    json_object_get_boolean(v)) {
		json_object_put(o);
		free(reply);
		return 0;
	}
	snprintf(err, errlen, "batsimd refused %s: %s", json,
		 o && json_object_object_get_ex(o, "error", &v)
		     ? json_object_get_string(v)
		     : reply);
	json_object_put(o);
	free(reply);
	return -1;
}

static int send_setpoint(double w, const char *why)
{
	char cmd[128], err[512];

	snprintf(cmd, sizeof cmd,
		 "{\"cmd\":\"setpoint\",\"mode\":\"power\",\"value\":%.0f}", w);
	if (dev_command(cmd, err, sizeof err)) {
		log_warn("%s: %s", why, err);
		return -1;
	}
	log_debug("%s: setpoint %.0f W", why, w);
	return 0;
}

static double pct_scale(void)
{
	return __builtin_powi(10.0, geom.sf.pct);
}

int dev_apply_wset(int rearm)
{
	double w;

	if (rearm)
		state.wset_rvrt_at_ns =
		    state.wset_rvrt_tms
			? dev_now_ns() +
			      (int64_t)state.wset_rvrt_tms * 1000000000
			: 0;
	if (!state.wset_ena)
		w = 0;
	else if (state.wset_mod == 1)
		w = state.wset;
	else
		w = state.wset_pct * pct_scale() / 100.0 * geom.w_dis_rtg;
	return send_setpoint(w, "704 WSet");
}

/* The power setpoint batsimd holds now (0 in current mode or when it
 * cannot be asked): from `state`, not the snapshot, which may predate a
 * setpoint just sent. */
static double current_setpoint(void)
{
	char *reply = NULL;
	json_object *o, *v;
	double sp = 0;

	for (int attempt = 0;; attempt++) {
		if (!ctl && bs_control_open(cfg->control_socket, CTL_TIMEOUT_MS,
					    &ctl)) {
			ctl = NULL;
			return 0;
		}
		if (!bs_control_request(ctl, "{\"cmd\":\"state\"}", &reply))
			break;
		/* closed by batsimd (idle for 10 s, or a restart): one
		 * reconnect */
		bs_control_close(ctl);
		ctl = NULL;
		if (attempt == 1)
			return 0;
	}
	o = json_tokener_parse(reply);
	if (o && json_object_object_get_ex(o, "mode", &v) &&
	    !strcmp(json_object_get_string(v), "power") &&
	    json_object_object_get_ex(o, "setpoint", &v))
		sp = json_object_get_double(v);
	json_object_put(o);
	free(reply);
	return sp;
}

int dev_apply_rates(int rearm)
{
	double wmax = state.wcha_max * __builtin_powi(10.0, geom.sf.w_rtg);
	double lo = -1e300, hi = 1e300, sp = 0;

	if (rearm)
		state.rte_rvrt_at_ns =
		    state.rvrt_tms
			? dev_now_ns() + (int64_t)state.rvrt_tms * 1000000000
			: 0;
	if (!(state.storctl_mod & 3))
		return 0;
	if (state.storctl_mod & 1)
		lo = -state.in_wrte * pct_scale() / 100.0 * wmax;
	if (state.storctl_mod & 2)
		hi = state.out_wrte * pct_scale() / 100.0 * wmax;
	sp = current_setpoint();
	if (sp < lo)
		sp = lo;
	if (sp > hi)
		sp = hi;
	return send_setpoint(sp, "124 rate window");
}

static void timers(int64_t now)
{
	if (state.wset_rvrt_at_ns && now >= state.wset_rvrt_at_ns) {
		state.wset_rvrt_at_ns = 0;
		log_notice("704 reversion timer (WSetRvrtTms %u s) expired "
			   "without a new setpoint: reverting to WSetEna %u, "
			   "WSet %d W, WSetPct %d",
			   state.wset_rvrt_tms, state.wset_ena_rvrt,
			   state.wset_rvrt, state.wset_pct_rvrt);
		state.wset_ena = state.wset_ena_rvrt;
		state.wset = state.wset_rvrt;
		state.wset_pct = state.wset_pct_rvrt;
		if (reader)
			dev_apply_wset(0);
	}
	if (state.rte_rvrt_at_ns && now >= state.rte_rvrt_at_ns) {
		state.rte_rvrt_at_ns = 0;
		if (state.storctl_mod & 3) {
			log_notice("124 reversion timer (InOutWRte_RvrtTms %u "
				   "s) expired: rate limits off, setpoint 0 W",
				   state.rvrt_tms);
			state.storctl_mod = 0;
			send_setpoint(0, "124 reversion");
		}
	}
}

static void refresh_faults(void)
{
	char *reply = NULL, err[512];
	struct mb_faults f;
	int rc;

	if (dev_now_ns() < side_retry_at)
		return;
	if (!side && bs_control_open(cfg->control_socket, SIDE_TIMEOUT_MS,
				     &side)) {
		side = NULL;
		side_retry_at = dev_now_ns() + SIDE_BACKOFF_NS;
		seen_revision = UINT32_MAX; /* try again later */
		return;
	}
	rc = bs_control_request(side, "{\"cmd\":\"modbus_faults\"}", &reply);
	/* One connection per refresh: faults change rarely, and batsimd
	 * closes a control connection idle for 10 s (batsimd(8)), which a
	 * kept connection would find only by failing the next refresh. */
	bs_control_close(side);
	side = NULL;
	if (rc) {
		side_retry_at = dev_now_ns() + SIDE_BACKOFF_NS;
		seen_revision = UINT32_MAX;
		return;
	}
	if (faults_parse(reply, &f, err, sizeof err)) {
		log_debug("%s", err);
		/* an older batsimd without the command: no faults */
		memset(&faults, 0, sizeof faults);
	} else {
		if (f.n != faults.n)
			log_notice("protocol faults in force: %u", f.n);
		faults = f;
	}
	free(reply);
}

void dev_check_faults(void)
{
	struct bs_meta m;
	struct bs_site s;
	struct mb_site_ext ext;

	if (!reader || bs_read_site(reader, &m, &s, NULL) != 0)
		return;
	map_site_ext(&s, &ext);
	if (m.generation != last_generation) {
		if (last_generation != UINT64_MAX)
			log_notice("writer restarted (generation %llu)",
				   (unsigned long long)m.generation);
		last_generation = m.generation;
		seen_revision = UINT32_MAX;
	}
	if (ext.fault_revision != seen_revision) {
		seen_revision = ext.fault_revision;
		refresh_faults();
	}
}

void dev_tick(int64_t now, unsigned clients, uint64_t requests)
{
	if (!reader && now >= next_attach) {
		next_attach = now + 500000000; /* retry twice a second */
		attach();
	}
	if (reader && now >= next_name_check &&
	    (next_name_check = now + FAULT_POLL_NS,
	     bs_reader_check_name(reader) == -BS_ECHANGED)) {
		log_notice("segment %s was removed or recreated: re-attaching",
			   cfg->shm_name);
		detach();
		attach();
	}
	if (reader && now >= next_fault_poll) {
		next_fault_poll = now + FAULT_POLL_NS;
		dev_check_faults();
	}
	timers(now);
	atomic_store(&rep_clients, clients);
	atomic_store(&rep_requests, requests);
}

static void *reporter(void *arg)
{
	bs_control *c = NULL;
	unsigned last = UINT32_MAX;
	int64_t next = 0;
	(void)arg;

	while (!atomic_load(&rep_stop)) {
		unsigned n = atomic_load(&rep_clients);
		int64_t now = dev_now_ns();

		if (now >= next || n != last) {
			char cmd[128], *reply = NULL;
			int rc = 0;

			next = now + REPORT_NS;
			last = n;
			snprintf(cmd, sizeof cmd,
				 "{\"cmd\":\"modbus_report\",\"clients\":%u,"
				 "\"requests\":%llu}",
				 n, (unsigned long long)atomic_load(&rep_requests));
			if (!c)
				rc = bs_control_open(cfg->control_socket,
						     CTL_TIMEOUT_MS, &c);
			if (rc == 0)
				rc = bs_control_request(c, cmd, &reply);
			if (rc) {
				log_debug("modbus_report: %s", bs_strerror(rc));
				bs_control_close(c);
				c = NULL;
			}
			free(reply);
		}
		nanosleep(&(struct timespec){.tv_nsec = 50000000}, NULL);
	}
	bs_control_close(c);
	return NULL;
}

static int fill_site(struct cache *c, int stale)
{
	if (bs_read_site(reader, &site_snap.meta, &site_snap.site,
			 site_snap.racks))
		return -1;
	if (!c->img)
		c->img = malloc(geom.site.n_regs * sizeof *c->img);
	if (!c->img)
		return -1;
	map_site_image(c->img, &geom, &site_snap, &state, stale);
	c->tick = site_snap.meta.tick;
	c->generation = site_snap.meta.generation;
	return 0;
}

static int fill_rack(struct cache *c, uint32_t rack, int stale)
{
	rack_snap.rack = rack;
	if (bs_read_rack(reader, rack, &rack_snap.meta, &rack_snap.rec,
			 rack_snap.mods, rack_snap.cells))
		return -1;
	if (!c->img)
		c->img = malloc(geom.rack.n_regs * sizeof *c->img);
	if (!c->img)
		return -1;
	map_rack_image(c->img, &geom, &rack_snap, stale);
	c->tick = rack_snap.meta.tick;
	c->generation = rack_snap.meta.generation;
	return 0;
}

const uint16_t *dev_image(unsigned unit, enum mb_data *data,
			  const struct mb_unit **layout)
{
	struct bs_meta m;
	struct cache *c;
	struct mb_fault *fz;
	int64_t rem_s = 0;
	int stale, rc;

	*data = MB_DATA_NONE;
	if (!reader)
		return NULL;
	if (unit == 255)
		unit = MB_SITE_UNIT;
	if (unit < MB_SITE_UNIT || unit > geom.n_rack_units + 1) {
		*data = MB_DATA_LIVE; /* the device answers: no such unit */
		return NULL;
	}
	*layout = unit == MB_SITE_UNIT ? &geom.site : &geom.rack;
	rc = bs_read_site(reader, &m, NULL, NULL);
	if (rc)
		return NULL;
	stale = bs_reader_live(reader) != 0;
	*data = stale ? MB_DATA_STALE : MB_DATA_LIVE;
	c = &caches[unit - 1];
	fz = faults_find(&faults, MBF_FREEZE, unit, dev_wall_ns());
	if (c->valid && fz) {
		/* stale data on purpose: the image of the snapshot in force
		 * when the freeze began; "values" keeps the heartbeat live */
		if (!fz->freeze_all && unit == MB_SITE_UNIT)
			map_site_hb(c->img, &geom, m.wall_time_ns);
		return c->img;
	}
	/* One response, one snapshot: the image is rebuilt whole from one
	 * consistent read whenever the newest tick differs from the cached
	 * one, and the 704/124 state (held here) is current in it. */
	if (unit == MB_SITE_UNIT) {
		int64_t left = state.wset_rvrt_at_ns
				   ? state.wset_rvrt_at_ns - dev_now_ns()
				   : 0;

		rem_s = left > 0 ? (left + 999999999) / 1000000000 : 0;
	}
	/* the site image also shows the daemon's writable state and the
	 * reversion countdown: rebuilt when either changed too */
	if (c->valid && c->tick == m.tick && c->generation == m.generation &&
	    c->stale == stale &&
	    (unit != MB_SITE_UNIT ||
	     (c->rem_s == rem_s && !memcmp(&c->st, &state, sizeof state))))
		return c->img;
	rc = unit == MB_SITE_UNIT ? fill_site(c, stale)
				  : fill_rack(c, unit - MB_FIRST_RACK_UNIT,
					      stale);
	if (rc) {
		*data = MB_DATA_NONE;
		return NULL;
	}
	c->valid = 1;
	c->stale = stale;
	c->st = state;
	c->rem_s = rem_s;
	return c->img;
}

void dev_site_ext(struct mb_site_ext *out)
{
	struct bs_meta m;
	struct bs_site s;

	memset(out, 0, sizeof *out);
	out->soc_reserve_max = 1;
	if (reader && bs_read_site(reader, &m, &s, NULL) == 0)
		map_site_ext(&s, out);
}
