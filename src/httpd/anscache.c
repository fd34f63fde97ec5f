/*
 * anscache.c - REST answers of one snapshot, built once and shared.
 *
 * GET /rack/R, /rack/R/module/M and /rack/R/module/M/cell/C read a
 * consistent copy of the records and turn it into JSON: per request that
 * is the cost of the answer, and a dashboard or a poller asks the same
 * question many times per publish period.  The first request after a new
 * snapshot builds the answer and stores it here under its key (the path
 * and query that select it) with the snapshot's identity (segment attach
 * number, writer generation, tick); later requests for the same snapshot
 * copy it.  An answer of another snapshot is never served: the caller
 * looks up with the newest snapshot's identity, and a miss rebuilds.
 *
 * A direct-mapped table (a new key replaces the one in its slot) with a
 * bound on the bytes held: when storing would pass it, the answers of
 * older snapshots are dropped first, and a single answer larger than
 * AC_MAX_ONE is not stored at all (a whole rack with its cells on a big
 * site is asked rarely and would crowd out the rest).
 */
#include <config.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "httpd.h"

#define AC_SLOTS   4096
#define AC_MAX_ONE (512u << 10)
#define AC_MAX_ALL (32u << 20)

struct ac_slot {
	char key[AC_KEY_MAX];
	uint64_t attach, gen, tick;
	char *text;
	size_t len;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct ac_slot slots[AC_SLOTS];
static size_t held;
static uint64_t n_hits, n_misses;

static unsigned slot_of(const char *key)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h % AC_SLOTS;
}

static void drop(struct ac_slot *s)
{
	held -= s->len;
	free(s->text);
	s->text = NULL;
	s->len = 0;
	s->key[0] = '\0';
}

char *ac_get(const char *key, uint64_t attach, uint64_t gen, uint64_t tick,
	     size_t *len)
{
	struct ac_slot *s = &slots[slot_of(key)];
	char *copy = NULL;

	pthread_mutex_lock(&mu);
	if (s->text && s->tick == tick && s->gen == gen &&
	    s->attach == attach && !strcmp(s->key, key)) {
		copy = malloc(s->len + 1);
		if (copy) {
			memcpy(copy, s->text, s->len + 1);
			*len = s->len;
		}
	}
	if (copy)
		n_hits++;
	else
		n_misses++;
	pthread_mutex_unlock(&mu);
	return copy;
}

void ac_put(const char *key, uint64_t attach, uint64_t gen, uint64_t tick,
	    const char *text, size_t len)
{
	struct ac_slot *s = &slots[slot_of(key)];
	char *copy;

	if (len > AC_MAX_ONE || strlen(key) >= AC_KEY_MAX)
		return;
	copy = malloc(len + 1);
	if (!copy)
		return;
	memcpy(copy, text, len);
	copy[len] = '\0';
	pthread_mutex_lock(&mu);
	if (s->text && s->attach == attach && s->gen == gen &&
	    s->tick > tick && !strcmp(s->key, key)) {
		/* a newer answer is already there */
		pthread_mutex_unlock(&mu);
		free(copy);
		return;
	}
	if (s->text)
		drop(s);
	if (held + len > AC_MAX_ALL) {
		for (unsigned i = 0; i < AC_SLOTS; i++)
			if (slots[i].text &&
			    (slots[i].tick != tick || slots[i].gen != gen ||
			     slots[i].attach != attach))
				drop(&slots[i]);
	}
	if (held + len > AC_MAX_ALL) {
		pthread_mutex_unlock(&mu);
		free(copy);
		return;
	}
	memcpy(s->key, key, strlen(key) + 1);
	s->attach = attach;
	s->gen = gen;
	s->tick = tick;
	s->text = copy;
	s->len = len;
	held += len;
	pthread_mutex_unlock(&mu);
}

void ac_stats(uint64_t *hits, uint64_t *misses)
{
	pthread_mutex_lock(&mu);
	*hits = n_hits;
	*misses = n_misses;
	pthread_mutex_unlock(&mu);
}

void ac_close(void)
{
	pthread_mutex_lock(&mu);
	for (unsigned i = 0; i < AC_SLOTS; i++)
		if (slots[i].text)
			drop(&slots[i]);
	pthread_mutex_unlock(&mu);
}
