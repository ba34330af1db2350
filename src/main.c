// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * hdrlog: options -> lists -> load and attach the XDP program -> drain
 * the ring buffer, decode each record once, hand it to every output.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <net/if.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "clock.h"
#include "event.h"
#include "filter.h"
#include "flows.h"
#include "iface.h"
#include "lists.h"
#include "loader.h"
#include "log.h"
#include "options.h"
#include "sink.h"
#include "stats.h"

/* Some records wake us only in bulk (ring_flags()): look every 50 ms. */
#define POLL_MS 50

/* Lists read and filled into tables, waiting to be put in force. */
struct lists_job {
	const struct options *opts;
	struct loader *loader;	/* reloads: put them in force too */
	struct list_set set;
	struct list_tables tables;
	int err;
	uint64_t start_ns;
	pthread_t thread;
	bool running;		/* thread started, not joined */
	bool done;		/* atomic: the thread has finished */
};

struct run {
	const struct options *opts;
	struct iface_table ifaces;
	struct clock_map clock;
	struct list_set lists;
	struct decode_ctx decode;
	struct loader loader;
	struct filter filter;
	struct flows *flows;	/* with socket events: attribution of packets */
	uint32_t netns;		/* ours: the interfaces captured on are here */
	struct sink *sinks[MAX_OUTPUTS];
	int n_sinks;
	struct stats stats;
	uint64_t records;	/* decoded, towards -c */
	uint64_t consumed;	/* read from the ring, decodable or not */
	bool done;		/* -c reached or stdout closed: read no more */
	int link_watch;		/* netlink: interfaces going away; -1 */
	struct lists_job reload;	/* SIGHUP: lists read beside capture */
	bool reload_again;	/* another SIGHUP came during the reload */
};

static volatile sig_atomic_t stop_signal;
static volatile sig_atomic_t hup_requested;
static volatile sig_atomic_t stats_requested;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		hup_requested = 1;
	else if (sig == SIGUSR1)
		stats_requested = 1;
	else
		stop_signal = sig;
}

static void install_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };
	const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGUSR1 };

	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	signal(SIGPIPE, SIG_IGN);	/* a closed pipe is a write error */
}

static int handle_record(void *ctx, void *data, size_t size)
{
	struct run *run = ctx;
	struct event e;

	run->consumed++;
	if (event_decode(&e, data, size, &run->decode)) {
		run->stats.undecodable++;
		return 0;
	}
	if (run->flows) {
		if (event_has(&e, F_EVENT))
			flows_learn(run->flows, &e);
		else
			flows_annotate(run->flows, &e, run->netns);
	}
	if (!filter_match(&run->filter, &e)) {
		run->stats.filtered++;
		return 0;
	}
	sink_write_all(run->sinks, run->n_sinks, &e);
	if (sink_stdout_closed ||	/* hdrlog | head: the reader is gone */
	    (run->opts->count && ++run->records >= run->opts->count)) {
		run->done = true;
		return -ECANCELED;	/* stops libbpf's consume loop */
	}
	return 0;
}

static void *lists_prepare(void *arg)
{
	struct lists_job *job = arg;

	job->start_ns = clock_mono_ns();
	job->err = list_set_load(&job->set, job->opts->lists,
				 job->opts->n_lists, &stop_signal);
	pr_debug("lists read in %.1f ms", (clock_mono_ns() - job->start_ns) / 1e6);
	if (!job->err)
		job->err = loader_tables_build(&job->tables, &job->set);
	pr_debug("list tables built in %.1f ms",
		 (clock_mono_ns() - job->start_ns) / 1e6);
	if (job->err)
		list_set_free(&job->set);
	return NULL;
}

/* Put prepared lists in force in the kernel; 0 or -1 with a message. */
static int lists_install(struct lists_job *job)
{
	if (!job->err && loader_lists_install(job->loader, &job->tables)) {
		list_set_free(&job->set);
		job->err = -1;
	}
	return job->err;
}

/*
 * A reload reads and builds on its own thread, and switches the kernel's
 * slot there too (that waits for RCU grace periods): the capture loop
 * keeps draining the ring meanwhile. A 5M-line reload took ~250 ms in
 * the capture loop, long enough for a 1 MiB ring to overflow.
 */
static void *lists_reload(void *arg)
{
	struct lists_job *job = arg;

	lists_prepare(job);
	lists_install(job);
	__atomic_store_n(&job->done, true, __ATOMIC_RELEASE);
	return NULL;
}

/* The decoder takes the names and counts of lists now in force. */
static void lists_adopt(struct run *run, struct lists_job *job)
{
	list_set_free(&run->lists);
	run->lists = job->set;
	run->decode.lists = &run->lists;
	uint64_t switched = run->loader.lists_switched_ns;

	pr_info("lists in force: %d lists, %zu IPv4 and %zu IPv6 prefixes, in force %.1f ms after reading began, old tables freed after %.1f ms",
		run->lists.n_lists, run->lists.n_v4, run->lists.n_v6,
		(switched - job->start_ns) / 1e6,
		(clock_mono_ns() - job->start_ns) / 1e6);
}

