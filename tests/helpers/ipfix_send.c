// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Flow records made by hand, through the real IPFIX output: for
 * tests/integration/test_ipfix.py, which has nfcapd receive them before
 * the kernel's flow table can make any.
 *
 *   ipfix_send [--domain N] [--rate N] ipfix://HOST:PORT < records
 *
 * One record a line, "key=value" words: type=flow (default), packet or
 * socket; v=4|6 src= dst= sport= dport= proto= pkts_ts= bytes_ts=
 * pkts_tc= bytes_tc= flags_ts= flags_tc= (numbers) start_ms= end_ms=
 * (ms since the epoch) reason=idle|active|fin|rst|evicted|shutdown
 * ifindex= dir=in|out vlan= icmp_type= icmp_code= min_ttl= max_ttl=
 * dropped= pid= comm= src_lists=a,b dest_lists= cid=. A line "flush"
 * flushes the output (as the main loop does every 50 ms) and prints its
 * counts, "records=N written=N failed=N skipped=N cut=N"; "sleep=MS"
 * waits; "stop" says capture is over, as the main loop does before the
 * exit's sweep of open flows. At the end the output is flushed and closed and its counts
 * printed.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "event.h"
#include "sink.h"

#define MAX_NAMES	8

static char names[2][MAX_NAMES][64];

static int split_lists(const char *v, const char **out, int side)
{
	int n = 0;

	while (*v && n < MAX_NAMES) {
		size_t l = strcspn(v, ",");

		snprintf(names[side][n], sizeof(names[side][n]), "%.*s", (int)l, v);
		out[n] = names[side][n];
		n++;
		v += l;
		if (*v == ',')
			v++;
	}
	return n;
}

static uint8_t reason(const char *v)
{
	static const char *const r[] = { "idle", "active", "fin", "rst",
					 "evicted", "shutdown" };

	for (unsigned int i = 0; i < sizeof(r) / sizeof(r[0]); i++)
		if (!strcmp(v, r[i]))
			return i;
	fprintf(stderr, "ipfix_send: unknown reason %s\n", v);
	exit(2);
}

static void address(struct event *e, const char *v, uint8_t *out)
{
	if (inet_pton(e->ip_v == 6 ? AF_INET6 : AF_INET, v, out) != 1) {
		fprintf(stderr, "ipfix_send: bad address %s (give v= first)\n", v);
		exit(2);
	}
}

