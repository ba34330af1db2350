// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The Kafka output: "-o kafka://BROKER[,BROKER...]/TOPIC", one message
 * per record, its value the JSON output's record byte for byte (the
 * shared rendering of json.h), through librdkafka.
 *
 * Capture never waits for Kafka: records are handed to librdkafka's own
 * bounded queue without RD_KAFKA_MSG_F_BLOCK, and one that does not fit
 * is counted lost at once. A record counts as written when a broker
 * acknowledged it (the delivery report), and as lost when librdkafka gave
 * up on it (message.timeout.ms, 5 minutes by default, or a permanent
 * error) or when it was still unacknowledged at exit after a bounded
 * wait. Delivery reports, errors and librdkafka's log lines are all
 * served by rd_kafka_poll() from write and flush, on hdrlog's thread.
 *
 * Defaults hdrlog sets before the user's --kafka-property settings (which
 * may change them):
 *  - compression.codec=lz4: JSON lines of one host repeat most of their
 *    bytes (lz4(1) made 16 KB of socket-event records 5.5 times smaller),
 *    lz4 is among the cheapest codecs for the capturing host's CPU, and
 *    every broker since Kafka 0.10 reads it (zstd packs tighter for more
 *    CPU and needs brokers >= 2.1).
 *  - enable.idempotence=true: the brokers drop a retried batch they
 *    already have, so a broker outage costs no duplicates and keeps each
 *    partition's order (it implies acks=all).
 * bootstrap.servers comes from the -o argument and
 * queue.buffering.max.messages from --kafka-queue: one place for each.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "clock.h"
#include "event.h"
#include "fields.h"
#include "json.h"
#include "log.h"
#include "sink.h"

#define KAFKA_QUEUE_DEFAULT	100000	/* records librdkafka may hold */
#define KAFKA_CLOSE_WAIT_MS	5000	/* at exit, for acknowledgements */
#define KAFKA_CLOSE_SLICE_MS	50	/* sink_stop_now is looked at */
#define KAFKA_TOPIC_MAX		249	/* Kafka's own limit */
#define KAFKA_KEY_NONE		(-1)

struct kafka_sink {
	struct sink *s;
	rd_kafka_t *rk;
	rd_kafka_topic_t *rkt;
	int key;		/* enum field_id, or KAFKA_KEY_NONE */
	bool failing;		/* said that delivery fails */
	bool gave_up;		/* said that records were given up, since */
	bool queue_full;	/* said that the queue overflows */
	bool fatal;		/* said that the producer cannot go on */
	bool closed;		/* the counts are final */
	uint64_t failed_at_down;
	uint64_t last_err_ns;	/* the last error that says "failing" */
	uint64_t full_at;	/* s->failed when the queue filled up */
	uint64_t purged;	/* given up at close, unacknowledged */
};

/*
 * "delivering again" only after this long with no error: librdkafka
 * retries a broker that is down every reconnect.backoff.max.ms (10 s),
 * reporting each failure, while the other brokers deliver; a shorter wait
 * would print a pair of lines for every retry.
 */
#define KAFKA_HEALED_NS	(15 * 1000000000ull)

/* The spec split: "//BROKERS/TOPIC". */
struct kafka_spec {
	char brokers[1024];
	char topic[KAFKA_TOPIC_MAX + 1];
};

static int bad_spec(const char *target, const char *why)
{
	char esc[LOG_ESCAPE_SIZE(256)];

	pr_err("bad kafka output 'kafka:%s': %s (use kafka://BROKER[:PORT][,BROKER[:PORT]...]/TOPIC)",
	       log_escape(esc, sizeof(esc), target, strlen(target)), why);
	return -EINVAL;
}

