// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The range tables. Sorted by (address, length), each prefix lies inside
 * the innermost still open one or after it has ended, so a stack of open
 * prefixes knows, at every boundary, the longest prefix covering what
 * follows: entering a prefix starts its mask (already the union of every
 * list covering it), leaving one restores its parent's, or 0. Each prefix
 * adds at most two boundaries, so a set of n makes at most 2n + 1 ranges.
 *
 * The table is built as a step function: emitting (start, mask) sets the
 * mask from start on. A boundary at the last one's start (a prefix and a
 * nested one starting together, or several ending together) overwrites
 * it rather than adding an empty range, and an unchanged mask adds
 * nothing, so no two neighbours share a mask.
 *
 * One body serves both families, as in bpf/lists.bpf.h: addresses are
 * 128-bit numbers, bits (32 or 128) says how many of them are used and
 * which record.h layout a range has.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "ranges.h"

typedef unsigned __int128 u128;

#define MAX_RANGES	(1u << HDRLOG_SEARCH_STEPS)

/* The highest address of a family. */
static inline u128 top_of(unsigned int bits)
{
	return bits == 128 ? ~(u128)0 : ((u128)1 << bits) - 1;
}

static inline size_t entries_of(const struct list_set *set, unsigned int bits)
{
	return bits == 32 ? set->n_v4 : set->n_v6;
}

static inline void entry_get(const struct list_set *set, unsigned int bits,
			     size_t i, u128 *start, unsigned int *len,
			     uint64_t *mask)
{
	if (bits == 32) {
		*start = set->v4[i].addr;
		*len = set->v4[i].len;
		*mask = set->v4[i].mask;
	} else {
		*start = (u128)set->v6[i].hi << 64 | set->v6[i].lo;
		*len = set->v6[i].len;
		*mask = set->v6[i].mask;
	}
}

static inline size_t range_size(unsigned int bits)
{
	return bits == 32 ? sizeof(struct hdrlog_range_v4)
			  : sizeof(struct hdrlog_range_v6);
}

static inline u128 range_start(const void *rg, unsigned int bits, size_t i)
{
	const struct hdrlog_range_v6 *r6;

	if (bits == 32)
		return ((const struct hdrlog_range_v4 *)rg)[i].start;
	r6 = (const struct hdrlog_range_v6 *)rg + i;
	return (u128)r6->start_hi << 64 | r6->start_lo;
}

static inline uint64_t range_mask(const void *rg, unsigned int bits, size_t i)
{
	if (bits == 32)
		return ((const struct hdrlog_range_v4 *)rg)[i].mask;
	return ((const struct hdrlog_range_v6 *)rg)[i].mask;
}

static inline void range_set_mask(void *rg, unsigned int bits, size_t i,
				  uint64_t mask)
{
	if (bits == 32)
		((struct hdrlog_range_v4 *)rg)[i].mask = mask;
	else
		((struct hdrlog_range_v6 *)rg)[i].mask = mask;
}

static inline void range_put(void *rg, unsigned int bits, size_t i,
			     u128 start, uint64_t mask)
{
	if (bits == 32) {
		struct hdrlog_range_v4 *r4 = (struct hdrlog_range_v4 *)rg + i;

		r4->start = (uint32_t)start;
		r4->pad = 0;
		r4->mask = mask;
	} else {
		struct hdrlog_range_v6 *r6 = (struct hdrlog_range_v6 *)rg + i;

		r6->start_hi = start >> 64;
		r6->start_lo = (uint64_t)start;
		r6->mask = mask;
	}
}

static inline void emit(void *rg, unsigned int bits, size_t *n, u128 start,
			uint64_t mask)
{
	size_t i = *n;

	if (range_start(rg, bits, i - 1) == start) {
		if (i >= 2 && range_mask(rg, bits, i - 2) == mask)
			*n = i - 1;
		else
			range_set_mask(rg, bits, i - 1, mask);
	} else if (range_mask(rg, bits, i - 1) != mask) {
		range_put(rg, bits, i, start, mask);
		*n = i + 1;
	}
}

/*
 * Inlined at each call, as the kernel's lookup_range() is: bits is then a
 * constant and each family gets its own loop without the tests on it.
 */
#define PER_WIDTH	static inline __attribute__((always_inline))

