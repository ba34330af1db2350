// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The stats record and the Prometheus exposition, both rendered from one
 * stats_walk(), and the two ways the exposition leaves: a file replaced
 * atomically (node_exporter's textfile collector reads *.prom files, and
 * must never see half of one) or a small HTTP server run from the capture
 * loop. The server has no thread: its sockets are non-blocking and live
 * in an epoll set the capture loop waits on, each client has a bounded
 * request and a deadline, and there are at most HTTP_CLIENTS at once, so
 * a slow or silent client costs a slot, never capture time.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yajl/yajl_gen.h>

#include "clock.h"
#include "event.h"
#include "fields.h"
#include "log.h"
#include "metrics.h"
#include "sink.h"

#define FILE_EVERY_NS	5000000000ull	/* the file without --stats-interval */
#define HTTP_CLIENTS	8
#define HTTP_REQUEST_MAX	4096
#define HTTP_DEADLINE_NS	3000000000ull	/* to send a request and take the answer */
#define CONTENT_TYPE	"text/plain; version=0.0.4; charset=utf-8"

struct client {
	int fd;			/* -1: a free slot */
	uint64_t deadline_ns;
	char req[HTTP_REQUEST_MAX];
	size_t req_len;
	char *resp;		/* the answer, once the request is in */
	size_t resp_len, resp_sent;
};

struct metrics {
	uint64_t interval_ns;	/* stats records and the file; 0: neither */
	uint64_t due_ns;
	bool records;		/* stats records to the outputs */
	const char *path;	/* the exposition's file, or NULL */
	char *tmp_path;
	bool file_failing;
	int listen_fd;		/* -1: no HTTP */
	int ep;			/* the listener and clients; -1: none */
	struct client clients[HTTP_CLIENTS];
	const uint64_t *ring_cons, *ring_prod;	/* mapped read-only */
	long page;
};

/* --- text in a growing buffer --- */

struct buf {
	char *p;
	size_t len, cap;
	bool failed;
};