static int parse_spec(const char *target, struct kafka_spec *k)
{
	const char *b, *slash, *t;
	size_t n;

	if (strncmp(target, "//", 2))
		return bad_spec(target, "no '//' before the brokers");
	b = target + 2;
	slash = strchr(b, '/');
	if (!slash)
		return bad_spec(target, "no '/TOPIC' after the brokers");
	n = slash - b;
	if (!n)
		return bad_spec(target, "no broker");
	if (n >= sizeof(k->brokers))
		return bad_spec(target, "the broker list is too long");
	for (size_t i = 0; i < n; i++)
		if (b[i] <= ' ' || b[i] > '~')
			return bad_spec(target, "a space or control character in the broker list");
	memcpy(k->brokers, b, n);
	k->brokers[n] = '\0';
	t = slash + 1;
	n = strlen(t);
	if (!n)
		return bad_spec(target, "no topic");
	if (n > KAFKA_TOPIC_MAX)
		return bad_spec(target, "a topic name has at most 249 characters");
	/* What brokers take in a topic name (Kafka's Topic.validate()). */
	if (strspn(t, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		      "0123456789._-") != n || !strcmp(t, ".") || !strcmp(t, ".."))
		return bad_spec(target, "a topic name is letters, digits, '.', '_' and '-'");
	memcpy(k->topic, t, n + 1);
	return 0;
}

/*
 * --kafka-key: a field with one value (string, number, bool), or "none".
 * Keying does not depend on --fields: the key is the user's choice apart
 * from what the message carries.
 */
static int parse_key(const char *name)
{
	char esc[LOG_ESCAPE_SIZE(64)];

	if (!name)
		return F_COMMUNITY_ID;
	if (!strcmp(name, "none"))
		return KAFKA_KEY_NONE;
	for (int i = 0; i < F_COUNT; i++) {
		if (strcmp(field_table[i].name, name))
			continue;
		if (field_table[i].kind == FK_NUMBER_ARRAY ||
		    field_table[i].kind == FK_FOREIGN_STRING_ARRAY)
			break;
		return i;
	}
	pr_err("--kafka-key '%s': not a field with one value (see 'hdrlog --fields help'; lists and vlan have several) nor 'none'",
	       log_escape(esc, sizeof(esc), name, strlen(name)));
	return -2;
}

static int conf_set(rd_kafka_conf_t *conf, const char *key, const char *value,
		    const char *from)
{
	char errstr[512], esc[LOG_ESCAPE_SIZE(sizeof(errstr))];
	char kesc[LOG_ESCAPE_SIZE(64)];

	if (rd_kafka_conf_set(conf, key, value, errstr, sizeof(errstr)) ==
	    RD_KAFKA_CONF_OK)
		return 0;
	/* librdkafka's reason quotes what the user gave */
	pr_err("kafka: %s '%s': %s", from,
	       log_escape(kesc, sizeof(kesc), key, strlen(key)),
	       log_escape(esc, sizeof(esc), errstr, strlen(errstr)));
	return -EINVAL;
}

/* What hdrlog sets from its own options, not to be given as properties. */
static const char *const owned_props[][2] = {
	{ "bootstrap.servers", "the -o kafka://BROKERS/TOPIC argument" },
	{ "metadata.broker.list", "the -o kafka://BROKERS/TOPIC argument" },
	{ "queue.buffering.max.messages", "--kafka-queue" },
	{ "dr_msg_cb", NULL }, { "dr_cb", NULL }, { "log_cb", NULL },
	{ "error_cb", NULL }, { "opaque", NULL }, { "log.queue", NULL },
};

/*
 * Files librdkafka reads only when the handle is made (rd_kafka_new(),
 * which also connects): looked at here so that --check sees them too,
 * with a clearer reason than OpenSSL's.
 */
static int check_location(const char *key, const char *value)
{
	char esc[LOG_ESCAPE_SIZE(256)];
	size_t n = strlen(key);

	if (n < 9 || strcmp(key + n - 9, ".location") || !strcmp(value, "probe"))
		return 0;
	if (!faccessat(AT_FDCWD, value, R_OK, AT_EACCESS))
		return 0;
	/* key is one librdkafka knows: conf_set() took it */
	pr_err("--kafka-property '%s': cannot read %s: %s", key,
	       log_escape(esc, sizeof(esc), value, strlen(value)),
	       strerror(errno));
	return -EINVAL;
}

