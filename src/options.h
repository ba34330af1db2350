/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef HDRLOG_OPTIONS_H
#define HDRLOG_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "lists.h"
#include "sink.h"

#define MAX_IFACES	64
#define MAX_OUTPUTS	16
#define OPTIONS_MAX_KEYS	64	/* struct options' given is a 64-bit mask */

enum xdp_mode {
	XDP_MODE_AUTO,
	XDP_MODE_NATIVE,
	XDP_MODE_GENERIC,
};

/* --attach-ingress: what hooks incoming frames. */
enum ingress_hook {
	INGRESS_AUTO,		/* chosen per interface (loader.c) */
	INGRESS_XDP,
	INGRESS_TC,
};

/* --direction: which frames are captured; egress is always tc. */
enum capture_dir {
	CAPTURE_IN,		/* the default: counts as before egress existed */
	CAPTURE_OUT,
	CAPTURE_BOTH,
};

enum attach_method {
	ATTACH_AUTO,
	ATTACH_FENTRY = 1,	/* = enum hdrlog_attach */
	ATTACH_KPROBE,
	ATTACH_TRACEPOINT,
};

struct respond_config;

struct options {
	const char *ifaces[MAX_IFACES];
	int n_ifaces;
	const char *outputs[MAX_OUTPUTS];
	int n_outputs;
	uint64_t count;		/* stop after this many records; 0: never */
	field_mask fields;	/* FIELD_BIT(enum field_id) */
	uint32_t sample;	/* log 1 in N frames */
	enum xdp_mode xdp_mode;
	enum ingress_hook ingress;	/* --attach-ingress */
	enum capture_dir direction;	/* --direction */
	uint32_t ringbuf_size;	/* bytes, a power of two */
	/* the shipper's own metrics (issue 12): src/metrics.h */
	uint32_t stats_interval;	/* seconds between stats records; 0 none */
	const char *metrics;	/* --metrics FILE or ADDR:PORT, or NULL */
	struct list_spec lists[MAX_LISTS];
	int n_lists;
	bool monitor;		/* never drop; mark what would be */
	/* automated response (issue 14): src/respond.h */
	const char *respond;	/* --respond FILE, or NULL */
	struct respond_config *respond_cfg;	/* read from it */
	const char *respond_state;	/* --respond-state FILE, or NULL */
	const char *control;	/* --control PATH, or the default: */
	char control_default[64];	/* CONTROL_DIR/IF.sock */
	bool blocks;		/* --blocks: ask the running hdrlog */
	const char *unblock;	/* --unblock ADDR[/PREFIX], or NULL */
	bool top;		/* --top */
	bool once;		/* --top --once */
	/* --log: a set; log_listed without log_packets: list hits only */
	bool log_packets;	/* a record for every frame (sampled) */
	bool log_listed;	/* records for list hits and drops */
	bool log_flows;		/* flow records (issue 13) */
	uint32_t flow_table;	/* --flow-table: entries */
	uint32_t flow_idle_timeout;	/* seconds */
	uint32_t flow_active_timeout;	/* seconds */
	bool too_deep_drop;	/* drop frames deeper than the parser goes */
	bool packets;		/* XDP capture (--events) */
	bool sockets;		/* socket events (--events, --socket-events) */
	bool features;		/* --features: print what the kernel offers */
	bool check;		/* --check: validate, print what would run */
	enum attach_method attach;	/* --attach; ATTACH_AUTO: probe */
	uint32_t snaplen;	/* -s: frame bytes a record carries */
	struct sink_config sink;	/* rotation, syslog format; fields */
	char filter[4096];	/* --filter or trailing expression, or "" */
	char *w_specs[MAX_OUTPUTS];	/* -w FILE turned into -o FORMAT:FILE */
	uint64_t given;		/* bit i: option i of the table was given */
	const char *config;	/* --config FILE, or NULL */
	char **config_values;	/* the file's values, which options point into */
	int n_config_values;
	/*
	 * Option i's arguments as given, ", " between repeats (a flag:
	 * "yes"); NULL if not given. What a reload compares and reports.
	 */
	char *text[OPTIONS_MAX_KEYS];
};

/* -s default: Ethernet, two VLAN tags, IPv6 with extension headers, TCP. */
#define DEFAULT_SNAPLEN	256

/*
 * Flow defaults as Cisco's NetFlow exporters have them (inactive 15 s,
 * active 30 min); the table holds 64Ki flows: 224 bytes each, 14 MiB of
 * kernel memory (1M flows: 224 MiB, bpftool's memlock).
 */
#define DEFAULT_FLOW_TABLE		65536
#define DEFAULT_FLOW_IDLE_TIMEOUT	15
#define DEFAULT_FLOW_ACTIVE_TIMEOUT	1800

/* Whether an output or the filter needs the frame's bytes. */
bool options_need_frame_bytes(const struct options *o);
void options_free(struct options *o);

enum options_result {
	OPTIONS_RUN,
	OPTIONS_EXIT,		/* --help or --version done */
	OPTIONS_USAGE,		/* bad command line, message printed */
};

enum options_result options_parse(struct options *o, int argc, char **argv);

/*
 * For a reload: the options a config file may set, by table index i from
 * 0 while options_key() is not NULL (it is "" for the others).
 */
const char *options_key(int i);
/* Whether option i was given differently (or only in one of a and b). */
bool options_key_changed(const struct options *a, const struct options *b,
			 int i);
/* Option i's value as given, or "the default". */
const char *options_key_value(const struct options *o, int i);

#endif
