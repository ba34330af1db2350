// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * hdrlog: options -> lists -> load and attach the XDP program -> drain
 * the ring buffer, decode each record once, hand it to every output.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <net/if.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/libbpf.h>

#include "clock.h"
#include "event.h"
#include "filter.h"
#include "flows.h"
#include "flowtable.h"
#include "respond.h"
#include "iface.h"
#include "lists.h"
#include "loader.h"
#include "log.h"
#include "metrics.h"
#include "control.h"
#include "options.h"
#include "service.h"
#include "sink.h"
#include "stats.h"

/*
 * Records wake us only in bulk (ring_flags()): the ring is read at least
 * this often, so no record waits longer (plus the batch before it) to be
 * written, and outputs are flushed at that pace.
 */
#define POLL_MS 50

/* Lists read and filled into tables, waiting to be put in force. */
struct lists_job {
	/* a copy: a reload may change the options' while this runs */
	struct list_spec specs[MAX_LISTS];
	int n_specs;
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
	struct options *opts;	/* a reload applies what it can to them */
	int argc;		/* the command line, parsed again on reload */
	char **argv;
	bool frame_bytes;	/* records carry frame bytes (filters work) */
	struct service service;
	struct iface_table ifaces;
	struct clock_map clock;
	struct list_set lists;
	struct decode_ctx decode;
	struct loader loader;
	struct filter filter;
	struct flows *flows;	/* with socket events: attribution of packets */
	struct flow_table *flow_table;	/* --log flows: the sweep */
	uint64_t last_sweep;	/* clock_mono_ns() of the last sweep */
	struct respond *respond;	/* --respond: decisions and blocks */
	struct control *control;	/* --control: --blocks and --top ask */
	uint32_t netns;		/* ours: the interfaces captured on are here */
	struct sink *sinks[MAX_OUTPUTS];
	int n_sinks;
	struct stats stats;
	struct metrics *metrics;	/* stats records, --metrics; or NULL */
	uint64_t start_ns;	/* clock_mono_ns() at the start, for uptime */
	uint64_t records;	/* decoded, towards -c */
	uint64_t consumed;	/* read from the ring, decodable or not */
	bool done;		/* -c reached or stdout closed: read no more */
	int link_watch;		/* netlink: interfaces going away; -1 */
	struct lists_job reload;	/* SIGHUP: lists read beside capture */
	bool reload_again;	/* another SIGHUP came during the reload */
};

static volatile sig_atomic_t stop_signal;
static volatile sig_atomic_t capture_ended;	/* -c, stdout gone, a signal */
static volatile sig_atomic_t hup_requested;
static volatile sig_atomic_t stats_requested;

static void on_signal(int sig)
{
	if (sig == SIGHUP)
		hup_requested = 1;
	else if (sig == SIGUSR1)
		stats_requested = 1;
	else {
		/*
		 * A stop signal while stopping (a second Ctrl-C, an admin's
		 * or systemd's second SIGTERM, or the first after -c ended
		 * capture): its sender will not wait for the exit's paced or
		 * acknowledged writes; the outputs cut them short.
		 */
		if (stop_signal || capture_ended)
			sink_stop_now = 1;
		stop_signal = sig;
	}
}

static void install_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };
	const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGUSR1 };

	/* Not nested: a SIGINT inside SIGTERM's handler must count as second. */
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaddset(&sa.sa_mask, sigs[i]);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	signal(SIGPIPE, SIG_IGN);	/* a closed pipe is a write error */
}

/* -c reached, or the reader of stdout gone: read no more. */
static bool run_full(struct run *run)
{
	run->records++;	/* also without -c: a reload may set one */
	if (sink_stdout_closed ||	/* hdrlog | head: the reader is gone */
	    (run->opts->count && run->records >= run->opts->count)) {
		run->done = true;
		return true;
	}
	return false;
}

/*
 * A flow record from the sweep. The filter expression is not applied:
 * it reads frame bytes, which a flow has none of (flows count every
 * frame; --filter chooses packet records). Written also once -c is
 * reached: the sweep has taken the flow out of the table, and the flows
 * still open at the stop are what the counted frames made; dropping them
 * here would count them exported and write them nowhere.
 */