static void buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p) {
			b->failed = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void __attribute__((format(printf, 2, 3)))
buf_printf(struct buf *b, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		buf_add(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* --- the Prometheus text exposition, format 0.0.4 --- */

struct sample {
	const struct metric *m;
	char *label[METRIC_LABELS];
	uint64_t value;
};

struct samples {
	struct sample *v;
	int n, cap;
	bool failed;
};

static void collect_sample(void *ctx, const struct metric *m,
			   const char *const *label, uint64_t value)
{
	struct samples *ss = ctx;
	struct sample *x;

	if (ss->failed)
		return;
	if (ss->n == ss->cap) {
		int cap = ss->cap ? 2 * ss->cap : 256;
		struct sample *v = realloc(ss->v, cap * sizeof(*v));

		if (!v) {
			ss->failed = true;
			return;
		}
		ss->v = v;
		ss->cap = cap;
	}
	x = &ss->v[ss->n++];
	*x = (struct sample){ .m = m, .value = value };
	for (int i = 0; i < METRIC_LABELS && m->label[i]; i++)
		if (!(x->label[i] = strdup(label[i])))
			ss->failed = true;
}

/* A label value: backslash, double quote and newline escaped. */
static void add_label_value(struct buf *b, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\')
			buf_add(b, "\\\\", 2);
		else if (*v == '"')
			buf_add(b, "\\\"", 2);
		else if (*v == '\n')
			buf_add(b, "\\n", 2);
		else
			buf_add(b, v, 1);
	}
}

/*
 * The walk goes interface by interface, output by output; the format
 * wants each family's lines together, after its HELP and TYPE.
 */
static int exposition(const struct stats *s, const struct options *o,
		      struct buf *b)
{
	struct samples ss = { 0 };

	stats_walk(s, o, collect_sample, &ss);
	for (int id = 0; id < stats_n_metrics && !ss.failed; id++) {
		const struct metric *m = &stats_metrics[id];
		bool head = false;

		for (int i = 0; i < ss.n; i++) {
			const struct sample *x = &ss.v[i];

			if (x->m != m)
				continue;
			if (!head) {
				/* no help text holds a backslash or newline */
				buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n",
					   m->name, m->help, m->name,
					   m->type == METRIC_COUNTER ?
					   "counter" : "gauge");
				head = true;
			}
			buf_add(b, m->name, strlen(m->name));
			for (int l = 0; l < METRIC_LABELS && m->label[l]; l++) {
				buf_printf(b, "%s%s=\"", l ? "," : "{",
					   m->label[l]);
				add_label_value(b, x->label[l]);
				buf_add(b, "\"", 1);
			}
			buf_printf(b, "%s %llu\n", m->label[0] ? "}" : "",
				   (unsigned long long)x->value);
		}
	}
	for (int i = 0; i < ss.n; i++)
		for (int l = 0; l < METRIC_LABELS; l++)
			free(ss.v[i].label[l]);
	free(ss.v);
	if (ss.failed || b->failed) {
		pr_warn("out of memory rendering the metrics");
		return -1;
	}
	return 0;
}

/* --- the stats record: Suricata's eve "stats" event is the model --- */

#define PATH_DEPTH	(1 + METRIC_LABELS)

struct record_ctx {
	yajl_gen g;
	/* the objects open under "stats": group, then label values */
	char path[PATH_DEPTH][SINK_DESCRIBE_SIZE];
	int depth;
};

static void gen_str(yajl_gen g, const char *s)
{
	yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

static void record_sample(void *ctx, const struct metric *m,
			  const char *const *label, uint64_t value)
{
	struct record_ctx *c = ctx;
	const char *want[PATH_DEPTH];
	int n = 0, common = 0;

	if (m->group) {
		want[n++] = m->group;
		for (int i = 0; i < METRIC_LABELS && m->label[i]; i++)
			want[n++] = label[i];
	}
	while (common < c->depth && common < n &&
	       !strcmp(c->path[common], want[common]))
		common++;
	for (; c->depth > common; c->depth--)
		yajl_gen_map_close(c->g);
	for (; c->depth < n; c->depth++) {
		gen_str(c->g, want[c->depth]);
		yajl_gen_map_open(c->g);
		snprintf(c->path[c->depth], sizeof(c->path[0]), "%s",
			 want[c->depth]);
	}
	gen_str(c->g, m->key);
	yajl_gen_integer(c->g, (long long)value);
}

/*
 * {"timestamp":...,"event_type":"stats","stats":{...}}: the same
 * timestamp and event_type fields as every record (fields.c), the
 * counters nested as stats_walk() describes them. 0, or -1.
 */
static int stats_record(const struct stats *s, const struct options *o,
			const struct event *e, yajl_gen g)
{
	struct record_ctx *c = calloc(1, sizeof(*c));
	char text[FIELD_TEXT_MAX];
	int n;

	if (!c)
		return -1;
	c->g = g;
	yajl_gen_map_open(g);
	if (o->sink.schema == SCHEMA_ECS) {
		/*
		 * ECS: a metric event; the counters have no ECS names, so
		 * they sit under hdrlog.stats, as ECS wants custom fields.
		 */
		gen_str(g, "@timestamp");
		n = field_text(e, F_TIMESTAMP, 0, text);
		yajl_gen_string(g, (const unsigned char *)text, n > 0 ? n : 0);
		gen_str(g, "ecs");
		yajl_gen_map_open(g);
		gen_str(g, "version");
		gen_str(g, ECS_VERSION);
		yajl_gen_map_close(g);
		gen_str(g, "event");
		yajl_gen_map_open(g);
		gen_str(g, "kind");
		gen_str(g, "metric");
		gen_str(g, "dataset");
		gen_str(g, "hdrlog.stats");
		yajl_gen_map_close(g);
		gen_str(g, "hdrlog");
		yajl_gen_map_open(g);
	} else {
		gen_str(g, "timestamp");
		n = field_text(e, F_TIMESTAMP, 0, text);
		yajl_gen_string(g, (const unsigned char *)text, n > 0 ? n : 0);
		gen_str(g, "event_type");
		n = field_text(e, F_EVENT_TYPE, 0, text);
		yajl_gen_string(g, (const unsigned char *)text, n > 0 ? n : 0);
	}
	gen_str(g, "stats");
	yajl_gen_map_open(g);
	stats_walk(s, o, record_sample, c);
	for (; c->depth > 0; c->depth--)
		yajl_gen_map_close(g);
	yajl_gen_map_close(g);
	if (o->sink.schema == SCHEMA_ECS)
		yajl_gen_map_close(g);	/* hdrlog */
	yajl_gen_map_close(g);
	free(c);
	return 0;
}

static void send_stats_record(const struct stats *s, const struct options *o,
			      struct sink *const *sinks, int n_sinks)
{
	struct event e = {
		.present = FIELD_BIT(F_TIMESTAMP) | FIELD_BIT(F_EVENT_TYPE),
		.time_ns = clock_real_ns(),
		.event_type = EVENT_STATS,
	};
	yajl_gen g = yajl_gen_alloc(NULL);
	const unsigned char *json;
	size_t len;

	if (!g || stats_record(s, o, &e, g) ||
	    yajl_gen_get_buf(g, &json, &len) != yajl_gen_status_ok) {
		pr_warn("out of memory rendering a stats record");
	} else {
		sink_write_stats_all(sinks, n_sinks, &e, (const char *)json,
				     len);
	}
	if (g)
		yajl_gen_free(g);
}

/* --- the file --- */

/* Write tmp_path, rename it over path: readers see the old or the new. */
static int file_replace(struct metrics *m, const struct buf *b)
{
	const char *p = b->p;
	size_t left = b->len;
	int fd, err = 0;

	/* never through a link planted there: see sink_create_tmp() */
	fd = sink_create_tmp(m->tmp_path, 0644, "--metrics");
	if (fd < 0)
		return fd;
	/* node_exporter runs as a user of its own: counters are not secret */
	if (fchmod(fd, 0644))
		err = -errno;
	while (!err && left) {
		ssize_t n = write(fd, p, left);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = -errno;
			break;
		}
		p += n;
		left -= n;
	}
	if (close(fd) && !err)
		err = -errno;
	if (!err && rename(m->tmp_path, m->path))
		err = -errno;
	if (err)
		unlink(m->tmp_path);
	return err;
}

static void write_file(struct metrics *m, const struct stats *s,
		       const struct options *o)
{
	struct buf b = { 0 };
	char esc[LOG_ESCAPE_SIZE(256)];
	int err;

	if (exposition(s, o, &b)) {
		free(b.p);
		return;
	}
	err = file_replace(m, &b);
	free(b.p);
	log_escape(esc, sizeof(esc), m->path, strlen(m->path));
	if (err && !m->file_failing)
		pr_warn("cannot write the metrics to %s: %s; trying again each interval",
			esc, strerror(-err));
	else if (!err && m->file_failing)
		pr_info("metrics written to %s again", esc);
	m->file_failing = err != 0;
}

/* --- HTTP --- */

static void client_close(struct metrics *m, struct client *c)
{
	epoll_ctl(m->ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->resp);
	c->fd = -1;
	c->resp = NULL;
}

static void accept_clients(struct metrics *m)
{
	/* bounded: a flood of connections does not keep capture waiting */
	for (int k = 0; k < 4 * HTTP_CLIENTS; k++) {
		struct client *c = NULL;
		struct epoll_event ev = { .events = EPOLLIN };
		int fd = accept4(m->listen_fd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			return;	/* EAGAIN, or a client that left already */
		for (int i = 0; i < HTTP_CLIENTS && !c; i++)
			if (m->clients[i].fd < 0)
				c = &m->clients[i];
		if (!c) {
			close(fd);	/* all slots taken: come back later */
			continue;
		}
		ev.data.u32 = c - m->clients + 1;
		if (epoll_ctl(m->ep, EPOLL_CTL_ADD, fd, &ev)) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->req_len = 0;
		c->deadline_ns = clock_mono_ns() + HTTP_DEADLINE_NS;
	}
}

static void respond(struct client *c, const char *status, const char *extra,
		    const struct buf *body)
{
	struct buf b = { 0 };

	buf_printf(&b, "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%sConnection: close\r\n\r\n",
		   status, body ? CONTENT_TYPE : "text/plain; charset=utf-8",
		   body ? body->len : strlen(status) + 1, extra);
	if (body)
		buf_add(&b, body->p, body->len);
	else
		buf_printf(&b, "%s\n", status);
	c->resp = b.p;	/* NULL if out of memory: closed unanswered */
	c->resp_len = b.failed ? 0 : b.len;
	c->resp_sent = 0;
}

/* A whole request head: answer it. */
static void answer(struct client *c, const struct options *o,
		   metrics_collect_fn collect, void *ctx)
{
	char method[16], target[256], version[16];
	struct buf body = { 0 };

	c->req[c->req_len] = '\0';
	if (sscanf(c->req, "%15s %255s %15s", method, target, version) != 3 ||
	    strncmp(version, "HTTP/1.", 7)) {
		respond(c, "400 Bad Request", "", NULL);
		return;
	}
	if (strcmp(target, "/metrics") && strncmp(target, "/metrics?", 9)) {
		respond(c, "404 Not Found", "", NULL);
		return;
	}
	if (strcmp(method, "GET")) {
		respond(c, "405 Method Not Allowed", "Allow: GET\r\n", NULL);
		return;
	}
	if (exposition(collect(ctx), o, &body)) {
		respond(c, "500 Internal Server Error", "", NULL);
	} else {
		respond(c, "200 OK", "", &body);
	}
	free(body.p);
}

static void client_write(struct metrics *m, struct client *c)
{
	while (c->resp_sent < c->resp_len) {
		ssize_t n = send(c->fd, c->resp + c->resp_sent,
				 c->resp_len - c->resp_sent,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			struct epoll_event ev = {
				.events = EPOLLOUT,
				.data.u32 = c - m->clients + 1,
			};

			epoll_ctl(m->ep, EPOLL_CTL_MOD, c->fd, &ev);
			return;
		}
		if (n <= 0)
			break;
		c->resp_sent += n;
	}
	client_close(m, c);
}

static void client_ready(struct metrics *m, struct client *c,
			 const struct options *o, metrics_collect_fn collect,
			 void *ctx)
{
	if (c->resp) {
		client_write(m, c);
		return;
	}
	for (;;) {
		ssize_t n = recv(c->fd, c->req + c->req_len,
				 sizeof(c->req) - 1 - c->req_len, MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;	/* more later, before the deadline */
		if (n <= 0) {
			client_close(m, c);	/* gone, or an error */
			return;
		}
		c->req_len += n;
		c->req[c->req_len] = '\0';
		/* the head ends at an empty line; a body is not read */
		if (strstr(c->req, "\r\n\r\n") || strstr(c->req, "\n\n"))
			break;
		if (c->req_len == sizeof(c->req) - 1) {
			respond(c, "400 Bad Request", "", NULL);
			client_write(m, c);
			return;
		}
	}
	answer(c, o, collect, ctx);
	client_write(m, c);
}

static void serve(struct metrics *m, const struct options *o,
		  metrics_collect_fn collect, void *ctx)
{
	struct epoll_event evs[HTTP_CLIENTS + 1];
	uint64_t now = clock_mono_ns();
	int n = epoll_wait(m->ep, evs, HTTP_CLIENTS + 1, 0);

	for (int i = 0; i < n; i++) {
		uint32_t slot = evs[i].data.u32;

		if (!slot)
			accept_clients(m);
		else if (m->clients[slot - 1].fd >= 0)
			client_ready(m, &m->clients[slot - 1], o, collect, ctx);
	}
	/* Silent or slow: the slot is for someone else. */
	for (int i = 0; i < HTTP_CLIENTS; i++)
		if (m->clients[i].fd >= 0 && now >= m->clients[i].deadline_ns) {
			pr_debug("metrics: a client took too long; closed");
			client_close(m, &m->clients[i]);
		}
}

/* --- set up, tick, final --- */

/* "1.2.3.4:9469" or "[::1]:9469" into sa; 0, or -1. */
static int parse_addr(const char *t, struct sockaddr_storage *sa,
		      socklen_t *len)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(t, ':');
	char *end;
	unsigned long port;
	size_t n;

	if (!colon || !colon[1])
		return -1;
	port = strtoul(colon + 1, &end, 10);
	if (*end || port < 1 || port > 65535 || colon[1] == '+' ||
	    colon[1] == '-')
		return -1;
	n = colon - t;
	if (n >= sizeof(host))
		return -1;
	memcpy(host, t, n);
	host[n] = '\0';
	memset(sa, 0, sizeof(*sa));
	if (n > 2 && host[0] == '[' && host[n - 1] == ']') {
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)sa;

		host[n - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &a6->sin6_addr) != 1)
			return -1;
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(port);
		*len = sizeof(*a6);
	} else {
		struct sockaddr_in *a4 = (struct sockaddr_in *)sa;

		if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
			return -1;
		a4->sin_family = AF_INET;
		a4->sin_port = htons(port);
		*len = sizeof(*a4);
	}
	return 0;
}

