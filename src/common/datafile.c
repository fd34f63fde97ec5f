/* datafile.c - see datafile.h. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "datafile.h"

/* Read in pieces of this size, so that a stop request is seen between. */
#define DF_READ_CHUNK (1u << 20)

static volatile sig_atomic_t *df_abort;

void df_set_abort_flag(volatile sig_atomic_t *flag)
{
	df_abort = flag;
}

static const char *file_type(mode_t m)
{
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISFIFO(m))
		return "a FIFO";
	if (S_ISCHR(m))
		return "a character device";
	if (S_ISBLK(m))
		return "a block device";
	if (S_ISSOCK(m))
		return "a socket";
	return "not a regular file";
}

/* Read the whole descriptor (at most DF_MAX_BYTES + 1 bytes, to see
 * that there is more); 0 or -1 with err. */
static int read_all(int fd, struct df_file *f, size_t hint, const char *path,
		    const char *what, char *err, size_t errlen)
{
	size_t cap = hint < DF_MAX_BYTES ? hint + 1 : DF_MAX_BYTES + 1;

	if (cap < 4096)
		cap = 4096;
	f->buf = malloc(cap + 1);
	if (!f->buf)
		goto oom;
	for (;;) {
		size_t want;
		ssize_t r;

		if (df_abort && *df_abort) {
			snprintf(err, errlen,
				 "%s %s: reading interrupted: the daemon is "
				 "stopping",
				 what, path);
			return -1;
		}
		if (f->len == cap) {
			size_t ncap = cap * 2 > DF_MAX_BYTES + 1
					  ? DF_MAX_BYTES + 1
					  : cap * 2;
			char *nb;

			if (ncap == cap)
				break; /* one byte past the limit: too big */
			nb = realloc(f->buf, ncap + 1);
			if (!nb)
				goto oom;
			f->buf = nb;
			cap = ncap;
		}
		want = cap - f->len;
		if (want > DF_READ_CHUNK)
			want = DF_READ_CHUNK;
		r = read(fd, f->buf + f->len, want);
		if (r < 0) {
			if (errno == EINTR)
				continue; /* the abort flag decides */
			snprintf(err, errlen, "%s %s: read error: %s", what,
				 path, strerror(errno));
			return -1;
		}
		if (r == 0)
			break;
		f->len += (size_t)r;
	}
	if (f->len > DF_MAX_BYTES) {
		snprintf(err, errlen,
			 "%s %s: larger than the %u MiB limit for data files: "
			 "use a shorter file (batsim.conf(5))",
			 what, path, DF_MAX_BYTES >> 20);
		return -1;
	}
	f->buf[f->len] = '\0';
	return 0;
oom:
	snprintf(err, errlen, "%s %s: out of memory", what, path);
	return -1;
}

/* NUL bytes and over-long lines, with their line numbers; then every
 * newline becomes the end of a string. */
static int check_lines(struct df_file *f, const char *path, size_t max_line,
		       char *err, size_t errlen)
{
	unsigned lineno = 1;
	size_t start = 0;

	for (size_t i = 0; i <= f->len; i++) {
		char c = i < f->len ? f->buf[i] : '\n';

		if (c == '\0') {
			snprintf(err, errlen,
				 "%s:%u: NUL byte: a data file must be text "
				 "(is this the right file?)",
				 path, lineno);
			return -1;
		}
		if (c != '\n')
			continue;
		if (i - start > max_line &&
		    !(i - start == max_line + 1 && f->buf[i - 1] == '\r')) {
			snprintf(err, errlen,
				 "%s:%u: line longer than %zu bytes: is this "
				 "the right file?",
				 path, lineno, max_line);
			return -1;
		}
		if (i < f->len)
			f->buf[i] = '\0';
		start = i + 1;
		lineno++;
	}
	return 0;
}

int df_open(struct df_file *f, const char *path, const char *what,
	    size_t max_line, char *err, size_t errlen)
{
	struct stat st;
	int fd, fl;

	memset(f, 0, sizeof *f);
	/* O_NONBLOCK: opening a FIFO must not wait for a writer (fstat
	 * refuses it next); cleared again before reading a regular file */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		snprintf(err, errlen, "%s %s: cannot open: %s", what, path,
			 strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0) {
		snprintf(err, errlen, "%s %s: fstat: %s", what, path,
			 strerror(errno));
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen,
			 "%s %s: %s: give the path of a regular file", what,
			 path, file_type(st.st_mode));
		close(fd);
		return -1;
	}
	if ((uint64_t)st.st_size > DF_MAX_BYTES) {
		snprintf(err, errlen,
			 "%s %s: %lld bytes, more than the %u MiB limit for "
			 "data files: use a shorter file (batsim.conf(5))",
			 what, path, (long long)st.st_size, DF_MAX_BYTES >> 20);
		close(fd);
		return -1;
	}
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
		snprintf(err, errlen, "%s %s: fcntl: %s", what, path,
			 strerror(errno));
		close(fd);
		return -1;
	}
	if (read_all(fd, f, (size_t)st.st_size, path, what, err, errlen) != 0 ||
	    check_lines(f, path, max_line, err, errlen) != 0) {
		close(fd);
		df_close(f);
		return -1;
	}
	close(fd);
	return 0;
}

char *df_line(struct df_file *f)
{
	char *line;
	size_t n;

	if (!f->buf || f->pos >= f->len)
		return NULL;
	line = f->buf + f->pos;
	n = strlen(line);
	f->pos += n + 1;
	f->lineno++;
	if (n && line[n - 1] == '\r')
		line[n - 1] = '\0';
	return line;
}

void df_close(struct df_file *f)
{
	free(f->buf);
	memset(f, 0, sizeof *f);
}
