// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * TCP socket events: connect, accept and close, with the process that
 * made them. Each hook has one body, called by an fentry, a kprobe and a
 * tracepoint program; userspace loads the one set the kernel allows.
 *
 *   state changes	fentry/kprobe tcp_set_state, raw_tracepoint
 *			inet_sock_set_state
 *   accept		fexit/kretprobe inet_csk_accept, raw_tracepoint
 *			sys_exit of accept(2)/accept4(2)
 *   UDP sends		fentry/kprobe ip_send_skb, ip6_send_skb; raw
 *			tracepoints sys_enter (who sends on which socket)
 *			and net_dev_queue (the datagram)
 *
 * State changes often happen in softirq, where the current task is
 * whoever was interrupted. So the process is taken where it is known --
 * connect(2) moving a socket to SYN_SENT, accept(2) returning -- and kept
 * per socket in `owners` for the events that follow.
 *
 * Built as part of hdrlog.bpf.c, with the XDP program: one object, whose
 * maps both share.
 */
#include <linux/bpf.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_tracing.h>
#include "record.h"
#include "core.h"
#include "arch.h"
#include "maps.h"
#include "lists.bpf.h"
#include "owners.bpf.h"

#define AF_INET_	2
#define AF_INET6_	10

enum {
	TCP_ESTABLISHED_ = 1,
	TCP_SYN_SENT_ = 2,
	TCP_SYN_RECV_ = 3,
	TCP_FIN_WAIT1_ = 4,
	TCP_FIN_WAIT2_ = 5,
	TCP_TIME_WAIT_ = 6,
	TCP_CLOSE_ = 7,
	TCP_LAST_ACK_ = 9,
	TCP_CLOSING_ = 11,
};

#define UDP_EVENTS_PER_SEC	1000	/* per CPU: the rate bound of udp_send */



/* UDP: peers each socket has sent to already; LRU forgets old ones. */
struct udp_peer {
	__u64 sk;
	__u8 addr[16];
	__be16 port;
	__u8 ip_v;
	__u8 pad[5];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct udp_peer);
	__type(value, __u8);
} udp_peers SEC(".maps");

/* UDP sockets' senders, learnt at sendto/sendmsg for the tracepoint path. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct owner);
} udp_owners SEC(".maps");

/* Token bucket per CPU for udp_send events. */
struct udp_budget {
	__u64 second;
	__u32 used;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct udp_budget);
} udp_budget SEC(".maps");

static __always_inline void owner_from_current(struct owner *o, __u8 dir)
{
	__u64 id = bpf_get_current_pid_tgid();

	__builtin_memset(o, 0, sizeof(*o));
	o->start_ns = bpf_ktime_get_ns();
	o->pid = id >> 32;
	o->tid = (__u32)id;
	o->uid = (__u32)bpf_get_current_uid_gid();
	o->direction = dir;
	o->cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(o->comm, sizeof(o->comm));
}

