/*
 * overview.c - GET /overview and SSE /updates?view=overview: the
 * dashboard's site overview, one compact JSON per snapshot, sized for a
 * million cells (at most 256 KB at 1,048,576 cells of 32-cell modules).
 *
 * Shape:
 *   {"tick","time_s","wall_time_ns","generation","stale","topology",
 *    "site","soc_reserve","modbus", ... (the /summary fields without its
 *    "racks" array), "limits",
 *    "racks": {"count", "open": [rack, ...] (contactor open),
 *              "tier": "0123...": per rack, the worst alarm: 0 none,
 *                      1 latched only, 2 warning, 3 alarm, 4 protection
 *                      active,
 *              "faults": [{"rack","faults":[...]}] (racks with faults),
 *              "alarms": [{"rack","kind","tier","active","latched",
 *                          "module","cell","time_s"}] (at most
 *                          OV_MAX_ALARMS, in rack order),
 *              "alarms_total","alarms_active","alarms_latched"},
 *    "modules": {"count","order":"rack-major",
 *                "soc","voltage","temperature": QUANT,
 *                "alarm": base64 bitset, bit i (LSB first) when module i
 *                         has an active alarm}}
 *
 * QUANT is {"unit","step","offset","bytes","data"}: the per-module means
 * (soc: mean cell SoC, %; voltage: mean cell voltage, V; temperature:
 * mean cell temperature, degC) rounded to `step` (0.1 %, 1 mV, 0.1 degC,
 * the precision the dashboard shows) and sent as unsigned integers q of
 * `bytes` bytes (little-endian, base64): value = offset + q * step.  One
 * byte when the snapshot's span fits 254 steps, else two; the largest
 * code (255 or 65535) marks a value that is not finite.  A span beyond
 * 65534 steps widens the step tenfold until it fits (the JSON says which
 * step).
 */
#include <config.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "httpd.h"
#include "views.h"

/* Alarm entries listed in full; the rest are counted (alarms_total). */
#define OV_MAX_ALARMS 200

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Append n bytes as standard base64 (with padding) to b. */
static void put_b64(struct buf *b, const unsigned char *p, size_t n)
{
	size_t i;
	char *o;

	if (buf_reserve(b, (n + 2) / 3 * 4))
		return;
	o = b->p + b->len;
	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 |
			     p[i + 2];

		*o++ = b64[v >> 18];
		*o++ = b64[(v >> 12) & 63];
		*o++ = b64[(v >> 6) & 63];
		*o++ = b64[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)p[i] << 16;

		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		*o++ = b64[v >> 18];
		*o++ = b64[(v >> 12) & 63];
		*o++ = i + 1 < n ? b64[(v >> 6) & 63] : '=';
		*o++ = '=';
	}
	b->len = (size_t)(o - b->p);
	b->p[b->len] = '\0';
}

/* One quantised array (see the top of the file) as `"key":{...}`. */
static void put_quant(struct buf *b, const char *key, const char *unit,
		      const float *v, size_t n, double step, int digits)
{
	double lo = INFINITY, hi = -INFINITY, offset;
	unsigned long span;
	unsigned bytes;
	unsigned char *q;

	for (size_t i = 0; i < n; i++) {
		if (!isfinite(v[i]))
			continue;
		if (v[i] < lo)
			lo = v[i];
		if (v[i] > hi)
			hi = v[i];
	}
	if (!isfinite(lo))
		lo = hi = 0.0;
	for (;;) {
		double sp;

		offset = floor(lo / step + 1e-6) * step;
		sp = (hi - offset) / step;
		if (sp <= 65534.0) {
			span = (unsigned long)lround(sp);
			break;
		}
		step *= 10.0; /* coarser until the span fits two bytes */
		if (digits > 0)
			digits--;
	}
	if (span > 65534)
		span = 65534;
	bytes = span <= 254 ? 1 : 2;
	q = malloc(n * bytes + 1);
	if (!q) {
		b->oom = 1;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		long c;

		if (!isfinite(v[i])) {
			c = bytes == 1 ? 255 : 65535;
		} else {
			c = lround((v[i] - offset) / step);
			if (c < 0)
				c = 0;
			if ((unsigned long)c > span)
				c = (long)span;
		}
		q[i * bytes] = (unsigned char)(c & 255);
		if (bytes == 2)
			q[i * 2 + 1] = (unsigned char)(c >> 8);
	}
	buf_printf(b,
		   "\"%s\":{\"unit\":\"%s\",\"step\":%.*f,\"offset\":%.*f,"
		   "\"bytes\":%u,\"data\":\"",
		   key, unit, digits > 0 ? digits : 0, step,
		   digits > 0 ? digits : 0, offset, bytes);
	put_b64(b, q, n * bytes);
	buf_puts(b, "\"}");
	free(q);
}

