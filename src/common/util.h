/*
 * util.h - small helpers that several batsim programs need alike: the
 * monotonic clock and strict parsing of numbers given on command lines.
 * (batsim.conf values have their own, more lenient, parsers in conf.c.)
 */
#ifndef BATSIM_COMMON_UTIL_H
#define BATSIM_COMMON_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* CLOCK_MONOTONIC in nanoseconds (the clock of heartbeat_ns). */
uint64_t util_mono_ns(void);

/* A decimal integer in [lo, hi] and nothing else: no sign, no space, no
 * suffix.  0, or -1 (out stays untouched). */
int util_parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out);

/* A finite plain decimal number ([+-]digits[.digits][e[+-]digits]) and
 * nothing after it: no hex, no inf or nan, no space.  0, or -1. */
int util_parse_double(const char *s, double *out);

/* Like strtod, but only for a plain decimal number at s (no leading
 * space, no hex, no inf or nan): its value in *out and *end just past it,
 * 0; or -1 (*end = s) when s does not start with one, or it over- or
 * underflows. */
int util_strtod_dec(const char *s, char **end, double *out);

#endif

/* v in engineering units: "-1.50 MW", "250 kW", "5.00 W", three
 * significant digits, prefixes k, M, G; a value that rounds to zero is
 * "0.00 W" (never "-0").  Returns buf. */
const char *util_eng(char *buf, size_t len, double v, const char *unit);

/* v, or 0.0 when it prints as zero with `decimals` decimals (so that
 * "%.1f" never shows "-0.0"). */
double util_unneg(double v, int decimals);