/* Addresses, local and remote, into src/dest by who opened. */
static __always_inline int read_endpoints(struct sock *sk,
					  struct hdrlog_endpoints *r,
					  __u8 direction)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);
	__u8 *local_ip, *remote_ip;
	__be16 lport = bpf_htons(BPF_CORE_READ(sk, __sk_common.skc_num));
	__be16 rport = BPF_CORE_READ(sk, __sk_common.skc_dport);

	if (direction == HDRLOG_DIR_OUTBOUND) {
		local_ip = r->src_ip;
		remote_ip = r->dest_ip;
		r->src_port = lport;
		r->dest_port = rport;
	} else {
		local_ip = r->dest_ip;
		remote_ip = r->src_ip;
		r->src_port = rport;
		r->dest_port = lport;
	}
	if (family == AF_INET_) {
		r->ip_v = 4;
		BPF_CORE_READ_INTO((__be32 *)local_ip, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__be32 *)remote_ip, sk, __sk_common.skc_daddr);
	} else if (family == AF_INET6_) {
		r->ip_v = 6;
		BPF_CORE_READ_INTO((struct in6_addr_core *)local_ip, sk,
				   __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO((struct in6_addr_core *)remote_ip, sk,
				   __sk_common.skc_v6_daddr);
		/*
		 * A dual-stack socket talking to an IPv4 peer: the wire is
		 * IPv4, so is the record (and its Community ID).
		 */
		if (is_v4_mapped(remote_ip)) {
			r->ip_v = 4;
			__builtin_memset(local_ip, 0, 16);
			__builtin_memset(remote_ip, 0, 16);
			BPF_CORE_READ_INTO((__be32 *)local_ip, sk,
					   __sk_common.skc_rcv_saddr);
			BPF_CORE_READ_INTO((__be32 *)remote_ip, sk,
					   __sk_common.skc_daddr);
		}
	} else {
		return -1;
	}
	r->ip_proto = IPPROTO_TCP;
	r->netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);
	return 0;
}

/*
 * Data bytes, not sequence space: the acked count includes the SYN of an
 * active open and our FIN once acked -- a FIN went out when the socket
 * closes from a FIN state, and was acked when the acked edge meets
 * write_seq (a reset closes from ESTABLISHED: no FIN). The received count
 * includes the peer's FIN (tcp_fin() sets SOCK_DONE).
 */
static __always_inline void read_bytes(struct sock *sk, __u8 direction,
				       int old_state,
				       struct hdrlog_sock_record *r)
{
	struct tcp_sock *tp = (struct tcp_sock *)sk;
	__u64 acked = BPF_CORE_READ(tp, bytes_acked);
	__u64 received = BPF_CORE_READ(tp, bytes_received);
	int fin_sent = old_state == TCP_FIN_WAIT1_ ||
		       old_state == TCP_FIN_WAIT2_ ||
		       old_state == TCP_CLOSING_ || old_state == TCP_LAST_ACK_ ||
		       old_state == TCP_TIME_WAIT_;

	if (direction == HDRLOG_DIR_OUTBOUND && acked)
		acked--;
	if (fin_sent && acked &&
	    BPF_CORE_READ(tp, snd_una) == BPF_CORE_READ(tp, write_seq))
		acked--;
	if ((BPF_CORE_READ(sk, __sk_common.skc_flags) & (1UL << SOCK_DONE_)) && received)
		received--;
	r->bytes_sent = acked;
	r->bytes_received = received;
}

static __always_inline void emit(struct sock *sk, struct owner *o,
				 __u8 event, int old_state, __u8 state)
{
	struct hdrlog_counters *cnt = counters_get();
	struct hdrlog_sock_record r = {};

	if (!cnt)
		return;
	if ((event == HDRLOG_SOCK_CLOSE || event == HDRLOG_SOCK_UDP_SEND) &&
	    o && o->ep.ip_v) {
		/*
		 * Endpoints kept in o: at close the kernel has cleared the
		 * ports; a datagram brought its own.
		 */
		r.ep = o->ep;
		r.ep.ip_proto = event == HDRLOG_SOCK_UDP_SEND ? IPPROTO_UDP
							      : IPPROTO_TCP;
	} else if (read_endpoints(sk, &r.ep,
				  o ? o->direction : HDRLOG_DIR_OUTBOUND)) {
		return;
	}
	if (o && !o->ep.ip_v && event != HDRLOG_SOCK_UDP_SEND)
		o->ep = r.ep;
	r.version = HDRLOG_RECORD_VERSION;
	r.kind = HDRLOG_REC_SOCKET;
	r.ts_ns = bpf_ktime_get_ns();
	r.event = event;
	r.tcp_state = state;
	r.attach = sockets_attach;
	if (o) {
		r.pid = o->pid;
		r.tid = o->tid;
		r.uid = o->uid;
		r.cgroup_id = o->cgroup_id;
		r.direction = o->direction;
		__builtin_memcpy(r.comm, o->comm, sizeof(r.comm));
	} else {
		r.flags |= HDRLOG_SF_NO_OWNER;
	}
	if (event == HDRLOG_SOCK_CLOSE) {
		if (o)
			r.duration_ns = r.ts_ns - o->start_ns;
		read_bytes(sk, o ? o->direction : HDRLOG_DIR_OUTBOUND, old_state,
			   &r);
	}
	if (lists_enabled) {
		struct tables t;

		if (tables_get(&t, list_slot)) {
			r.src_lists = lookup_addr(&t, r.ep.ip_v, r.ep.src_ip);
			r.dest_lists = lookup_addr(&t, r.ep.ip_v, r.ep.dest_ip);
			r.flags |= HDRLOG_SF_LISTS;
		}
	}
	if (bpf_ringbuf_output(&records, &r, sizeof(r), ring_flags()))
		cnt->sock_lost++;
	else
		cnt->sock_events++;
}

