/*
 * trace.c - see trace.h.  Columns: time_s,voltage,current,temperature,
 * soc,resistance,hyst,soh (the true values: no sensor fault applied; soc
 * 0-1 as the segment publishes it; hyst the hysteresis state, -1 on the
 * discharge branch to +1 on the charge branch; soh the state of health,
 * capacity now / initial).
 * Floats are written with 9 significant digits, enough to give back the
 * exact float32; time with 12.
 */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace.h"

struct trace {
	FILE *f;
	int is_stdout;
	uint32_t loc[3];
	char path[256];
};

int trace_parse_cell(const char *text, const struct bsd_config *cfg,
		     uint32_t loc[3], char *err, size_t errlen)
{
	const uint32_t lim[3] = {cfg->racks, cfg->modules_per_rack,
				 cfg->cells_per_module};
	static const char *const what[3] = {"rack", "module", "cell"};
	const char *p = text;

	for (int i = 0; i < 3; i++) {
		char *end;
		unsigned long v;

		if (*p < '0' || *p > '9')
			goto bad;
		errno = 0;
		v = strtoul(p, &end, 10);
		if (errno || end == p)
			goto bad;
		if (v >= lim[i]) {
			snprintf(err, errlen,
				 "--trace %s: %s %lu out of range "
				 "(0 to %u)",
				 text, what[i], v, lim[i] - 1);
			return -1;
		}
		loc[i] = (uint32_t)v;
		p = end;
		if (i < 2) {
			if (*p != ',')
				goto bad;
			p++;
		}
	}
	if (*p)
		goto bad;
	return 0;
bad:
	snprintf(err, errlen,
		 "--trace '%s': expected RACK,MODULE,CELL "
		 "(indices from 0), e.g. --trace 0,0,0",
		 text);
	return -1;
}

static int write_row(trace *t, engine *e, char *err, size_t errlen)
{
	struct bs_cell c;
	struct eng_cell_model m;
	struct eng_ageing ag;

	if (engine_cell(e, t->loc[0], t->loc[1], t->loc[2], &c) != 0 ||
	    engine_cell_model(e, t->loc[0], t->loc[1], t->loc[2], &m) != 0 ||
	    engine_cell_ageing(e, t->loc[0], t->loc[1], t->loc[2], &ag) != 0) {
		snprintf(err, errlen, "trace: the engine has no cell %u,%u,%u",
			 t->loc[0], t->loc[1], t->loc[2]);
		return -1;
	}
	if (fprintf(t->f, "%.12g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g,%.9g\n",
		    engine_time_s(e), (double)c.voltage, (double)c.current,
		    (double)c.temperature, (double)c.soc, (double)c.resistance,
		    m.h, ag.soh) < 0) {
		snprintf(err, errlen, "trace %s: write error: %s", t->path,
			 strerror(errno));
		return -1;
	}
	return 0;
}

int trace_open(const char *path, const uint32_t loc[3], engine *e, trace **out,
	       char *err, size_t errlen)
{
	trace *t = calloc(1, sizeof *t);

	if (!t) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	t->is_stdout = !strcmp(path, "-");
	t->f = t->is_stdout ? stdout : fopen(path, "w");
	if (!t->f) {
		snprintf(err, errlen, "--trace-out %s: cannot create: %s", path,
			 strerror(errno));
		free(t);
		return -1;
	}
	memcpy(t->loc, loc, sizeof t->loc);
	snprintf(t->path, sizeof t->path, "%s", path);
	/* the header, then the state at time 0 (the engine computes its
	 * terminal voltages and currents at creation) */
	if (fputs("time_s,voltage,current,temperature,soc,resistance,hyst,"
		  "soh\n",
		  t->f) < 0) {
		snprintf(err, errlen, "--trace-out %s: write error: %s", path,
			 strerror(errno));
		trace_close(t, NULL, 0);
		return -1;
	}
	if (write_row(t, e, err, errlen) != 0) {
		trace_close(t, NULL, 0);
		return -1;
	}
	*out = t;
	return 0;
}

int trace_row(trace *t, engine *e, char *err, size_t errlen)
{
	return write_row(t, e, err, errlen);
}

int trace_close(trace *t, char *err, size_t errlen)
{
	int rc = 0;

	if (!t)
		return 0;
	if (fflush(t->f) != 0 || ferror(t->f))
		rc = -1;
	if (!t->is_stdout && fclose(t->f) != 0)
		rc = -1;
	if (rc && err)
		snprintf(err, errlen, "trace %s: write error: %s", t->path,
			 strerror(errno));
	free(t);
	return rc;
}
