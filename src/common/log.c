/* log.c - see log.h. */
#include <config.h> /* autoconf's, from the build dir */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

int log_max_level = LOG_INFO;
static const char *log_prog = "batsim";
static int log_prefix_priority; /* 1: "<N>" prefixes for journald */

void log_init(const char *progname, int max_level)
{
	const char *p = strrchr(progname, '/');

	log_prog = p ? p + 1 : progname;
	log_max_level = max_level;
	/* journald sets JOURNAL_STREAM on the stderr it connects; stderr
	 * that is not a terminal (systemd, a pipe to a log file) also gets
	 * the numeric prefix, which is the convention of sd-daemon(3). */
	log_prefix_priority = getenv("JOURNAL_STREAM") != NULL;
}

void log_set_level(int max_level)
{
	log_max_level = max_level;
}

static const char *level_word(int level)
{
	switch (level) {
	case LOG_EMERG:
	case LOG_ALERT:
	case LOG_CRIT:
	case LOG_ERR:
		return "error: ";
	case LOG_WARNING:
		return "warning: ";
	case LOG_DEBUG:
		return "debug: ";
	default:
		return "";
	}
}

void log_msg(int level, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	if (level > log_max_level)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	/* one write per line keeps lines whole when threads log at once */
	if (log_prefix_priority)
		fprintf(stderr, "<%d>%s\n", level, buf);
	else
		fprintf(stderr, "%s: %s%s\n", log_prog, level_word(level), buf);
}
