// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The flow table's sweep, once a second. The flows' counts are in
 * flow_slots (bpf/flows.bpf.h), an array mapped here and read in place:
 * about 15 ns a slot, where copying a hash out through the kernel
 * (bpf_map_lookup_batch) cost about 0.5 us a flow at a million flows.
 * Each tick still reads only a slice of the slots, so that a pass over
 * the table takes sweep_round ticks (1 to 5: a third of the idle
 * timeout), and each flow is judged that often: at a million flows a
 * whole pass a second would cost a few percent of a CPU for nothing.
 * A pass reads only the slots the kernel has handed out: it takes
 * never-used slots in order (flow_slots_fresh), so a big --flow-table
 * that few flows ever used costs little to sweep.
 * Flows that end with RST or FIN cannot wait for their slice: the kernel
 * queues their slots as they end (flows_ended) and each tick judges
 * those first. Each flow is judged:
 *
 *   - RST seen, or FIN seen both ways, and no frame for CLOSED_WAIT_NS:
 *     exported and taken out, reason rst or fin. The wait keeps the last
 *     ACK after the FINs in the flow instead of starting a new one.
 *   - no frame for the idle timeout: exported and taken out, reason fin if
 *     a FIN was seen, else idle.
 *   - running for the active timeout since it started or was last
 *     reported: reported, reason active, and kept. Its counts are the
 *     deltas since the previous report (what IPFIX collectors and nfdump
 *     add up; the totals are the sum of a flow's records), and its start
 *     is the previous report's end. A userspace node per reported flow
 *     remembers what was reported.
 *   - at exit (shutdown), every flow left, in one whole pass: reason
 *     shutdown (or rst/fin when it had ended); none taken out, the maps go
 *     with the process.
 *
 * Taking a flow out of the table costs no system call, only stores to
 * the mapped arrays (the states are in bpf/flows.bpf.h). Its slot turns
 * GONE as its record is made: it matches no key from then on (a later
 * frame starts a new flow of its own) and no later read here judges it
 * again. At the end of a tick at least RETIRE_NS after that, its index
 * entry turns into a tombstone and the slot goes to the free ring, for
 * the kernel to reuse (the grace period: a frame that matched the key
 * just before may still be adding to it). The next tick looks at the
 * tombstones made: one with an EMPTY entry after it turns EMPTY again,
 * and so do the tombstones before it: no probe chain passes them. A
 * frame that the kernel counts between this read of a flow and the GONE
 * (microseconds), or that matched the key just before, is not in the
 * record: the flow had been idle for seconds or had ended, so this is
 * the rare last retransmission.
 */
#include <errno.h>
#include <search.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <bpf/bpf.h>

#include "clock.h"
#include "flowtable.h"
#include "log.h"

#define CLOSED_WAIT_NS		1000000000ull
#define NS			1000000000ull
#define SWEEP_ROUND_MAX		5	/* ticks per pass over the table */
#define PENDING_MAX		8192	/* ended flows waiting for CLOSED_WAIT */
/*
 * From a slot's GONE to its reuse, at least: programs that matched the
 * key before are long done (they run for microseconds); in practice the
 * end of the next tick, a second later.
 */
#define RETIRE_NS		(NS / 2)

#define TH_FIN	0x01
#define TH_RST	0x04

/*
 * What earlier active reports of a flow said. Found by key and first_ns:
 * the insert race bpf/flows.bpf.h leaves puts one key in two slots, and
 * each slot's reports are deltas of its own counts only.
 */
struct reported {
	struct hdrlog_flow_key key;
	uint64_t first_ns;
	uint64_t pkts[2];
	uint64_t bytes[2];
	uint64_t dropped;
	uint64_t at_ns;		/* mono: the last report's flow last_ns */
};

struct flow_table {
	struct flow_table_maps maps;
	struct hdrlog_flow *slots;	/* flow_slots, mapped */
	uint32_t n_slots;
	uint64_t *index;		/* flow_index, mapped */
	uint32_t n_index;
	uint64_t *free_ring;		/* flow_free_ring, mapped: n_slots */
	uint64_t free_tail;		/* ours; the kernel reads a copy */
	uint64_t idle_ns;
	uint64_t active_ns;
	void *reported;		/* tsearch() tree of struct reported */
	unsigned int sweep_round;	/* ticks per pass */
	unsigned int pass_tick;		/* ticks of this pass done */
	uint32_t cursor;		/* the slot the next tick reads from */
	/* index entries made tombstones last tick: n_slots at most */
	uint32_t *tombs;
	uint32_t n_tombs;
	/* ended flows, until CLOSED_WAIT_NS has passed */
	struct hdrlog_flow_ended pending[PENDING_MAX];
	unsigned int n_pending;
	/*
	 * GONE slots, a ring of n_slots in the order exported: [head, mark)
	 * were GONE before mark_ns, [mark, tail) since.
	 */
	uint32_t *retired;
	uint64_t head, mark, tail;
	uint64_t mark_ns;
};

static int key_cmp(const void *a, const void *b)
{
	const struct reported *x = a, *y = b;
	int c = memcmp(&x->key, &y->key, sizeof(x->key));

	return c ? c : (x->first_ns > y->first_ns) - (x->first_ns < y->first_ns);
}

/* Seconds between two visits of a flow: sweeps per pass over the table. */
static unsigned int sweep_round(uint32_t idle_timeout)
{
	unsigned int round = idle_timeout / 3;

	return round < 1 ? 1 : round > SWEEP_ROUND_MAX ? SWEEP_ROUND_MAX : round;
}

/* Map the array of fd, of values of size; NULL when it cannot be (said). */
static void *map_array(int fd, size_t size, uint32_t *n)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	void *p;

	if (bpf_obj_get_info_by_fd(fd, &info, &len) ||
	    info.value_size != size) {
		pr_err("cannot read the flow table's size");
		return NULL;
	}
	*n = info.max_entries;
	p = mmap(NULL, *n * size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		pr_err("cannot map the flow table: %s", strerror(errno));
		return NULL;
	}
	return p;
}