static void parse(char *line, struct event *e)
{
	char *save, *w;

	memset(e, 0, sizeof(*e));
	e->event_type = EVENT_FLOW;
	e->ip_v = 4;
	e->direction = HDRLOG_DIR_INBOUND;
	for (w = strtok_r(line, " \t\n", &save); w;
	     w = strtok_r(NULL, " \t\n", &save)) {
		char *v = strchr(w, '=');
		unsigned long long n;

		if (!v) {
			fprintf(stderr, "ipfix_send: not key=value: %s\n", w);
			exit(2);
		}
		*v++ = '\0';
		n = strtoull(v, NULL, 0);
		if (!strcmp(w, "type"))
			e->event_type = !strcmp(v, "packet") ? EVENT_PACKET :
					!strcmp(v, "socket") ? EVENT_SOCKET : EVENT_FLOW;
		else if (!strcmp(w, "v"))
			e->ip_v = n;
		else if (!strcmp(w, "src"))
			address(e, v, e->src_ip);
		else if (!strcmp(w, "dst"))
			address(e, v, e->dest_ip);
		else if (!strcmp(w, "sport") || !strcmp(w, "dport")) {
			/* present as the decoder makes them: both or none */
			e->present |= FIELD_BIT(F_SRC_PORT) | FIELD_BIT(F_DEST_PORT);
			if (w[0] == 's')
				e->src_port = n;
			else
				e->dest_port = n;
		}
		else if (!strcmp(w, "proto"))
			e->ip_proto = n;
		else if (!strcmp(w, "pkts_ts"))
			e->flow.pkts_toserver = n;
		else if (!strcmp(w, "bytes_ts"))
			e->flow.bytes_toserver = n;
		else if (!strcmp(w, "pkts_tc"))
			e->flow.pkts_toclient = n;
		else if (!strcmp(w, "bytes_tc"))
			e->flow.bytes_toclient = n;
		else if (!strcmp(w, "flags_ts"))
			e->flow.tcp_flags_toserver = n;
		else if (!strcmp(w, "flags_tc"))
			e->flow.tcp_flags_toclient = n;
		else if (!strcmp(w, "start_ms"))
			e->flow.start_ns = n * 1000000;
		else if (!strcmp(w, "end_ms"))
			e->flow.end_ns = n * 1000000;
		else if (!strcmp(w, "reason"))
			e->flow.reason = reason(v);
		else if (!strcmp(w, "ifindex"))
			e->ifindex = n;
		else if (!strcmp(w, "dir"))
			e->direction = !strcmp(v, "out") ? HDRLOG_DIR_OUTBOUND :
							   HDRLOG_DIR_INBOUND;
		else if (!strcmp(w, "vlan")) {
			e->vlan[0] = n;
			e->vlan_count = 1;
		} else if (!strcmp(w, "icmp_type") || !strcmp(w, "icmp_code")) {
			/* present as the decoder makes them: both or none */
			e->present |= FIELD_BIT(F_ICMP_TYPE) | FIELD_BIT(F_ICMP_CODE);
			if (w[5] == 't')
				e->icmp_type = n;
			else
				e->icmp_code = n;
		}
		else if (!strcmp(w, "min_ttl"))
			e->flow.min_ttl = n;
		else if (!strcmp(w, "max_ttl"))
			e->flow.max_ttl = n;
		else if (!strcmp(w, "dropped"))
			e->flow.dropped_pkts = n;
		else if (!strcmp(w, "pid")) {
			e->present |= FIELD_BIT(F_PID);
			e->pid = n;
		} else if (!strcmp(w, "comm")) {
			e->present |= FIELD_BIT(F_COMM);
			snprintf(e->comm, sizeof(e->comm), "%s", v);
		}
		else if (!strcmp(w, "src_lists"))
			e->n_src_lists = split_lists(v, e->src_lists, 0);
		else if (!strcmp(w, "dest_lists"))
			e->n_dest_lists = split_lists(v, e->dest_lists, 1);
		else if (!strcmp(w, "cid")) {
			e->present |= FIELD_BIT(F_COMMUNITY_ID);
			snprintf(e->community_id, sizeof(e->community_id), "%s", v);
		} else {
			fprintf(stderr, "ipfix_send: unknown key %s\n", w);
			exit(2);
		}
	}
	e->flow.ended = e->flow.reason != FLOW_END_ACTIVE;
	e->time_ns = e->flow.end_ns;
}

static void counts(const struct sink *s)
{
	printf("records=%llu written=%llu failed=%llu skipped=%llu cut=%llu\n",
	       (unsigned long long)s->records, (unsigned long long)s->written,
	       (unsigned long long)s->failed, (unsigned long long)s->skipped,
	       (unsigned long long)s->cut);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct sink_config cfg = { .fields = ~0ULL };
	char line[4096];
	struct sink *s;
	int i = 1;

	for (; i + 2 < argc; i += 2) {	/* --domain N, --rate N */
		if (!strcmp(argv[i], "--domain"))
			cfg.ipfix_domain = strtoul(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--rate"))
			cfg.ipfix_rate = strtoul(argv[i + 1], NULL, 0);
		else
			break;
	}
	if (i != argc - 1) {
		fprintf(stderr, "usage: ipfix_send [--domain N] [--rate N] ipfix://HOST:PORT < records\n");
		return 2;
	}
	s = sink_create(argv[i], &cfg);
	if (!s)
		return 1;
	while (fgets(line, sizeof(line), stdin)) {
		struct event e;

		if (!strncmp(line, "flush", 5)) {
			s->ops->flush(s);
			counts(s);
		} else if (!strcmp(line, "stop\n")) {
			sink_capture_over = true;
		} else if (!strncmp(line, "sleep=", 6)) {
			long ms = strtol(line + 6, NULL, 10);
			struct timespec ts = { ms / 1000, ms % 1000 * 1000000 };

			nanosleep(&ts, NULL);
		} else if (line[0] != '\n' && line[0] != '#') {
			parse(line, &e);
			sink_write(s, &e);
		}
	}
	s->ops->flush(s);
	sink_close(s);
	counts(s);
	sink_destroy(s);
	return 0;
}
