/*
 * routes.c - request dispatch, the REST endpoints and JSON errors of
 * batsim-httpd (see batsim-httpd(8) for the API).
 */
#include <config.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httpd.h"
#include "log.h"
#include "views.h"

const struct bsd_config *hd_cfg;

/* ---- responses ---- */

static enum MHD_Result queue(struct MHD_Connection *c, unsigned status,
			     struct MHD_Response *resp)
{
	enum MHD_Result ret;

	if (!resp)
		return MHD_NO;
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

enum MHD_Result hd_text(struct MHD_Connection *c, unsigned status,
			const char *ctype, char *text, size_t len)
{
	struct MHD_Response *resp;

	if (!text)
		return MHD_NO;
	resp =
	    MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
				"no-store");
	if (status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
					"Bearer realm=\"batsim\"");
	return queue(c, status, resp);
}

/* Length of the valid UTF-8 sequence at p (RFC 3629: no overlongs, no
 * surrogates, at most U+10FFFF), or 0. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
	size_t len;
	uint32_t cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		len = 2, cp = p[0] & 0x1f;
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
		len = 3, cp = p[0] & 0x0f;
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
		len = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

void hd_utf8_scrub(char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t k = utf8_seq((const unsigned char *)s + i, n - i);

		if (k == 0) {
			s[i++] = '?';
			continue;
		}
		i += k;
	}
}

enum MHD_Result hd_json_header(struct MHD_Connection *c, unsigned status,
			       json_object *obj, const char *header,
			       const char *value)
{
	struct MHD_Response *resp;
	const char *s;
	char *copy;
	size_t len;

	if (!obj)
		return MHD_NO;
	s = view_to_string(obj);
	len = strlen(s);
	copy = malloc(len + 2);
	if (copy) {
		memcpy(copy, s, len);
		/* json-c copies strings as they are: request text echoed in
		 * a message (a path, a method) may not be UTF-8, which
		 * would make the whole answer invalid JSON. */
		hd_utf8_scrub(copy, len);
		copy[len++] = '\n';
		copy[len] = '\0';
	}
	json_object_put(obj);
	if (!header)
		return hd_text(c, status, "application/json", copy, len);
	if (!copy)
		return MHD_NO;
	resp =
	    MHD_create_response_from_buffer(len, copy, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(copy);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				"application/json");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
				"no-store");
	MHD_add_response_header(resp, header, value);
	return queue(c, status, resp);
}

enum MHD_Result hd_json(struct MHD_Connection *c, unsigned status,
			json_object *obj)
{
	return hd_json_header(c, status, obj, NULL, NULL);
}

json_object *hd_error_obj(unsigned status, const char *msg)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "error", json_object_new_string(msg));
	json_object_object_add(o, "status", json_object_new_int((int)status));
	return o;
}

enum MHD_Result hd_error(struct MHD_Connection *c, unsigned status,
			 const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return hd_json(c, status, hd_error_obj(status, msg));
}

enum MHD_Result hd_unavailable(struct MHD_Connection *c, enum src_state st,
			       const char *why)
{
	json_object *o = hd_error_obj(503, why);

	json_object_object_add(o, "stale",
			       json_object_new_boolean(st != SRC_ABSENT));
	return hd_json(c, 503, o);
}

enum MHD_Result hd_method_not_allowed(struct MHD_Connection *c,
				      const char *method, const char *url,
				      const char *allow)
{
	char msg[256];

	snprintf(msg, sizeof msg, "method %.40s not allowed on %.100s: use %s",
		 method, url, allow);
	return hd_json_header(c, 405, hd_error_obj(405, msg),
			      MHD_HTTP_HEADER_ALLOW, allow);
}

/* ---- helpers ---- */

int hd_parse_u32(const char *s, uint32_t *out)
{
	uint64_t v = 0;

	if (!s || !*s || strlen(s) > 10)
		return -1;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (v > UINT32_MAX)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static const char *arg(struct MHD_Connection *c, const char *key)
{
	return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, key);
}

