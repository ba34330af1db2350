// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * One table describes every option: getopt_long's arrays and --help are
 * both made from it.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <net/if.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "fields.h"
#include "log.h"
#include "metrics.h"
#include "options.h"
#include "record.h"
#include "respond.h"
#include "control.h"

#define DEFAULT_RINGBUF_SIZE	(8u << 20)
#define RINGBUF_MIN		4096
#define RINGBUF_MAX		(1ull << 30)
#define SNAPLEN_MIN		14	/* an Ethernet header */
#define SNAPLEN_ARG_MAX		262144	/* tcpdump's; more than a record holds */
#define ROTATE_MB_MAX		(1u << 20)
#define ROTATE_FILES_MAX	1000000

enum opt_type {
	OPT_FLAG,	/* no argument: the member becomes true */
	OPT_NUM,	/* a decimal number from min to max, times scale */
	OPT_WORD,	/* one word of a table, stored as its value */
	OPT_FUNC,	/* its own handler */
};

struct opt_word {
	const char *word;
	int value;
};

struct opt_def {
	const char *name;	/* long name; NULL: short only */
	int short_name;		/* 0: long only */
	const char *arg;	/* argument name, NULL: takes none */
	const char *help;
	enum opt_type type;
	size_t offset, size;	/* the member of struct options it sets */
	uint64_t min, max;	/* OPT_NUM: the range, before scaling */
	uint64_t scale;		/* OPT_NUM: the unit in the member (0: 1) */
	const struct opt_word *words;	/* OPT_WORD: { NULL } ends it */
	int value;		/* OPT_FUNC: a constant for the handler */
	/* OPT_FUNC: <0 usage error (printed), 0 go on, >0 done, exit 0 */
	int (*handle)(struct options *o, const struct opt_def *d,
		      const char *arg);
};

#define MEMBER(m) .offset = offsetof(struct options, m), \
		  .size = sizeof(((struct options *)0)->m)
#define FLAG(long_, short_, m, help_) \
	{ long_, short_, NULL, help_, OPT_FLAG, MEMBER(m) }
#define NUM(long_, short_, arg_, m, min_, max_, scale_, help_) \
	{ long_, short_, arg_, help_, OPT_NUM, MEMBER(m), .min = min_, \
	  .max = max_, .scale = scale_ }
#define WORD(long_, short_, arg_, m, words_, help_) \
	{ long_, short_, arg_, help_, OPT_WORD, MEMBER(m), .words = words_ }
#define FUNC(long_, short_, arg_, fn, value_, help_) \
	{ long_, short_, arg_, help_, OPT_FUNC, .value = value_, .handle = fn }

static const struct opt_def opt_defs[];

static int usage_hint(void)
{
	fprintf(stderr, "Try 'hdrlog --help' for more information.\n");
	return -1;
}

/* The arguments quoted come from the user: printed escaped. */
/* "FILE:LINE: " (escaped) while a config file's line is applied, else "". */
static char where[LOG_ESCAPE_SIZE(PATH_MAX) + 32];

