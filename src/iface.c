// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <net/if_arp.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "iface.h"
#include "log.h"

/* /proc/net/route: "Iface Destination Gateway ..." in hex; 0 = default. */
static int default_route_v4(char *name)
{
	char line[256], ifn[IF_NAMESIZE];
	unsigned long dest, mask;
	FILE *f = fopen("/proc/net/route", "r");
	int found = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%15s %lx %*x %*x %*d %*d %*d %lx", ifn, &dest,
			   &mask) == 3 && !dest && !mask) {
			memcpy(name, ifn, IF_NAMESIZE);
			found = 0;
			break;
		}
	fclose(f);
	return found;
}

/* /proc/net/ipv6_route: dest, plen, src, splen, next hop, metric, ..., name. */
static int default_route_v6(char *name)
{
	char line[256], dest[33], ifn[IF_NAMESIZE];
	unsigned int plen;
	FILE *f = fopen("/proc/net/ipv6_route", "r");
	int found = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%32s %x %*s %*x %*s %*x %*x %*x %*x %15s",
			   dest, &plen, ifn) == 3 && !plen &&
		    !strcmp(dest, "00000000000000000000000000000000") &&
		    strcmp(ifn, "lo")) {
			memcpy(name, ifn, IF_NAMESIZE);
			found = 0;
			break;
		}
	fclose(f);
	return found;
}

/* Link types with a name worth printing; the rest print as numbers. */
static const struct {
	unsigned short type;
	const char *name;
} link_types[] = {
	{ ARPHRD_NONE, "none: layer 3, as tun and WireGuard" },
	{ ARPHRD_IPGRE, "GRE" },
	{ ARPHRD_TUNNEL, "IPIP" },
	{ ARPHRD_TUNNEL6, "IPv6 tunnel" },
	{ ARPHRD_SIT, "SIT" },
	{ ARPHRD_PPP, "PPP" },
	{ ARPHRD_INFINIBAND, "InfiniBand" },
	{ ARPHRD_CAN, "CAN" },
};

static const char *link_type_name(unsigned short type)
{
	for (size_t i = 0; i < sizeof(link_types) / sizeof(link_types[0]); i++)
		if (link_types[i].type == type)
			return link_types[i].name;
	return "not Ethernet";
}

/* The ARPHRD_* link type of an interface, or a negative errno. */
static int link_type(const char *name)
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int err;

	if (fd < 0)
		fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	/* taken before close(), which may set errno too */
	err = ioctl(fd, SIOCGIFHWADDR, &ifr) ? -errno : 0;
	close(fd);
	return err ? err : ifr.ifr_hwaddr.sa_family;
}

/*
 * The parser reads an Ethernet header first. On a layer-3 device (tun,
 * WireGuard, GRE, ...) XDP sees the IP header at the start, so addresses
 * would be read as MACs and no list could match: refuse those. Loopback
 * stays: it has no native XDP, and generic XDP (netif_receive_generic_xdp)
 * starts the frame at the mac header, which on lo is the Ethernet header
 * eth_header() built.
 */
static int check_link_type(const char *name)
{
	int type = link_type(name);

	if (type < 0) {
		pr_err("cannot read the link type of %s: %s", name,
		       strerror(-type));
		return -1;
	}
	if (type == ARPHRD_ETHER || type == ARPHRD_LOOPBACK)
		return 0;
	pr_err("%s is not an Ethernet interface (link type %d, %s); hdrlog reads Ethernet headers only",
	       name, type, link_type_name(type));
	return -1;
}

int iface_table_resolve(struct iface_table *t, const char *const *names,
			int n_names)
{
	char def[IF_NAMESIZE];
	const char *def_names[1] = { def };
	int err = 0;

	t->n = 0;
	if (!n_names) {
		if (default_route_v4(def) && default_route_v6(def)) {
			pr_err("no default route to take the interface from; name one with -i");
			return -1;
		}
		names = def_names;
		n_names = 1;
	}
	for (int i = 0; i < n_names; i++) {
		struct iface *f = &t->v[t->n];
		char q[LOG_ESCAPE_SIZE(IF_NAMESIZE)];

		/* names come from the command line: printed escaped */
		log_escape(q, sizeof(q), names[i], strlen(names[i]));
		f->ifindex = if_nametoindex(names[i]);
		/* Every bad name is reported, not only the first (--check). */
		if (!f->ifindex) {
			pr_err("no such interface: %s", q);
			err = -1;
			continue;
		}
		if (iface_name(t, f->ifindex)) {
			pr_err("interface %s named twice", q);
			err = -1;
			continue;
		}
		snprintf(f->name, sizeof(f->name), "%s", names[i]);
		if (check_link_type(f->name)) {
			err = -1;
			continue;
		}
		t->n++;
	}
	return err;
}

const char *iface_name(const struct iface_table *t, uint32_t ifindex)
{
	for (int i = 0; i < t->n; i++)
		if (t->v[i].ifindex == ifindex)
			return t->v[i].name;
	return NULL;
}

/*
 * A deleted interface takes its XDP link with it and capture goes blind
 * without any error. A route netlink socket subscribed to link changes
 * tells us when to look; what was deleted is then read from the kernel
 * (by index), so a lost or overrun notification only costs a look.
 */
int iface_watch_open(void)
{
	struct sockaddr_nl sa = {
		.nl_family = AF_NETLINK,
		.nl_groups = RTMGRP_LINK,
	};
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC,
			NETLINK_ROUTE);
	int err;

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		err = -errno;	/* before close(), which may set it */
		close(fd);
		return err;
	}
	return fd;
}

const struct iface *iface_watch_check(int fd, const struct iface_table *t)
{
	char buf[8192], name[IF_NAMESIZE];
	bool changed = false;
	ssize_t n;

	/* Any message, an overrun (ENOBUFS) too, is a reason to look. */
	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0 ||
	       (n < 0 && errno == ENOBUFS))
		changed = true;
	if (!changed)
		return NULL;
	for (int i = 0; i < t->n; i++)
		if (!if_indextoname(t->v[i].ifindex, name) && errno == ENXIO)
			return &t->v[i];
	return NULL;
}