/* ---- summary cache: one JSON per snapshot and variant, shared by all
 * readers ---- */

/* Variant 0: plain /summary; 1: with module aggregates (?modules=1). */
static struct sum_cache {
	pthread_mutex_t mu; /* held while building, so that a new tick is
			       built once, not once per waiting client */
	char *json;
	size_t len;
	uint64_t tick, gen, attach;
	int64_t wall_ns; /* one publication: a paused writer publishes the
			    same tick with new operator state */
} sum_cache[2] = {
    {.mu = PTHREAD_MUTEX_INITIALIZER},
    {.mu = PTHREAD_MUTEX_INITIALIZER},
};

/* The "limits" object: the httpd's configuration, flagged when its
 * chemistry is not the writer's (the simulator may run another config). */
static json_object *summary_limits(bs_reader *r)
{
	json_object *o = view_limits(hd_cfg);
	struct bs_info info;

	if (!o)
		return NULL;
	bs_reader_info(r, &info);
	json_object_object_add(
	    o, "writer_chemistry",
	    json_object_new_string_len(
		info.chemistry,
		(int)strnlen(info.chemistry, sizeof info.chemistry)));
	json_object_object_add(
	    o, "matches_writer",
	    json_object_new_boolean(strncmp(info.chemistry,
					    hd_cfg->cell.chemistry,
					    sizeof info.chemistry) == 0));
	return o;
}

/* Build the summary of the newest snapshot (with module aggregates when
 * modules); NULL with *rc set on failure. */
static json_object *summary_build(bs_reader *r, int modules, struct bs_meta *m,
				  int *rc)
{
	const struct bs_geometry *h = bs_reader_geometry(r);
	struct bs_site site;
	struct bs_rack *racks;
	struct bs_module *mods = NULL;
	struct bs_module_ext *mx = NULL;
	json_object *o = NULL, *arr;

	racks = malloc((size_t)h->n_racks * sizeof *racks);
	if (modules) {
		mods = malloc((size_t)h->n_racks * h->modules_per_rack *
			      sizeof *mods);
		mx = malloc((size_t)h->n_racks * h->modules_per_rack *
			    sizeof *mx);
	}
	if (!racks || (modules && (!mods || !mx))) {
		*rc = -BS_ENOMEM;
		goto out;
	}
	/* modules with their SoH records (abi_minor 2), one snapshot */
	*rc = modules ? bs_read_all_ext(r, m, &site, racks, mods, NULL, mx,
					NULL)
		      : bs_read_site(r, m, &site, racks);
	if (*rc)
		goto out;
	o = view_summary(h, m, &site, racks, 0);
	if (!o) {
		*rc = -BS_ENOMEM;
		goto out;
	}
	json_object_object_add(o, "limits", summary_limits(r));
	if (modules && json_object_object_get_ex(o, "racks", &arr)) {
		for (uint32_t i = 0; i < h->n_racks; i++) {
			json_object *ra = json_object_array_get_idx(arr, i);
			json_object_object_add(
			    ra, "modules",
			    view_rack_modules(
				h, mods + (size_t)i * h->modules_per_rack));
			if (bs_reader_has_ext(r))
				view_rack_ext(h, ra,
					      mx + (size_t)i *
						       h->modules_per_rack,
					      NULL);
		}
	}
out:
	free(racks);
	free(mods);
	free(mx);
	return o;
}