static void emit_flow(void *ctx, struct event *e)
{
	struct run *run = ctx;

	if (run->flows)
		flows_annotate(run->flows, e, run->netns);
	sink_write_all(run->sinks, run->n_sinks, e);
	run_full(run);
}

static void sweep_flows(struct run *run, bool shutdown)
{
	if (!run->flow_table)
		return;
	run->last_sweep = clock_mono_ns();
	flow_table_sweep(run->flow_table, run->last_sweep, shutdown,
			 &run->decode, emit_flow, run,
			 run->stats.flows_exported);
}

/* An alert, block or unblock record: every output, as a flow record. */
static void emit_respond(void *ctx, struct event *e)
{
	struct run *run = ctx;

	if (run->done)
		return;
	sink_write_all(run->sinks, run->n_sinks, e);
	run_full(run);
}

static void poll_respond(struct run *run, bool shutdown)
{
	respond_poll(run->respond, clock_mono_ns(), shutdown, &run->decode,
		     emit_respond, run);
}

/* A request on the control socket: hdrlog --blocks, --unblock, --top. */
static int control_handle(void *ctx, const char *req, char *reply,
			  size_t size)
{
	struct run *run = ctx;
	int r = 0;

	if (!strcmp(req, "blocks")) {
		respond_blocks_text(run->respond, clock_mono_ns(), reply, size);
	} else if (!strcmp(req, "top")) {
		respond_top_text(run->respond, clock_mono_ns(), run->decode.lists,
				 reply, size);
	} else if (!strncmp(req, "unblock ", 8)) {
		r = respond_unblock(run->respond, req + 8, reply, size,
				    emit_respond, run);
		if (!r)
			snprintf(reply, size, "%s: unblocked\n", req + 8);
		else
			strncat(reply, "\n", size - strlen(reply) - 1);
		for (int i = 0; i < run->n_sinks; i++)
			run->sinks[i]->ops->flush(run->sinks[i]);
	} else {
		snprintf(reply, size, "unknown request (blocks, top, unblock ADDR)\n");
		r = -1;
	}
	return r;
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
	if (run_full(run))
		return -ECANCELED;	/* stops libbpf's consume loop */
	return 0;
}

