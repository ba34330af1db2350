// SPDX-License-Identifier: GPL-2.0-or-later
/* Batched walks over BPF maps (see mapwalk.h). */
#include <errno.h>

#include <bpf/bpf.h>

#include "mapwalk.h"

int map_walk(struct map_walk *w, uint64_t cap, map_walk_fn fn, void *arg)
{
	uint64_t read = 0;

	while (!cap || read < cap) {
		__u32 n = w->batch;
		/* in and out may share the token: the kernel reads it first */
		int err = bpf_map_lookup_batch(w->fd,
					       w->in_pass ? &w->token : NULL,
					       &w->token, w->keys, w->vals, &n,
					       NULL);

		if (err && errno != ENOENT) {
			w->in_pass = false;
			return -1;
		}
		if (n)
			fn(arg, w->keys, w->vals, n);
		read += n;
		if (err) {	/* ENOENT: that was the last batch */
			w->in_pass = false;
			return 1;
		}
		w->in_pass = true;
	}
	return 0;
}