int hd_summary_json(bs_reader *r, struct buf *out, struct bs_meta *meta,
		    int modules)
{
	struct sum_cache *sc = &sum_cache[modules ? 1 : 0];
	struct bs_meta m;
	json_object *o;
	const char *s;
	int rc;

	rc = bs_read_site(r, &m, NULL, NULL);
	if (rc)
		return rc;
	pthread_mutex_lock(&sc->mu);
	if (sc->json && sc->attach == src_attach_seq() && sc->tick == m.tick &&
	    sc->gen == m.generation && sc->wall_ns == m.wall_time_ns) {
		buf_append(out, sc->json, sc->len);
		pthread_mutex_unlock(&sc->mu);
		*meta = m;
		return 0;
	}
	o = summary_build(r, modules, &m, &rc);
	if (!o) {
		pthread_mutex_unlock(&sc->mu);
		return rc;
	}
	s = view_to_string(o);
	buf_puts(out, s);
	{
		char *copy = strdup(s);

		if (copy) {
			free(sc->json);
			sc->json = copy;
			sc->len = strlen(copy);
			sc->tick = m.tick;
			sc->gen = m.generation;
			sc->wall_ns = m.wall_time_ns;
			sc->attach = src_attach_seq();
		}
	}
	pthread_mutex_unlock(&sc->mu);
	json_object_put(o);
	*meta = m;
	return 0;
}

/* "modules" query argument: 0/1 into *out; -1 for another value. */
int hd_parse_flag(const char *s, int *out)
{
	if (!s) {
		*out = 0;
		return 0;
	}
	if (!strcmp(s, "0") || !strcmp(s, "false")) {
		*out = 0;
		return 0;
	}
	if (!strcmp(s, "1") || !strcmp(s, "true")) {
		*out = 1;
		return 0;
	}
	return -1;
}

/* ---- REST ---- */

/* A read failed after the liveness check. */
static enum MHD_Result read_failed(struct MHD_Connection *c, int rc)
{
	if (rc == -BS_ENODATA)
		return hd_unavailable(c, SRC_NODATA,
				      "the writer has not published a snapshot "
				      "yet: retry in a moment");
	if (rc == -BS_EAGAIN)
		return hd_error(c, 503,
				"no consistent snapshot could be read (the "
				"writer is too fast for this reader): retry");
	if (rc == -BS_ETRUNC || rc == -BS_ELAYOUT)
		return hd_unavailable(c, SRC_ABSENT,
				      rc == -BS_ETRUNC
					  ? "the segment shrank under "
					    "batsim-httpd (corrupt): it "
					    "re-attaches when a valid segment "
					    "appears"
					  : "the segment's header was rewritten "
					    "under batsim-httpd (corrupt): it "
					    "re-attaches when a valid segment "
					    "appears");
	return hd_error(c, 500, "reading the segment failed: %s",
			bs_strerror(rc));
}

/* Take the reader and check liveness; on failure queue the 503 and
 * return NULL (the caller still calls src_release). */
static bs_reader *live_reader(struct MHD_Connection *c, enum MHD_Result *ret)
{
	char why[320];
	bs_reader *r = src_acquire();
	enum src_state st = src_check(r, why, sizeof why);

	if (st != SRC_LIVE) {
		*ret = hd_unavailable(c, st, why);
		return NULL;
	}
	return r;
}

static enum MHD_Result get_summary(struct MHD_Connection *c)
{
	enum MHD_Result ret = MHD_NO;
	struct buf b = {0};
	struct bs_meta m;
	const char *mo = arg(c, "modules");
	bs_reader *r;
	int rc, modules;

	if (hd_parse_flag(mo, &modules))
		return hd_error(c, 400,
				"modules='%.40s': use modules=0 or "
				"modules=1",
				mo);
	r = live_reader(c, &ret);
	if (!r) {
		src_release();
		return ret;
	}
	rc = hd_summary_json(r, &b, &m, modules);
	src_release();
	if (rc) {
		buf_free(&b);
		return read_failed(c, rc);
	}
	buf_append(&b, "\n", 1);
	{
		size_t len = b.len;

		return hd_text(c, 200, "application/json", buf_take(&b), len);
	}
}

