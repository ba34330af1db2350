// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdio.h>
#include <string.h>

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

int iface_table_resolve(struct iface_table *t, const char *const *names,
			int n_names)
{
	char def[IF_NAMESIZE];
	const char *def_names[1] = { def };

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
		if (!f->ifindex) {
			pr_err("no such interface: %s", q);
			return -1;
		}
		if (iface_name(t, f->ifindex)) {
			pr_err("interface %s named twice", q);
			return -1;
		}
		snprintf(f->name, sizeof(f->name), "%s", names[i]);
		t->n++;
	}
	return 0;
}

const char *iface_name(const struct iface_table *t, uint32_t ifindex)
{
	for (int i = 0; i < t->n; i++)
		if (t->v[i].ifindex == ifindex)
			return t->v[i].name;
	return NULL;
}
