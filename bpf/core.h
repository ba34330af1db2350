/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The few kernel structures the socket-event programs read, declared here
 * with only the fields used. preserve_access_index makes every access a
 * CO-RE relocation: libbpf finds each field by name in the running
 * kernel's BTF, so one object runs on 6.1 and 6.18 alike.
 *
 * Why not a generated vmlinux.h: it is ~150k lines per architecture to
 * check in and review, for a dozen fields; these definitions say exactly
 * what hdrlog depends on, and the build reads no BTF from the build host.
 */
#ifndef HDRLOG_CORE_H
#define HDRLOG_CORE_H

#include <linux/types.h>

#define __core __attribute__((preserve_access_index))

struct ns_common {
	unsigned int inum;
} __core;

struct net {
	struct ns_common ns;
} __core;

typedef struct {
	struct net *net;
} possible_net_t;

struct in6_addr_core {
	__u8 a[16];
};

/* In the kernel several of these sit in anonymous unions; CO-RE finds them. */
struct sock_common {
	__be32 skc_daddr;
	__be32 skc_rcv_saddr;
	__be16 skc_dport;
	__u16 skc_num;
	unsigned short skc_family;
	volatile unsigned char skc_state;
	possible_net_t skc_net;
	unsigned long skc_flags;	/* sk_flags */
	struct in6_addr_core skc_v6_daddr;
	struct in6_addr_core skc_v6_rcv_saddr;
} __core;

struct sock {
	struct sock_common __sk_common;
	__u16 sk_protocol;	/* a bitfield before 5.6: read it PROBED */
} __core;

#define SOCK_DONE_	1	/* bit in skc_flags: a FIN was received */

struct tcp_sock {
	__u64 bytes_received;
	__u64 bytes_acked;
	__u32 snd_una;
	__u32 write_seq;
} __core;

/* An outgoing packet, headers built: where they sit in the buffer. */
struct sk_buff {
	unsigned char *head;
	__u16 network_header;
	struct sock *sk;
} __core;

/* accept(2)'s new descriptor to its socket: task->files->fdt->fd[n] */
struct socket {
	struct sock *sk;
} __core;

struct file {
	void *private_data;
} __core;

struct fdtable {
	unsigned int max_fds;
	struct file **fd;
} __core;

struct files_struct {
	struct fdtable *fdt;
} __core;

struct task_struct {
	struct files_struct *files;
} __core;

#endif
