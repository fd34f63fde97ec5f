/*
 * sse.c - GET /updates: Server-Sent Events without a thread per stream.
 *
 * libmicrohttpd runs its own event loop (epoll, a small pool of threads,
 * main.c).  A stream's content reader never blocks: when it has nothing
 * to send it suspends its connection (MHD_suspend_connection, allowed
 * from a content reader) and returns 0; a suspended connection costs no
 * thread and no polling.  One pusher thread watches the segment's
 * newest snapshot (a few atomic loads every SSE_POLL_NS while streams
 * are open) and, when one is published, makes it the current "epoch"
 * and resumes every stream that is due for it; it also resumes streams
 * whose keep-alive comment is due and, when the data stops, streams that
 * have not been told so (event "stale").
 *
 * Every event's text ("id: / event: / data: ...") is built once per
 * snapshot and view (the first stream that needs it builds it, the
 * others wait for it and share it, reference counted): 10,000 streams on
 * /updates?view=summary cost one summary per snapshot, not 10,000.  The
 * step "which view -> event text for this snapshot" is sse_event_text(),
 * driven by the table sse_views[].
 *
 * Intervals: interval_ms (default 500) is rounded up to a whole number k
 * of publish periods, k = ceil(interval_ms / period); a stream gets every
 * snapshot that is at least k publish periods after the one it last got
 * (measured with the snapshots' own publish times, so the writer's
 * jitter does not matter): at a 200 ms period, 500 ms gives an event
 * every third snapshot, 600 ms apart, and 400 ms every second one.  A
 * stream that cannot keep up skips snapshots instead of queueing them.
 *
 * Stream format (WHATWG HTML 9.2):
 *   : batsim-httpd VERSION / retry: 2000   once, at the start
 *   id: TICK / event: summary / data: {summary JSON}
 *   id: TICK / event: module  / data: {module JSON}
 *   id: TICK / event: overview / data: {overview JSON}  (view=overview,
 *                                        overview.c)
 *   event: stale / data: {"stale":true,"reason":...}  when data stops
 *   event: error / data: {"error":...,"status":404}   then the end
 *   : keep-alive                      at least every 15 s
 */
#include <config.h>

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "httpd.h"
#include "log.h"
#include "reply.h"
#include "views.h"

#define SSE_DEFAULT_INTERVAL_MS 500
#define SSE_MAX_INTERVAL_MS	3600000u
#define SSE_RETRY_MS		2000
/* Bytes handed to libmicrohttpd per call: its write buffer per stream
 * (taken from the connection's memory pool, HD_CONN_MEMORY) is about
 * this size.  Smaller blocks cost latency, not memory: measured with
 * 10,000 streams, 4 KiB doubled the p99 and 2 KiB made it 8 times as
 * long (more rounds through the event loop per event). */
#define SSE_BLOCK 8192
/* How often the pusher looks for a new snapshot while streams are open:
 * the part of the publish-to-receive latency that is polling. */
#define SSE_POLL_NS 5000000LL
/* How often it looks for due keep-alive comments. */
#define SSE_PING_SCAN_NS 250000000LL
#define SSE_QUEUE	 8

/* ---- shared event texts ---- */

struct sse_text {
	int refs; /* atomic */
	uint64_t tick;
	size_t len;
	char s[];
};

static struct sse_text *text_new(const char *s, size_t len, uint64_t tick)
{
	struct sse_text *t = malloc(sizeof *t + len + 1);

	if (!t)
		return NULL;
	t->refs = 1;
	t->tick = tick;
	t->len = len;
	memcpy(t->s, s, len);
	t->s[len] = '\0';
	return t;
}

static struct sse_text *text_ref(struct sse_text *t)
{
	if (t)
		__atomic_add_fetch(&t->refs, 1, __ATOMIC_RELAXED);
	return t;
}

static void text_unref(struct sse_text *t)
{
	if (t && __atomic_sub_fetch(&t->refs, 1, __ATOMIC_ACQ_REL) == 0)
		free(t);
}

/* ---- views: which view -> event text for this snapshot ---- */

