/*
 * ctl.h - batsimctl(1): the modules of the command line tool.
 *
 * main.c parses the command line into a struct ctl; util.c has the error
 * message and index parser they all use; read.c is the read
 * side (status, show, watch: libbatsim reader); command.c the control side
 * (set, profile, fault, alarm, alarms, faults, contactor, soc-reserve,
 * modbus-fault: batsimd's control socket).
 */
#ifndef BATSIM_CTL_H
#define BATSIM_CTL_H

#include <stdint.h>
#include <stdio.h>

/* Exit statuses, documented in batsimctl(1). */
enum {
	CTL_EX_OK = 0,
	CTL_EX_USAGE = 1,    /* bad command, option, argument or index */
	CTL_EX_NOENT = 2,    /* segment not found */
	CTL_EX_STALE = 3,    /* writer not running, or heartbeat too old */
	CTL_EX_SEGMENT = 4,  /* segment invalid, incompatible or not readable */
	CTL_EX_NODAEMON = 5, /* batsimd not reachable on its control socket */
	CTL_EX_REFUSED = 6,  /* batsimd answered {"ok":false} */
	CTL_EX_OTHER = 7     /* anything else (memory, no consistent read) */
};

#define CTL_MAX_ARGS 16

struct ctl {
	/* global */
	const char *name;   /* segment */
	const char *socket; /* control socket */
	const char *config; /* --config FILE, or NULL */
	int json, csv;
	uint64_t max_age_ms;
	int64_t interval_ms; /* watch; -1 = the publish period */
	int timeout_ms;	     /* control requests */

	/* command options (-1 / 0 = not given) */
	int64_t rack, module, cell;
	int have_value;
	double value;
	const char *value_opt; /* which option gave it: "--ohm", ... */
	const char *quantity;
	int loop;
	int have_scale;
	double scale;
	/* modbus-fault options (-1 / NULL = not given) */
	int64_t unit, ms, seconds, every;
	const char *points; /* comma-separated MODEL.POINT names */
	const char *what;   /* freeze: values | all */

	/* positional words: the command and its arguments */
	char *args[CTL_MAX_ARGS];
	int nargs;

	FILE *err; /* where read-side errors go (the frame, under watch) */
};

/* Print "batsimctl: error: ..." to c->err (or stderr). */
void ctl_error(const struct ctl *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Parse a decimal index 0..UINT32_MAX; 0 or -1. */
int ctl_parse_index(const char *s, int64_t *out);

/* status / show / watch. */
int ctl_read_command(struct ctl *c);

/* set / profile / fault / alarm / alarms / faults. */
int ctl_control_command(struct ctl *c);

#endif /* BATSIM_CTL_H */