/* Index checks with the valid range in the message. */
static int check_index(struct MHD_Connection *c, enum MHD_Result *ret,
		       const char *what, const char *text, uint32_t n,
		       uint32_t *out)
{
	if (hd_parse_u32(text, out)) {
		*ret = hd_error(c, 400,
				"%s index '%.40s' is not a non-negative "
				"integer: use 0-%u",
				what, text, n ? n - 1 : 0);
		return -1;
	}
	if (*out >= n) {
		*ret =
		    hd_error(c, 404, "%s %u out of range: valid %ss are 0-%u",
			     what, *out, what, n ? n - 1 : 0);
		return -1;
	}
	return 0;
}

/* GET /rack/R[?cells=0] from the reader r (taken by the caller, released
 * here): one copy of the rack's records, its JSON written straight into
 * one buffer (rackjson.c), the buffer handed to libmicrohttpd. */
static enum MHD_Result rack_answer(struct MHD_Connection *c, bs_reader *r,
				   const struct bs_geometry *h, uint32_t ri,
				   int with_cells)
{
	struct buf b = {0};
	struct bs_meta m;
	struct bs_rack rec;
	struct bs_module *mods;
	struct bs_cell *cl = NULL;
	struct bs_module_ext *mx;
	struct bs_cell_ext *cx = NULL;
	size_t len;
	int rc;

	mods = malloc((size_t)h->modules_per_rack * sizeof *mods);
	mx = malloc((size_t)h->modules_per_rack * sizeof *mx);
	if (with_cells) {
		cl = malloc((size_t)h->modules_per_rack * h->cells_per_module *
			    sizeof *cl);
		cx = malloc((size_t)h->modules_per_rack * h->cells_per_module *
			    sizeof *cx);
	}
	if (!mods || !mx || (with_cells && (!cl || !cx))) {
		rc = -BS_ENOMEM;
	} else {
		/* with the SoH and hysteresis records of the same snapshot */
		rc = bs_read_rack_ext(r, ri, &m, &rec, mods, cl, mx, cx);
		if (!rc) {
			int ext = bs_reader_has_ext(r);
			rc = hd_rack_json(h, &m, ri, &rec, mods, cl,
					  ext ? mx : NULL, ext ? cx : NULL, &b);
		}
	}
	src_release();
	free(mods);
	free(cl);
	free(mx);
	free(cx);
	if (rc == -BS_ENOMEM) {
		buf_free(&b);
		return hd_error(c, 500,
				"out of memory for the rack's answer: ask "
				"/rack/%u?cells=0 or /rack/%u/module/M",
				ri, ri);
	}
	if (rc) {
		buf_free(&b);
		return read_failed(c, rc);
	}
	buf_append(&b, "\n", 1);
	len = b.len;
	return hd_text(c, 200, "application/json", buf_take(&b), len);
}

/* /rack/{r}[/module/{m}[/cell/{c}]]: seg[] holds the path segments after
 * "rack". */
static enum MHD_Result get_rack(struct MHD_Connection *c, char **seg, int n)
{
	enum MHD_Result ret = MHD_NO;
	bs_reader *r = live_reader(c, &ret);
	const struct bs_geometry *h;
	uint32_t ri, mi, ci;
	struct bs_meta m;
	json_object *o = NULL;
	int rc = 0;

