// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * RELP through librelp, from a sender thread; see relp.h.
 *
 * The capture thread puts formatted messages into a byte ring (each a
 * 4-byte length and its bytes) under a mutex and wakes the sender. The
 * sender copies the oldest message out, hands it to relpCltSendSyslog()
 * without the lock (it may block for a window's acknowledgements), and
 * drops it from the ring only once librelp took it: a message librelp
 * refused (the session broke first) is sent again after the reconnect,
 * and what librelp took but the receiver did not acknowledge librelp
 * resends itself (relpCltReconnect()). Counts cross threads through the
 * mutex; only the capture thread touches the sink (relp_flush()).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librelp.h>

#include "clock.h"
#include "log.h"
#include "relp.h"
#include "sink.h"
#include "syslog_fmt.h"
#include "transport.h"

#define RELP_QUEUE_BYTES	TRANSPORT_QUEUE_BYTES
#define BACKOFF_MIN_NS		100000000ull	/* 100 ms, as transport.c */
#define BACKOFF_MAX_NS		5000000000ull	/* 5 s */
/*
 * librelp's timeouts, in seconds: a connection (rsyslog's omrelp waits
 * 10 s) and an answer (omrelp: 90 s; shorter here, since close waits for
 * it when a receiver hangs).
 */
#define RELP_CONN_TIMEOUT	5
#define RELP_TIMEOUT		10
/* What close waits for the queue before it closes the session. */
#define RELP_DRAIN_NS		2000000000ull
#define RELP_MSG_MAX		(SYSLOG_MSG_MAX + SYSLOG_FRAME_EXTRA)

struct relp_out {
	struct sink *s;		/* capture thread only */
	const char *label;
	char name[320];		/* the target, for messages */
	char host[256];
	char port[8];

	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;	/* the sender: a message, SIGHUP or close */

	/* under lock */
	char *ring;
	uint64_t head, tail;	/* bytes taken out, put in; ring offsets mod size */
	uint64_t queued;	/* messages in the ring */
	uint64_t accepted;	/* messages librelp took */
	uint64_t reconnects;	/* sessions opened again (relpCltReconnect()) */
	uint64_t overflow;	/* messages the ring had no room for */
	bool up;		/* a RELP session is open */
	bool retry_now;		/* SIGHUP */
	bool stopping;
	uint64_t stop_at;
	bool clean;		/* close: the receiver answered librelp's close */

	/* capture thread only */
	bool full;		/* the ring overflowed while the session was up */
	uint64_t failed_at_full;

	/* sender thread only */
	relpEngine_t *engine;
	relpClt_t *clt;
	bool session;		/* relpCltConnect() worked once: reconnect from now */
	bool down;		/* an outage was reported; quiet until it heals */
	uint64_t overflow_at_down;
	unsigned int errors;	/* librelp's error callbacks so far */
	char err[160];		/* the last one's text */
	char msg[RELP_MSG_MAX];
};

bool relp_target(const char *target)
{
	return !strncmp(target, RELP_SCHEME, strlen(RELP_SCHEME));
}

/* --- the ring ------------------------------------------------------------ */

static void ring_put(struct relp_out *r, uint64_t at, const void *p, size_t n)
{
	size_t off = at % RELP_QUEUE_BYTES, first = RELP_QUEUE_BYTES - off;

	if (first > n)
		first = n;
	memcpy(r->ring + off, p, first);
	memcpy(r->ring, (const char *)p + first, n - first);
}

static void ring_get(const struct relp_out *r, uint64_t at, void *p, size_t n)
{
	size_t off = at % RELP_QUEUE_BYTES, first = RELP_QUEUE_BYTES - off;

	if (first > n)
		first = n;
	memcpy(p, r->ring + off, first);
	memcpy((char *)p + first, r->ring, n - first);
}

/* The oldest message into r->msg; its length. The lock is held. */
static size_t ring_peek(struct relp_out *r)
{
	uint32_t len;

	ring_get(r, r->head, &len, sizeof(len));
	ring_get(r, r->head + sizeof(len), r->msg, len);
	return len;
}

static void ring_drop(struct relp_out *r, size_t len)
{
	r->head += sizeof(uint32_t) + len;
	r->queued--;
}

/* --- the sender thread ------------------------------------------------ */

/*
 * librelp's errors arrive here, on the sender thread (the engine and
 * client live there). Kept for the next message; librelp prints nothing.
 */
static void on_err(void *usr, char *obj, char *msg, relpRetVal code)
{
	struct relp_out *r = usr;

	(void)obj;
	r->errors++;
	snprintf(r->err, sizeof(r->err), "%s (librelp error %d)", msg,
		 (int)code);
}

static __thread struct relp_out *sender_self;

static void on_generic_err(char *obj, char *msg, relpRetVal code)
{
	if (sender_self)
		on_err(sender_self, obj, msg, code);
}

static uint64_t backoff_next(uint64_t b)
{
	return b * 2 > BACKOFF_MAX_NS ? BACKOFF_MAX_NS : b * 2;
}

/*
 * Connect, or reconnect and let librelp resend its window. Unlocked;
 * *again says whether an earlier session's window was resent.
 */
static bool sender_connect(struct relp_out *r, bool *again)
{
	relpRetVal rc;

	r->err[0] = '\0';
	*again = r->session;
	if (r->session)
		rc = relpCltReconnect(r->clt);
	else
		rc = relpCltConnect(r->clt, 0, (unsigned char *)r->port,
				    (unsigned char *)r->host);
	if (rc == RELP_RET_OK) {
		r->session = true;
		return true;
	}
	if (!r->err[0])
		snprintf(r->err, sizeof(r->err), "cannot connect (librelp error %d)",
			 (int)rc);
	return false;
}

/* The session came up or went down: one message each way. Locked. */
static void sender_state(struct relp_out *r, bool up)
{
	r->up = up;
	if (up && r->down) {
		pr_info("%s %s: connected again; %llu records lost meanwhile",
			r->label, r->name,
			(unsigned long long)(r->overflow - r->overflow_at_down));
		r->down = false;
	} else if (!up && !r->down) {
		r->down = true;
		r->overflow_at_down = r->overflow;
		pr_warn("%s %s: %s; queueing records (up to %d MiB) and reconnecting",
			r->label, r->name, r->err, RELP_QUEUE_BYTES >> 20);
	}
}

static void wait_until(struct relp_out *r, uint64_t when_ns)
{
	struct timespec ts = {
		.tv_sec = when_ns / 1000000000ull,
		.tv_nsec = when_ns % 1000000000ull,
	};

	pthread_cond_timedwait(&r->wake, &r->lock, &ts);
}

static void *sender(void *arg)
{
	struct relp_out *r = arg;
	uint64_t backoff = BACKOFF_MIN_NS, retry_at = 0;
	bool tried_stopping = false, up;
	unsigned int errors;

	sender_self = r;
	pthread_mutex_lock(&r->lock);
	for (;;) {
		uint64_t now = clock_mono_ns();
		relpRetVal rc;
		size_t len;
		bool ok, again;

		/* the drain's bound, or a second stop signal: as far as it got */
		if (r->stopping && (now >= r->stop_at ||
				    __atomic_load_n(&sink_stop_now, __ATOMIC_RELAXED) ||
				    (r->up && !r->queued) ||
				    (!r->up && tried_stopping)))
			break;
		if (!r->up) {
			if (r->retry_now) {
				r->retry_now = false;
				retry_at = now;
				backoff = BACKOFF_MIN_NS;
			}
			/* Closing: one more try, at once, for librelp's window. */
			if (now < retry_at && !r->stopping) {
				wait_until(r, retry_at);
				continue;
			}
			tried_stopping = r->stopping;
			pthread_mutex_unlock(&r->lock);
			ok = sender_connect(r, &again);
			pthread_mutex_lock(&r->lock);
			if (ok) {
				backoff = BACKOFF_MIN_NS;
				r->reconnects += again;
			} else {
				retry_at = clock_mono_ns() + backoff;
				backoff = backoff_next(backoff);
			}
			sender_state(r, ok);
			continue;
		}
		if (!r->queued) {	/* (closing, it would have ended) */
			pthread_cond_wait(&r->wake, &r->lock);
			continue;
		}
		len = ring_peek(r);
		pthread_mutex_unlock(&r->lock);
		r->err[0] = '\0';
		rc = relpCltSendSyslog(r->clt, (unsigned char *)r->msg, len);
		pthread_mutex_lock(&r->lock);
		if (rc == RELP_RET_OK) {
			ring_drop(r, len);
			r->accepted++;
			continue;
		}
		/* Not taken: the message stays first in the ring. */
		if (!r->err[0])
			snprintf(r->err, sizeof(r->err), "the session broke (librelp error %d)",
				 (int)rc);
		sender_state(r, false);
		retry_at = clock_mono_ns();	/* the first retry at once */
	}
	/*
	 * A clean close: librelp sends "close" and waits for its answer,
	 * which comes after the answers to every earlier message; a failure
	 * on the way reaches on_err(). A session that is down closes at
	 * once, and librelp drops what it held unacknowledged.
	 */
	up = r->up;
	errors = r->errors;
	pthread_mutex_unlock(&r->lock);
	relpEngineCltDestruct(r->engine, &r->clt);
	pthread_mutex_lock(&r->lock);
	r->clean = up ? r->errors == errors : !r->accepted;
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

/* --- the interface ---------------------------------------------------- */

/* HOST[:PORT] of a relp:// target into r, resolved. */
static int parse(const char *target, const char *label, char *host,
		 char *port)
{
	const struct transport_defaults def = {
		.label = label,
		.port = RELP_DEFAULT_PORT,
	};

	return transport_host_port(target, target + strlen(RELP_SCHEME), &def,
				   host, port);
}

int relp_check(const char *target, const char *label)
{
	char host[256], port[8];

	return parse(target, label, host, port);
}

static void relp_free(struct relp_out *r)
{
	if (r->clt)
		relpEngineCltDestruct(r->engine, &r->clt);
	if (r->engine)
		relpEngineDestruct(&r->engine);
	pthread_cond_destroy(&r->wake);
	pthread_mutex_destroy(&r->lock);
	free(r->ring);
	free(r);
}

/* librelp's engine and client, set up as the sender wants them. */
static int relp_setup(struct relp_out *r)
{
	if (relpEngineConstruct(&r->engine) != RELP_RET_OK)
		return -ENOMEM;
	/* NULL: librelp's silent one; an engine starts with none at all. */
	if (relpEngineSetDbgprint(r->engine, NULL) != RELP_RET_OK ||
	    relpEngineSetEnableCmd(r->engine, (unsigned char *)"syslog",
				   eRelpCmdState_Required) != RELP_RET_OK ||
	    relpEngineSetOnErr(r->engine, on_err) != RELP_RET_OK ||
	    relpEngineSetOnGenericErr(r->engine, on_generic_err) != RELP_RET_OK ||
	    relpEngineCltConstruct(r->engine, &r->clt) != RELP_RET_OK ||
	    relpCltSetUsrPtr(r->clt, r) != RELP_RET_OK ||
	    relpCltSetTimeout(r->clt, RELP_TIMEOUT) != RELP_RET_OK ||
	    relpCltSetConnTimeout(r->clt, RELP_CONN_TIMEOUT) != RELP_RET_OK ||
	    relpCltSetWindowSize(r->clt, RELP_WINDOW) != RELP_RET_OK)
		return -ENOMEM;
	return 0;
}

int relp_open(struct relp_out **out, struct sink *s, const char *target,
	      const char *label)
{
	struct relp_out *r = calloc(1, sizeof(*r));
	pthread_condattr_t ca;
	sigset_t all, old;
	int err;

	if (!r) {
		pr_err("out of memory");
		return -ENOMEM;
	}
	r->s = s;
	r->label = label;
	snprintf(r->name, sizeof(r->name), "%s", target);
	pthread_mutex_init(&r->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->wake, &ca);
	pthread_condattr_destroy(&ca);
	err = parse(target, label, r->host, r->port);
	if (err) {
		relp_free(r);
		return err;
	}
	r->ring = malloc(RELP_QUEUE_BYTES);
	err = r->ring ? relp_setup(r) : -ENOMEM;
	if (err) {
		pr_err("%s %s: cannot set up librelp: %s", label, target,
		       strerror(-err));
		relp_free(r);
		return err;
	}
	/* Signals are the capture thread's: it waits for them. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = -pthread_create(&r->thread, NULL, sender, r);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		pr_err("%s %s: cannot start a thread: %s", label, target,
		       strerror(-err));
		relp_free(r);
		return err;
	}
	*out = r;
	return 0;
}

void relp_send(struct relp_out *r, const char *msg, size_t len)
{
	uint32_t n = len;
	bool up;

	pthread_mutex_lock(&r->lock);
	if (len > RELP_MSG_MAX ||
	    r->tail - r->head + sizeof(n) + len > RELP_QUEUE_BYTES) {
		r->overflow++;
		up = r->up;
		pthread_mutex_unlock(&r->lock);
		r->s->failed++;
		if (up && !r->full) {
			pr_warn("%s %s: the receiver does not keep up; queue full, counting lost records",
				r->label, r->name);
			r->full = true;
			r->failed_at_full = r->s->failed - 1;
		}
		return;
	}
	ring_put(r, r->tail, &n, sizeof(n));
	ring_put(r, r->tail + sizeof(n), msg, len);
	r->tail += sizeof(n) + len;
	if (!r->queued++)
		pthread_cond_signal(&r->wake);
	pthread_mutex_unlock(&r->lock);
}

/*
 * Every record accepted more than RELP_WINDOW records ago was
 * acknowledged (relp.h): written. One more for every reconnect: librelp
 * resends its window and takes one message before it waits again for
 * the window to have room (relpSessTryReestablish() leaves the session
 * ready to send however full the window is).
 */
static uint64_t confirmed(const struct relp_out *r)
{
	uint64_t open = RELP_WINDOW + r->reconnects;

	return r->accepted > open ? r->accepted - open : 0;
}

void relp_flush(struct relp_out *r)
{
	uint64_t queued;

	pthread_mutex_lock(&r->lock);
	r->s->written = confirmed(r);
	queued = r->queued;
	pthread_mutex_unlock(&r->lock);
	if (r->full && !queued) {
		pr_info("%s %s: the receiver caught up; %llu records lost while the queue was full",
			r->label, r->name,
			(unsigned long long)(r->s->failed - r->failed_at_full));
		r->full = false;
	}
}

void relp_reopen(struct relp_out *r)
{
	pthread_mutex_lock(&r->lock);
	r->retry_now = true;
	pthread_cond_signal(&r->wake);
	pthread_mutex_unlock(&r->lock);
}

void relp_close(struct relp_out *r)
{
	pthread_mutex_lock(&r->lock);
	r->stopping = true;
	r->stop_at = clock_mono_ns() + RELP_DRAIN_NS;
	pthread_cond_signal(&r->wake);
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->thread, NULL);
	/* The thread is gone: no lock needed. */
	r->s->written = r->clean ? r->accepted : confirmed(r);
	/* Counted as lost: the summary, printed after close, says so. */
	r->s->failed += r->queued + (r->accepted - r->s->written);
	relp_free(r);
}
