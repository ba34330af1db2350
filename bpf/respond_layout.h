/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Automated response (--respond, issue 14): the layouts the kernel side
 * (respond.bpf.h) and userspace (src/respond.c) share.
 */
#ifndef HDRLOG_RESPOND_LAYOUT_H
#define HDRLOG_RESPOND_LAYOUT_H

#include <linux/types.h>

#define HDRLOG_RESPOND_POLICIES	32	/* policies in one --respond file */

/* What a source is counted by, per window; index of hdrlog_src_window.n. */
enum hdrlog_measure {
	HDRLOG_M_SYNS,		/* TCP SYN without ACK */
	HDRLOG_M_PKTS,
	HDRLOG_M_BYTES,		/* frame lengths */
	HDRLOG_M_PORT_BITS,	/* bits set in the ports sketch */
	HDRLOG_M_HOST_BITS,	/* bits set in the hosts sketch */
	HDRLOG_M_COUNT,
};

/*
 * Thresholds per measure the kernel sends a notice at (hot_at): the
 * lowest distinct ones of the policies on it. A policy above them is
 * judged at hdrlog's next poll of its watched sources (50 ms at most).
 */
#define HDRLOG_HOT_LEVELS	4

/*
 * A source: its address with the host bits past the prefix (--respond's
 * prefix4, prefix6) cleared. The counters and the block list use the
 * same key, so a frame computes it once.
 */
struct hdrlog_src_key {
	__u32 addr[4];		/* network order; IPv4 in addr[0] */
	__u32 ip_v;		/* 4 or 6 (a word: no padding to zero) */
};

/*
 * One window of a source. The sketches are 128-bit bitmaps: a port (a
 * host) sets bit hash(port) % 128; the bits set estimate the distinct
 * count (linear counting, src/respond.c).
 */
struct hdrlog_src_window {
	__u64 n[HDRLOG_M_COUNT];
	__u64 ports[2];
	__u64 hosts[2];
};

/* A source's counters, shared by every CPU: atomic adds. */
struct hdrlog_src {
	__u64 window;		/* the current window's number: ns / window */
	__u64 hot;		/* bit m x LEVELS + l: hot_at[m][l] signalled */
	__u64 lists;		/* the last frame's source list mask */
	struct hdrlog_src_window cur, prev;
};

/* A source whose measure crossed the kernel's threshold (hot_at): hot_ring. */
struct hdrlog_hot {
	struct hdrlog_src_key key;
	__u32 measure;		/* enum hdrlog_measure */
	__u64 window;
};

/*
 * The block filter: a bit per blocked key, by the hash below, in the
 * kernel's .bss (block_filter). A frame whose bit is clear is not
 * blocked and skips the lookup in the block list, about 10 ns: the
 * lookup is for the frames that may be blocked, not for every frame.
 * Userspace sets a key's bit before it inserts the block and rebuilds
 * the filter from the list after blocks go (src/respond.c); a bit left
 * over, or shared by two keys, costs a lookup and decides nothing.
 */
#define HDRLOG_BLOCK_FILTER_WORDS	64	/* 4096 bits */

static inline __u32 hdrlog_block_filter_bit(const struct hdrlog_src_key *k)
{
	/* Fibonacci hashing: the top 12 bits of the product */
	return ((k->addr[0] ^ k->addr[1] ^ k->addr[2] ^ k->addr[3] ^
		 k->ip_v) * 0x9e3779b1u) >> 20;
}

/* A dynamic block. */
struct hdrlog_block {
	__u64 expires_ns;	/* CLOCK_MONOTONIC */
	__u32 policy;		/* index in the --respond file */
	__u32 pad;
	__u64 dropped;		/* frames it dropped (--monitor: would have) */
};

/* Per CPU; summed by userspace. */
struct hdrlog_respond_counters {
	__u64 dropped[HDRLOG_RESPOND_POLICIES];	/* frames a block dropped */
	__u64 would_drop[HDRLOG_RESPOND_POLICIES];	/* --monitor */
	__u64 protected_pass;	/* blocked source, but allow/never-block listed */
	__u64 hot_lost;		/* hot notices lost: the hot ring was full */
	__u64 untracked;	/* frames of a source with no table entry */
};

#endif