struct flow_table *flow_table_new(const struct flow_table_maps *maps,
				  uint32_t idle_timeout, uint32_t active_timeout)
{
	struct flow_table *t = calloc(1, sizeof(*t));
	uint32_t n_ring;

	if (!t)
		goto oom;
	t->maps = *maps;
	t->slots = map_array(maps->slots, sizeof(*t->slots), &t->n_slots);
	if (!t->slots)
		goto fail;
	t->index = map_array(maps->index, sizeof(*t->index), &t->n_index);
	if (!t->index)
		goto fail;
	t->free_ring = map_array(maps->free_ring, sizeof(*t->free_ring),
				 &n_ring);
	if (!t->free_ring)
		goto fail;
	if (n_ring != t->n_slots) {	/* cannot be: loader.c sizes both */
		pr_err("cannot read the flow table's size");
		munmap(t->free_ring, (size_t)n_ring * sizeof(*t->free_ring));
		t->free_ring = NULL;
		goto fail;
	}
	t->retired = malloc((size_t)t->n_slots * sizeof(*t->retired));
	t->tombs = malloc((size_t)t->n_slots * sizeof(*t->tombs));
	if (!t->retired || !t->tombs)
		goto oom;
	t->idle_ns = idle_timeout * NS;
	t->active_ns = active_timeout * NS;
	t->sweep_round = sweep_round(idle_timeout);
	return t;
oom:
	pr_err("out of memory");
fail:
	flow_table_free(t);
	return NULL;
}

static void free_node(void *p)
{
	free(p);
}

