/*
 * deadline.c - the total deadline for a request to arrive
 * (http_request_timeout_s, batsim-httpd(8)).
 *
 * libmicrohttpd's connection timeout (http_timeout_s) counts idle time
 * and restarts with every byte: a client that sends one header byte every
 * few seconds holds its connection, and a few hundred of them, from
 * several addresses, hold every slot (slowloris).  Here each connection
 * is recorded when libmicrohttpd accepts it (MHD_OPTION_NOTIFY_CONNECTION)
 * with the time its request began to be awaited: the connection's start,
 * then the end of each answer on a kept-alive connection.  Once the
 * access handler has the whole request (head and body) the connection is
 * busy answering (SSE streams for as long as they last) and exempt.  A
 * watchdog thread shuts down (shutdown(2)) the socket of every connection
 * whose request is not complete within the deadline; libmicrohttpd's
 * event loop then sees the end of the stream and closes it.
 *
 * A deadline alone frees the slots only every so often, and
 * libmicrohttpd closes at once a connection that arrives when every slot
 * is taken.  So libmicrohttpd gets a few more slots than
 * http_max_connections (dl_headroom()), and when a new connection makes
 * more than http_max_connections on its listener, the connection that
 * has waited longest for its request is closed to make room.  A normal
 * client's request arrives within milliseconds of its connection, so the
 * connections that go are slow clients and idle kept-alive ones; answers
 * in progress (SSE streams included) are never closed.  An attacker who
 * reconnects at once from enough addresses can still take the headroom
 * for a moment: http_max_per_ip bounds what each address holds.
 *
 * libmicrohttpd calls the CLOSED notification before it closes the
 * socket, and the list is changed and walked under one mutex, so the
 * watchdog never touches a descriptor that was closed (and perhaps
 * reused).
 */
#include <config.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "httpd.h"
#include "log.h"

/* How often the watchdog looks. */
#define DL_STEP_NS 100000000LL

struct hd_conn {
	struct hd_conn *prev, *next;
	const struct MHD_Daemon *daemon; /* its listener */
	int fd;
	int listed;	  /* in the list (watched) */
	int busy;	  /* the request is complete: answering */
	int shut;	  /* shut down by the watchdog */
	int64_t since_ns; /* when the awaited request began to be awaited */
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static struct hd_conn *head;
static pthread_t thread;
static int running, stopping;
static int64_t deadline_ns;
static unsigned limit; /* http_max_connections, per listener */
static uint64_t n_closed, n_evicted; /* totals, for the log */
static const struct MHD_Daemon *daemons[16]; /* listeners seen */
static unsigned n_daemons;

/* Close k (mu held): the event loop sees the end of the stream and closes
 * the connection (before it frees k). */
static void shut(struct hd_conn *k)
{
	if (shutdown(k->fd, SHUT_RDWR) && errno != ENOTCONN)
		log_debug("shutdown of a slow connection: %s", strerror(errno));
	k->shut = 1;
}

unsigned dl_headroom(unsigned max_connections)
{
	return max_connections / 8 > 2 ? max_connections / 8 : 2;
}

/* At most `limit` connections on daemon d (mu held): close those that
 * have waited longest for their request. */
static void make_room(const struct MHD_Daemon *d)
{
	unsigned live = 0;

	for (struct hd_conn *k = head; k; k = k->next)
		live += k->daemon == d && !k->shut;
	while (live > limit) {
		struct hd_conn *old = NULL;

		for (struct hd_conn *k = head; k; k = k->next)
			if (k->daemon == d && !k->busy && !k->shut &&
			    (!old || k->since_ns < old->since_ns))
				old = k;
		if (!old)
			return;
		shut(old);
		n_evicted++;
		live--;
	}
}

void dl_notify(void *cls, struct MHD_Connection *c, void **socket_context,
	       enum MHD_ConnectionNotificationCode code)
{
	struct hd_conn *k;

	(void)cls;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
		    MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		const union MHD_ConnectionInfo *di =
		    MHD_get_connection_info(c, MHD_CONNECTION_INFO_DAEMON);

