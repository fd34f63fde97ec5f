/*
 * sse.c - GET /updates: Server-Sent Events.
 *
 * Design (a) of the libmicrohttpd notes: the daemon runs one thread per
 * connection, and this content-reader callback blocks on the source's
 * condition variable (src_wait) until the next event is due, a new
 * publication arrives (a new tick, or while paused the same tick with new
 * operator state), the keep-alive comment is due, or shutdown begins.  It
 * never returns 0 ("no data yet"), which would make libmicrohttpd 0.9.75 spin.
 *
 * Stream format (WHATWG HTML 9.2):
 *   retry: 2000                       once, at the start
 *   id: TICK / event: summary / data: {summary JSON}
 *   id: TICK / event: module  / data: {module JSON}
 *   event: stale / data: {"stale":true,"reason":...}  when data stops
 *   : keep-alive                      at least every 15 s
 */
#include <config.h>

#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httpd.h"
#include "log.h"
#include "views.h"

#define SSE_DEFAULT_INTERVAL_MS 500
#define SSE_MAX_INTERVAL_MS	3600000u
#define SSE_RETRY_MS		2000
#define SSE_BLOCK		16384
/* While idle, look at the socket this often for a client that left. */
#define SSE_PEER_CHECK_NS 1000000000LL

struct sse_client {
	int want_summary;
	int want_modules; /* summary events carry module aggregates */
	int want_module;
	uint32_t rack, module;
	int64_t interval_ns;
	int64_t keepalive_ns;
	uint64_t last_tick, last_gen;
	int64_t last_wall; /* publication time: same tick, new state when
			      paused */
	int have_last;
	int64_t next_due;
	int64_t next_ping;
	int reported_stale; /* 1 after an "event: stale" until data resumes */
	int closing;	    /* end the stream after the buffered output */
	int started;
	uint64_t seen; /* source version seen at the last fill */
	int fd;	       /* the connection's socket, -1 if unknown */
	struct buf out;
	size_t out_pos;
};

/* 1 when the snapshot m is one the client has not had: a new tick, a
 * new writer, or (paused) a later publication of the same tick. */
static int is_news(struct sse_client *cl, const struct bs_meta *m)
{
	if (!cl->have_last || m->tick != cl->last_tick ||
	    (cl->last_gen != UINT64_MAX && m->generation != cl->last_gen))
		return 1;
	if (!cl->last_wall) {
		/* resumed (Last-Event-ID): the client has this tick; its
		 * later publications are news */
		cl->last_wall = m->wall_time_ns;
		return 0;
	}
	return m->wall_time_ns != cl->last_wall;
}

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

static void error_event(struct sse_client *cl, unsigned status, const char *msg)
{
	json_object *o = hd_error_obj(status, msg);
	const char *s = view_to_string(o);

	json_event(&cl->out, "error", 0, 0, s, strlen(s));
	json_object_put(o);
}

