/*
 * httpd.h - internal interfaces of batsim-httpd (see batsim-httpd(8)).
 *
 * Modules: main.c (options, listeners, signals), source.c (the segment:
 * attach, re-attach, sampler thread, change notification, history ring),
 * routes.c (dispatch, REST endpoints), reply.c (answers, errors, query
 * arguments, the cached summary: reply.h), anscache.c (REST answers
 * shared per snapshot), sse.c (/updates),
 * metrics.c (/metrics), ctlproxy.c (/control), files.c (static files),
 * overview.c (/overview and the SSE overview view),
 * buf.c (a growable text buffer).
 */
#ifndef BATSIM_HTTPD_H
#define BATSIM_HTTPD_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>
#include <microhttpd.h>

#include "batsim/batsim.h"
#include "conf.h"

/* Request limits (beyond those of the configuration). */
#define HD_MAX_URI     4096	   /* request target, bytes: 414 above */
#define HD_MAX_BODY    (64u << 10) /* request body, bytes: 413 above */
#define HD_KEEPALIVE_S 15	   /* SSE comment at least this often */
#define HD_CONN_MEMORY (24u << 10) /* per connection: request head, SSE */

/* ---- buf.c: growable NUL-terminated text buffer ---- */
struct buf {
	char *p;
	size_t len, cap;
	int oom; /* an append failed; the content is truncated */
};
/* Room for extra more bytes in one allocation (appends up to that size
 * then never move the text); 0, or -1 with oom set. */
