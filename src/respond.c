// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Automated response, userspace half (see respond.h and
 * bpf/respond.bpf.h): respond.conf, the hot sources, decisions, blocks
 * and their expiry.
 *
 * The kernel sends a notice of a source on the hot ring when one of its
 * counters crosses a threshold of the policies on that measure (the
 * lowest HDRLOG_HOT_LEVELS distinct ones), once per window and threshold;
 * the notice wakes the main loop, which judges the source at once. Such a
 * source is then watched until its window ends: every poll (50 ms at
 * most) its counters are read again and every policy on it judged, so a
 * policy whose threshold the kernel does not watch (a baseline's factor x
 * average, a fifth distinct one) fires when the count gets there. Nothing
 * here scans the per-source table.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/stat.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "clock.h"
#include "log.h"
#include "mapwalk.h"
#include "respond.h"
#include "sink.h"

#define NS		1000000000ull
#define SKETCH_BITS	128
#define SCAN_MAX	300	/* distinct values a sketch tells apart well */
#define WATCH_MAX	1024
#define BASE_POLICIES	4	/* detector = baseline policies in a file */
#define BASE_BATCH	1024	/* sources per read of the table */

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
	return d == DET_SYN || d == DET_PACKET_RATE || d == DET_BYTE_RATE ||
	       d == DET_BASELINE;
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
	if (pol->detector == DET_BASELINE) {
		/* documented defaults (hdrlog.8 RESPONSE) */
		if (!(seen & 2))
			pol->threshold = 100;
		if (!pol->metric)
			pol->metric = HDRLOG_M_PKTS;
		if (!pol->history_ns)
			pol->history_ns = 600 * NS;
		if (!pol->factor)
			pol->factor = 5;
		if (pol->history_ns < c->window_ns)
			return bad(p, "policy %s: history is shorter than the window", pol->name);
		seen |= 2;
	} else if (seen & 8) {
		return bad(p, "policy %s: metric, history, factor and min are for detector = baseline", pol->name);
	}
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
			return bad(p, "detector: '%s' is not syn, port-scan, host-scan, packet-rate, byte-rate or baseline", v);
		pol->detector = d;
		*seen |= 1;
	} else if (!strcmp(k, "threshold")) {
		char num[32];
		size_t len = strlen(v);
		bool per_s = len > 2 && !strcmp(v + len - 2, "/s");

		if (!(*seen & 1))
			return bad(p, "threshold: say the detector first%s", "");
		if (pol->detector == DET_BASELINE)
			return bad(p, "threshold: '%s': detector = baseline has factor and min instead", v);
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
	} else if (!strcmp(k, "min")) {
		/* baseline's floor: a rate, like a rate detector's threshold */
		size_t len = strlen(v);
		char num[32];

		if (len < 3 || strcmp(v + len - 2, "/s"))
			return bad(p, "min: '%s' is not a rate (N/s)", v);
		snprintf(num, sizeof(num), "%.*s", (int)(len - 2), v);
		if (parse_uint(num, 1, 1ull << 40, &n))
			return bad(p, "min: '%s' is not 1/s to 2^40/s", v);
		pol->threshold = n;
		*seen |= 2 | 8;
	} else if (!strcmp(k, "metric")) {
		if (strcmp(v, "packets") && strcmp(v, "bytes"))
			return bad(p, "metric: '%s' is not packets or bytes", v);
		pol->metric = !strcmp(v, "bytes") ? HDRLOG_M_BYTES :
						    HDRLOG_M_PKTS;
		*seen |= 8;
	} else if (!strcmp(k, "history")) {
		if (parse_duration(v, &n) || n < 100000000ull ||
		    n > 30 * 86400 * NS)
			return bad(p, "history: '%s' is not a duration from 100ms to 30d", v);
		pol->history_ns = n;
		*seen |= 8;
	} else if (!strcmp(k, "factor")) {
		if (parse_uint(v, 2, 1000, &n))
			return bad(p, "factor: '%s' is not 2 to 1000", v);
		pol->factor = n;
		*seen |= 8;
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
		return bad(p, "unknown policy setting '%s' (detector, threshold, action, ttl, severity; baseline: metric, history, factor, min)", k);
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
				"min", "metric", "history", "factor",
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
	for (int i = 0, n = 0; i < c->n_policies; i++)
		if (c->policies[i].detector == DET_BASELINE && ++n > BASE_POLICIES) {
			p.line = c->policies[i].line;
			return bad(&p, "more than %s policies with detector = baseline", "4");
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

static enum hdrlog_measure measure_of(const struct respond_policy *pol)
{
	switch (pol->detector) {
	case DET_BASELINE:	return pol->metric;
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
	/* the lowest HDRLOG_HOT_LEVELS distinct thresholds, ascending */
	memset(c->hot_at, 0, sizeof(c->hot_at));
	for (int i = 0; i < c->n_policies; i++) {
		uint64_t *at = c->hot_at[measure_of(&c->policies[i])];
		uint64_t t = c->policies[i].per_window;
		int l = 0;

		while (l < HDRLOG_HOT_LEVELS && at[l] && at[l] < t)
			l++;
		if (l == HDRLOG_HOT_LEVELS || at[l] == t)
			continue;
		memmove(at + l + 1, at + l,
			(HDRLOG_HOT_LEVELS - 1 - l) * sizeof(*at));
		at[l] = t;
	}
	return 0;
}

/* --- at run time -------------------------------------------------------- */

/*
 * detector = baseline: a rate above what the source (a prefix4/prefix6
 * key, as every counter here) has sent before. What it learns from: at
 * each window's end, one batched read of the whole per-source table
 * (only when a baseline policy exists), each source's packets and bytes
 * in the window just ended; per baseline policy an EWMA of that count
 * with the policy's history as time constant. Judging stays on the hot
 * path: the kernel signals a source whose count crosses the policy's
 * floor (min), and judge() compares its current window with factor x
 * the EWMA every poll. A source is judged only after one history of
 * learning (a new source at a high rate is for packet-rate/byte-rate),
 * and a window in which it alerted is not learned (an attack does not
 * become its own baseline), nor are windows hdrlog itself missed.
 *
 * The table holds as many sources as the kernel's (sources in
 * respond.conf); when it is full a new source is not learned and
 * counted (baseline_full). A source that has stopped sending leaves once
 * its EWMA decays below half a frame per window.
 */

struct base_entry {
	struct hdrlog_src_key key;
	uint32_t used;
	uint64_t learned[BASE_POLICIES];	/* windows, per policy */
	uint64_t alerted_in;	/* window + 1 of its last baseline alert */
	uint64_t x[2];		/* packets, bytes in the window just ended */
	double ewma[BASE_POLICIES];	/* counts per window */
};

/*
 * FILE.baseline (--respond-state) is written by a thread of its own from
 * a copy of the learned rows: at the default 65536 sources formatting
 * the table took ~45 ms and at 1M ~1 s, fsync apart, time in which the
 * loop would not drain the ring buffers. The copy, taken on the loop
 * between two windows' learning, keeps only what the file holds (~2.5
 * ms at 65536, ~40-90 ms at 1M, where each window's learning already
 * takes more). The exit save waits for a writer still running, then
 * writes on the loop, so it is done before hdrlog exits; one writer at
 * a time.
 */
struct base_row {
	struct hdrlog_src_key key;
	double ewma[BASE_POLICIES];
	uint64_t learned[BASE_POLICIES];
};

struct base_save {
	struct respond *r;	/* its config and key_text(): read only */
	char path[LIST_PATH_MAX + 16];
	struct base_row *rows;	/* max of them, allocated at the first save */
	uint32_t n;
	uint64_t written;	/* clock_real_ns() of the copy */
	bool failing;		/* the last write failed (warned) */
	bool running;		/* thread started, not joined yet */
	bool done;		/* atomic: the thread has finished */
	pthread_t thread;
};

/* Join the writer: true when none runs (waited for if wait). */
static bool base_save_join(struct base_save *s, bool wait)
{
	if (!s->running)
		return true;
	if (!wait && !__atomic_load_n(&s->done, __ATOMIC_ACQUIRE))
		return false;
	pthread_join(s->thread, NULL);
	s->running = false;
	return true;
}

struct baseline {
	struct base_entry *t, *next;	/* cap slots; rebuilt each window */
	uint32_t cap, n, max;
	uint64_t window;		/* the last window learned */
	int n_pol, pol[BASE_POLICIES];	/* slot -> policy index */
	int slot[HDRLOG_RESPOND_POLICIES];	/* policy index -> slot */
	double alpha[BASE_POLICIES];	/* 1 - e^(-window / history) */
	struct hdrlog_src_key *keys;	/* batch buffers */
	struct hdrlog_src *vals;
	bool warned;
	struct base_save save;
};

static uint32_t key_hash(const struct hdrlog_src_key *k)
{
	uint32_t h = 2166136261u;
	const uint8_t *p = (const uint8_t *)k;

	for (size_t i = 0; i < sizeof(*k); i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

/* The key's slot, or the free slot it would take (never full: cap >= 2 max). */
static struct base_entry *base_slot(struct base_entry *t, uint32_t cap,
				    const struct hdrlog_src_key *k)
{
	for (uint32_t i = key_hash(k) & (cap - 1);; i = (i + 1) & (cap - 1))
		if (!t[i].used || !memcmp(&t[i].key, k, sizeof(*k)))
			return &t[i];
}

static bool has_baseline(const struct respond_config *c)
{
	for (int i = 0; i < c->n_policies; i++)
		if (c->policies[i].detector == DET_BASELINE)
			return true;
	return false;
}

static struct baseline *baseline_new(const struct respond_config *c)
{
	struct baseline *b;
	uint32_t cap = 16;

	b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	for (int i = 0; i < c->n_policies; i++) {
		const struct respond_policy *pol = &c->policies[i];

		b->slot[i] = -1;
		if (pol->detector != DET_BASELINE || b->n_pol == BASE_POLICIES)
			continue;	/* the loader refused a fifth */
		b->alpha[b->n_pol] = 1.0 - exp(-(double)c->window_ns /
					       (double)pol->history_ns);
		b->slot[i] = b->n_pol;
		b->pol[b->n_pol++] = i;
	}
	b->max = c->sources;
	while (cap < 2 * b->max)
		cap <<= 1;
	b->cap = cap;
	b->t = calloc(cap, sizeof(*b->t));
	b->next = calloc(cap, sizeof(*b->next));
	b->keys = calloc(BASE_BATCH, sizeof(*b->keys));
	b->vals = calloc(BASE_BATCH, sizeof(*b->vals));
	if (!b->t || !b->next || !b->keys || !b->vals) {
		free(b->t);
		free(b->next);
		free(b->keys);
		free(b->vals);
		free(b);
		return NULL;
	}
	return b;
}

static void baseline_free(struct baseline *b)
{
	if (!b)
		return;
	base_save_join(&b->save, true);
	free(b->save.rows);
	free(b->t);
	free(b->next);
	free(b->keys);
	free(b->vals);
	free(b);
}

struct watch {
	struct hdrlog_src_key key;
	uint64_t window;	/* the window it is hot in */
	uint32_t fired;		/* bit p: policy p decided in that window */
};

struct respond {
	const struct respond_config *c;
	struct respond_fds fds;
	struct ring_buffer *hot;	/* fds.hot's reader; NULL: none (--check) */
	bool monitor;
	struct watch watch[WATCH_MAX];
	int n_watch;
	uint64_t last_sweep;
	struct respond_stats st;	/* userspace's counts */
	int ncpu;
	struct hdrlog_respond_counters *percpu;
	struct baseline *base;		/* NULL: no baseline policy */
	/* --respond-state: the blocks saved when they change */
	const char *state;
	bool state_dirty;
	uint64_t state_saved;	/* clock_mono_ns() of the last write */
	uint64_t base_saved;	/* and of the baselines' (FILE.baseline) */
	bool check;		/* --check's: files read, nothing restored */
	uint64_t filter_unblocks;	/* st.unblocks' sum at the last rebuild */
	uint64_t filter_rebuilt;	/* now of the last rebuild */
	uint32_t n_blocks;	/* in the list at the last walk of it */
	struct hdrlog_src_key *expired;	/* expire()'s keys to take out */
	uint32_t expired_cap;
};

/* A notice from the hot ring: the source watched, from its window on. */
static int hot_notice(void *ctx, void *data, size_t size)
{
	struct respond *r = ctx;
	struct hdrlog_hot h;
	int i;

	if (size < sizeof(h))
		return 0;	/* not the kernel's layout: cannot happen */
	memcpy(&h, data, sizeof(h));
	for (i = 0; i < r->n_watch; i++)
		if (!memcmp(&r->watch[i].key, &h.key, sizeof(h.key)))
			break;
	if (i < r->n_watch) {
		if (r->watch[i].window != h.window) {
			r->watch[i].window = h.window;
			r->watch[i].fired = 0;
		}
		return 0;
	}
	if (r->n_watch == WATCH_MAX) {
		r->st.watch_full++;
		return 0;
	}
	r->watch[r->n_watch++] = (struct watch){ .key = h.key,
						 .window = h.window };
	return 0;
}

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
	if (fds->hot >= 0 &&
	    !(r->hot = ring_buffer__new(fds->hot, hot_notice, r, NULL))) {
		free(r->percpu);
		free(r);
		return NULL;
	}
	if (has_baseline(c) && !(r->base = baseline_new(c))) {
		ring_buffer__free(r->hot);
		free(r->percpu);
		free(r);
		return NULL;
	}
	return r;
}

int respond_wake_fd(const struct respond *r)
{
	return r->hot ? r->fds.hot : -1;
}

void respond_free(struct respond *r)
{
	if (!r)
		return;
	baseline_free(r->base);
	ring_buffer__free(r->hot);
	free(r->expired);
	free(r->percpu);
	free(r);
}

struct learn_walk {
	struct respond *r;
	uint64_t w;
};

/*
 * A source's window w is its cur if the kernel has not rolled it yet,
 * its prev if it has, and nothing if it sent nothing in w.
 */
static void learn_batch(void *arg, const void *keys, const void *vals,
			uint32_t count)
{
	struct learn_walk *lw = arg;
	struct respond *r = lw->r;
	struct baseline *b = r->base;
	const struct hdrlog_src_key *k = keys;
	const struct hdrlog_src *v = vals;

	for (uint32_t i = 0; i < count; i++) {
		const struct hdrlog_src_window *win;
		struct base_entry *e;

		if (v[i].window == lw->w)
			win = &v[i].cur;
		else if (v[i].window == lw->w + 1)
			win = &v[i].prev;
		else
			continue;
		if (!win->n[HDRLOG_M_PKTS])
			continue;
		e = base_slot(b->t, b->cap, &k[i]);
		if (!e->used) {
			if (b->n >= b->max) {
				if (!r->st.baseline_full++)
					pr_warn("--respond: the baseline table is full (%u sources: sources in %s); new sources are not learned",
						b->max, r->c->path);
				continue;
			}
			memset(e, 0, sizeof(*e));
			e->used = 1;
			e->key = k[i];
			b->n++;
		}
		e->x[0] = win->n[HDRLOG_M_PKTS];
		e->x[1] = win->n[HDRLOG_M_BYTES];
	}
}

/* Learn window w (just ended) from the whole per-source table. */
static void baseline_learn(struct respond *r, uint64_t w)
{
	struct baseline *b = r->base;
	struct map_walk walk = { .fd = r->fds.sources, .keys = b->keys,
				 .vals = b->vals, .batch = BASE_BATCH };
	struct learn_walk lw = { r, w };

	if (map_walk(&walk, 0, learn_batch, &lw) < 0) {
		if (!b->warned)
			pr_warn("--respond: reading the source table for the baseline: %s",
				strerror(errno));
		b->warned = true;
	}

	/* every source, sending or not, into the next table */
	memset(b->next, 0, b->cap * sizeof(*b->next));
	b->n = 0;
	for (uint32_t i = 0; i < b->cap; i++) {
		struct base_entry *e = &b->t[i];
		bool keep = e->x[0];

		if (!e->used)
			continue;
		for (int s = 0; s < b->n_pol; s++) {
			const struct respond_policy *pol =
				&r->c->policies[b->pol[s]];
			double x = e->x[pol->metric == HDRLOG_M_BYTES];

			if (!e->learned[s]) {
				e->ewma[s] = x;
				e->learned[s] = 1;
			} else {
				/*
				 * Windows hdrlog did not read (it stalled)
				 * are not data: the kernel keeps only the
				 * last two, so what came in them is unknown.
				 * Counting them as silent would lower every
				 * average, and a steady source would alert at
				 * its usual rate right after a stall.
				 */
				if (e->alerted_in != w + 1)
					e->ewma[s] += b->alpha[s] *
						      (x - e->ewma[s]);
				/*
				 * Decay alone never reaches 0: it ends in
				 * denormals, which FILE.baseline's reader
				 * (strtod: ERANGE) would refuse.
				 */
				if (e->ewma[s] < 1e-9)
					e->ewma[s] = 0;
				e->learned[s]++;
			}
			if (e->ewma[s] >= 0.5)
				keep = true;
		}
		if (!keep)
			continue;
		e->x[0] = e->x[1] = 0;
		*base_slot(b->next, b->cap, &e->key) = *e;
		b->n++;
	}
	{
		struct base_entry *t = b->t;

		b->t = b->next;
		b->next = t;
	}
	b->window = w;
}

/*
 * The count in a window above which baseline policy i fires for k; 0:
 * not judged (not learned, or still in its first history).
 */
static uint64_t baseline_need(struct respond *r, int i,
			      const struct hdrlog_src_key *k)
{
	const struct respond_policy *pol = &r->c->policies[i];
	struct baseline *b = r->base;
	struct base_entry *e;
	int s = b->slot[i];
	uint64_t need;

	if (s < 0)
		return 0;
	e = base_slot(b->t, b->cap, k);
	if (!e->used || e->learned[s] * r->c->window_ns < pol->history_ns)
		return 0;
	need = (uint64_t)floor(pol->factor * e->ewma[s]) + 1;
	return need > pol->per_window ? need : pol->per_window;
}

/* The source's value for a policy, in the policy's unit. */
static uint64_t policy_value(const struct respond *r,
			     const struct respond_policy *pol,
			     const struct hdrlog_src_window *w)
{
	uint64_t n = w->n[measure_of(pol)];

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

/*
 * Insert a block, its bit in the kernel's block filter first: a frame
 * that finds the bit clear is one that came before the block.
 */
static int block_insert(struct respond *r, const struct hdrlog_src_key *k,
			const struct hdrlog_block *b, __u64 flags)
{
	__u32 bit = hdrlog_block_filter_bit(k);

	if (r->fds.block_filter)
		__atomic_fetch_or(&r->fds.block_filter[bit >> 6],
				  1ULL << (bit & 63), __ATOMIC_RELEASE);
	return bpf_map_update_elem(r->fds.blocks, k, b, flags);
}

static void block_filter_rebuild(struct respond *r, uint64_t now);
static void unblock_record(struct respond *r, const struct hdrlog_src_key *k,
			   const struct hdrlog_block *b, int policy,
			   enum respond_result why, respond_emit_fn emit,
			   void *emit_ctx);
static int block_take(struct respond *r, const struct hdrlog_src_key *k,
		      struct hdrlog_block *b);

/* A new block for k: 0, or the errno (EEXIST: k has one). */
static int block_add(struct respond *r, const struct hdrlog_src_key *k,
		     const struct hdrlog_block *b)
{
	return block_insert(r, k, b, BPF_NOEXIST) ? errno : 0;
}

/*
 * k's block has expired but expire() has not taken it out yet (it runs
 * every 100 ms): the kernel already lets k's frames pass, so a new alert
 * must not be answered "already". The old block is taken out as expire()
 * would, with its unblock record (expired, its count), and the caller
 * inserts a new one: the records say the block ended on time and a new
 * one began, not that it was stretched. True if it was taken out.
 */
static bool block_lapsed(struct respond *r, const struct hdrlog_src_key *k,
			 uint64_t now, respond_emit_fn emit, void *emit_ctx)
{
	struct hdrlog_block b;

	if (bpf_map_lookup_elem(r->fds.blocks, k, &b) || b.expires_ns > now ||
	    block_take(r, k, &b))
		return false;
	r->state_dirty = true;
	if (b.policy < (uint32_t)r->c->n_policies)
		unblock_record(r, k, &b, b.policy, RESULT_EXPIRED, emit,
			       emit_ctx);
	return true;
}

static void decide(struct respond *r, const struct watch *w, int policy,
		   uint64_t value, uint64_t threshold, uint64_t lists,
		   uint64_t now,
		   const struct decode_ctx *ctx, respond_emit_fn emit,
		   void *emit_ctx)
{
	const struct respond_policy *pol = &r->c->policies[policy];
	enum respond_result result = RESULT_LOGGED;
	struct hdrlog_block b = { .policy = policy };
	struct event e;
	int err;

	r->st.alerts[policy]++;
	if (pol->block) {
		b.expires_ns = now + pol->ttl_s * NS;
		if (lists & r->c->protect_mask) {
			result = RESULT_PROTECTED;
			r->st.protected_alerts++;
		} else if (!(err = block_add(r, &w->key, &b)) ||
			   (err == EEXIST &&
			    block_lapsed(r, &w->key, now, emit, emit_ctx) &&
			    !(err = block_add(r, &w->key, &b)))) {
			result = RESULT_BLOCKED;
			r->st.blocks[policy]++;
			r->state_dirty = true;
		} else if (err == EEXIST) {
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
	e.respond.threshold = threshold;
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
		uint64_t need = pol->per_window, threshold = pol->threshold;

		if (w->fired & (1u << i))
			continue;
		if (pol->detector == DET_BASELINE) {
			need = baseline_need(r, i, &w->key);
			if (!need)
				continue;
			/* the record's threshold: factor x EWMA (or min), per second */
			threshold = (uint64_t)((unsigned __int128)need * NS /
					       r->c->window_ns);
		}
		if (win->n[measure_of(pol)] < need)
			continue;
		w->fired |= 1u << i;
		if (pol->detector == DET_BASELINE)
			base_slot(r->base->t, r->base->cap, &w->key)->alerted_in =
				w->window + 1;
		decide(r, w, i, policy_value(r, pol, win), threshold, s.lists,
		       now, ctx, emit, emit_ctx);
	}
	return more;
}

/* b: the block as it was taken out; NULL: restored (its count is gone). */
static void unblock_record(struct respond *r, const struct hdrlog_src_key *k,
			   const struct hdrlog_block *b, int policy,
			   enum respond_result why, respond_emit_fn emit,
			   void *emit_ctx)
{
	struct event e;

	r->st.unblocks[policy]++;
	record_start(&e, EVENT_UNBLOCK, r, k, policy);
	e.respond.result = why;
	if (b) {
		e.present |= FIELD_BIT(F_RESPOND_DROPPED);
		e.respond.dropped = b->dropped;
	}
	if (r->monitor) {	/* its count is of frames it would have dropped */
		e.present |= FIELD_BIT(F_WOULD_DROP);
		e.would_drop = true;
	}
	emit(emit_ctx, &e);
}

/*
 * Take k's block out of the kernel, with its last count in b. Lookup and
 * delete of a hash map is Linux 5.14; before it, the count read just
 * before the delete (a frame in between is not counted).
 */
static int block_take(struct respond *r, const struct hdrlog_src_key *k,
		      struct hdrlog_block *b)
{
	if (!bpf_map_lookup_and_delete_elem(r->fds.blocks, k, b))
		return 0;
	if (errno == ENOENT || bpf_map_lookup_elem(r->fds.blocks, k, b))
		return -1;
	return bpf_map_delete_elem(r->fds.blocks, k);
}

static int block_list_walk(struct respond *r, map_walk_fn fn, void *arg);

struct expire_walk {
	struct respond *r;
	uint64_t now;		/* 0: every block (shutdown) */
	uint32_t n;		/* keys collected in r->expired */
	uint32_t seen;		/* blocks in the list */
};

static void expired_batch(void *arg, const void *keys, const void *vals,
			  uint32_t n)
{
	struct expire_walk *ew = arg;
	struct respond *r = ew->r;
	const struct hdrlog_src_key *k = keys;
	const struct hdrlog_block *b = vals;

	ew->seen += n;
	for (uint32_t i = 0; i < n; i++) {
		if (ew->now && b[i].expires_ns > ew->now)
			continue;
		if (ew->n == r->expired_cap) {
			uint32_t cap = r->expired_cap ? 2 * r->expired_cap : 256;
			void *t = reallocarray(r->expired, cap,
					       sizeof(*r->expired));

			if (!t)		/* the rest at the next sweep */
				return;
			r->expired = t;
			r->expired_cap = cap;
		}
		r->expired[ew->n++] = k[i];
	}
}

/*
 * Expired blocks out, with an unblock record each; all of them at
 * shutdown. One batched walk collects the keys, then each is taken out:
 * a walk of a hash map that deleted as it went would need a live key to
 * go on from, and starting over after each delete made a sweep of n
 * blocks with k expiring n x k / 2 system calls (4 s at 20,000 and 200,
 * in which the loop read neither the ring buffers nor the hot ring).
 */
static void expire(struct respond *r, uint64_t now, bool shutdown,
		   respond_emit_fn emit, void *emit_ctx)
{
	struct expire_walk ew = { r, shutdown ? 0 : now, 0, 0 };
	struct hdrlog_block b;
	int done = block_list_walk(r, expired_batch, &ew);

	if (done < 0 && !ew.n)
		return;		/* tried again at the next sweep */
	if (done > 0)
		r->n_blocks = ew.seen;
	for (uint32_t i = 0; i < ew.n; i++) {
		const struct hdrlog_src_key *k = &r->expired[i];

		/* and its count as it goes: the kernel's clock is coarse */
		if (block_take(r, k, &b))
			continue;	/* gone since: nothing to report */
		r->n_blocks -= r->n_blocks > 0;
		r->state_dirty = true;
		if (b.policy < (uint32_t)r->c->n_policies)
			unblock_record(r, k, &b, b.policy, shutdown ?
				       RESULT_SHUTDOWN : RESULT_EXPIRED, emit,
				       emit_ctx);
	}
}

void respond_poll(struct respond *r, uint64_t now, bool shutdown,
		  const struct decode_ctx *ctx, respond_emit_fn emit,
		  void *emit_ctx)
{
	if (!r)
		return;
	if (!shutdown) {
		if (r->hot)
			ring_buffer__consume(r->hot);	/* hot_notice() */
		for (int i = 0; i < r->n_watch;) {
			if (judge(r, &r->watch[i], now, ctx, emit, emit_ctx))
				i++;
			else
				r->watch[i] = r->watch[--r->n_watch];
		}
		/* after judging: a window that alerted is not learned */
		if (r->base && now / r->c->window_ns > r->base->window + 1)
			baseline_learn(r, now / r->c->window_ns - 1);
	}
	/* Blocks saved before the shutdown sweep takes them out. */
	respond_state_save(r, now, shutdown, ctx);
	/* Blocks end within 100 ms of their time. */
	if (shutdown || now - r->last_sweep >= NS / 10) {
		r->last_sweep = now;
		expire(r, now, shutdown, emit, emit_ctx);
	}
	block_filter_rebuild(r, now);	/* after expire() and --unblock */
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

/* --- blocks: listed, removed, kept across a restart (--respond-state) --- */

#define TOP_READ_MAX	16384	/* per-source entries --top reads at most */
#define TOP_SHOW	10
#define TOP_AGE_NS	(10 * NS)	/* a source idle longer is not shown */

static void key_text(const struct respond *r, const struct hdrlog_src_key *k,
		     char *buf, size_t size)
{
	char a[INET6_ADDRSTRLEN];

	inet_ntop(k->ip_v == 4 ? AF_INET : AF_INET6, k->addr, a, sizeof(a));
	snprintf(buf, size, "%s/%u", a, prefix_of(r, k));
}

/* Host bits past the configured prefix cleared, as the kernel keys it. */
static void key_mask(const struct respond *r, struct hdrlog_src_key *k)
{
	unsigned int bits = prefix_of(r, k);

	for (int i = 0; i < 4; i++, bits = bits > 32 ? bits - 32 : 0) {
		uint32_t m = bits >= 32 ? ~0u : bits ? ~0u << (32 - bits) : 0;

		k->addr[i] &= htonl(m);
	}
}

/* "ADDR[/PREFIX]": 0, or -1 with why in err. */
static int key_parse(const struct respond *r, const char *text,
		     struct hdrlog_src_key *k, char *err, size_t size)
{
	char a[INET6_ADDRSTRLEN + 8], *slash, *end;
	unsigned long len = 0;

	memset(k, 0, sizeof(*k));
	if (strlen(text) >= sizeof(a)) {
		snprintf(err, size, "'%.64s...' is not an address", text);
		return -1;
	}
	strcpy(a, text);
	slash = strchr(a, '/');
	if (slash) {
		*slash++ = '\0';
		errno = 0;
		len = strtoul(slash, &end, 10);
		if (!*slash || *end || errno) {
			snprintf(err, size, "'%s' is not ADDR or ADDR/PREFIX", text);
			return -1;
		}
	}
	if (inet_pton(AF_INET, a, k->addr) == 1) {
		k->ip_v = 4;
	} else if (inet_pton(AF_INET6, a, k->addr) == 1) {
		k->ip_v = 6;
	} else {
		snprintf(err, size, "'%s' is not an IPv4 or IPv6 address", a);
		return -1;
	}
	if (slash && len != prefix_of(r, k)) {
		snprintf(err, size, "blocks here are of /%u prefixes (prefix%u in %.100s), not /%lu",
			 prefix_of(r, k), k->ip_v, r->c->path, len);
		return -1;
	}
	key_mask(r, k);
	return 0;
}

/* The lists of the longest prefix holding the key's address (or 0). */
static uint64_t key_lists(const struct list_set *set,
			  const struct hdrlog_src_key *k)
{
	if (!set)
		return 0;
	if (k->ip_v == 4) {
		uint32_t a = ntohl(k->addr[0]);

		for (int len = 32; len >= 0; len--) {
			uint32_t net = len ? a & (~0u << (32 - len)) : 0;
			size_t lo = 0, hi = set->n_v4;

			while (lo < hi) {	/* sorted by (addr, len) */
				size_t mid = lo + (hi - lo) / 2;
				const struct entry_v4 *e = &set->v4[mid];

				if (e->addr < net || (e->addr == net &&
						      e->len < (uint32_t)len))
					lo = mid + 1;
				else
					hi = mid;
			}
			if (lo < set->n_v4 && set->v4[lo].addr == net &&
			    set->v4[lo].len == (uint32_t)len)
				return set->v4[lo].mask;
		}
		return 0;
	}
	{
		uint64_t ah = (uint64_t)ntohl(k->addr[0]) << 32 | ntohl(k->addr[1]);
		uint64_t al = (uint64_t)ntohl(k->addr[2]) << 32 | ntohl(k->addr[3]);

		for (int len = 128; len >= 0; len--) {
			uint64_t h = len >= 64 ? ah : len ? ah & (~0ull << (64 - len)) : 0;
			uint64_t l = len > 64 ? al & (~0ull << (128 - len)) : 0;
			size_t lo = 0, hi = set->n_v6;

			while (lo < hi) {	/* sorted by (hi, lo, len) */
				size_t mid = lo + (hi - lo) / 2;
				const struct entry_v6 *e = &set->v6[mid];

				if (e->hi < h || (e->hi == h && (e->lo < l ||
				    (e->lo == l && e->len < (uint32_t)len))))
					lo = mid + 1;
				else
					hi = mid;
			}
			if (lo < set->n_v6 && set->v6[lo].hi == h &&
			    set->v6[lo].lo == l && set->v6[lo].len == (uint32_t)len)
				return set->v6[lo].mask;
		}
	}
	return 0;
}

int respond_unblock(struct respond *r, const char *text, char *err,
		    size_t size, respond_emit_fn emit, void *emit_ctx)
{
	struct hdrlog_src_key k;
	struct hdrlog_block b;
	char a[64];

	if (key_parse(r, text, &k, err, size))
		return -1;
	if (block_take(r, &k, &b)) {
		key_text(r, &k, a, sizeof(a));
		snprintf(err, size, "%s is not blocked", a);
		return -1;
	}
	r->state_dirty = true;
	if (b.policy < (uint32_t)r->c->n_policies)
		unblock_record(r, &k, &b, b.policy, RESULT_REMOVED, emit,
			       emit_ctx);
	return 0;
}

/* Append to a bounded text buffer; *len stops at size - 1. */
static void put(char *buf, size_t size, size_t *len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void put(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*len + 1 >= size)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *len, size - *len, fmt, ap);
	va_end(ap);
	if (n > 0)
		*len = *len + n < size ? *len + n : size - 1;
}

/*
 * Every live block, read in batches of 256 (one system call each, not two
 * per block: max-blocks may be a million) by fn. The count.
 */
typedef void (*block_fn)(struct respond *r, const struct hdrlog_src_key *k,
			 const struct hdrlog_block *b, uint64_t now, void *arg);

struct blocks_walk {
	struct respond *r;
	uint64_t now;
	block_fn fn;
	void *arg;
	int n;
};

static void blocks_batch(void *arg, const void *keys, const void *vals,
			 uint32_t n)
{
	struct blocks_walk *bw = arg;
	const struct hdrlog_src_key *k = keys;
	const struct hdrlog_block *b = vals;

	for (uint32_t i = 0; i < n; i++) {
		if (b[i].expires_ns <= bw->now ||
		    b[i].policy >= (uint32_t)bw->r->c->n_policies)
			continue;
		bw->n++;
		bw->fn(bw->r, &k[i], &b[i], bw->now, bw->arg);
	}
}

/* The whole block list in batches to fn: map_walk()'s 1, or -1. */
static int block_list_walk(struct respond *r, map_walk_fn fn, void *arg)
{
	enum { BATCH = 256 };
	static struct hdrlog_src_key keys[BATCH];
	static struct hdrlog_block vals[BATCH];
	struct map_walk w = { .fd = r->fds.blocks, .keys = keys, .vals = vals,
			      .batch = BATCH };

	return map_walk(&w, 0, fn, arg);
}

static int blocks_each(struct respond *r, uint64_t now, block_fn fn,
		       void *arg)
{
	struct blocks_walk bw = { r, now, fn, arg, 0 };

	if (block_list_walk(r, blocks_batch, &bw) < 0)
		return -1;
	return bw.n;
}

static void filter_set(struct respond *r, const struct hdrlog_src_key *k,
		       const struct hdrlog_block *b, uint64_t now, void *arg)
{
	__u64 *f = arg;
	__u32 bit = hdrlog_block_filter_bit(k);

	(void)r, (void)b, (void)now;
	f[bit >> 6] |= 1ULL << (bit & 63);
}

/*
 * Above this many blocks a rebuild cannot help: n keys hashed into the
 * filter's 4096 bits leave a share e^(-n / 4096) of them clear, 1.8% at
 * 16384 (0.8% at 20,000), so a rebuild would spare a lookup to under 2%
 * of the frames, and it walks the whole list (27 ms at 100,000 blocks,
 * 377 ms at 1M), time in which the loop reads no ring buffer.
 */
#define FILTER_REBUILD_MAX	(4 * HDRLOG_BLOCK_FILTER_WORDS * 64)

/*
 * Blocks went (expired, removed): the filter again from the list, so
 * their bits stop costing frames a lookup; at most once a second (with
 * blocks expiring steadily a poll would walk the list every 100 ms), and
 * not while the list holds more than FILTER_REBUILD_MAX. Only this
 * thread inserts, so no block is missing from what it writes; each word
 * goes in whole. A bit left set is only a lookup; a bit cleared for a
 * live block would let its frames through, and never is. A list that
 * cannot be read leaves the filter as it is (it holds every block
 * inserted since) and is tried again.
 */
static void block_filter_rebuild(struct respond *r, uint64_t now)
{
	__u64 f[HDRLOG_BLOCK_FILTER_WORDS] = { 0 };
	uint64_t total = 0;
	int n;

	for (int i = 0; i < HDRLOG_RESPOND_POLICIES; i++)
		total += r->st.unblocks[i];
	if (total == r->filter_unblocks || !r->fds.block_filter ||
	    now - r->filter_rebuilt < NS || r->n_blocks > FILTER_REBUILD_MAX)
		return;
	r->filter_rebuilt = now;
	/* now 0: the expired ones not taken out yet too */
	n = blocks_each(r, 0, filter_set, f);
	if (n < 0)
		return;
	r->n_blocks = n;
	r->filter_unblocks = total;
	for (int i = 0; i < HDRLOG_BLOCK_FILTER_WORDS; i++)
		__atomic_store_n(&r->fds.block_filter[i], f[i], __ATOMIC_RELEASE);
}

struct table {
	char *buf;
	size_t size, len;
	int shown, max;
	size_t reserve;		/* room kept for what follows the rows */
};

static void block_row(struct respond *r, const struct hdrlog_src_key *k,
		      const struct hdrlog_block *b, uint64_t now, void *arg)
{
	struct table *t = arg;
	char a[64];

	/* a row is at most 128 bytes; the summary and drops table still fit */
	if (t->shown == t->max || t->len + 128 + t->reserve > t->size)
		return;
	t->shown++;
	key_text(r, k, a, sizeof(a));
	put(t->buf, t->size, &t->len, "%-44s %-20s %7llus %12llu\n", a,
	    r->c->policies[b->policy].name,
	    (unsigned long long)((b->expires_ns - now + NS - 1) / NS),
	    (unsigned long long)b->dropped);
}

/* A row of the drops table: policy, alerts, blocks, unblocks, drops. */
#define DROPS_ROW	"%-20s %8llu %8llu %8llu %12llu\n"

/*
 * The most the drops table's rows can take: each row as wide as its
 * policy's name and four 20-digit counts make it (up to 116 bytes).
 */
static size_t drops_rows_width(const struct respond *r)
{
	size_t n = 0;

	for (int i = 0; i < r->c->n_policies; i++)
		n += snprintf(NULL, 0, DROPS_ROW, r->c->policies[i].name,
			      ~0ULL, ~0ULL, ~0ULL, ~0ULL);
	return n;
}

static size_t blocks_table(struct respond *r, uint64_t now, char *buf,
			   size_t size, size_t len, int max)
{
	/* the lines below and the drops table's header; then its rows */
	struct table t = { buf, size, len, 0, max,
			   256 + drops_rows_width(r) };
	int n, shown;

	put(buf, size, &t.len, "%-44s %-20s %8s %12s\n", "BLOCKED", "POLICY",
	    "TTL", r->monitor ? "WOULD-DROP" : "DROPPED");
	n = blocks_each(r, now, block_row, &t);
	len = t.len;
	shown = t.shown;
	if (n < 0) {
		put(buf, size, &len, "cannot read the blocks: %s\n",
		    strerror(errno));
		return len;
	}
	if (n > shown)
		put(buf, size, &len, "... and %d more\n", n - shown);
	put(buf, size, &len, "%d active block%s (max-blocks %u)\n", n,
	    n == 1 ? "" : "s", r->c->max_blocks);
	return len;
}

static size_t drops_table(struct respond *r, char *buf, size_t size,
			  size_t len)
{
	struct respond_stats s;

	respond_stats_get(r, &s);
	put(buf, size, &len, "%-20s %8s %8s %8s %12s\n", "POLICY", "ALERTS",
	    "BLOCKS", "UNBLOCKS", r->monitor ? "WOULD-DROP" : "DROPPED");
	for (int i = 0; i < r->c->n_policies; i++)
		put(buf, size, &len, DROPS_ROW, r->c->policies[i].name,
		    (unsigned long long)s.alerts[i],
		    (unsigned long long)s.blocks[i],
		    (unsigned long long)s.unblocks[i],
		    (unsigned long long)(r->monitor ? s.would_drop[i] :
					 s.dropped[i]));
	return len;
}

size_t respond_blocks_text(struct respond *r, uint64_t now, char *buf,
			   size_t size)
{
	size_t len = blocks_table(r, now, buf, size, 0, 1000);

	put(buf, size, &len, "\n");
	return drops_table(r, buf, size, len);
}

struct top_src {
	struct hdrlog_src_key key;
	uint64_t pkts, bytes, age_ns, lists;
};

static int by_pkts(const void *pa, const void *pb)
{
	const struct top_src *a = pa, *b = pb;

	return (a->pkts < b->pkts) - (a->pkts > b->pkts);
}

static int by_bytes(const void *pa, const void *pb)
{
	const struct top_src *a = pa, *b = pb;

	return (a->bytes < b->bytes) - (a->bytes > b->bytes);
}

static void top_rows(const struct respond *r, const struct list_set *set,
		     const struct top_src *t, int n, char *buf, size_t size,
		     size_t *len)
{
	for (int i = 0; i < n && i < TOP_SHOW; i++) {
		const char *names[MAX_LISTS];
		char a[64], lists[256] = "";
		size_t ll = 0;
		int nn = set ? list_set_names(set, t[i].lists, names,
					      MAX_LISTS) : 0;

		for (int j = 0; j < nn; j++)
			put(lists, sizeof(lists), &ll, "%s%s", j ? "," : "",
			    names[j]);
		key_text(r, &t[i].key, a, sizeof(a));
		put(buf, size, len, "%-44s %10llu %12llu %4llus%s%s\n", a,
		    (unsigned long long)t[i].pkts,
		    (unsigned long long)t[i].bytes,
		    (unsigned long long)(t[i].age_ns / NS), nn ? " " : "",
		    lists);
	}
}

struct top_walk {
	const struct respond *r;
	uint64_t win;
	struct top_src *t;
	int n, read;
};

static void top_batch(void *arg, const void *keys, const void *vals,
		      uint32_t count)
{
	struct top_walk *tw = arg;
	const struct hdrlog_src_key *k = keys;
	const struct hdrlog_src *v = vals;
	uint64_t window_ns = tw->r->c->window_ns;

	for (uint32_t i = 0; i < count && tw->read < TOP_READ_MAX;
	     i++, tw->read++) {
		uint64_t age = (tw->win - v[i].window) * window_ns;

		if (v[i].window > tw->win || age > TOP_AGE_NS ||
		    !v[i].cur.n[HDRLOG_M_PKTS])
			continue;
		tw->t[tw->n++] = (struct top_src){
			.key = k[i], .pkts = v[i].cur.n[HDRLOG_M_PKTS],
			.bytes = v[i].cur.n[HDRLOG_M_BYTES],
			.age_ns = age, .lists = v[i].lists };
	}
}

/*
 * The per-source table read in batches, at most TOP_READ_MAX entries:
 * the work is bounded, and none of it is on the capture path.
 */
size_t respond_top_text(struct respond *r, uint64_t now,
			const struct list_set *lists, char *buf, size_t size)
{
	enum { BATCH = 512 };
	static struct hdrlog_src_key keys[BATCH];
	static struct hdrlog_src vals[BATCH];
	struct map_walk w = { .fd = r->fds.sources, .keys = keys, .vals = vals,
			      .batch = BATCH };
	struct top_walk tw = { .r = r, .win = now / r->c->window_ns };
	struct top_src *t = calloc(TOP_READ_MAX, sizeof(*t));
	size_t len = 0;

	if (!t) {
		put(buf, size, &len, "out of memory\n");
		return len;
	}
	tw.t = t;
	map_walk(&w, TOP_READ_MAX, top_batch, &tw);
	put(buf, size, &len, "hdrlog --top: %d source%s seen in the last %llus (window %llums%s)\n\n",
	    tw.n, tw.n == 1 ? "" : "s", (unsigned long long)(TOP_AGE_NS / NS),
	    (unsigned long long)(r->c->window_ns / 1000000),
	    tw.read == TOP_READ_MAX ? "; table read in part" : "");
	qsort(t, tw.n, sizeof(*t), by_pkts);
	put(buf, size, &len, "%-44s %10s %12s %5s %s\n", "TOP BY PACKETS",
	    "PACKETS", "BYTES", "AGE", "LISTS");
	top_rows(r, lists, t, tw.n, buf, size, &len);
	qsort(t, tw.n, sizeof(*t), by_bytes);
	put(buf, size, &len, "\n%-44s %10s %12s %5s %s\n", "TOP BY BYTES",
	    "PACKETS", "BYTES", "AGE", "LISTS");
	top_rows(r, lists, t, tw.n, buf, size, &len);
	free(t);
	put(buf, size, &len, "\n");
	len = blocks_table(r, now, buf, size, len, TOP_SHOW);
	put(buf, size, &len, "\n");
	return drops_table(r, buf, size, len);
}

struct state_out {
	FILE *f;
	struct respond *r;
	const struct decode_ctx *ctx;
};

/* Unix time in ns as "SECONDS.MMM", as the state files say times. */
static void put_unix_time(FILE *f, uint64_t ns)
{
	fprintf(f, "%llu.%03llu", (unsigned long long)(ns / NS),
		(unsigned long long)(ns % NS / 1000000));
}

/* "SECONDS[.MMM]" to ns: 0, or -1 with why in err. Changes s. */
static int parse_unix_time(char *s, uint64_t *ns, char *err, size_t size)
{
	unsigned long long sec, ms = 0;
	char *dot = strchr(s, '.'), *end;

	if (dot)
		*dot++ = '\0';
	errno = 0;
	sec = strtoull(s, &end, 10);
	if (!isdigit((unsigned char)*s) || *end || errno ||
	    sec > UINT64_MAX / NS - 1) {
		snprintf(err, size, "'%.32s' is not a time in unix seconds", s);
		return -1;
	}
	if (dot) {
		ms = strtoull(dot, &end, 10);
		if (strlen(dot) != 3 || !isdigit((unsigned char)*dot) || *end ||
		    ms > 999) {
			snprintf(err, size, "'.%.32s' is not milliseconds (.NNN)", dot);
			return -1;
		}
	}
	*ns = sec * NS + ms * 1000000;
	return 0;
}

static void state_row(struct respond *r, const struct hdrlog_src_key *k,
		      const struct hdrlog_block *b, uint64_t now, void *arg)
{
	struct state_out *o = arg;
	char a[64];

	(void)now;
	key_text(r, k, a, sizeof(a));
	fprintf(o->f, "%s %s ", a, r->c->policies[b->policy].name);
	put_unix_time(o->f, clock_map_realtime(o->ctx->clock, b->expires_ns));
	fprintf(o->f, " %s\n",
		respond_detector_names[r->c->policies[b->policy].detector]);
}

/*
 * The next line of a state file that is not blank or a comment, leading
 * blanks skipped: 1 with *s at it, 0 at the end, -1 with why in err.
 */
static int state_next(FILE *f, char *line, size_t size, unsigned int *lineno,
		      char **s, char *err, size_t err_size)
{
	while (fgets(line, size, f)) {
		++*lineno;
		if (!strchr(line, '\n') && !feof(f)) {
			snprintf(err, err_size, "line longer than %zu bytes",
				 size - 1);
			return -1;
		}
		for (*s = line; isspace((unsigned char)**s); ++*s)
			;
		if (**s && **s != '#')
			return 1;
	}
	if (ferror(f)) {
		snprintf(err, err_size, "%s", strerror(errno));
		return -1;
	}
	return 0;
}

/*
 * A state file to read: 0 with *f, or with *f NULL if there is none (an
 * empty one). Opened without waiting for a writer and taken only if it
 * is a regular file: a FIFO put there would hold the start (or --check)
 * until something wrote to it. One that cannot be read is left out at
 * start with a warning (then: what hdrlog does instead): 1. --check says
 * the same, but one that is not a regular file is a problem there (-1):
 * hdrlog would never read it, and cannot rename a new one over a
 * directory.
 */
static int state_open(const struct respond *r, const char *path, FILE **f,
		      const char *then)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	struct stat st;

	*f = NULL;
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd >= 0 && !fstat(fd, &st) && !S_ISREG(st.st_mode)) {
		close(fd);
		if (r->check) {
			pr_err("--respond-state %s: not a regular file", path);
			return -1;
		}
		pr_warn("--respond-state %s: not a regular file; %s", path,
			then);
		return 1;
	}
	if (fd < 0 || !(*f = fdopen(fd, "r"))) {
		pr_warn("--respond-state %s: %s; %s", path, strerror(errno),
			then);
		if (fd >= 0)
			close(fd);
		return 1;
	}
	return 0;
}

/*
 * Written by fill to PATH.tmp, synced and renamed: a reader or a crash
 * never sees half a file. A failure is warned about once, until a write
 * works again; lost says what a restart would then lose. 0, or -1.
 */
static int write_atomic(const char *path, int (*fill)(FILE *, void *),
			 void *arg, bool *failing, const char *lost)
{
	char tmp[LIST_PATH_MAX + 32];
	FILE *f;
	int fd, err = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	/* never through a link planted at tmp: see sink_create_tmp() */
	fd = sink_create_tmp(tmp, 0666, "--respond-state");
	if (fd < 0) {
		err = -fd;
		goto out;
	}
	f = fdopen(fd, "w");
	if (!f) {
		err = errno;
		close(fd);
		unlink(tmp);
		goto out;
	}
	/* a failed fill (a map walk) or write keeps the old file whole */
	if (fill(f, arg) < 0 || ferror(f))
		err = errno ? errno : EIO;
	if (!err && (fflush(f) || fsync(fileno(f))))
		err = errno;
	if (fclose(f) && !err)
		err = errno;
	if (!err && rename(tmp, path))
		err = errno;
	if (err)
		unlink(tmp);	/* not left to fill a full disk */
out:
	if (err && !*failing)
		pr_warn("--respond-state %s: cannot write it: %s; %s would not survive a restart",
			path, strerror(err), lost);
	else if (!err && *failing)
		pr_info("--respond-state %s: written again", path);
	*failing = err != 0;
	return err ? -1 : 0;
}

static int state_fill(FILE *f, void *arg)
{
	struct state_out *o = arg;

	fprintf(f, "# hdrlog --respond-state: the active blocks, rewritten as they change\n"
		"# ADDRESS/PREFIX POLICY EXPIRES(unix seconds) DETECTOR\n");
	o->f = f;
	return blocks_each(o->r, clock_mono_ns(), state_row, o) < 0 ? -1 : 0;
}

static int state_write(struct respond *r, const struct decode_ctx *ctx)
{
	static bool failing;
	struct state_out o = { NULL, r, ctx };

	return write_atomic(r->state, state_fill, &o, &failing, "blocks");
}

/* --- the learned averages over a restart: FILE.baseline ----------------- */

/*
 * detector = baseline's averages go to FILE.baseline beside the blocks
 * (--respond-state FILE), every minute and at exit, not as they change
 * like the blocks: they change every window, and the table may hold
 * sources x 60 bytes of text; a crash loses a minute of learning. Each
 * policy's average is kept per second (a changed window still reads it
 * right) with how long it was learned, and the policy is found again by
 * name and metric.
 *
 * While hdrlog was stopped it saw nothing, so the averages come back as
 * they were saved, neither decayed as if the sources had been silent
 * (that would lower every average, and the first ordinary traffic after
 * a restart would look like a surge) nor learned longer. But a file
 * saved longer ago than a policy's history is too old for it: the
 * policy would have forgotten most of it by now, so it learns again.
 */
#define BASE_FILE_VERSION	1
#define BASE_SAVE_NS		(60 * NS)
#define BASE_RATE_MAX		1099511627776.0	/* 2^40/s, as min's range */
#define BASE_LEARNED_MAX	(1ull << 38)	/* ms: 8 years */

static void baseline_path(const struct respond *r, char *buf, size_t size)
{
	snprintf(buf, size, "%s.baseline", r->state);
}

static const char *metric_name(enum hdrlog_measure m)
{
	return m == HDRLOG_M_BYTES ? "bytes" : "packets";
}

static int baseline_fill(FILE *f, void *arg)
{
	const struct base_save *s = arg;
	const struct respond *r = s->r;
	const struct baseline *b = r->base;
	double per_s = (double)NS / r->c->window_ns;

	if (!s->rows) {
		errno = ENOMEM;		/* no copy to write from */
		return -1;
	}
	fprintf(f, "# hdrlog --respond-state: the averages detector = baseline learned\n"
		"hdrlog-baseline %d written ", BASE_FILE_VERSION);
	put_unix_time(f, s->written);
	fprintf(f, "\n");
	for (int i = 0; i < b->n_pol; i++) {
		const struct respond_policy *pol = &r->c->policies[b->pol[i]];

		fprintf(f, "policy %s %s\n", pol->name, metric_name(pol->metric));
	}
	fprintf(f, "# ADDRESS/PREFIX, then for each policy: AVERAGE(per second) LEARNED(ms)\n");
	for (uint32_t i = 0; i < s->n; i++) {
		const struct base_row *e = &s->rows[i];
		char a[64];

		key_text(r, &e->key, a, sizeof(a));
		fprintf(f, "%s", a);
		for (int p = 0; p < b->n_pol; p++)
			fprintf(f, " %.9g %llu", e->ewma[p] * per_s,
				(unsigned long long)(e->learned[p] *
						     r->c->window_ns / 1000000));
		fprintf(f, "\n");
	}
	return 0;
}

static void *base_write(void *arg)
{
	struct base_save *s = arg;

	/* a failure waits for the next minute's save */
	write_atomic(s->path, baseline_fill, s, &s->failing,
		     "the learned baselines");
	__atomic_store_n(&s->done, true, __ATOMIC_RELEASE);
	return NULL;
}

/*
 * Copy the learned rows and write them: by a thread (see struct
 * base_save), or here if wait (at exit) or if no thread can start.
 */
static void base_save_start(struct respond *r, bool wait)
{
	struct baseline *b = r->base;
	struct base_save *s = &b->save;
	sigset_t all, old;
	int err;

	s->r = r;
	baseline_path(r, s->path, sizeof(s->path));
	if (!s->rows)
		s->rows = malloc((size_t)b->max * sizeof(*s->rows));
	s->n = 0;
	for (uint32_t i = 0; s->rows && i < b->cap; i++) {
		const struct base_entry *e = &b->t[i];
		struct base_row *row = &s->rows[s->n];

		if (!e->used || s->n == b->max)
			continue;
		row->key = e->key;
		memcpy(row->ewma, e->ewma, sizeof(row->ewma));
		memcpy(row->learned, e->learned, sizeof(row->learned));
		s->n++;
	}
	s->written = clock_real_ns();
	if (wait) {
		base_write(s);
		return;
	}
	s->done = false;
	/* Signals are the capture thread's: it waits for them. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&s->thread, NULL, base_write, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!err) {
		s->running = true;
		return;
	}
	pr_warn("--respond-state %s: cannot start a thread to write it (%s): written by the main loop",
		s->path, strerror(err));
	base_write(s);
}

/* What a file's header and policy lines said, for its rows. */
struct base_load {
	bool header;
	uint64_t age_ns;		/* since it was written */
	int n_cols;
	int slot[BASE_POLICIES];	/* column -> slot; -1: not taken */
	int n_taken;			/* columns with a slot */
	uint32_t restored, left_out;
};

/* "hdrlog-baseline VERSION written TIME": 0, or -1 with why in err. */
static int baseline_header(struct base_load *l, char *s, char *err,
			   size_t size)
{
	char magic[32], when[32], extra[2];
	unsigned int version;
	uint64_t written, now = clock_real_ns();
	int n = sscanf(s, "%31s %u written %31s %1s", magic, &version, when,
		       extra);

	if (n < 1 || strcmp(magic, "hdrlog-baseline")) {
		snprintf(err, size, "not an hdrlog baseline file (no 'hdrlog-baseline %d' line first)",
			 BASE_FILE_VERSION);
		return -1;
	}
	if (n >= 2 && version != BASE_FILE_VERSION) {
		snprintf(err, size, "version %u; this hdrlog reads version %d",
			 version, BASE_FILE_VERSION);
		return -1;
	}
	if (n != 3) {
		snprintf(err, size, "not 'hdrlog-baseline %d written TIME'",
			 BASE_FILE_VERSION);
		return -1;
	}
	if (parse_unix_time(when, &written, err, size))
		return -1;
	l->age_ns = now > written ? now - written : 0;
	l->header = true;
	return 0;
}

/* "policy NAME METRIC": the next column's policy. 0, or -1 (err). */
static int baseline_policy(struct respond *r, struct base_load *l,
			   const char *path, char *s, char *err, size_t size)
{
	const struct baseline *b = r->base;
	char word[8], name[64], metric[16], extra[2];
	int slot = -1;

	if (sscanf(s, "%7s %63s %15s %1s", word, name, metric, extra) != 3 ||
	    strcmp(word, "policy") ||
	    (strcmp(metric, "packets") && strcmp(metric, "bytes"))) {
		snprintf(err, size, "not 'policy NAME packets|bytes'");
		return -1;
	}
	if (l->n_cols == BASE_POLICIES) {
		snprintf(err, size, "more than %d policies", BASE_POLICIES);
		return -1;
	}
	for (int i = 0; i < b->n_pol; i++) {
		const struct respond_policy *pol = &r->c->policies[b->pol[i]];

		if (strcmp(pol->name, name))
			continue;
		if (strcmp(metric, metric_name(pol->metric)))
			pr_info("--respond-state %s: policy %s: learned %s, and now counts %s: it learns again",
				path, name, metric, metric_name(pol->metric));
		else if (l->age_ns >= pol->history_ns)
			pr_info("--respond-state %s: policy %s: saved %llus ago, more than its history: it learns again",
				path, name,
				(unsigned long long)(l->age_ns / NS));
		else
			slot = i;
	}
	l->n_taken += slot >= 0;
	l->slot[l->n_cols++] = slot;
	return 0;
}

/* "ADDRESS/PREFIX AVERAGE LEARNED ...": into the table. 0, or -1 (err). */
static int baseline_row(struct respond *r, struct base_load *l, char *s,
			char *err, size_t size)
{
	struct baseline *b = r->base;
	struct base_entry got = { .used = 1 }, *e;
	char *save, *t = strtok_r(s, " \t\n", &save);

	if (!t || key_parse(r, t, &got.key, err, size))
		return -1;
	for (int j = 0; j < l->n_cols; j++) {
		char *avg = strtok_r(NULL, " \t\n", &save);
		char *ms = strtok_r(NULL, " \t\n", &save);
		uint64_t learned;
		double v;
		char *end;

		if (!ms) {
			snprintf(err, size, "not an average and a time learned for each of the %d policies",
				 l->n_cols);
			return -1;
		}
		errno = 0;
		v = strtod(avg, &end);
		/* an underflow (older hdrlogs wrote denormals) reads as 0 */
		if (errno == ERANGE && fabs(v) < 1e-300)
			errno = 0, v = 0;
		if (*end || errno || !(v >= 0 && v <= BASE_RATE_MAX)) {
			snprintf(err, size, "'%.32s' is not an average from 0 to 2^40 per second", avg);
			return -1;
		}
		if (parse_uint(ms, 0, BASE_LEARNED_MAX, &learned)) {
			snprintf(err, size, "'%.32s' is not a time learned (ms)", ms);
			return -1;
		}
		if (l->slot[j] < 0)
			continue;
		got.ewma[l->slot[j]] = v * r->c->window_ns / NS;
		got.learned[l->slot[j]] = learned * 1000000 / r->c->window_ns;
	}
	if (strtok_r(NULL, " \t\n", &save)) {
		snprintf(err, size, "more than an average and a time learned for each of the %d policies",
			 l->n_cols);
		return -1;
	}
	if (!l->n_taken)
		return 0;	/* checked, but no policy takes it */
	e = base_slot(b->t, b->cap, &got.key);
	if (e->used) {
		snprintf(err, size, "%.64s again", t);
		return -1;
	}
	if (b->n >= b->max) {
		l->left_out++;
		return 0;
	}
	*e = got;
	b->n++;
	l->restored++;
	return 0;
}

/*
 * At start: FILE.baseline into the learned table. A file that is not one
 * (another program's, another version, a bad line) is warned about with
 * FILE:LINE and left out: the averages start again empty. 0, 1 if
 * warned about, -1 (--check) not a regular file.
 */
static int baseline_load(struct respond *r)
{
	struct baseline *b = r->base;
	char path[LIST_PATH_MAX + 16], line[512], err[256], *s;
	struct base_load l = { 0 };
	unsigned int lineno = 0;
	FILE *f;
	int got;

	if (!b)
		return 0;
	baseline_path(r, path, sizeof(path));
	got = state_open(r, path, &f, "the baselines start again empty");
	if (!f)
		return got;
	while ((got = state_next(f, line, sizeof(line), &lineno, &s, err,
				 sizeof(err))) > 0) {
		if (!l.header)
			got = baseline_header(&l, s, err, sizeof(err));
		else if (!strncmp(s, "policy", 6) && !l.restored && !l.left_out)
			got = baseline_policy(r, &l, path, s, err, sizeof(err));
		else
			got = baseline_row(r, &l, s, err, sizeof(err));
		if (got < 0)
			break;
	}
	fclose(f);
	if (!got && !l.header) {
		snprintf(err, sizeof(err), "empty: not an hdrlog baseline file");
		got = -1;
	}
	if (got < 0) {
		pr_warn("%s:%u: %s; the saved baselines are ignored (they start again empty, and the file is rewritten)",
			path, lineno, err);
		memset(b->t, 0, b->cap * sizeof(*b->t));
		b->n = 0;
		return 1;
	}
	if (l.left_out)
		pr_warn("--respond-state %s: %u sources left out: the learned table holds %u (sources in %s)",
			path, l.left_out, b->max, r->c->path);
	pr_info("--respond-state %s: %u learned source%s %s, saved %llus ago",
		path, l.restored, l.restored == 1 ? "" : "s",
		r->check ? "would be restored" : "restored",
		(unsigned long long)(l.age_ns / NS));
	return l.left_out > 0;
}

void respond_state_save(struct respond *r, uint64_t now, bool force,
			const struct decode_ctx *ctx)
{
	if (!r || !r->state)
		return;
	/* a save still being written puts the next one off */
	if (r->base && (force || now - r->base_saved >= BASE_SAVE_NS) &&
	    base_save_join(&r->base->save, force)) {
		r->base_saved = now;
		base_save_start(r, force);
	}
	/*
	 * At most once a second: a flood of blocks is not a flood of
	 * writes, and a write that failed (a full disk, a directory gone)
	 * is tried again a second later, not at every poll.
	 */
	if (!force && (!r->state_dirty || now - r->state_saved < NS))
		return;
	r->state_saved = now;
	r->state_dirty = state_write(r, ctx) < 0;
}

struct saved_block {
	struct hdrlog_src_key key;
	int policy;
	uint64_t expires_real;
	unsigned int line;
};

/* One line: 0, or -1 with why in err. */
static int state_line(struct respond *r, char *s, struct saved_block *sb,
		      char *err, size_t size)
{
	char addr[128], policy[64], when[32], det[32], extra[2];

	if (sscanf(s, "%127s %63s %31s %31s %1s", addr, policy, when, det,
		   extra) != 4) {
		snprintf(err, size, "not 'ADDRESS/PREFIX POLICY EXPIRES DETECTOR'");
		return -1;
	}
	if (key_parse(r, addr, &sb->key, err, size))
		return -1;
	sb->policy = -1;
	for (int i = 0; i < r->c->n_policies; i++)
		if (!strcmp(r->c->policies[i].name, policy))
			sb->policy = i;
	if (sb->policy < 0) {
		snprintf(err, size, "no policy '%s' in %.100s", policy, r->c->path);
		return -1;
	}
	return parse_unix_time(when, &sb->expires_real, err, size);
}

/*
 * FILE's blocks into *sbp (*n of them, to be freed; NULL if there is no
 * FILE): 0, 1 warned about (FILE:LINE) and none to restore, -1 (--check)
 * not a regular file.
 */
static int state_read(struct respond *r, const char *path,
		      struct saved_block **sbp, int *np)
{
	struct saved_block *sb;
	char line[512], err[256], *s;
	unsigned int lineno = 0;
	int n = 0, got;
	FILE *f;

	*sbp = NULL;
	*np = 0;
	got = state_open(r, path, &f, "starting without the saved blocks");
	if (!f)
		return got;
	sb = calloc(r->c->max_blocks, sizeof(*sb));
	if (!sb) {
		fclose(f);
		pr_warn("--respond-state %s: out of memory; starting without the saved blocks",
			path);
		return 1;
	}
	while ((got = state_next(f, line, sizeof(line), &lineno, &s, err,
				 sizeof(err))) > 0) {
		if (n == (int)r->c->max_blocks) {
			snprintf(err, sizeof(err), "more blocks than max-blocks (%u)",
				 r->c->max_blocks);
			got = -1;
			break;
		}
		if (state_line(r, s, &sb[n], err, sizeof(err))) {
			got = -1;
			break;
		}
		sb[n++].line = lineno;
	}
	fclose(f);
	if (got < 0) {
		pr_warn("%s:%u: %s; the saved blocks are ignored (hdrlog starts without them, and rewrites the file)",
			path, lineno, err);
		free(sb);
		return 1;
	}
	*sbp = sb;
	*np = n;
	return 0;
}

int respond_state_load(struct respond *r, const char *path,
		       const struct decode_ctx *ctx, respond_emit_fn emit,
		       void *emit_ctx)
{
	struct saved_block *sb;
	uint64_t real_now, mono_now;
	int n, restored = 0, expired = 0;

	r->state = path;
	r->state_dirty = true;	/* written at once: the file says what is */
	r->base_saved = clock_mono_ns();
	baseline_load(r);
	if (state_read(r, path, &sb, &n) || !sb)
		return 0;
	real_now = clock_real_ns();
	mono_now = clock_mono_ns();
	for (int i = 0; i < n; i++) {
		struct hdrlog_block b = { .policy = sb[i].policy };
		char a[64];

		key_text(r, &sb[i].key, a, sizeof(a));
		if (sb[i].expires_real <= real_now) {
			unblock_record(r, &sb[i].key, NULL, sb[i].policy,
				       RESULT_EXPIRED_STOPPED, emit, emit_ctx);
			expired++;
			continue;
		}
		/* the lists may have changed while hdrlog was stopped */
		if (key_lists(ctx->lists, &sb[i].key) & r->c->protect_mask) {
			pr_warn("%s:%u: %s is now on an allow or never-block list: not blocked again",
				path, sb[i].line, a);
			unblock_record(r, &sb[i].key, NULL, sb[i].policy,
				       RESULT_PROTECTED, emit, emit_ctx);
			continue;
		}
		b.expires_ns = mono_now + (sb[i].expires_real - real_now);
		if (block_insert(r, &sb[i].key, &b, BPF_ANY)) {
			pr_warn("%s:%u: %s: not blocked again: %s", path,
				sb[i].line, a, strerror(errno));
			continue;
		}
		restored++;
	}
	free(sb);
	pr_info("--respond-state %s: %d block%s restored, %d expired while stopped",
		path, restored, restored == 1 ? "" : "s", expired);
	return 0;
}

int respond_state_check(const struct respond_config *c, const char *path)
{
	struct respond_fds none = { .sources = -1, .blocks = -1, .hot = -1,
				    .counters = -1 };
	struct respond *r = respond_new(c, &none, false);
	struct saved_block *sb;
	int base, blocks, n, expired = 0;
	uint64_t real_now = clock_real_ns();

	if (!r) {
		pr_err("--respond-state %s: out of memory to read it", path);
		return -1;
	}
	r->check = true;
	r->state = path;
	base = baseline_load(r);
	blocks = state_read(r, path, &sb, &n);
	for (int i = 0; i < n; i++)
		expired += sb[i].expires_real <= real_now;
	if (sb)
		pr_info("--respond-state %s: %d saved block%s to restore, %d expired",
			path, n - expired, n - expired == 1 ? "" : "s",
			expired);
	free(sb);
	respond_free(r);
	return base < 0 || blocks < 0 ? -1 : base || blocks;
}
