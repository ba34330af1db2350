// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * SHA-1 per FIPS 180-4. One-shot only: Community ID input is at most 40
 * bytes, so the common case is a single compression with no copying
 * beyond the final padded block.
 */
#include <string.h>

#include "sha1.h"

static inline uint32_t rol32(uint32_t x, unsigned int n)
{
	return (x << n) | (x >> (32 - n));
}

static inline uint32_t get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static inline void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

/* Message schedule kept as a 16-word ring (FIPS 180-4 6.1.3 note). */
#define W(t)	w[(t) & 15]
#define SCHED(t) \
	(W(t) = rol32(W((t) + 13) ^ W((t) + 8) ^ W((t) + 2) ^ W(t), 1))

#define F1(b, c, d)	(((c ^ d) & b) ^ d)	/* Ch */
#define F2(b, c, d)	(b ^ c ^ d)		/* Parity */
#define F3(b, c, d)	((b & c) | ((b | c) & d)) /* Maj */

#define ROUND(a, b, c, d, e, f, k, wt) do {			\
	e += rol32(a, 5) + f(b, c, d) + (k) + (wt);		\
	b = rol32(b, 30);					\
} while (0)

/* Five rounds rotate the variables back into place. */
#define R5(t, f, k, wt) do {					\
	ROUND(a, b, c, d, e, f, k, wt(t));			\
	ROUND(e, a, b, c, d, f, k, wt((t) + 1));		\
	ROUND(d, e, a, b, c, f, k, wt((t) + 2));		\
	ROUND(c, d, e, a, b, f, k, wt((t) + 3));		\
	ROUND(b, c, d, e, a, f, k, wt((t) + 4));		\
} while (0)

#define K1 0x5a827999u
#define K2 0x6ed9eba1u
#define K3 0x8f1bbcdcu
#define K4 0xca62c1d6u

static void sha1_block(uint32_t h[5], const uint8_t *p)
{
	uint32_t w[16];
	uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
	int i;

	for (i = 0; i < 16; i++)
		w[i] = get_be32(p + 4 * i);

	R5(0, F1, K1, W);
	R5(5, F1, K1, W);
	R5(10, F1, K1, W);
	/* Rounds 15 and 16..19 straddle the end of the loaded words. */
	ROUND(a, b, c, d, e, F1, K1, W(15));
	ROUND(e, a, b, c, d, F1, K1, SCHED(16));
	ROUND(d, e, a, b, c, F1, K1, SCHED(17));
	ROUND(c, d, e, a, b, F1, K1, SCHED(18));
	ROUND(b, c, d, e, a, F1, K1, SCHED(19));

	R5(20, F2, K2, SCHED);
	R5(25, F2, K2, SCHED);
	R5(30, F2, K2, SCHED);
	R5(35, F2, K2, SCHED);

	R5(40, F3, K3, SCHED);
	R5(45, F3, K3, SCHED);
	R5(50, F3, K3, SCHED);
	R5(55, F3, K3, SCHED);

	R5(60, F2, K4, SCHED);
	R5(65, F2, K4, SCHED);
	R5(70, F2, K4, SCHED);
	R5(75, F2, K4, SCHED);

	h[0] += a;
	h[1] += b;
	h[2] += c;
	h[3] += d;
	h[4] += e;
}

void sha1(const void *data, size_t len, uint8_t digest[SHA1_DIGEST_SIZE])
{
	uint32_t h[5] = {
		0x67452301u, 0xefcdab89u, 0x98badcfeu, 0x10325476u, 0xc3d2e1f0u,
	};
	const uint8_t *p = data;
	uint64_t bits = (uint64_t)len << 3;
	uint8_t tail[128];
	size_t rest, tail_len;
	int i;

	for (; len >= 64; len -= 64, p += 64)
		sha1_block(h, p);

	/* 0x80, zeros, then the 64-bit big-endian bit length: 1 or 2 blocks */
	rest = len;
	tail_len = rest < 56 ? 64 : 128;
	if (rest)
		memcpy(tail, p, rest);
	tail[rest] = 0x80;
	memset(tail + rest + 1, 0, tail_len - 8 - rest - 1);
	put_be32(tail + tail_len - 8, bits >> 32);
	put_be32(tail + tail_len - 4, (uint32_t)bits);

	sha1_block(h, tail);
	if (tail_len == 128)
		sha1_block(h, tail + 64);

	for (i = 0; i < 5; i++)
		put_be32(digest + 4 * i, h[i]);
}
