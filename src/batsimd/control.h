/*
 * control.h - batsimd's control socket server (docs/control-protocol.md).
 *
 * A UNIX stream socket; each client sends one JSON object per line and
 * gets exactly one JSON object per line back.  The server runs in the
 * daemon's main thread, between engine steps, so commands reach the
 * engine without locks.  The main loop waits in ctl_wait(), which serves
 * the clients until its deadline passes or a signal arrives.
 */
#ifndef BATSIMD_CONTROL_H
#define BATSIMD_CONTROL_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "mbfaults.h"

typedef struct ctl_server ctl_server;

/* Daemon state the control commands read or change besides the engine. */
struct ctl_daemon {
	int paused;	     /* 1 while the simulation clock stands */
	double speed;	     /* 1 real time, N faster, 0 fastest */
	const char *backend; /* "cpu" or "cuda" */
	const char *backend_desc;
	int rebase; /* set by a command that changed paused or
		       speed: the main loop restarts its clock */
	struct mbf_state mb; /* Modbus protocol faults and report */
};

#define CTL_MAX_LINE	(64u * 1024u) /* longest request line */
#define CTL_MAX_CLIENTS 64
/* A client that sends no complete line for this long is closed. */
#define CTL_IDLE_MS 10000u
/* The one line a client gets when all CTL_MAX_CLIENTS slots are taken
 * (printf format of CTL_MAX_CLIENTS); "busy" tells clients apart from a
 * refused command (docs/control-protocol.md). */
#define CTL_BUSY_REPLY                                                         \
	"{\"ok\":false,\"busy\":true,\"error\":\"batsimd is busy: all %d "     \
	"control connections are in use; try again later\"}"

/* Create, bind and listen on `path` (mode 0660).  A stale socket file
 * left by a dead daemon is removed; a live one is an error.  0, or -1
 * with a message in err. */
int ctl_open(const char *path, const struct bsd_config *cfg, engine *e,
	     struct ctl_daemon *d, ctl_server **out, char *err, size_t errlen);

/* Serve clients until CLOCK_MONOTONIC reaches deadline_ns (0: handle
 * what is ready and return at once), wake_fd becomes readable (a
 * signalfd; -1 for none), or a command changes paused or speed. */
void ctl_wait(ctl_server *s, uint64_t deadline_ns, int wake_fd);

/* Handle one request line (no newline); the reply (no newline) is a
 * malloc'd string.  Used by ctl_wait. */
char *ctl_handle_line(ctl_server *s, const char *line, size_t len);

/* Close every client and the listening socket, and remove the socket
 * file; NULL is fine. */
void ctl_close(ctl_server *s);

#endif /* BATSIMD_CONTROL_H */
