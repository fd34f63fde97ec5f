/*
 * test_overview.c - the overview's encodings (src/httpd/overview.c,
 * included here for its static functions): base64, and the quantised
 * per-module arrays on one and two bytes, with values that are not
 * finite and spans that need a coarser step.  Hand-written TAP.
 */
#include "../../src/httpd/overview.c"

#include "tap.h"

/* overview.c's links into the rest of batsim-httpd, unused here */
const struct bsd_config *hd_cfg;
uint64_t src_attach_seq(void)
{
	return 0;
}
json_object *hd_summary_limits(bs_reader *r)
{
	(void)r;
	return NULL;
}

static int b64val(char c)
{
	const char *p = strchr(b64, c);

	return c && p ? (int)(p - b64) : -1;
}

/* Decode standard base64 into out; the byte count, -1 if malformed. */
static long unb64(const char *s, unsigned char *out, size_t cap)
{
	size_t n = strlen(s), o = 0;

	if (n % 4)
		return -1;
	for (size_t i = 0; i < n; i += 4) {
		int v[4];

		for (int k = 0; k < 4; k++)
			v[k] = s[i + k] == '=' ? 0 : b64val(s[i + k]);
		if (v[0] < 0 || v[1] < 0 || v[2] < 0 || v[3] < 0)
			return -1;
		uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 |
			     (uint32_t)v[2] << 6 | (uint32_t)v[3];
		unsigned char b[3] = {(unsigned char)(w >> 16),
				      (unsigned char)(w >> 8), (unsigned char)w};
		int keep = s[i + 2] == '=' ? 1 : s[i + 3] == '=' ? 2 : 3;

		for (int k = 0; k < keep; k++) {
			if (o >= cap)
				return -1;
			out[o++] = b[k];
		}
	}
	return (long)o;
}

/* put_quant of v[0..n), parsed back: the largest error against v (NaN
 * must come back as the "no value" code), the bytes per value and the
 * step in *bytes, *step. */
static double roundtrip(const float *v, size_t n, double step0, int digits,
			int *bytes, double *step)
{
	struct buf b = {0};
	json_object *o, *q, *x;
	unsigned char raw[64];
	double off, err = 0.0;
	long len;

	buf_puts(&b, "{");
	put_quant(&b, "q", "u", v, n, step0, digits);
	buf_puts(&b, "}");
	o = json_tokener_parse(b.p);
	buf_free(&b);
	if (!o || !json_object_object_get_ex(o, "q", &q))
		return INFINITY;
	json_object_object_get_ex(q, "bytes", &x);
	*bytes = json_object_get_int(x);
	json_object_object_get_ex(q, "step", &x);
	*step = json_object_get_double(x);
	json_object_object_get_ex(q, "offset", &x);
	off = json_object_get_double(x);
	json_object_object_get_ex(q, "data", &x);
	len = unb64(json_object_get_string(x), raw, sizeof raw);
	if (len != (long)(n * (size_t)*bytes)) {
		json_object_put(o);
		return INFINITY;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned c = *bytes == 1 ? raw[i] : raw[2 * i] | raw[2 * i + 1] << 8;
		unsigned none = *bytes == 1 ? 255 : 65535;

		if (!isfinite(v[i])) {
			if (c != none)
				err = INFINITY;
			continue;
		}
		if (c == none) {
			err = INFINITY;
			continue;
		}
		if (fabs(off + c * *step - v[i]) > err)
			err = fabs(off + c * *step - v[i]);
	}
	json_object_put(o);
	return err;
}

int main(void)
{
	static const char *const vec[][2] = {
	    {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"},
	    {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}};
	int bytes;
	double step, err;

	printf("1..13\n");
	for (size_t i = 0; i < sizeof vec / sizeof vec[0]; i++) {
		struct buf b = {0};

		buf_puts(&b, "");
		put_b64(&b, (const unsigned char *)vec[i][0], strlen(vec[i][0]));
		ok(b.p && !strcmp(b.p, vec[i][1]), "base64 of \"%s\" is \"%s\" (got \"%s\")",
		   vec[i][0], vec[i][1], b.p ? b.p : "(null)");
		buf_free(&b);
	}
	{ /* SoC-like: a small span, one byte, within half a step */
		const float v[] = {49.63f, 50.0f, 50.37f, 51.2f, 49.6f};

		err = roundtrip(v, 5, 0.1, 1, &bytes, &step);
		ok(bytes == 1 && err <= 0.05 + 1e-6,
		   "a span of 16 steps: one byte a value, error %g <= step/2", err);
	}
	{ /* a value that is not finite gets the "no value" code */
		const float v[] = {NAN, 25.0f, INFINITY, 26.0f};

		err = roundtrip(v, 4, 0.1, 1, &bytes, &step);
		ok(bytes == 1 && err <= 0.05 + 1e-6,
		   "NaN and inf come back as no value (code 255), the rest within step/2 (%g)", err);
	}
	{ /* a thermal runaway beside healthy modules: two bytes */
		const float v[] = {25.0f, 25.3f, 600.0f, 24.9f};

		err = roundtrip(v, 4, 0.1, 1, &bytes, &step);
		ok(bytes == 2 && step == 0.1 && err <= 0.05 + 1e-3,
		   "a span of 5751 steps: two bytes a value at the same step, error %g", err);
	}
	{ /* a span beyond two bytes: a coarser step, still within half of it */
		const float v[] = {-1.0e6f, 0.0f, 1.0e6f};

		err = roundtrip(v, 3, 0.1, 1, &bytes, &step);
		ok(bytes == 2 && step >= 10.0 && err <= step / 2 + 1e-3,
		   "a span of 2e7 steps: the step widens to %g, error %g <= step/2", step, err);
	}
	{ /* every value not finite */
		const float v[] = {NAN, NAN};

		err = roundtrip(v, 2, 0.001, 3, &bytes, &step);
		ok(bytes == 1 && err == 0.0, "all values missing: all come back as no value");
	}
	{ /* nothing at all */
		err = roundtrip(NULL, 0, 0.1, 1, &bytes, &step);
		ok(err == 0.0 && bytes == 1, "no modules: an empty array");
	}
	return tap_done();
}
