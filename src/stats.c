// SPDX-License-Identifier: GPL-2.0-or-later
#include "stats.h"

static void line(FILE *f, uint64_t n, const char *what)
{
	fprintf(f, "%llu %s\n", (unsigned long long)n, what);
}

void stats_print(const struct stats *s, const struct options *o, FILE *f)
{
	const struct hdrlog_counters *k = &s->kernel;

	line(f, k->seen, "frames seen");
	line(f, s->written, "records written");
	line(f, k->lost, "records lost (ring buffer full)");
	line(f, k->sampled_out, "frames not logged (sampling)");
	if (o->log_listed)
		line(f, k->not_listed, "frames not logged (--log listed)");
	if (s->write_failed)
		line(f, s->write_failed, "records lost (output write errors)");
	if (s->undecodable)
		line(f, s->undecodable, "records lost (unknown record layout)");
	if (k->too_deep)
		line(f, k->too_deep, "frames with headers deeper than parsed");
	if (!o->n_lists)
		return;
	line(f, k->passed, "frames passed");
	line(f, k->dropped, "frames dropped (block lists)");
	line(f, k->dropped_allow, "frames dropped (in no allow list)");
	if (o->too_deep_drop)
		line(f, k->dropped_deep, "frames dropped (headers deeper than parsed)");
	if (o->monitor)
		line(f, k->would_drop, "frames that would have been dropped (--monitor)");
	for (int i = 0; i < o->n_lists; i++)
		fprintf(f, "list %s: %llu source hits, %llu destination hits\n",
			o->lists[i].name, (unsigned long long)k->src_hits[i],
			(unsigned long long)k->dest_hits[i]);
}
