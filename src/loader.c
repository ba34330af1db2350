// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <linux/capability.h>
#include <linux/if_link.h>
#include <linux/if_ether.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <net/if.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "clock.h"
#include "flowtable.h"
#include "hdrlog.skel.h"
#include "probe.skel.h"
#include "loader.h"
#include "log.h"
#include "ranges.h"
#include "respond.h"

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

/*
 * tcx attach types (Linux 6.6, enum bpf_attach_type). Debian 12's uapi
 * headers and libbpf 1.1 predate them, but bpf_link_create() passes the
 * attach type through to the kernel as it is.
 */
#define HDRLOG_TCX_INGRESS	46
#define HDRLOG_TCX_EGRESS	47

/*
 * Without tcx, hdrlog's clsact filters: this handle and priority are
 * hdrlog's own, so a filter holding both was left by a hdrlog that did
 * not exit cleanly (killed: a filter, unlike a link, outlives its
 * process) and is removed at start. The priority is late, as a tcx
 * link is appended after the links already there: other filters run
 * first, and a frame one of them drops is not logged.
 */
#define HDRLOG_TC_HANDLE	0x4844	/* "HD" */
#define HDRLOG_TC_PRIORITY	0x4844

static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	(void)level;
	/* Without -v, hdrlog says what failed in one line instead. */
	if (log_level < LOG_VERBOSE)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static int has_cap(const struct __user_cap_data_struct *d, int cap)
{
	return d[cap / 32].effective & (1u << (cap % 32));
}

/*
 * What each part needs. Tracing programs (socket events) load only with
 * CAP_PERFMON. The XDP program needs it too: the verifier refuses it
 * pointer arithmetic with a variable offset (IPv4 options, IPv6
 * extension headers, VLAN tags) unless perfmon_capable(). CAP_SYS_ADMIN
 * stands for both CAP_BPF and CAP_PERFMON.
 */
#define PRIVILEGES_PACKETS "root, or CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN"
#define PRIVILEGES_SOCKETS "root, or CAP_BPF and CAP_PERFMON"

/* Our effective capabilities; false if they cannot be read. */
static bool caps_get(struct __user_cap_data_struct d[2])
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};

	return !syscall(SYS_capget, &h, d);
}

/* Whether we may load BPF programs at all (CAP_BPF or CAP_SYS_ADMIN). */
static bool may_load_bpf(void)
{
	struct __user_cap_data_struct d[2] = {};

	return !caps_get(d) || has_cap(d, CAP_BPF) || has_cap(d, CAP_SYS_ADMIN);
}

/* The one message for every way of lacking privilege. */
int loader_check_privileges(const struct options *o, bool warn)
{
	void (*say)(const char *fmt, ...) = warn ? pr_warn : pr_err;
	struct __user_cap_data_struct d[2] = {};
	char missing[64] = "";
	int admin;

	if (!caps_get(d))
		return 0;	/* let the kernel decide */
	admin = has_cap(d, CAP_SYS_ADMIN);
	if (!admin && !has_cap(d, CAP_BPF))
		strcat(missing, " CAP_BPF");
	if (!admin && !has_cap(d, CAP_PERFMON))
		strcat(missing, " CAP_PERFMON");
	if (o->packets && !has_cap(d, CAP_NET_ADMIN))
		strcat(missing, " CAP_NET_ADMIN");
	if (!missing[0])
		return 0;
	if (o->packets)
		say("permission denied: capturing needs " PRIVILEGES_PACKETS
		    " (missing:%s)", missing);
	else
		say("permission denied: socket events need " PRIVILEGES_SOCKETS
		    " (missing:%s)", missing);
	return -1;
}

/*
 * The size of a CPU's front cache before a flow index of n entries
 * (bpf/flows.bpf.h), as a power of two: 65536 entries (512 KB), fewer
 * with so many CPUs that all their caches together would be larger than
 * the index, and none (0) for an index of 4 caches or fewer (2 MB: it
 * stays in the TLB by itself) or when it would take less than 4096.
 */
static uint32_t flow_cache_bits(uint32_t n)
{
	int cpus = libbpf_num_possible_cpus();
	uint32_t bits = HDRLOG_FLOW_CACHE_BITS;

	if (cpus < 1 || n <= 4u << bits)
		return 0;
	while (bits > 12 && (uint64_t)cpus << bits > n)
		bits--;
	return (uint64_t)cpus << bits > n ? 0 : bits;
}

/*
 * The flow table: --flow-table slots with --log flows, and the ring of
 * slots given back as many; its index twice as many entries (open
 * addressing: at half load a probe chain stays short, see
 * bpf/flows.bpf.h). Without --log flows one each (a map cannot have
 * none; the programs never touch them then).
 */