/*
 * The configuration open() and --check build alike: defaults, then the
 * user's properties, then what hdrlog's own options say. NULL with a
 * message naming what is wrong.
 */
static rd_kafka_conf_t *build_conf(const struct sink_config *cfg,
				   const struct kafka_spec *k)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char queue[16], key[256];
	int err = 0;

	err |= conf_set(conf, "compression.codec", "lz4", "default");
	err |= conf_set(conf, "enable.idempotence", "true", "default");
	for (int i = 0; i < cfg->n_kafka_props && !err; i++) {
		const char *p = cfg->kafka_props[i], *eq = strchr(p, '=');
		size_t n = eq - p;

		snprintf(key, sizeof(key), "%.*s", (int)n, p);
		for (size_t j = 0; j < sizeof(owned_props) / sizeof(owned_props[0]); j++) {
			if (strcmp(key, owned_props[j][0]))
				continue;
			pr_err("--kafka-property '%s': %s%s", key,
			       owned_props[j][1] ? "set by " :
			       "hdrlog's own, not to be set",
			       owned_props[j][1] ? owned_props[j][1] : "");
			err = -EINVAL;
		}
		if (!err)
			err = conf_set(conf, key, eq + 1, "--kafka-property");
		if (!err)
			err = check_location(key, eq + 1);
	}
	snprintf(queue, sizeof(queue), "%u",
		 cfg->kafka_queue ? cfg->kafka_queue : KAFKA_QUEUE_DEFAULT);
	if (!err)
		err = conf_set(conf, "queue.buffering.max.messages", queue,
			       "--kafka-queue");
	if (!err)
		err = conf_set(conf, "bootstrap.servers", k->brokers, "brokers");
	if (err) {
		rd_kafka_conf_destroy(conf);
		return NULL;
	}
	return conf;
}

/* --- what librdkafka reports, served by rd_kafka_poll() ----------------- */

static uint32_t queue_bound(const struct sink *s)
{
	return s->cfg->kafka_queue ? s->cfg->kafka_queue : KAFKA_QUEUE_DEFAULT;
}

/* Delivery fails: say so once, until it works again. */
static void failing(struct kafka_sink *x, const char *what)
{
	struct sink *s = x->s;

	x->last_err_ns = clock_mono_ns();
	if (x->failing)
		return;
	x->failing = true;
	x->failed_at_down = s->failed;
	pr_warn("kafka:%s: %s; queueing records (up to %u), retrying, counting what librdkafka gives up as lost",
		s->target, what, queue_bound(s));
}

static void delivered(rd_kafka_t *rk, const rd_kafka_message_t *m,
		      void *opaque)
{
	struct kafka_sink *x = opaque;
	struct sink *s = x->s;
	char what[256] = "";

	(void)rk;
	if (x->closed)
		return;
	if (!m->err) {
		s->written++;
		if (x->failing &&
		    clock_mono_ns() - x->last_err_ns >= KAFKA_HEALED_NS) {
			pr_info("kafka:%s: delivering again; %llu records lost meanwhile",
				s->target, (unsigned long long)(s->failed -
								x->failed_at_down));
			x->failing = x->gave_up = false;
		}
		return;
	}
	if (m->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE ||
	    m->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT) {
		s->failed++;
		x->purged++;	/* at close: kafka_close() says it */
		return;
	}
	/* Lost, not only late: said also when "failing" was said before. */
	if (!x->gave_up) {
		snprintf(what, sizeof(what), "librdkafka gave records up (%s)",
			 rd_kafka_err2str(m->err));
		if (x->failing)
			pr_warn("kafka:%s: %s; counting them lost", s->target,
				what);
		x->gave_up = true;
	}
	failing(x, what);
	s->failed++;
}