	if (!r)
		goto out;
	h = bs_reader_geometry(r);
	if (check_index(c, &ret, "rack", seg[0], h->n_racks, &ri))
		goto out;
	if (n == 1) {
		const char *cells = arg(c, "cells");
		int with_cells = 1;

		if (cells) {
			if (!strcmp(cells, "0") || !strcmp(cells, "false"))
				with_cells = 0;
			else if (!strcmp(cells, "1") || !strcmp(cells, "true"))
				with_cells = 1;
			else {
				ret = hd_error(c, 400,
					       "cells='%.40s': use cells=0 or "
					       "cells=1",
					       cells);
				goto out;
			}
		}
		return rack_answer(c, r, h, ri, with_cells);
	} else if (n == 3 && !strcmp(seg[1], "module")) {
		struct bs_module rec;
		struct bs_module_ext mx;
		struct bs_cell *cl;
		struct bs_cell_ext *cx;

		if (check_index(c, &ret, "module", seg[2], h->modules_per_rack,
				&mi))
			goto out;
		cl = malloc((size_t)h->cells_per_module * sizeof *cl);
		cx = malloc((size_t)h->cells_per_module * sizeof *cx);
		if (!cl || !cx) {
			free(cl);
			free(cx);
			ret = hd_error(c, 500, "out of memory");
			goto out;
		}
		rc = bs_read_module_ext(r, ri, mi, &m, &rec, cl, &mx, cx);
		if (!rc) {
			o = view_module(h, &m, ri, mi, &rec, cl);
			if (bs_reader_has_ext(r))
				view_module_ext_all(o, &mx, cx);
		}
		free(cl);
		free(cx);
	} else if (n == 5 && !strcmp(seg[1], "module") &&
		   !strcmp(seg[3], "cell")) {
		struct bs_cell cell;

		if (check_index(c, &ret, "module", seg[2], h->modules_per_rack,
				&mi) ||
		    check_index(c, &ret, "cell", seg[4], h->cells_per_module,
				&ci))
			goto out;
		if (bs_reader_has_ext(r)) {
			/* the module's cells and their SoH records, one
			 * snapshot, then this cell */
			struct bs_cell *cl =
			    malloc((size_t)h->cells_per_module * sizeof *cl);
			struct bs_cell_ext *cx =
			    malloc((size_t)h->cells_per_module * sizeof *cx);
			if (!cl || !cx) {
				free(cl);
				free(cx);
				ret = hd_error(c, 500, "out of memory");
				goto out;
			}
			rc = bs_read_module_ext(r, ri, mi, &m, NULL, cl, NULL,
						cx);
			if (!rc) {
				o = view_cell(h, &m, ri, mi, ci, &cl[ci]);
				view_cell_ext(o, &cx[ci]);
			}
			free(cl);
			free(cx);
		} else {
			rc = bs_read_cell(r, ri, mi, ci, &m, &cell);
			if (!rc)
				o = view_cell(h, &m, ri, mi, ci, &cell);
		}
	} else {
		ret = hd_error(c, 404,
			       "no such path: use /rack/R, /rack/R/module/M or "
			       "/rack/R/module/M/cell/C");
		goto out;
	}
	src_release();
	if (rc)
		return read_failed(c, rc);
	if (!o)
		return hd_error(c, 500, "out of memory");
	return hd_json(c, 200, o);
out:
	src_release();
	return ret;
}

static enum MHD_Result get_healthz(struct MHD_Connection *c)
{
	char why[320];
	bs_reader *r = src_acquire();
	enum src_state st = src_check(r, why, sizeof why);
	json_object *o;
	struct bs_info info;
	struct bs_meta m;
	struct bs_site site;
	int have_site = 0;

	if (r) {
		bs_reader_info(r, &info);
		have_site = st == SRC_LIVE &&
			    bs_read_site(r, &m, &site, NULL) == 0;
	}
	src_release();
	if (st == SRC_LIVE) {
		o = json_object_new_object();
		json_object_object_add(o, "status",
				       json_object_new_string("ok"));
		json_object_object_add(
		    o, "segment", json_object_new_string(hd_cfg->shm_name));
		json_object_object_add(o, "writer", view_info(&info));
		if (have_site) { /* the simulated clock, as in /summary */
			json_object_object_add(
			    o, "paused",
			    json_object_new_boolean(site.paused != 0));
			json_object_object_add(o, "speed",
					       view_number(site.speed, 7));
		}
		return hd_json(c, 200, o);
	}
	o = hd_error_obj(503, why);
	json_object_object_add(o, "stale",
			       json_object_new_boolean(st != SRC_ABSENT));
	json_object_object_add(o, "segment",
			       json_object_new_string(hd_cfg->shm_name));
	if (r)
		json_object_object_add(o, "writer", view_info(&info));
	return hd_json(c, 503, o);
}