static int size_flow_table(struct hdrlog_bpf *skel, const struct options *o)
{
	uint32_t n = o->log_flows ? o->flow_table : 1;
	uint32_t bits = flow_cache_bits(2 * n);

	skel->rodata->flow_table_size = n;
	skel->rodata->flow_index_n = 2 * n;
	skel->rodata->flow_cache_bits = bits;
	return bpf_map__set_max_entries(skel->maps.flow_cache, bits ?
					(uint32_t)libbpf_num_possible_cpus()
					<< bits : 1) ?:
	       bpf_map__set_max_entries(skel->maps.flow_slots, n) ?:
	       bpf_map__set_max_entries(skel->maps.flow_free_ring, n) ?:
	       bpf_map__set_max_entries(skel->maps.flow_index, 2 * n) ?:
	       bpf_map__set_max_entries(skel->maps.flows_ended,
					o->log_flows ? 4096 : 1);
}

/*
 * --respond: the kernel's constants and its tables' sizes; without it
 * the tables get one entry (a map cannot have none; the hot ring one
 * page, its least) and the programs never touch them: respond_enabled
 * is 0 and the verifier prunes them.
 */
static int set_respond(struct hdrlog_bpf *skel, const struct options *o)
{
	const struct respond_config *c = o->respond_cfg;
	struct hdrlog_bpf__rodata *ro = skel->rodata;
	int err;

	if (!c)
		return bpf_map__set_max_entries(skel->maps.sources, 1) ?:
		       bpf_map__set_max_entries(skel->maps.blocks, 1) ?:
		       bpf_map__set_max_entries(skel->maps.hot_ring,
						sysconf(_SC_PAGESIZE));
	ro->respond_enabled = 1;
	ro->respond_window_ns = c->window_ns;
	ro->respond_mask4 = htonl(c->prefix4 ? ~0u << (32 - c->prefix4) : 0);
	for (int i = 0; i < 4; i++) {
		unsigned int bits = c->prefix6 > 32u * i ? c->prefix6 - 32u * i : 0;

		ro->respond_mask6[i] = htonl(bits >= 32 ? ~0u :
					     bits ? ~0u << (32 - bits) : 0);
	}
	memcpy((void *)ro->hot_at, c->hot_at, sizeof(c->hot_at));
	ro->protect_mask = c->protect_mask;
	err = bpf_map__set_max_entries(skel->maps.sources, c->sources);
	if (!err)
		err = bpf_map__set_max_entries(skel->maps.blocks, c->max_blocks);
	return err;
}

static void set_list_policy(struct hdrlog_bpf *skel, const struct options *o)
{
	struct hdrlog_bpf__rodata *ro = skel->rodata;

	ro->lists_enabled = o->n_lists > 0;
	ro->monitor = o->monitor;
	/* --log: listed alone is "only listed frames"; with packets, all */
	ro->log_listed = o->log_listed && !o->log_packets;
	ro->log_no_packets = !o->log_listed && !o->log_packets;
	ro->log_flows = o->log_flows;
	ro->too_deep_drop = o->too_deep_drop;
	for (int i = 0; i < o->n_lists; i++) {
		const struct list_spec *s = &o->lists[i];

		if (s->kind == LIST_BLOCK)
			ro->block_src_mask |= 1ULL << i;
		if (s->kind == LIST_BLOCK && s->any)
			ro->block_dest_mask |= 1ULL << i;
		if (s->kind == LIST_ALLOW)
			ro->allow_mask |= 1ULL << i;
	}
}

const char *attach_method_name(enum attach_method m)
{
	return m == ATTACH_FENTRY ? "fentry" : m == ATTACH_KPROBE ? "kprobe" :
	       m == ATTACH_TRACEPOINT ? "tracepoint" : "none";
}

static struct bpf_program *probe_prog(struct probe_bpf *p, enum attach_method m)
{
	return m == ATTACH_FENTRY ? p->progs.probe_fentry :
	       m == ATTACH_KPROBE ? p->progs.probe_kprobe :
	       p->progs.probe_tracepoint;
}

int loader_probe_method(enum attach_method m)
{
	struct probe_bpf *p = probe_bpf__open();
	struct bpf_link *link;
	struct bpf_program *prog;
	int err;

	if (!p)
		return -errno;
	bpf_object__for_each_program(prog, p->obj)
		bpf_program__set_autoload(prog, prog == probe_prog(p, m));
	err = probe_bpf__load(p);
	if (!err) {
		link = bpf_program__attach(probe_prog(p, m));
		err = libbpf_get_error(link);
		bpf_link__destroy(err ? NULL : link);
	}
	probe_bpf__destroy(p);
	return err;
}

/*
 * Whether the kernel has tcx: 1 yes, 0 no, or a negative errno. Asks
 * the kernel to link a trivial tc program to interface 0: a kernel with
 * tcx looks for the device (ENODEV); one without refuses the attach
 * type (EINVAL). Nothing is attached either way.
 */
static int probe_tcx(void)
{
	static int known = -1;
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	int prog, fd, err;

	if (known >= 0)
		return known;
	prog = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, NULL, "GPL", insns, 2,
			     NULL);
	if (prog < 0)
		return -errno;
	fd = bpf_link_create(prog, 0, HDRLOG_TCX_INGRESS, NULL);
	err = fd < 0 ? errno : 0;
	if (fd >= 0)
		close(fd);
	close(prog);
	known = err != EINVAL;
	return known;
}

