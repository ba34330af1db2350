// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * SHA-1 per FIPS 180-4. One-shot only: Community ID input is at most 40
 * bytes, so the common case is a single compression with no copying
 * beyond the final padded block.
 *
 * Two block functions: the portable one, and on x86 CPUs with the SHA
 * extensions (SHA-NI) one built on them, chosen at the first call. Every
 * flow and packet record with ports hashes its Community ID, and at a
 * million flows exported at once SHA-1 and the Community ID were a fifth
 * of hdrlog's userspace CPU (a one-block hash took 190 ns here, with
 * SHA-NI 79). The unit tests run both on the same vectors.
 */
#include <stdbool.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>
#define HAVE_SHANI_BUILD 1
#endif

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

static void sha1_block_portable(uint32_t h[5], const uint8_t *p)
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

#ifdef HAVE_SHANI_BUILD
/*
 * Intel's SHA extensions: four rounds an instruction (sha1rnds4, whose
 * immediate picks the round function: rounds 0-19, 20-39, ...), four
 * words of the message schedule to a register. Group g does rounds
 * 4g..4g+3 with m[g % 4] = W[4g..4g+3], which sha1nexte adds to e (the
 * rotated a of four rounds before). The words of later groups are made on
 * the way, W[t] = rol1(W[t-3] ^ W[t-8] ^ W[t-14] ^ W[t-16]): for group
 * g+1, sha1msg1 in group g-2 takes the t-16 and t-14 terms, the xor in
 * group g-1 the t-8 one, sha1msg2 in group g the t-3 one and the rotate.
 */
#define SHANI_GROUP(g, ecur, enext) do {					\
	if ((g) < 4)								\
		m[(g) % 4] = _mm_shuffle_epi8(_mm_loadu_si128(			\
			(const __m128i *)(p + 16 * (g))), bswap);		\
	if ((g) == 0)								\
		ecur = _mm_add_epi32(ecur, m[0]);				\
	else									\
		ecur = _mm_sha1nexte_epu32(ecur, m[(g) % 4]);			\
	enext = abcd;								\
	if ((g) >= 3 && (g) <= 18)						\
		m[((g) + 1) % 4] = _mm_sha1msg2_epu32(m[((g) + 1) % 4],	\
						      m[(g) % 4]);		\
	abcd = _mm_sha1rnds4_epu32(abcd, ecur, (g) / 5);			\
	if ((g) >= 1 && (g) <= 16)						\
		m[((g) + 3) % 4] = _mm_sha1msg1_epu32(m[((g) + 3) % 4],	\
						      m[(g) % 4]);		\
	if ((g) >= 2 && (g) <= 17)						\
		m[((g) + 2) % 4] = _mm_xor_si128(m[((g) + 2) % 4],		\
						 m[(g) % 4]);			\
} while (0)

__attribute__((target("sha,ssse3,sse4.1")))
static void sha1_block_shani(uint32_t h[5], const uint8_t *p)
{
	/* the words are big-endian: byte-reverse each 16-byte load */
	const __m128i bswap = _mm_set_epi64x(0x0001020304050607ll,
					     0x08090a0b0c0d0e0fll);
	__m128i abcd, abcd_save, e0, e1, e_save, m[4];

	/* a in the high lane, as sha1rnds4 wants it; e in the high lane */
	abcd = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)h), 0x1b);
	e0 = _mm_set_epi32((int)h[4], 0, 0, 0);
	abcd_save = abcd;
	e_save = e0;

	SHANI_GROUP(0, e0, e1);
	SHANI_GROUP(1, e1, e0);
	SHANI_GROUP(2, e0, e1);
	SHANI_GROUP(3, e1, e0);
	SHANI_GROUP(4, e0, e1);
	SHANI_GROUP(5, e1, e0);
	SHANI_GROUP(6, e0, e1);
	SHANI_GROUP(7, e1, e0);
	SHANI_GROUP(8, e0, e1);
	SHANI_GROUP(9, e1, e0);
	SHANI_GROUP(10, e0, e1);
	SHANI_GROUP(11, e1, e0);
	SHANI_GROUP(12, e0, e1);
	SHANI_GROUP(13, e1, e0);
	SHANI_GROUP(14, e0, e1);
	SHANI_GROUP(15, e1, e0);
	SHANI_GROUP(16, e0, e1);
	SHANI_GROUP(17, e1, e0);
	SHANI_GROUP(18, e0, e1);
	SHANI_GROUP(19, e1, e0);

	e0 = _mm_sha1nexte_epu32(e0, e_save);	/* e += e_save, rotated */
	abcd = _mm_add_epi32(abcd, abcd_save);
	_mm_storeu_si128((__m128i *)h, _mm_shuffle_epi32(abcd, 0x1b));
	h[4] = (uint32_t)_mm_extract_epi32(e0, 3);
}

/*
 * CPUID: SHA (leaf 7 EBX bit 29), SSSE3 and SSE4.1 (leaf 1 ECX bits 9
 * and 19). Asked directly: some clang versions know no "sha" for
 * __builtin_cpu_supports().
 */
static bool cpu_has_shani(void)
{
	unsigned int a, b, c, d;

	if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & 1u << 9) ||
	    !(c & 1u << 19))
		return false;
	return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & 1u << 29);
}
#endif

static void (*block_fn)(uint32_t h[5], const uint8_t *p);

int sha1_use(enum sha1_impl impl)
{
	switch (impl) {
	case SHA1_PORTABLE:
		block_fn = sha1_block_portable;
		return 0;
	case SHA1_SHANI:
#ifdef HAVE_SHANI_BUILD
		if (cpu_has_shani()) {
			block_fn = sha1_block_shani;
			return 0;
		}
#endif
		return -1;
	}
	return -1;
}

static void sha1_block(uint32_t h[5], const uint8_t *p)
{
	if (!block_fn && sha1_use(SHA1_SHANI))
		block_fn = sha1_block_portable;
	block_fn(h, p);
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
	/* zeroed whole: a constant size is a few stores, a variable one rep stos */
	memset(tail, 0, sizeof(tail));
	if (rest)
		memcpy(tail, p, rest);
	tail[rest] = 0x80;
	put_be32(tail + tail_len - 8, bits >> 32);
	put_be32(tail + tail_len - 4, (uint32_t)bits);

	sha1_block(h, tail);
	if (tail_len == 128)
		sha1_block(h, tail + 64);

	for (i = 0; i < 5; i++)
		put_be32(digest + 4 * i, h[i]);
}
