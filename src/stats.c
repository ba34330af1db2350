// SPDX-License-Identifier: GPL-2.0-or-later
#include "sink.h"
#include "stats.h"

static void line(FILE *f, uint64_t n, const char *what)
{
	fprintf(f, "%llu %s\n", (unsigned long long)n, what);
}

/*
 * One line per output: every output gets every record, and for each
 * records = written + lost (+ socket events a capture file has no place
 * for, + records still queued when asked by SIGUSR1), so the line adds up
 * on its own; no sum or minimum over outputs could.
 */
static void output_line(FILE *f, const struct sink *k)
{
	char name[SINK_DESCRIBE_SIZE];
	uint64_t queued = k->records - k->written - k->failed - k->skipped;

	fprintf(f, "output %s: %llu written, %llu lost",
		sink_describe(k, name, sizeof(name)),
		(unsigned long long)k->written, (unsigned long long)k->failed);
	if (k->cut)
		fprintf(f, ", %llu cut to fit", (unsigned long long)k->cut);
	if (k->skipped)
		fprintf(f, ", %llu socket events not for this output",
			(unsigned long long)k->skipped);
	if (queued && queued <= k->records)
		fprintf(f, ", %llu queued", (unsigned long long)queued);
	fputc('\n', f);
}

void stats_print(const struct stats *s, const struct options *o, FILE *f)
{
	const struct hdrlog_counters *k = &s->kernel;
	const struct sink *one = s->n_sinks == 1 ? s->sinks[0] : NULL;

	if (o->packets && o->direction == CAPTURE_BOTH) {
		line(f, k->seen - k->out_seen, "frames seen incoming");
		line(f, k->out_seen, "frames seen outgoing");
	} else if (o->packets) {
		line(f, k->seen, o->direction == CAPTURE_OUT ?
		     "frames seen outgoing" : "frames seen");
	}
	/*
	 * One output: its counts are the run's (records it has no place for
	 * count as written, as they always have). Several: what each got.
	 */
	if (one)
		line(f, one->written + one->skipped, "records written");
	else if (s->n_sinks)
		line(f, s->sinks[0]->records, "records to the outputs (each output's counts below)");
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
	if (one && one->failed)
		line(f, one->failed, "records lost (output write errors or full queues)");
	if (one && one->cut)
		line(f, one->cut, "records cut to fit (syslog datagrams)");
	for (int i = 0; i < s->n_sinks; i++)
		output_line(f, s->sinks[i]);
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
	/* Outgoing frames meet block lists only (apply_lists()). */
	if (o->direction != CAPTURE_IN) {
		line(f, k->out_passed, "outgoing frames passed");
		line(f, k->out_dropped, "outgoing frames dropped (block lists)");
		if (o->monitor)
			line(f, k->out_would_drop, "outgoing frames that would have been dropped (--monitor)");
	}
	for (int i = 0; i < o->n_lists; i++)
		fprintf(f, "list %s: %llu source hits, %llu destination hits\n",
			s->lists && i < s->lists->n_lists ?
			s->lists->lists[i].name : o->lists[i].name,
			(unsigned long long)k->src_hits[i],
			(unsigned long long)k->dest_hits[i]);
}

/* The counts as stats_print() adds them up, shorter. */
void stats_status(const struct stats *s, char *buf, size_t size)
{
	const struct hdrlog_counters *k = &s->kernel;
	uint64_t written = 0, lost = k->lost + k->sock_lost + s->undecodable;
	uint64_t dropped = k->dropped + k->dropped_allow + k->dropped_deep;

	for (int i = 0; i < s->n_sinks; i++)
		lost += s->sinks[i]->failed;
	if (s->n_sinks == 1)
		written = s->sinks[0]->written + s->sinks[0]->skipped;
	else if (s->n_sinks)
		written = s->sinks[0]->records;
	snprintf(buf, size, "%llu records %s, %llu lost, %llu frames dropped",
		 (unsigned long long)written,
		 s->n_sinks > 1 ? "to the outputs" : "written",
		 (unsigned long long)lost, (unsigned long long)dropped);
}
