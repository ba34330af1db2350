// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Automated response, userspace half (see respond.h and
 * bpf/respond.bpf.h): respond.conf, the hot sources, decisions, blocks
 * and their expiry.
 *
 * The kernel puts a source in the hot queue when one of its counters
 * crosses the lowest threshold of any policy on that measure, once per
 * window. Such a source is watched until its window ends: every poll
 * (50 ms) its counters are read again and every policy on it judged, so a
 * policy with a higher threshold fires when the count gets there. Nothing
 * here scans the per-source table.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "clock.h"
#include "log.h"
#include "respond.h"

#define NS		1000000000ull
#define SKETCH_BITS	128
#define SCAN_MAX	300	/* distinct values a sketch tells apart well */
#define WATCH_MAX	1024

/* --- respond.conf ------------------------------------------------------- */

struct parse {
	const char *path;
	unsigned int line;
};

static int bad(const struct parse *p, const char *fmt, const char *arg)
{
	char msg[256];

	snprintf(msg, sizeof(msg), fmt, arg);
	pr_err("%s:%u: %s", p->path, p->line, msg);
	return -1;
}

/* "10m" -> ns; units ms, s, m, h, d; a bare number is seconds. */
static int parse_duration(const char *v, uint64_t *ns)
{
	static const struct { const char *u; uint64_t ns; } units[] = {
		{ "ms", 1000000ull }, { "s", NS }, { "", NS },
		{ "m", 60 * NS }, { "h", 3600 * NS }, { "d", 86400 * NS },
	};
	char *end;
	unsigned long long n;

	if (!isdigit((unsigned char)v[0]))
		return -1;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno || n > 1000000)
		return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (!strcmp(end, units[i].u)) {
			*ns = n * units[i].ns;
			return 0;
		}
	return -1;
}

static int parse_uint(const char *v, uint64_t min, uint64_t max,
		      uint64_t *out)
{
	char *end;
	unsigned long long n;

	if (!isdigit((unsigned char)v[0]))
		return -1;
	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno || *end || n < min || n > max)
		return -1;
	*out = n;
	return 0;
}

static int detector_parse(const char *v)
{
	for (int i = 0; i < RESPOND_DETECTORS; i++)
		if (!strcmp(v, respond_detector_names[i]))
			return i;
	return -1;
}

static bool is_rate(enum respond_detector d)
{
	return d == DET_SYN || d == DET_PACKET_RATE || d == DET_BYTE_RATE;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static bool name_ok(const char *s)
{
	size_t n = strlen(s);

	if (!n || n >= RESPOND_NAME_MAX)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("._-", *s))
			return false;
	return true;
}

/* Sketch bits expected once n distinct values were hashed in. */
static uint64_t sketch_bits_for(uint64_t n)
{
	double bits = SKETCH_BITS * (1.0 - exp(-(double)n / SKETCH_BITS));

	return (uint64_t)ceil(bits - 1e-9);
}

uint64_t respond_sketch_estimate(unsigned int bits)
{
	if (bits >= SKETCH_BITS)
		bits = SKETCH_BITS - 1;	/* saturated: the most it can say */
	return (uint64_t)llround(-SKETCH_BITS *
				 log(1.0 - (double)bits / SKETCH_BITS));
}

/* Check a finished [policy] section. */
static int policy_end(struct respond_config *c, struct parse *p,
		      uint64_t seen)
{
	struct respond_policy *pol;
	unsigned int at = p->line;

	if (!c->n_policies)
		return 0;
	pol = &c->policies[c->n_policies - 1];
	p->line = pol->line;
	if (!(seen & 1))
		return bad(p, "policy %s has no detector", pol->name);
	if (!(seen & 2))
		return bad(p, "policy %s has no threshold", pol->name);
	if ((seen & 4) && !pol->block)
		return bad(p, "policy %s: ttl is for action = block", pol->name);
	if (!pol->severity)
		pol->severity = pol->detector == DET_PORT_SCAN ||
				pol->detector == DET_HOST_SCAN ? 3 : 2;
	p->line = at;
	return 0;
}

