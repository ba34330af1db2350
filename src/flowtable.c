// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The flow table's sweep, once a second. Reading the whole table every
 * second cost a third of a core at a million flows (224 MB copied per
 * sweep), so each tick reads a slice of it (bpf_map_lookup_batch, one
 * system call per 1024 flows, the batch token carried from tick to tick)
 * and a pass over the whole table takes sweep_round ticks: each flow is
 * judged every sweep_round seconds (1 to 5: a third of the idle timeout),
 * and what it is due is found that much later at most. Flows that end
 * with RST or FIN cannot wait for that: the kernel queues their keys as
 * they end (flows_ended, bpf/flows.bpf.h) and each tick judges those
 * first, by key. Each flow is judged:
 *
 *   - RST seen, or FIN seen both ways, and no frame for CLOSED_WAIT_NS:
 *     exported and deleted, reason rst or fin. The wait keeps the last
 *     ACK after the FINs in the flow instead of starting a new one.
 *   - no frame for the idle timeout: exported and deleted, reason fin if
 *     a FIN was seen, else idle.
 *   - running for the active timeout since it started or was last
 *     reported: reported, reason active, and kept. Its counts are the
 *     deltas since the previous report (what IPFIX collectors and nfdump
 *     add up; the totals are the sum of a flow's records), and its start
 *     is the previous report's end. A userspace node per reported flow
 *     remembers what was reported.
 *   - at exit (shutdown), every flow left, in one whole pass: reason
 *     shutdown (or rst/fin when it had ended); none deleted, the map goes
 *     with the process.
 *
 * What a tick deletes goes in one bpf_map_delete_batch per 1024 flows.
 * A frame that arrives between the read of a flow and its delete is not
 * counted: the flow had been idle for seconds, so this is the rare last
 * retransmission, and it then starts a new flow of its own.
 */
#include <errno.h>
#include <search.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "clock.h"
#include "flowtable.h"
#include "log.h"
#include "mapwalk.h"

#define BATCH			1024
#define CLOSED_WAIT_NS		1000000000ull
#define NS			1000000000ull
#define SWEEP_ROUND_MAX		5	/* ticks per pass over the table */
#define PENDING_MAX		8192	/* ended flows waiting for CLOSED_WAIT */

#define TH_FIN	0x01
#define TH_RST	0x04

/* What earlier active reports of a flow said. */
struct reported {
	struct hdrlog_flow_key key;
	uint64_t pkts[2];
	uint64_t bytes[2];
	uint64_t dropped;
	uint64_t at_ns;		/* mono: the last report's flow last_ns */
};

struct flow_table {
	int fd;
	int ended_fd;		/* queue of keys of flows that ended */
	uint64_t idle_ns;
	uint64_t active_ns;
	void *reported;		/* tsearch() tree of struct reported */
	bool warned;
	/* the pass in progress */
	unsigned int sweep_round;	/* ticks per pass */
	unsigned int tick;		/* of this pass, from 0 */
	struct map_walk walk;		/* its cursor: where the next tick goes on */
	uint64_t pass_flows;		/* flows read in this pass */
	uint64_t last_pass_flows;	/* and in the previous one */
	/* ended flows, by key, until CLOSED_WAIT_NS has passed */
	struct hdrlog_flow_key pending[PENDING_MAX];
	unsigned int n_pending;
	struct hdrlog_flow_key keys[BATCH];
	struct hdrlog_flow values[BATCH];
	struct hdrlog_flow_key doomed[BATCH];	/* to delete */
	unsigned int n_doomed;
};

static int key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct hdrlog_flow_key));
}

struct flow_table *flow_table_new(int map_fd, int ended_fd,
				  uint32_t idle_timeout, uint32_t active_timeout)
{
	struct flow_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->fd = map_fd;
	t->ended_fd = ended_fd;
	t->idle_ns = idle_timeout * NS;
	t->active_ns = active_timeout * NS;
	t->sweep_round = flow_table_sweep_round(idle_timeout);
	t->walk = (struct map_walk){ .fd = map_fd, .keys = t->keys,
				     .vals = t->values, .batch = BATCH };
	return t;
}

unsigned int flow_table_sweep_round(uint32_t idle_timeout)
{
	unsigned int round = idle_timeout / 3;

	return round < 1 ? 1 : round > SWEEP_ROUND_MAX ? SWEEP_ROUND_MAX : round;
}

static void free_node(void *p)
{
	free(p);
}

