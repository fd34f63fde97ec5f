/*
 * datafile.h - reading the data files batsim takes from its users (the
 * profile CSV of batsimd, the OCV CSV of batsim.conf) without trusting
 * them: the path must name a regular file (checked with fstat on the
 * opened descriptor, opened without blocking so that a FIFO is refused
 * instead of waited on), at most DF_MAX_BYTES long, with no NUL byte and
 * no line longer than the caller's limit.  Errors name the file and, for
 * the content, the line.  The limits are documented in batsim.conf(5).
 */
#ifndef BATSIM_COMMON_DATAFILE_H
#define BATSIM_COMMON_DATAFILE_H

#include <signal.h>
#include <stddef.h>

#define DF_MAX_BYTES (16u << 20) /* 16 MiB */

/* A data file read whole into memory, handed out line by line. */
struct df_file {
	char *buf;	 /* the content, every '\n' turned into '\0' */
	size_t len, pos; /* bytes in buf; start of the next line */
	unsigned lineno; /* of the line df_line returned last */
};

/* Read `path` (`what` names it in messages: "profile", "OCV table") with
 * lines of at most max_line bytes (without the newline).  0, or -1 with
 * err set ("profile /x: not a regular file ...", "/x:12: NUL byte ..."). */
int df_open(struct df_file *f, const char *path, const char *what,
	    size_t max_line, char *err, size_t errlen);

/* The next line, without its newline and a trailing '\r'; NULL at the
 * end.  f->lineno is its number (from 1). */
char *df_line(struct df_file *f);

/* Free the content; a zeroed or closed df_file is fine. */
void df_close(struct df_file *f);

/* While *flag is non-zero, df_open gives up ("interrupted") at its next
 * read (of at most 1 MiB) instead of reading on: a daemon told to stop
 * does not finish loading a file first.  NULL (the default) turns this
 * off. */
void df_set_abort_flag(volatile sig_atomic_t *flag);

#endif