void flow_table_free(struct flow_table *t)
{
	if (!t)
		return;
	if (t->slots)
		munmap(t->slots, (size_t)t->n_slots * sizeof(*t->slots));
	if (t->index)
		munmap(t->index, (size_t)t->n_index * sizeof(*t->index));
	if (t->free_ring)
		munmap(t->free_ring, (size_t)t->n_slots * sizeof(*t->free_ring));
	free(t->retired);
	free(t->tombs);
	tdestroy(t->reported, free_node);
	free(t);
}

/* What is due for v now: a reason, or -1 for nothing yet. */
static int due(const struct flow_table *t, const struct hdrlog_flow *v,
	       const struct reported *r, uint64_t now, bool shutdown)
{
	uint64_t idle = now > v->last_ns ? now - v->last_ns : 0;
	uint64_t f = v->key.ip_proto == 6 ? v->tcp_flags : 0;
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
	/*
	 * last seen is a plain store of each CPU's coarse clock: one CPU's
	 * older reading can land after another's newer one, so a report's
	 * last seen may be a little before the previous report's
	 */
	if (f->start_ns > f->end_ns)
		f->start_ns = f->end_ns;
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

/* Judge one flow; true when it is to be taken out. */
static bool judge(struct flow_table *t, const struct hdrlog_flow *v,
		  uint64_t now, bool shutdown, const struct decode_ctx *ctx,
		  flow_emit_fn emit, void *emit_ctx, uint64_t *exported)
{
	const struct hdrlog_flow_key *k = &v->key;
	struct reported q = { .key = *k, .first_ns = v->first_ns };
	struct reported **node = tfind(&q, &t->reported, key_cmp);
	struct reported *r = node ? *node : NULL;
	struct event e;
	int reason = due(t, v, r, now, shutdown);

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
			tdelete(&q, &t->reported, key_cmp);
			free(r);
		}
		return true;
	}
	if (!r) {
		r = calloc(1, sizeof(*r));
		if (!r)
			return false;	/* the next report repeats the totals */
		r->key = *k;
		r->first_ns = v->first_ns;
		if (!tsearch(r, &t->reported, key_cmp)) {
			free(r);
			return false;
		}
	}
	remember(r, v);
	return false;
}

static uint64_t slot_state(const struct flow_table *t, uint32_t i)
{
	return __atomic_load_n(&t->slots[i].state, __ATOMIC_ACQUIRE);
}

/*
 * A copy of the flow in slot i, false when it holds none. The kernel
 * makes a slot LIVE after filling it (an atomic, ordered), so a LIVE
 * slot read with acquire is whole; its counts may go on changing while
 * it is copied, as they did under the kernel's own copy.
 */
static bool read_slot(const struct flow_table *t, uint32_t i,
		      struct hdrlog_flow *v)
{
	if (slot_state(t, i) != HDRLOG_FLOW_LIVE)
		return false;
	memcpy(v, &t->slots[i], sizeof(*v));
	return true;
}

/*
 * The flow in slot i was exported: out of the table. The kernel never
 * writes a LIVE slot's state, so a plain store does.
 */
static void retire(struct flow_table *t, uint32_t i)
{
	__atomic_store_n(&t->slots[i].state, HDRLOG_FLOW_GONE,
			 __ATOMIC_RELEASE);
	/* never full: a slot is retired once until it is freed */
	t->retired[t->tail++ % t->n_slots] = i;
}

/* Slot i to the free ring: the kernel sees it there once published. */
static void give_back(struct flow_table *t, uint32_t i)
{
	__atomic_store_n(&t->slots[i].state, HDRLOG_FLOW_EMPTY,
			 __ATOMIC_RELAXED);
	/* never full: a slot is in it once, and no more than there are */
	t->free_ring[t->free_tail++ % t->n_slots] = i;
}

/* The ring's new entries, to the kernel: after they are written. */
static void publish_free(struct flow_table *t)
{
	__atomic_store_n(t->maps.free_tail, t->free_tail, __ATOMIC_RELEASE);
}

