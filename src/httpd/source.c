/*
 * source.c - the shared memory segment as batsim-httpd sees it.
 *
 * One sampler thread owns attachment: it opens the segment when it
 * appears, notices when it is removed or recreated (bs_reader_check_name)
 * and re-attaches, watches the newest tick and the writer's liveness, and
 * samples site and rack aggregates into the history ring: at most once a
 * second, and only a snapshot with a tick it has not sampled yet (a
 * paused writer, or one slower than a second per publication, adds no
 * sample with the same simulated time).
 * Each change bumps a version counter and broadcasts a condition
 * variable: that is what the SSE streams sleep on (no polling in the
 * request threads).
 *
 * Request threads read through the same bs_reader concurrently (reads do
 * not modify it) under the shared side of a rwlock; the sampler takes the
 * exclusive side only to swap the reader on (re-)attach.
 */
#include <config.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "httpd.h"
#include "env.h"
#include "log.h"
#include "views.h"

#define HIST_MAX_BYTES	 (64u << 20) /* memory bound of the history ring */
#define HIST_INTERVAL_NS 1000000000LL

struct hist_site {
	int64_t mono_ns;
	int64_t wall_ns;
	uint64_t tick;
	uint64_t generation; /* of the writer that published the sample */
	double sim_s;
	float voltage, current, power, soc;
	float t_min, t_max, v_min, v_max;
};

struct hist_rack {
	float voltage, current, power, soc;
	float t_max, v_min, v_max;
};

static const struct bsd_config *cfg;

static pthread_rwlock_t rd_lock;
static bs_reader *reader;
static uint64_t attach_seq; /* bumped at each attach, under rd_lock */

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond;
static uint64_t version;
static int stopping;
static char absent_why[320]; /* why there is no reader (under mu) */
static unsigned period_ms;   /* under mu */

static pthread_t sampler;
static int sampler_started;

static pthread_mutex_t hist_mu = PTHREAD_MUTEX_INITIALIZER;
static struct hist_site *hs;
static struct hist_rack *hr;
static uint32_t h_racks;
static size_t h_cap, h_head, h_count; /* h_head: next write position */

static void bump(void)
{
	pthread_mutex_lock(&mu);
	version++;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&mu);
}

uint64_t src_version(void)
{
	uint64_t v;

	pthread_mutex_lock(&mu);
	v = version;
	pthread_mutex_unlock(&mu);
	return v;
}

int src_stopping(void)
{
	int s;

	pthread_mutex_lock(&mu);
	s = stopping;
	pthread_mutex_unlock(&mu);
	return s;
}

unsigned src_period_ms(void)
{
	unsigned p;

	pthread_mutex_lock(&mu);
	p = period_ms;
	pthread_mutex_unlock(&mu);
	return p;
}

static struct timespec mono_abs(int64_t ns)
{
	struct timespec ts = {.tv_sec = ns / 1000000000,
			      .tv_nsec = ns % 1000000000};
	return ts;
}

