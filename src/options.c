// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * One table describes every option: getopt_long's arrays and --help are
 * both made from it.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fields.h"
#include "log.h"
#include "options.h"
#include "record.h"

#define DEFAULT_RINGBUF_SIZE (8u << 20)

struct opt_def {
	const char *name;
	int short_name;		/* 0: long only */
	const char *arg;	/* argument name, NULL: takes none */
	const char *help;
	int (*handle)(struct options *o, const char *arg);
};

static const struct opt_def opt_defs[];

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "hdrlog: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'hdrlog --help' for more information.\n");
	return -1;
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

static int opt_iface(struct options *o, const char *arg)
{
	if (o->n_ifaces == MAX_IFACES)
		return usage_error("too many interfaces (at most %s)", "64");
	if (!*arg || strlen(arg) >= 16)
		return usage_error("'%s' is not a valid interface name", arg);
	o->ifaces[o->n_ifaces++] = arg;
	return 0;
}

static int opt_output(struct options *o, const char *arg)
{
	if (o->n_outputs == MAX_OUTPUTS)
		return usage_error("too many outputs (at most %s)", "16");
	o->outputs[o->n_outputs++] = arg;
	return 0;
}

/* -w FILE: pcapng for *.pcapng, pcap otherwise (and for '-', stdout). */
static int opt_write(struct options *o, const char *arg)
{
	size_t n = strlen(arg);
	const char *fmt = n > 7 && !strcmp(arg + n - 7, ".pcapng") ? "pcapng"
								   : "pcap";
	char *spec;

	if (o->n_outputs == MAX_OUTPUTS)
		return usage_error("too many outputs (at most %s)", "16");
	if (asprintf(&spec, "%s:%s", fmt, arg) < 0)
		return usage_error("out of memory%s", "");
	o->w_specs[o->n_outputs] = spec;
	o->outputs[o->n_outputs++] = spec;
	return 0;
}

static int opt_snaplen(struct options *o, const char *arg)
{
	uint64_t v;

	if (parse_size(arg, 262144, 0, &v))
		return usage_error("-s needs a number of bytes, not '%s'", arg);
	/* 0 is tcpdump's "all of it"; a record carries at most 65535. */
	o->snaplen = !v || v > HDRLOG_MAX_SNAPLEN ? HDRLOG_MAX_SNAPLEN : v;
	if (o->snaplen < 14)
		return usage_error("-s needs at least 14 bytes (an Ethernet header), not '%s'", arg);
	return 0;
}

static int opt_rotate_size(struct options *o, const char *arg)
{
	uint64_t mb;

	if (parse_size(arg, 1u << 20, 0, &mb) || !mb)
		return usage_error("-C needs a positive size in MB, not '%s'", arg);
	o->sink.rotate_bytes = mb * 1000000;	/* tcpdump's -C unit */
	return 0;
}

static int opt_rotate_seconds(struct options *o, const char *arg)
{
	uint64_t v;

	if (parse_size(arg, UINT32_MAX, 0, &v) || !v)
		return usage_error("-G needs a positive number of seconds, not '%s'", arg);
	o->sink.rotate_seconds = v;
	return 0;
}

static int opt_rotate_count(struct options *o, const char *arg)
{
	uint64_t v;

	if (parse_size(arg, 1000000, 0, &v) || !v)
		return usage_error("-W needs a positive number of files, not '%s'", arg);
	o->sink.rotate_count = v;
	return 0;
}

static int opt_syslog_format(struct options *o, const char *arg)
{
	if (!strcmp(arg, "rfc5424"))
		o->sink.syslog_format = SYSLOG_RFC5424;
	else if (!strcmp(arg, "rfc3164"))
		o->sink.syslog_format = SYSLOG_RFC3164;
	else
		return usage_error("--syslog-format is rfc5424 or rfc3164, not '%s'", arg);
	return 0;
}