/*
 * Slots GONE since RETIRE_NS ago out of the index (a tombstone: the
 * kernel never writes an entry that holds a slot) and to the free ring;
 * called at the end of a tick, so that an entry is a tombstone a whole
 * tick before empty_tombs() may see it. The next tick's sweep_tombs()
 * takes the list of them, so it holds one tick's: n_slots at most.
 */
static void free_retired(struct flow_table *t, uint64_t now)
{
	if (now < t->mark_ns + RETIRE_NS)
		return;
	for (; t->head < t->mark; t->head++) {
		uint32_t slot = t->retired[t->head % t->n_slots];
		uint32_t pos = t->slots[slot].index_pos;

		if (pos < t->n_index &&
		    (uint32_t)__atomic_load_n(&t->index[pos],
					      __ATOMIC_RELAXED) == slot) {
			__atomic_store_n(&t->index[pos], HDRLOG_FLOW_INDEX_TOMB,
					 __ATOMIC_RELAXED);
			t->tombs[t->n_tombs++] = pos;
		}
		give_back(t, slot);
	}
}

/*
 * Index entry i is a tombstone: EMPTY again if the entry after it is
 * EMPTY, and then the tombstones before it too. No probe chain can pass
 * such an entry: a chain ends at the first EMPTY entry, so no flow after
 * an EMPTY entry has its home before it; and a flow the kernel is
 * placing after it now would have seen the tombstone (there since an
 * earlier tick) and taken it or one before. The kernel may take a
 * tombstone meanwhile: a cmpxchg, and a taken entry stays as it is.
 */
static void empty_tombs(struct flow_table *t, uint32_t i)
{
	uint64_t tomb = HDRLOG_FLOW_INDEX_TOMB;

	if (__atomic_load_n(&t->index[i + 1 == t->n_index ? 0 : i + 1],
			    __ATOMIC_ACQUIRE) != HDRLOG_FLOW_INDEX_EMPTY)
		return;
	for (uint32_t done = 0; done < t->n_index; done++) {
		if (!__atomic_compare_exchange_n(&t->index[i], &tomb,
						 HDRLOG_FLOW_INDEX_EMPTY, false,
						 __ATOMIC_ACQ_REL,
						 __ATOMIC_ACQUIRE))
			return;
		i = i ? i - 1 : t->n_index - 1;
	}
}

/*
 * The tombstones the last tick made: EMPTY again where they can be. The
 * index is not read through for others: a tombstone left (the entry
 * after it holds a flow, or is a tombstone itself) can go only once that
 * next entry turns EMPTY, only empty_tombs() makes an entry EMPTY (the
 * kernel makes no entry EMPTY or a tombstone), and it walks back over
 * the tombstones before as it does. So a flow exported costs a look or
 * two here, not a read of the whole index (two entries a slot of
 * --flow-table) every pass.
 */
static void sweep_tombs(struct flow_table *t)
{
	for (uint32_t i = 0; i < t->n_tombs; i++)
		if (__atomic_load_n(&t->index[t->tombs[i]], __ATOMIC_RELAXED) ==
		    HDRLOG_FLOW_INDEX_TOMB)
			empty_tombs(t, t->tombs[i]);
	t->n_tombs = 0;
}

/* At the end of a tick, its slots freed: mark what it retired. */
static void mark_retired(struct flow_table *t)
{
	if (t->head < t->mark || t->mark == t->tail)
		return;
	t->mark = t->tail;
	t->mark_ns = clock_mono_ns();
}

/* Judge slots [from, to). */
static void sweep_slots(struct flow_table *t, uint32_t from, uint32_t to,
			uint64_t now, bool shutdown,
			const struct decode_ctx *ctx, flow_emit_fn emit,
			void *emit_ctx, uint64_t *exported)
{
	struct hdrlog_flow v;

	for (uint32_t i = from; i < to; i++) {
		/* filled by a CPU that then found its flow made by another */
		if (!shutdown && slot_state(t, i) == HDRLOG_FLOW_ORPHAN)
			give_back(t, i);
		else if (read_slot(t, i, &v) &&
			 judge(t, &v, now, shutdown, ctx, emit, emit_ctx,
			       exported) && !shutdown)
			retire(t, i);
	}
}