/*
 * A probe's answer (> 0 yes, 0 no, < 0 no with the reason). Without
 * privilege every probe fails: that is not a "no".
 */
static void print_feature(FILE *f, bool privileged, const char *what,
			  int probe)
{
	if (!privileged)
		fprintf(f, "%s: cannot tell without privileges (run as root)\n",
			what);
	else if (probe < 0)
		fprintf(f, "%s: no, %s\n", what, strerror(-probe));
	else
		fprintf(f, "%s: %s\n", what, probe ? "yes" : "no");
}

/*
 * --attach-ingress auto on every interface named with -i, else on every
 * Ethernet interface of this namespace.
 */
static void print_ingress_choice(FILE *f, const struct options *o)
{
	static struct iface_table t;
	struct if_nameindex *all = NULL;

	fprintf(f, "incoming frames (--attach-ingress auto): XDP where a bus device's driver runs it natively, else tc (cheaper on veth and other virtual devices, see hdrlog(8))\n");
	if (o->n_ifaces) {
		if (iface_table_resolve(&t, o))
			return;
	} else {
		all = if_nameindex();
		for (int i = 0; all && all[i].if_index && t.n < MAX_IFACES; i++) {
			struct iface *v = &t.v[t.n];

			v->ifindex = all[i].if_index;
			snprintf(v->name, sizeof(v->name), "%s", all[i].if_name);
			iface_choose_ingress(v, o);
			t.n++;
		}
		if_freenameindex(all);
	}
	for (int i = 0; i < t.n; i++)
		fprintf(f, "incoming frames on %s: %s, %s\n", t.v[i].name,
			t.v[i].ingress_tc ? "tc" : t.v[i].xdp_mode ==
			XDP_MODE_NATIVE ? "native XDP" : "XDP", t.v[i].why);
}

void loader_print_features(FILE *f, const struct options *o)
{
	struct utsname u;
	enum attach_method best = ATTACH_AUTO;
	bool privileged = may_load_bpf();

	libbpf_set_print(libbpf_print);
	uname(&u);
	fprintf(f, "kernel: %s %s\n", u.sysname, u.release);
	fprintf(f, "BTF: %s\n", access("/sys/kernel/btf/vmlinux", R_OK) ?
		"no /sys/kernel/btf/vmlinux" : "yes");
	print_feature(f, privileged, "ring buffer",
		      libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL));
	print_feature(f, privileged, "XDP",
		      libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_XDP, NULL));
	print_feature(f, privileged, "tc programs (outgoing frames, --attach-ingress tc)",
		      libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_SCHED_CLS, NULL));
	if (privileged)
		fprintf(f, "tc attaches through: %s\n", probe_tcx() > 0 ?
			"tcx links (Linux 6.6 and later): detached when hdrlog ends, however it ends" :
			"clsact filters (no tcx before Linux 6.6): removed at exit; one a killed hdrlog left is removed at the next start");
	print_ingress_choice(f, o);
	for (enum attach_method m = ATTACH_FENTRY; m <= ATTACH_TRACEPOINT; m++) {
		int err = loader_probe_method(m);
		char what[64];

		if (!err && !best)
			best = m;
		snprintf(what, sizeof(what), "socket events via %s",
			 attach_method_name(m));
		print_feature(f, privileged, what, err ? err : 1);
	}
	fprintf(f, "hdrlog will use: %s\n", best ? attach_method_name(best) :
		!privileged ? "cannot tell without privileges (run as root)" :
		"nothing: socket events are not possible here");
}

/* Programs of each method; the others are not loaded at all. */
static void select_socket_programs(struct hdrlog_bpf *skel,
				   enum attach_method m)
{
	struct {
		struct bpf_program *prog;
		enum attach_method method;
	} progs[] = {
		{ skel->progs.fentry_tcp_set_state, ATTACH_FENTRY },
		{ skel->progs.fexit_inet_csk_accept, ATTACH_FENTRY },
		{ skel->progs.fentry_ip_send_skb, ATTACH_FENTRY },
		{ skel->progs.fentry_ip6_send_skb, ATTACH_FENTRY },
		{ skel->progs.kprobe_tcp_set_state, ATTACH_KPROBE },
		{ skel->progs.kretprobe_inet_csk_accept, ATTACH_KPROBE },
		{ skel->progs.kprobe_ip_send_skb, ATTACH_KPROBE },
		{ skel->progs.kprobe_ip6_send_skb, ATTACH_KPROBE },
		{ skel->progs.raw_tp_inet_sock_set_state, ATTACH_TRACEPOINT },
		{ skel->progs.raw_tp_sys_exit, ATTACH_TRACEPOINT },
		{ skel->progs.raw_tp_sys_enter, ATTACH_TRACEPOINT },
		{ skel->progs.raw_tp_net_dev_queue, ATTACH_TRACEPOINT },
	};

	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++)
		bpf_program__set_autoload(progs[i].prog, progs[i].method == m);
}

