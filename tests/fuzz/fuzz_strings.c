// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer: hostile text where formatters print names hdrlog did not
 * make: the interface name, the process name (comm) and list names, each
 * any bytes, invalid UTF-8 and control characters included (list names
 * are checked when read, but a formatter must not depend on that). The
 * input is "knobs" then NUL-separated strings; numbers come from a fixed
 * well-formed event so the strings are what varies.
 */
#include <stdint.h>
#include <string.h>

#include "event.h"
#include "formatters.h"

#define MAX_NAMES	8

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	formatters_init();
	return 0;
}

static void base_event(struct event *e, unsigned int knobs)
{
	static const uint8_t a4[16] = { 198, 51, 100, 7 };
	static const uint8_t b4[16] = { 203, 0, 113, 9 };

	memset(e, 0, sizeof(*e));
	e->present = FIELD_MASK_ALL;
	e->time_ns = 1764547200123456789ULL;
	e->event_type = knobs & 1 ? EVENT_SOCKET : EVENT_PACKET;
	e->sock_event = HDRLOG_SOCK_CLOSE;
	e->direction = HDRLOG_DIR_INBOUND;
	e->tcp_state = 1;	/* ESTABLISHED */
	e->ip_v = 4;
	memcpy(e->src_ip, a4, 16);
	memcpy(e->dest_ip, b4, 16);
	e->ip_proto = 6;
	e->vlan_count = knobs & 2 ? 2 : 0;
	e->vlan[0] = 100;
	e->vlan[1] = 4095;
	e->dropped = knobs & 4;
	e->would_drop = knobs & 8;
	strcpy(e->community_id, "1:LQU9qZlK+B5F3KDmev6m5PMibrg=");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char copy[4096], *names[2 + 2 * MAX_NAMES];
	unsigned int knobs, n = 0;
	struct event e;
	size_t len;

	if (!size)
		return 0;
	knobs = data[0];
	len = size - 1 < sizeof(copy) - 1 ? size - 1 : sizeof(copy) - 1;
	memcpy(copy, data + 1, len);
	copy[len] = '\0';
	/* split at NULs: iface, comm, then src and dest list names */
	for (char *p = copy; n < 2 + 2 * MAX_NAMES && p <= copy + len;
	     p += strlen(p) + 1)
		names[n++] = p;
	base_event(&e, knobs);
	e.in_iface = n > 0 ? names[0] : "";
	e.out_iface = e.in_iface;
	if (n > 1)
		snprintf(e.comm, sizeof(e.comm), "%s", names[1]);
	for (unsigned int i = 2; i < n; i++) {
		if ((i & 1) == 0)
			e.src_lists[e.n_src_lists++] = names[i];
		else
			e.dest_lists[e.n_dest_lists++] = names[i];
	}
	format_everything(&e, knobs & 0x10 ? ~0ULL : 0x0123456789abcdefULL,
			  knobs >> 5);
	return 0;
}