static int opt_syslog_framing(struct options *o, const char *arg)
{
	if (!strcmp(arg, "octet-counting"))
		o->sink.syslog_lf_framing = false;
	else if (!strcmp(arg, "non-transparent"))
		o->sink.syslog_lf_framing = true;
	else
		return usage_error("--syslog-framing is octet-counting or non-transparent, not '%s'", arg);
	return 0;
}

static int opt_syslog_cee(struct options *o, const char *arg)
{
	(void)arg;
	o->sink.syslog_cee = true;
	return 0;
}

static int opt_count(struct options *o, const char *arg)
{
	if (parse_size(arg, UINT64_MAX, 0, &o->count) || !o->count)
		return usage_error("-c needs a positive number, not '%s'", arg);
	return 0;
}

static void print_fields(void)
{
	for (int i = 0; i < F_COUNT; i++)
		printf("  %-16s %s\n", field_table[i].name, field_table[i].doc);
}

static int opt_fields(struct options *o, const char *arg)
{
	const char *bad;
	size_t bad_len;

	if (!strcmp(arg, "help")) {
		print_fields();
		return 1;
	}
	if (fields_parse(arg, &o->fields, &bad, &bad_len)) {
		fprintf(stderr, "hdrlog: unknown field '%.*s' in --fields "
			"(see 'hdrlog --fields help')\n", (int)bad_len, bad);
		return -1;
	}
	return 0;
}

static int opt_sample(struct options *o, const char *arg)
{
	uint64_t v;

	if (parse_size(arg, UINT32_MAX, 0, &v) || !v)
		return usage_error("--sample needs a number from 1 to 4294967295, not '%s'", arg);
	o->sample = v;
	return 0;
}

static int opt_xdp_mode(struct options *o, const char *arg)
{
	if (!strcmp(arg, "auto"))
		o->xdp_mode = XDP_MODE_AUTO;
	else if (!strcmp(arg, "native"))
		o->xdp_mode = XDP_MODE_NATIVE;
	else if (!strcmp(arg, "generic"))
		o->xdp_mode = XDP_MODE_GENERIC;
	else
		return usage_error("--xdp-mode is auto, native or generic, not '%s'", arg);
	return 0;
}

static int opt_ringbuf_size(struct options *o, const char *arg)
{
	uint64_t v, p = 4096;

	if (parse_size(arg, 1ull << 30, 1, &v) || v < 4096)
		return usage_error("--ringbuf-size needs 4K to 1G bytes, not '%s'", arg);
	while (p < v)
		p <<= 1;	/* the kernel wants a power of two */
	o->ringbuf_size = p;
	return 0;
}

static int add_list(struct options *o, enum list_kind kind, const char *arg)
{
	if (o->n_lists == MAX_LISTS)
		return usage_error("too many lists (at most %s)", "64");
	if (list_spec_parse(&o->lists[o->n_lists], kind, arg))
		return -1;
	o->n_lists++;
	return 0;
}

static int opt_blocklist(struct options *o, const char *arg)
{
	return add_list(o, LIST_BLOCK, arg);
}

static int opt_taglist(struct options *o, const char *arg)
{
	return add_list(o, LIST_TAG, arg);
}

static int opt_allowlist(struct options *o, const char *arg)
{
	return add_list(o, LIST_ALLOW, arg);
}

static int opt_monitor(struct options *o, const char *arg)
{
	(void)arg;
	o->monitor = true;
	return 0;
}

static int opt_log(struct options *o, const char *arg)
{
	if (!strcmp(arg, "all"))
		o->log_listed = false;
	else if (!strcmp(arg, "listed"))
		o->log_listed = true;
	else
		return usage_error("--log is all or listed, not '%s'", arg);
	return 0;
}

static int opt_too_deep(struct options *o, const char *arg)
{
	if (!strcmp(arg, "pass"))
		o->too_deep_drop = false;
	else if (!strcmp(arg, "drop"))
		o->too_deep_drop = true;
	else
		return usage_error("--too-deep is pass or drop, not '%s'", arg);
	return 0;
}

static int opt_socket_events(struct options *o, const char *arg)
{
	(void)arg;
	o->sockets = true;
	return 0;
}