/* The method for socket events: forced by --attach, else the best that works. */
static int choose_method(const struct options *o, enum attach_method *out)
{
	int err;

	if (o->attach) {
		err = loader_probe_method(o->attach);
		if (err) {
			pr_err("socket events via %s are not possible on this kernel: %s",
			       attach_method_name(o->attach), strerror(-err));
			return -1;
		}
		*out = o->attach;
		return 0;
	}
	for (enum attach_method m = ATTACH_FENTRY; m <= ATTACH_TRACEPOINT; m++) {
		err = loader_probe_method(m);
		if (!err) {
			*out = m;
			return 0;
		}
		pr_debug("socket events via %s: %s", attach_method_name(m),
			 strerror(-err));
	}
	pr_err("socket events are not possible on this kernel: neither fentry, kprobes nor raw tracepoints attach");
	return -1;
}

int loader_attach_sockets(struct loader *l)
{
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, l->skel->obj) {
		struct bpf_link *link;

		if (!bpf_program__autoload(prog) ||
		    bpf_program__type(prog) == BPF_PROG_TYPE_XDP ||
		    bpf_program__type(prog) == BPF_PROG_TYPE_SCHED_CLS)
			continue;
		link = bpf_program__attach(prog);
		if (libbpf_get_error(link)) {
			pr_err("cannot attach %s: %s", bpf_program__name(prog),
			       strerror(-libbpf_get_error(link)));
			return -1;
		}
		if (l->n_sock_links == MAX_SOCK_LINKS) {
			pr_err("cannot attach %s: hdrlog keeps at most %d socket program links",
			       bpf_program__name(prog), MAX_SOCK_LINKS);
			bpf_link__destroy(link);
			return -1;
		}
		l->sock_links[l->n_sock_links++] = link;
	}
	pr_info("socket events via %s", attach_method_name(l->sockets));
	return 0;
}

/*
 * The ring buffer probe below says "no" to any failure; a bpf() that is
 * refused outright (a seccomp filter, as systemd-nspawn's and Docker's
 * default ones, or an LSM) would read as an old kernel. A plain array map
 * works on every kernel with BPF at all, so its failure is the refusal.
 */
static bool bpf_refused(void)
{
	int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, NULL, 4, 4, 1, NULL);

	if (fd >= 0) {
		close(fd);
		return false;
	}
	pr_err("the kernel refused bpf(): %s (a seccomp filter, as containers have, or a security module?)",
	       strerror(errno));
	return true;
}

int loader_load(struct loader *l, const struct options *o,
		const struct iface_table *t)
{
	int ncpu = libbpf_num_possible_cpus();
	int err;

	memset(l, 0, sizeof(*l));
	for (int i = 0; i < 2 * MAX_IFACES; i++)
		l->link_fd[i] = -1;
	libbpf_set_print(libbpf_print);
	if (loader_check_privileges(o, false))
		return -1;
	if (bpf_refused())
		return -1;
	if (libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL) <= 0) {
		pr_err("this kernel has no BPF ring buffer (Linux 5.8 or later is needed)");
		return -1;
	}

	if (o->sockets && choose_method(o, &l->sockets))
		return -1;
	l->skel = hdrlog_bpf__open();
	if (!l->skel) {
		pr_err("cannot open the BPF object: %s", strerror(errno));
		return -1;
	}
	select_socket_programs(l->skel, l->sockets);
	l->ingress = o->packets && o->direction != CAPTURE_OUT;
	l->egress = o->packets && o->direction != CAPTURE_IN;
	/* Each interface's hook was chosen with it (iface_choose_ingress()). */
	for (int i = 0; l->ingress && i < t->n; i++) {
		l->ingress_tc |= t->v[i].ingress_tc;
		l->ingress_xdp |= !t->v[i].ingress_tc;
	}
	if (l->ingress_tc || l->egress) {
		err = probe_tcx();
		l->tc = err > 0 ? TC_ATTACH_TCX : TC_ATTACH_CLSACT;
		if (err < 0)
			pr_debug("tcx probe: %s; trying clsact", strerror(-err));
	}
	bpf_program__set_autoload(l->skel->progs.hdrlog_xdp, l->ingress_xdp);
	bpf_program__set_autoload(l->skel->progs.hdrlog_tc_ingress,
				  l->ingress_tc);
	bpf_program__set_autoload(l->skel->progs.hdrlog_tc_egress, l->egress);
	l->skel->rodata->sockets_attach = l->sockets;
	/* UDP egress owners (owners.bpf.h): tc must ask who runs */
	l->skel->rodata->tc_knows_current = l->egress && l->sockets &&
		libbpf_probe_bpf_helper(BPF_PROG_TYPE_SCHED_CLS,
					BPF_FUNC_get_current_pid_tgid, NULL) > 0;
	/* -v: the verifier's statistics (time, instructions processed). */
	if (log_level >= LOG_VERBOSE) {
		bpf_program__set_log_level(l->skel->progs.hdrlog_xdp, 4);
		bpf_program__set_log_level(l->skel->progs.hdrlog_tc_ingress, 4);
		bpf_program__set_log_level(l->skel->progs.hdrlog_tc_egress, 4);
	}
	l->skel->rodata->sample_every = o->sample;
	/* the slots of the per-interface counters (iface_counters_get()) */
	_Static_assert(MAX_IFACES <= HDRLOG_MAX_IFACES, "iface slots");
	for (int i = 0; o->packets && i < t->n; i++)
		l->skel->rodata->iface_ifindex[i] = t->v[i].ifindex;
	l->skel->rodata->iface_count = o->packets ? t->n : 0;
	/* Records wake the reader in bulk (see ring_flags()). */
	l->skel->rodata->wakeup_bytes = o->ringbuf_size / 8;
	l->skel->rodata->snaplen = options_need_frame_bytes(o) ? o->snaplen : 0;
	set_list_policy(l->skel, o);
	/* 8: the kernel's header in front of each ring record. */
	if (sizeof(struct hdrlog_record) + l->skel->rodata->snaplen + 8 >
	    o->ringbuf_size)
		pr_warn("a %u-byte ring buffer cannot hold a record of a %u-byte frame: such frames will be counted as lost (raise --ringbuf-size or lower -s)",
			o->ringbuf_size, l->skel->rodata->snaplen);
	/* One slot per CPU, whole cache lines: neighbours share none. */
	err = bpf_map__set_value_size(l->skel->maps.scratch,
				      (sizeof(struct hdrlog_record) +
				       l->skel->rodata->snaplen + 63) & ~63u);
	if (!err)
		err = ncpu < 0 ? ncpu :
		      bpf_map__set_max_entries(l->skel->maps.scratch, ncpu);
	if (!err)
		err = bpf_map__set_max_entries(l->skel->maps.records,
					       o->ringbuf_size);
	if (!err)
		err = size_flow_table(l->skel, o);
	if (!err)
		err = set_respond(l->skel, o);
	if (!err)
		err = hdrlog_bpf__load(l->skel);
	if (err) {
		if (err == -EPERM)
			pr_err("permission denied loading the BPF program: %s needs %s",
			       o->packets ? "capturing" : "socket events",
			       o->packets ? PRIVILEGES_PACKETS : PRIVILEGES_SOCKETS);
		else if (err == -ENOMEM || err == -E2BIG)
			pr_err("cannot create a %u-byte ring buffer: %s (try a smaller --ringbuf-size)",
			       o->ringbuf_size, strerror(-err));
		else
			pr_err("the kernel refused the BPF program: %s (-v shows the verifier log)",
			       strerror(-err));
		return -1;
	}
	return 0;
}

