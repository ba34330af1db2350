/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The trailing filter expression, tcpdump's syntax, run on record bytes. */
#ifndef HDRLOG_FILTER_H
#define HDRLOG_FILTER_H

#include <stdbool.h>
#include <stdint.h>

struct event;

/* libpcap's program, kept opaque: its bpf.h clashes with the kernel's. */
struct filter {
	void *prog;
};

/* Compile expr ("" for none) for Ethernet; 0, or -1 with a message. */
int filter_compile(struct filter *f, const char *expr, uint32_t snaplen);

/* Whether the record's frame bytes match (true without a filter). */
bool filter_match(const struct filter *f, const struct event *e);

void filter_free(struct filter *f);

#endif