/* What one stream asks for; a stream has one key per view it wants. */
struct sse_key {
	unsigned view; /* index into sse_views[] */
	int modules;   /* summary: module aggregates in every rack */
	uint32_t rack, module;
};

/* A view's builder writes the JSON of the newest snapshot into out and
 * its meta into *m: 0, a negative BS_E* code (no event this time), or
 * SSE_GONE with a message in out (an error event, then the stream
 * ends: what it asks for no longer exists). */
#define SSE_GONE 1
typedef int (*sse_build_fn)(bs_reader *r, const struct sse_key *k,
			    struct buf *out, struct bs_meta *m);

static int build_summary(bs_reader *r, const struct sse_key *k,
			 struct buf *out, struct bs_meta *m)
{
	return hd_summary_json(r, out, m, k->modules);
}

static int build_overview(bs_reader *r, const struct sse_key *k,
			  struct buf *out, struct bs_meta *m)
{
	(void)k;
	return hd_overview_json(r, out, m);
}

static int build_module(bs_reader *r, const struct sse_key *k, struct buf *out,
			struct bs_meta *m)
{
	const struct bs_geometry *h = bs_reader_geometry(r);
	struct bs_module rec;
	struct bs_module_ext mx;
	struct bs_cell *cells;
	struct bs_cell_ext *cx;
	json_object *o = NULL;
	int rc;

	if (k->rack >= h->n_racks || k->module >= h->modules_per_rack) {
		buf_printf(out,
			   "rack %u module %u out of range: the segment now "
			   "has %u racks of %u modules",
			   k->rack, k->module, h->n_racks,
			   h->modules_per_rack);
		return SSE_GONE;
	}
	cells = malloc((size_t)h->cells_per_module * sizeof *cells);
	cx = malloc((size_t)h->cells_per_module * sizeof *cx);
	rc = cells && cx ? 0 : -BS_ENOMEM;
	/* with SoH and hysteresis (abi_minor 2) */
	if (!rc)
		rc = bs_read_module_ext(r, k->rack, k->module, m, &rec, cells,
					&mx, cx);
	if (!rc) {
		o = view_module(h, m, k->rack, k->module, &rec, cells);
		if (o && bs_reader_has_ext(r))
			view_module_ext_all(o, &mx, cx);
		if (o)
			buf_puts(out, view_to_string(o));
		else
			rc = -BS_ENOMEM;
		json_object_put(o);
	}
	free(cells);
	free(cx);
	return rc;
}

/* The views.  name: what view=NAME selects (NULL: chosen otherwise;
 * "module" by rack=R&module=M); event: the event's name. */
static const struct sse_view {
	const char *name;
	const char *event;
	sse_build_fn build;
} sse_views[] = {
    {"summary", "summary", build_summary},
    {NULL, "module", build_module},
    {"overview", "overview", build_overview},
};
#define VIEW_SUMMARY 0u
#define VIEW_MODULE  1u
#define N_VIEWS	     (sizeof sse_views / sizeof sse_views[0])

static void json_event(struct buf *b, const char *event, uint64_t id,
		       int with_id, const char *json, size_t len)
{
	if (with_id)
		buf_printf(b, "id: %" PRIu64 "\n", id);
	buf_printf(b, "event: %s\ndata: ", event);
	/* json-c's plain output has no newline, so one data: line. */
	buf_append(b, json, len);
	buf_append(b, "\n\n", 2);
}

static struct sse_text *error_text(unsigned status, const char *msg)
{
	json_object *o = hd_error_obj(status, msg);
	const char *s = view_to_string(o);
	struct buf b = {0};
	struct sse_text *t;

	json_event(&b, "error", 0, 0, s, strlen(s));
	json_object_put(o);
	t = b.oom ? NULL : text_new(b.p, b.len, 0);
	buf_free(&b);
	return t;
}

/* The event text of view k for the newest snapshot: NULL when there is
 * none now (not live, a read failed, out of memory); *gone when the
 * stream must end after it (an error event). */