static const char *mode_name(enum xdp_mode mode)
{
	return mode == XDP_MODE_NATIVE ? "native" :
	       mode == XDP_MODE_GENERIC ? "generic" : "auto";
}

/* Attach XDP to one interface. 0 or -1 with a message. */
static int attach_xdp(struct loader *l, const struct iface *f,
		      enum xdp_mode mode)
{
	int prog_fd = bpf_program__fd(l->skel->progs.hdrlog_xdp);
	__u32 flags = mode == XDP_MODE_NATIVE ? XDP_FLAGS_DRV_MODE :
		      mode == XDP_MODE_GENERIC ? XDP_FLAGS_SKB_MODE : 0;
	LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = flags);
	__u32 old_id = 0;
	int fd;

	/* A bpf_link never replaces; say who is there first. */
	if (!bpf_xdp_query_id(f->ifindex, 0, &old_id) && old_id) {
		pr_err("%s already has an XDP program (id %u); hdrlog will not replace it",
		       f->name, old_id);
		return -1;
	}
	fd = bpf_link_create(prog_fd, f->ifindex, BPF_XDP, &opts);
	if (fd < 0) {
		fd = -errno;
		if (fd == -EBUSY || fd == -EEXIST)
			pr_err("%s already has an XDP program; hdrlog will not replace it",
			       f->name);
		else if (fd == -EOPNOTSUPP && mode == XDP_MODE_NATIVE)
			pr_err("%s has no native XDP support; try --xdp-mode generic",
			       f->name);
		else
			pr_err("cannot attach to %s in %s mode: %s", f->name,
			       mode_name(mode), strerror(-fd));
		return -1;
	}
	l->link_fd[l->n_links++] = fd;
	return 0;
}

static const char *dir_name(int egress)
{
	return egress ? "egress" : "ingress";
}

/*
 * tcx: a bpf_link, appended after the programs already there; it goes
 * when its fd does, so a killed hdrlog leaves nothing behind.
 */
static int attach_tcx(struct loader *l, int prog_fd, const struct iface *f,
		      int egress)
{
	int fd = bpf_link_create(prog_fd, f->ifindex, egress ?
				 HDRLOG_TCX_EGRESS : HDRLOG_TCX_INGRESS, NULL);

	if (fd < 0) {
		pr_err("cannot attach to %s %s through tcx: %s", f->name,
		       dir_name(egress), strerror(errno));
		return -1;
	}
	l->link_fd[l->n_links++] = fd;
	return 0;
}

/*
 * Without tcx: a clsact filter of hdrlog's handle and priority. The
 * clsact qdisc is made if missing and left at exit: other filters may
 * use it by then, and deleting it would delete theirs; without filters
 * it only costs a pointer test per frame.
 */