void flow_table_free(struct flow_table *t)
{
	if (!t)
		return;
	tdestroy(t->reported, free_node);
	free(t);
}

/* What is due for v now: a reason, or -1 for nothing yet. */
static int due(const struct flow_table *t, const struct hdrlog_flow_key *k,
	       const struct hdrlog_flow *v, const struct reported *r,
	       uint64_t now, bool shutdown)
{
	uint64_t idle = now > v->last_ns ? now - v->last_ns : 0;
	uint64_t f = k->ip_proto == 6 ? v->tcp_flags : 0;
	bool rst = f & (TH_RST | TH_RST << 8);
	bool fin_both = (f & TH_FIN) && (f & TH_FIN << 8);
	uint64_t since = r ? r->at_ns : v->first_ns;

	if (rst && (shutdown || idle >= CLOSED_WAIT_NS))
		return FLOW_END_RST;
	if (fin_both && (shutdown || idle >= CLOSED_WAIT_NS))
		return FLOW_END_FIN;
	if (shutdown)
		return FLOW_END_SHUTDOWN;
	if (idle >= t->idle_ns)
		return f & (TH_FIN | TH_FIN << 8) ? FLOW_END_FIN : FLOW_END_IDLE;
	if (v->last_ns > since && v->last_ns - since >= t->active_ns)
		return FLOW_END_ACTIVE;
	return -1;
}

/* Counts since the last report, and the report's start. */
static void make_delta(struct event *e, const struct reported *r,
		       const struct decode_ctx *ctx)
{
	struct event_flow *f = &e->flow;

	f->pkts_toserver -= r->pkts[0];
	f->pkts_toclient -= r->pkts[1];
	f->bytes_toserver -= r->bytes[0];
	f->bytes_toclient -= r->bytes[1];
	f->dropped_pkts -= r->dropped;
	f->start_ns = clock_map_realtime(ctx->clock, r->at_ns);
	e->duration_ns = f->end_ns - f->start_ns;
}

static void remember(struct reported *r, const struct hdrlog_flow *v)
{
	r->pkts[0] = v->pkts[0];
	r->pkts[1] = v->pkts[1];
	r->bytes[0] = v->bytes[0];
	r->bytes[1] = v->bytes[1];
	r->dropped = v->dropped;
	r->at_ns = v->last_ns;
}

/* Judge one flow; true when it is to be deleted. */
static bool judge(struct flow_table *t, const struct hdrlog_flow_key *k,
		  const struct hdrlog_flow *v, uint64_t now, bool shutdown,
		  const struct decode_ctx *ctx, flow_emit_fn emit,
		  void *emit_ctx, uint64_t *exported)
{
	struct reported **node = tfind(k, &t->reported, key_cmp);
	struct reported *r = node ? *node : NULL;
	struct event e;
	int reason = due(t, k, v, r, now, shutdown);

	if (reason < 0)
		return false;
	if (event_decode_flow(&e, k, v, ctx))
		return true;	/* cannot be: no program makes such a key */
	if (r)
		make_delta(&e, r, ctx);
	e.flow.reason = reason;
	e.flow.ended = reason != FLOW_END_ACTIVE;
	emit(emit_ctx, &e);
	exported[reason]++;
	if (reason != FLOW_END_ACTIVE) {
		if (r) {
			tdelete(k, &t->reported, key_cmp);
			free(r);
		}
		return true;
	}
	if (!r) {
		r = calloc(1, sizeof(*r));
		if (!r)
			return false;	/* the next report repeats the totals */
		r->key = *k;
		if (!tsearch(r, &t->reported, key_cmp)) {
			free(r);
			return false;
		}
	}
	remember(r, v);
	return false;
}

/* Delete what this tick judged done: one system call per batch. */
static void delete_doomed(struct flow_table *t)
{
	unsigned int done = 0;

	while (done < t->n_doomed) {
		__u32 n = t->n_doomed - done;

		if (!bpf_map_delete_batch(t->fd, &t->doomed[done], &n, NULL)) {
			done += n;
			continue;
		}
		/* n were deleted; the next one failed (gone already): skip it */
		bpf_map_delete_elem(t->fd, &t->doomed[done + n]);
		done += n + 1;
	}
	t->n_doomed = 0;
}

static void doom(struct flow_table *t, const struct hdrlog_flow_key *k)
{
	if (t->n_doomed == BATCH)
		delete_doomed(t);
	t->doomed[t->n_doomed++] = *k;
}

