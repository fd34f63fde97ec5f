/*
 * routes.c - request dispatch and the REST endpoints of batsim-httpd
 * (see batsim-httpd(8) for the API); the answers themselves are built
 * with reply.c's helpers.
 */
#include <config.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httpd.h"
#include "reply.h"
#include "log.h"
#include "views.h"

static const char *arg(struct MHD_Connection *c, const char *key)
{
	return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, key);
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

/* GET /overview: the dashboard's compact site overview (overview.c). */
static enum MHD_Result get_overview(struct MHD_Connection *c)
{
	enum MHD_Result ret = MHD_NO;
	struct buf b = {0};
	struct bs_meta m;
	bs_reader *r = live_reader(c, &ret);
	int rc;

	if (!r) {
		src_release();
		return ret;
	}
	rc = hd_overview_json(r, &b, &m);
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
				   int with_cells, const char *key)
{
	uint64_t attach = src_attach_seq();
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
	if (!b.oom)
		ac_put(key, attach, m.generation, m.tick, b.p, b.len);
	len = b.len;
	return hd_text(c, 200, "application/json", buf_take(&b), len);
}

/* The 200 answer of obj (consumed), as hd_json gives it, stored in the
 * answer cache under key for the snapshot m. */
static enum MHD_Result json_shared(struct MHD_Connection *c, json_object *obj,
				   const char *key, uint64_t attach,
				   const struct bs_meta *m)
{
	const char *s = view_to_string(obj);
	size_t len = strlen(s);
	char *copy = malloc(len + 2);

	if (copy) {
		memcpy(copy, s, len);
		hd_utf8_scrub(copy, len);
		copy[len++] = '\n';
		copy[len] = '\0';
		ac_put(key, attach, m->generation, m->tick, copy, len);
	}
	json_object_put(obj);
	return hd_text(c, 200, "application/json", copy, len);
}

/* The stored answer for key and the newest snapshot, queued; MHD_NO with
 * *hit 0 when there is none. */
static enum MHD_Result from_cache(struct MHD_Connection *c, bs_reader *r,
				  const char *key, int *hit)
{
	struct bs_meta m;
	size_t len;
	char *text = NULL;

	*hit = 0;
	if (bs_read_site(r, &m, NULL, NULL) == 0)
		text = ac_get(key, src_attach_seq(), m.generation, m.tick,
			      &len);
	if (!text)
		return MHD_NO;
	*hit = 1;
	return hd_text(c, 200, "application/json", text, len);
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
	char key[AC_KEY_MAX];
	uint64_t attach;
	int rc = 0, hit;

	if (!r)
		goto out;
	attach = src_attach_seq();
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
		snprintf(key, sizeof key, "rack/%u?cells=%d", ri, with_cells);
		ret = from_cache(c, r, key, &hit);
		if (hit)
			goto out;
		return rack_answer(c, r, h, ri, with_cells, key);
	} else if (n == 3 && !strcmp(seg[1], "module")) {
		struct bs_module rec;
		struct bs_module_ext mx;
		struct bs_cell *cl;
		struct bs_cell_ext *cx;

		if (check_index(c, &ret, "module", seg[2], h->modules_per_rack,
				&mi))
			goto out;
		snprintf(key, sizeof key, "rack/%u/module/%u", ri, mi);
		ret = from_cache(c, r, key, &hit);
		if (hit)
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
		snprintf(key, sizeof key, "rack/%u/module/%u/cell/%u", ri, mi,
			 ci);
		ret = from_cache(c, r, key, &hit);
		if (hit)
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
	return json_shared(c, o, key, attach, &m);
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
	char sn[32];

	if (r) {
		bs_reader_info(r, &info);
		have_site = st == SRC_LIVE &&
			    bs_read_site(r, &m, &site, NULL) == 0;
	}
	hd_site_name(r, sn, sizeof sn);
	src_release();
	if (st == SRC_LIVE) {
		o = json_object_new_object();
		json_object_object_add(o, "status",
				       json_object_new_string("ok"));
		json_object_object_add(o, "site_name",
				       json_object_new_string(sn));
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
	json_object_object_add(o, "site_name", json_object_new_string(sn));
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
	     !strcmp(seg[0], "metrics") || !strcmp(seg[0], "healthz") ||
	     !strcmp(seg[0], "overview"))) {
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
		if (!strcmp(seg[0], "overview"))
			return get_overview(c);
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