/* The "limits" object of /summary (batsim-httpd's configuration, flagged
 * when its chemistry is not the writer's). */
static json_object *ov_limits(bs_reader *r)
{
	json_object *o = hd_summary_limits(r);

	if (!o)
		return NULL;
	/* the SoC bands of the heatmap's absolute scale, in percent */
	for (int hi = 0; hi < 2; hi++) {
		const double *v =
		    hi ? hd_cfg->bms.soc_high : hd_cfg->bms.soc_low;
		json_object *t = json_object_new_object();

		for (unsigned k = 0; k < 3; k++)
			json_object_object_add(t, view_tier_name(k),
					       view_number(v[k] * 100.0, 4));
		json_object_object_add(o, hi ? "soc_high" : "soc_low", t);
	}
	return o;
}

/* The worst alarm of a rack: 0 none, 1 latched only, 2 + tier active. */
static int rack_tier(const struct bs_rack *rk)
{
	int w = 0;

	for (unsigned t = 0; t < BS_TIERS; t++)
		for (unsigned k = 0; k < BS_ALARM_KINDS; k++) {
			uint32_t bit = BS_ALARM_BIT(t, k);

			if (rk->alarm_active & bit) {
				if ((int)(2 + t) > w)
					w = (int)(2 + t);
			} else if ((rk->alarm_latched & bit) && w < 1) {
				w = 1;
			}
		}
	return w;
}

static unsigned popcount32(uint32_t x)
{
	unsigned n = 0;

	for (; x; x &= x - 1)
		n++;
	return n;
}

/* The "racks" object. */
static void put_racks(struct buf *b, const struct bs_geometry *h,
		      const struct bs_rack *racks)
{
	unsigned listed = 0, total = 0, active = 0, latched = 0;
	int first;

	buf_printf(b, "\"racks\":{\"count\":%u,\"open\":[", h->n_racks);
	first = 1;
	for (uint32_t r = 0; r < h->n_racks; r++)
		if (!racks[r].contactor) {
			buf_printf(b, "%s%u", first ? "" : ",", r);
			first = 0;
		}
	buf_puts(b, "],\"tier\":\"");
	if (buf_reserve(b, h->n_racks) == 0)
		for (uint32_t r = 0; r < h->n_racks; r++)
			b->p[b->len++] = (char)('0' + rack_tier(&racks[r]));
	if (!b->oom)
		b->p[b->len] = '\0';
	buf_puts(b, "\",\"faults\":[");
	first = 1;
	for (uint32_t r = 0; r < h->n_racks; r++) {
		json_object *f;

		if (!racks[r].fault_bits)
			continue;
		f = view_fault_bits(racks[r].fault_bits);
		buf_printf(b, "%s{\"rack\":%u,\"faults\":%s}", first ? "" : ",",
			   r, f ? view_to_string(f) : "[]");
		json_object_put(f);
		first = 0;
	}
	buf_puts(b, "],\"alarms\":[");
	first = 1;
	for (uint32_t r = 0; r < h->n_racks; r++) {
		const struct bs_rack *rk = &racks[r];
		uint32_t bits = rk->alarm_active | rk->alarm_latched;
		json_object *a;
		size_t n;

		if (!bits)
			continue;
		total += popcount32(bits);
		active += popcount32(rk->alarm_active);
		latched += popcount32(rk->alarm_latched & ~rk->alarm_active);
		if (listed >= OV_MAX_ALARMS)
			continue;
		a = view_rack_alarms(h, rk);
		n = a ? json_object_array_length(a) : 0;
		for (size_t i = 0; i < n && listed < OV_MAX_ALARMS; i++) {
			json_object *e = json_object_array_get_idx(a, i);
			const char *s = view_to_string(e);

			/* {"rack":R, + the entry's fields */
			buf_printf(b, "%s{\"rack\":%u,%s", first ? "" : ",", r,
				   s[0] == '{' ? s + 1 : "}");
			first = 0;
			listed++;
		}
		json_object_put(a);
	}
	buf_printf(b,
		   "],\"alarms_total\":%u,\"alarms_active\":%u,"
		   "\"alarms_latched\":%u}",
		   total, active, latched);
}

