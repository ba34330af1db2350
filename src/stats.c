// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdlib.h>

#include "event.h"
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
 * on its own; no sum or minimum over outputs could. Stats records
 * (--stats-interval) count as records of the outputs that take them, and
 * are said apart.
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
		fprintf(f, ", %llu records this output has no place for",
			(unsigned long long)k->skipped);
	if (k->stats)
		fprintf(f, ", %llu of them stats records",
			(unsigned long long)k->stats);
	if (queued && queued <= k->records)
		fprintf(f, ", %llu queued", (unsigned long long)queued);
	fputc('\n', f);
}

/* --respond: one line per policy, then what was refused or lost. */
static void respond_print(const struct stats *s, FILE *f)
{
	const struct respond_stats *r = &s->respond_stats;

	for (int i = 0; i < s->respond->n_policies; i++) {
		fprintf(f, "policy %s: %llu alerts, %llu blocks, %llu unblocks, %llu frames dropped",
			s->respond->policies[i].name,
			(unsigned long long)r->alerts[i],
			(unsigned long long)r->blocks[i],
			(unsigned long long)r->unblocks[i],
			(unsigned long long)r->dropped[i]);
		if (r->would_drop[i])
			fprintf(f, ", %llu would have been dropped (--monitor)",
				(unsigned long long)r->would_drop[i]);
		fputc('\n', f);
	}
	line(f, r->list_full, "blocks refused: dynamic block list full (max-blocks)");
	if (r->protected_alerts || r->protected_pass)
		fprintf(f, "%llu blocks refused and %llu frames passed: source on an allow or never-block list\n",
			(unsigned long long)r->protected_alerts,
			(unsigned long long)r->protected_pass);
	if (r->hot_lost || r->watch_full)
		line(f, r->hot_lost + r->watch_full, "hot sources not judged (more at once than hdrlog takes: raise the thresholds)");
	if (r->untracked)
		line(f, r->untracked, "frames not counted (per-source table busy)");
	if (r->baseline_full)
		line(f, r->baseline_full, "sources not learned by the baseline (table full: sources)");
}

static void print_lines(const struct stats *s, const struct options *o,
			FILE *f)
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
	else if (s->n_sinks)	/* stats records apart: not every output takes them */
		line(f, s->sinks[0]->records - s->sinks[0]->stats,
		     "records to the outputs (each output's counts below)");
	line(f, k->lost + k->sock_lost, "records lost (ring buffer full)");
	if (o->sockets)
		line(f, k->sock_events, "socket events");
	if (o->packets)
		line(f, k->sampled_out, "frames not logged (sampling)");
	if (o->sockets && k->udp_limited)
		line(f, k->udp_limited, "udp_send events skipped (rate bound)");
	if (o->log_listed && !o->log_packets)
		line(f, k->not_listed, "frames not logged (--log listed)");
	if (o->log_flows) {
		uint64_t n = 0;

		for (int i = 0; i < 6; i++)
			n += s->flows_exported[i];
		fprintf(f, "%llu flows exported (", (unsigned long long)n);
		for (int i = 0; i < 6; i++)
			fprintf(f, "%s%llu %s", i ? ", " : "",
				(unsigned long long)s->flows_exported[i],
				flow_reason_names[i]);
		fprintf(f, ")\n");
		line(f, k->flow_table_full, "frames not tracked (flow table full: raise --flow-table)");
	}
	if (o->filter[0])
		line(f, s->filtered, "records not written (filter expression)");
	if (one && one->failed)
		line(f, one->failed, "records lost (output write errors or full queues)");
	if (one && one->cut)
		line(f, one->cut, "records cut to fit (syslog datagrams, IPFIX list names)");
	for (int i = 0; i < s->n_sinks; i++)
		output_line(f, s->sinks[i]);
	if (s->undecodable)
		line(f, s->undecodable, "records lost (unknown record layout)");
	if (k->too_deep)
		line(f, k->too_deep, "frames with headers deeper than parsed");
	if (s->respond)
		respond_print(s, f);
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

/*
 * The summary in one write: stderr is unbuffered, so line by line it
 * went out in a write per line, and whatever else writes there meanwhile
 * (an output thread's warning, librdkafka's log) or reads it (a test
 * waiting for the summary's first lines) met half a summary. Without
 * the memory for it, line by line still.
 */