/* One family's ranges into *out, *n_out of them. */
PER_WIDTH int ranges_cut(void **out, size_t *n_out,
			 const struct list_set *set, unsigned int bits)
{
	struct { u128 end; uint64_t mask; } st[129];	/* one per length */
	const size_t n_in = entries_of(set, bits);
	const u128 top = top_of(bits);
	size_t i, n = 1;
	void *rg;
	int sp = 0;

	rg = malloc((2 * n_in + 1) * range_size(bits));
	if (!rg)
		return -1;
	range_put(rg, bits, 0, 0, 0);
	for (i = 0; i < n_in; i++) {
		unsigned int len;
		uint64_t mask;
		u128 start;

		entry_get(set, bits, i, &start, &len, &mask);
		while (sp && st[sp - 1].end < start) {
			sp--;
			emit(rg, bits, &n, st[sp].end + 1,
			     sp ? st[sp - 1].mask : 0);
		}
		emit(rg, bits, &n, start, mask);
		st[sp].end = start | (len < bits ? top >> len : 0);
		st[sp++].mask = mask;
	}
	/* one ending at the top of the space ends its parents there too */
	while (sp && st[sp - 1].end != top) {
		sp--;
		emit(rg, bits, &n, st[sp].end + 1, sp ? st[sp - 1].mask : 0);
	}
	*out = realloc(rg, n * range_size(bits)) ?: rg;
	*n_out = n;
	return 0;
}

/*
 * chunks[c], the range holding chunk c's first address, is the number of
 * ranges after the first that start at or before it: a count per chunk of
 * the range starts rounding up to it, summed, without the unpredictable
 * branch of walking ranges and chunks side by side. A start past the last
 * chunk's base counts into the sentinel's slot, which is then set. A
 * lookup searches chunks[c]..chunks[c + 1], never more than all n ranges,
 * which n < MAX_RANGES keeps within the kernel's HDRLOG_SEARCH_STEPS.
 */
PER_WIDTH uint32_t *chunks_index(const void *rg, unsigned int bits, size_t n)
{
	const unsigned int shift = bits - HDRLOG_CHUNK_BITS;
	const u128 in_chunk = ((u128)1 << shift) - 1;
	uint32_t *ch = calloc(HDRLOG_CHUNKS, sizeof(*ch));
	size_t i;
	uint32_t c;

	if (!ch)
		return NULL;
	/* rounded up without adding: a v6 start near the top would wrap */
	for (i = 1; i < n; i++) {
		u128 start = range_start(rg, bits, i);

		ch[(size_t)(start >> shift) + !!(start & in_chunk)]++;
	}
	for (c = 1; c < HDRLOG_CHUNKS - 1; c++) {
		ch[c] += ch[c - 1];
		assert(ch[c] + 1 - ch[c - 1] < MAX_RANGES);
	}
	ch[c] = n - 1;
	return ch;
}

/*
 * The tree over the ranges (record.h): leaves of HDRLOG_NODE_KEYS ranges
 * each, then level after level of inner nodes over the one below, each
 * key the first start under its child, until one node is left. The keys
 * past a node's n repeat its last key and mask (record.h says why); the
 * tables' bytes do not depend on what malloc left.
 */
static inline size_t node_size(unsigned int bits)
{
	return bits == 32 ? sizeof(struct hdrlog_node_v4)
			  : sizeof(struct hdrlog_node_v6);
}

PER_WIDTH void node_put(void *nodes, unsigned int bits, size_t i,
			unsigned int k, u128 start, uint64_t mask)
{
	if (bits == 32) {
		struct hdrlog_node_v4 *n4 = (struct hdrlog_node_v4 *)nodes + i;

		n4->start[k] = (uint32_t)start;
		n4->mask[k] = mask;
	} else {
		struct hdrlog_node_v6 *n6 = (struct hdrlog_node_v6 *)nodes + i;

		n6->start_hi[k] = start >> 64;
		n6->start_lo[k] = (uint64_t)start;
		n6->mask[k] = mask;
	}
}

PER_WIDTH void node_link(void *nodes, unsigned int bits, size_t i,
			 uint32_t child, uint32_t n)
{
	if (bits == 32) {
		((struct hdrlog_node_v4 *)nodes)[i].child = child;
		((struct hdrlog_node_v4 *)nodes)[i].n = n;
	} else {
		((struct hdrlog_node_v6 *)nodes)[i].child = child;
		((struct hdrlog_node_v6 *)nodes)[i].n = n;
	}
}

