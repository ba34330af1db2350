// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <net/if_arp.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/genetlink.h>
#include <linux/if_link.h>
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

/*
 * The genetlink "netdev" family (Linux 6.3; Debian 12's headers predate
 * it): what XDP a driver runs natively.
 */
#define NETDEV_CMD_DEV_GET		1
#define NETDEV_A_DEV_IFINDEX		1
#define NETDEV_A_DEV_XDP_FEATURES	3
#define NETDEV_XDP_ACT_BASIC		1

/*
 * One netlink request and its one reply, into buf: the reply's length,
 * or a negative errno (the kernel's answer if it refused).
 */
static int nl_ask(int proto, struct nlmsghdr *req, void *buf, size_t size)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, proto);
	struct nlmsghdr *h = buf;
	ssize_t n = 0;

	if (fd < 0)
		return -errno;
	req->nlmsg_flags = NLM_F_REQUEST;
	req->nlmsg_seq = 1;
	if (sendto(fd, req, req->nlmsg_len, 0, (struct sockaddr *)&sa,
		   sizeof(sa)) < 0 ||
	    (n = recv(fd, buf, size, MSG_TRUNC)) < 0)
		n = -errno;	/* taken before close(), which may set it */
	close(fd);
	if (n < 0)
		return (int)n;
	if ((size_t)n > size)
		return -EMSGSIZE;
	if (!NLMSG_OK(h, (unsigned int)n))
		return -EPROTO;
	if (h->nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *e = NLMSG_DATA(h);

		return e->error ? e->error : -ENODATA;
	}
	return (int)n;
}

/* An attribute of a run (rtattr and nlattr are alike), or NULL. */
static const struct rtattr *nl_attr(const void *start, int len,
				    unsigned short type)
{
	for (const struct rtattr *a = start; RTA_OK(a, len);
	     a = RTA_NEXT(a, len))
		if ((a->rta_type & NLA_TYPE_MASK) == type)
			return a;
	return NULL;
}

/* Append an attribute to a request built in a buffer. */
static void nl_put(struct nlmsghdr *h, unsigned short type, const void *v,
		   size_t len)
{
	struct rtattr *a = (struct rtattr *)((char *)h +
					     NLMSG_ALIGN(h->nlmsg_len));

	a->rta_type = type;
	a->rta_len = RTA_LENGTH(len);
	memcpy(RTA_DATA(a), v, len);
	h->nlmsg_len = NLMSG_ALIGN(h->nlmsg_len) + RTA_ALIGN(a->rta_len);
}

/* A genetlink request: header, command, room for a few attributes. */
struct genl_req {
	struct nlmsghdr h;
	struct genlmsghdr g;
	char attrs[64];
};

static void genl_req_init(struct genl_req *r, __u16 family, __u8 cmd)
{
	memset(r, 0, sizeof(*r));
	r->h.nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN);
	r->h.nlmsg_type = family;
	r->g.cmd = cmd;
	r->g.version = 1;
}

/* A genetlink reply's attribute (nl_ask() checked the header), or NULL. */
static const struct rtattr *genl_attr(const void *buf, unsigned short type)
{
	const struct nlmsghdr *h = buf;

	return nl_attr((const char *)NLMSG_DATA(h) + GENL_HDRLEN,
		       (int)h->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN), type);
}

/*
 * The NETDEV_XDP_ACT_* flags of an interface's driver, or a negative
 * errno (-ENOENT: no netdev family, a kernel before 6.3).
 */
static long long xdp_features(uint32_t ifindex)
{
	static const char family_name[] = "netdev";
	struct genl_req r;
	char buf[1024];
	const struct rtattr *a;
	__u64 features;
	__u16 family;
	int n;

	genl_req_init(&r, GENL_ID_CTRL, CTRL_CMD_GETFAMILY);
	nl_put(&r.h, CTRL_ATTR_FAMILY_NAME, family_name, sizeof(family_name));
	n = nl_ask(NETLINK_GENERIC, &r.h, buf, sizeof(buf));
	if (n < 0)
		return n;
	a = genl_attr(buf, CTRL_ATTR_FAMILY_ID);
	if (!a || RTA_PAYLOAD(a) < sizeof(family))
		return -ENOENT;
	memcpy(&family, RTA_DATA(a), sizeof(family));

	genl_req_init(&r, family, NETDEV_CMD_DEV_GET);
	nl_put(&r.h, NETDEV_A_DEV_IFINDEX, &ifindex, sizeof(ifindex));
	n = nl_ask(NETLINK_GENERIC, &r.h, buf, sizeof(buf));
	if (n < 0)
		return n;
	a = genl_attr(buf, NETDEV_A_DEV_XDP_FEATURES);
	if (!a || RTA_PAYLOAD(a) < sizeof(features))
		return -ENOENT;
	memcpy(&features, RTA_DATA(a), sizeof(features));	/* 4-aligned */
	return (long long)features;
}