void stats_print(const struct stats *s, const struct options *o, FILE *f)
{
	char *text = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&text, &len);

	if (!m) {
		print_lines(s, o, f);
		return;
	}
	print_lines(s, o, m);
	if (!fclose(m))
		fwrite(text, 1, len, f);
	else
		print_lines(s, o, f);
	free(text);
}

/* The counts as stats_print() adds them up, shorter. */
void stats_status(const struct stats *s, char *buf, size_t size)
{
	const struct hdrlog_counters *k = &s->kernel;
	uint64_t written = 0, lost = k->lost + k->sock_lost + s->undecodable;
	uint64_t dropped = k->dropped + k->dropped_allow + k->dropped_deep;

	for (int i = 0; s->respond && i < s->respond->n_policies; i++)
		dropped += s->respond_stats.dropped[i];	/* --respond's blocks */
	for (int i = 0; i < s->n_sinks; i++)
		lost += s->sinks[i]->failed;
	if (s->n_sinks == 1)
		written = s->sinks[0]->written + s->sinks[0]->skipped;
	else if (s->n_sinks)
		written = s->sinks[0]->records - s->sinks[0]->stats;
	snprintf(buf, size, "%llu records %s, %llu lost, %llu frames dropped",
		 (unsigned long long)written,
		 s->n_sinks > 1 ? "to the outputs" : "written",
		 (unsigned long long)lost, (unsigned long long)dropped);
}

/*
 * The metrics, one line each: stats_walk() emits them, the stats record
 * (metrics.c) nests them by group and labels, the exposition writes one
 * family per line here, in this order. Man page hdrlog(8) lists them.
 */
enum {
	M_UPTIME,
	M_IFACE_SEEN,
	M_IFACE_DROPPED,
	M_IFACE_SAMPLED,
	M_DIR_PASSED,
	M_DIR_DROPPED,
	M_DIR_WOULD_DROP,
	M_NOT_LISTED,
	M_TOO_DEEP,
	M_DROPPED_BLOCK,
	M_DROPPED_ALLOW,
	M_DROPPED_DEEP,
	M_LOGGED,
	M_SOCK_EVENTS,
	M_UDP_LIMITED,
	M_UNDECODABLE,
	M_FILTERED,
	M_RING_BYTES,
	M_RING_SIZE,
	M_RING_LOST,
	M_LIST_SRC,
	M_LIST_DEST,
	M_OUT_RECORDS,
	M_OUT_WRITTEN,
	M_OUT_LOST,
	M_OUT_CUT,
	M_OUT_SKIPPED,
	M_OUT_STATS,
	M_FLOWS_NEW,
	M_FLOWS_EXPORTED,
	M_FLOW_TABLE_FULL,
	M_RESPOND_ALERTS,
	M_RESPOND_BLOCKS,
	M_RESPOND_UNBLOCKS,
	M_RESPOND_DROPPED,
	M_RESPOND_WOULD_DROP,
	M_RESPOND_LIST_FULL,
	M_RESPOND_PROTECTED,
	M_RESPOND_HOT_LOST,
	M_RESPOND_UNTRACKED,
	M_COUNT
};

#define COUNTER(id, n, g, k, l0, l1, h) \
	[id] = { .name = "hdrlog_" n, .type = METRIC_COUNTER, .help = h, \
		 .group = g, .key = k, .label = { l0, l1 } }
#define GAUGE(id, n, g, k, h) \
	[id] = { .name = "hdrlog_" n, .type = METRIC_GAUGE, .help = h, \
		 .group = g, .key = k }

