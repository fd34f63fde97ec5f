/*
 * reply.c - the answers and query helpers every module of batsim-httpd
 * shares: JSON and text responses, JSON errors (hd_error...), argument
 * parsing (hd_parse_*), and the summary JSON cached per snapshot
 * (hd_summary_json).  routes.c dispatches; files.c, metrics.c, sse.c
 * and ctlproxy.c answer through these, not through routes.c.
 */
#include <config.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reply.h"
#include "views.h"

/* The configuration every module reads (main.c sets it before any
 * thread starts). */
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
json_object *hd_summary_limits(bs_reader *r)
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
	{
		char sn[32];

		json_object_object_add(
		    o, "site_name",
		    json_object_new_string(hd_site_name(r, sn, sizeof sn)));
	}
	json_object_object_add(o, "limits", hd_summary_limits(r));
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

const char *hd_site_name(const bs_reader *r, char *buf, size_t len)
{
	if (!r || bs_reader_site_name(r, buf, len) <= 0)
		snprintf(buf, len, "%s", hd_cfg->site_name);
	return buf;
}
