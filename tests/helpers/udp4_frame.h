/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * A 64-byte Ethernet/IPv4/UDP frame to 02:00:00:00:00:02 from
 * 02:00:00:00:00:01, TTL 64, its IPv4 header checksum set (hdrlog's
 * parser checks it) and the UDP checksum 0 (none): what the BPF_PROG_RUN
 * drivers tests/helpers/flow_race.c and tests/bench/flow_prog_run.c run
 * the XDP program on, one flow per call with other addresses or ports.
 */
#ifndef HDRLOG_TESTS_UDP4_FRAME_H
#define HDRLOG_TESTS_UDP4_FRAME_H

#include <stdint.h>
#include <string.h>

#define UDP4_FRAME_LEN	64

static inline void udp4_frame(uint8_t f[UDP4_FRAME_LEN], const uint8_t src[4],
			      const uint8_t dst[4], uint16_t sport,
			      uint16_t dport)
{
	static const uint8_t eth[14] = { 2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1,
					 8, 0 };
	uint8_t *ip = f + 14, *udp = ip + 20;
	uint32_t s = 0;

	memset(f, 0, UDP4_FRAME_LEN);
	memcpy(f, eth, sizeof(eth));
	ip[0] = 0x45;
	ip[3] = UDP4_FRAME_LEN - 14;
	ip[8] = 64;
	ip[9] = 17;
	memcpy(ip + 12, src, 4);
	memcpy(ip + 16, dst, 4);
	for (int k = 0; k < 20; k += 2)
		s += ip[k] << 8 | ip[k + 1];
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	ip[10] = ~s >> 8;
	ip[11] = ~s;
	udp[0] = sport >> 8;
	udp[1] = sport;
	udp[2] = dport >> 8;
	udp[3] = dport;
	udp[5] = UDP4_FRAME_LEN - 14 - 20;
}

#endif