/*
 * Whether an interface sits on a bus device (a NIC, virtio: not veth,
 * bridge, tun, lo, ...), and the link kind a virtual device was made
 * with ("veth", "bridge"; empty if none). Asked of the kernel in our own
 * namespace: IFLA_PARENT_DEV_NAME (Linux 5.16), else /sys/class/net,
 * which shows our namespace's devices only if /sys was mounted in it
 * (ip netns exec does), hence the index check.
 */
static bool link_has_parent(const struct iface *f, char *kind, size_t size)
{
	struct {
		struct nlmsghdr h;
		struct ifinfomsg i;
	} req = {
		.h.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg)),
		.h.nlmsg_type = RTM_GETLINK,
		.i.ifi_index = (int)f->ifindex,
	};
	static char buf[32768];
	const struct nlmsghdr *h = (const struct nlmsghdr *)buf;
	const struct rtattr *a, *info;
	char path[64 + IF_NAMESIZE];
	unsigned int index = 0;
	int n, len;
	FILE *idx;

	kind[0] = 0;
	n = nl_ask(NETLINK_ROUTE, &req.h, buf, sizeof(buf));
	if (n > 0 && h->nlmsg_type == RTM_NEWLINK &&
	    h->nlmsg_len <= (unsigned int)n) {
		const char *start = (const char *)NLMSG_DATA(h) +
				    NLMSG_ALIGN(sizeof(struct ifinfomsg));

		len = (int)h->nlmsg_len -
		      NLMSG_LENGTH(NLMSG_ALIGN(sizeof(struct ifinfomsg)));
		info = nl_attr(start, len, IFLA_LINKINFO);
		a = info ? nl_attr(RTA_DATA(info), RTA_PAYLOAD(info),
				   IFLA_INFO_KIND) : NULL;
		if (a)
			snprintf(kind, size, "%.*s", (int)RTA_PAYLOAD(a),
				 (const char *)RTA_DATA(a));
		if (nl_attr(start, len, IFLA_PARENT_DEV_NAME))
			return true;
	}
	snprintf(path, sizeof(path), "/sys/class/net/%s/ifindex", f->name);
	idx = fopen(path, "r");
	if (!idx)
		return false;
	if (fscanf(idx, "%u", &index) != 1)
		index = 0;
	fclose(idx);
	snprintf(path, sizeof(path), "/sys/class/net/%s/device", f->name);
	return index == f->ifindex && !access(path, F_OK);
}

/*
 * --attach-ingress auto, measured on a veth pair here (300,000 64-byte
 * UDP frames from trafgen -P 1, whole-machine CPU per frame above no
 * capture): a bare tc program returning OK added nothing measurable, a
 * bare XDP_PASS 0.68 us native and 0.24 us generic; hdrlog -o json cost
 * 1.30 us through XDP and 1.07 us through tc. A virtual device hands on
 * frames that are skbs already, so XDP's gain (acting before the skb is
 * built) does not exist there, and native XDP on a veth adds NAPI and a
 * conversion of every skb. Generic XDP is the same skb path plus a
 * conversion. So XDP only where a bus device's driver runs it natively.
 */
void iface_choose_ingress(struct iface *f, const struct options *o)
{
	char kind[32];
	long long features;

	f->ingress_tc = o->ingress == INGRESS_TC;
	f->xdp_mode = o->xdp_mode;
	f->why[0] = 0;
	if (o->ingress != INGRESS_AUTO)
		return;
	if (o->xdp_mode != XDP_MODE_AUTO) {
		snprintf(f->why, sizeof(f->why), "--xdp-mode asks for XDP");
		return;
	}
	if (!link_has_parent(f, kind, sizeof(kind))) {
		f->ingress_tc = true;
		if (kind[0])
			snprintf(f->why, sizeof(f->why), "a virtual device (%s)",
				 kind);
		else
			snprintf(f->why, sizeof(f->why),
				 "a virtual device (no bus device)");
		return;
	}
	features = xdp_features(f->ifindex);
	if (features < 0) {
		/*
		 * Before Linux 6.3 no kernel says what a driver runs; the
		 * kernel attaches natively if the driver can.
		 */
		snprintf(f->why, sizeof(f->why),
			 "a bus device (native XDP if its driver has it)");
	} else if (features & NETDEV_XDP_ACT_BASIC) {
		f->xdp_mode = XDP_MODE_NATIVE;
		snprintf(f->why, sizeof(f->why),
			 "its driver runs XDP natively");
	} else {
		f->ingress_tc = true;
		snprintf(f->why, sizeof(f->why),
			 "its driver has no native XDP");
	}
}

int iface_table_resolve(struct iface_table *t, const struct options *o)
{
	const char *const *names = o->ifaces;
	int n_names = o->n_ifaces;
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
		iface_choose_ingress(f, o);
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