const struct metric stats_metrics[] = {
	GAUGE(M_UPTIME, "uptime_seconds", NULL, "uptime", "Seconds since hdrlog started."),
	COUNTER(M_IFACE_SEEN, "frames_seen_total", "interfaces", "seen", "iface", "direction", "Frames the programs ran on."),
	COUNTER(M_IFACE_DROPPED, "frames_dropped_total", "interfaces", "dropped", "iface", "direction", "Frames dropped by the lists (any reason)."),
	COUNTER(M_IFACE_SAMPLED, "frames_sampled_out_total", "interfaces", "sampled_out", "iface", "direction", "Frames not logged: --sample."),
	COUNTER(M_DIR_PASSED, "direction_frames_passed_total", "directions", "passed", "direction", NULL, "Frames the lists let pass."),
	COUNTER(M_DIR_DROPPED, "direction_frames_dropped_total", "directions", "dropped", "direction", NULL, "Frames the lists dropped."),
	COUNTER(M_DIR_WOULD_DROP, "direction_frames_would_drop_total", "directions", "would_drop", "direction", NULL, "Frames --monitor passed that the lists would drop."),
	COUNTER(M_NOT_LISTED, "frames_not_listed_total", "frames", "not_listed", NULL, NULL, "Frames not logged: --log listed."),
	COUNTER(M_TOO_DEEP, "frames_too_deep_total", "frames", "too_deep", NULL, NULL, "Frames with headers deeper than parsed."),
	COUNTER(M_DROPPED_BLOCK, "frames_dropped_block_total", "frames", "dropped_block", NULL, NULL, "Frames dropped by block lists."),
	COUNTER(M_DROPPED_ALLOW, "frames_dropped_allow_total", "frames", "dropped_allow", NULL, NULL, "Frames dropped: in no allow list."),
	COUNTER(M_DROPPED_DEEP, "frames_dropped_deep_total", "frames", "dropped_deep", NULL, NULL, "Frames dropped: headers deeper than parsed."),
	COUNTER(M_LOGGED, "frames_logged_total", "records", "frames_logged", NULL, NULL, "Packet records put in the ring buffer."),
	COUNTER(M_SOCK_EVENTS, "socket_events_total", "records", "socket_events", NULL, NULL, "Socket records put in the ring buffer."),
	COUNTER(M_UDP_LIMITED, "udp_send_limited_total", "records", "udp_send_limited", NULL, NULL, "udp_send events skipped by the rate bound."),
	COUNTER(M_UNDECODABLE, "records_undecodable_total", "records", "undecodable", NULL, NULL, "Records of an unknown layout, lost."),
	COUNTER(M_FILTERED, "records_filtered_total", "records", "filtered", NULL, NULL, "Records the filter expression left out."),
	GAUGE(M_RING_BYTES, "ring_buffer_bytes", "ring_buffer", "bytes", "Bytes in the ring buffer not yet read."),
	GAUGE(M_RING_SIZE, "ring_buffer_size_bytes", "ring_buffer", "size", "Size of the ring buffer."),
	COUNTER(M_RING_LOST, "ring_buffer_lost_total", "ring_buffer", "lost", NULL, NULL, "Records lost: the ring buffer was full."),
	COUNTER(M_LIST_SRC, "list_source_hits_total", "lists", "source_hits", "list", NULL, "Frames whose source the list holds."),
	COUNTER(M_LIST_DEST, "list_destination_hits_total", "lists", "destination_hits", "list", NULL, "Frames whose destination the list holds."),
	COUNTER(M_OUT_RECORDS, "output_records_total", "outputs", "records", "output", NULL, "Records handed to the output, stats records included."),
	COUNTER(M_OUT_WRITTEN, "records_written_total", "outputs", "written", "output", NULL, "Records the output wrote."),
	COUNTER(M_OUT_LOST, "records_lost_total", "outputs", "lost", "output", NULL, "Records the output lost: write errors, full queues."),
	COUNTER(M_OUT_CUT, "records_cut_total", "outputs", "cut", "output", NULL, "Records cut to fit (syslog)."),
	COUNTER(M_OUT_SKIPPED, "records_skipped_total", "outputs", "skipped", "output", NULL, "Records the output has no place for (socket events, flows in capture files)."),
	COUNTER(M_OUT_STATS, "stats_records_total", "outputs", "stats", "output", NULL, "Stats records handed to the output (of output_records)."),
	/* --log flows (issue 13) */
	COUNTER(M_FLOWS_NEW, "flows_total", "flows", "new", NULL, NULL, "Flows the kernel's flow table took in."),
	COUNTER(M_FLOWS_EXPORTED, "flows_exported_total", "flows", "exported", "reason", NULL, "Flow records made, by reason (an active report is one)."),
	COUNTER(M_FLOW_TABLE_FULL, "flow_table_full_total", "flows", "table_full", NULL, NULL, "Frames not tracked: the flow table was full."),
	/* --respond (issue 14): per policy, then the response's own losses */
	COUNTER(M_RESPOND_ALERTS, "respond_alerts_total", "respond", "alerts", "policy", NULL, "Alerts: the policy's threshold crossed by a source."),
	COUNTER(M_RESPOND_BLOCKS, "respond_blocks_total", "respond", "blocks", "policy", NULL, "Sources the policy put in the dynamic block list."),
	COUNTER(M_RESPOND_UNBLOCKS, "respond_unblocks_total", "respond", "unblocks", "policy", NULL, "The policy's blocks that expired (or ended at exit)."),
	COUNTER(M_RESPOND_DROPPED, "respond_frames_dropped_total", "respond", "dropped", "policy", NULL, "Frames dropped by the policy's blocks."),
	COUNTER(M_RESPOND_WOULD_DROP, "respond_frames_would_drop_total", "respond", "would_drop", "policy", NULL, "Frames --monitor passed that the policy's blocks would drop."),
	COUNTER(M_RESPOND_LIST_FULL, "respond_list_full_total", "response", "list_full", NULL, NULL, "Blocks refused: the dynamic block list was full."),
	COUNTER(M_RESPOND_PROTECTED, "respond_protected_total", "response", "protected", NULL, NULL, "Blocks refused: the source is on an allow or never-block list."),
	COUNTER(M_RESPOND_HOT_LOST, "respond_hot_lost_total", "response", "hot_lost", NULL, NULL, "Hot sources not judged: the queue or the watch list was full."),
	COUNTER(M_RESPOND_UNTRACKED, "respond_untracked_total", "response", "untracked", NULL, NULL, "Frames not counted: no per-source table entry."),
};
const int stats_n_metrics = M_COUNT;
_Static_assert(sizeof(stats_metrics) / sizeof(stats_metrics[0]) == M_COUNT,
	       "a metric without a description");