/* Append what is due now to cl->out. */
static void sse_fill(struct sse_client *cl)
{
	int64_t now = hd_now_ns();

	cl->seen = src_version();
	if (!cl->started) {
		buf_printf(&cl->out, ": batsim-httpd %s\nretry: %d\n\n",
			   PACKAGE_VERSION, SSE_RETRY_MS);
		cl->started = 1;
	}
	if (now >= cl->next_due) {
		char why[320];
		bs_reader *r = src_acquire();
		enum src_state st = src_check(r, why, sizeof why);
		struct bs_meta m;

		if (st != SRC_LIVE) {
			if (!cl->reported_stale) {
				json_object *o = json_object_new_object();
				const char *s;

				json_object_object_add(
				    o, "stale",
				    json_object_new_boolean(st != SRC_ABSENT));
				json_object_object_add(
				    o, "reason", json_object_new_string(why));
				s = view_to_string(o);
				json_event(&cl->out, "stale", 0, 0, s,
					   strlen(s));
				json_object_put(o);
				cl->reported_stale = 1;
			}
		} else if (bs_read_site(r, &m, NULL, NULL) == 0 &&
			   is_news(cl, &m)) {
			const struct bs_geometry *h = bs_reader_geometry(r);
			struct buf sb = {0};
			int ok = 1;

			if (cl->want_summary) {
				if (hd_summary_json(r, &sb, &m,
						    cl->want_modules) == 0)
					json_event(&cl->out, "summary", m.tick,
						   1, sb.p, sb.len);
				else
					ok = 0;
				buf_free(&sb);
			}
			if (cl->want_module &&
			    (cl->rack >= h->n_racks ||
			     cl->module >= h->modules_per_rack)) {
				char msg[200];

				snprintf(msg, sizeof msg,
					 "rack %u module %u out of range: the "
					 "segment now has %u racks of %u "
					 "modules",
					 cl->rack, cl->module, h->n_racks,
					 h->modules_per_rack);
				error_event(cl, 404, msg);
				cl->closing = 1;
			} else if (cl->want_module) {
				struct bs_module rec;
				struct bs_module_ext mx;
				struct bs_cell *cells =
				    malloc((size_t)h->cells_per_module *
					   sizeof *cells);
				struct bs_cell_ext *cx =
				    malloc((size_t)h->cells_per_module *
					   sizeof *cx);
				json_object *o = NULL;

				/* with SoH and hysteresis (abi_minor 2) */
				if (cells && cx &&
				    bs_read_module_ext(r, cl->rack, cl->module,
						       &m, &rec, cells, &mx,
						       cx) == 0) {
					o = view_module(h, &m, cl->rack,
							cl->module, &rec,
							cells);
					if (bs_reader_has_ext(r))
						view_module_ext_all(o, &mx, cx);
				}
				free(cells);
				free(cx);
				if (o) {
					const char *s = view_to_string(o);

					json_event(&cl->out, "module", m.tick,
						   1, s, strlen(s));
					json_object_put(o);
				} else {
					ok = 0;
				}
			}
			if (ok) {
				cl->have_last = 1;
				cl->last_tick = m.tick;
				cl->last_gen = m.generation;
				cl->last_wall = m.wall_time_ns;
				cl->reported_stale = 0;
				cl->next_due = now + cl->interval_ns;
			}
		}
		src_release();
	}
	if (cl->out.len == 0 && now >= cl->next_ping)
		buf_puts(&cl->out, ": keep-alive\n\n");
	if (cl->out.len)
		cl->next_ping = now + cl->keepalive_ns;
}

/* 1 when the client closed its side: a stream nobody reads would
 * otherwise hold its thread until the next write fails. */
