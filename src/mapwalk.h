/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A walk over a BPF hash map in batches (bpf_map_lookup_batch: one
 * system call per batch, not two per entry), with a cap on entries and a
 * cursor that resumes where the last call stopped: the one way src/
 * reads a whole map (respond.c's blocks, --top and baseline; the flow
 * table's slice per tick in flowtable.c).
 */
#ifndef HDRLOG_MAPWALK_H
#define HDRLOG_MAPWALK_H

#include <stdbool.h>
#include <stdint.h>

/* One batch: n keys and n values, in the walk's buffers. */
typedef void (*map_walk_fn)(void *arg, const void *keys, const void *vals,
			    uint32_t n);

struct map_walk {
	int fd;
	void *keys, *vals;	/* room for batch keys and batch values */
	uint32_t batch;
	/* the cursor: where the next call goes on from */
	bool in_pass;		/* token is valid; false: from the start */
	uint32_t token;		/* a hash map's token is a bucket index */
};

/*
 * Read batches from the cursor on and hand each to fn, until the map is
 * done or at least cap entries were read (0: no cap; a batch is handed
 * whole, so up to batch - 1 more). Returns 1 when the pass is over (the
 * next call starts again from the start), 0 when the cap stopped it
 * (the next call goes on), -1 with errno when the map could not be read
 * (the next call starts again).
 */
int map_walk(struct map_walk *w, uint64_t cap, map_walk_fn fn, void *arg);

#endif
