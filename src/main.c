// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * hdrlog: options -> load and attach the XDP program -> drain the ring
 * buffer, decode each record once, hand it to every output.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <bpf/libbpf.h>

#include "clock.h"
#include "event.h"
#include "iface.h"
#include "loader.h"
#include "log.h"
#include "options.h"
#include "sink.h"
#include "stats.h"

#define POLL_MS 200

struct run {
	const struct options *opts;
	struct iface_table ifaces;
	struct clock_map clock;
	struct sink *sinks[MAX_OUTPUTS];
	int n_sinks;
	struct stats stats;
	uint64_t records;	/* decoded, towards -c */
};

static volatile sig_atomic_t stop_signal;
static volatile sig_atomic_t reopen_requested;

static void on_stop(int sig)
{
	stop_signal = sig;
}

static void on_hup(int sig)
{
	(void)sig;
	reopen_requested = 1;
}

static void install_signals(void)
{
	struct sigaction sa = { .sa_handler = on_stop };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = on_hup;
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);	/* a closed pipe is a write error */
}

static int handle_record(void *ctx, void *data, size_t size)
{
	struct run *run = ctx;
	struct event e;

	if (event_decode(&e, data, size, &run->clock, &run->ifaces)) {
		run->stats.undecodable++;
		return 0;
	}
	for (int i = 0; i < run->n_sinks; i++)
		run->sinks[i]->ops->write(run->sinks[i], &e);
	if (run->opts->count && ++run->records >= run->opts->count)
		return -ECANCELED;	/* stops libbpf's consume loop */
	return 0;
}

static uint64_t now_mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static int capture(struct run *run, struct ring_buffer *rb)
{
	uint64_t last_refresh = now_mono_s();

	while (!stop_signal) {
		int n = ring_buffer__poll(rb, POLL_MS);

		for (int i = 0; i < run->n_sinks; i++)
			run->sinks[i]->ops->flush(run->sinks[i]);
		if (n == -ECANCELED)
			return 0;
		if (n < 0 && n != -EINTR) {
			pr_err("reading the ring buffer failed: %s", strerror(-n));
			return -1;
		}
		if (reopen_requested) {
			reopen_requested = 0;
			for (int i = 0; i < run->n_sinks; i++)
				run->sinks[i]->ops->reopen(run->sinks[i]);
		}
		/* Follow NTP steps and slewing of the wall clock. */
		if (now_mono_s() != last_refresh) {
			clock_map_refresh(&run->clock);
			last_refresh = now_mono_s();
		}
	}
	/* Drain what was submitted before the signal. */
	ring_buffer__consume(rb);
	return 0;
}

static void describe_start(const struct run *run, enum xdp_mode mode)
{
	char names[MAX_IFACES * (IF_NAMESIZE + 2)] = "";
	size_t len = 0;

	if (log_level < LOG_NORMAL)
		return;
	for (int i = 0; i < run->ifaces.n; i++)
		len += snprintf(names + len, sizeof(names) - len, "%s%s",
				i ? ", " : "", run->ifaces.v[i].name);
	fprintf(stderr, "hdrlog: listening on %s (%s XDP), writing to", names,
		mode == XDP_MODE_NATIVE ? "native" :
		mode == XDP_MODE_GENERIC ? "generic" : "auto");
	for (int i = 0; i < run->n_sinks; i++)
		fprintf(stderr, "%s %s:%s", i ? "," : "",
			run->sinks[i]->ops->name, run->sinks[i]->target);
	fputc('\n', stderr);
	fflush(stderr);
}

int main(int argc, char **argv)
{
	static struct run run;
	struct options opts;
	struct loader loader = { 0 };
	struct ring_buffer *rb = NULL;
	int ret = 1;

	switch (options_parse(&opts, argc, argv)) {
	case OPTIONS_EXIT:
		return 0;
	case OPTIONS_USAGE:
		return 2;
	case OPTIONS_RUN:
		break;
	}
	run.opts = &opts;
	install_signals();
	clock_map_refresh(&run.clock);

	if (iface_table_resolve(&run.ifaces, opts.ifaces, opts.n_ifaces))
		return 1;
	for (int i = 0; i < opts.n_outputs; i++) {
		run.sinks[i] = sink_create(opts.outputs[i], opts.fields);
		if (!run.sinks[i])
			goto out;
		run.n_sinks++;
	}
	if (loader_load(&loader, &opts) ||
	    loader_attach(&loader, &run.ifaces, opts.xdp_mode))
		goto out;
	rb = ring_buffer__new(loader_ringbuf_fd(&loader), handle_record, &run,
			      NULL);
	if (!rb) {
		pr_err("cannot read the ring buffer: %s", strerror(errno));
		goto out;
	}
	describe_start(&run, opts.xdp_mode);
	ret = capture(&run, rb) ? 1 : 0;

	/* Detach first, so the counters stop moving before they are read. */
	loader_detach(&loader);
	loader_counters(&loader, &run.stats.kernel);
	for (int i = 0; i < run.n_sinks; i++) {
		struct sink *s = run.sinks[i];

		s->ops->flush(s);
		run.stats.write_failed += s->failed;
	}
	if (run.n_sinks)
		run.stats.written = run.sinks[0]->written;
	if (log_level >= LOG_NORMAL)
		stats_print(&run.stats, stderr);
out:
	ring_buffer__free(rb);
	loader_close(&loader);
	for (int i = 0; i < run.n_sinks; i++)
		sink_destroy(run.sinks[i]);
	return ret;
}
