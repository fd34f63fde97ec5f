/*
 * log.h - the one log module of the batsim programs.
 *
 * Messages go to stderr.  Under systemd (JOURNAL_STREAM set, or forced)
 * each line starts with a "<N>" syslog priority prefix that journald
 * understands; on a terminal the prefix is a word ("error: ").  Debug
 * messages cost one compare when the level is off.
 */
#ifndef BATSIM_COMMON_LOG_H
#define BATSIM_COMMON_LOG_H

#include <syslog.h>

/* Program name for messages and the most verbose level printed
 * (LOG_DEBUG .. LOG_ERR; default LOG_INFO). */
void log_init(const char *progname, int max_level);

/* Change the level at run time (e.g. --verbose). */
void log_set_level(int max_level);

extern int log_max_level;

void log_msg(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)                                                   \
	do {                                                             \
		if (log_max_level >= LOG_DEBUG)                          \
			log_msg(LOG_DEBUG, __VA_ARGS__);                 \
	} while (0)

#endif /* BATSIM_COMMON_LOG_H */