static void reload_start(struct run *run)
{
	struct lists_job *job = &run->reload;
	int err;

	if (job->running) {
		run->reload_again = true;
		return;
	}
	*job = (struct lists_job){ .opts = run->opts, .loader = &run->loader };
	err = pthread_create(&job->thread, NULL, lists_reload, job);
	if (err) {
		pr_err("list reload refused: cannot start a thread: %s",
		       strerror(err));
		return;
	}
	job->running = true;
}

/* Join a reload; block only if wait, else only when it has finished. */
static void reload_finish(struct run *run, bool wait)
{
	struct lists_job *job = &run->reload;

	if (!job->running ||
	    (!wait && !__atomic_load_n(&job->done, __ATOMIC_ACQUIRE)))
		return;
	pthread_join(job->thread, NULL);
	job->running = false;
	if (job->err && job->err != LIST_LOAD_STOPPED)
		pr_err("list reload refused; the lists loaded before stay in force");
	else if (!job->err)
		lists_adopt(run, job);
	if (run->reload_again && !wait) {
		run->reload_again = false;
		reload_start(run);
	}
}

static void collect_stats(struct run *run)
{
	loader_counters(&run->loader, &run->stats.kernel);
	run->stats.n_sinks = run->n_sinks;
	run->stats.sinks = (const struct sink *const *)run->sinks;
}

static void on_hup(struct run *run)
{
	for (int i = 0; i < run->n_sinks; i++)
		run->sinks[i]->ops->reopen(run->sinks[i]);
	if (run->opts->n_lists)
		reload_start(run);
}

static int capture(struct run *run, struct ring_buffer *rb)
{
	uint64_t last_refresh = clock_mono_ns();

	while (!stop_signal && !sink_stdout_closed) {
		int n = ring_buffer__poll(rb, POLL_MS);

		/*
		 * poll only reads rings that woke it; records that did not
		 * wake anybody (ring_flags()) are read here.
		 */
		if (n >= 0)
			n = ring_buffer__consume(rb);
		for (int i = 0; i < run->n_sinks; i++)
			run->sinks[i]->ops->flush(run->sinks[i]);
		if (n == -ECANCELED)
			return 0;
		if (n < 0 && n != -EINTR) {
			pr_err("reading the ring buffer failed: %s", strerror(-n));
			return -1;
		}
		if (hup_requested) {
			hup_requested = 0;
			on_hup(run);
		}
		reload_finish(run, false);
		if (run->link_watch >= 0) {
			const struct iface *gone =
				iface_watch_check(run->link_watch, &run->ifaces);

			if (gone) {
				pr_err("interface %s is gone; capture on it has ended",
				       gone->name);
				return -1;
			}
		}
		if (stats_requested) {
			stats_requested = 0;
			collect_stats(run);
			stats_print(&run->stats, run->opts, stderr);
		}
		/* Follow NTP steps and slewing of the wall clock. */
		if (clock_mono_ns() - last_refresh >= 1000000000ull) {
			clock_map_refresh(&run->clock);
			last_refresh = clock_mono_ns();
		}
	}
	return 0;
}

/*
 * After detaching, read what the programs submitted until then: every
 * record the kernel counted as logged is written or counted as lost. A
 * program that was already running when it was detached may still
 * submit, so wait (briefly) until the count of records read catches up.
 */
static void drain(struct run *run, struct ring_buffer *rb)
{
	uint64_t deadline = clock_mono_ns() + 200000000ull;

	while (!run->done && ring_buffer__consume(rb) >= 0) {
		struct hdrlog_counters k;

		if (loader_counters(&run->loader, &k) ||
		    run->consumed >= k.logged + k.sock_events ||
		    clock_mono_ns() >= deadline)
			break;
		ring_buffer__poll(rb, 10);
	}
}

/* Names and paths from the command line are printed escaped. */
static void describe_start(const struct run *run, enum xdp_mode mode)
{
	char esc[LOG_ESCAPE_SIZE(256)];

	if (log_level < LOG_NORMAL)
		return;
	if (run->opts->packets) {
		fprintf(stderr, "hdrlog: listening on");
		for (int i = 0; i < run->ifaces.n; i++) {
			const char *name = run->ifaces.v[i].name;

			fprintf(stderr, "%s %s", i ? "," : "",
				log_escape(esc, sizeof(esc), name, strlen(name)));
		}
		fprintf(stderr, " (%s XDP)%s, writing to",
			mode == XDP_MODE_NATIVE ? "native" :
			mode == XDP_MODE_GENERIC ? "generic" : "auto",
			run->opts->sockets ? " and to socket events" : "");
	} else {
		fprintf(stderr, "hdrlog: listening to socket events (via %s), writing to",
			attach_method_name(run->loader.sockets));
	}
	for (int i = 0; i < run->n_sinks; i++) {
		char name[SINK_DESCRIBE_SIZE];

		fprintf(stderr, "%s %s", i ? "," : "",
			sink_describe(run->sinks[i], name, sizeof(name)));
	}
	fputc('\n', stderr);
	fflush(stderr);
}

