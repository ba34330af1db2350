/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The named lists as the programs see them: the tables userspace fills
 * (src/ranges.c builds them; record.h says their layout), the slot in
 * force, and the lookup of an address's list mask. Used by the XDP
 * program for its verdict and by the socket programs to mark records.
 */
#ifndef HDRLOG_LISTS_BPF_H
#define HDRLOG_LISTS_BPF_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "record.h"

/* Set by userspace before load: any --*list given. */
const volatile __u8 lists_enabled;

/*
 * Which slot of the list maps is in force. Userspace fills the other slot
 * and then flips this one word, so a frame, which reads it once, sees
 * the old lists or the new ones, never a mix.
 */
volatile __u32 list_slot;

/*
 * (Sizes, not BTF types: the structs are used only through pointers here,
 * so clang would emit them as forward declarations.)
 * The list tables, two slots of each: the one in force and the one the
 * next reload fills. Chunk tables have a fixed size; range tables, the
 * nodes of each family's tree (record.h), are as long as the lists need
 * (BPF_F_INNER_MAP).
 */
struct chunk_table {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1 << HDRLOG_CHUNK_BITS);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct hdrlog_chunk));
};

struct range_table_v4 {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE | BPF_F_INNER_MAP);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct hdrlog_node_v4));
};

struct range_table_v6 {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE | BPF_F_INNER_MAP);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct hdrlog_node_v6));
};

#define SLOTS(name, inner)				\
	struct {					\
		__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);	\
		__uint(max_entries, 2);			\
		__type(key, __u32);			\
		__array(values, struct inner);		\
	} name SEC(".maps")

SLOTS(chunks_v4, chunk_table);
SLOTS(chunks_v6, chunk_table);
SLOTS(ranges_v4, range_table_v4);
SLOTS(ranges_v6, range_table_v6);

/* ::ffff:a.b.c.d is looked up as a.b.c.d, so IPv4 entries match it. */
static __always_inline int is_v4_mapped(const __u8 *a)
{
	const __u32 *w = (const __u32 *)a;	/* 4-byte aligned in the record */

	return w[0] == 0 && w[1] == 0 && w[2] == bpf_htonl(0x0000ffff);
}

/* The tables of the slot in force, looked up once per frame. */
struct tables {
	void *chunks_v4;
	void *ranges_v4;
	void *chunks_v6;
	void *ranges_v6;
};

static __always_inline int tables_get(struct tables *t, __u32 slot)
{
	t->chunks_v4 = bpf_map_lookup_elem(&chunks_v4, &slot);
	t->ranges_v4 = bpf_map_lookup_elem(&ranges_v4, &slot);
	t->chunks_v6 = bpf_map_lookup_elem(&chunks_v6, &slot);
	t->ranges_v6 = bpf_map_lookup_elem(&ranges_v6, &slot);
	return t->chunks_v4 && t->ranges_v4 && t->chunks_v6 && t->ranges_v6;
}

/* Whether key k of node nd (of the family v6 says) is at or below (hi, lo). */
static __always_inline int key_at_or_below(const void *nd, __u64 k, int v6,
					   __u64 hi, __u64 lo)
{
	const struct hdrlog_node_v6 *n6 = nd;
	__u64 k_hi;

	if (!v6)
		return ((const struct hdrlog_node_v4 *)nd)->start[k] <= hi;
	k_hi = n6->start_hi[k];
	return k_hi < hi || (k_hi == hi && n6->start_lo[k] <= lo);
}

/*
 * The list mask of an address: IPv4 as (addr, 0), IPv6 as its two
 * halves. v6 is a constant at each call, so each family gets its own
 * specialised copy. From the chunk's subtree down (record.h): in each
 * node the last key at or below the address, by a binary search inside
 * the one map value, so a level costs one table read. The first key
 * searched is always at or below it: the root's first is where the
 * chunk's first range is, at or before the chunk, and each child's first
 * key is the key that chose it. (64-bit indexes: no zero-extensions.)
 */
static __always_inline __u64 lookup_range(void *chunks, void *nodes, int v6,
					  __u64 hi_addr, __u64 lo_addr)
{
	__u32 index = v6 ? hi_addr >> (64 - HDRLOG_CHUNK_BITS)
			 : hi_addr >> (32 - HDRLOG_CHUNK_BITS);
	struct hdrlog_chunk *c = bpf_map_lookup_elem(chunks, &index);
	__u64 lo, hi, levels;
	__u32 node;

	if (!c)
		return 0;
	levels = c->levels;
	if (!levels)
		return c->mask;
	node = c->node;
	lo = c->first;
	hi = c->end;
	for (__u32 level = 1; level <= HDRLOG_TREE_LEVELS; level++) {
		const void *nd = bpf_map_lookup_elem(nodes, &node);

		if (!nd)
			return 0;
		if (level == 1) {
			/* the root: among the chunk's keys only */
			for (int i = 0; i < HDRLOG_NODE_BITS && hi - lo > 1;
			     i++) {
				/* the mask keeps the verifier sure it is a key */
				__u64 mid = (lo + hi) / 2 % HDRLOG_NODE_KEYS;

				if (key_at_or_below(nd, mid, v6, hi_addr,
						    lo_addr))
					lo = mid;
				else
					hi = mid;
			}
		} else {
			/*
			 * Below it, all keys by halves, unrolled: a third of
			 * the loop's instructions a step. The keys past n
			 * repeat the last (record.h), so this ends on the
			 * last key at or below the address or past the last
			 * key, which the clamp brings back.
			 */
			lo = 0;
#pragma unroll
			for (__u64 half = HDRLOG_NODE_KEYS / 2; half; half /= 2)
				if (key_at_or_below(nd, lo + half, v6, hi_addr,
						    lo_addr))
					lo += half;
			hi = v6 ? ((const struct hdrlog_node_v6 *)nd)->n
				: ((const struct hdrlog_node_v4 *)nd)->n;
			if (lo >= hi)
				lo = hi - 1;
		}
		lo %= HDRLOG_NODE_KEYS;
		if (level >= levels)
			return v6 ? ((const struct hdrlog_node_v6 *)nd)->mask[lo]
				  : ((const struct hdrlog_node_v4 *)nd)->mask[lo];
		node = (v6 ? ((const struct hdrlog_node_v6 *)nd)->child
			   : ((const struct hdrlog_node_v4 *)nd)->child) + lo;
	}
	return 0;
}

static __always_inline __u64 lookup_v4(const struct tables *t, const __u8 *a)
{
	return lookup_range(t->chunks_v4, t->ranges_v4, 0,
			    bpf_ntohl(*(const __u32 *)a), 0);
}

static __always_inline __u64 lookup_v6(const struct tables *t, const __u8 *a)
{
	const __u32 *w = (const __u32 *)a;	/* 4-byte aligned in the record */

	return lookup_range(t->chunks_v6, t->ranges_v6, 1,
			    (__u64)bpf_ntohl(w[0]) << 32 | bpf_ntohl(w[1]),
			    (__u64)bpf_ntohl(w[2]) << 32 | bpf_ntohl(w[3]));
}

static __always_inline __u64 lookup_addr(const struct tables *t, __u8 ip_v,
					 const __u8 *addr)
{
	if (ip_v == 4)
		return lookup_v4(t, addr);
	if (is_v4_mapped(addr))
		return lookup_v4(t, addr + 12);
	return lookup_v6(t, addr);
}

#endif
