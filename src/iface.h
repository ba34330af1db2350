/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The interfaces being captured on, by index and name. */
#ifndef HDRLOG_IFACE_H
#define HDRLOG_IFACE_H

#include <net/if.h>
#include <stdint.h>

#include "options.h"

struct iface {
	uint32_t ifindex;
	char name[IF_NAMESIZE];
};

struct iface_table {
	struct iface v[MAX_IFACES];
	int n;
};

/*
 * Resolve the names from the command line, or with none the interface of
 * the IPv4 (else IPv6) default route. Returns 0 or -1 with a message.
 */
int iface_table_resolve(struct iface_table *t, const char *const *names,
			int n_names);

const char *iface_name(const struct iface_table *t, uint32_t ifindex);

/* A non-blocking socket told of link changes, or a negative errno. */
int iface_watch_open(void);
/* After link changes: an interface of t that no longer exists, or NULL. */
const struct iface *iface_watch_check(int fd, const struct iface_table *t);

#endif
