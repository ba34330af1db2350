// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <linux/capability.h>
#include <linux/if_link.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "hdrlog.skel.h"
#include "loader.h"
#include "log.h"

#define LIST_SWITCH_GRACE_US	(50 * 1000)

#ifndef CAP_BPF
#define CAP_BPF 39
#endif

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

/* The one message for every way of lacking privilege. */
static int check_privileges(void)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[2] = {};

	if (syscall(SYS_capget, &h, d))
		return 0;	/* let the kernel decide */
	if ((has_cap(d, CAP_BPF) || has_cap(d, CAP_SYS_ADMIN)) &&
	    has_cap(d, CAP_NET_ADMIN))
		return 0;
	pr_err("permission denied: capturing needs root, or CAP_BPF and CAP_NET_ADMIN");
	return -1;
}

static void set_list_policy(struct hdrlog_bpf *skel, const struct options *o)
{
	struct hdrlog_bpf__rodata *ro = skel->rodata;

	ro->lists_enabled = o->n_lists > 0;
	ro->monitor = o->monitor;
	ro->log_listed = o->log_listed;
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

int loader_load(struct loader *l, const struct options *o)
{
	int err;

	memset(l, 0, sizeof(*l));
	for (int i = 0; i < MAX_IFACES; i++)
		l->link_fd[i] = -1;
	libbpf_set_print(libbpf_print);
	if (check_privileges())
		return -1;
	if (libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, NULL) <= 0) {
		pr_err("this kernel has no BPF ring buffer (Linux 5.8 or later is needed)");
		return -1;
	}

	l->skel = hdrlog_bpf__open();
	if (!l->skel) {
		pr_err("cannot open the BPF object: %s", strerror(errno));
		return -1;
	}
	l->skel->rodata->sample_every = o->sample;
	set_list_policy(l->skel, o);
	err = bpf_map__set_max_entries(l->skel->maps.records, o->ringbuf_size);
	if (!err)
		err = hdrlog_bpf__load(l->skel);
	if (err) {
		if (err == -EPERM)
			pr_err("permission denied loading the BPF program: capturing needs root, or CAP_BPF and CAP_NET_ADMIN");
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

int loader_attach(struct loader *l, const struct iface_table *t,
		  enum xdp_mode mode)
{
	int prog_fd = bpf_program__fd(l->skel->progs.hdrlog_xdp);
	__u32 flags = mode == XDP_MODE_NATIVE ? XDP_FLAGS_DRV_MODE :
		      mode == XDP_MODE_GENERIC ? XDP_FLAGS_SKB_MODE : 0;

	for (int i = 0; i < t->n; i++) {
		LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = flags);
		const struct iface *f = &t->v[i];
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
	}
	return 0;
}

/* A fresh LPM trie holding n entries of (key, mask); returns its fd. */
static int trie_create(const char *name, __u32 key_size, const void *entries,
		       size_t entry_size, size_t n)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_NO_PREALLOC);
	LIBBPF_OPTS(bpf_map_batch_opts, bopts);
	size_t done = 0;
	char *keys = NULL;
	__u64 *vals = NULL;
	int fd, err = 0;

	fd = bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, name, key_size, sizeof(__u64),
			    HDRLOG_LPM_MAX_ENTRIES, &opts);
	if (fd < 0)
		return -errno;
	/* The entries interleave key and mask; batch updates want them apart. */
	keys = malloc(n * key_size + 1);
	vals = malloc(n * sizeof(*vals) + 1);
	if (!keys || !vals) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const char *e = (const char *)entries + i * entry_size;

		memcpy(keys + i * key_size, e, key_size);
		memcpy(&vals[i], e + entry_size - sizeof(__u64), sizeof(__u64));
	}
	while (done < n) {
		__u32 count = n - done > 65536 ? 65536 : n - done;

		if (bpf_map_update_batch(fd, keys + done * key_size, vals + done,
					 &count, &bopts)) {
			err = -errno;
			goto out;
		}
		done += count;
	}
out:
	free(keys);
	free(vals);
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

int loader_lists_install(struct loader *l, const struct list_set *set)
{
	__u32 slot = !l->skel->bss->list_slot;
	int v4, v6, err = 0;

	v4 = trie_create("hdrlog_v4", sizeof(struct hdrlog_lpm_v4), set->v4,
			 sizeof(set->v4[0]), set->n_v4);
	if (v4 < 0) {
		pr_err("cannot load the IPv4 lists into the kernel: %s",
		       strerror(-v4));
		return -1;
	}
	v6 = trie_create("hdrlog_v6", sizeof(struct hdrlog_lpm_v6), set->v6,
			 sizeof(set->v6[0]), set->n_v6);
	if (v6 < 0) {
		pr_err("cannot load the IPv6 lists into the kernel: %s",
		       strerror(-v6));
		close(v4);
		return -1;
	}
	if (bpf_map__update_elem(l->skel->maps.lists_v4, &slot, sizeof(slot),
				 &v4, sizeof(v4), BPF_ANY) ||
	    bpf_map__update_elem(l->skel->maps.lists_v6, &slot, sizeof(slot),
				 &v6, sizeof(v6), BPF_ANY)) {
		pr_err("cannot put the lists in place: %s", strerror(errno));
		err = -1;
	} else {
		__u32 old = !slot;

		/* One aligned word: every frame sees one slot or the other. */
		__atomic_store_n(&l->skel->bss->list_slot, slot, __ATOMIC_RELEASE);
		/*
		 * A frame that read the old slot number just before the switch
		 * may still look that slot up; XDP runs take microseconds, so
		 * after a pause no frame can, and the old tries are let go.
		 */
		if (l->lists_installed) {
			usleep(LIST_SWITCH_GRACE_US);
			bpf_map__delete_elem(l->skel->maps.lists_v4, &old,
					     sizeof(old), 0);
			bpf_map__delete_elem(l->skel->maps.lists_v6, &old,
					     sizeof(old), 0);
		}
		l->lists_installed = 1;
	}
	/* The outer maps hold the tries now. */
	close(v4);
	close(v6);
	return err;
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
	if (!per_cpu)
		return -1;
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

int loader_ringbuf_fd(const struct loader *l)
{
	return bpf_map__fd(l->skel->maps.records);
}

void loader_detach(struct loader *l)
{
	for (int i = 0; i < l->n_links; i++)
		close(l->link_fd[i]);
	l->n_links = 0;
}

void loader_close(struct loader *l)
{
	loader_detach(l);
	hdrlog_bpf__destroy(l->skel);
	l->skel = NULL;
}