static int peer_gone(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLRDHUP};

	if (fd < 0)
		return 0;
	return poll(&p, 1, 0) > 0 &&
	       (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

static ssize_t sse_read(void *cls, uint64_t pos, char *dst, size_t max)
{
	struct sse_client *cl = cls;
	size_t n;

	(void)pos;
	while (cl->out_pos >= cl->out.len) {
		int64_t now, deadline;

		if (cl->closing || src_stopping())
			return MHD_CONTENT_READER_END_OF_STREAM;
		cl->out.len = 0;
		cl->out_pos = 0;
		sse_fill(cl);
		if (cl->out.oom) {
			log_error("out of memory building an SSE event: "
				  "closing the stream");
			return MHD_CONTENT_READER_END_WITH_ERROR;
		}
		if (cl->out.len)
			break;
		/* Nothing due: sleep until the next event may be sent (then
		 * on a new tick) or the keep-alive is due. */
		now = hd_now_ns();
		deadline = cl->next_ping;
		if (cl->next_due > now && cl->next_due < deadline)
			deadline = cl->next_due;
		if (deadline > now + SSE_PEER_CHECK_NS)
			deadline = now + SSE_PEER_CHECK_NS;
		src_wait(cl->seen, deadline);
		if (peer_gone(cl->fd))
			return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	n = cl->out.len - cl->out_pos;
	if (n > max)
		n = max;
	memcpy(dst, cl->out.p + cl->out_pos, n);
	cl->out_pos += n;
	return (ssize_t)n;
}

static void sse_free(void *cls)
{
	struct sse_client *cl = cls;

	buf_free(&cl->out);
	free(cl);
}

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
	struct sse_client *cl;
	struct MHD_Response *resp;
	enum MHD_Result ret;
	unsigned ka;

	cl = calloc(1, sizeof *cl);
	if (!cl)
		return hd_error(c, 500, "out of memory");
	if (view) {
		if (strcmp(view, "summary")) {
			free(cl);
			return hd_error(c, 400,
					"view='%.40s': the only view is "
					"'summary'",
					view);
		}
		cl->want_summary = 1;
	}
	if (rk || md) {
		if (!rk || !md || hd_parse_u32(rk, &cl->rack) ||
		    hd_parse_u32(md, &cl->module)) {
			free(cl);
			return hd_error(c, 400,
					"give both rack=R and module=M as "
					"non-negative integers");
		}
		cl->want_module = 1;
	}
	if (hd_parse_flag(mo, &cl->want_modules)) {
		free(cl);
		return hd_error(
		    c, 400, "modules='%.40s': use modules=0 or modules=1", mo);
	}
	if (!cl->want_module && !cl->want_summary)
		cl->want_summary = 1; /* a bare /updates streams the site */
	if (iv) {
		if (hd_parse_u32(iv, &interval) ||
		    interval > SSE_MAX_INTERVAL_MS) {
			free(cl);
			return hd_error(c, 400,
					"interval_ms='%.40s': use an integer "
					"%u-%u",
					iv, period, SSE_MAX_INTERVAL_MS);
		}
		if (interval < period) {
			free(cl);
			return hd_error(c, 400,
					"interval_ms=%u is below the publish "
					"period: use %u or more",
					interval, period);
		}
	}
	if (last) {
		uint64_t id = 0;
		const char *p = last;

		for (; *p >= '0' && *p <= '9' && id < UINT64_MAX / 10; p++)
			id = id * 10 + (uint64_t)(*p - '0');
		if (*p == '\0' && p != last) {
			/* Resume: skip the snapshot the client already has,
			 * send from the next one. */
			cl->have_last = 1;
			cl->last_tick = id;
			cl->last_gen = UINT64_MAX;
		}
	}
	/* Range check now when a segment is attached (later ones are checked
	 * per event, since the topology may change). */
	if (cl->want_module) {
		bs_reader *r = src_acquire();

		if (r) {
			const struct bs_geometry *h = bs_reader_geometry(r);
			uint32_t nr = h->n_racks, nm = h->modules_per_rack;

			src_release();
			uint32_t rack = cl->rack, module = cl->module;

			if (rack >= nr || module >= nm) {
				free(cl);
				if (rack >= nr)
					return hd_error(c, 404,
							"rack %u out of range: "
							"valid racks are 0-%u",
							rack, nr - 1);
				return hd_error(c, 404,
						"module %u out of range: valid "
						"modules are 0-%u",
						module, nm - 1);
			}
		} else {
			src_release();
		}
	}
	cl->interval_ns = (int64_t)interval * 1000000;
	{
		const union MHD_ConnectionInfo *ci = MHD_get_connection_info(
		    c, MHD_CONNECTION_INFO_CONNECTION_FD);

		cl->fd = ci ? ci->connect_fd : -1;
	}
	/* Keep-alive well inside the idle timeout of proxies and of the
	 * server itself, and at least every 15 s. */
	ka = HD_KEEPALIVE_S;
	if (hd_cfg->http_timeout_s && hd_cfg->http_timeout_s / 2 < ka)
		ka =
		    hd_cfg->http_timeout_s / 2 ? hd_cfg->http_timeout_s / 2 : 1;
	cl->keepalive_ns = (int64_t)ka * 1000000000;
	cl->next_ping = hd_now_ns() + cl->keepalive_ns;
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, SSE_BLOCK,
						 sse_read, cl, sse_free);
	if (!resp) {
		sse_free(cl);
		return MHD_NO;
	}
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