static void kafka_error(rd_kafka_t *rk, int err, const char *reason,
			void *opaque)
{
	struct kafka_sink *x = opaque;
	char fatal[512];

	if (x->closed)
		return;
	if (err == RD_KAFKA_RESP_ERR__FATAL) {
		rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
		if (!x->fatal)
			pr_err("kafka:%s: %s; records are lost from now on",
			       x->s->target, fatal);
		x->fatal = true;
		return;
	}
	/* What keeps records from brokers; each retry reports it again. */
	if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN ||
	    err == RD_KAFKA_RESP_ERR__TRANSPORT ||
	    err == RD_KAFKA_RESP_ERR__RESOLVE ||
	    err == RD_KAFKA_RESP_ERR__AUTHENTICATION ||
	    err == RD_KAFKA_RESP_ERR__SSL) {
		failing(x, reason);
		return;
	}
	pr_debug("kafka:%s: %s", x->s->target, reason);
}

/*
 * librdkafka's own lines: its errors are also reported through
 * kafka_error() (once per outage), so here they are detail for -v, but
 * for what it calls critical.
 */
static void kafka_log(const rd_kafka_t *rk, int level, const char *fac,
		      const char *buf)
{
	(void)rk;
	if (level <= LOG_CRIT)
		pr_err("librdkafka: %s: %s", fac, buf);
	else
		pr_debug("librdkafka: %s: %s", fac, buf);
}

/* --- the sink -------------------------------------------------------- */

static int kafka_write(struct sink *s, const struct event *e)
{
	struct kafka_sink *x = s->priv;
	char key[FIELD_TEXT_MAX];
	const char *body;
	size_t len;
	int klen = -1;

	body = json_render(e, s->cfg->fields, &len);
	if (!len) {
		s->failed++;	/* cannot happen with bounded names */
		return -E2BIG;
	}
	if (x->key != KAFKA_KEY_NONE && (e->present & FIELD_BIT(x->key)))
		klen = field_text(e, x->key, 0, key);
	if (rd_kafka_produce(x->rkt, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY,
			     (void *)body, len, klen >= 0 ? key : NULL,
			     klen >= 0 ? klen : 0, NULL)) {
		rd_kafka_resp_err_t err = rd_kafka_last_error();

		s->failed++;
		if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
			if (!x->queue_full) {
				pr_warn("kafka:%s: queue full (%u records); counting lost records until the brokers catch up",
					s->target, queue_bound(s));
				x->full_at = s->failed - 1;
			}
			x->queue_full = true;
		} else if (!x->fatal) {
			char what[256];

			snprintf(what, sizeof(what), "cannot queue a record (%s)",
				 rd_kafka_err2str(err));
			failing(x, what);
		}
	} else if (x->queue_full &&
		   rd_kafka_outq_len(x->rk) < (int)(queue_bound(s) / 2)) {
		pr_info("kafka:%s: the queue has room again; %llu records lost while it was full",
			s->target, (unsigned long long)(s->failed - x->full_at));
		x->queue_full = false;
	}
	rd_kafka_poll(x->rk, 0);
	return 0;
}

static int kafka_flush(struct sink *s)
{
	struct kafka_sink *x = s->priv;

	rd_kafka_poll(x->rk, 0);
	return 0;
}

/* SIGHUP: nothing to reopen; librdkafka reconnects on its own. */
static int kafka_reopen(struct sink *s)
{
	return kafka_flush(s);
}

static void kafka_destroy(struct kafka_sink *x)
{
	if (x->rkt)
		rd_kafka_topic_destroy(x->rkt);
	if (x->rk)
		rd_kafka_destroy(x->rk);
	free(x);
}

/*
 * Wait a bounded time for what is in flight, or until a second stop
 * signal (sink_stop_now: a signal does not end rd_kafka_flush(), so it
 * waits in slices); what is still not acknowledged then is lost, so that
 * records = written + failed.
 */