int buf_reserve(struct buf *b, size_t extra);
void buf_append(struct buf *b, const char *s, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Hand the storage to the caller (never NULL on success); b is reset. */
char *buf_take(struct buf *b);
void buf_free(struct buf *b);

/* Monotonic clock in ns (util_mono_ns), signed like the deadlines
 * computed from it. */
int64_t hd_now_ns(void);

/* ---- source.c: the shared memory segment ---- */

/* State of the data as a reader sees it. */
enum src_state {
	SRC_ABSENT,  /* no segment (or cannot open it) */
	SRC_STALE,   /* heartbeat too old */
	SRC_STOPPED, /* writer stopped or never started */
	SRC_NODATA,  /* nothing published yet */
	SRC_LIVE,
};

/* Start the sampler thread: attach, follow re-creation, sample history. */
int src_start(const struct bsd_config *cfg);
/* Ask every waiter to return (shutdown) and join the sampler. */
void src_stop(void);
/* Detach and free, after every request thread has ended. */
void src_close(void);
/* Number of racks of the history ring (0 before the first attach). */
uint32_t src_history_racks(void);
/* 1 once src_stop() began. */
int src_stopping(void);

/* Take the segment for reading (a shared lock that the sampler's
 * re-attach waits for); NULL when none is attached.  Always pair with
 * src_release(), even after NULL. */
bs_reader *src_acquire(void);
void src_release(void);
/* Identifies the attached segment (changes at each re-attach); call
 * between src_acquire() and src_release(). */
uint64_t src_attach_seq(void);

/* Liveness of r (NULL = absent) with a user-facing reason in why. */
enum src_state src_check(bs_reader *r, char *why, size_t n);

/* Change counter: bumped at each new publication seen (a new tick, or
 * the same tick published again while paused), attach, detach and
 * liveness change. */
uint64_t src_version(void);
/* Wait until the version differs from seen, the deadline (monotonic ns)
 * passes, or shutdown begins. */
void src_wait(uint64_t seen, int64_t deadline_ns);

/* The publish period of the attached writer in ms (the config's value
 * when none is attached). */
unsigned src_period_ms(void);

/* GET /history as JSON: samples of the last `seconds` (0 = all), with
 * rack aggregates when rack >= 0.  Sets *status to an HTTP status and
 * returns an error object for rack out of range. */
json_object *src_history(unsigned seconds, long rack, unsigned *status);

/* ---- reply.c (set by main.c) ---- */
extern const struct bsd_config *hd_cfg;

/* ---- routes.c ---- */
/* Per-request state, created by the URI log callback. */
struct hd_req {
	size_t uri_len;
	int started;
	char *body;
	size_t body_len, body_cap; /* body_cap: allocated, with the NUL */
	int too_large;
	int has_nul; /* "%00" in the request target */
};

enum MHD_Result hd_handler(void *cls, struct MHD_Connection *c, const char *url,
			   const char *method, const char *version,
			   const char *upload, size_t *upload_size,
			   void **con_cls);
void *hd_uri_logger(void *cls, const char *uri, struct MHD_Connection *c);
void hd_completed(void *cls, struct MHD_Connection *c, void **con_cls,
		  enum MHD_RequestTerminationCode toe);

/* ---- overview.c ---- */
/* The overview JSON of the newest snapshot into out (GET /overview, SSE
 * view=overview; cached per tick): the summary without per-rack records
 * plus per-module means as compact arrays.  0, or a negative BS_E* code. */
int hd_overview_json(bs_reader *r, struct buf *out, struct bs_meta *meta);

/* ---- rackjson.c ---- */
/* GET /rack/R as JSON into out (what view_rack() and view_rack_ext()
 * give, without a json-c object per cell): cells NULL leaves the cells
 * out; mx and cx (NULL when the segment has no extension regions) add
 * the SoH and hysteresis fields.  0, or -BS_ENOMEM. */
int hd_rack_json(const struct bs_geometry *h, const struct bs_meta *m,
		 uint32_t rack, const struct bs_rack *rec,
		 const struct bs_module *mods, const struct bs_cell *cells,
		 const struct bs_module_ext *mx, const struct bs_cell_ext *cx,
		 struct buf *out);

/* ---- anscache.c: REST answers of one snapshot, shared ---- */
#define AC_KEY_MAX 64
/* A copy (malloc'd, NUL-terminated, *len bytes) of the answer stored for
 * key and this snapshot (attach number, generation, tick), or NULL. */
char *ac_get(const char *key, uint64_t attach, uint64_t gen, uint64_t tick,
	     size_t *len);
/* Store the answer for key of that snapshot (copied). */
void ac_put(const char *key, uint64_t attach, uint64_t gen, uint64_t tick,
	    const char *text, size_t len);
/* Lookups that found an answer, and those that did not. */
void ac_stats(uint64_t *hits, uint64_t *misses);
void ac_close(void);

/* ---- deadline.c: http_request_timeout_s ---- */
/* MHD_OPTION_NOTIFY_CONNECTION: watch each connection from its start. */
void dl_notify(void *cls, struct MHD_Connection *c, void **socket_context,
	       enum MHD_ConnectionNotificationCode code);
/* The access handler has the whole request: the connection is answering
 * and exempt until dl_answer_done (end of the answer). */
void dl_request_complete(struct MHD_Connection *c);
void dl_answer_done(struct MHD_Connection *c);
/* The watchdog thread that closes connections past the deadline, and
 * keeps each listener at max_connections by closing those that wait
 * longest for their request. */
int dl_start(unsigned timeout_s, unsigned max_connections);
/* Slots libmicrohttpd gets beyond max_connections, so that a newcomer is
 * accepted (and an older waiting connection closed) when it is full. */
unsigned dl_headroom(unsigned max_connections);
void dl_stop(void);

/* ---- sse.c ---- */
enum MHD_Result sse_handle(struct MHD_Connection *c);
/* Start the thread that pushes new snapshots to the streams. */
int sse_start(void);
/* End every stream (resuming the suspended ones, as libmicrohttpd needs
 * before MHD_stop_daemon) and join the thread. */
void sse_stop(void);
/* Free what is left, after the daemons stopped. */
void sse_close(void);
/* Streams open now. */
unsigned sse_streams(void);

/* ---- metrics.c ---- */
enum MHD_Result metrics_handle(struct MHD_Connection *c);

/* ---- ctlproxy.c ---- */
/* Check the token file at start: 1 control enabled, 0 disabled (reason
 * logged), -1 unusable token file (error logged: exit). */
int ctl_token_startup(void);
enum MHD_Result ctl_handle(struct MHD_Connection *c, struct hd_req *rq,
			   const char *sub, const char *method);

/* ---- files.c ---- */
enum MHD_Result files_handle(struct MHD_Connection *c, const char *root,
			     const char *rel);

/* The reply helpers (reply.c), declared here too so that every module
 * that includes httpd.h has them. */
#include "reply.h"

#endif /* BATSIM_HTTPD_H */