static int opt_events(struct options *o, const char *arg)
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
			return usage_error("--events takes packets and/or sockets, not '%s'", arg);
		p += n + !!p[n];
	}
	if (!o->packets && !o->sockets)
		return usage_error("--events takes packets and/or sockets, not '%s'", arg);
	return 0;
}

static int opt_attach(struct options *o, const char *arg)
{
	if (!strcmp(arg, "fentry"))
		o->attach = ATTACH_FENTRY;
	else if (!strcmp(arg, "kprobe"))
		o->attach = ATTACH_KPROBE;
	else if (!strcmp(arg, "tracepoint"))
		o->attach = ATTACH_TRACEPOINT;
	else
		return usage_error("--attach is fentry, kprobe or tracepoint, not '%s'", arg);
	return 0;
}

static int opt_features(struct options *o, const char *arg)
{
	(void)arg;
	o->features = true;
	return 0;
}

static int opt_verbose(struct options *o, const char *arg)
{
	(void)o, (void)arg;
	log_level = LOG_VERBOSE;
	return 0;
}

static int opt_quiet(struct options *o, const char *arg)
{
	(void)o, (void)arg;
	log_level = LOG_QUIET;
	return 0;
}

static int opt_version(struct options *o, const char *arg)
{
	(void)o, (void)arg;
	printf("hdrlog %s\n", PACKAGE_VERSION);
	return 1;
}

