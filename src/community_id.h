/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Community ID flow hashing, version 1 (corelight community-id-spec). */
#ifndef HDRLOG_COMMUNITY_ID_H
#define HDRLOG_COMMUNITY_ID_H

#include <stdint.h>

#define COMMUNITY_ID_LEN 30	/* "1:" + 28 base64 characters */

/*
 * Addresses are 4 bytes for ip_v 4 and 16 for ip_v 6, in network order;
 * ports in host order. For ICMP and ICMPv6 pass the type as sport and
 * the code as dport. Writes COMMUNITY_ID_LEN characters and a NUL to
 * out; returns the length, or -1 for a protocol the spec gives no ports
 * to and which is not TCP, UDP, SCTP, ICMP or ICMPv6.
 */
int community_id_v1(uint16_t seed, int ip_v, const uint8_t *saddr,
		    const uint8_t *daddr, uint8_t proto, uint16_t sport,
		    uint16_t dport, char *out);

/*
 * The same, for a tuple hashed once (a flow record: one a flow, or one
 * per active timeout): the cache of recent ids, which records of one
 * connection in a burst hit, is neither read nor filled. At a million
 * flows exported at once its lookups missed every time, each costing a
 * cache line fetched and one evicted.
 */
int community_id_v1_once(uint16_t seed, int ip_v, const uint8_t *saddr,
			 const uint8_t *daddr, uint8_t proto, uint16_t sport,
			 uint16_t dport, char *out);

#endif