static bool is_path(const char *t)
{
	size_t n = strlen(t);

	return strchr(t, '/') || (n >= 5 && !strcmp(t + n - 5, ".prom"));
}

bool metrics_target_valid(const char *target)
{
	struct sockaddr_storage sa;
	socklen_t len;

	return is_path(target) || !parse_addr(target, &sa, &len);
}

static int listen_on(struct metrics *m, const char *t)
{
	struct sockaddr_storage sa;
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = 0 };
	socklen_t len;
	int one = 1;

	if (parse_addr(t, &sa, &len)) {	/* options_parse() checked it */
		pr_err("--metrics: bad address %s", t);
		errno = EINVAL;
		return -1;
	}
	m->listen_fd = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
			      SOCK_CLOEXEC, 0);
	if (m->listen_fd < 0 ||
	    setsockopt(m->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one,
		       sizeof(one)) ||
	    (sa.ss_family == AF_INET6 &&
	     setsockopt(m->listen_fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
			sizeof(one))) ||
	    bind(m->listen_fd, (struct sockaddr *)&sa, len) ||
	    listen(m->listen_fd, HTTP_CLIENTS)) {
		pr_err("--metrics: cannot listen on %s: %s", t, strerror(errno));
		return -1;
	}
	m->ep = epoll_create1(EPOLL_CLOEXEC);
	if (m->ep < 0 || epoll_ctl(m->ep, EPOLL_CTL_ADD, m->listen_fd, &ev)) {
		pr_err("--metrics: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* The directory must take the temporary file: said at start, not later. */
static int file_check(struct metrics *m, const char *path)
{
	char esc[LOG_ESCAPE_SIZE(256)];
	int fd;

	m->path = path;
	if (asprintf(&m->tmp_path, "%s.tmp", path) < 0) {
		m->tmp_path = NULL;
		pr_err("out of memory");
		return -1;
	}
	fd = sink_create_tmp(m->tmp_path, 0644, "--metrics");
	if (fd < 0) {
		pr_err("--metrics: cannot write %s: %s",
		       log_escape(esc, sizeof(esc), m->tmp_path,
				  strlen(m->tmp_path)), strerror(-fd));
		return -1;
	}
	close(fd);
	unlink(m->tmp_path);
	return 0;
}

int metrics_check(const struct options *o)
{
	char esc[LOG_ESCAPE_SIZE(256)], dir[4096];
	struct sockaddr_storage sa;
	const char *slash;
	socklen_t len;
	int fd, err = 0;

	if (!o->metrics)
		return 0;
	if (is_path(o->metrics)) {
		slash = strrchr(o->metrics, '/');
		snprintf(dir, sizeof(dir), "%.*s", slash ?
			 (int)(slash - o->metrics) : 1, slash ? o->metrics : ".");
		if (!dir[0])
			strcpy(dir, "/");
		if (access(dir, W_OK | X_OK)) {
			pr_err("--metrics: cannot write files in %s: %s",
			       log_escape(esc, sizeof(esc), dir, strlen(dir)),
			       strerror(errno));
			return -1;
		}
		return 0;
	}
	/* what listen_on() will do, the socket closed again at once */
	if (parse_addr(o->metrics, &sa, &len))
		return -1;	/* options_parse() said why */
	fd = socket(sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, len))
		err = errno;
	if (fd >= 0)
		close(fd);
	if (err) {
		pr_err("--metrics: cannot listen on %s: %s", o->metrics,
		       strerror(err));
		return -1;
	}
	return 0;
}

/* The ring's consumer and producer positions, as libbpf reads them. */
void metrics_ring(struct metrics *m, int fd)
{
	void *cons, *prod;

	if (!m || m->ring_cons)
		return;
	m->page = sysconf(_SC_PAGESIZE);
	cons = mmap(NULL, m->page, PROT_READ, MAP_SHARED, fd, 0);
	if (cons == MAP_FAILED)
		return;
	prod = mmap(NULL, m->page, PROT_READ, MAP_SHARED, fd, m->page);
	if (prod == MAP_FAILED) {
		munmap(cons, m->page);
		return;
	}
	m->ring_cons = cons;
	m->ring_prod = prod;
}

uint64_t metrics_ring_bytes(const struct metrics *m)
{
	if (!m || !m->ring_cons)
		return 0;
	return __atomic_load_n(m->ring_prod, __ATOMIC_ACQUIRE) -
	       __atomic_load_n(m->ring_cons, __ATOMIC_ACQUIRE);
}

struct metrics *metrics_open(const struct options *o)
{
	struct metrics *m = calloc(1, sizeof(*m));
	int err = 0;

	if (!m) {
		pr_err("out of memory");
		return NULL;
	}
	m->listen_fd = m->ep = -1;
	for (int i = 0; i < HTTP_CLIENTS; i++)
		m->clients[i].fd = -1;
	m->records = o->stats_interval > 0;
	if (o->metrics && is_path(o->metrics))
		err = file_check(m, o->metrics);
	else if (o->metrics)
		err = listen_on(m, o->metrics);
	if (err) {
		err = errno;
		metrics_close(m);
		errno = err;
		return NULL;
	}
	if (o->stats_interval)
		m->interval_ns = o->stats_interval * 1000000000ull;
	else if (m->path)
		m->interval_ns = FILE_EVERY_NS;
	m->due_ns = clock_mono_ns() + m->interval_ns;
	return m;
}

int metrics_fd(const struct metrics *m)
{
	return m ? m->ep : -1;
}

void metrics_tick(struct metrics *m, const struct options *o,
		  struct sink *const *sinks, int n_sinks,
		  metrics_collect_fn collect, void *ctx)
{
	const struct stats *s;
	uint64_t now;

	if (!m)
		return;
	if (m->ep >= 0)
		serve(m, o, collect, ctx);
	if (!m->interval_ns || (now = clock_mono_ns()) < m->due_ns)
		return;
	/* Not behind after a stall: the next one an interval from now. */
	m->due_ns = now + m->interval_ns;
	s = collect(ctx);
	if (m->records)
		send_stats_record(s, o, sinks, n_sinks);
	if (m->path)
		write_file(m, s, o);
}

void metrics_final(struct metrics *m, const struct stats *s,
		   const struct options *o)
{
	if (m && m->path)
		write_file(m, s, o);
}

void metrics_close(struct metrics *m)
{
	if (!m)
		return;
	for (int i = 0; i < HTTP_CLIENTS; i++)
		if (m->clients[i].fd >= 0)
			client_close(m, &m->clients[i]);
	if (m->listen_fd >= 0)
		close(m->listen_fd);
	if (m->ep >= 0)
		close(m->ep);
	if (m->ring_cons)
		munmap((void *)m->ring_cons, m->page);
	if (m->ring_prod)
		munmap((void *)m->ring_prod, m->page);
	free(m->tmp_path);
	free(m);
}