static int __attribute__((format(printf, 1, 2)))
usage_error(const char *fmt, ...)
{
	char msg[512], esc[LOG_ESCAPE_SIZE(sizeof(msg))];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	fprintf(stderr, "hdrlog: %s%s\n", where, log_escape(esc, sizeof(esc), msg,
		(size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1));
	/* A config file's lines name FILE:LINE: no hint after each of them. */
	return *where ? -1 : usage_hint();
}

/* "--name", or "-c" for an option with no long name. */
static const char *opt_name(const struct opt_def *d)
{
	static char buf[32];

	if (d->name)
		snprintf(buf, sizeof(buf), "%s%s", *where ? "" : "--", d->name);
	else
		snprintf(buf, sizeof(buf), "-%c", d->short_name);
	return buf;
}

/* Unsigned decimal with an optional K/M/G (binary) suffix. */
static int parse_size(const char *s, uint64_t max, int suffixes, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	if (suffixes && *end) {
		int shift = *end == 'K' || *end == 'k' ? 10 :
			    *end == 'M' || *end == 'm' ? 20 :
			    *end == 'G' || *end == 'g' ? 30 : -1;

		if (shift < 0 || v > (max >> shift))
			return -1;
		v <<= shift;
		end++;
	}
	if (*end || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Members are bool, 32-bit (numbers and enums) or 64-bit. */
static void store(struct options *o, const struct opt_def *d, uint64_t v)
{
	void *m = (char *)o + d->offset;

	if (d->size == sizeof(bool))
		*(bool *)m = v;
	else if (d->size == sizeof(uint32_t))
		*(uint32_t *)m = v;
	else
		*(uint64_t *)m = v;
}

static int set_num(struct options *o, const struct opt_def *d,
		   const char *arg)
{
	uint64_t v;

	if (parse_size(arg, d->max, 0, &v) || v < d->min)
		return usage_error("%s needs a number from %llu to %llu, not '%s'",
				   opt_name(d), (unsigned long long)d->min,
				   (unsigned long long)d->max, arg);
	store(o, d, v * (d->scale ? d->scale : 1));
	return 0;
}

static int set_word(struct options *o, const struct opt_def *d,
		    const char *arg)
{
	char choices[128];
	size_t n = 0;

	for (const struct opt_word *w = d->words; w->word; w++) {
		if (!strcmp(arg, w->word)) {
			store(o, d, w->value);
			return 0;
		}
		n += snprintf(choices + n, sizeof(choices) - n, "%s%s",
			      w == d->words ? "" : w[1].word ? ", " : " or ",
			      w->word);
	}
	return usage_error("%s is %s, not '%s'", opt_name(d), choices, arg);
}

static int opt_iface(struct options *o, const struct opt_def *d,
		     const char *arg)
{
	(void)d;
	if (o->n_ifaces == MAX_IFACES)
		return usage_error("too many interfaces (at most %d)", MAX_IFACES);
	if (!*arg || strlen(arg) >= IF_NAMESIZE)
		return usage_error("'%s' is not a valid interface name", arg);
	o->ifaces[o->n_ifaces++] = arg;
	return 0;
}

static int opt_output(struct options *o, const struct opt_def *d,
		      const char *arg)
{
	(void)d;
	if (o->n_outputs == MAX_OUTPUTS)
		return usage_error("too many outputs (at most %d)", MAX_OUTPUTS);
	o->outputs[o->n_outputs++] = arg;
	return 0;
}

/* -w FILE: pcapng for *.pcapng, pcap otherwise (and for '-', stdout). */
static int opt_write(struct options *o, const struct opt_def *d,
		     const char *arg)
{
	size_t n = strlen(arg);
	const char *fmt = n > 7 && !strcmp(arg + n - 7, ".pcapng") ? "pcapng"
								   : "pcap";
	char *spec;

	(void)d;
	if (o->n_outputs == MAX_OUTPUTS)
		return usage_error("too many outputs (at most %d)", MAX_OUTPUTS);
	if (asprintf(&spec, "%s:%s", fmt, arg) < 0)
		return usage_error("out of memory");
	o->w_specs[o->n_outputs] = spec;
	o->outputs[o->n_outputs++] = spec;
	return 0;
}

static int opt_snaplen(struct options *o, const struct opt_def *d,
		       const char *arg)
{
	uint64_t v;

	if (parse_size(arg, SNAPLEN_ARG_MAX, 0, &v) ||
	    (v && v < SNAPLEN_MIN))
		return usage_error("%s needs 0 (all) or %d to %d bytes, not '%s'",
				   opt_name(d), SNAPLEN_MIN, SNAPLEN_ARG_MAX,
				   arg);
	/* 0 is tcpdump's "all of it"; a record carries at most 65535. */
	o->snaplen = !v || v > HDRLOG_MAX_SNAPLEN ? HDRLOG_MAX_SNAPLEN : v;
	return 0;
}

static void print_fields(void)
{
	for (int i = 0; i < F_COUNT; i++)
		printf("  %-16s %s\n", field_table[i].name, field_table[i].doc);
}

static int opt_fields(struct options *o, const struct opt_def *d,
		      const char *arg)
{
	const char *bad;
	size_t bad_len;

	(void)d;
	if (!strcmp(arg, "help")) {
		print_fields();
		return 1;
	}
	if (fields_parse(arg, &o->fields, &bad, &bad_len)) {
		char esc[LOG_ESCAPE_SIZE(64)];

		fprintf(stderr, "hdrlog: unknown field '%s' in --fields "
			"(see 'hdrlog --fields help')\n",
			log_escape(esc, sizeof(esc), bad, bad_len));
		return -1;
	}
	return 0;
}

static int opt_ringbuf_size(struct options *o, const struct opt_def *d,
			    const char *arg)
{
	uint64_t v, p = RINGBUF_MIN;

	if (parse_size(arg, RINGBUF_MAX, 1, &v) || v < RINGBUF_MIN)
		return usage_error("%s needs 4K to 1G bytes, not '%s'",
				   opt_name(d), arg);
	while (p < v)
		p <<= 1;	/* the kernel wants a power of two */
	o->ringbuf_size = p;
	return 0;
}

/* --log packets,flows,listed: any non-empty set; "all" is packets. */
static int opt_log(struct options *o, const struct opt_def *d, const char *arg)
{
	const char *p = arg;

	o->log_packets = o->log_listed = o->log_flows = false;
	for (;;) {
		size_t n = strcspn(p, ",");

		if ((n == 7 && !strncmp(p, "packets", n)) ||
		    (n == 3 && !strncmp(p, "all", n)))
			o->log_packets = true;
		else if (n == 5 && !strncmp(p, "flows", n))
			o->log_flows = true;
		else if (n == 6 && !strncmp(p, "listed", n))
			o->log_listed = true;
		else
			return usage_error("%s takes packets, flows, listed or a comma-separated set of them, not '%s'",
					   opt_name(d), arg);
		if (!p[n])
			return 0;
		p += n + 1;
	}
}

static int opt_metrics(struct options *o, const struct opt_def *d,
		       const char *arg)
{
	if (!metrics_target_valid(arg))
		return usage_error("%s needs a file (a path with a '/' or a name ending in .prom) or ADDR:PORT (127.0.0.1:9469, [::1]:9469), not '%s'",
				   opt_name(d), arg);
	o->metrics = arg;
	return 0;
}

static int opt_respond(struct options *o, const struct opt_def *d,
		       const char *arg)
{
	(void)d;
	o->respond = arg;	/* read once the lists are known */
	return 0;
}

/* --respond-state, --control, --unblock: paths and an address, kept. */
enum { RESPOND_STATE, RESPOND_CONTROL, RESPOND_UNBLOCK };

static int opt_respond_text(struct options *o, const struct opt_def *d,
			    const char *arg)
{
	if (!*arg)
		return usage_error("%s needs a value", opt_name(d));
	if (d->value == RESPOND_STATE)
		o->respond_state = arg;
	else if (d->value == RESPOND_CONTROL)
		o->control = arg;
	else
		o->unblock = arg;
	return 0;
}

static int opt_list(struct options *o, const struct opt_def *d,
		    const char *arg)
{
	if (o->n_lists == MAX_LISTS)
		return usage_error("too many lists (at most %d)", MAX_LISTS);
	if (list_spec_parse(&o->lists[o->n_lists], d->value, arg))
		return -1;
	o->n_lists++;
	return 0;
}

static int opt_events(struct options *o, const struct opt_def *d,
		      const char *arg)
{
	const char *p = arg;

	o->packets = o->sockets = false;
	while (*p) {
		size_t n = strcspn(p, ",");

		if (n == 7 && !strncmp(p, "packets", n))
			o->packets = true;
		else if (n == 7 && !strncmp(p, "sockets", n))
			o->sockets = true;
		else
			break;
		p += n + !!p[n];
	}
	if (*p || (!o->packets && !o->sockets))
		return usage_error("%s takes packets and/or sockets, not '%s'",
				   opt_name(d), arg);
	return 0;
}

static int opt_filter(struct options *o, const struct opt_def *d,
		      const char *arg)
{
	if (strlen(arg) >= sizeof(o->filter))
		return usage_error("the filter expression of %s is too long",
				   opt_name(d));
	strcpy(o->filter, arg);
	return 0;
}

/* --kafka-property KEY=VALUE: librdkafka checks both at open/--check. */
static int opt_kafka_property(struct options *o, const struct opt_def *d,
			      const char *arg)
{
	struct sink_config *c = &o->sink;

	if (c->n_kafka_props == SINK_KAFKA_PROPS_MAX)
		return usage_error("%s given too often (at most %d)",
				   opt_name(d), SINK_KAFKA_PROPS_MAX);
	if (arg[0] == '=' || !strchr(arg, '='))
		return usage_error("%s takes KEY=VALUE (a librdkafka property), not '%s'",
				   opt_name(d), arg);
	c->kafka_props[c->n_kafka_props++] = arg;
	return 0;
}

static int opt_kafka_key(struct options *o, const struct opt_def *d,
			 const char *arg)
{
	(void)d;
	o->sink.kafka_key = arg;	/* kafka.c says if it is a field */
	return 0;
}

/* syslog:tls://: files and a name, read by formats/transport.c. */
enum tls_opt { TLS_CA, TLS_CERT, TLS_KEY, TLS_SERVER_NAME };

static int opt_tls(struct options *o, const struct opt_def *d,
		   const char *arg)
{
	const char **m[] = {
		[TLS_CA] = &o->sink.tls_ca, [TLS_CERT] = &o->sink.tls_cert,
		[TLS_KEY] = &o->sink.tls_key,
		[TLS_SERVER_NAME] = &o->sink.tls_server_name,
	};

	if (!*arg)
		return usage_error("%s needs a %s", opt_name(d),
				   d->value == TLS_SERVER_NAME ? "name" : "file");
	*m[d->value] = arg;
	return 0;
}

static int opt_log_level(struct options *o, const struct opt_def *d,
			 const char *arg)
{
	(void)o, (void)arg;
	log_level = d->value;
	return 0;
}

static int opt_config(struct options *o, const struct opt_def *d,
		      const char *arg)
{
	(void)d;
	o->config = arg;
	return 0;
}

static int opt_version(struct options *o, const struct opt_def *d,
		       const char *arg)
{
	(void)o, (void)d, (void)arg;
	printf("hdrlog %s\n", PACKAGE_VERSION);
	return 1;
}

static void print_help(void)
{
	printf("Usage: hdrlog [OPTION]... [EXPRESSION]\n"
	       "Log network header fields of every frame (XDP or tc, in and out), flows, and socket events.\n\n");
	for (const struct opt_def *d = opt_defs; d->help; d++) {
		char left[64];
		int n = 0;

		if (d->short_name)
			n = snprintf(left, sizeof(left), "-%c%s", d->short_name,
				     d->name ? ", " : "");
		if (d->name)
			n += snprintf(left + n, sizeof(left) - n, "--%s", d->name);
		snprintf(left + n, sizeof(left) - n, "%s%s", d->arg ? " " : "",
			 d->arg ? d->arg : "");
		if (strlen(left) > 28)
			printf("  %s\n  %-28s %s\n", left, "", d->help);
		else
			printf("  %-28s %s\n", left, d->help);
	}
	printf("\nA trailing EXPRESSION (libpcap syntax, as tcpdump's; or --filter) selects\n"
	       "  the records.\n"
	       "\nOutputs (-o, repeatable; every record goes to every output):\n"
	       "  json[:PATH]       JSON lines; no PATH or '-' is stdout\n"
	       "  pcap:PATH         classic pcap (tcpdump -w); '-' is stdout\n"
	       "  pcapng:PATH       pcapng with interface names, list comments, XDP verdicts\n"
	       "  journal           systemd journal, one entry per record\n"
	       "  syslog[:TARGET]   unix:PATH (default /dev/log), udp://HOST:PORT, tcp://HOST:PORT,\n"
	       "                    tls://HOST:PORT (RFC 5425, default port 6514; see --tls-ca),\n"
	       "                    relp://HOST[:PORT] (RELP, default port 2514)\n"
	       "  kafka://BROKER[,BROKER]/TOPIC  a Kafka message per record (the JSON record)\n"
	       "  ipfix://HOST[:PORT]  flow records (--log flows) as IPFIX over UDP (default\n"
	       "                    port 4739), to nfcapd, nfacctd, ...\n"
	       "Lists: one address or CIDR per line, '#' or ';' starts a comment;\n"
	       "  SIGHUP reloads them, reopens output files and re-reads --config's FILE\n"
	       "  (what cannot change while running is reported and kept).\n"
	       "Fields: 'hdrlog --fields help' lists them; man hdrlog(8) describes them,\n"
	       "  and their ECS names (--schema ecs) in section ECS FIELD NAMES.\n"
	       "Needs root, or CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN (socket events\n"
	       "  alone: CAP_BPF and CAP_PERFMON).\n");
}

static int opt_help(struct options *o, const struct opt_def *d,
		    const char *arg)
{
	(void)o, (void)d, (void)arg;
	print_help();
	return 1;
}

static const struct opt_word xdp_modes[] = {
	{ "auto", XDP_MODE_AUTO }, { "native", XDP_MODE_NATIVE },
	{ "generic", XDP_MODE_GENERIC }, { NULL, 0 }
};
static const struct opt_word ingress_hooks[] = {
	{ "auto", INGRESS_AUTO }, { "xdp", INGRESS_XDP }, { "tc", INGRESS_TC },
	{ NULL, 0 }
};
static const struct opt_word capture_dirs[] = {
	{ "in", CAPTURE_IN }, { "out", CAPTURE_OUT }, { "both", CAPTURE_BOTH },
	{ NULL, 0 }
};
/* --schema (ECS field names, issue 12) */
static const struct opt_word schemas[] = {
	{ "default", SCHEMA_DEFAULT }, { "ecs", SCHEMA_ECS }, { NULL, 0 }
};
static const struct opt_word syslog_formats[] = {
	{ "rfc5424", SYSLOG_RFC5424 }, { "rfc3164", SYSLOG_RFC3164 },
	{ NULL, 0 }
};
static const struct opt_word syslog_framings[] = {	/* newline framing? */
	{ "octet-counting", false }, { "non-transparent", true }, { NULL, 0 }
};
static const struct opt_word too_deep_modes[] = {	/* drop? */
	{ "pass", false }, { "drop", true }, { NULL, 0 }
};
static const struct opt_word attach_methods[] = {
	{ "fentry", ATTACH_FENTRY }, { "kprobe", ATTACH_KPROBE },
	{ "tracepoint", ATTACH_TRACEPOINT }, { NULL, 0 }
};

static const struct opt_def opt_defs[] = {
	FUNC("interface", 'i', "IFACE", opt_iface, 0, "capture on IFACE (repeatable; default: the default route's)"),
	FUNC("output", 'o', "FORMAT[:PATH]", opt_output, 0, "write records there (repeatable; default: json on stdout)"),
	FUNC("write", 'w', "FILE", opt_write, 0, "write a pcap (pcapng for *.pcapng) file; '-' is stdout"),
	NUM("count", 'c', "N", count, 1, UINT64_MAX, 0, "stop after N records"),
	FUNC("snaplen", 's', "BYTES", opt_snaplen, 0, "frame bytes a record carries for pcap and filters (default 256)"),
	NUM("rotate-size", 'C', "MB", sink.rotate_bytes, 1, ROTATE_MB_MAX, 1000000, "pcap files: start a new file past MB million bytes"),
	NUM("rotate-seconds", 'G', "SECONDS", sink.rotate_seconds, 1, UINT32_MAX, 0, "pcap files: start a new file every SECONDS"),
	NUM("rotate-count", 'W', "COUNT", sink.rotate_count, 1, ROTATE_FILES_MAX, 0, "pcap files: keep only the newest COUNT files"),
	FUNC("fields", 0, "LIST", opt_fields, 0, "write only these comma-separated fields ('help' lists them)"),
	WORD("schema", 0, "default|ecs", sink.schema, schemas, "JSON names: hdrlog's (default) or Elastic Common Schema, nested"),
	NUM("sample", 0, "N", sample, 1, UINT32_MAX, 0, "log 1 in N frames, decided in the kernel"),
	WORD("xdp-mode", 0, "MODE", xdp_mode, xdp_modes, "auto (default), native or generic"),
	WORD("attach-ingress", 0, "xdp|tc|auto", ingress, ingress_hooks, "incoming frames through XDP or tc (default auto: XDP on NICs that run it natively, else tc)"),
	WORD("direction", 0, "in|out|both", direction, capture_dirs, "capture incoming (default), outgoing or both ways (outgoing: tc)"),
	FUNC("ringbuf-size", 0, "BYTES", opt_ringbuf_size, 0, "kernel ring buffer size, K/M/G suffixes (default 8M)"),
	/* the shipper's own metrics (issue 12) */
	NUM("stats-interval", 0, "SECONDS", stats_interval, 0, 86400, 0, "a stats record to the outputs every SECONDS (default 0: none)"),
	FUNC("metrics", 0, "FILE|ADDR:PORT", opt_metrics, 0, "Prometheus metrics to FILE (*.prom) or served on ADDR:PORT"),
	FUNC("blocklist", 0, "[NAME=]FILE[:any]", opt_list, LIST_BLOCK, "drop frames from these CIDRs (:any: to them too)"),
	FUNC("taglist", 0, "[NAME=]FILE", opt_list, LIST_TAG, "tag records of frames from or to these CIDRs"),
	FUNC("allowlist", 0, "[NAME=]FILE", opt_list, LIST_ALLOW, "drop frames from anywhere not in an allow list"),
	WORD("syslog-format", 0, "rfc5424|rfc3164", sink.syslog_format, syslog_formats, "syslog message format (default rfc5424)"),
	WORD("syslog-framing", 0, "octet-counting|non-transparent", sink.syslog_lf_framing, syslog_framings, "syslog over TCP (default octet-counting, RFC 6587)"),
	FLAG("syslog-cee", 0, sink.syslog_cee, "put '@cee:' before the JSON body (rsyslog mmjsonparse)"),
	/* the Kafka output (formats/kafka.c) */
	FUNC("kafka-key", 0, "FIELD|none", opt_kafka_key, 0, "Kafka message key: a record field (default community_id) or none"),
	NUM("kafka-queue", 0, "N", sink.kafka_queue, 1, 10000000, 0, "Kafka: records queued for the brokers at most (default 100000)"),
	FUNC("kafka-property", 0, "KEY=VALUE", opt_kafka_property, 0, "a librdkafka property (repeatable; as kcat -X): TLS, SASL, ..."),
	/* the IPFIX output (formats/ipfix.c, issue 13) */
	NUM("ipfix-domain", 0, "N", sink.ipfix_domain, 0, UINT32_MAX, 0, "IPFIX: the Observation Domain ID messages carry (default 0)"),
	NUM("ipfix-rate", 0, "N", sink.ipfix_rate, 1000, 100000000, 0, "IPFIX: data records sent a second at most, bursts paced (default 50000)"),
	/* syslog over TLS (issue 12) */
	FUNC("tls-ca", 0, "FILE", opt_tls, TLS_CA, "syslog:tls://: the receiver's CAs, PEM (default: system's)"),
	FUNC("tls-server-name", 0, "NAME", opt_tls, TLS_SERVER_NAME, "the receiver's certificate's name (default: the host)"),
	FUNC("tls-cert", 0, "FILE", opt_tls, TLS_CERT, "syslog:tls://: a client certificate, PEM"),
	FUNC("tls-key", 0, "FILE", opt_tls, TLS_KEY, "its private key, PEM (default: in the --tls-cert file)"),
	FLAG("monitor", 0, monitor, "never drop; mark records with would_drop instead"),
	/* automated response (issue 14): src/respond.c */
	FUNC("respond", 0, "FILE", opt_respond, 0, "count sources in the kernel, alert and block by the policies in FILE"),
	FUNC("respond-state", 0, "FILE", opt_respond_text, RESPOND_STATE, "--respond: keep the active blocks in FILE, and the baselines learned in FILE.baseline, across a restart"),
	FUNC("control", 0, "PATH", opt_respond_text, RESPOND_CONTROL, "--respond: the socket --blocks and --top ask (default /run/hdrlog/IF.sock with one -i IF, else /run/hdrlog/hdrlog.sock)"),
	FLAG("blocks", 0, blocks, "list the active blocks of the hdrlog at --control, and exit"),
	FUNC("unblock", 0, "ADDR[/PREFIX]", opt_respond_text, RESPOND_UNBLOCK, "take ADDR out of the running hdrlog's block list, and exit"),
	FLAG("top", 0, top, "the running hdrlog's top sources, blocks and drops, each second (q quits)"),
	FLAG("once", 0, once, "with --top: print one view and exit"),
	/* --log sets and flow records (issue 13) */
	FUNC("log", 0, "SET", opt_log, 0, "packets (default; 'all' too), flows, listed, or a set: flows,listed"),
	NUM("flow-table", 0, "N", flow_table, 16, 1U << 24, 0, "--log flows: flows the kernel table holds, 216 bytes each (default 65536)"),
	NUM("flow-idle-timeout", 0, "SECONDS", flow_idle_timeout, 1, 86400, 0, "--log flows: export a flow idle this long (default 15)"),
	NUM("flow-active-timeout", 0, "SECONDS", flow_active_timeout, 1, 604800, 0, "--log flows: report a long flow this often (default 1800)"),
	WORD("too-deep", 0, "pass|drop", too_deep_drop, too_deep_modes, "with lists: IPv6 chains deeper than parsed (default pass)"),
	FLAG("socket-events", 0, sockets, "also log TCP connect/accept/close and UDP sends, with the process"),
	FUNC("events", 0, "LIST", opt_events, 0, "packets (default), sockets, or packets,sockets"),
	WORD("attach", 0, "METHOD", attach, attach_methods, "socket events via fentry, kprobe or tracepoint (default: best)"),
	FUNC("filter", 0, "EXPRESSION", opt_filter, 0, "write only records matching EXPRESSION (libpcap syntax; or give it last)"),
	FLAG("features", 0, features, "print what this kernel offers and what hdrlog will use"),
	FLAG("check", 0, check, "check the options, config, interfaces, lists and outputs, attach nothing"),
	FUNC("config", 0, "FILE", opt_config, 0, "read options from FILE: 'name = value' lines (the command line wins)"),
	FUNC("verbose", 'v', NULL, opt_log_level, LOG_VERBOSE, "say more, including libbpf's messages"),
	FUNC("quiet", 'q', NULL, opt_log_level, LOG_QUIET, "no start-up line or exit summary"),
	FUNC("version", 'V', NULL, opt_version, 0, "print the version and exit"),
	FUNC("help", 'h', NULL, opt_help, 0, "print this help and exit"),
	{ 0 }
};

#define N_OPTS (sizeof(opt_defs) / sizeof(opt_defs[0]) - 1)
_Static_assert(N_OPTS <= OPTIONS_MAX_KEYS, "struct options' given is a 64-bit mask");

/* Whether the command line named the option called name. */
static bool given(const struct options *o, const char *name)
{
	for (size_t i = 0; i < N_OPTS; i++)
		if (opt_defs[i].name && !strcmp(opt_defs[i].name, name))
			return o->given & 1ull << i;
	return false;
}

/* Keep the text an option was given with, repeats joined by ", ". */
static int keep_text(struct options *o, size_t i, const char *arg)
{
	char *t;

	if (asprintf(&t, "%s%s%s", o->text[i] ? o->text[i] : "",
		     o->text[i] ? ", " : "", arg) < 0)
		return usage_error("out of memory");
	free(o->text[i]);
	o->text[i] = t;
	return 0;
}

/* One option with its argument (NULL for none). As handle's result. */
static int apply(struct options *o, const struct opt_def *d, const char *arg)
{
	o->given |= 1ull << (d - opt_defs);
	if (keep_text(o, d - opt_defs, arg ? arg : "yes"))
		return -1;
	switch (d->type) {
	case OPT_FLAG:
		store(o, d, true);
		return 0;
	case OPT_NUM:
		return set_num(o, d, arg);
	case OPT_WORD:
		return set_word(o, d, arg);
	case OPT_FUNC:
		break;
	}
	return d->handle(o, d, arg);
}

/*
 * The config file: "name = value" per line, the names the long options',
 * '#' starting a comment line; a flag takes yes/no (or stands alone).
 * Options given on the command line win: their lines are skipped, so a
 * repeatable option (interface, output, the lists) comes from one place.
 */
#define CONFIG_LINE_MAX	4096

/* Options that act on the command only: not for a config file. */
static bool command_line_only(const struct opt_def *d)
{
	return d->handle == opt_config || d->handle == opt_help ||
	       d->handle == opt_version ||
	       (d->name && (!strcmp(d->name, "features") ||
			    !strcmp(d->name, "check") ||
			    !strcmp(d->name, "blocks") ||
			    !strcmp(d->name, "unblock") ||
			    !strcmp(d->name, "top") ||
			    !strcmp(d->name, "once")));
}

static const struct opt_def *find_option(const char *name, size_t len)
{
	for (size_t i = 0; i < N_OPTS; i++)
		if (opt_defs[i].name && strlen(opt_defs[i].name) == len &&
		    !strncmp(opt_defs[i].name, name, len))
			return &opt_defs[i];
	return NULL;
}

/* An option's bit, with -o's and -w's together: both name outputs. */
static uint64_t option_group(const struct opt_def *d)
{
	uint64_t outputs = 0;

	if (d->handle != opt_output && d->handle != opt_write)
		return 1ull << (d - opt_defs);
	for (size_t i = 0; i < N_OPTS; i++)
		if (opt_defs[i].handle == opt_output ||
		    opt_defs[i].handle == opt_write)
			outputs |= 1ull << i;
	return outputs;
}

static char *trim(char *s)
{
	char *end = s + strlen(s);

	while (*s == ' ' || *s == '\t')
		s++;
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' ||
			   end[-1] == '\n' || end[-1] == '\r'))
		*--end = '\0';
	return s;
}

/* Keep a value the options will point into; NULL when out of memory. */
static const char *keep_value(struct options *o, const char *value)
{
	char **v = realloc(o->config_values,
			   (o->n_config_values + 1) * sizeof(*v));

	if (!v)
		return NULL;
	o->config_values = v;
	v[o->n_config_values] = strdup(value);
	return v[o->n_config_values] ? v[o->n_config_values++] : NULL;
}

/* One "name = value" line; 0, or -1 with a message. */
static int config_line(struct options *o, char *line, uint64_t cmdline)
{
	char *eq = strchr(line, '='), *value = "";
	const struct opt_def *d;
	char *name = line;
	int r;

	if (eq) {
		*eq = '\0';
		value = trim(eq + 1);
	}
	name = trim(name);
	d = find_option(name, strlen(name));
	if (!d || command_line_only(d))
		return usage_error("%s '%s'", d ? "not an option for a config file:" :
				   "unknown option", name);
	if (cmdline & option_group(d))
		return 0;	/* the command line said it */
	if (!d->arg) {
		if (!strcmp(value, "no") || !strcmp(value, "false") ||
		    !strcmp(value, "0"))
			return 0;
		if (*value && strcmp(value, "yes") && strcmp(value, "true") &&
		    strcmp(value, "1"))
			return usage_error("%s takes yes or no, not '%s'", name,
					   value);
		value = NULL;
	} else {
		if (!*value)
			return usage_error("%s needs a value", name);
		value = (char *)keep_value(o, value);
		if (!value)
			return usage_error("out of memory");
	}
	r = apply(o, d, value);
	if (r > 0)	/* "fields = help" */
		return usage_error("%s = help lists, it does not configure", name);
	if (r < 0 && d->type == OPT_FUNC)	/* the handler's own message */
		fprintf(stderr, "hdrlog: %s(in the value of %s)\n", where, name);
	return r;
}

static int config_load(struct options *o)
{
	static char path[LOG_ESCAPE_SIZE(PATH_MAX)];
	uint64_t cmdline = o->given;
	char *line = NULL;
	size_t cap = 0;
	struct stat st;
	ssize_t n;
	int lineno = 0, err = 0;
	FILE *f = fopen(o->config, "re");

	if (!f || fstat(fileno(f), &st) || !S_ISREG(st.st_mode)) {
		int e = f ? EINVAL : errno;

		if (f)
			fclose(f);
		return usage_error("cannot read the config file %s: %s",
				   o->config, e == EINVAL ? "not a regular file" :
				   strerror(e));
	}
	log_escape(path, sizeof(path), o->config, strlen(o->config));
	/* Every bad line is reported, not only the first (--check). */
	while ((n = getline(&line, &cap, f)) >= 0) {
		char *s;

		snprintf(where, sizeof(where), "%s:%d: ", path, ++lineno);
		if ((size_t)n != strlen(line))
			err |= usage_error("a NUL byte in the line");
		else if (n > CONFIG_LINE_MAX)
			err |= usage_error("line longer than %d bytes",
					   CONFIG_LINE_MAX);
		else if (*(s = trim(line)) && *s != '#')
			err |= config_line(o, s, cmdline);
	}
	where[0] = '\0';
	free(line);
	fclose(f);
	return err ? -1 : 0;
}

/* An -o argument with what its output is. */
struct output_ref {
	const char *spec;
	const char *target;	/* "" for none */
	unsigned int flags;	/* its sink_ops' SINK_* */
};

static int output_ref(struct output_ref *r, const char *spec)
{
	const struct sink_ops *ops = sink_type(spec);
	const char *colon = strchr(spec, ':');

	if (!ops)
		return -1;
	*r = (struct output_ref){ spec, colon ? colon + 1 : "", ops->flags };
	return 0;
}

static bool is_stdout(const struct output_ref *r)
{
	return (r->flags & SINK_FILE) &&
	       (!*r->target || !strcmp(r->target, "-"));
}

/* Whether two outputs would write the same place. */
static bool same_output(const struct output_ref *a, const struct output_ref *b)
{
	struct stat sa, sb;

	if (!strcmp(a->spec, b->spec))
		return true;
	if (!(a->flags & b->flags & SINK_FILE) || is_stdout(a) || is_stdout(b))
		return false;
	if (!strcmp(a->target, b->target))
		return true;
	/* Two names of one file; devices such as /dev/null may be shared. */
	return !stat(a->target, &sa) && !stat(b->target, &sb) &&
	       S_ISREG(sa.st_mode) && sa.st_dev == sb.st_dev &&
	       sa.st_ino == sb.st_ino;
}

static bool has_policy_list(const struct options *o)
{
	for (int i = 0; i < o->n_lists; i++)
		if (o->lists[i].kind != LIST_TAG)
			return true;
	return false;
}

static bool has_tls_output(const struct options *o)
{
	for (int i = 0; i < o->n_outputs; i++)
		if (!strncmp(o->outputs[i], "syslog:tls://", 13))
			return true;
	return false;
}

/* What the table cannot say: options that make no sense together. */
static int check_conflicts(const struct options *o)
{
	struct output_ref out[MAX_OUTPUTS];
	bool rotatable = false;
	int to_stdout = 0;

	for (int i = 0; i < o->n_outputs; i++) {
		if (output_ref(&out[i], o->outputs[i]))
			return usage_hint();
		to_stdout += is_stdout(&out[i]);
		if ((out[i].flags & SINK_ROTATES) && !is_stdout(&out[i]))
			rotatable = true;
		for (int j = 0; j < i; j++)
			if (same_output(&out[j], &out[i]))
				return usage_error("outputs '%s' and '%s' would write to the same place",
						   out[j].spec, out[i].spec);
	}
	if (to_stdout > 1)
		return usage_error("only one output can write to standard output");
	if ((o->sink.rotate_bytes || o->sink.rotate_seconds ||
	     o->sink.rotate_count) && !rotatable)
		return usage_error("-C, -G and -W rotate capture files: they need a pcap or pcapng output to a file (-w FILE)");
	if (o->log_listed && !o->n_lists)
		return usage_error("--log listed needs a list (%s)", "--blocklist, --taglist or --allowlist");
	if (!o->log_flows && (given(o, "flow-table") ||
			      given(o, "flow-idle-timeout") ||
			      given(o, "flow-active-timeout")))
		return usage_error("--flow-table and the flow timeouts are for flow records: they need --log flows");
	if (o->log_flows && !o->packets)
		return usage_error("--log flows counts captured frames, but --events has no packets");
	for (int i = 0; i < o->n_outputs && !o->log_flows; i++)
		if (!strncmp(o->outputs[i], "ipfix:", 6))
			return usage_error("an ipfix output carries flow records only: it needs --log flows (e.g. --log flows or --log packets,flows)");
	if (o->monitor && !has_policy_list(o) && !o->respond)
		return usage_error("--monitor needs a list that drops (%s) or --respond: without one nothing would be dropped", "--blocklist or --allowlist");
	if (o->respond && (!o->packets || o->direction == CAPTURE_OUT))
		return usage_error("--respond judges incoming frames: it needs packet capture with --direction in or both");
	if (given(o, "too-deep") && !o->n_lists)
		return usage_error("--too-deep applies to frames checked against lists: it needs %s", "--blocklist, --taglist or --allowlist");
	if (!o->packets && o->n_ifaces)
		return usage_error("-i names interfaces to capture packets on, but --events has no packets");
	if (!o->packets && o->xdp_mode != XDP_MODE_AUTO)
		return usage_error("--xdp-mode is for packet capture, but --events has no packets");
	if (!o->packets && (o->ingress != INGRESS_AUTO ||
			    o->direction != CAPTURE_IN))
		return usage_error("--attach-ingress and --direction are for packet capture, but --events has no packets");
	if (o->ingress == INGRESS_TC && o->xdp_mode != XDP_MODE_AUTO)
		return usage_error("--xdp-mode chooses how XDP attaches, but --attach-ingress tc uses no XDP");
	if (o->direction == CAPTURE_OUT && given(o, "attach-ingress"))
		return usage_error("--attach-ingress chooses the hook for incoming frames, but --direction out captures none");
	if (!o->sockets && o->attach != ATTACH_AUTO)
		return usage_error("--attach chooses how socket events are caught: it needs %s", "--socket-events or --events sockets");
	if (o->sink.tls_key && !o->sink.tls_cert)
		return usage_error("--tls-key is the key of a client certificate: it needs --tls-cert");
	if ((o->sink.tls_ca || o->sink.tls_cert || o->sink.tls_server_name) &&
	    !has_tls_output(o))
		return usage_error("--tls-ca, --tls-cert, --tls-key and --tls-server-name are for %s outputs: there is none", "syslog:tls://");
	return 0;
}

enum options_result options_parse(struct options *o, int argc, char **argv)
{
	struct option longopts[N_OPTS + 1];
	char shortopts[2 * N_OPTS + 2];
	int n = 0, nl = 0, c, idx;

	memset(o, 0, sizeof(*o));
	optind = 0;	/* getopt starts afresh: parsing may be done again */
	o->fields = FIELD_MASK_ALL;
	o->sample = 1;
	o->ringbuf_size = DEFAULT_RINGBUF_SIZE;
	o->snaplen = DEFAULT_SNAPLEN;
	o->packets = true;
	o->log_packets = true;
	o->flow_table = DEFAULT_FLOW_TABLE;
	o->flow_idle_timeout = DEFAULT_FLOW_IDLE_TIMEOUT;
	o->flow_active_timeout = DEFAULT_FLOW_ACTIVE_TIMEOUT;

	shortopts[n++] = ':';	/* report a missing argument apart */
	for (size_t i = 0; i < N_OPTS; i++) {
		const struct opt_def *d = &opt_defs[i];

		/* val: the table index, past every short option character */
		if (d->name)
			longopts[nl++] = (struct option){ d->name,
				d->arg ? required_argument : no_argument, NULL,
				256 + (int)i };
		if (d->short_name) {
			shortopts[n++] = d->short_name;
			if (d->arg)
				shortopts[n++] = ':';
		}
	}
	longopts[nl] = (struct option){ 0 };
	shortopts[n] = '\0';

	opterr = 0;
	while ((c = getopt_long(argc, argv, shortopts, longopts, &idx)) != -1) {
		const struct opt_def *d = NULL;
		int r;

		if (c >= 256) {
			d = &opt_defs[c - 256];
		} else if (c == ':' || c == '?') {
			const char *what = argv[optind - 1];
			char buf[3] = { '-', (char)optopt, 0 };

			if (optopt && optopt < 256)
				what = buf;
			usage_error(c == ':' ? "option '%s' needs an argument" :
				    "unknown option '%s'", what);
			return OPTIONS_USAGE;
		} else {
			for (size_t i = 0; i < N_OPTS; i++)
				if (opt_defs[i].short_name == c)
					d = &opt_defs[i];
		}
		r = apply(o, d, optarg);
		if (r < 0)
			return OPTIONS_USAGE;
		if (r > 0)
			return OPTIONS_EXIT;
	}
	/*
	 * The rest is a filter expression, words joined as tcpdump does. It
	 * is the command line's filter: as --filter, it overrides a config
	 * file's; given with --filter it is refused (which one was meant?).
	 */
	if (optind < argc && given(o, "filter")) {
		usage_error("--filter and a filter expression at the end of the command line: give one of them");
		return OPTIONS_USAGE;
	}
	for (size_t len = 0; optind < argc; optind++) {
		int w = snprintf(o->filter + len, sizeof(o->filter) - len, "%s%s",
				 len ? " " : "", argv[optind]);

		if (w < 0 || (size_t)w >= sizeof(o->filter) - len) {
			usage_error("the filter expression is too long");
			return OPTIONS_USAGE;
		}
		len += w;
	}
	if (o->filter[0] && !given(o, "filter")) {
		const struct opt_def *d = find_option("filter", 6);

		o->given |= 1ull << (d - opt_defs);
		if (keep_text(o, d - opt_defs, o->filter))
			return OPTIONS_USAGE;
	}
	if (o->config && config_load(o))
		return OPTIONS_USAGE;
	/*
	 * One interface: a socket of its own (hdrlog@IF), which the
	 * commands find with the same -i IF (or --config FILE).
	 */
	if (!o->control && o->n_ifaces == 1) {
		snprintf(o->control_default, sizeof(o->control_default),
			 CONTROL_DIR "/%s.sock", o->ifaces[0]);
		o->control = o->control_default;
	} else if (!o->control) {
		o->control = CONTROL_DIR "/hdrlog.sock";
	}
	/* --blocks, --unblock, --top ask a running hdrlog: nothing else */
	if (o->once && !o->top) {
		usage_error("--once goes with --top");
		return OPTIONS_USAGE;
	}
	if (o->blocks + o->top + !!o->unblock > 1 &&
	    !(o->blocks && o->unblock && !o->top)) {
		usage_error("--blocks and --top: give one of them");
		return OPTIONS_USAGE;
	}
	if (o->blocks || o->top || o->unblock)
		return OPTIONS_RUN;
	if (o->respond_state && !o->respond) {
		usage_error("--respond-state keeps --respond's blocks: give --respond FILE");
		return OPTIONS_USAGE;
	}
	if (!o->n_outputs)
		o->outputs[o->n_outputs++] = "json";
	if (check_conflicts(o))
		return OPTIONS_USAGE;
	/* --respond: its file's errors say FILE:LINE */
	if (o->respond) {
		o->respond_cfg = malloc(sizeof(*o->respond_cfg));
		if (!o->respond_cfg) {
			usage_error("out of memory");
			return OPTIONS_USAGE;
		}
		if (respond_config_load(o->respond_cfg, o->respond) ||
		    respond_config_bind(o->respond_cfg, o->lists, o->n_lists))
			return OPTIONS_USAGE;
	}
	o->sink.fields = o->fields;
	return OPTIONS_RUN;
}

bool options_need_frame_bytes(const struct options *o)
{
	if (o->filter[0])
		return true;
	for (int i = 0; i < o->n_outputs; i++) {
		const struct sink_ops *ops = sink_type(o->outputs[i]);

		if (ops && (ops->flags & SINK_FRAMES))
			return true;
	}
	return false;
}

const char *options_key(int i)
{
	const struct opt_def *d;

	if (i < 0 || (size_t)i >= N_OPTS)
		return NULL;
	d = &opt_defs[i];
	return d->name && !command_line_only(d) ? d->name : "";
}

bool options_key_changed(const struct options *a, const struct options *b,
			 int i)
{
	if (!a->text[i] || !b->text[i])
		return a->text[i] != b->text[i];
	return strcmp(a->text[i], b->text[i]);
}

const char *options_key_value(const struct options *o, int i)
{
	/* sasl.password and the like: not for logs */
	if (opt_defs[i].handle == opt_kafka_property && o->text[i])
		return "the properties given at start (not shown: they may hold secrets)";
	return o->text[i] ? o->text[i] : "the default";
}

void options_free(struct options *o)
{
	for (int i = 0; i < OPTIONS_MAX_KEYS; i++)
		free(o->text[i]);
	for (int i = 0; i < MAX_OUTPUTS; i++)
		free(o->w_specs[i]);
	for (int i = 0; i < o->n_config_values; i++)
		free(o->config_values[i]);
	free(o->config_values);
	free(o->respond_cfg);
	o->respond_cfg = NULL;
}
