/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The process behind each socket hdrlog saw opened: written by the
 * socket programs (socket.bpf.c) where the process is known -- connect(2)
 * moving a socket to SYN_SENT, accept(2) returning -- and read by them
 * for the events that follow, and by tc egress (packet.bpf.h), whose
 * frames of a local socket carry the socket itself: the owner is looked
 * up by the same key, exactly, with no guess from addresses. UDP has no
 * connect to take the owner at: udp_sending below.
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

/*
 * A UDP datagram's process is the thread sending it. The socket programs
 * note, on each CPU, which thread is sending on which socket right now
 * (at sendto/sendmsg/sendmmsg entry, or at ip_send_skb/ip6_send_skb,
 * both in the sender's context), and tc egress names that process only
 * for a frame of that very socket while that very thread runs: the
 * send's own synchronous path down to the device. A datagram that waited
 * (for a neighbour) and leaves from softirq names none, unless the
 * thread it interrupted is sending on the same socket: then the one
 * process using the socket, or, for a socket shared by several, the
 * sender of the moment.
 */
struct udp_sending {
	__u64 sk;		/* the socket's address: skb->sk in tc */
	__u64 pid_tgid;		/* the thread sending */
	struct owner o;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct udp_sending);
} udp_sending SEC(".maps");

/* Set by userspace: tc programs may ask who runs (bpf_get_current_pid_tgid). */
const volatile __u8 tc_knows_current;

/* In the sender's context: this thread sends on sk now, as o. */
static __always_inline void udp_sending_note(__u64 sk, const struct owner *o)
{
	__u32 zero = 0;
	struct udp_sending *s = bpf_map_lookup_elem(&udp_sending, &zero);

	if (!s)
		return;
	s->sk = sk;
	s->pid_tgid = bpf_get_current_pid_tgid();
	__builtin_memcpy(&s->o, o, sizeof(*o));
}

/* In tc: the process of a frame of socket sk, if its sender runs; or NULL. */
static __always_inline struct owner *udp_sending_owner(__u64 sk)
{
	__u32 zero = 0;
	struct udp_sending *s;

	if (!tc_knows_current)
		return NULL;
	s = bpf_map_lookup_elem(&udp_sending, &zero);
	if (!s || s->sk != sk || s->pid_tgid != bpf_get_current_pid_tgid())
		return NULL;
	return &s->o;
}

#endif
