// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer: event_decode() on arbitrary bytes, then every formatter on
 * what it decoded. The first byte picks the field mask and output knobs;
 * the rest is the ring-buffer record, copied to a block of its exact size.
 */
#include <stdint.h>
#include <string.h>

#include "clock.h"
#include "event.h"
#include "iface.h"
#include "formatters.h"

static struct clock_map clock_map;
static struct iface_table ifaces = {
	.v = {
		{ .ifindex = 1, .name = "eth0" },
		{ .ifindex = 2, .name = "\x1b[2J\"\\\n\x7f\xc3" },
		{ .ifindex = 3, .name = "v\xff\xfe\xe2\x82" },
	},
	.n = 3,
};
static struct list_set lists;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char *const names[] = { "spamhaus", "tor", "a", "z-9.x" };

	(void)argc;
	(void)argv;
	formatters_init();
	for (int i = 0; i < 4; i++) {
		strcpy(lists.lists[i].name, names[i]);
		lists.by_name[i] = i;
	}
	lists.n_lists = 4;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct decode_ctx ctx = { .clock = &clock_map, .ifaces = &ifaces };
	uint64_t mask = ~0ULL;
	unsigned int knobs;
	struct event e;
	uint8_t *rec;

	if (!size)
		return 0;
	knobs = data[0];
	if (knobs & 0x80)
		ctx.lists = &lists;
	if (knobs & 0x40)
		mask = 0x5555555555555555ULL >> (knobs & 7);
	data++;
	size--;
	rec = malloc(size ? size : 1);
	if (!rec)
		return 0;
	memcpy(rec, data, size);
	if (!event_decode(&e, rec, size, &ctx))
		format_everything(&e, mask, knobs);
	free(rec);
	return 0;
}