		k = calloc(1, sizeof *k);
		*socket_context = k;
		if (!k || !ci || !di)
			return; /* not watched: the idle timeout still holds */
		k->fd = ci->connect_fd;
		k->daemon = di->daemon;
		k->since_ns = hd_now_ns();
		k->listed = 1;
		pthread_mutex_lock(&mu);
		{
			unsigned i = 0;

			while (i < n_daemons && daemons[i] != k->daemon)
				i++;
			if (i == n_daemons && n_daemons < 16)
				daemons[n_daemons++] = k->daemon;
		}
		k->next = head;
		if (head)
			head->prev = k;
		head = k;
		make_room(k->daemon);
		pthread_mutex_unlock(&mu);
		return;
	}
	k = *socket_context;
	*socket_context = NULL;
	if (!k)
		return;
	pthread_mutex_lock(&mu);
	if (k->listed) {
		if (k->prev)
			k->prev->next = k->next;
		else
			head = k->next;
		if (k->next)
			k->next->prev = k->prev;
	}
	pthread_mutex_unlock(&mu);
	free(k);
}

static struct hd_conn *conn_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

void dl_request_complete(struct MHD_Connection *c)
{
	struct hd_conn *k = conn_of(c);

	if (!k)
		return;
	pthread_mutex_lock(&mu);
	k->busy = 1;
	pthread_mutex_unlock(&mu);
}

void dl_answer_done(struct MHD_Connection *c)
{
	struct hd_conn *k = conn_of(c);

	if (!k)
		return;
	pthread_mutex_lock(&mu);
	k->busy = 0;
	k->since_ns = hd_now_ns();
	pthread_mutex_unlock(&mu);
}

static void *watchdog(void *arg)
{
	const int64_t step = DL_STEP_NS;
	uint64_t logged = 0, logged_ev = 0;
	int64_t last_log = 0;

	(void)arg;
	pthread_mutex_lock(&mu);
	while (!stopping) {
		struct timespec ts;
		int64_t now = hd_now_ns();

		for (struct hd_conn *k = head; k; k = k->next) {
			if (k->busy || k->shut || now - k->since_ns < deadline_ns)
				continue;
			shut(k);
			n_closed++;
		}
		/* answers that ended may leave too many waiting */
		for (unsigned i = 0; i < n_daemons; i++)
			make_room(daemons[i]);
		/* At most one line a minute, however long an attack. */
		if ((n_closed != logged || n_evicted != logged_ev) &&
		    (now - last_log > 60 * (int64_t)1000000000 || !last_log)) {
			log_notice("closed %llu connection(s) whose request did "
				   "not arrive within %u s "
				   "(http_request_timeout_s), and %llu still "
				   "waiting for theirs to make room for new "
				   "ones: slow clients, or a slowloris attack",
				   (unsigned long long)(n_closed - logged),
				   (unsigned)(deadline_ns / 1000000000),
				   (unsigned long long)(n_evicted - logged_ev));
			logged = n_closed;
			logged_ev = n_evicted;
			last_log = now;
		}
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += step % 1000000000;
		ts.tv_sec += step / 1000000000 + ts.tv_nsec / 1000000000;
		ts.tv_nsec %= 1000000000;
		pthread_cond_timedwait(&cv, &mu, &ts);
	}
	pthread_mutex_unlock(&mu);
	return NULL;
}

int dl_start(unsigned timeout_s, unsigned max_connections)
{
	pthread_condattr_t ca;
	int rc;

	deadline_ns = (int64_t)timeout_s * 1000000000;
	limit = max_connections;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_destroy(&cv);
	pthread_cond_init(&cv, &ca);
	pthread_condattr_destroy(&ca);
	rc = pthread_create(&thread, NULL, watchdog, NULL);
	if (rc) {
		log_error("cannot start the request deadline thread: %s",
			  strerror(rc));
		return -1;
	}
	running = 1;
	return 0;
}

void dl_stop(void)
{
	if (!running)
		return;
	pthread_mutex_lock(&mu);
	stopping = 1;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
	pthread_join(thread, NULL);
	running = 0;
}