static enum MHD_Result get_history(struct MHD_Connection *c)
{
	const char *sec = arg(c, "seconds"), *rk = arg(c, "rack");
	uint32_t seconds = 0, rack = 0;
	unsigned status;
	json_object *o;
	char why[320];
	enum src_state st;

	if (sec && (hd_parse_u32(sec, &seconds) || seconds == 0 ||
		    seconds > 7u * 86400u))
		return hd_error(
		    c, 400, "seconds='%.40s': use an integer 1-604800", sec);
	if (rk && hd_parse_u32(rk, &rack))
		return hd_error(
		    c, 400, "rack='%.40s' is not a non-negative integer", rk);
	o = src_history(seconds, rk ? (long)rack : -1, &status);
	if (!o) {
		uint32_t n = src_history_racks();

		if (status == 404)
			return hd_error(c, 404,
					"rack %u out of range: valid racks are "
					"0-%u",
					rack, n ? n - 1 : 0);
		return hd_error(c, 503,
				"no history yet: the segment %s has not been "
				"attached",
				hd_cfg->shm_name);
	}
	st = src_check(src_acquire(), why, sizeof why);
	src_release();
	json_object_object_add(o, "stale",
			       json_object_new_boolean(st != SRC_LIVE));
	return hd_json(c, 200, o);
}

/* ---- dispatch ---- */

void *hd_uri_logger(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct hd_req *rq = calloc(1, sizeof *rq);

	(void)cls;
	(void)c;
	if (rq) {
		rq->uri_len = strlen(uri);
		/* libmicrohttpd decodes %00 into a NUL that silently cuts
		 * the path or argument short ("/summary%00x" would serve
		 * /summary): refuse it (seen before decoding). */
		rq->has_nul = strstr(uri, "%00") != NULL;
	}
	return rq;
}

void hd_completed(void *cls, struct MHD_Connection *c, void **con_cls,
		  enum MHD_RequestTerminationCode toe)
{
	struct hd_req *rq = *con_cls;

	(void)cls;
	(void)toe;
	dl_answer_done(c);
	if (rq) {
		free(rq->body);
		free(rq);
		*con_cls = NULL;
	}
}

#define MAX_SEG 8

static int is_get(const char *method)
{
	return !strcmp(method, MHD_HTTP_METHOD_GET) ||
	       !strcmp(method, MHD_HTTP_METHOD_HEAD);
}

static enum MHD_Result dispatch(struct MHD_Connection *c, struct hd_req *rq,
				const char *url, const char *method)
{
	char path[HD_MAX_URI + 1];
	char *seg[MAX_SEG];
	int n = 0;
	char *save = NULL;

	if (url[0] != '/')
		return hd_error(c, 400, "request target must start with '/'");
	if (!strncmp(url, "/control", 8) && (url[8] == '\0' || url[8] == '/'))
		return ctl_handle(c, rq, url + 8, method);
	if (!strncmp(url, "/vendor/chart.js/", 17)) {
		if (!is_get(method))
			return hd_method_not_allowed(c, method, url,
						     "GET, HEAD");
		if (url[17] == '\0')
			return hd_error(c, 404,
					"no file named: use "
					"/vendor/chart.js/chart.min.js");
		return files_handle(c, hd_cfg->http_chartjs, url + 17);
	}

	snprintf(path, sizeof path, "%s", url);
	for (char *t = strtok_r(path, "/", &save); t && n < MAX_SEG;
	     t = strtok_r(NULL, "/", &save))
		seg[n++] = t;

	if (n >= 1 &&
	    (!strcmp(seg[0], "summary") || !strcmp(seg[0], "rack") ||
	     !strcmp(seg[0], "updates") || !strcmp(seg[0], "history") ||
	     !strcmp(seg[0], "metrics") || !strcmp(seg[0], "healthz"))) {
		if (!is_get(method))
			return hd_method_not_allowed(c, method, url,
						     "GET, HEAD");
		if (!strcmp(seg[0], "rack")) {
			if (n < 2 || n > 6)
				return hd_error(c, 404,
						"no such path: use /rack/R, "
						"/rack/R/module/M or "
						"/rack/R/module/M/cell/C");
			return get_rack(c, seg + 1, n - 1);
		}
		if (n != 1)
			return hd_error(c, 404, "no such path: %.200s", url);
		if (!strcmp(seg[0], "summary"))
			return get_summary(c);
		if (!strcmp(seg[0], "updates"))
			return sse_handle(c);
		if (!strcmp(seg[0], "history"))
			return get_history(c);
		if (!strcmp(seg[0], "metrics"))
			return metrics_handle(c);
		return get_healthz(c);
	}
	if (!is_get(method))
		return hd_method_not_allowed(c, method, url, "GET, HEAD");
	return files_handle(c, hd_cfg->http_www, url + 1);
}