/* The "modules" object. */
static int put_modules(struct buf *b, const struct bs_geometry *h,
		       const struct bs_module *mods)
{
	size_t n = (size_t)h->n_racks * h->modules_per_rack;
	float *v = calloc(n ? n : 1, sizeof *v);
	unsigned char *bits = calloc(n / 8 + 1, 1);

	if (!v || !bits) {
		free(v);
		free(bits);
		return -BS_ENOMEM;
	}
	buf_printf(b, "\"modules\":{\"count\":%zu,\"order\":\"rack-major\",",
		   n);
	for (size_t i = 0; i < n; i++)
		v[i] = mods[i].soc_mean * 100.0f;
	put_quant(b, "soc", "%", v, n, 0.1, 1);
	buf_puts(b, ",");
	for (size_t i = 0; i < n; i++)
		v[i] = mods[i].cell_v_mean;
	put_quant(b, "voltage", "V", v, n, 0.001, 3);
	buf_puts(b, ",");
	for (size_t i = 0; i < n; i++)
		v[i] = mods[i].temp_mean_c;
	put_quant(b, "temperature", "degC", v, n, 0.1, 1);
	for (size_t i = 0; i < n; i++)
		if (mods[i].alarm_bits)
			bits[i / 8] |= (unsigned char)(1u << (i % 8));
	buf_puts(b, ",\"alarm\":\"");
	put_b64(b, bits, (n + 7) / 8);
	buf_puts(b, "\"}");
	free(v);
	free(bits);
	return 0;
}

/* Build the overview of the newest snapshot into out. */
static int overview_build(bs_reader *r, struct buf *out, struct bs_meta *m)
{
	const struct bs_geometry *h = bs_reader_geometry(r);
	size_t nm = (size_t)h->n_racks * h->modules_per_rack;
	struct bs_site site;
	struct bs_rack *racks = malloc((h->n_racks ? h->n_racks : 1) *
				       sizeof *racks);
	struct bs_module *mods = malloc((nm ? nm : 1) * sizeof *mods);
	json_object *o = NULL;
	const char *s;
	size_t len;
	int rc;

	if (!racks || !mods) {
		rc = -BS_ENOMEM;
		goto out;
	}
	rc = bs_read_all(r, m, &site, racks, mods, NULL);
	if (rc)
		goto out;
	/* the /summary object without its per-rack array */
	o = view_summary(h, m, &site, racks, 0);
	if (!o) {
		rc = -BS_ENOMEM;
		goto out;
	}
	json_object_object_del(o, "racks");
	json_object_object_add(o, "limits", ov_limits(r));
	s = view_to_string(o);
	len = strlen(s);
	if (len < 2 || s[len - 1] != '}') {
		rc = -BS_ENOMEM;
		goto out;
	}
	buf_append(out, s, len - 1);
	buf_puts(out, ",");
	put_racks(out, h, racks);
	buf_puts(out, ",");
	rc = put_modules(out, h, mods);
	buf_puts(out, "}");
	if (!rc && out->oom)
		rc = -BS_ENOMEM;
out:
	json_object_put(o);
	free(racks);
	free(mods);
	return rc;
}

/* One cached text per snapshot, shared by every request and stream. */
static struct {
	pthread_mutex_t mu;
	char *json;
	size_t len;
	uint64_t tick, gen, attach;
	int64_t wall_ns; /* a paused writer republishes the same tick with
			    new operator state */
} ov_cache = {.mu = PTHREAD_MUTEX_INITIALIZER};

int hd_overview_json(bs_reader *r, struct buf *out, struct bs_meta *meta)
{
	struct bs_meta m;
	struct buf b = {0};
	int rc;

	rc = bs_read_site(r, &m, NULL, NULL);
	if (rc)
		return rc;
	pthread_mutex_lock(&ov_cache.mu);
	if (!(ov_cache.json && ov_cache.attach == src_attach_seq() &&
	      ov_cache.tick == m.tick && ov_cache.gen == m.generation &&
	      ov_cache.wall_ns == m.wall_time_ns)) {
		rc = overview_build(r, &b, &m);
		if (rc) {
			pthread_mutex_unlock(&ov_cache.mu);
			buf_free(&b);
			return rc;
		}
		free(ov_cache.json);
		ov_cache.len = b.len;
		ov_cache.json = buf_take(&b);
		ov_cache.tick = m.tick;
		ov_cache.gen = m.generation;
		ov_cache.wall_ns = m.wall_time_ns;
		ov_cache.attach = src_attach_seq();
	}
	buf_append(out, ov_cache.json, ov_cache.len);
	m.tick = ov_cache.tick;
	m.generation = ov_cache.gen;
	m.wall_time_ns = ov_cache.wall_ns;
	pthread_mutex_unlock(&ov_cache.mu);
	*meta = m;
	return out->oom ? -BS_ENOMEM : 0;
}