static bool tcp_ended(const struct hdrlog_flow_key *k,
		      const struct hdrlog_flow *v)
{
	uint64_t f = k->ip_proto == 6 ? v->tcp_flags : 0;

	return (f & (TH_RST | TH_RST << 8)) ||
	       ((f & TH_FIN) && (f & TH_FIN << 8));
}

/*
 * The flows the kernel said ended: judged by key every tick until their
 * CLOSED_WAIT_NS has passed. A key that no longer names an ended flow
 * (exported by the slice, then a new flow of the same key) is dropped.
 * With no room here a notice is dropped too: the slice finds the flow.
 */
static void sweep_ended(struct flow_table *t, uint64_t now,
			const struct decode_ctx *ctx, flow_emit_fn emit,
			void *emit_ctx, uint64_t *exported)
{
	struct hdrlog_flow_key k;
	struct hdrlog_flow v;
	unsigned int kept = 0;

	while (!bpf_map_lookup_and_delete_elem(t->ended_fd, NULL, &k))
		if (t->n_pending < PENDING_MAX)
			t->pending[t->n_pending++] = k;
	for (unsigned int i = 0; i < t->n_pending; i++) {
		const struct hdrlog_flow_key *pk = &t->pending[i];

		if (bpf_map_lookup_elem(t->fd, pk, &v) || !tcp_ended(pk, &v))
			continue;
		if (judge(t, pk, &v, now, false, ctx, emit, emit_ctx, exported))
			doom(t, pk);
		else
			t->pending[kept++] = *pk;
	}
	t->n_pending = kept;
	delete_doomed(t);
}

struct slice {
	struct flow_table *t;
	uint64_t now;
	bool shutdown;
	const struct decode_ctx *ctx;
	flow_emit_fn emit;
	void *emit_ctx;
	uint64_t *exported;
};

static void slice_batch(void *arg, const void *keys, const void *vals,
			uint32_t n)
{
	struct slice *s = arg;
	const struct hdrlog_flow_key *k = keys;
	const struct hdrlog_flow *v = vals;

	for (uint32_t i = 0; i < n; i++)
		if (judge(s->t, &k[i], &v[i], s->now, s->shutdown, s->ctx,
			  s->emit, s->emit_ctx, s->exported) && !s->shutdown)
			doom(s->t, &k[i]);
	delete_doomed(s->t);
	s->t->pass_flows += n;
}

/*
 * Read up to max flows from the pass's cursor on (all with max 0) and
 * judge them. Returns 1 when the pass is over, 0 when not, -1 on error.
 */
static int sweep_slice(struct flow_table *t, uint64_t max, uint64_t now,
		       bool shutdown, const struct decode_ctx *ctx,
		       flow_emit_fn emit, void *emit_ctx, uint64_t *exported)
{
	struct slice s = { t, now, shutdown, ctx, emit, emit_ctx, exported };
	int done = map_walk(&t->walk, max, slice_batch, &s);

	if (done < 0) {
		if (!t->warned)
			pr_err("cannot read the flow table: %s; flows are not exported",
			       strerror(errno));
		t->warned = true;
	}
	return done;
}

int flow_table_sweep(struct flow_table *t, uint64_t now, bool shutdown,
		     const struct decode_ctx *ctx, flow_emit_fn emit,
		     void *emit_ctx, uint64_t exported[FLOW_END_SHUTDOWN + 1])
{
	uint64_t max = 0;
	int done;

	if (shutdown) {
		/* everything, from the start: what is left is exported */
		t->walk.in_pass = false;
		done = sweep_slice(t, 0, now, true, ctx, emit, emit_ctx,
				   exported);
		return done < 0 ? -1 : 0;
	}
	sweep_ended(t, now, ctx, emit, emit_ctx, exported);
	if (!t->walk.in_pass) {
		t->tick = 0;
		t->pass_flows = 0;
	}
	/*
	 * A share of what the last pass read, so that the pass takes
	 * sweep_round ticks; the last tick reads all that is left.
	 */
	if (t->tick + 1 < t->sweep_round)
		max = t->last_pass_flows / t->sweep_round + 1;
	done = sweep_slice(t, max, now, false, ctx, emit, emit_ctx, exported);
	if (done < 0)
		return -1;
	t->tick++;
	if (done)
		t->last_pass_flows = t->pass_flows;
	return 0;
}
