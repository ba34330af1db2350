// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "flows.h"

#define BUCKETS	16384	/* x WAYS connections */
#define WAYS	4

/* Both directions of a connection make one key: lower endpoint first. */
struct flow_key {
	uint8_t a[16];
	uint8_t b[16];
	uint16_t pa;
	uint16_t pb;
	uint8_t ip_v;
	uint8_t proto;
	uint8_t pad[2];
	uint32_t netns;		/* the same 5-tuple may live in two namespaces */
};

struct flow {
	struct flow_key key;
	uint64_t seq;		/* 0: free */
	uint32_t pid;
	char comm[17];
	bool closed;		/* kept for flow records, which come later */
};

struct flows {
	uint64_t seq;
	struct flow slot[BUCKETS][WAYS];
};

static void make_key(struct flow_key *k, const struct event *e, uint32_t netns)
{
	size_t n = e->ip_v == 4 ? 4 : 16;
	int cmp = memcmp(e->src_ip, e->dest_ip, n);
	int swap = cmp > 0 || (!cmp && e->src_port > e->dest_port);

	memset(k, 0, sizeof(*k));
	memcpy(k->a, swap ? e->dest_ip : e->src_ip, n);
	memcpy(k->b, swap ? e->src_ip : e->dest_ip, n);
	k->pa = swap ? e->dest_port : e->src_port;
	k->pb = swap ? e->src_port : e->dest_port;
	k->ip_v = e->ip_v;
	k->proto = e->ip_proto;
	k->netns = netns;
}

static struct flow *bucket(const struct flows *f, const struct flow_key *k)
{
	const uint8_t *p = (const uint8_t *)k;
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < sizeof(*k); i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return (struct flow *)f->slot[h % BUCKETS];
}

struct flows *flows_new(void)
{
	return calloc(1, sizeof(struct flows));
}

void flows_free(struct flows *f)
{
	free(f);
}

static bool is_flow_event(const struct event *e)
{
	return event_has(e, F_SRC_PORT) && event_has(e, F_DEST_PORT) &&
	       (e->ip_v == 4 || e->ip_v == 6);
}

void flows_learn(struct flows *f, const struct event *e)
{
	struct flow_key k;
	struct flow *b, *victim;

	if (!f || !is_flow_event(e) || !event_has(e, F_PID))
		return;
	make_key(&k, e, e->netns);
	b = bucket(f, &k);
	victim = &b[0];
	for (int i = 0; i < WAYS; i++) {
		if (b[i].seq && !memcmp(&b[i].key, &k, sizeof(k))) {
			victim = &b[i];
			break;
		}
		if (b[i].seq < victim->seq)
			victim = &b[i];	/* free (0) or oldest */
	}
	/*
	 * Closed: packets no longer take its process (a new connection of
	 * the same addresses and ports may belong to another), but the
	 * flow record, exported seconds later, still may; the oldest entry
	 * of the bucket goes first as ever.
	 */
	if (e->sock_event == HDRLOG_SOCK_CLOSE) {
		if (victim->seq && !memcmp(&victim->key, &k, sizeof(k)))
			victim->closed = true;
		return;
	}
	victim->closed = false;
	victim->key = k;
	victim->seq = ++f->seq;
	victim->pid = e->pid;
	memcpy(victim->comm, e->comm, sizeof(victim->comm));
}

void flows_annotate(const struct flows *f, struct event *e, uint32_t netns)
{
	struct flow_key k;
	const struct flow *b;
	bool any = e->event_type == EVENT_FLOW;	/* closed ones too */

	/* the kernel named the sending socket's process: exact, it stays */
	if (!f || !is_flow_event(e) || event_has(e, F_PID))
		return;
	make_key(&k, e, netns);
	b = bucket(f, &k);
	for (int i = 0; i < WAYS; i++)
		if (b[i].seq && (any || !b[i].closed) &&
		    !memcmp(&b[i].key, &k, sizeof(k))) {
			e->pid = b[i].pid;
			memcpy(e->comm, b[i].comm, sizeof(e->comm));
			e->present |= FIELD_BIT(F_PID) | FIELD_BIT(F_COMM);
			return;
		}
}
