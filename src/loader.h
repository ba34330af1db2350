/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Load the embedded BPF object, attach it, and read its counters. */
#ifndef HDRLOG_LOADER_H
#define HDRLOG_LOADER_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "iface.h"
#include "lists.h"
#include "options.h"
#include "record.h"

struct hdrlog_bpf;
struct bpf_link;

/* Socket programs of one attach method: 4 today (select_socket_programs). */
#define MAX_SOCK_LINKS	8

/* A clsact filter hdrlog added (kernels without tcx), removed at exit. */
struct tc_filter {
	int ifindex;
	int egress;
};

/* How tc programs attach: tcx links (6.6 and later) or clsact filters. */
enum tc_attach {
	TC_ATTACH_NONE,
	TC_ATTACH_TCX,
	TC_ATTACH_CLSACT,
};

struct loader {
	struct hdrlog_bpf *skel;
	int link_fd[2 * MAX_IFACES];	/* XDP and tcx links; -1: none */
	int n_links;
	struct tc_filter tc_filters[2 * MAX_IFACES];
	int n_tc_filters;
	bool ingress_xdp, ingress_tc;	/* which hooks incoming frames use */
	bool ingress, egress;		/* which directions are captured */
	enum tc_attach tc;		/* how tc programs attach; 0: none do */
	int lists_installed;		/* a slot of the list maps is in force */
	enum attach_method sockets;	/* how socket events are caught; 0: not */
	struct bpf_link *sock_links[MAX_SOCK_LINKS];
	int n_sock_links;
	uint64_t lists_switched_ns;	/* clock_mono_ns() of the last switch */
};

/*
 * Whether we have the privileges o needs: 0, or -1 with a message, an
 * error (or a warning if warn: --check run by a user).
 */
int loader_check_privileges(const struct options *o, bool warn);

/*
 * Check privileges and kernel support, open and load the programs the
 * interfaces' chosen hooks need. 0 or -1 with a message.
 */
int loader_load(struct loader *l, const struct options *o,
		const struct iface_table *t);

/* The name of an attach method: "fentry", "kprobe", "tracepoint". */
const char *attach_method_name(enum attach_method m);

/*
 * Whether this kernel lets a method's programs load and attach: 0, or a
 * negative errno. Really loads and attaches a tiny program.
 */
int loader_probe_method(enum attach_method m);

/* --features: what the kernel offers, what hdrlog would use (and on -i's interfaces). */
void loader_print_features(FILE *f, const struct options *o);

/* Attach the socket-event programs chosen at load. 0 or -1 with a message. */
int loader_attach_sockets(struct loader *l);

/*
 * Attach to every interface, each direction captured through the hook
 * chosen for it: XDP or tcx through a bpf_link, or a clsact filter.
 * 0 or -1 with a message.
 */
int loader_attach(struct loader *l, const struct iface_table *t);

/*
 * The interfaces and their hooks, for the start-up line and --check:
 * " a0, a1 (in: tcx because a virtual device (veth), out: tcx)"; one
 * text per interface when they differ. Before load (l NULL), "tc".
 */
void loader_describe_ifaces(FILE *out, const struct loader *l,
			    const struct options *o,
			    const struct iface_table *t);

/* Kernel tables filled from a list set, not yet in force: map fds. */
struct list_tables {
	int chunks_v4;
	int ranges_v4;
	int chunks_v6;
	int ranges_v6;
};

/*
 * Create and fill the tables for a list set. Needs no loaded program, so
 * it can run beside loader_load(). 0 or -1 with a message.
 */
int loader_tables_build(struct list_tables *t, const struct list_set *set);

/*
 * Put built tables in force: into the slot not in use, then switch slots
 * in one step. Takes the tables' fds. 0, or -1 with a message (the lists
 * in force stay).
 */
int loader_lists_install(struct loader *l, struct list_tables *t);

void list_tables_close(struct list_tables *t);

/* Sum the per-CPU counters. */
int loader_counters(const struct loader *l, struct hdrlog_counters *sum);

/* One interface's counters one way (enum hdrlog_direction), summed. */
int loader_iface_counters(const struct loader *l, uint32_t ifindex,
			  uint8_t dir, struct hdrlog_iface_counters *sum);

int loader_ringbuf_fd(const struct loader *l);

/* The flow table's maps (bpf/flows.bpf.h), for src/flowtable.c. */
struct flow_table_maps;
void loader_flow_maps(const struct loader *l, struct flow_table_maps *m);
/* --respond: the maps src/respond.c reads and writes. */
struct respond_fds;
void loader_respond_fds(const struct loader *l, struct respond_fds *fds);


/* Detach from every interface; the program stays loaded. */
void loader_detach(struct loader *l);

/* Detach and free; safe on a partly set up loader. */
void loader_close(struct loader *l);

#endif