static void *lists_prepare(void *arg)
{
	struct lists_job *job = arg;

	job->start_ns = clock_mono_ns();
	job->err = list_set_load(&job->set, job->specs, job->n_specs,
				 &stop_signal);
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

/* A job for the lists the options name now. */
static void lists_job_init(struct lists_job *job, const struct options *o,
			   struct loader *loader)
{
	memset(job, 0, sizeof(*job));
	memcpy(job->specs, o->lists, (size_t)o->n_lists * sizeof(o->lists[0]));
	job->n_specs = o->n_lists;
	job->loader = loader;
}

static void collect_stats(struct run *run)
{
	struct stats *s = &run->stats;

	loader_counters(&run->loader, &s->kernel);
	s->n_ifaces = run->opts->packets ? run->ifaces.n : 0;
	for (int i = 0; i < s->n_ifaces; i++) {
		const struct iface *f = &run->ifaces.v[i];

		s->ifaces[i].name = f->name;
		/* way[] is indexed by enum hdrlog_direction - 1 */
		loader_iface_counters(&run->loader, f->ifindex,
				      HDRLOG_DIR_OUTBOUND, &s->ifaces[i].way[0]);
		loader_iface_counters(&run->loader, f->ifindex,
				      HDRLOG_DIR_INBOUND, &s->ifaces[i].way[1]);
	}
	s->uptime_ns = clock_mono_ns() - run->start_ns;
	s->ring_bytes = metrics_ring_bytes(run->metrics);
	s->ring_size = run->opts->ringbuf_size;
	s->n_sinks = run->n_sinks;
	s->sinks = (const struct sink *const *)run->sinks;
	s->lists = &run->lists;
	s->respond = run->opts->respond_cfg;
	if (run->respond)
		respond_stats_get(run->respond, &s->respond_stats);
}

/* For metrics_tick(): the counters now. */
static const struct stats *collect_stats_now(void *ctx)
{
	struct run *run = ctx;

	collect_stats(run);
	return &run->stats;
}

/* STATUS= with the counters; with READY=1 once a start or reload is done. */
static void status_update(struct run *run, bool ready)
{
	char status[256];

	if (!run->service.notify)
		return;
	collect_stats(run);
	stats_status(&run->stats, status, sizeof(status));
	if (ready)
		service_ready(&run->service, status);
	else
		service_status(&run->service, status);
}

static void reload_start(struct run *run)
{
	struct lists_job *job = &run->reload;
	int err;

	if (job->running) {
		run->reload_again = true;
		return;
	}
	lists_job_init(job, run->opts, &run->loader);
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
	if (wait)
		return;
	if (run->reload_again) {
		run->reload_again = false;
		reload_start(run);
	}
	if (!job->running)
		status_update(run, true);	/* the reload is done */
}

static bool is_list_key(const char *key)
{
	return !strcmp(key, "blocklist") || !strcmp(key, "taglist") ||
	       !strcmp(key, "allowlist");
}

/*
 * Whether the kernel program, as loaded, can take fresh's lists: what it
 * knows of lists is in .rodata (which are block, allow, :any), fixed at
 * load; files and names are the reload's to change.
 */
static bool lists_fit(const struct options *o, const struct options *fresh)
{
	if (o->n_lists != fresh->n_lists)
		return false;
	for (int i = 0; i < o->n_lists; i++)
		if (o->lists[i].kind != fresh->lists[i].kind ||
		    o->lists[i].any != fresh->lists[i].any)
			return false;
	return true;
}

/* Take option i's value as given from fresh (for the next comparison). */
static void take_text(struct options *o, struct options *fresh, int i)
{
	char *t = o->text[i];

	o->text[i] = fresh->text[i];
	fresh->text[i] = t;
}

/*
 * SIGHUP with --config: parse the command line and the file again into
 * fresh options and apply what can change while running: the lists'
 * files and names (read by the reload that follows), the filter
 * expression (userspace; only if records carry frame bytes already),
 * -c, -v and -q. Anything else is fixed by what was loaded, attached or
 * opened: reported, and the running value kept. A file that does not
 * parse changes nothing.
 */
static void config_reload(struct run *run)
{
	static struct options fresh;
	struct options *o = run->opts;
	char path[LOG_ESCAPE_SIZE(256)], val[LOG_ESCAPE_SIZE(512)];
	enum log_level level = log_level;
	const char *key;
	bool lists_ok, filter_ok, new_filter;
	struct filter filter;

	log_escape(path, sizeof(path), o->config, strlen(o->config));
	log_level = LOG_NORMAL;	/* the file may no longer say -v or -q */
	if (options_parse(&fresh, run->argc, run->argv) != OPTIONS_RUN)
		goto refused;
	lists_ok = lists_fit(o, &fresh);
	filter_ok = run->frame_bytes || !fresh.filter[0];
	new_filter = filter_ok && strcmp(o->filter, fresh.filter);
	/* A filter that does not compile is a file that does not parse. */
	if (new_filter && filter_compile(&filter, fresh.filter, o->snaplen))
		goto refused;
	for (int i = 0; (key = options_key(i)); i++) {
		bool live = !strcmp(key, "count") || !strcmp(key, "verbose") ||
			    !strcmp(key, "quiet") ||
			    (is_list_key(key) && lists_ok) ||
			    (!strcmp(key, "filter") && filter_ok);

		if (!*key || !options_key_changed(o, &fresh, i) || live)
			continue;
		key = options_key_value(o, i);
		pr_warn("config %s: %s changed; restart hdrlog to apply it (keeping %s)",
			path, options_key(i),
			log_escape(val, sizeof(val), key, strlen(key)));
	}
	if (new_filter) {
		filter_free(&run->filter);
		run->filter = filter;
		memcpy(o->filter, fresh.filter, sizeof(o->filter));
		pr_info("config %s: filter expression now '%s'", path,
			log_escape(val, sizeof(val), o->filter, strlen(o->filter)));
	}
	if (lists_ok) {
		memcpy(o->lists, fresh.lists,
		       (size_t)fresh.n_lists * sizeof(fresh.lists[0]));
	}
	o->count = fresh.count;
	for (int i = 0; (key = options_key(i)); i++)
		if (!strcmp(key, "count") || (is_list_key(key) && lists_ok) ||
		    (!strcmp(key, "filter") && !strcmp(o->filter, fresh.filter)))
			take_text(o, &fresh, i);
	options_free(&fresh);
	return;
refused:
	log_level = level;
	pr_err("config %s: not reloaded (see above); the running configuration stays",
	       path);
	options_free(&fresh);
}

/*
 * SIGHUP: the config file (if any), output files reopened, lists read
 * again; READY=1 once it is all done (reload_finish() for the lists).
 */
static void on_hup(struct run *run)
{
	service_reloading(&run->service);
	if (run->opts->config)
		config_reload(run);
	for (int i = 0; i < run->n_sinks; i++)
		run->sinks[i]->ops->reopen(run->sinks[i]);
	if (run->opts->n_lists)
		reload_start(run);
	if (!run->reload.running)
		status_update(run, true);
}

enum { WAKE_RING, WAKE_LINK, WAKE_METRICS, WAKE_CONTROL, WAKE_RESPOND };

/*
 * What the capture loop sleeps on: the ring, edge-triggered, and the
 * netlink socket that says interfaces went away. Edge-triggered because
 * libbpf's level-triggered poll returns at once whenever a record came in
 * since the last read: in a flood the reader then never slept, and read
 * and wrote ~17 frames a round (issue 11). Now it sleeps until the
 * programs wake it (ring_flags()) or POLL_MS pass. -1 with a message.
 */
static int wait_open(struct run *run)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET,
				  .data.u32 = WAKE_RING };
	int ep = epoll_create1(EPOLL_CLOEXEC);

	if (ep < 0 ||
	    epoll_ctl(ep, EPOLL_CTL_ADD, loader_ringbuf_fd(&run->loader), &ev)) {
		pr_err("cannot wait for the ring buffer: %s", strerror(errno));
		if (ep >= 0)
			close(ep);
		return -1;
	}
	ev = (struct epoll_event){ .events = EPOLLIN, .data.u32 = WAKE_LINK };
	if (run->link_watch >= 0 &&
	    epoll_ctl(ep, EPOLL_CTL_ADD, run->link_watch, &ev)) {
		pr_err("cannot watch the interfaces: %s", strerror(errno));
		close(ep);
		return -1;
	}
	/* HTTP clients of --metrics: answered at once, not 50 ms later */
	ev = (struct epoll_event){ .events = EPOLLIN, .data.u32 = WAKE_METRICS };
	if (metrics_fd(run->metrics) >= 0 &&
	    epoll_ctl(ep, EPOLL_CTL_ADD, metrics_fd(run->metrics), &ev)) {
		pr_err("cannot wait for metrics clients: %s", strerror(errno));
		close(ep);
		return -1;
	}
	/* hdrlog --blocks, --top: answered from this loop, never waited on */
	ev = (struct epoll_event){ .events = EPOLLIN, .data.u32 = WAKE_CONTROL };
	if (control_fd(run->control) >= 0 &&
	    epoll_ctl(ep, EPOLL_CTL_ADD, control_fd(run->control), &ev)) {
		pr_err("cannot wait for control clients: %s", strerror(errno));
		close(ep);
		return -1;
	}
	/*
	 * --respond: a hot source judged as its notice comes, not at the
	 * next POLL_MS (an attack blocked up to 50 ms sooner); level-
	 * triggered, as respond_poll() reads every notice there is.
	 */
	ev = (struct epoll_event){ .events = EPOLLIN, .data.u32 = WAKE_RESPOND };
	if (run->respond && respond_wake_fd(run->respond) >= 0 &&
	    epoll_ctl(ep, EPOLL_CTL_ADD, respond_wake_fd(run->respond), &ev)) {
		pr_err("cannot wait for the hot ring: %s", strerror(errno));
		close(ep);
		return -1;
	}
	return ep;
}

