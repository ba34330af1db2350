/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The process behind each socket hdrlog saw opened: written by the
 * socket programs (socket.bpf.c) where the process is known -- connect(2)
 * moving a socket to SYN_SENT, accept(2) returning -- and read by them
 * for the events that follow, and by tc egress (packet.bpf.h), whose
 * frames of a local socket carry the socket itself: the owner is looked
 * up by the same key, exactly, with no guess from addresses.
 */
#ifndef HDRLOG_OWNERS_BPF_H
#define HDRLOG_OWNERS_BPF_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "record.h"

/* Set by userspace before load: enum hdrlog_attach in use; 0: no socket events. */
const volatile __u8 sockets_attach;

struct owner {
	__u64 start_ns;
	__u32 pid;
	__u32 tid;
	__u32 uid;
	__u8 direction;		/* enum hdrlog_direction */
	__u8 reported;		/* the connect or accept event went out */
	__u8 pad[2];
	__u64 cgroup_id;
	char comm[16];
	struct hdrlog_endpoints ep;	/* kept: at close they are gone */
};

/*
 * Sockets hdrlog saw opened, by the kernel address of their struct sock
 * (skb->sk on egress is the same address); LRU so leaks age out.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct owner);
} owners SEC(".maps");

#endif