/* One body for every TCP state change, whichever program saw it. */
static __always_inline void on_state(struct sock *sk, int old, int new)
{
	__u64 key = (__u64)sk;
	struct owner *o;

	if (old == TCP_CLOSE_ && new == TCP_SYN_SENT_) {
		/* connect(2), in the connecting process */
		struct owner fresh;

		owner_from_current(&fresh, HDRLOG_DIR_OUTBOUND);
		bpf_map_update_elem(&owners, &key, &fresh, BPF_ANY);
		return;
	}
	o = bpf_map_lookup_elem(&owners, &key);
	if (old == TCP_SYN_SENT_ && new == TCP_ESTABLISHED_) {
		/* the handshake completed: now both ends are known */
		if (o && !o->reported) {
			emit(sk, o, HDRLOG_SOCK_CONNECT, old, new);
			o->reported = 1;
		}
		return;
	}
	if (new == TCP_CLOSE_ && o) {
		/* only sockets hdrlog saw opened; listeners and strays aside */
		if (o->reported)
			emit(sk, o, HDRLOG_SOCK_CLOSE, old, new);
		bpf_map_delete_elem(&owners, &key);
	}
}

/* accept(2) returned sk, in the accepting process. */
static __always_inline void on_accept(struct sock *sk)
{
	__u64 key = (__u64)sk;
	struct owner o;

	if (!sk)
		return;
	owner_from_current(&o, HDRLOG_DIR_INBOUND);
	o.reported = 1;
	emit(sk, &o, HDRLOG_SOCK_ACCEPT, 0,
	     BPF_CORE_READ(sk, __sk_common.skc_state));
	bpf_map_update_elem(&owners, &key, &o, BPF_ANY);
}

/* At most UDP_EVENTS_PER_SEC udp_send events a second on each CPU. */
static __always_inline int udp_budget_ok(struct hdrlog_counters *cnt)
{
	__u32 key = 0;
	struct udp_budget *b = bpf_map_lookup_elem(&udp_budget, &key);
	__u64 sec = bpf_ktime_get_ns() / 1000000000ull;

	if (!b)
		return 0;
	if (b->second != sec) {
		b->second = sec;
		b->used = 0;
	}
	if (b->used >= UDP_EVENTS_PER_SEC) {
		cnt->udp_limited++;
		return 0;
	}
	b->used++;
	return 1;
}

/*
 * A UDP datagram about to leave, headers built: the first one a socket
 * sends to each peer becomes a udp_send event. o: the sender, when the
 * program runs in its context; else the one learnt at sendto/sendmsg.
 */