static struct sse_text *sse_event_text(const struct sse_key *k, int *gone)
{
	const struct sse_view *v = &sse_views[k->view];
	struct buf json = {0}, ev = {0};
	struct sse_text *t = NULL;
	struct bs_meta m;
	char why[320];
	bs_reader *r = src_acquire();
	int rc = -BS_ENODATA;

	*gone = 0;
	if (src_check(r, why, sizeof why) == SRC_LIVE)
		rc = v->build(r, k, &json, &m);
	src_release();
	if (rc == SSE_GONE) {
		*gone = 1;
		t = error_text(404, json.p ? json.p : "gone");
	} else if (rc == 0 && !json.oom) {
		json_event(&ev, v->event, m.tick, 1, json.p, json.len);
		if (!ev.oom)
			t = text_new(ev.p, ev.len, m.tick);
	}
	buf_free(&json);
	buf_free(&ev);
	return t;
}

/* ---- epochs: one published snapshot and its event texts ---- */

#define EP_BUCKETS 64

struct ep_entry {
	struct ep_entry *next;
	struct sse_key key;
	struct sse_text *text; /* NULL: could not be built */
	int gone;
};

struct sse_epoch {
	int refs; /* atomic */
	uint64_t tick, gen;
	int64_t wall_ns;
	pthread_mutex_t mu; /* held while a missing text is built, so that
			       it is built once */
	struct ep_entry *b[EP_BUCKETS];
};

static struct sse_epoch *epoch_new(const struct bs_meta *m)
{
	struct sse_epoch *e = calloc(1, sizeof *e);

	if (!e)
		return NULL;
	e->refs = 1;
	e->tick = m->tick;
	e->gen = m->generation;
	e->wall_ns = m->wall_time_ns;
	pthread_mutex_init(&e->mu, NULL);
	return e;
}

static struct sse_epoch *epoch_ref(struct sse_epoch *e)
{
	if (e)
		__atomic_add_fetch(&e->refs, 1, __ATOMIC_RELAXED);
	return e;
}

