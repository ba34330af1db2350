/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The interfaces being captured on, by index and name. */
#ifndef HDRLOG_IFACE_H
#define HDRLOG_IFACE_H

#include <net/if.h>
#include <stdbool.h>
#include <stdint.h>

#include "options.h"

struct iface {
	uint32_t ifindex;
	char name[IF_NAMESIZE];
	bool ingress_tc;		/* incoming frames through tc, not XDP */
	enum xdp_mode xdp_mode;		/* with XDP: how it attaches */
	char why[64];			/* --attach-ingress auto: the reason */
};

struct iface_table {
	struct iface v[MAX_IFACES];
	int n;
};

/*
 * Resolve the names from the command line (-i), or with none the
 * interface of the IPv4 (else IPv6) default route, and choose the hook
 * for each one's incoming frames (iface_choose_ingress()). Returns 0 or
 * -1 with a message.
 */
int iface_table_resolve(struct iface_table *t, const struct options *o);

/*
 * --attach-ingress and --xdp-mode for one interface: with auto, XDP
 * where a bus device's driver runs it natively, else tc (the rule and
 * its measurement are in iface.c). Fills ingress_tc, xdp_mode and why.
 */
void iface_choose_ingress(struct iface *f, const struct options *o);

const char *iface_name(const struct iface_table *t, uint32_t ifindex);

/* A non-blocking socket told of link changes, or a negative errno. */
int iface_watch_open(void);
/* After link changes: an interface of t that no longer exists, or NULL. */
const struct iface *iface_watch_check(int fd, const struct iface_table *t);

#endif