static int global_key(struct respond_config *c, struct parse *p,
		      const char *k, char *v)
{
	uint64_t n;

	if (!strcmp(k, "window")) {
		if (parse_duration(v, &n) || n < 100000000ull || n > 60 * NS)
			return bad(p, "window: '%s' is not a duration from 100ms to 60s", v);
		c->window_ns = n;
	} else if (!strcmp(k, "prefix4")) {
		if (parse_uint(v, 8, 32, &n))
			return bad(p, "prefix4: '%s' is not 8 to 32", v);
		c->prefix4 = n;
	} else if (!strcmp(k, "prefix6")) {
		if (parse_uint(v, 16, 128, &n))
			return bad(p, "prefix6: '%s' is not 16 to 128", v);
		c->prefix6 = n;
	} else if (!strcmp(k, "sources")) {
		if (parse_uint(v, 16, 1u << 24, &n))
			return bad(p, "sources: '%s' is not 16 to 16777216", v);
		c->sources = n;
	} else if (!strcmp(k, "max-blocks")) {
		if (parse_uint(v, 1, 1u << 20, &n))
			return bad(p, "max-blocks: '%s' is not 1 to 1048576", v);
		c->max_blocks = n;
	} else if (!strcmp(k, "never-block")) {
		for (char *t = strtok(v, ","); t; t = strtok(NULL, ",")) {
			t = trim(t);
			if (c->n_never_block == MAX_LISTS)
				return bad(p, "never-block: more than %s lists", "64");
			if (!*t || strlen(t) >= LIST_NAME_MAX)
				return bad(p, "never-block: '%s' is not a list name", t);
			strcpy(c->never_block[c->n_never_block++], t);
		}
		c->never_block_line = p->line;
	} else {
		return bad(p, "unknown setting '%s' (window, prefix4, prefix6, sources, max-blocks, never-block; or a [policy NAME] first)", k);
	}
	return 0;
}

static int policy_key(struct respond_config *c, struct parse *p,
		      uint64_t *seen, const char *k, const char *v)
{
	struct respond_policy *pol = &c->policies[c->n_policies - 1];
	uint64_t n;
	int d;

	if (!strcmp(k, "detector")) {
		d = detector_parse(v);
		if (d < 0)
			return bad(p, "detector: '%s' is not syn, port-scan, host-scan, packet-rate or byte-rate", v);
		pol->detector = d;
		*seen |= 1;
	} else if (!strcmp(k, "threshold")) {
		char num[32];
		size_t len = strlen(v);
		bool per_s = len > 2 && !strcmp(v + len - 2, "/s");

		if (!(*seen & 1))
			return bad(p, "threshold: say the detector first%s", "");
		if (is_rate(pol->detector) != per_s)
			return bad(p, is_rate(pol->detector) ?
				   "threshold: '%s' is not a rate (N/s)" :
				   "threshold: '%s' is not a count of distinct ports or hosts per window (N)", v);
		snprintf(num, sizeof(num), "%.*s", (int)(per_s ? len - 2 : len), v);
		if (parse_uint(num, 1, is_rate(pol->detector) ? 1ull << 40 :
			       SCAN_MAX, &n))
			return bad(p, is_rate(pol->detector) ?
				   "threshold: '%s' is not 1/s to 2^40/s" :
				   "threshold: '%s' is not 1 to 300 (the sketch's range)", v);
		pol->threshold = n;
		*seen |= 2;
	} else if (!strcmp(k, "action")) {
		if (strcmp(v, "log") && strcmp(v, "block"))
			return bad(p, "action: '%s' is not log or block", v);
		pol->block = !strcmp(v, "block");
	} else if (!strcmp(k, "ttl")) {
		if (parse_duration(v, &n) || n < NS || n > 30 * 86400 * NS ||
		    n % NS)
			return bad(p, "ttl: '%s' is not a duration from 1s to 30d in whole seconds", v);
		pol->ttl_s = n / NS;
		*seen |= 4;
	} else if (!strcmp(k, "severity")) {
		if (parse_uint(v, 1, 3, &n))
			return bad(p, "severity: '%s' is not 1 (high) to 3 (low)", v);
		pol->severity = n;
	} else {
		return bad(p, "unknown policy setting '%s' (detector, threshold, action, ttl, severity)", k);
	}
	return 0;
}