static int capture(struct run *run, struct ring_buffer *rb)
{
	uint64_t last_refresh = clock_mono_ns();
	int ep = wait_open(run);
	int ret = 0;

	if (ep < 0)
		return -1;
	while (!stop_signal && !sink_stdout_closed) {
		struct epoll_event evs[5];
		bool link_changed = false, control = false;
		int n = epoll_wait(ep, evs, 5, POLL_MS);

		for (int i = 0; i < n; i++) {
			link_changed |= evs[i].data.u32 == WAKE_LINK;
			control |= evs[i].data.u32 == WAKE_CONTROL;
		}
		/*
		 * Whatever ended the wait (a wake-up, POLL_MS, a signal: the
		 * EINTR case matters when signals come faster than POLL_MS),
		 * read all there is, so no record waits past POLL_MS.
		 */
		if (n >= 0 || errno == EINTR)
			n = ring_buffer__consume(rb);
		else
			n = -errno;
		/* One write per output for the whole batch. */
		for (int i = 0; i < run->n_sinks; i++)
			run->sinks[i]->ops->flush(run->sinks[i]);
		if (n == -ECANCELED)
			break;
		/* --respond: hot sources judged, blocks expired, each poll */
		if (run->respond) {
			poll_respond(run, false);
			for (int i = 0; i < run->n_sinks; i++)
				run->sinks[i]->ops->flush(run->sinks[i]);
			if (run->done)
				break;
		}
		if (control || control_pending(run->control))
			control_serve(run->control, control_handle, run);
		if (n < 0 && n != -EINTR) {
			pr_err("reading the ring buffer failed: %s", strerror(-n));
			ret = -1;
			break;
		}
		if (hup_requested) {
			hup_requested = 0;
			on_hup(run);
		}
		reload_finish(run, false);
		if (link_changed) {
			const struct iface *gone =
				iface_watch_check(run->link_watch, &run->ifaces);

			if (gone) {
				pr_err("interface %s is gone; capture on it has ended",
				       gone->name);
				ret = -1;
				break;
			}
		}
		if (service_tick(&run->service))
			status_update(run, false);
		/* Stats records, the metrics file, HTTP: never blocks. */
		metrics_tick(run->metrics, run->opts, run->sinks, run->n_sinks,
			     collect_stats_now, run);
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
		/* Flows ended or idle: exported within a second. */
		if (clock_mono_ns() - run->last_sweep >= 1000000000ull) {
			sweep_flows(run, false);
			for (int i = 0; i < run->n_sinks; i++)
				run->sinks[i]->ops->flush(run->sinks[i]);
			if (run->done)
				break;
		}
	}
	close(ep);
	return ret;
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

/*
 * What runs: "hdrlog: listening on ..., writing to ..." at start, and
 * what --check prints. Names and paths from the user are printed escaped.
 */
static void describe_start(FILE *f, const struct options *o,
			   const struct loader *l,
			   const struct iface_table *ifaces,
			   const char *sockets_via,
			   char outputs[][SINK_DESCRIBE_SIZE], int n_outputs)
{
	if (o->packets) {
		fprintf(f, "hdrlog: listening on");
		loader_describe_ifaces(f, l, o, ifaces);
		fprintf(f, "%s, writing to",
			o->sockets ? " and to socket events" : "");
	} else {
		fprintf(f, "hdrlog: listening to socket events (via %s), writing to",
			sockets_via);
	}
	for (int i = 0; i < n_outputs; i++)
		fprintf(f, "%s %s", i ? "," : "", outputs[i]);
	fputc('\n', f);
	fflush(f);
}

static void describe_run(const struct run *run)
{
	static char outputs[MAX_OUTPUTS][SINK_DESCRIBE_SIZE];

	if (log_level < LOG_NORMAL)
		return;
	for (int i = 0; i < run->n_sinks; i++)
		sink_describe(run->sinks[i], outputs[i], sizeof(outputs[i]));
	describe_start(stderr, run->opts, &run->loader, &run->ifaces,
		       attach_method_name(run->loader.sockets), outputs,
		       run->n_sinks);
}

/*
 * --check of --respond-state: hdrlog rewrites FILE and FILE.baseline (a
 * temporary file beside each, then rename), so their directory must exist
 * and take files; then they are read as at start (respond.c): one that
 * is there must be a regular file (-1), and a bad line is a warning (1),
 * as it is at start, where the file is then ignored.
 */
static int check_state_file(const char *path, const struct respond_config *c)
{
	char esc[LOG_ESCAPE_SIZE(PATH_MAX)], dir[PATH_MAX];
	const char *slash = strrchr(path, '/');

	log_escape(esc, sizeof(esc), path, strlen(path));
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path) ?: 1,
			 path);
	if (access(dir, W_OK | X_OK)) {
		pr_err("--respond-state %s: its directory cannot take files: %s",
		       esc, strerror(errno));
		return -1;
	}
	return respond_state_check(c, path);
}