static void kafka_close(struct sink *s)
{
	struct kafka_sink *x = s->priv;
	uint64_t unsettled, end = clock_mono_ns() +
				  KAFKA_CLOSE_WAIT_MS * 1000000ull;
	rd_kafka_resp_err_t err;
	bool cut;
	char why[64];

	for (;;) {
		err = rd_kafka_flush(x->rk, KAFKA_CLOSE_SLICE_MS);
		cut = sink_stop_now;
		if (err != RD_KAFKA_RESP_ERR__TIMED_OUT || cut ||
		    clock_mono_ns() >= end)
			break;
	}
	if (err == RD_KAFKA_RESP_ERR__TIMED_OUT) {
		/* their delivery reports say ERR__PURGE_*: lost */
		rd_kafka_purge(x->rk, RD_KAFKA_PURGE_F_QUEUE |
				      RD_KAFKA_PURGE_F_INFLIGHT);
		rd_kafka_poll(x->rk, 0);
	}
	/* none, unless a report went astray */
	unsettled = s->records - s->written - s->failed - s->skipped;
	s->failed += unsettled;
	if (cut)
		snprintf(why, sizeof(why), SINK_STOP_NOW_WHY);
	else
		snprintf(why, sizeof(why), "within %d s of stopping",
			 KAFKA_CLOSE_WAIT_MS / 1000);
	if (unsettled + x->purged)
		pr_warn("kafka:%s: %llu records not acknowledged %s; counted lost",
			s->target, (unsigned long long)(unsettled + x->purged),
			why);
	x->closed = true;	/* a later report would count twice */
	kafka_destroy(x);
	json_render_put();
}

static int kafka_open(struct sink *s)
{
	struct kafka_sink *x;
	struct kafka_spec k;
	rd_kafka_conf_t *conf;
	char errstr[512];
	int key;

	if (parse_spec(s->target, &k))
		return -EINVAL;
	key = parse_key(s->cfg->kafka_key);
	if (key < KAFKA_KEY_NONE)
		return -EINVAL;
	conf = build_conf(s->cfg, &k);
	if (!conf)
		return -EINVAL;
	x = calloc(1, sizeof(*x));
	if (!x || json_render_get(s->cfg)) {
		if (!x)
			pr_err("out of memory");
		rd_kafka_conf_destroy(conf);
		free(x);
		return -ENOMEM;
	}
	x->s = s;
	x->key = key;
	rd_kafka_conf_set_opaque(conf, x);
	rd_kafka_conf_set_dr_msg_cb(conf, delivered);
	rd_kafka_conf_set_error_cb(conf, kafka_error);
	rd_kafka_conf_set_log_cb(conf, kafka_log);
	/* Log lines through the main queue: printed from rd_kafka_poll(). */
	rd_kafka_conf_set(conf, "log.queue", "true", errstr, sizeof(errstr));
	x->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (!x->rk) {
		char esc[LOG_ESCAPE_SIZE(sizeof(errstr))];

		/* e.g. a certificate OpenSSL refuses: a bad option */
		pr_err("kafka:%s: %s", s->target,
		       log_escape(esc, sizeof(esc), errstr, strlen(errstr)));
		rd_kafka_conf_destroy(conf);
		json_render_put();
		free(x);
		return -EINVAL;
	}
	rd_kafka_set_log_queue(x->rk, NULL);
	x->rkt = rd_kafka_topic_new(x->rk, k.topic, NULL);
	if (!x->rkt) {
		pr_err("kafka:%s: %s", s->target,
		       rd_kafka_err2str(rd_kafka_last_error()));
		kafka_destroy(x);
		json_render_put();
		return -EINVAL;
	}
	s->priv = x;
	return 0;
}

/* --check: the spec, the key and every property, connecting nothing. */
static int kafka_check(const struct sink *s)
{
	struct kafka_spec k;
	rd_kafka_conf_t *conf;

	if (parse_spec(s->target, &k) ||
	    parse_key(s->cfg->kafka_key) < KAFKA_KEY_NONE)
		return -EINVAL;
	conf = build_conf(s->cfg, &k);
	if (!conf)
		return -EINVAL;
	rd_kafka_conf_destroy(conf);
	return 0;
}

const struct sink_ops kafka_sink_ops = {
	.name = "kafka",
	.check = kafka_check,
	.open = kafka_open,
	.write = kafka_write,
	.flush = kafka_flush,
	.reopen = kafka_reopen,
	.close = kafka_close,
};
