/* sigbus.c - see sigbus.h. */
#include <config.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "sigbus.h"

static char msg[768];
static size_t msg_len;
static const unsigned char *lo, *hi;
static int status;
static int installed;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	const unsigned char *a = si ? si->si_addr : NULL;
	(void)uc;

	if (si && si->si_code > 0 && a >= lo && a < hi) {
		/* write(2) and _exit(2) are async-signal-safe; the
		 * message was formatted when the handler was armed. */
		ssize_t n = write(STDERR_FILENO, msg, msg_len);
		(void)n;
		_exit(status);
	}
	/* Not the segment: a real bug; keep the core dump. */
	signal(sig, SIG_DFL);
	if (!si || si->si_code <= 0)
		raise(sig);
}

void sigbus_arm(const char *progname, const char *name, const void *base,
		size_t len, int exit_status)
{
	struct sigaction sa;
	const char *p = strrchr(progname, '/');
	int n;

	p = p ? p + 1 : progname;
	/* The same line shape as log.c's log_error (journald priority
	 * prefix under systemd). */
	n = snprintf(msg, sizeof msg,
		     "%s%s%s segment %s was truncated under batsimd "
		     "(SIGBUS writing a snapshot): stopping; recreate it "
		     "with batsim-init --force and restart batsimd, and "
		     "check what else writes to it\n",
		     getenv("JOURNAL_STREAM") ? "<3>" : p,
		     getenv("JOURNAL_STREAM") ? "" : ":",
		     getenv("JOURNAL_STREAM") ? "" : " error:", name);
	msg_len = n < 0			   ? 0
		  : (size_t)n < sizeof msg ? (size_t)n
					   : sizeof msg - 1;
	lo = base;
	hi = base ? (const unsigned char *)base + len : NULL; /* no NULL + 0 */
	status = exit_status;
	if (installed)
		return;
	/* Installed once, before libbatsim maps the segment: the library
	 * then keeps this handler as the one it passes the faults it does
	 * not guard to (its own accesses fail with -BS_ETRUNC instead). */
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_sigbus;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_SIGINFO;
	if (sigaction(SIGBUS, &sa, NULL) == 0)
		installed = 1;
}