int respond_config_load(struct respond_config *c, const char *path)
{
	struct parse p = { path, 0 };
	char buf[LIST_LINE_MAX];
	uint64_t seen = 0, keys = 0;
	FILE *f;
	int err = 0;

	memset(c, 0, sizeof(*c));
	snprintf(c->path, sizeof(c->path), "%s", path);
	c->window_ns = NS;
	c->prefix4 = 32;
	c->prefix6 = 64;
	c->sources = 65536;
	c->max_blocks = 4096;
	f = fopen(path, "re");
	if (!f) {
		pr_err("--respond %s: %s", path, strerror(errno));
		return -1;
	}
	while (!err && fgets(buf, sizeof(buf), f)) {
		char *s, *eq, *k, *v;

		p.line++;
		if (!strchr(buf, '\n') && !feof(f)) {
			err = bad(&p, "line longer than %s bytes", "4095");
			break;
		}
		s = trim(buf);
		if (!*s || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char name[64];
			size_t n = strlen(s);

			if (s[n - 1] != ']' || sscanf(s, "[policy %63[^] ]]", name) != 1 ||
			    strcmp(s + 8 + strlen(name), "]")) {
				err = bad(&p, "'%s' is not a [policy NAME] section", s);
				break;
			}
			if ((err = policy_end(c, &p, seen)))
				break;
			if (!name_ok(name)) {
				err = bad(&p, "policy name '%s': 1 to 31 letters, digits, '.', '_' or '-'", name);
				break;
			}
			for (int i = 0; i < c->n_policies; i++)
				if (!strcmp(c->policies[i].name, name))
					err = bad(&p, "policy %s again", name);
			if (err)
				break;
			if (c->n_policies == HDRLOG_RESPOND_POLICIES) {
				err = bad(&p, "more than %s policies", "32");
				break;
			}
			strcpy(c->policies[c->n_policies].name, name);
			c->policies[c->n_policies++].line = p.line;
			seen = 0;
			keys = 0;
			continue;
		}
		eq = strchr(s, '=');
		if (!eq) {
			err = bad(&p, "'%s' is not 'name = value'", s);
			break;
		}
		*eq = '\0';
		k = trim(s);
		v = trim(eq + 1);
		if (!*v) {
			err = bad(&p, "%s has no value", k);
			break;
		}
		/* the same setting twice in a section is a mistake: say so */
		{
			static const char *const all[] = {
				"window", "prefix4", "prefix6", "sources",
				"max-blocks", "never-block", "detector",
				"threshold", "action", "ttl", "severity",
			};
			for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
				if (!strcmp(k, all[i])) {
					if (keys & (1ull << i)) {
						err = bad(&p, "%s given twice", k);
						break;
					}
					keys |= 1ull << i;
				}
			if (err)
				break;
		}
		if (c->n_policies)
			err = policy_key(c, &p, &seen, k, v);
		else
			err = global_key(c, &p, k, v);
	}
	if (!err && ferror(f)) {
		pr_err("--respond %s: %s", path, strerror(errno));
		err = -1;
	}
	fclose(f);
	if (err)
		return -1;
	p.line++;
	if (policy_end(c, &p, seen))
		return -1;
	if (!c->n_policies) {
		p.line = p.line ? p.line - 1 : 0;
		return bad(&p, "no [policy NAME] section: nothing to do%s", "");
	}
	for (int i = 0; i < c->n_policies; i++) {
		struct respond_policy *pol = &c->policies[i];

		if (pol->block && !pol->ttl_s)
			pol->ttl_s = 600;	/* ten minutes */
		if (is_rate(pol->detector)) {
			/* N/s in a window of w ns: N * w / 1e9 counts, rounded up */
			unsigned __int128 x = (unsigned __int128)pol->threshold *
					      c->window_ns;

			pol->per_window = (uint64_t)((x + NS - 1) / NS);
		} else {
			pol->per_window = sketch_bits_for(pol->threshold);
		}
		if (!pol->per_window)
			pol->per_window = 1;
	}
	return 0;
}

