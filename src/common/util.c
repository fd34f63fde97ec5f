/* util.c - see util.h. */
#include <config.h>

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "util.h"

uint64_t util_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int util_parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end;
	unsigned long long v;

	/* a digit first: strtoull would take a sign (and wrap "-1") and
	 * leading space */
	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

/* Length of the plain decimal number at s, 0 when there is none. */
static size_t decimal_len(const char *s)
{
	size_t i = 0, digits = 0;

	if (s[i] == '+' || s[i] == '-')
		i++;
	while (s[i] >= '0' && s[i] <= '9')
		i++, digits++;
	if (s[i] == '.') {
		i++;
		while (s[i] >= '0' && s[i] <= '9')
			i++, digits++;
	}
	if (!digits)
		return 0;
	if (s[i] == 'e' || s[i] == 'E') {
		size_t j = i + 1;

		if (s[j] == '+' || s[j] == '-')
			j++;
		if (s[j] >= '0' && s[j] <= '9') {
			while (s[j] >= '0' && s[j] <= '9')
				j++;
			i = j;
		}
	}
	return i;
}

int util_strtod_dec(const char *s, char **end, double *out)
{
	size_t n = decimal_len(s);
	char *e;
	double v;

	*end = (char *)s;
	if (!n)
		return -1;
	errno = 0;
	v = strtod(s, &e);
	/* strtod reads what decimal_len measured: a decimal number is a
	 * prefix of every longer strtod syntax ("1e" stays "1") */
	if (errno == ERANGE)
		return -1; /* overflow or underflow */
	if (e != s + n || !isfinite(v))
		return -1;
	*end = e;
	*out = v;
	return 0;
}

int util_parse_double(const char *s, double *out)
{
	char *end;
	double v;

	if (!s || util_strtod_dec(s, &end, &v) != 0 || *end)
		return -1;
	*out = v;
	return 0;
}

const char *util_eng(char *buf, size_t len, double v, const char *unit)
{
	static const char *const pre[] = {"", "k", "M", "G"};
	double a = fabs(v);
	int k = 0;

	if (!isfinite(v)) {
		snprintf(buf, len, "%g %s", v, unit);
		return buf;
	}
	while (k < 3 && a >= 999.5) {
		a /= 1e3;
		v /= 1e3;
		k++;
	}
	/* three significant digits (the decimals a rounds to decide) */
	int dec = a >= 99.95 ? 0 : (a >= 9.995 ? 1 : 2);
	snprintf(buf, len, "%.*f %s%s", dec, util_unneg(v, dec), pre[k], unit);
	return buf;
}

double util_unneg(double v, int decimals)
{
	return fabs(v) < 0.5 * pow(10.0, -decimals) ? 0.0 : v;
}
