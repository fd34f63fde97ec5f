/*
 * util.c - batsimctl(1) helpers shared by the command line (main.c), the
 * read side (read.c) and the control side (command.c): the error message
 * and the index parser.
 */
#include <config.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>

#include "ctl.h"
#include "util.h"

void ctl_error(const struct ctl *c, const char *fmt, ...)
{
	FILE *f = c && c->err ? c->err : stderr;
	va_list ap;

	fputs("batsimctl: error: ", f);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fputc('\n', f);
}

int ctl_parse_index(const char *s, int64_t *out)
{
	uint64_t v;

	if (util_parse_u64(s, 0, UINT32_MAX, &v))
		return -1;
	*out = (int64_t)v;
	return 0;
}