static void epoch_unref(struct sse_epoch *e)
{
	if (!e || __atomic_sub_fetch(&e->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	for (unsigned i = 0; i < EP_BUCKETS; i++) {
		struct ep_entry *n;

		for (struct ep_entry *x = e->b[i]; x; x = n) {
			n = x->next;
			text_unref(x->text);
			free(x);
		}
	}
	pthread_mutex_destroy(&e->mu);
	free(e);
}

static int key_eq(const struct sse_key *a, const struct sse_key *b)
{
	return a->view == b->view && a->modules == b->modules &&
	       a->rack == b->rack && a->module == b->module;
}

/* The text of k in epoch e (a new reference), built on first use. */
static struct sse_text *epoch_text(struct sse_epoch *e, const struct sse_key *k,
				   int *gone)
{
	unsigned h = (k->view * 31u + (unsigned)k->modules * 7u +
		      k->rack * 131u + k->module) %
		     EP_BUCKETS;
	struct ep_entry *x;
	struct sse_text *t;

	pthread_mutex_lock(&e->mu);
	for (x = e->b[h]; x; x = x->next)
		if (key_eq(&x->key, k))
			break;
	if (!x) {
		x = calloc(1, sizeof *x);
		if (!x) {
			pthread_mutex_unlock(&e->mu);
			*gone = 0;
			return NULL;
		}
		x->key = *k;
		x->text = sse_event_text(k, &x->gone);
		x->next = e->b[h];
		e->b[h] = x;
	}
	t = text_ref(x->text);
	*gone = x->gone;
	pthread_mutex_unlock(&e->mu);
	return t;
}

/* ---- streams ---- */

struct sse_stream {
	struct sse_stream *prev, *next; /* all streams (under mu) */
	struct MHD_Connection *conn;
	struct sse_key keys[2];
	unsigned n_keys;
	int64_t interval_ns;
	int64_t keepalive_ns;
	/* under mu */
	int suspended;		   /* suspended by its reader */
	int started;		   /* the stream's header went out */
	struct sse_epoch *pending; /* due snapshot, not yet sent */
	int stale_pending;	   /* send the current stale event */
	int reported_stale;
	int ping_due;
	int closing; /* end the stream after what is queued */
	int have_last;
	uint64_t last_tick, last_gen; /* last_gen UINT64_MAX: unknown */
	int64_t last_wall_ns;	      /* 0: not known (Last-Event-ID) */
	int64_t next_ping;
	/* the reader's own (the connection is served by one thread at a
	 * time) */
	struct sse_text *q[SSE_QUEUE];
	unsigned qh, qn;
	size_t qpos;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv; /* the pusher's sleep (monotonic) */
static struct sse_stream *streams;
static unsigned n_streams;
static struct sse_epoch *cur;	     /* newest live snapshot, or NULL */
static struct sse_text *stale_text; /* while not live */
static int stopping;
static pthread_t pusher;
static int pusher_started;
static struct sse_text *keepalive_text;

/* Resume s if its reader suspended it (mu held).  Only the one who
 * clears the flag resumes, and a suspended connection is neither closed
 * nor freed, so s stays valid. */
static void wake(struct sse_stream *s)
{
	if (s->suspended) {
		s->suspended = 0;
		MHD_resume_connection(s->conn);
	}
}

/* Is epoch e due for s (mu held)?  A new snapshot is a new tick, a new
 * writer or, while paused, a later publication of the same tick (the
 * operator state in it may have changed). */
static int due(struct sse_stream *s, const struct sse_epoch *e,
	       int64_t period_ns)
{
	int64_t k, gap;

	if (s->closing)
		return 0;
	if (!s->have_last)
		return 1;
	if (s->last_gen != UINT64_MAX && s->last_gen != e->gen)
		return 1; /* the writer restarted */
	if (e->tick == s->last_tick) {
		if (s->last_wall_ns == 0) {
			/* resumed from this tick (Last-Event-ID): the client
			 * has it; its later publications are news */
			s->last_wall_ns = e->wall_ns;
			return 0;
		}
		if (e->wall_ns == s->last_wall_ns)
			return 0; /* this very snapshot was sent */
	}
	if (s->last_wall_ns == 0 || period_ns <= 0)
		return 1;
	k = (s->interval_ns + period_ns - 1) / period_ns;
	if (k < 1)
		k = 1;
	gap = e->wall_ns - s->last_wall_ns;
	/* k periods, give or take half a period of the writer's jitter */
	return gap >= k * period_ns - period_ns / 2;
}

static void queue_text(struct sse_stream *s, struct sse_text *t)
{
	if (!t)
		return;
	if (s->qn == SSE_QUEUE) {
		text_unref(t);
		return;
	}
	s->q[(s->qh + s->qn) % SSE_QUEUE] = t;
	s->qn++;
}

static ssize_t sse_read(void *cls, uint64_t pos, char *dst, size_t max)
{
	struct sse_stream *s = cls;

	(void)pos;
	for (;;) {
		struct sse_epoch *e;
		struct sse_text *stale = NULL, *hello = NULL;
		int ping, closing, gone_any = 0;
		uint64_t tick = 0;
		int sent = 0;

		if (s->qn) {
			struct sse_text *t = s->q[s->qh];
			size_t n = t->len - s->qpos;

			if (n > max)
				n = max;
			memcpy(dst, t->s + s->qpos, n);
			s->qpos += n;
			if (s->qpos == t->len) {
				text_unref(t);
				s->qh = (s->qh + 1) % SSE_QUEUE;
				s->qn--;
				s->qpos = 0;
			}
			return (ssize_t)n;
		}
		pthread_mutex_lock(&mu);
		if (stopping) {
			pthread_mutex_unlock(&mu);
			return MHD_CONTENT_READER_END_OF_STREAM;
		}
		if (!s->started) {
			char h[96];
			int n = snprintf(h, sizeof h,
					 ": batsim-httpd %s\nretry: %d\n\n",
					 PACKAGE_VERSION, SSE_RETRY_MS);

			hello = text_new(h, (size_t)n, 0);
			s->started = 1;
			/* the newest snapshot at once, or why there is none */
			if (cur && !s->pending && due(s, cur, 0))
				s->pending = epoch_ref(cur);
			else if (!cur && stale_text)
				s->stale_pending = 1;
		}
		e = s->pending;
		s->pending = NULL;
		if (s->stale_pending && stale_text && !s->reported_stale) {
			stale = text_ref(stale_text);
			s->reported_stale = 1;
		}
		s->stale_pending = 0;
		ping = s->ping_due;
		s->ping_due = 0;
		closing = s->closing;
		if (!hello && !e && !stale && !ping && !closing) {
			/* nothing to send: off the event loop until woken */
			s->suspended = 1;
			MHD_suspend_connection(s->conn);
			pthread_mutex_unlock(&mu);
			return 0;
		}
		pthread_mutex_unlock(&mu);

		queue_text(s, hello);
		queue_text(s, stale);
		if (e) {
			for (unsigned i = 0; i < s->n_keys && !gone_any; i++) {
				int gone;
				struct sse_text *t =
				    epoch_text(e, &s->keys[i], &gone);

				if (t) {
					if (t->tick)
						tick = t->tick;
					sent = 1;
				}
				queue_text(s, t);
				gone_any |= gone;
			}
		}
		if (ping && s->qn == 0)
			queue_text(s, text_ref(keepalive_text));
		pthread_mutex_lock(&mu);
		if (e && sent && !gone_any) {
			s->have_last = 1;
			s->last_tick = tick ? tick : e->tick;
			s->last_gen = e->gen;
			s->last_wall_ns = e->wall_ns;
			s->reported_stale = 0;
		}
		if (gone_any)
			s->closing = closing = 1;
		if (s->qn)
			s->next_ping = hd_now_ns() + s->keepalive_ns;
		pthread_mutex_unlock(&mu);
		epoch_unref(e);
		if (s->qn == 0 && closing)
			return MHD_CONTENT_READER_END_OF_STREAM;
	}
}

static void sse_free(void *cls)
{
	struct sse_stream *s = cls;

	pthread_mutex_lock(&mu);
	if (s->prev)
		s->prev->next = s->next;
	else
		streams = s->next;
	if (s->next)
		s->next->prev = s->prev;
	n_streams--;
	epoch_unref(s->pending);
	pthread_mutex_unlock(&mu);
	while (s->qn) {
		text_unref(s->q[s->qh]);
		s->qh = (s->qh + 1) % SSE_QUEUE;
		s->qn--;
	}
	free(s);
}

/* ---- the pusher ---- */

static struct sse_text *stale_event(enum src_state st, const char *why)
{
	json_object *o = json_object_new_object();
	const char *str;
	struct buf b = {0};
	struct sse_text *t;

	json_object_object_add(o, "stale",
			       json_object_new_boolean(st != SRC_ABSENT));
	json_object_object_add(o, "reason", json_object_new_string(why));
	str = view_to_string(o);
	json_event(&b, "stale", 0, 0, str, strlen(str));
	json_object_put(o);
	t = b.oom ? NULL : text_new(b.p, b.len, 0);
	buf_free(&b);
	return t;
}

static void *pusher_main(void *arg)
{
	int64_t next_scan = 0;
	enum src_state last_st = SRC_LIVE;
	(void)arg;

	pthread_mutex_lock(&mu);
	while (!stopping) {
		int64_t now = hd_now_ns();
		struct timespec ts;
		int64_t wake_at;

		if (n_streams) {
			char why[320];
			struct bs_meta m;
			bs_reader *r;
			enum src_state st;
			int rc = -1;

			pthread_mutex_unlock(&mu);
			r = src_acquire();
			st = src_check(r, why, sizeof why);
			if (st == SRC_LIVE)
				rc = bs_read_site(r, &m, NULL, NULL);
			src_release();
			pthread_mutex_lock(&mu);
			if (st == SRC_LIVE && rc == 0 &&
			    (!cur || cur->tick != m.tick ||
			     cur->gen != m.generation ||
			     cur->wall_ns != m.wall_time_ns)) {
				struct sse_epoch *e = epoch_new(&m);
				int64_t period =
				    (int64_t)src_period_ms() * 1000000;

				if (e) {
					epoch_unref(cur);
					cur = e;
					text_unref(stale_text);
					stale_text = NULL;
					for (struct sse_stream *s = streams; s;
					     s = s->next)
						if (s->started &&
						    due(s, e, period)) {
							epoch_unref(s->pending);
							s->pending = epoch_ref(e);
							wake(s);
						}
				}
			} else if (st != SRC_LIVE &&
				   (st != last_st || !stale_text)) {
				epoch_unref(cur);
				cur = NULL;
				text_unref(stale_text);
				stale_text = stale_event(st, why);
				for (struct sse_stream *s = streams; s;
				     s = s->next)
					if (s->started && !s->reported_stale) {
						s->stale_pending = 1;
						wake(s);
					}
			}
			last_st = st;
			if (now >= next_scan) {
				for (struct sse_stream *s = streams; s;
				     s = s->next)
					if (s->suspended && now >= s->next_ping) {
						s->ping_due = 1;
						wake(s);
					}
				next_scan = now + SSE_PING_SCAN_NS;
			}
			wake_at = now + SSE_POLL_NS;
		} else {
			/* nobody watches: forget the snapshot, so that the
			 * next stream does not start with an old one */
			epoch_unref(cur);
			cur = NULL;
			text_unref(stale_text);
			stale_text = NULL;
			last_st = SRC_LIVE;
			wake_at = now + SSE_PING_SCAN_NS;
		}
		ts.tv_sec = wake_at / 1000000000;
		ts.tv_nsec = wake_at % 1000000000;
		/* woken early by a new stream or by sse_stop() */
		if (!stopping)
			pthread_cond_timedwait(&cv, &mu, &ts);
	}
	pthread_mutex_unlock(&mu);
	return NULL;
}

int sse_start(void)
{
	pthread_condattr_t ca;
	static const char ka[] = ": keep-alive\n\n";

	keepalive_text = text_new(ka, sizeof ka - 1, 0);
	if (!keepalive_text)
		return -1;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&pusher, NULL, pusher_main, NULL)) {
		log_error("cannot start the SSE thread");
		return -1;
	}
	pusher_started = 1;
	return 0;
}

void sse_stop(void)
{
	pthread_mutex_lock(&mu);
	stopping = 1;
	/* libmicrohttpd must not stop with suspended connections: wake
	 * them, and their readers end the streams. */
	for (struct sse_stream *s = streams; s; s = s->next)
		wake(s);
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	if (pusher_started) {
		pthread_join(pusher, NULL);
		pusher_started = 0;
	}
}

void sse_close(void)
{
	epoch_unref(cur);
	cur = NULL;
	text_unref(stale_text);
	stale_text = NULL;
	text_unref(keepalive_text);
	keepalive_text = NULL;
}

unsigned sse_streams(void)
{
	unsigned n;

	pthread_mutex_lock(&mu);
	n = n_streams;
	pthread_mutex_unlock(&mu);
	return n;
}

/* ---- GET /updates ---- */

static const char *arg(struct MHD_Connection *c, const char *key)
{
	return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, key);
}