static enum hdrlog_measure measure_of(enum respond_detector d)
{
	switch (d) {
	case DET_SYN:		return HDRLOG_M_SYNS;
	case DET_PORT_SCAN:	return HDRLOG_M_PORT_BITS;
	case DET_HOST_SCAN:	return HDRLOG_M_HOST_BITS;
	case DET_PACKET_RATE:	return HDRLOG_M_PKTS;
	default:		return HDRLOG_M_BYTES;
	}
}

int respond_config_bind(struct respond_config *c,
			const struct list_spec *lists, int n_lists)
{
	c->protect_mask = 0;
	for (int i = 0; i < n_lists; i++)
		if (lists[i].kind == LIST_ALLOW)
			c->protect_mask |= 1ull << i;
	for (int j = 0; j < c->n_never_block; j++) {
		int i;

		for (i = 0; i < n_lists; i++)
			if (!strcmp(lists[i].name, c->never_block[j]))
				break;
		if (i == n_lists) {
			pr_err("%s:%u: never-block: no list named '%s' (give it with --taglist NAME=FILE, --allowlist or --blocklist)",
			       c->path, c->never_block_line, c->never_block[j]);
			return -1;
		}
		c->protect_mask |= 1ull << i;
	}
	memset(c->hot_at, 0, sizeof(c->hot_at));
	for (int i = 0; i < c->n_policies; i++) {
		enum hdrlog_measure m = measure_of(c->policies[i].detector);
		uint64_t t = c->policies[i].per_window;

		if (!c->hot_at[m] || t < c->hot_at[m])
			c->hot_at[m] = t;
	}
	return 0;
}

/* --- at run time -------------------------------------------------------- */

struct watch {
	struct hdrlog_src_key key;
	uint64_t window;	/* the window it is hot in */
	uint32_t fired;		/* bit p: policy p decided in that window */
};

struct respond {
	const struct respond_config *c;
	struct respond_fds fds;
	bool monitor;
	struct watch watch[WATCH_MAX];
	int n_watch;
	uint64_t last_sweep;
	struct respond_stats st;	/* userspace's counts */
	int ncpu;
	struct hdrlog_respond_counters *percpu;
};

struct respond *respond_new(const struct respond_config *c,
			    const struct respond_fds *fds, bool monitor)
{
	struct respond *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->c = c;
	r->fds = *fds;
	r->monitor = monitor;
	r->ncpu = libbpf_num_possible_cpus();
	if (r->ncpu < 1)
		r->ncpu = 1;
	r->percpu = calloc(r->ncpu, sizeof(*r->percpu));
	if (!r->percpu) {
		free(r);
		return NULL;
	}
	return r;
}

void respond_free(struct respond *r)
{
	if (!r)
		return;
	free(r->percpu);
	free(r);
}

/* The source's value for a policy, in the policy's unit. */
static uint64_t policy_value(const struct respond *r,
			     const struct respond_policy *pol,
			     const struct hdrlog_src_window *w)
{
	uint64_t n = w->n[measure_of(pol->detector)];

	if (!is_rate(pol->detector))
		return respond_sketch_estimate(n);
	return (uint64_t)((unsigned __int128)n * NS / r->c->window_ns);
}

static unsigned int prefix_of(const struct respond *r,
			      const struct hdrlog_src_key *k)
{
	return k->ip_v == 4 ? r->c->prefix4 : r->c->prefix6;
}