static int attach_clsact(struct loader *l, int prog_fd, const struct iface *f,
			 int egress)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = f->ifindex,
		    .attach_point = egress ? BPF_TC_EGRESS : BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, old, .handle = HDRLOG_TC_HANDLE,
		    .priority = HDRLOG_TC_PRIORITY);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = HDRLOG_TC_HANDLE,
		    .priority = HDRLOG_TC_PRIORITY, .prog_fd = prog_fd);
	int err = bpf_tc_hook_create(&hook);

	if (err && err != -EEXIST) {
		/* ENOENT: no clsact in the kernel (sch_ingress not loaded). */
		pr_err("cannot add a clsact qdisc to %s: %s%s", f->name,
		       strerror(-err), err == -ENOENT ?
		       " (the kernel has no clsact qdisc: load module sch_ingress, or use --attach-ingress xdp)" : "");
		return -1;
	}
	if (!bpf_tc_query(&hook, &old)) {
		LIBBPF_OPTS(bpf_tc_opts, del, .handle = HDRLOG_TC_HANDLE,
			    .priority = HDRLOG_TC_PRIORITY);

		err = bpf_tc_detach(&hook, &del);
		if (err) {
			pr_err("%s %s has a stale hdrlog filter (handle 0x%x, priority %u, program id %u) that cannot be removed: %s",
			       f->name, dir_name(egress), HDRLOG_TC_HANDLE,
			       HDRLOG_TC_PRIORITY, old.prog_id, strerror(-err));
			return -1;
		}
		pr_warn("%s %s: removed a stale hdrlog filter (handle 0x%x, priority %u, program id %u) left by a hdrlog that did not exit cleanly",
			f->name, dir_name(egress), HDRLOG_TC_HANDLE,
			HDRLOG_TC_PRIORITY, old.prog_id);
	}
	err = bpf_tc_attach(&hook, &opts);
	if (err) {
		pr_err("cannot attach to %s %s through a clsact filter: %s",
		       f->name, dir_name(egress), strerror(-err));
		return -1;
	}
	l->tc_filters[l->n_tc_filters++] = (struct tc_filter){
		.ifindex = f->ifindex, .egress = egress };
	return 0;
}

static int attach_tc(struct loader *l, const struct iface *f, int egress)
{
	int prog_fd = bpf_program__fd(egress ? l->skel->progs.hdrlog_tc_egress :
				      l->skel->progs.hdrlog_tc_ingress);

	return l->tc == TC_ATTACH_TCX ? attach_tcx(l, prog_fd, f, egress) :
	       attach_clsact(l, prog_fd, f, egress);
}

int loader_attach(struct loader *l, const struct iface_table *t)
{
	for (int i = 0; i < t->n; i++) {
		const struct iface *f = &t->v[i];

		if (l->ingress && !f->ingress_tc &&
		    attach_xdp(l, f, f->xdp_mode))
			return -1;
		if (l->ingress && f->ingress_tc && attach_tc(l, f, 0))
			return -1;
		if (l->egress && attach_tc(l, f, 1))
			return -1;
	}
	return 0;
}

/* One interface's hooks: "in: tcx because ..., out: tcx". */
static void hooks_text(const struct loader *l, const struct options *o,
		       const struct iface *f, char *buf, size_t size)
{
	const char *tc = !l ? "tc" : l->tc == TC_ATTACH_TCX ? "tcx" :
			 "tc clsact";
	char in[128];

	snprintf(in, sizeof(in), "%s%s%s",
		 f->ingress_tc ? tc : f->xdp_mode == XDP_MODE_NATIVE ?
		 "native XDP" : f->xdp_mode == XDP_MODE_GENERIC ?
		 "generic XDP" : "auto XDP",
		 f->why[0] ? " because " : "", f->why);
	if (o->direction == CAPTURE_IN)
		snprintf(buf, size, "%s", in);
	else if (o->direction == CAPTURE_OUT)
		snprintf(buf, size, "out: %s", tc);
	else
		snprintf(buf, size, "in: %s, out: %s", in, tc);
}

void loader_describe_ifaces(FILE *out, const struct loader *l,
			    const struct options *o,
			    const struct iface_table *t)
{
	char esc[LOG_ESCAPE_SIZE(IF_NAMESIZE)], hooks[192], next[192];
	bool same = true;

	/* Interfaces alike share one text: "a, b (in: ..., out: tcx)". */
	for (int i = 0; i < t->n; i++) {
		hooks_text(l, o, &t->v[i], next, sizeof(next));
		if (i && strcmp(hooks, next))
			same = false;
		memcpy(hooks, next, sizeof(hooks));
	}
	for (int i = 0; i < t->n; i++) {
		const char *name = t->v[i].name;

		fprintf(out, "%s %s", i ? "," : "",
			log_escape(esc, sizeof(esc), name, strlen(name)));
		if (!same || i == t->n - 1) {
			hooks_text(l, o, &t->v[i], hooks, sizeof(hooks));
			fprintf(out, " (%s)", hooks);
		}
	}
}

