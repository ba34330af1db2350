// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The flow table's sweep. Once a second the whole table is read in
 * batches (bpf_map_lookup_batch: one system call per 1024 flows, where
 * get_next_key and lookup take two per flow) and each flow is judged:
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
 *   - at exit (shutdown), every flow left: reason shutdown (or rst/fin
 *     when it had ended).
 *
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

#define BATCH			1024
#define CLOSED_WAIT_NS		1000000000ull
#define NS			1000000000ull

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
	uint64_t idle_ns;
	uint64_t active_ns;
	void *reported;		/* tsearch() tree of struct reported */
	bool warned;
	struct hdrlog_flow_key keys[BATCH];
	struct hdrlog_flow values[BATCH];
	struct hdrlog_flow_key *doomed[BATCH];	/* to delete */
};

static int key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct hdrlog_flow_key));
}

struct flow_table *flow_table_new(int map_fd, uint32_t idle_timeout,
				  uint32_t active_timeout)
{
	struct flow_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->fd = map_fd;
	t->idle_ns = idle_timeout * NS;
	t->active_ns = active_timeout * NS;
	return t;
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

int flow_table_sweep(struct flow_table *t, uint64_t now, bool shutdown,
		     const struct decode_ctx *ctx, flow_emit_fn emit,
		     void *emit_ctx, uint64_t exported[FLOW_END_SHUTDOWN + 1])
{
	/* the hash map's batch token is a bucket index: 4 bytes */
	uint64_t in = 0, out = 0;
	bool first = true;

	for (;;) {
		__u32 n = BATCH, n_doomed = 0;
		int err = bpf_map_lookup_batch(t->fd, first ? NULL : &in, &out,
					       t->keys, t->values, &n, NULL);

		if (err && errno != ENOENT) {
			if (!t->warned)
				pr_err("cannot read the flow table: %s; flows are not exported",
				       strerror(errno));
			t->warned = true;
			return -1;
		}
		for (__u32 i = 0; i < n; i++)
			if (judge(t, &t->keys[i], &t->values[i], now, shutdown,
				  ctx, emit, emit_ctx, exported))
				t->doomed[n_doomed++] = &t->keys[i];
		for (__u32 i = 0; i < n_doomed; i++)
			bpf_map_delete_elem(t->fd, t->doomed[i]);
		if (err)	/* ENOENT: that was the last batch */
			return 0;
		in = out;
		first = false;
	}
}