static void record_start(struct event *e, enum event_type type,
			 const struct respond *r,
			 const struct hdrlog_src_key *k, int policy)
{
	memset(e, 0, sizeof(*e));
	e->event_type = type;
	e->time_ns = clock_real_ns();
	e->ip_v = k->ip_v;
	memcpy(e->src_ip, k->addr, 16);
	e->present = FIELD_BIT(F_TIMESTAMP) | FIELD_BIT(F_EVENT_TYPE) |
		     FIELD_BIT(F_IP_V) | FIELD_BIT(F_SRC_IP) |
		     FIELD_BIT(F_ALERT_SIGNATURE) | FIELD_BIT(F_RESPOND_PREFIX) |
		     FIELD_BIT(F_RESPOND_RESULT);
	e->respond.policy = r->c->policies[policy].name;
	e->respond.prefix = prefix_of(r, k);
	e->respond.detector = r->c->policies[policy].detector;
	e->respond.block = r->c->policies[policy].block;
}

static void decide(struct respond *r, const struct watch *w, int policy,
		   uint64_t value, uint64_t lists, uint64_t now,
		   const struct decode_ctx *ctx, respond_emit_fn emit,
		   void *emit_ctx)
{
	const struct respond_policy *pol = &r->c->policies[policy];
	enum respond_result result = RESULT_LOGGED;
	struct hdrlog_block b = { .policy = policy };
	struct event e;

	r->st.alerts[policy]++;
	if (pol->block) {
		b.expires_ns = now + pol->ttl_s * NS;
		if (lists & r->c->protect_mask) {
			result = RESULT_PROTECTED;
			r->st.protected_alerts++;
		} else if (!bpf_map_update_elem(r->fds.blocks, &w->key, &b,
						BPF_NOEXIST)) {
			result = RESULT_BLOCKED;
			r->st.blocks[policy]++;
		} else if (errno == EEXIST) {
			result = RESULT_ALREADY;
		} else {
			result = RESULT_FULL;
			if (!r->st.list_full++)
				pr_warn("--respond: the dynamic block list is full (%u entries: max-blocks in %s); sources go unblocked",
					r->c->max_blocks, r->c->path);
		}
	}
	record_start(&e, EVENT_ALERT, r, &w->key, policy);
	e.present |= FIELD_BIT(F_ALERT_ACTION) | FIELD_BIT(F_ALERT_CATEGORY) |
		     FIELD_BIT(F_ALERT_SEVERITY) | FIELD_BIT(F_RESPOND_DETECTOR) |
		     FIELD_BIT(F_RESPOND_VALUE) | FIELD_BIT(F_RESPOND_THRESHOLD) |
		     FIELD_BIT(F_RESPOND_WINDOW);
	e.respond.severity = pol->severity;
	e.respond.value = value;
	e.respond.threshold = pol->threshold;
	e.respond.window_ms = r->c->window_ns / 1000000;
	e.respond.result = result;
	emit(emit_ctx, &e);
	if (result != RESULT_BLOCKED)
		return;
	e.event_type = EVENT_BLOCK;
	e.time_ns = clock_real_ns();
	e.present &= ~(FIELD_BIT(F_ALERT_ACTION) | FIELD_BIT(F_ALERT_CATEGORY) |
		       FIELD_BIT(F_ALERT_SEVERITY));
	e.present |= FIELD_BIT(F_RESPOND_TTL) | FIELD_BIT(F_RESPOND_EXPIRES);
	e.respond.ttl_s = pol->ttl_s;
	e.respond.expires_ns = clock_map_realtime(ctx->clock, b.expires_ns);
	if (r->monitor) {
		e.present |= FIELD_BIT(F_WOULD_DROP);
		e.would_drop = true;
	}
	emit(emit_ctx, &e);
}