enum MHD_Result hd_handler(void *cls, struct MHD_Connection *c, const char *url,
			   const char *method, const char *version,
			   const char *upload, size_t *upload_size,
			   void **con_cls)
{
	struct hd_req *rq = *con_cls;

	(void)cls;
	(void)version;
	if (!rq)
		return MHD_NO; /* out of memory in hd_uri_logger */
	if (!rq->started) {
		const char *cl;

		rq->started = 1;
		if (rq->uri_len > HD_MAX_URI || rq->has_nul)
			dl_request_complete(c); /* answered now */
		if (rq->uri_len > HD_MAX_URI)
			return hd_error(c, 414,
					"request target of %zu bytes is too "
					"long: the limit is %u",
					rq->uri_len, HD_MAX_URI);
		if (rq->has_nul)
			return hd_error(c, 400,
					"the request target contains an "
					"encoded NUL byte (%%00): remove it");
		cl = MHD_lookup_connection_value(
		    c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl && strtoull(cl, NULL, 10) > HD_MAX_BODY) {
			dl_request_complete(c);
			return hd_error(c, 413,
					"request body of %.20s bytes is too "
					"large: the limit is %u",
					cl, HD_MAX_BODY);
		}
		/* Answer on the next call, after the (possibly empty) body:
		 * a response queued on the first call makes libmicrohttpd
		 * close the connection instead of keeping it alive. */
		return MHD_YES;
	}
	if (*upload_size) {
		size_t n = *upload_size;

		*upload_size = 0;
		if (rq->too_large || rq->body_len + n > HD_MAX_BODY) {
			/* Chunked body over the limit: discard it, answer
			 * 413 at the end; give up on a flood. */
			rq->too_large = 1;
			rq->body_len += n;
			return rq->body_len > 4 * HD_MAX_BODY ? MHD_NO
							      : MHD_YES;
		}
		if (rq->body_len + n + 1 > rq->body_cap) {
			/* grow by doubling: a body sent in tiny chunks must
			 * not cost a copy of the whole body per chunk */
			size_t cap = rq->body_cap ? rq->body_cap : 1024;
			char *p;

			while (cap < rq->body_len + n + 1)
				cap *= 2;
			p = realloc(rq->body, cap);
			if (!p)
				return MHD_NO;
			rq->body = p;
			rq->body_cap = cap;
		}
		memcpy(rq->body + rq->body_len, upload, n);
		rq->body_len += n;
		rq->body[rq->body_len] = '\0';
		return MHD_YES;
	}
	/* The whole request arrived: from now on the connection answers
	 * (an SSE stream for as long as it lasts), free of the deadline. */
	dl_request_complete(c);
	if (rq->too_large)
		return hd_error(c, 413,
				"request body is too large: the limit is %u "
				"bytes",
				HD_MAX_BODY);
	return dispatch(c, rq, url, method);
}