/*
 * --check: everything a start would check before loading the program,
 * through the same code, every problem reported (not just the first);
 * nothing attached, loaded, created or truncated. Prints what would run
 * on stdout. 0 if a start would get past all of it, else 2.
 */
static int check_config(struct options *o)
{
	static char outputs[MAX_OUTPUTS][SINK_DESCRIBE_SIZE];
	static struct iface_table ifaces;
	static struct list_set set;
	size_t n_v4[MAX_LISTS] = { 0 }, n_v6[MAX_LISTS] = { 0 };
	bool loaded[MAX_LISTS] = { false };
	char esc[LOG_ESCAPE_SIZE(LIST_PATH_MAX)];
	int problems = 0, warnings = 0, list_problems = 0, r;
	struct filter filter;

	/* The caller's privileges, not the file's: a warning only. */
	if (loader_check_privileges(o, true))
		warnings++;
	if (o->packets &&
	    iface_table_resolve(&ifaces, o))
		problems++;
	if (filter_compile(&filter, o->filter, o->snaplen))
		problems++;
	filter_free(&filter);
	if (metrics_check(o))
		problems++;
	if (o->respond_state) {
		r = check_state_file(o->respond_state, o->respond_cfg);
		problems += r < 0;
		warnings += r > 0;
	}
	for (int i = 0; i < o->n_outputs; i++) {
		r = sink_check(o->outputs[i], &o->sink, outputs[i],
			       sizeof(outputs[i]));
		problems += r < 0;
		warnings += r > 0;
	}
	/* Each file alone, so that each bad one is said; then all at once. */
	for (int i = 0; i < o->n_lists; i++) {
		if (list_set_load(&set, &o->lists[i], 1, NULL)) {
			list_set_free(&set);
			list_problems++;
			continue;
		}
		loaded[i] = true;
		n_v4[i] = set.n_v4;
		n_v6[i] = set.n_v6;
		list_set_free(&set);
	}
	/* What only the lists together can say: two of one name. */
	if (o->n_lists && !list_problems &&
	    list_set_load(&set, o->lists, o->n_lists, NULL))
		list_problems++;
	list_set_free(&set);
	problems += list_problems;

	describe_start(stdout, o, NULL, &ifaces, o->attach ?
		       attach_method_name((enum attach_method)o->attach) :
		       "the best method the kernel offers", outputs,
		       o->n_outputs);
	for (int i = 0; i < o->n_lists; i++) {
		const struct list_spec *l = &o->lists[i];

		printf("hdrlog: %s list %s%s: %s, ", list_kind_name(l->kind),
		       l->name, l->any ? " (:any)" : "",
		       log_escape(esc, sizeof(esc), l->path, strlen(l->path)));
		if (loaded[i])
			printf("%zu IPv4 and %zu IPv6 prefixes\n", n_v4[i],
			       n_v6[i]);
		else
			printf("not loaded (see the messages)\n");
	}
	if (o->filter[0])
		printf("hdrlog: filter expression: %s\n",
		       log_escape(esc, sizeof(esc), o->filter, strlen(o->filter)));
	if (problems) {
		printf("hdrlog: %d problem%s found (see the messages); hdrlog would not start\n",
		       problems, problems == 1 ? "" : "s");
		return 2;
	}
	printf("hdrlog: configuration OK%s\n", warnings ?
	       " (with warnings: see the messages)" : "");
	return 0;
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

	/*
	 * Records name hosts and processes: files hdrlog makes are not for
	 * everyone. The caller's umask stays where it masks more.
	 */
	umask(umask(0) | 027);
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
	/* --blocks, --unblock, --top: a client of a running hdrlog */
	if (opts.blocks || opts.unblock || opts.top) {
		char req[CONTROL_REQUEST_MAX];

		if (opts.unblock)
			snprintf(req, sizeof(req), "unblock %s", opts.unblock);
		else
			snprintf(req, sizeof(req), "%s", opts.top ? "top" : "blocks");
		ret = control_command(opts.control, req, opts.top, opts.once);
		options_free(&opts);
		return ret;
	}
	run.opts = &opts;
	run.argc = argc;
	run.argv = argv;
	run.link_watch = -1;
	run.frame_bytes = options_need_frame_bytes(&opts);
	opts.sink.ifaces = &run.ifaces;
	opts.sink.snaplen = run.frame_bytes ? opts.snaplen : 0;
	run.decode.clock = &run.clock;
	run.decode.respond = opts.respond_cfg != NULL;
	run.decode.ifaces = &run.ifaces;
	if (opts.check) {
		ret = check_config(&opts);
		options_free(&opts);
		return ret;
	}
	install_signals();
	run.start_ns = clock_mono_ns();
	service_init(&run.service);
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
		loader_print_features(stdout, &opts);
		options_free(&opts);
		return 0;
	}
	if (opts.packets &&
	    iface_table_resolve(&run.ifaces, &opts))
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
	run.metrics = metrics_open(&opts);
	if (!run.metrics) {
		if (errno == EINVAL)
			ret = 2;
		goto out;
	}
	/*
	 * Lists are read and their tables filled while the kernel verifies
	 * the program, and are in force before the first frame is seen.
	 */
	lists_job_init(&lists, &opts, NULL);
	if (opts.n_lists &&
	    (err = pthread_create(&lists_thread, NULL, lists_prepare, &lists))) {
		pr_err("cannot start a thread: %s", strerror(err));
		goto out;
	}
	err = loader_load(&run.loader, &opts, &run.ifaces);
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
	if (opts.log_flows) {
		struct flow_table_maps maps;

		loader_flow_maps(&run.loader, &maps);
		run.flow_table = flow_table_new(&maps, opts.flow_idle_timeout,
						opts.flow_active_timeout);
		if (!run.flow_table)
			goto out;	/* said why */
		run.last_sweep = clock_mono_ns();
	}
	if (opts.respond_cfg) {
		struct respond_fds fds;

		loader_respond_fds(&run.loader, &fds);
		run.respond = respond_new(opts.respond_cfg, &fds, opts.monitor);
		if (!run.respond) {
			pr_err("out of memory");
			goto out;
		}
		if (opts.respond_state)
			respond_state_load(run.respond, opts.respond_state,
					   &run.decode, emit_respond, &run);
		run.control = control_open(opts.control);
	}
	if (opts.sockets && loader_attach_sockets(&run.loader))
		goto out;
	if (opts.packets &&
	    loader_attach(&run.loader, &run.ifaces))
		goto out;
	if (opts.packets) {
		run.link_watch = iface_watch_open();
		if (run.link_watch < 0)
			pr_warn("cannot watch the interfaces (%s): a deleted one will go unnoticed",
				strerror(-run.link_watch));
	}
	metrics_ring(run.metrics, loader_ringbuf_fd(&run.loader));
	rb = ring_buffer__new(loader_ringbuf_fd(&run.loader), handle_record,
			      &run, NULL);
	if (!rb) {
		pr_err("cannot read the ring buffer: %s", strerror(errno));
		goto out;
	}
	describe_run(&run);
	/* Every program attached, every output open: ready. */
	status_update(&run, true);
	ret = capture(&run, rb) ? 1 : 0;
	capture_ended = 1;
	sink_capture_over = true;
	service_stopping(&run.service);
	reload_finish(&run, true);

	/* Detach first, so the counters stop moving before they are read. */
	loader_detach(&run.loader);
	drain(&run, rb);
	/* Every flow still open, reason shutdown (or fin/rst). */
	sweep_flows(&run, true);
	/* The block list goes with the programs: say so for each block. */
	if (run.respond)
		poll_respond(&run, true);
	/* Closing writes out what is queued; the summary counts it. */
	for (int i = 0; i < run.n_sinks; i++)
		sink_close(run.sinks[i]);
	collect_stats(&run);
	if (log_level >= LOG_NORMAL)
		stats_print(&run.stats, &opts, stderr);
	/* The last exposition says what the summary says. */
	metrics_final(run.metrics, &run.stats, &opts);
out:
	reload_finish(&run, true);
	if (run.link_watch >= 0)
		close(run.link_watch);
	metrics_close(run.metrics);
	control_close(run.control);
	ring_buffer__free(rb);
	loader_close(&run.loader);
	list_set_free(&run.lists);
	for (int i = 0; i < run.n_sinks; i++)
		sink_destroy(run.sinks[i]);
	filter_free(&run.filter);
	flows_free(run.flows);
	flow_table_free(run.flow_table);
	respond_free(run.respond);
	options_free(&opts);
	return ret;
}
