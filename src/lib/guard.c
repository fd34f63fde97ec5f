/*
 * guard.c - survive a segment that shrinks under the library.
 *
 * Touching a page of a shared mapping beyond the current end of its
 * object raises SIGBUS.  The segment's owner can ftruncate it at any
 * time, so every access the library makes to a mapping runs under a
 * guard: a thread-local jump buffer and a SIGBUS handler (installed once,
 * on the first guarded access) that jumps back to it when the fault
 * address lies in the guarded mapping.  The access then fails with
 * -BS_ETRUNC instead of killing the process.
 *
 * A SIGBUS that is not ours (another address, no guard active in this
 * thread, or sent by kill) goes to the disposition that was installed
 * before ours: that handler is called, or the default action (terminate
 * with a core dump) is restored and the fault repeats.  See
 * batsim-shm(7), "Truncation".
 */
#include "config.h"

#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>

#include "internal.h"

struct guard {
	sigjmp_buf env;
	const unsigned char *lo, *hi; /* the guarded mapping */
	struct guard *prev;	      /* nesting */
};

/* initial-exec: no lazy TLS allocation inside the signal handler. */
static __thread struct guard *cur __attribute__((tls_model("initial-exec")));

static struct sigaction old_bus; /* the disposition before ours */
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	struct guard *g = cur;

	/* si_code > 0: raised by the kernel for a faulting access (kill()
	 * and sigqueue() give SI_USER/SI_QUEUE, which are <= 0). */
	if (g && si && si->si_code > 0 &&
	    (const unsigned char *)si->si_addr >= g->lo &&
	    (const unsigned char *)si->si_addr < g->hi)
		siglongjmp(g->env, 1);

	/* Not ours: hand it to whoever had SIGBUS before. */
	if ((old_bus.sa_flags & SA_SIGINFO) && old_bus.sa_sigaction) {
		old_bus.sa_sigaction(sig, si, uc);
		return;
	}
	if (old_bus.sa_handler != SIG_DFL && old_bus.sa_handler != SIG_IGN) {
		old_bus.sa_handler(sig);
		return;
	}
	/* Default action: restore it; a fault then repeats on return (and
	 * kills as it would have without us), a sent signal is raised
	 * again. */
	signal(sig, SIG_DFL);
	if (!si || si->si_code <= 0)
		raise(sig);
}

static void install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_sigbus;
	sigemptyset(&sa.sa_mask);
	/* SA_NODEFER: SIGBUS stays unblocked in the handler, so jumping out
	 * of it with siglongjmp(env) of a sigsetjmp(env, 0) leaves the
	 * thread's mask as it was (no sigprocmask call per access). */
	sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
	if (sigaction(SIGBUS, NULL, &old_bus) == 0)
		sigaction(SIGBUS, &sa, NULL);
}

int bs__guarded(const void *map, size_t size, int (*fn)(void *), void *arg)
{
	struct guard g;
	int rc;

	pthread_once(&once, install);
	g.lo = map;
	g.hi = (const unsigned char *)map + size;
	g.prev = cur;
	if (sigsetjmp(g.env, 0)) {
		/* The mapping shrank under fn: its outputs are garbage. */
		cur = g.prev;
		atomic_signal_fence(memory_order_seq_cst);
		return -BS_ETRUNC;
	}
	cur = &g;
	/* The handler (same thread) must see cur before fn touches the
	 * mapping. */
	atomic_signal_fence(memory_order_seq_cst);
	rc = fn(arg);
	atomic_signal_fence(memory_order_seq_cst);
	cur = g.prev;
	return rc;
}