/*
 * A fresh array of n values of value_size bytes, filled through mmap:
 * a million ranges take a memcpy, not a million map updates. fill()
 * writes value i at out + i * stride (the kernel rounds values up to 8).
 */
static int table_create(const char *name, __u32 value_size, __u32 n,
			__u32 flags,
			void (*fill)(void *out, size_t stride, const void *src,
				     size_t n),
			const void *src)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts,
		    .map_flags = flags | BPF_F_MMAPABLE);
	size_t stride = (value_size + 7) & ~7u;
	size_t len = stride * n;
	void *mem;
	int fd;

	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, name, sizeof(__u32), value_size,
			    n, &opts);
	if (fd < 0)
		return -errno;
	mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (mem == MAP_FAILED) {
		int err = -errno;

		close(fd);
		return err;
	}
	fill(mem, stride, src, n);
	munmap(mem, len);
	return fd;
}

_Static_assert(sizeof(struct hdrlog_chunk) % 8 == 0 &&
	       sizeof(struct hdrlog_node_v4) % 8 == 0 &&
	       sizeof(struct hdrlog_node_v6) % 8 == 0,
	       "list tables are copied without padding");

/* Sizes are multiples of 8, the kernel's stride: a plain copy. */
static void fill_copy(void *out, size_t stride, const void *src, size_t n)
{
	memcpy(out, src, n * stride);
}

/* What table_create() fills a chunk table from. */
struct chunk_src {
	const struct list_ranges *r;
	unsigned int bits;
};

static void fill_chunks(void *out, size_t stride, const void *src, size_t n)
{
	const struct chunk_src *cs = src;

	(void)stride;	/* 16 bytes */
	for (size_t i = 0; i < n; i++)
		list_ranges_chunk(cs->r, cs->bits, i,
				  (struct hdrlog_chunk *)out + i);
}