static __always_inline void on_udp_skb(struct sk_buff *skb, struct owner *o)
{
	struct sock *sk = BPF_CORE_READ(skb, sk);
	unsigned char *head = BPF_CORE_READ(skb, head);
	__u16 nh = BPF_CORE_READ(skb, network_header);
	struct udp_peer peer = {};
	struct hdrlog_counters *cnt;
	__u8 ver = 0, one = 1, proto;
	__u32 l4;
	__be16 ports[2];

	if (!sk || !head)
		return;
	bpf_probe_read_kernel(&ver, 1, head + nh);
	ver >>= 4;
	if (ver == 4) {
		struct iphdr ip;

		if (bpf_probe_read_kernel(&ip, sizeof(ip), head + nh))
			return;
		proto = ip.protocol;
		l4 = nh + ip.ihl * 4;
		o->ep.ip_v = 4;
		__builtin_memset(o->ep.src_ip, 0, 32);
		__builtin_memcpy(o->ep.src_ip, &ip.saddr, 4);
		__builtin_memcpy(o->ep.dest_ip, &ip.daddr, 4);
	} else if (ver == 6) {
		struct ipv6hdr ip6;

		if (bpf_probe_read_kernel(&ip6, sizeof(ip6), head + nh))
			return;
		proto = ip6.nexthdr;	/* UDP sends build no extension headers */
		l4 = nh + sizeof(ip6);
		o->ep.ip_v = 6;
		__builtin_memcpy(o->ep.src_ip, &ip6.saddr, 16);
		__builtin_memcpy(o->ep.dest_ip, &ip6.daddr, 16);
	} else {
		return;
	}
	if (proto != IPPROTO_UDP ||
	    bpf_probe_read_kernel(ports, sizeof(ports), head + l4))
		return;
	o->ep.src_port = ports[0];
	o->ep.dest_port = ports[1];
	o->ep.netns = BPF_CORE_READ(sk, __sk_common.skc_net.net, ns.inum);

	peer.sk = (__u64)sk;
	__builtin_memcpy(peer.addr, o->ep.dest_ip, 16);
	peer.port = ports[1];
	peer.ip_v = o->ep.ip_v;
	if (bpf_map_lookup_elem(&udp_peers, &peer))
		return;
	cnt = counters_get();
	if (!cnt || !udp_budget_ok(cnt))
		return;
	bpf_map_update_elem(&udp_peers, &peer, &one, BPF_ANY);
	emit(sk, o, HDRLOG_SOCK_UDP_SEND, 0, 0);
}

/* In the sender's context: the current task sends. */
static __always_inline void on_udp_send_here(struct sk_buff *skb)
{
	struct owner o;

	owner_from_current(&o, HDRLOG_DIR_OUTBOUND);
	udp_sending_note((__u64)BPF_CORE_READ(skb, sk), &o);
	on_udp_skb(skb, &o);
}

/* --- fentry ------------------------------------------------------------ */

SEC("fentry/tcp_set_state")
int BPF_PROG(fentry_tcp_set_state, struct sock *sk, int state)
{
	on_state(sk, BPF_CORE_READ(sk, __sk_common.skc_state), state);
	return 0;
}

SEC("fexit/inet_csk_accept")
int fexit_inet_csk_accept(__u64 *ctx)
{
	__u64 ret = 0;

	/* The return value, however many arguments this kernel's has. */
	bpf_get_func_ret(ctx, &ret);
	on_accept((struct sock *)ret);
	return 0;
}

SEC("fentry/ip_send_skb")
int BPF_PROG(fentry_ip_send_skb, void *net, struct sk_buff *skb)
{
	on_udp_send_here(skb);
	return 0;
}

SEC("fentry/ip6_send_skb")
int BPF_PROG(fentry_ip6_send_skb, struct sk_buff *skb)
{
	on_udp_send_here(skb);
	return 0;
}

/* --- kprobe ------------------------------------------------------------ */

SEC("kprobe/tcp_set_state")
int BPF_KPROBE(kprobe_tcp_set_state, struct sock *sk, int state)
{
	on_state(sk, BPF_CORE_READ(sk, __sk_common.skc_state), state);
	return 0;
}