PER_WIDTH u128 node_key(const void *nodes, unsigned int bits, size_t i,
			unsigned int k)
{
	const struct hdrlog_node_v6 *n6;

	if (bits == 32)
		return ((const struct hdrlog_node_v4 *)nodes)[i].start[k];
	n6 = (const struct hdrlog_node_v6 *)nodes + i;
	return (u128)n6->start_hi[k] << 64 | n6->start_lo[k];
}

PER_WIDTH uint64_t node_mask(const void *nodes, unsigned int bits, size_t i,
			     unsigned int k)
{
	if (bits == 32)
		return ((const struct hdrlog_node_v4 *)nodes)[i].mask[k];
	return ((const struct hdrlog_node_v6 *)nodes)[i].mask[k];
}

PER_WIDTH uint32_t node_child(const void *nodes, unsigned int bits, size_t i)
{
	if (bits == 32)
		return ((const struct hdrlog_node_v4 *)nodes)[i].child;
	return ((const struct hdrlog_node_v6 *)nodes)[i].child;
}

PER_WIDTH uint32_t node_n(const void *nodes, unsigned int bits, size_t i)
{
	if (bits == 32)
		return ((const struct hdrlog_node_v4 *)nodes)[i].n;
	return ((const struct hdrlog_node_v6 *)nodes)[i].n;
}

#define KEYS	HDRLOG_NODE_KEYS
#define DIV_UP(a, b)	(((a) + (b) - 1) / (b))

/*
 * The nodes of one family, from its n ranges, and where each level
 * starts in base (list_ranges_chunk() needs it).
 */
PER_WIDTH int tree_build(void **nodes_out, size_t *n_nodes, size_t *base,
			 const void *rg, unsigned int bits, size_t n)
{
	size_t count[HDRLOG_TREE_LEVELS];
	size_t total = 0, i, levels = 0;
	void *nodes;

	for (size_t below = n; levels < HDRLOG_TREE_LEVELS; levels++) {
		count[levels] = DIV_UP(below, KEYS);
		base[levels] = total;
		total += count[levels];
		if (count[levels] == 1)
			break;
		below = count[levels];
	}
	assert(levels < HDRLOG_TREE_LEVELS);	/* n < MAX_RANGES */
	nodes = calloc(total, node_size(bits));
	if (!nodes)
		return -1;
	for (i = 0; i < n; i++)
		node_put(nodes, bits, i / KEYS, i % KEYS,
			 range_start(rg, bits, i), range_mask(rg, bits, i));
	for (i = 0; i < count[0]; i++)
		node_link(nodes, bits, i, 0,
			  i + 1 < count[0] ? KEYS : n - i * KEYS);
	for (size_t l = 1; l <= levels; l++) {
		for (i = 0; i < count[l]; i++) {
			size_t first = i * KEYS, k;
			size_t nk = first + KEYS <= count[l - 1] ?
				    KEYS : count[l - 1] - first;

			for (k = 0; k < nk; k++)
				node_put(nodes, bits, base[l] + i, k,
					 node_key(nodes, bits,
						  base[l - 1] + first + k, 0),
					 0);
			node_link(nodes, bits, base[l] + i,
				  base[l - 1] + first, nk);
		}
	}
	/* a node's last key and mask again up to its end: see record.h */
	for (i = 0; i < total; i++) {
		uint32_t nk = node_n(nodes, bits, i), k;

		for (k = nk; k < KEYS; k++)
			node_put(nodes, bits, i, k,
				 node_key(nodes, bits, i, nk - 1),
				 node_mask(nodes, bits, i, nk - 1));
	}
	*nodes_out = nodes;
	*n_nodes = total;
	return 0;
}

/*
 * Level l's node holding range i is i >> (l + 1) * HDRLOG_NODE_BITS; a
 * chunk's subtree is the lowest such node holding both its first and
 * its last range. Worked out per chunk, not kept: a table of them is
 * 16 MiB a family, which the loader writes straight into the map.
 */