void list_tables_close(struct list_tables *t)
{
	int *fds[] = { &t->chunks_v4, &t->ranges_v4, &t->chunks_v6,
		       &t->ranges_v6 };

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

int loader_tables_build(struct list_tables *t, const struct list_set *set)
{
	const __u32 n_chunks = 1u << HDRLOG_CHUNK_BITS;
	struct list_ranges r = { 0 };
	int err = 0;

	*t = (struct list_tables){ -1, -1, -1, -1 };
	if (list_ranges_build(&r, set))
		return -1;
	struct chunk_src c4 = { &r, 32 }, c6 = { &r, 128 };

	t->chunks_v4 = table_create("hdrlog_chunk4", sizeof(struct hdrlog_chunk),
				    n_chunks, 0, fill_chunks, &c4);
	t->ranges_v4 = table_create("hdrlog_range4", sizeof(struct hdrlog_node_v4),
				    r.n_v4_nodes, BPF_F_INNER_MAP, fill_copy,
				    r.v4_nodes);
	t->chunks_v6 = table_create("hdrlog_chunk6", sizeof(struct hdrlog_chunk),
				    n_chunks, 0, fill_chunks, &c6);
	t->ranges_v6 = table_create("hdrlog_range6", sizeof(struct hdrlog_node_v6),
				    r.n_v6_nodes, BPF_F_INNER_MAP, fill_copy,
				    r.v6_nodes);
	list_ranges_free(&r);
	if (t->chunks_v4 < 0)
		err = t->chunks_v4;
	else if (t->ranges_v4 < 0)
		err = t->ranges_v4;
	else if (t->chunks_v6 < 0)
		err = t->chunks_v6;
	else if (t->ranges_v6 < 0)
		err = t->ranges_v6;
	if (err) {
		pr_err("cannot load the lists into the kernel: %s", strerror(-err));
		list_tables_close(t);
		return -1;
	}
	return 0;
}

static int slot_set(struct bpf_map *outer, __u32 slot, int fd)
{
	return bpf_map__update_elem(outer, &slot, sizeof(slot), &fd, sizeof(fd),
				    BPF_ANY);
}

static void slot_clear(struct bpf_map *outer, __u32 slot)
{
	bpf_map__delete_elem(outer, &slot, sizeof(slot), 0);
}

int loader_lists_install(struct loader *l, struct list_tables *t)
{
	struct hdrlog_bpf *skel = l->skel;
	__u32 slot = !skel->bss->list_slot, old = !slot;
	int err;

	/* the error as returned: libbpf may print (pr_*) before it sets errno */
	err = slot_set(skel->maps.chunks_v4, slot, t->chunks_v4);
	if (!err)
		err = slot_set(skel->maps.ranges_v4, slot, t->ranges_v4);
	if (!err)
		err = slot_set(skel->maps.chunks_v6, slot, t->chunks_v6);
	if (!err)
		err = slot_set(skel->maps.ranges_v6, slot, t->ranges_v6);
	if (err) {
		pr_err("cannot put the lists in place: %s", strerror(-err));
		list_tables_close(t);
		return -1;
	}

	/* One aligned word: every frame sees one slot or the other. */
	__atomic_store_n(&skel->bss->list_slot, slot, __ATOMIC_RELEASE);
	l->lists_switched_ns = clock_mono_ns();
	/*
	 * A frame that read the old slot number just before the switch may
	 * still be looking that slot up. The kernel waits for every running
	 * BPF program (synchronize_rcu) after any update of a map-in-map,
	 * so setting one entry again is a grace period; then the old tables
	 * can go.
	 */
	if (l->lists_installed) {
		slot_set(skel->maps.chunks_v4, slot, t->chunks_v4);
		slot_clear(skel->maps.chunks_v4, old);
		slot_clear(skel->maps.ranges_v4, old);
		slot_clear(skel->maps.chunks_v6, old);
		slot_clear(skel->maps.ranges_v6, old);
	}
	/* The outer maps hold the tables now. */
	list_tables_close(t);
	l->lists_installed = 1;
	return 0;
}

int loader_counters(const struct loader *l, struct hdrlog_counters *sum)
{
	int ncpu = libbpf_num_possible_cpus();
	struct hdrlog_counters *per_cpu;
	__u32 key = 0;
	int err;

	memset(sum, 0, sizeof(*sum));
	if (ncpu <= 0)
		return -1;
	per_cpu = calloc(ncpu, sizeof(*per_cpu));
	if (!per_cpu) {
		pr_warn("out of memory reading the kernel's counters");
		return -1;
	}
	err = bpf_map__lookup_elem(l->skel->maps.counters, &key, sizeof(key),
				   per_cpu, ncpu * sizeof(*per_cpu), 0);
	/* Every member is a __u64 count: sum them as an array. */
	for (int i = 0; !err && i < ncpu; i++) {
		const __u64 *src = (const __u64 *)&per_cpu[i];
		__u64 *dst = (__u64 *)sum;

		for (size_t j = 0; j < sizeof(*sum) / sizeof(__u64); j++)
			dst[j] += src[j];
	}
	free(per_cpu);
	return err;
}

int loader_iface_counters(const struct loader *l, uint32_t ifindex,
			  uint8_t dir, struct hdrlog_iface_counters *sum)
{
	const struct hdrlog_bpf__rodata *ro = l->skel->rodata;
	struct hdrlog_counters *all;
	int slot = -1;

	memset(sum, 0, sizeof(*sum));
	for (uint32_t i = 0; i < ro->iface_count; i++)
		if (ro->iface_ifindex[i] == ifindex)
			slot = i;
	if (slot < 0 || (dir != HDRLOG_DIR_OUTBOUND && dir != HDRLOG_DIR_INBOUND))
		return 0;	/* not captured on: nothing counted */
	all = malloc(sizeof(*all));
	if (!all || loader_counters(l, all)) {
		free(all);
		return -1;
	}
	*sum = all->iface[slot][dir == HDRLOG_DIR_INBOUND];
	free(all);
	return 0;
}

void loader_flow_maps(const struct loader *l, struct flow_table_maps *m)
{
	m->slots = bpf_map__fd(l->skel->maps.flow_slots);
	m->index = bpf_map__fd(l->skel->maps.flow_index);
	m->free_ring = bpf_map__fd(l->skel->maps.flow_free_ring);
	m->ended = bpf_map__fd(l->skel->maps.flows_ended);
	m->free_tail = (uint64_t *)&l->skel->bss->flow_free_tail;
	m->slots_fresh = (uint64_t *)&l->skel->bss->flow_slots_fresh;
}

void loader_respond_fds(const struct loader *l, struct respond_fds *fds)
{
	fds->sources = bpf_map__fd(l->skel->maps.sources);
	fds->blocks = bpf_map__fd(l->skel->maps.blocks);
	fds->hot = bpf_map__fd(l->skel->maps.hot_ring);
	fds->counters = bpf_map__fd(l->skel->maps.respond_counters);
	fds->block_filter = (__u64 *)l->skel->bss->block_filter;
}

int loader_ringbuf_fd(const struct loader *l)
{
	return bpf_map__fd(l->skel->maps.records);
}

void loader_detach(struct loader *l)
{
	for (int i = 0; i < l->n_sock_links; i++)
		bpf_link__destroy(l->sock_links[i]);
	l->n_sock_links = 0;
	for (int i = 0; i < l->n_links; i++)
		close(l->link_fd[i]);
	l->n_links = 0;
	for (int i = 0; i < l->n_tc_filters; i++) {
		const struct tc_filter *tf = &l->tc_filters[i];
		LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = tf->ifindex,
			    .attach_point = tf->egress ? BPF_TC_EGRESS :
							 BPF_TC_INGRESS);
		LIBBPF_OPTS(bpf_tc_opts, opts, .handle = HDRLOG_TC_HANDLE,
			    .priority = HDRLOG_TC_PRIORITY);

		/* fails only if the interface went: its filters went too */
		bpf_tc_detach(&hook, &opts);
	}
	l->n_tc_filters = 0;
}

void loader_close(struct loader *l)
{
	loader_detach(l);
	hdrlog_bpf__destroy(l->skel);
	l->skel = NULL;
}