static void print_help(void)
{
	printf("Usage: hdrlog [OPTION]... [EXPRESSION]\n"
	       "Log network header fields of every ingress frame, captured with XDP.\n\n");
	for (const struct opt_def *d = opt_defs; d->handle; d++) {
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
	printf("\nA trailing EXPRESSION (libpcap syntax, as tcpdump's) selects the records.\n"
	       "\nOutputs (-o, repeatable; every record goes to every output):\n"
	       "  json[:PATH]       JSON lines; no PATH or '-' is stdout\n"
	       "  pcap:PATH         pcap (libpcap); '-' is stdout\n"
	       "  pcapng:PATH       pcapng with interface names, list comments, XDP verdicts\n"
	       "  journal           systemd journal, one entry per record\n"
	       "  syslog[:TARGET]   unix:PATH (default /dev/log), udp://HOST:PORT, tcp://HOST:PORT\n"
	       "Lists: one address or CIDR per line, '#' or ';' starts a comment;\n"
	       "  SIGHUP reloads them (and reopens output files).\n"
	       "Fields: 'hdrlog --fields help' lists them; man hdrlog(8) describes them.\n"
	       "Needs root, or CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN (socket events\n"
	       "  alone: CAP_BPF and CAP_PERFMON).\n");
}

static int opt_help(struct options *o, const char *arg)
{
	(void)o, (void)arg;
	print_help();
	return 1;
}

static const struct opt_def opt_defs[] = {
	{ "interface", 'i', "IFACE", "capture on IFACE (repeatable; default: the default route's)", opt_iface },
	{ "output", 'o', "FORMAT[:PATH]", "write records there (repeatable; default: json on stdout)", opt_output },
	{ "write", 'w', "FILE", "write a pcap (pcapng for *.pcapng) file; '-' is stdout", opt_write },
	{ "count", 'c', "N", "stop after N records", opt_count },
	{ "snaplen", 's', "BYTES", "frame bytes a record carries for pcap and filters (default 256)", opt_snaplen },
	{ NULL, 'C', "MB", "pcap files: start a new file past MB million bytes", opt_rotate_size },
	{ NULL, 'G', "SECONDS", "pcap files: start a new file every SECONDS", opt_rotate_seconds },
	{ NULL, 'W', "COUNT", "pcap files: keep only the newest COUNT files", opt_rotate_count },
	{ "fields", 0, "LIST", "write only these comma-separated fields ('help' lists them)", opt_fields },
	{ "sample", 0, "N", "log 1 in N frames, decided in the kernel", opt_sample },
	{ "xdp-mode", 0, "MODE", "auto (default), native or generic", opt_xdp_mode },
	{ "ringbuf-size", 0, "BYTES", "kernel ring buffer size, K/M/G suffixes (default 8M)", opt_ringbuf_size },
	{ "blocklist", 0, "[NAME=]FILE[:any]", "drop frames from these CIDRs (:any: to them too)", opt_blocklist },
	{ "taglist", 0, "[NAME=]FILE", "tag records of frames from or to these CIDRs", opt_taglist },
	{ "allowlist", 0, "[NAME=]FILE", "drop frames from anywhere not in an allow list", opt_allowlist },
	{ "syslog-format", 0, "rfc5424|rfc3164", "syslog message format (default rfc5424)", opt_syslog_format },
	{ "syslog-framing", 0, "octet-counting|non-transparent", "syslog over TCP (default octet-counting, RFC 6587)", opt_syslog_framing },
	{ "syslog-cee", 0, NULL, "put '@cee:' before the JSON body (rsyslog mmjsonparse)", opt_syslog_cee },
	{ "monitor", 0, NULL, "never drop; mark records with would_drop instead", opt_monitor },
	{ "log", 0, "all|listed", "log every frame (default) or only list hits and drops", opt_log },
	{ "too-deep", 0, "pass|drop", "with lists: IPv6 chains deeper than parsed (default pass)", opt_too_deep },
	{ "socket-events", 0, NULL, "also log TCP connect/accept/close and UDP sends, with the process", opt_socket_events },
	{ "events", 0, "LIST", "packets (default), sockets, or packets,sockets", opt_events },
	{ "attach", 0, "METHOD", "socket events via fentry, kprobe or tracepoint (default: best)", opt_attach },
	{ "features", 0, NULL, "print what this kernel offers and what hdrlog will use", opt_features },
	{ "verbose", 'v', NULL, "say more, including libbpf's messages", opt_verbose },
	{ "quiet", 'q', NULL, "no start-up line or exit summary", opt_quiet },
	{ "version", 'V', NULL, "print the version and exit", opt_version },
	{ "help", 'h', NULL, "print this help and exit", opt_help },
	{ 0 }
};

#define N_OPTS (sizeof(opt_defs) / sizeof(opt_defs[0]) - 1)


enum options_result options_parse(struct options *o, int argc, char **argv)
{
	struct option longopts[N_OPTS + 1];
	char shortopts[2 * N_OPTS + 2];
	int n = 0, nl = 0, c, idx;

	memset(o, 0, sizeof(*o));
	o->fields = (1ull << F_COUNT) - 1;
	o->sample = 1;
	o->ringbuf_size = DEFAULT_RINGBUF_SIZE;
	o->snaplen = DEFAULT_SNAPLEN;
	o->packets = true;

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
		r = d->handle(o, optarg);
		if (r < 0)
			return OPTIONS_USAGE;
		if (r > 0)
			return OPTIONS_EXIT;
	}
	/* The rest is a filter expression, words joined as tcpdump does. */
	for (size_t len = 0; optind < argc; optind++) {
		int w = snprintf(o->filter + len, sizeof(o->filter) - len, "%s%s",
				 len ? " " : "", argv[optind]);

		if (w < 0 || (size_t)w >= sizeof(o->filter) - len) {
			usage_error("the filter expression is too long%s", "");
			return OPTIONS_USAGE;
		}
		len += w;
	}
	if (o->log_listed && !o->n_lists) {
		usage_error("--log listed needs a list (%s)", "--blocklist, --taglist or --allowlist");
		return OPTIONS_USAGE;
	}
	if (!o->n_outputs)
		o->outputs[o->n_outputs++] = "json";
	o->sink.fields = o->fields;
	return OPTIONS_RUN;
}

bool options_need_frame_bytes(const struct options *o)
{
	if (o->filter[0])
		return true;
	for (int i = 0; i < o->n_outputs; i++)
		if (!strncmp(o->outputs[i], "pcap", 4))
			return true;
	return false;
}

void options_free(struct options *o)
{
	for (int i = 0; i < MAX_OUTPUTS; i++)
		free(o->w_specs[i]);
}