/* Judge a watched source's window; false: stop watching it. */
static bool judge(struct respond *r, struct watch *w, uint64_t now,
		  const struct decode_ctx *ctx, respond_emit_fn emit,
		  void *emit_ctx)
{
	struct hdrlog_src s;
	const struct hdrlog_src_window *win;
	bool more;

	if (bpf_map_lookup_elem(r->fds.sources, &w->key, &s))
		return false;	/* forgotten (LRU) */
	if (s.window == w->window) {
		win = &s.cur;
		more = now / r->c->window_ns <= w->window;
	} else if (s.window == w->window + 1) {
		win = &s.prev;	/* the window's final counts */
		more = false;
	} else {
		return false;
	}
	for (int i = 0; i < r->c->n_policies; i++) {
		const struct respond_policy *pol = &r->c->policies[i];

		if ((w->fired & (1u << i)) ||
		    win->n[measure_of(pol->detector)] < pol->per_window)
			continue;
		w->fired |= 1u << i;
		decide(r, w, i, policy_value(r, pol, win), s.lists, now, ctx,
		       emit, emit_ctx);
	}
	return more;
}

static void read_hot(struct respond *r)
{
	struct hdrlog_hot h;

	while (!bpf_map_lookup_and_delete_elem(r->fds.hot, NULL, &h)) {
		int i;

		for (i = 0; i < r->n_watch; i++)
			if (!memcmp(&r->watch[i].key, &h.key, sizeof(h.key)))
				break;
		if (i < r->n_watch) {
			if (r->watch[i].window != h.window) {
				r->watch[i].window = h.window;
				r->watch[i].fired = 0;
			}
			continue;
		}
		if (r->n_watch == WATCH_MAX) {
			r->st.watch_full++;
			continue;
		}
		r->watch[r->n_watch++] = (struct watch){ .key = h.key,
							 .window = h.window };
	}
}

/* Expired blocks out, with an unblock record each; all of them at shutdown. */
static void expire(struct respond *r, uint64_t now, bool shutdown,
		   respond_emit_fn emit, void *emit_ctx)
{
	struct hdrlog_src_key k, next, *prev = NULL;
	struct hdrlog_block b;
	struct event e;

	while (!bpf_map_get_next_key(r->fds.blocks, prev, &next)) {
		k = next;
		prev = &k;
		if (bpf_map_lookup_elem(r->fds.blocks, &k, &b) ||
		    (!shutdown && b.expires_ns > now))
			continue;
		if (bpf_map_delete_elem(r->fds.blocks, &k))
			continue;
		/* the key is gone: start over (a hash walk needs a live key) */
		prev = NULL;
		if (b.policy >= (uint32_t)r->c->n_policies)
			continue;
		r->st.unblocks[b.policy]++;
		record_start(&e, EVENT_UNBLOCK, r, &k, b.policy);
		e.respond.result = shutdown ? RESULT_SHUTDOWN : RESULT_EXPIRED;
		emit(emit_ctx, &e);
	}
}

void respond_poll(struct respond *r, uint64_t now, bool shutdown,
		  const struct decode_ctx *ctx, respond_emit_fn emit,
		  void *emit_ctx)
{
	if (!r)
		return;
	if (!shutdown) {
		read_hot(r);
		for (int i = 0; i < r->n_watch;) {
			if (judge(r, &r->watch[i], now, ctx, emit, emit_ctx))
				i++;
			else
				r->watch[i] = r->watch[--r->n_watch];
		}
	}
	/* Blocks end within 100 ms of their time. */
	if (shutdown || now - r->last_sweep >= NS / 10) {
		r->last_sweep = now;
		expire(r, now, shutdown, emit, emit_ctx);
	}
}

void respond_stats_get(struct respond *r, struct respond_stats *s)
{
	uint32_t zero = 0;

	*s = r->st;
	if (bpf_map_lookup_elem(r->fds.counters, &zero, r->percpu))
		return;
	for (int c = 0; c < r->ncpu; c++) {
		const struct hdrlog_respond_counters *k = &r->percpu[c];

		for (int i = 0; i < HDRLOG_RESPOND_POLICIES; i++) {
			s->dropped[i] += k->dropped[i];
			s->would_drop[i] += k->would_drop[i];
		}
		s->protected_pass += k->protected_pass;
		s->hot_lost += k->hot_lost;
		s->untracked += k->untracked;
	}
}
