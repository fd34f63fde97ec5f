/*
 * tap.h - TAP written by hand, for the tests that do without Check: one
 * process (no fork of a large engine), and buildable on a GPU machine
 * without the Check library (scripts/gpu-check.sh).
 *
 * The test prints its plan ("1..N"), calls ok() once per check, and ends
 * with `return tap_done();`.
 */
#ifndef BATSIM_TESTS_TAP_H
#define BATSIM_TESTS_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int n_test, n_fail;

static inline void ok(int cond, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static inline void ok(int cond, const char *fmt, ...)
{
	va_list ap;
	n_test++;
	if (!cond)
		n_fail++;
	printf("%s %d - ", cond ? "ok" : "not ok", n_test);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

/* Skip the whole test: "1..0 # SKIP why"; the exit status to return (0
 * under the automake TAP driver, 77 when run by hand). */
static inline int skip(const char *why)
{
	const char *h = getenv("CK_TAP_LOG_FILE_NAME");
	printf("1..0 # SKIP %s\n", why);
	return h && strcmp(h, "-") == 0 ? 0 : 77;
}

/* The closing comment line; the exit status to return. */
static inline int tap_done(void)
{
	printf("# %d passed, %d failed\n", n_test - n_fail, n_fail);
	return n_fail ? 1 : 0;
}

#endif
