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
	memset(r, 0, sizeof(*r));
}

/*
 * As the kernel searches: the largest i in [chunks[c], chunks[c + 1]]
 * with start[i] <= addr, start[chunks[c]] <= addr holding always.
 */
uint64_t list_ranges_lookup(const struct list_ranges *r, unsigned int bits,
			    uint64_t hi, uint64_t lo)
{
	const void *rg = bits == 32 ? (const void *)r->v4 : (const void *)r->v6;
	const uint32_t *chunks = bits == 32 ? r->v4_chunks : r->v6_chunks;
	u128 addr = bits == 32 ? (u128)(uint32_t)hi : (u128)hi << 64 | lo;
	uint32_t c = addr >> (bits - HDRLOG_CHUNK_BITS);
	uint32_t first = chunks[c], end = chunks[c + 1] + 1, mid;
	int step;

	for (step = 0; step < HDRLOG_SEARCH_STEPS && end - first > 1; step++) {
		mid = first + (end - first) / 2;
		if (range_start(rg, bits, mid) <= addr)
			first = mid;
		else
			end = mid;
	}
	return range_mask(rg, bits, first);
}
