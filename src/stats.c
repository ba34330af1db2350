// SPDX-License-Identifier: GPL-2.0-or-later
#include "sink.h"
#include "stats.h"

static void line(FILE *f, uint64_t n, const char *what)
{
	fprintf(f, "%llu %s\n", (unsigned long long)n, what);
}

void stats_print(const struct stats *s, const struct options *o, FILE *f)
{
	const struct hdrlog_counters *k = &s->kernel;

	uint64_t written = UINT64_MAX, failed = 0, cut = 0;

	/*
	 * With several outputs, the one that wrote least speaks for all;
	 * records an output has no place for count as its own.
	 */
	for (int i = 0; i < s->n_sinks; i++) {
		uint64_t w = s->sinks[i]->written + s->sinks[i]->skipped;

		if (w < written)
			written = w;
		failed += s->sinks[i]->failed;
		cut += s->sinks[i]->cut;
	}
	if (!s->n_sinks)
		written = 0;
	if (o->packets)
		line(f, k->seen, "frames seen");
	line(f, written, "records written");
	line(f, k->lost + k->sock_lost, "records lost (ring buffer full)");
	if (o->sockets)
		line(f, k->sock_events, "socket events");
	if (o->packets)
		line(f, k->sampled_out, "frames not logged (sampling)");
	if (o->sockets && k->udp_limited)
		line(f, k->udp_limited, "udp_send events skipped (rate bound)");
	if (o->log_listed)
		line(f, k->not_listed, "frames not logged (--log listed)");
	if (o->filter[0])
		line(f, s->filtered, "records not written (filter expression)");
	if (failed)
		line(f, failed, "records lost (output write errors or full queues)");
	if (cut)
		line(f, cut, "records cut to fit (syslog datagrams)");
	if (s->n_sinks > 1 || failed)
		for (int i = 0; i < s->n_sinks; i++) {
			const struct sink *k2 = s->sinks[i];

			fprintf(f, "output %s%s%s: %llu written, %llu lost",
				k2->ops->name, *k2->target ? ":" : "", k2->target,
				(unsigned long long)k2->written,
				(unsigned long long)k2->failed);
			if (k2->cut)
				fprintf(f, ", %llu cut to fit",
					(unsigned long long)k2->cut);
			if (k2->skipped)
				fprintf(f, ", %llu socket events not for this output",
					(unsigned long long)k2->skipped);
			fputc('\n', f);
		}
	if (s->undecodable)
		line(f, s->undecodable, "records lost (unknown record layout)");
	if (k->too_deep)
		line(f, k->too_deep, "frames with headers deeper than parsed");
	if (!o->n_lists)
		return;
	line(f, k->passed, "frames passed");
	line(f, k->dropped, "frames dropped (block lists)");
	line(f, k->dropped_allow, "frames dropped (in no allow list)");
	if (o->too_deep_drop || k->dropped_deep)	/* tags past the parser: any list mode */
		line(f, k->dropped_deep, "frames dropped (headers deeper than parsed)");
	if (o->monitor)
		line(f, k->would_drop, "frames that would have been dropped (--monitor)");
	for (int i = 0; i < o->n_lists; i++)
		fprintf(f, "list %s: %llu source hits, %llu destination hits\n",
			o->lists[i].name, (unsigned long long)k->src_hits[i],
			(unsigned long long)k->dest_hits[i]);
}
