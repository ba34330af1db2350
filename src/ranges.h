/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The kernel's view of a list set: each family's address space cut into
 * sorted ranges with the list mask of each, a chunk index into them, and
 * from those the tables the kernel gets: the ranges as a tree of nodes
 * and a chunk table naming each chunk's subtree (record.h gives the
 * layout, bpf/lists.bpf.h the lookup). This is the
 * contract with the kernel and, through list_ranges_lookup(), the
 * oracle the tests check the kernel's search against.
 */
#ifndef HDRLOG_RANGES_H
#define HDRLOG_RANGES_H

#include <stddef.h>
#include <stdint.h>

#include "lists.h"
#include "record.h"

struct list_ranges {
	struct hdrlog_range_v4 *v4;
	size_t n_v4;
	uint32_t *v4_chunks;	/* HDRLOG_CHUNKS entries */
	struct hdrlog_range_v6 *v6;
	size_t n_v6;
	uint32_t *v6_chunks;	/* HDRLOG_CHUNKS entries */
	/* the kernel's range tables, and where each level of them starts */
	struct hdrlog_node_v4 *v4_nodes;
	size_t n_v4_nodes;
	size_t v4_base[HDRLOG_TREE_LEVELS];
	struct hdrlog_node_v6 *v6_nodes;
	size_t n_v6_nodes;
	size_t v6_base[HDRLOG_TREE_LEVELS];
};

/*
 * Cut each family's address space into ranges, each carrying the mask of
 * the longest prefix of set covering it (0 where none does), the first
 * starting at 0, no two neighbours with the same mask; and index them by
 * chunk. *r is overwritten and is always left freeable. Returns 0, or -1
 * with a message printed.
 */
int list_ranges_build(struct list_ranges *r, const struct list_set *set);

void list_ranges_free(struct list_ranges *r);

/*
 * Entry c (< 1 << HDRLOG_CHUNK_BITS) of a family's chunk table, bits 32
 * or 128: the kernel's, and the one list_ranges_lookup() starts from.
 */
void list_ranges_chunk(const struct list_ranges *r, unsigned int bits,
		       uint32_t c, struct hdrlog_chunk *out);

/*
 * The mask for an address, by the same search of the same tables the
 * kernel does: for tests.
 * bits is 32 (IPv4, the address in hi, lo 0) or 128 (IPv6, hi and lo
 * its first and last 8 bytes), host order, as the kernel's lookup_range().
 */
uint64_t list_ranges_lookup(const struct list_ranges *r, unsigned int bits,
			    uint64_t hi, uint64_t lo);

#endif