/*
 * Slots the kernel has handed out: it takes never-used slots in order
 * before any from the free ring, so none at or past this has held a
 * flow. Its fetch-and-add takes the count past the table when CPUs race
 * for the last fresh slots.
 */
static uint32_t slots_used(const struct flow_table *t)
{
	uint64_t n = __atomic_load_n(t->maps.slots_fresh, __ATOMIC_ACQUIRE);

	return n < t->n_slots ? (uint32_t)n : t->n_slots;
}

static bool tcp_ended(const struct hdrlog_flow *v)
{
	uint64_t f = v->key.ip_proto == 6 ? v->tcp_flags : 0;

	return (f & (TH_RST | TH_RST << 8)) ||
	       ((f & TH_FIN) && (f & TH_FIN << 8));
}

/*
 * The flows the kernel said ended: judged every tick until their
 * CLOSED_WAIT_NS has passed. A notice whose slot no longer holds that
 * flow (exported by the slice; maybe a new flow there since) is dropped.
 * With no room here a notice is dropped too: the slice finds the flow.
 */
static void sweep_ended(struct flow_table *t, uint64_t now,
			const struct decode_ctx *ctx, flow_emit_fn emit,
			void *emit_ctx, uint64_t *exported)
{
	struct hdrlog_flow_ended n;
	struct hdrlog_flow v;
	unsigned int kept = 0;

	while (!bpf_map_lookup_and_delete_elem(t->maps.ended, NULL, &n))
		if (t->n_pending < PENDING_MAX && n.slot < t->n_slots)
			t->pending[t->n_pending++] = n;
	for (unsigned int i = 0; i < t->n_pending; i++) {
		const struct hdrlog_flow_ended *p = &t->pending[i];

		if (!read_slot(t, p->slot, &v) ||
		    v.first_ns != p->first_ns || !tcp_ended(&v))
			continue;
		if (judge(t, &v, now, false, ctx, emit, emit_ctx, exported))
			retire(t, p->slot);
		else
			t->pending[kept++] = *p;
	}
	t->n_pending = kept;
}

void flow_table_sweep(struct flow_table *t, uint64_t now, bool shutdown,
		      const struct decode_ctx *ctx, flow_emit_fn emit,
		      void *emit_ctx, uint64_t exported[FLOW_END_SHUTDOWN + 1])
{
	unsigned int left = t->sweep_round - t->pass_tick;
	uint32_t to;

	if (shutdown) {
		/* every slot handed out, those taken meanwhile too */
		for (uint32_t from = 0; (to = slots_used(t)) > from; from = to)
			sweep_slots(t, from, to, now, true, ctx, emit,
				    emit_ctx, exported);
		return;
	}
	sweep_ended(t, now, ctx, emit, emit_ctx, exported);
	/*
	 * What is left of the pass over the slots handed out, shared among
	 * its ticks left: a pass takes sweep_round ticks however many the
	 * kernel hands out meanwhile. Their count only grows, so each tick
	 * ends at or past where the same tick of the pass before did: a flow
	 * is judged every sweep_round ticks at least, and a new one within
	 * sweep_round ticks (a fresh slot is past the cursor, a reused one
	 * is read by the next pass).
	 */
	to = t->cursor + (uint32_t)(((uint64_t)slots_used(t) - t->cursor +
				     left - 1) / left);
	sweep_slots(t, t->cursor, to, now, false, ctx, emit, emit_ctx,
		    exported);
	if (++t->pass_tick == t->sweep_round) {
		t->pass_tick = 0;
		t->cursor = 0;
	} else {
		t->cursor = to;
	}
	sweep_tombs(t);
	free_retired(t, clock_mono_ns());
	publish_free(t);
	mark_retired(t);
}