static const char *const way_names[2] = { "out", "in" };	/* - 1 */

static void emit0(metric_emit_fn emit, void *ctx, int id, uint64_t v)
{
	emit(ctx, &stats_metrics[id], NULL, v);
}

static void emit2(metric_emit_fn emit, void *ctx, int id, const char *l0,
		  const char *l1, uint64_t v)
{
	const char *label[METRIC_LABELS] = { l0, l1 };

	emit(ctx, &stats_metrics[id], label, v);
}

/*
 * The same counters and conditions as stats_print(); the exit summary and
 * a stats record taken at the same moment say the same numbers.
 * Per response policy counters (issue 14) are a group of their own.
 */
void stats_walk(const struct stats *s, const struct options *o,
		metric_emit_fn emit, void *ctx)
{
	const struct hdrlog_counters *k = &s->kernel;
	char name[SINK_DESCRIBE_SIZE];

	emit0(emit, ctx, M_UPTIME, s->uptime_ns / 1000000000ull);
	for (int i = 0; o->packets && i < s->n_ifaces; i++) {
		const struct stats_iface *f = &s->ifaces[i];

		for (int w = 1; w >= 0; w--) {	/* in first */
			if ((w && o->direction == CAPTURE_OUT) ||
			    (!w && o->direction == CAPTURE_IN))
				continue;
			emit2(emit, ctx, M_IFACE_SEEN, f->name, way_names[w],
			      f->way[w].seen);
			emit2(emit, ctx, M_IFACE_DROPPED, f->name,
			      way_names[w], f->way[w].dropped);
			emit2(emit, ctx, M_IFACE_SAMPLED, f->name,
			      way_names[w], f->way[w].sampled_out);
		}
	}
	if (o->packets && o->n_lists) {
		uint64_t dropped = k->dropped + k->dropped_allow + k->dropped_deep;

		if (o->direction != CAPTURE_OUT) {
			emit2(emit, ctx, M_DIR_PASSED, "in", NULL,
			      k->passed - k->out_passed);
			emit2(emit, ctx, M_DIR_DROPPED, "in", NULL,
			      dropped - k->out_dropped);
			emit2(emit, ctx, M_DIR_WOULD_DROP, "in", NULL,
			      k->would_drop - k->out_would_drop);
		}
		if (o->direction != CAPTURE_IN) {
			emit2(emit, ctx, M_DIR_PASSED, "out", NULL, k->out_passed);
			emit2(emit, ctx, M_DIR_DROPPED, "out", NULL, k->out_dropped);
			emit2(emit, ctx, M_DIR_WOULD_DROP, "out", NULL,
			      k->out_would_drop);
		}
	}
	if (o->packets) {
		emit0(emit, ctx, M_NOT_LISTED, k->not_listed);
		emit0(emit, ctx, M_TOO_DEEP, k->too_deep);
		if (o->n_lists) {
			emit0(emit, ctx, M_DROPPED_BLOCK, k->dropped);
			emit0(emit, ctx, M_DROPPED_ALLOW, k->dropped_allow);
			emit0(emit, ctx, M_DROPPED_DEEP, k->dropped_deep);
		}
	}
	if (o->packets)
		emit0(emit, ctx, M_LOGGED, k->logged);
	if (o->sockets) {
		emit0(emit, ctx, M_SOCK_EVENTS, k->sock_events);
		emit0(emit, ctx, M_UDP_LIMITED, k->udp_limited);
	}
	emit0(emit, ctx, M_UNDECODABLE, s->undecodable);
	emit0(emit, ctx, M_FILTERED, s->filtered);
	emit0(emit, ctx, M_RING_BYTES, s->ring_bytes);
	emit0(emit, ctx, M_RING_SIZE, s->ring_size);
	emit0(emit, ctx, M_RING_LOST, k->lost + k->sock_lost);
	for (int i = 0; i < o->n_lists; i++) {
		const char *list = s->lists && i < s->lists->n_lists ?
				   s->lists->lists[i].name : o->lists[i].name;

		emit2(emit, ctx, M_LIST_SRC, list, NULL, k->src_hits[i]);
		emit2(emit, ctx, M_LIST_DEST, list, NULL, k->dest_hits[i]);
	}
	if (o->log_flows) {
		emit0(emit, ctx, M_FLOWS_NEW, k->flows_new);
		emit0(emit, ctx, M_FLOW_TABLE_FULL, k->flow_table_full);
		for (int i = 0; i < 6; i++)
			emit2(emit, ctx, M_FLOWS_EXPORTED, flow_reason_names[i],
			      NULL, s->flows_exported[i]);
	}
	if (s->respond) {
		const struct respond_stats *r = &s->respond_stats;

		for (int i = 0; i < s->respond->n_policies; i++) {
			const char *p = s->respond->policies[i].name;

			emit2(emit, ctx, M_RESPOND_ALERTS, p, NULL, r->alerts[i]);
			emit2(emit, ctx, M_RESPOND_BLOCKS, p, NULL, r->blocks[i]);
			emit2(emit, ctx, M_RESPOND_UNBLOCKS, p, NULL,
			      r->unblocks[i]);
			emit2(emit, ctx, M_RESPOND_DROPPED, p, NULL, r->dropped[i]);
			if (o->monitor)
				emit2(emit, ctx, M_RESPOND_WOULD_DROP, p, NULL,
				      r->would_drop[i]);
		}
		emit0(emit, ctx, M_RESPOND_LIST_FULL, r->list_full);
		emit0(emit, ctx, M_RESPOND_PROTECTED, r->protected_alerts);
		emit0(emit, ctx, M_RESPOND_HOT_LOST, r->hot_lost + r->watch_full);
		emit0(emit, ctx, M_RESPOND_UNTRACKED, r->untracked);
	}
	for (int i = 0; i < s->n_sinks; i++) {
		const struct sink *out = s->sinks[i];

		sink_describe(out, name, sizeof(name));
		emit2(emit, ctx, M_OUT_RECORDS, name, NULL, out->records);
		emit2(emit, ctx, M_OUT_WRITTEN, name, NULL, out->written);
		emit2(emit, ctx, M_OUT_LOST, name, NULL, out->failed);
		emit2(emit, ctx, M_OUT_CUT, name, NULL, out->cut);
		emit2(emit, ctx, M_OUT_SKIPPED, name, NULL, out->skipped);
		emit2(emit, ctx, M_OUT_STATS, name, NULL, out->stats);
	}
}
