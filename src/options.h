/* SPDX-License-Identifier: GPL-2.0-or-later */
#ifndef HDRLOG_OPTIONS_H
#define HDRLOG_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "lists.h"

#define MAX_IFACES	64
#define MAX_OUTPUTS	16

enum xdp_mode {
	XDP_MODE_AUTO,
	XDP_MODE_NATIVE,
	XDP_MODE_GENERIC,
};

struct options {
	const char *ifaces[MAX_IFACES];
	int n_ifaces;
	const char *outputs[MAX_OUTPUTS];
	int n_outputs;
	uint64_t count;		/* stop after this many records; 0: never */
	uint64_t fields;	/* mask of enum field_id */
	uint32_t sample;	/* log 1 in N frames */
	enum xdp_mode xdp_mode;
	uint32_t ringbuf_size;	/* bytes, a power of two */
	struct list_spec lists[MAX_LISTS];
	int n_lists;
	bool monitor;		/* never drop; mark what would be */
	bool log_listed;	/* records only for list hits and drops */
	bool too_deep_drop;	/* drop frames deeper than the parser goes */
};

enum options_result {
	OPTIONS_RUN,
	OPTIONS_EXIT,		/* --help or --version done */
	OPTIONS_USAGE,		/* bad command line, message printed */
};

enum options_result options_parse(struct options *o, int argc, char **argv);

#endif