void list_ranges_chunk(const struct list_ranges *r, unsigned int bits,
		       uint32_t c, struct hdrlog_chunk *out)
{
	const uint32_t *ch = bits == 32 ? r->v4_chunks : r->v6_chunks;
	const size_t *base = bits == 32 ? r->v4_base : r->v6_base;
	uint32_t first = ch[c], last = ch[c + 1];
	unsigned int l = 0;

	memset(out, 0, sizeof(*out));
	if (first == last) {
		out->mask = bits == 32 ? r->v4[first].mask : r->v6[first].mask;
		return;
	}
	while (first >> (l + 1) * HDRLOG_NODE_BITS !=
	       last >> (l + 1) * HDRLOG_NODE_BITS)
		l++;
	out->node = base[l] + (first >> (l + 1) * HDRLOG_NODE_BITS);
	out->levels = l + 1;
	out->first = first >> l * HDRLOG_NODE_BITS & (KEYS - 1);
	out->end = (last >> l * HDRLOG_NODE_BITS & (KEYS - 1)) + 1;
}

static int too_many_ranges(unsigned int bits, size_t n)
{
	if (n < MAX_RANGES)
		return 0;
	pr_err("the lists cut the %s space into %zu ranges, more than the %u the kernel's lookup can search; use fewer or less scattered prefixes",
	       bits == 32 ? "IPv4" : "IPv6", n, MAX_RANGES - 1);
	return -1;
}

int list_ranges_build(struct list_ranges *r, const struct list_set *set)
{
	memset(r, 0, sizeof(*r));
	if (ranges_cut((void **)&r->v4, &r->n_v4, set, 32) ||
	    ranges_cut((void **)&r->v6, &r->n_v6, set, 128))
		goto nomem;
	if (too_many_ranges(32, r->n_v4) || too_many_ranges(128, r->n_v6))
		goto fail;
	r->v4_chunks = chunks_index(r->v4, 32, r->n_v4);
	r->v6_chunks = chunks_index(r->v6, 128, r->n_v6);
	if (!r->v4_chunks || !r->v6_chunks)
		goto nomem;
	if (tree_build((void **)&r->v4_nodes, &r->n_v4_nodes, r->v4_base,
		       r->v4, 32, r->n_v4) ||
	    tree_build((void **)&r->v6_nodes, &r->n_v6_nodes, r->v6_base,
		       r->v6, 128, r->n_v6))
		goto nomem;
	return 0;
nomem:
	pr_err("out of memory building the lists' range tables");
fail:
	list_ranges_free(r);
	return -1;
}

void list_ranges_free(struct list_ranges *r)
{
	free(r->v4);
	free(r->v4_chunks);
	free(r->v6);
	free(r->v6_chunks);
	free(r->v4_nodes);
	free(r->v6_nodes);
	memset(r, 0, sizeof(*r));
}

/*
 * As the kernel searches (bpf/lists.bpf.h): from the chunk's subtree
 * down, in each node the last key at or below addr, among the chunk's
 * keys in the root, the first key searched always being so.
 */
uint64_t list_ranges_lookup(const struct list_ranges *r, unsigned int bits,
			    uint64_t hi, uint64_t lo)
{
	const void *nodes = bits == 32 ? (const void *)r->v4_nodes
				       : (const void *)r->v6_nodes;
	u128 addr = bits == 32 ? (u128)(uint32_t)hi : (u128)hi << 64 | lo;
	struct hdrlog_chunk c_;
	const struct hdrlog_chunk *c = &c_;
	uint32_t node, level, first, end, mid;

	list_ranges_chunk(r, bits, addr >> (bits - HDRLOG_CHUNK_BITS), &c_);
	if (!c->levels)
		return c->mask;
	node = c->node;
	first = c->first;
	end = c->end;
	for (level = 1; level <= HDRLOG_TREE_LEVELS; level++) {
		int step;

		if (level == 1) {
			for (step = 0; step < HDRLOG_NODE_BITS &&
			     end - first > 1; step++) {
				mid = (first + end) / 2 % KEYS;
				if (node_key(nodes, bits, node, mid) <= addr)
					first = mid;
				else
					end = mid;
			}
		} else {
			/* all keys, by halves: the padding repeats the last */
			first = 0;
			for (mid = KEYS / 2; mid; mid /= 2)
				if (node_key(nodes, bits, node, first + mid) <=
				    addr)
					first += mid;
			if (first >= node_n(nodes, bits, node))
				first = node_n(nodes, bits, node) - 1;
		}
		first %= KEYS;
		if (level >= c->levels)
			return node_mask(nodes, bits, node, first);
		node = node_child(nodes, bits, node) + first;
	}
	return 0;
}