void src_wait(uint64_t seen, int64_t deadline_ns)
{
	struct timespec ts = mono_abs(deadline_ns);

	pthread_mutex_lock(&mu);
	while (!stopping && version == seen) {
		if (pthread_cond_timedwait(&cond, &mu, &ts) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&mu);
}

bs_reader *src_acquire(void)
{
	pthread_rwlock_rdlock(&rd_lock);
	return reader;
}

void src_release(void)
{
	pthread_rwlock_unlock(&rd_lock);
}

enum src_state src_check(bs_reader *r, char *why, size_t n)
{
	struct bs_info info;
	struct bs_meta m;
	int rc;

	if (!r) {
		pthread_mutex_lock(&mu);
		snprintf(why, n, "%s", absent_why);
		pthread_mutex_unlock(&mu);
		return SRC_ABSENT;
	}
	rc = bs_reader_live(r);
	if (rc == 0)
		rc = bs_read_site(r, &m, NULL, NULL);
	if (rc == -BS_ETRUNC || rc == -BS_ELAYOUT) {
		/* The sampler re-attaches (bs_reader_check_name). */
		snprintf(why, n,
			 "segment %s is corrupt: %s: batsim-httpd re-attaches "
			 "when a valid segment appears",
			 cfg->shm_name, bs_strerror(rc));
		return SRC_ABSENT;
	}
	if (rc == -BS_ESTOPPED) {
		bs_reader_info(r, &info);
		if (info.state == BS_STATE_INIT)
			snprintf(why, n,
				 "no writer has started on segment %s yet: "
				 "%s",
				 cfg->shm_name, env_start_batsimd());
		else
			snprintf(why, n,
				 "the writer of segment %s stopped (pid %d, "
				 "state %s): %s",
				 cfg->shm_name, (int)info.writer_pid,
				 view_state_name(info.state),
				 env_start_batsimd());
		return SRC_STOPPED;
	}
	if (rc == -BS_ESTALE) {
		bs_reader_info(r, &info);
		snprintf(why, n,
			 "the writer's heartbeat is %.1f s old "
			 "(limit %u ms): batsimd (pid %d) is hung, overloaded "
			 "or crashed",
			 (double)info.heartbeat_age_ns / 1e9,
			 cfg->http_stale_ms, (int)info.writer_pid);
		return SRC_STALE;
	}
	if (rc == -BS_ENODATA) {
		snprintf(why, n,
			 "the writer has not published a snapshot yet: "
			 "retry in a moment");
		return SRC_NODATA;
	}
	why[0] = '\0';
	return SRC_LIVE;
}

/* ---- history ---- */

static void hist_reset(uint32_t n_racks)
{
	size_t per, cap = cfg->http_history_s;

	pthread_mutex_lock(&hist_mu);
	free(hs);
	free(hr);
	hs = NULL;
	hr = NULL;
	h_head = h_count = h_cap = 0;
	h_racks = n_racks;
	per = sizeof(struct hist_site) + (size_t)n_racks * sizeof(*hr);
	if (cap > HIST_MAX_BYTES / per) {
		cap = HIST_MAX_BYTES / per;
		log_notice("history limited to %zu samples (%u racks): "
			   "http_history_s = %u needs more than %u MiB",
			   cap, n_racks, cfg->http_history_s,
			   HIST_MAX_BYTES >> 20);
	}
	if (cap) {
		hs = calloc(cap, sizeof *hs);
		hr = calloc(cap * n_racks, sizeof *hr);
		if (!hs || !hr) {
			log_error("out of memory for %zu history samples: "
				  "lower http_history_s",
				  cap);
			free(hs);
			free(hr);
			hs = NULL;
			hr = NULL;
			cap = 0;
		}
	}
	h_cap = cap;
	pthread_mutex_unlock(&hist_mu);
}

/* Add a sample of the snapshot m unless the newest sample is of the same
 * tick of the same writer (nothing new to show). */
static void hist_push(const struct bs_meta *m, const struct bs_site *s,
		      const struct bs_rack *racks, uint32_t n_racks)
{
	pthread_mutex_lock(&hist_mu);
	if (h_cap && h_count) {
		const struct hist_site *last =
		    &hs[(h_head + h_cap - 1) % h_cap];

		if (last->tick == m->tick && last->generation == m->generation)
			goto out;
	}
	if (h_cap && n_racks == h_racks) {
		struct hist_site *e = &hs[h_head];
		struct hist_rack *er = &hr[h_head * (size_t)h_racks];

		e->mono_ns = hd_now_ns();
		e->wall_ns = m->wall_time_ns;
		e->tick = m->tick;
		e->generation = m->generation;
		e->sim_s = m->sim_time_s;
		e->voltage = s->bus_voltage_v;
		e->current = s->current_a;
		e->power = s->power_w;
		e->soc = s->soc_mean;
		e->t_min = s->temp_min_c;
		e->t_max = s->temp_max_c;
		e->v_min = s->cell_v_min;
		e->v_max = s->cell_v_max;
		for (uint32_t i = 0; i < n_racks; i++) {
			er[i].voltage = racks[i].voltage_v;
			er[i].current = racks[i].current_a;
			er[i].power = racks[i].power_w;
			er[i].soc = racks[i].soc_mean;
			er[i].t_max = racks[i].temp_max_c;
			er[i].v_min = racks[i].cell_v_min;
			er[i].v_max = racks[i].cell_v_max;
		}
		h_head = (h_head + 1) % h_cap;
		if (h_count < h_cap)
			h_count++;
	}
out:
	pthread_mutex_unlock(&hist_mu);
}

static void add_num(json_object *o, const char *k, double v, int digits)
{
	json_object_object_add(o, k, view_number(v, digits));
}

json_object *src_history(unsigned seconds, long rack, unsigned *status)
{
	json_object *o, *arr;
	int64_t now = hd_now_ns();
	size_t first;

	pthread_mutex_lock(&hist_mu);
	if (rack >= 0 && (uint64_t)rack >= h_racks) {
		*status = h_racks ? 404 : 503;
		pthread_mutex_unlock(&hist_mu);
		return NULL;
	}
	*status = 200;
	o = json_object_new_object();
	json_object_object_add(o, "interval_s", json_object_new_int(1));
	json_object_object_add(o, "capacity", json_object_new_uint64(h_cap));
	json_object_object_add(
	    o, "seconds", json_object_new_uint64(seconds ? seconds : h_cap));
	if (rack >= 0)
		json_object_object_add(o, "rack", json_object_new_int64(rack));
	/* the ring holds one writer's samples (it restarts with a new
	 * generation): a client sees a restart as a new generation */
	json_object_object_add(
	    o, "generation",
	    json_object_new_uint64(
		h_count ? hs[(h_head + h_cap - 1) % h_cap].generation : 0));
	arr = json_object_new_array();
	first = (h_head + h_cap - h_count) % (h_cap ? h_cap : 1);
	for (size_t k = 0; k < h_count; k++) {
		size_t i = (first + k) % h_cap;
		const struct hist_site *e = &hs[i];
		json_object *s;

		if (seconds && now - e->mono_ns > (int64_t)seconds * 1000000000)
			continue;
		s = json_object_new_object();
		add_num(s, "time", (double)e->wall_ns / 1e9, 13);
		json_object_object_add(s, "tick",
				       json_object_new_uint64(e->tick));
		add_num(s, "time_s", e->sim_s, 10);
		add_num(s, "voltage", e->voltage, 7);
		add_num(s, "current", e->current, 7);
		add_num(s, "power", e->power, 7);
		add_num(s, "soc", e->soc * 100.0f, 7);
		add_num(s, "temperature_min", e->t_min, 7);
		add_num(s, "temperature_max", e->t_max, 7);
		add_num(s, "cell_voltage_min", e->v_min, 7);
		add_num(s, "cell_voltage_max", e->v_max, 7);
		if (rack >= 0) {
			const struct hist_rack *q =
			    &hr[i * (size_t)h_racks + (size_t)rack];
			json_object *ro = json_object_new_object();

			add_num(ro, "voltage", q->voltage, 7);
			add_num(ro, "current", q->current, 7);
			add_num(ro, "power", q->power, 7);
			add_num(ro, "soc", q->soc * 100.0f, 7);
			add_num(ro, "temperature_max", q->t_max, 7);
			add_num(ro, "cell_voltage_min", q->v_min, 7);
			add_num(ro, "cell_voltage_max", q->v_max, 7);
			json_object_object_add(s, "rack", ro);
		}
		json_object_array_add(arr, s);
	}
	pthread_mutex_unlock(&hist_mu);
	json_object_object_add(o, "samples", arr);
	return o;
}

/* ---- the sampler ---- */

static const char *state_word(enum src_state s)
{
	switch (s) {
	case SRC_ABSENT:
		return "absent";
	case SRC_STALE:
		return "stale";
	case SRC_STOPPED:
		return "stopped";
	case SRC_NODATA:
		return "no data";
	case SRC_LIVE:
		return "live";
	}
	return "?";
}

static void set_absent_why(int rc)
{
	char why[sizeof absent_why];

	switch (-rc) {
	case BS_ENOENT:
		snprintf(why, sizeof why,
			 "segment %s not found: create it with batsim-init "
			 "or %s",
			 cfg->shm_name, env_start_batsimd());
		break;
	case BS_EACCES:
		snprintf(why, sizeof why,
			 "segment %s: permission denied: run batsim-httpd as "
			 "a member of the segment's group (batsim)",
			 cfg->shm_name);
		break;
	default:
		snprintf(why, sizeof why,
			 "segment %s cannot be used: %s (recreate it with "
			 "batsim-init)",
			 cfg->shm_name, bs_strerror(rc));
		break;
	}
	pthread_mutex_lock(&mu);
	if (strcmp(why, absent_why)) {
		snprintf(absent_why, sizeof absent_why, "%s", why);
		pthread_mutex_unlock(&mu);
		/* Not there yet when batsim-httpd starts first (no segment
		 * seen so far): waiting for it is no fault. */
		if (rc == -BS_ENOENT && !attach_seq)
			log_info("%s", why);
		else
			log_warn("%s", why);
		return;
	}
	pthread_mutex_unlock(&mu);
}

static void *sampler_main(void *arg)
{
	enum src_state last_state = SRC_ABSENT;
	uint64_t last_tick = UINT64_MAX, last_gen = UINT64_MAX;
	int64_t last_wall = 0; /* a publication of the same tick is news
				  too: paused, with new operator state */
	int64_t next_hist = 0; /* no sample before (monotonic ns) */
	uint64_t hist_tick = UINT64_MAX, hist_gen = UINT64_MAX; /* sampled */
	struct bs_rack *racks = NULL;
	uint32_t n_racks = 0;
	(void)arg;

	for (;;) {
		unsigned sleep_ms = 500;
		int changed = 0;

		if (!reader) {
			bs_reader *r;
			int rc = bs_reader_open(cfg->shm_name, &r);

			if (rc == 0) {
				const struct bs_geometry *h =
				    bs_reader_geometry(r);

				bs_reader_set_max_age(
				    r, (uint64_t)cfg->http_stale_ms * 1000000u);
				n_racks = h->n_racks;
				free(racks);
				racks = calloc(n_racks ? n_racks : 1,
					       sizeof *racks);
				if (!racks) {
					log_error("out of memory attaching "
						  "%u racks",
						  n_racks);
					bs_reader_close(r);
				} else {
					pthread_rwlock_wrlock(&rd_lock);
					reader = r;
					attach_seq++;
					pthread_rwlock_unlock(&rd_lock);
					log_notice("attached to segment %s "
						   "(%ux%ux%u)",
						   cfg->shm_name, h->n_racks,
						   h->modules_per_rack,
						   h->cells_per_module);
					pthread_mutex_lock(&mu);
					absent_why[0] = '\0';
					pthread_mutex_unlock(&mu);
					hist_reset(n_racks);
					last_gen = UINT64_MAX;
					hist_tick = hist_gen = UINT64_MAX;
					changed = 1;
				}
			} else {
				set_absent_why(rc);
			}
		}
		if (reader) {
			char why[320];
			enum src_state st;
			struct bs_meta m = {0};
			struct bs_info info;

			int crc = bs_reader_check_name(reader);

			if (crc == -BS_ECHANGED || crc == -BS_ETRUNC ||
			    crc == -BS_ELAYOUT) {
				if (crc == -BS_ECHANGED)
					log_notice("segment %s was removed or "
						   "recreated: re-attaching",
						   cfg->shm_name);
				else
					log_error("segment %s is corrupt: %s: "
						  "detached, re-attaching when "
						  "a valid one appears",
						  cfg->shm_name,
						  bs_strerror(crc));
				pthread_rwlock_wrlock(&rd_lock);
				bs_reader_close(reader);
				reader = NULL;
				pthread_rwlock_unlock(&rd_lock);
				set_absent_why(crc == -BS_ECHANGED ? -BS_ENOENT
								   : crc);
				last_state = SRC_ABSENT;
				bump();
				if (src_stopping())
					break;
				continue; /* try to open the new one now */
			}
			st = src_check(reader, why, sizeof why);
			if (st == SRC_LIVE &&
			    bs_read_site(reader, &m, NULL, NULL) == 0) {
				if (m.tick != last_tick ||
				    m.generation != last_gen ||
				    m.wall_time_ns != last_wall)
					changed = 1;
				if (m.generation != last_gen &&
				    last_gen != UINT64_MAX) {
					log_notice(
					    "writer restarted "
					    "(generation %llu)",
					    (unsigned long long)m.generation);
					hist_reset(n_racks);
				}
				last_tick = m.tick;
				last_gen = m.generation;
				last_wall = m.wall_time_ns;
			}
			if (st != last_state) {
				bs_reader_info(reader, &info);
				if (st == SRC_LIVE)
					log_notice("segment %s is live",
						   cfg->shm_name);
				else if (st == SRC_NODATA ||
					 (st == SRC_STOPPED &&
					  info.state == BS_STATE_INIT))
					/* batsim-httpd merely started first:
					 * waiting for batsimd is no fault */
					log_info("segment %s: %s",
						 cfg->shm_name, why);
				else
					log_warn("segment %s is %s: %s",
						 cfg->shm_name, state_word(st),
						 why);
				last_state = st;
				changed = 1;
			}
			/* a sample at most once a second, and only of a
			 * tick not sampled yet: until one comes, every
			 * poll looks for it */
			if (st == SRC_LIVE && hd_now_ns() >= next_hist &&
			    (m.tick != hist_tick || m.generation != hist_gen)) {
				struct bs_site site;

				if (bs_read_site(reader, &m, &site, racks) ==
				    0) {
					hist_push(&m, &site, racks, n_racks);
					hist_tick = m.tick;
					hist_gen = m.generation;
					next_hist =
					    hd_now_ns() + HIST_INTERVAL_NS;
				}
			}
			/* Poll at half the publish period: a few atomic
			 * loads, cheap enough to keep SSE latency low. */
			bs_reader_info(reader, &info);
			sleep_ms = (unsigned)(info.tick_period_ns / 2000000u);
			if (sleep_ms < 10)
				sleep_ms = 10;
			if (sleep_ms > 250)
				sleep_ms = 250;
			pthread_mutex_lock(&mu);
			period_ms =
			    info.tick_period_ns
				? (unsigned)((info.tick_period_ns + 999999u) /
					     1000000u)
				: cfg->publish_period_ms;
			pthread_mutex_unlock(&mu);
		} else if (last_state != SRC_ABSENT) {
			last_state = SRC_ABSENT;
			changed = 1;
		}
		if (changed)
			bump();

		pthread_mutex_lock(&mu);
		if (!stopping) {
			struct timespec ts =
			    mono_abs(hd_now_ns() + (int64_t)sleep_ms * 1000000);
			uint64_t v = version;

			/* Woken early only by src_stop(). */
			while (!stopping && v == version &&
			       pthread_cond_timedwait(&cond, &mu, &ts) !=
				   ETIMEDOUT)
				;
		}
		if (stopping) {
			pthread_mutex_unlock(&mu);
			break;
		}
		pthread_mutex_unlock(&mu);
	}
	free(racks);
	return NULL;
}

int src_start(const struct bsd_config *c)
{
	pthread_rwlockattr_t ra;
	pthread_condattr_t ca;
	int rc;

	cfg = c;
	period_ms = c->publish_period_ms ? c->publish_period_ms : 200;
	snprintf(absent_why, sizeof absent_why,
		 "segment %s not attached yet: retry in a moment", c->shm_name);
	pthread_rwlockattr_init(&ra);
	/* Many readers: prefer the writer so a re-attach is not starved. */
	pthread_rwlockattr_setkind_np(
	    &ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&rd_lock, &ra);
	pthread_rwlockattr_destroy(&ra);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&cond, &ca);
	pthread_condattr_destroy(&ca);
	rc = pthread_create(&sampler, NULL, sampler_main, NULL);
	if (rc) {
		log_error("cannot start the sampler thread: %s", strerror(rc));
		return -1;
	}
	sampler_started = 1;
	return 0;
}

void src_stop(void)
{
	pthread_mutex_lock(&mu);
	stopping = 1;
	version++;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&mu);
	if (sampler_started) {
		pthread_join(sampler, NULL);
		sampler_started = 0;
	}
}

void src_close(void)
{
	pthread_rwlock_wrlock(&rd_lock);
	bs_reader_close(reader);
	reader = NULL;
	pthread_rwlock_unlock(&rd_lock);
	pthread_mutex_lock(&hist_mu);
	free(hs);
	free(hr);
	hs = NULL;
	hr = NULL;
	h_cap = h_count = h_head = 0;
	pthread_mutex_unlock(&hist_mu);
}

uint32_t src_history_racks(void)
{
	uint32_t n;

	pthread_mutex_lock(&hist_mu);
	n = h_racks;
	pthread_mutex_unlock(&hist_mu);
	return n;
}

uint64_t src_attach_seq(void)
{
	return attach_seq; /* the caller holds src_acquire() */
}