enum MHD_Result sse_handle(struct MHD_Connection *c)
{
	const char *rk = arg(c, "rack"), *md = arg(c, "module");
	const char *view = arg(c, "view"), *iv = arg(c, "interval_ms");
	const char *mo = arg(c, "modules");
	const char *last =
	    MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Last-Event-ID");
	unsigned period = src_period_ms();
	uint32_t interval = SSE_DEFAULT_INTERVAL_MS;
	struct sse_stream *s;
	struct MHD_Response *resp;
	enum MHD_Result ret;
	int want_module = 0, modules = 0;
	int want_view = -1;
	uint32_t rack = 0, module = 0;
	unsigned ka;

	if (view) {
		for (unsigned i = 0; i < N_VIEWS; i++)
			if (sse_views[i].name &&
			    !strcmp(view, sse_views[i].name))
				want_view = (int)i;
		if (want_view < 0)
			return hd_error(c, 400,
					"view='%.40s': use view=summary or "
					"view=overview",
					view);
	}
	if (rk || md) {
		if (!rk || !md || hd_parse_u32(rk, &rack) ||
		    hd_parse_u32(md, &module))
			return hd_error(c, 400,
					"give both rack=R and module=M as "
					"non-negative integers");
		want_module = 1;
	}
	if (hd_parse_flag(mo, &modules))
		return hd_error(
		    c, 400, "modules='%.40s': use modules=0 or modules=1", mo);
	if (!want_module && want_view < 0)
		want_view = VIEW_SUMMARY; /* a bare /updates streams the site */
	if (iv) {
		if (hd_parse_u32(iv, &interval) ||
		    interval > SSE_MAX_INTERVAL_MS)
			return hd_error(c, 400,
					"interval_ms='%.40s': use an integer "
					"%u-%u",
					iv, period, SSE_MAX_INTERVAL_MS);
		if (interval < period)
			return hd_error(c, 400,
					"interval_ms=%u is below the publish "
					"period: use %u or more",
					interval, period);
	}
	/* Range check now when a segment is attached (later ones are checked
	 * per event, since the topology may change). */
	if (want_module) {
		bs_reader *r = src_acquire();
		uint32_t nr = 0, nm = 0;

		if (r) {
			const struct bs_geometry *h = bs_reader_geometry(r);

			nr = h->n_racks;
			nm = h->modules_per_rack;
		}
		src_release();
		if (r && rack >= nr)
			return hd_error(c, 404,
					"rack %u out of range: valid racks are "
					"0-%u",
					rack, nr - 1);
		if (r && module >= nm)
			return hd_error(c, 404,
					"module %u out of range: valid modules "
					"are 0-%u",
					module, nm - 1);
	}
	s = calloc(1, sizeof *s);
	if (!s)
		return hd_error(c, 500, "out of memory");
	if (want_view >= 0) {
		s->keys[s->n_keys].view = (unsigned)want_view;
		s->keys[s->n_keys].modules =
		    want_view == (int)VIEW_SUMMARY ? modules : 0;
		s->n_keys++;
	}
	if (want_module) {
		s->keys[s->n_keys].view = VIEW_MODULE;
		s->keys[s->n_keys].rack = rack;
		s->keys[s->n_keys].module = module;
		s->n_keys++;
	}
	s->last_gen = UINT64_MAX;
	if (last) {
		uint64_t id = 0;
		const char *p = last;

		for (; *p >= '0' && *p <= '9' && id < UINT64_MAX / 10; p++)
			id = id * 10 + (uint64_t)(*p - '0');
		if (*p == '\0' && p != last) {
			/* Resume: skip the snapshot the client already has,
			 * send from the next one. */
			s->have_last = 1;
			s->last_tick = id;
		}
	}
	s->conn = c;
	s->interval_ns = (int64_t)interval * 1000000;
	/* Keep-alive well inside the idle timeout of proxies and of the
	 * server itself, and at least every 15 s. */
	ka = HD_KEEPALIVE_S;
	if (hd_cfg->http_timeout_s && hd_cfg->http_timeout_s / 2 < ka)
		ka =
		    hd_cfg->http_timeout_s / 2 ? hd_cfg->http_timeout_s / 2 : 1;
	s->keepalive_ns = (int64_t)ka * 1000000000;
	s->next_ping = hd_now_ns() + s->keepalive_ns;
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, SSE_BLOCK,
						 sse_read, s, sse_free);
	if (!resp) {
		free(s);
		return MHD_NO;
	}
	pthread_mutex_lock(&mu);
	s->next = streams;
	if (streams)
		streams->prev = s;
	streams = s;
	n_streams++;
	pthread_cond_signal(&cv); /* the pusher looks at the segment now */
	pthread_mutex_unlock(&mu);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				"text/event-stream; charset=utf-8");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
				"no-cache");
	MHD_add_response_header(resp, "X-Accel-Buffering", "no");
	/* Streams are exempt from the idle timeout: the keep-alive comments
	 * prove the client is still there (a write to a gone client fails). */
	MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT, 0u);
	ret = MHD_queue_response(c, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return ret;
}
