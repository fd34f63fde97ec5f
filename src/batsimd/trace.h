/*
 * trace.h - batsimd --trace R,M,C --trace-out FILE: the true state of one
 * cell after every internal step, as CSV, so that the model can be
 * checked against an independent integrator.
 */
#ifndef BATSIMD_TRACE_H
#define BATSIMD_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"

typedef struct trace trace;

/* Parse "R,M,C" against the topology; 0, or -1 with a message in err. */
int trace_parse_cell(const char *text, const struct bsd_config *cfg,
		     uint32_t loc[3], char *err, size_t errlen);

/* Open path ("-" = standard output) and write the header line and the
 * row of time 0 (the engine's state before its first step); 0, or -1
 * with a message in err. */
int trace_open(const char *path, const uint32_t loc[3], engine *e, trace **out,
	       char *err, size_t errlen);

/* Append the row of the state after the step just done; 0 or -1 (write
 * error, message in err). */
int trace_row(trace *t, engine *e, char *err, size_t errlen);

/* Flush and close; 0, or -1 with a message in err.  NULL is fine. */
int trace_close(trace *t, char *err, size_t errlen);

#endif /* BATSIMD_TRACE_H */