int main(int argc, char **argv)
{
	static struct run run;
	static struct lists_job lists;
	static struct options opts;
	pthread_t lists_thread;
	int err;
	struct ring_buffer *rb = NULL;
	int ret = 1;

	switch (options_parse(&opts, argc, argv)) {
	case OPTIONS_EXIT:
		options_free(&opts);
		return 0;
	case OPTIONS_USAGE:
		options_free(&opts);
		return 2;
	case OPTIONS_RUN:
		break;
	}
	run.opts = &opts;
	run.link_watch = -1;
	opts.sink.ifaces = &run.ifaces;
	opts.sink.snaplen = options_need_frame_bytes(&opts) ? opts.snaplen : 0;
	run.decode.clock = &run.clock;
	run.decode.ifaces = &run.ifaces;
	install_signals();
	clock_map_refresh(&run.clock);

	if (filter_compile(&run.filter, opts.filter, opts.snaplen)) {
		/* "hdrlog eth0": a forgotten -i, not a filter. */
		if (!strchr(opts.filter, ' ') && if_nametoindex(opts.filter))
			fprintf(stderr, "hdrlog: '%s' is an interface: did you mean -i %s?\n",
				opts.filter, opts.filter);
		options_free(&opts);
		return 2;
	}
	if (opts.features) {
		loader_print_features(stdout);
		options_free(&opts);
		return 0;
	}
	if (opts.packets &&
	    iface_table_resolve(&run.ifaces, opts.ifaces, opts.n_ifaces))
		goto out;
	for (int i = 0; i < opts.n_outputs; i++) {
		run.sinks[i] = sink_create(opts.outputs[i], &opts.sink);
		if (!run.sinks[i]) {
			if (errno == EINVAL)
				ret = 2;	/* the argument itself is wrong */
			goto out;
		}
		run.n_sinks++;
	}
	/*
	 * Lists are read and their tables filled while the kernel verifies
	 * the program, and are in force before the first frame is seen.
	 */
	lists.opts = &opts;
	if (opts.n_lists &&
	    (err = pthread_create(&lists_thread, NULL, lists_prepare, &lists))) {
		pr_err("cannot start a thread: %s", strerror(err));
		goto out;
	}
	err = loader_load(&run.loader, &opts);
	if (opts.n_lists) {
		pthread_join(lists_thread, NULL);
		lists.loader = &run.loader;
		if (err) {
			if (!lists.err)
				list_tables_close(&lists.tables);
			list_set_free(&lists.set);
		} else if (lists.err == LIST_LOAD_STOPPED) {
			ret = 0;	/* a stop signal while the lists were read */
			goto out;
		} else if (lists_install(&lists)) {
			goto out;
		} else {
			lists_adopt(&run, &lists);
		}
	}
	if (err)
		goto out;
	if (opts.sockets && opts.packets) {
		struct stat st;

		run.flows = flows_new();
		if (!run.flows) {
			pr_err("out of memory");
			goto out;
		}
		if (!stat("/proc/self/ns/net", &st))
			run.netns = st.st_ino;
	}
	if (opts.sockets && loader_attach_sockets(&run.loader))
		goto out;
	if (opts.packets &&
	    loader_attach(&run.loader, &run.ifaces, opts.xdp_mode))
		goto out;
	if (opts.packets) {
		run.link_watch = iface_watch_open();
		if (run.link_watch < 0)
			pr_warn("cannot watch the interfaces (%s): a deleted one will go unnoticed",
				strerror(-run.link_watch));
	}
	rb = ring_buffer__new(loader_ringbuf_fd(&run.loader), handle_record,
			      &run, NULL);
	if (!rb) {
		pr_err("cannot read the ring buffer: %s", strerror(errno));
		goto out;
	}
	describe_start(&run, opts.xdp_mode);
	ret = capture(&run, rb) ? 1 : 0;
	reload_finish(&run, true);

	/* Detach first, so the counters stop moving before they are read. */
	loader_detach(&run.loader);
	drain(&run, rb);
	/* Closing writes out what is queued; the summary counts it. */
	for (int i = 0; i < run.n_sinks; i++)
		sink_close(run.sinks[i]);
	collect_stats(&run);
	if (log_level >= LOG_NORMAL)
		stats_print(&run.stats, &opts, stderr);
out:
	reload_finish(&run, true);
	if (run.link_watch >= 0)
		close(run.link_watch);
	ring_buffer__free(rb);
	loader_close(&run.loader);
	list_set_free(&run.lists);
	for (int i = 0; i < run.n_sinks; i++)
		sink_destroy(run.sinks[i]);
	filter_free(&run.filter);
	flows_free(run.flows);
	options_free(&opts);
	return ret;
}
