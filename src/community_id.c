// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Community ID v1, following corelight's community-id-spec and its
 * reference implementation (pycommunityid), ICMP handling included.
 */
#include <endian.h>
#include <stdbool.h>
#include <string.h>

#include "community_id.h"
#include "sha1.h"

#define PROTO_ICMP	1
#define PROTO_TCP	6
#define PROTO_UDP	17
#define PROTO_ICMPV6	58
#define PROTO_SCTP	132

/*
 * The request/reply counterpart of an ICMP type, or -1 when the type has
 * none; such messages are one-way and their code stands in for dport.
 * Same pairs as Zeek's ICMP4_counterpart/ICMP6_counterpart.
 */
static int icmp4_counterpart(unsigned int type)
{
	switch (type) {
	case 8:  return 0;	/* echo */
	case 0:  return 8;
	case 10: return 9;	/* router solicitation/advertisement */
	case 9:  return 10;
	case 13: return 14;	/* timestamp */
	case 14: return 13;
	case 15: return 16;	/* information */
	case 16: return 15;
	case 17: return 18;	/* address mask */
	case 18: return 17;
	default: return -1;
	}
}

static int icmp6_counterpart(unsigned int type)
{
	switch (type) {
	case 128: return 129;	/* echo */
	case 129: return 128;
	case 133: return 134;	/* router solicitation/advertisement */
	case 134: return 133;
	case 135: return 136;	/* neighbor solicitation/advertisement */
	case 136: return 135;
	case 130: return 131;	/* MLD query/report */
	case 131: return 130;
	case 139: return 140;	/* node information ("who are you") */
	case 140: return 139;
	case 144: return 145;	/* home agent address discovery */
	case 145: return 144;
	default: return -1;
	}
}

/*
 * Records of one flow come in bursts, and SHA-1 is the dearest part of a
 * record, so the last ids are kept, direct-mapped by the hash input. One
 * capture thread uses this, hence no locking.
 */
#define CACHE_SLOTS 1024

struct cache_slot {
	uint8_t in[40];
	uint8_t len;
	char id[COMMUNITY_ID_LEN + 1];
};

static struct cache_slot cache[CACHE_SLOTS];

static struct cache_slot *cache_slot_for(const uint8_t *in, size_t n)
{
	uint64_t h = n, w;

	for (size_t i = 0; i + 8 <= n; i += 8) {
		memcpy(&w, in + i, 8);
		h = (h ^ w) * 0x9e3779b97f4a7c15ull;
	}
	return &cache[(h >> 40) % CACHE_SLOTS];
}

/*
 * memcmp() of two addresses, 4 or 16 bytes, as big-endian words: no
 * library call per record (memcmp was 3% of a flow export's CPU).
 */
static int addr_cmp(const uint8_t *a, const uint8_t *b, size_t alen)
{
	uint64_t x, y;

	for (size_t i = 0; i < alen; i += 8) {
		if (alen - i < 8) {
			uint32_t x32, y32;

			memcpy(&x32, a + i, 4);
			memcpy(&y32, b + i, 4);
			x = be32toh(x32);
			y = be32toh(y32);
		} else {
			memcpy(&x, a + i, 8);
			memcpy(&y, b + i, 8);
			x = be64toh(x);
			y = be64toh(y);
		}
		if (x != y)
			return x < y ? -1 : 1;
	}
	return 0;
}

static const char b64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int make_id(uint16_t seed, int ip_v, const uint8_t *saddr,
		   const uint8_t *daddr, uint8_t proto, uint16_t sport,
		   uint16_t dport, char *out, bool cached)
{
	/* seed 2 + addrs 2 * 16 + proto 1 + pad 1 + ports 4 */
	uint8_t in[40], md[SHA1_DIGEST_SIZE];
	struct cache_slot *slot;
	const uint8_t *a = saddr, *b = daddr;
	uint16_t pa = sport, pb = dport;
	bool one_way = false;
	size_t alen, n;
	char *o;
	int cp, cmp, i;

	if (ip_v == 4)
		alen = 4;
	else if (ip_v == 6)
		alen = 16;
	else
		return -1;

	switch (proto) {
	case PROTO_TCP:
	case PROTO_UDP:
	case PROTO_SCTP:
		break;
	case PROTO_ICMP:
	case PROTO_ICMPV6:
		cp = proto == PROTO_ICMP ? icmp4_counterpart(sport)
					 : icmp6_counterpart(sport);
		if (cp >= 0)
			pb = cp;
		else
			one_way = true;	/* keep the code as dport */
		break;
	default:
		return -1;
	}

	/* Lower (addr, port) endpoint first, so both directions agree. */
	if (!one_way) {
		cmp = addr_cmp(a, b, alen);
		if (cmp > 0 || (cmp == 0 && pa > pb)) {
			const uint8_t *t = a;
			uint16_t tp = pa;

			a = b;
			b = t;
			pa = pb;
			pb = tp;
		}
	}

	in[0] = seed >> 8;
	in[1] = seed;
	memcpy(in + 2, a, alen);
	memcpy(in + 2 + alen, b, alen);
	n = 2 + 2 * alen;
	in[n++] = proto;
	in[n++] = 0;
	in[n++] = pa >> 8;
	in[n++] = pa;
	in[n++] = pb >> 8;
	in[n++] = pb;

	slot = cached ? cache_slot_for(in, n) : NULL;
	if (slot && slot->len == n && !memcmp(slot->in, in, n)) {
		memcpy(out, slot->id, COMMUNITY_ID_LEN + 1);
		return COMMUNITY_ID_LEN;
	}
	sha1(in, n, md);

	/* Standard base64: 6 full groups, then 2 bytes -> 3 chars + '=' */
	o = out;
	*o++ = '1';
	*o++ = ':';
	for (i = 0; i < 18; i += 3) {
		uint32_t v = (uint32_t)md[i] << 16 | md[i + 1] << 8 | md[i + 2];

		*o++ = b64[v >> 18];
		*o++ = b64[(v >> 12) & 63];
		*o++ = b64[(v >> 6) & 63];
		*o++ = b64[v & 63];
	}
	*o++ = b64[md[18] >> 2];
	*o++ = b64[((md[18] & 3) << 4) | (md[19] >> 4)];
	*o++ = b64[(md[19] & 15) << 2];
	*o++ = '=';
	*o = '\0';

	if (slot) {
		memcpy(slot->in, in, n);
		slot->len = n;
		memcpy(slot->id, out, COMMUNITY_ID_LEN + 1);
	}
	return COMMUNITY_ID_LEN;
}

int community_id_v1(uint16_t seed, int ip_v, const uint8_t *saddr,
		    const uint8_t *daddr, uint8_t proto, uint16_t sport,
		    uint16_t dport, char *out)
{
	return make_id(seed, ip_v, saddr, daddr, proto, sport, dport, out,
		       true);
}

int community_id_v1_once(uint16_t seed, int ip_v, const uint8_t *saddr,
			 const uint8_t *daddr, uint8_t proto, uint16_t sport,
			 uint16_t dport, char *out)
{
	return make_id(seed, ip_v, saddr, daddr, proto, sport, dport, out,
		       false);
}