SEC("kretprobe/inet_csk_accept")
int BPF_KRETPROBE(kretprobe_inet_csk_accept, struct sock *newsk)
{
	on_accept(newsk);
	return 0;
}

SEC("kprobe/ip_send_skb")
int BPF_KPROBE(kprobe_ip_send_skb, void *net, struct sk_buff *skb)
{
	on_udp_send_here(skb);
	return 0;
}

SEC("kprobe/ip6_send_skb")
int BPF_KPROBE(kprobe_ip6_send_skb, struct sk_buff *skb)
{
	on_udp_send_here(skb);
	return 0;
}

/* --- tracepoint: raw tracepoints, which need neither tracefs nor BTF --- */

SEC("raw_tracepoint/inet_sock_set_state")
int raw_tp_inet_sock_set_state(struct bpf_raw_tracepoint_args *ctx)
{
	struct sock *sk = (struct sock *)ctx->args[0];

	/* TCP only: the tracepoint also fires for other protocols (SCTP...) */
	if (BPF_CORE_READ(sk, __sk_common.skc_family) != AF_INET_ &&
	    BPF_CORE_READ(sk, __sk_common.skc_family) != AF_INET6_)
		return 0;
	on_state(sk, (int)ctx->args[1], (int)ctx->args[2]);
	return 0;
}

/* accept(2) returned a descriptor: find its socket in the task's table. */
static __always_inline struct sock *sock_of_fd(long fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct files_struct *files = BPF_CORE_READ(task, files);
	struct fdtable *fdt = BPF_CORE_READ(files, fdt);
	struct file **fds = BPF_CORE_READ(fdt, fd);
	struct file *file = NULL;
	struct socket *sock;

	if (fd < 0 || fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	bpf_probe_read_kernel(&file, sizeof(file), fds + fd);
	if (!file)
		return NULL;
	sock = BPF_CORE_READ(file, private_data);
	return sock ? BPF_CORE_READ(sock, sk) : NULL;
}

/*
 * sendto/sendmsg/sendmmsg on a UDP socket: remember who sends on it. The
 * packet may leave later, from softirq, once the neighbour is resolved.
 */
SEC("raw_tracepoint/sys_enter")
int raw_tp_sys_enter(struct bpf_raw_tracepoint_args *ctx)
{
	long nr = (long)ctx->args[1];
	struct owner o;
	struct sock *sk;
	__u64 key;

	if (nr != __NR_sendto && nr != __NR_sendmsg && nr != __NR_sendmmsg)
		return 0;
	sk = sock_of_fd(syscall_arg1((const void *)ctx->args[0]));
	if (!sk || BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol) != IPPROTO_UDP)
		return 0;
	key = (__u64)sk;
	owner_from_current(&o, HDRLOG_DIR_OUTBOUND);
	bpf_map_update_elem(&udp_owners, &key, &o, BPF_ANY);
	udp_sending_note(key, &o);
	return 0;
}

/* Every packet queued to a device; UDP ones of known senders count. */
SEC("raw_tracepoint/net_dev_queue")
int raw_tp_net_dev_queue(struct bpf_raw_tracepoint_args *ctx)
{
	struct sk_buff *skb = (struct sk_buff *)ctx->args[0];
	__u64 key = (__u64)BPF_CORE_READ(skb, sk);
	struct owner *known, o;

	if (!key)
		return 0;
	known = bpf_map_lookup_elem(&udp_owners, &key);
	if (!known)
		return 0;
	__builtin_memcpy(&o, known, sizeof(o));
	on_udp_skb(skb, &o);
	return 0;
}

SEC("raw_tracepoint/sys_exit")
int raw_tp_sys_exit(struct bpf_raw_tracepoint_args *ctx)
{
	long nr = syscall_nr((const void *)ctx->args[0]);
	long ret = (long)ctx->args[1];

	if ((nr != __NR_accept && nr != __NR_accept4) || ret < 0)
		return 0;
	on_accept(sock_of_fd(ret));
	return 0;
}
