// SPDX-License-Identifier: GPL-2.0-or-later
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "community_id.h"
#include "sha1.h"

/* --- SHA-1 ---------------------------------------------------------------- */

static void digest_hex(const uint8_t *md, char *hex)
{
	int i;

	for (i = 0; i < SHA1_DIGEST_SIZE; i++)
		sprintf(hex + 2 * i, "%02x", md[i]);
}

/* Each vector through every block function this CPU runs. */
static void check_sha1(const void *data, size_t len, const char *want)
{
	static const enum sha1_impl impls[] = { SHA1_PORTABLE, SHA1_SHANI };
	uint8_t md[SHA1_DIGEST_SIZE];
	char hex[2 * SHA1_DIGEST_SIZE + 1];

	for (size_t i = 0; i < sizeof(impls) / sizeof(impls[0]); i++) {
		if (sha1_use(impls[i]))
			continue;	/* no SHA-NI here: the portable one did */
		sha1(data, len, md);
		digest_hex(md, hex);
		assert_string_equal(hex, want);
	}
	sha1_use(SHA1_SHANI);	/* the default again, where there is one */
}

/* FIPS 180-4 example vectors (NIST CSRC "SHA1.pdf" / FIPS 180-2 App. A) */
static void test_sha1_fips(void **state)
{
	static const char m448[] =
		"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	static const char m896[] =
		"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
		"hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";

	(void)state;
	check_sha1("abc", 3, "a9993e364706816aba3e25717850c26c9cd0d89d");
	check_sha1("", 0, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
	check_sha1(m448, strlen(m448),
		   "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
	check_sha1(m896, strlen(m896),
		   "a49b2446a02c645bf419f995b67091253a04a259");
}

static void test_sha1_million_a(void **state)
{
	size_t n = 1000000;
	char *m = malloc(n);

	(void)state;
	assert_non_null(m);
	memset(m, 'a', n);
	check_sha1(m, n, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
	free(m);
}

/* Lengths around the padding boundaries; expected from Python hashlib. */
static void test_sha1_padding_edges(void **state)
{
	static const struct {
		size_t len;
		const char *md;
	} v[] = {
		{ 55, "ddf57317ef34bfee3b6df83d359098930eb278bc" },
		{ 56, "a0d492bb0fc889d0eca3bc137066ab6f4f74f369" },
		{ 57, "11a02dcf95859677a62e75024067c22b165d890f" },
		{ 63, "c55856749bef509bdfe6bfebfc7bf4e793e82132" },
		{ 64, "bede92be29c3874e1b54ddc77988d606fc857a8e" },
		{ 65, "b05a80522b053d6dc7e0a517d0e70212c7dad11f" },
		{ 119, "504e27376a6e0f0dba8295b85cb25dc4dfa17d23" },
		{ 120, "82134b02fb3f702491be9bed581eeab59334acb2" },
		{ 128, "a09133e6730ffe899efb70204cb5646cd5dc24ee" },
	};
	uint8_t buf[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = i * 7 + 3;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		check_sha1(buf, v[i].len, v[i].md);
}

/*
 * SHA-NI, where the CPU has it, against the portable function on every
 * length up to four blocks of varied bytes (the vectors above are few).
 */
static void test_sha1_shani_matches(void **state)
{
	uint8_t buf[256], want[SHA1_DIGEST_SIZE], got[SHA1_DIGEST_SIZE];
	uint32_t x = 12345;

	(void)state;
	if (sha1_use(SHA1_SHANI)) {
		print_message("no SHA-NI on this CPU: only the portable SHA-1 checked\n");
		skip();
	}
	for (size_t i = 0; i < sizeof(buf); i++) {
		x = x * 1103515245 + 12345;
		buf[i] = x >> 16;
	}
	for (size_t len = 0; len <= sizeof(buf); len++) {
		sha1_use(SHA1_PORTABLE);
		sha1(buf, len, want);
		sha1_use(SHA1_SHANI);
		sha1(buf, len, got);
		assert_memory_equal(got, want, SHA1_DIGEST_SIZE);
	}
}

/* --- Community ID ------------------------------------------------------- */

struct cid_vec {
	uint8_t proto;
	const char *saddr, *daddr;
	uint16_t sport, dport;	/* type and code for ICMP */
	const char *id0;	/* seed 0 */
	const char *id1;	/* seed 1, or NULL when not published */
};

/*
 * From corelight/community-id-spec baseline/README.md (tables),
 * baseline/baseline_{deflt,seed1}.json (ICMP rows there list the mapped
 * "ports"; the code for paired types is not hashed, 0 is used here) and
 * pycommunityid tests/communityid_test.py.
 */
static const struct cid_vec vecs[] = {
	/* baseline tables */
	{ 6, "1.2.3.4", "5.6.7.8", 1122, 3344,
	  "1:wCb3OG7yAFWelaUydu0D+125CLM=", "1:HhA1B+6CoLbiKPEs5nhNYN4XWfk=" },
	{ 6, "5.6.7.8", "1.2.3.4", 3344, 1122,
	  "1:wCb3OG7yAFWelaUydu0D+125CLM=", "1:HhA1B+6CoLbiKPEs5nhNYN4XWfk=" },
	{ 17, "1.2.3.4", "5.6.7.8", 1122, 3344,
	  "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg=", "1:OShq+iKDAMVouh/4bMxB9Sz4amw=" },
	{ 17, "5.6.7.8", "1.2.3.4", 3344, 1122,
	  "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg=", "1:OShq+iKDAMVouh/4bMxB9Sz4amw=" },
	{ 132, "1.2.3.4", "5.6.7.8", 1122, 3344,
	  "1:EKt4MsxuyaE6mL+hmrEkQ9csDD8=", "1:uitchpn5MMGAQKBJh7bIr/bAr7s=" },
	{ 132, "5.6.7.8", "1.2.3.4", 3344, 1122,
	  "1:EKt4MsxuyaE6mL+hmrEkQ9csDD8=", "1:uitchpn5MMGAQKBJh7bIr/bAr7s=" },
	{ 1, "1.2.3.4", "5.6.7.8", 8, 0,
	  "1:crodRHL2FEsHjbv3UkRrfbs4bZ0=", "1:9pr4ZGTICiuZoIh90RRYE2RyXpU=" },
	{ 1, "5.6.7.8", "1.2.3.4", 0, 0,
	  "1:crodRHL2FEsHjbv3UkRrfbs4bZ0=", "1:9pr4ZGTICiuZoIh90RRYE2RyXpU=" },
	{ 1, "1.2.3.4", "5.6.7.8", 11, 0,
	  "1:f/YiSyWqczrTgfUCZlBUnvHRcPk=", "1:1DD7cWGC/Yg91YGsQeni8du3pIA=" },
	{ 58, "fe80:0001:0203:0405:0607:0809:0A0B:0C0D",
	  "fe80:1011:1213:1415:1617:1819:1A1B:1C1D", 128, 0,
	  "1:0bf7hyMJUwt3fMED7z8LIfRpBeo=", "1:IO27GQzPuCtNnwFvjWALMHu5tJE=" },
	{ 58, "fe80:1011:1213:1415:1617:1819:1A1B:1C1D",
	  "fe80:0001:0203:0405:0607:0809:0A0B:0C0D", 129, 0,
	  "1:0bf7hyMJUwt3fMED7z8LIfRpBeo=", "1:IO27GQzPuCtNnwFvjWALMHu5tJE=" },
	{ 58, "fe80:0001:0203:0405:0607:0809:0A0B:0C0D",
	  "fe80:1011:1213:1415:1617:1819:1A1B:1C1D", 146, 0,
	  "1:fYC8+pz24E+EhANP1EZhpX0Dw10=", "1:Cv4IKJe56BNkF0MBW2YxQ3Nwc3s=" },

	/* baseline JSON (pcaps/combined.pcap.gz) */
	{ 58, "fe80::200:86ff:fe05:80da", "fe80::260:97ff:fe07:69ea", 135, 0,
	  "1:dGHyGvjMfljg6Bppwm3bg0LO8TY=", "1:kHa1FhMYIT6Ym2Vm2AOtoOARDzY=" },
	{ 58, "fe80::260:97ff:fe07:69ea", "fe80::200:86ff:fe05:80da", 136, 0,
	  "1:dGHyGvjMfljg6Bppwm3bg0LO8TY=", "1:kHa1FhMYIT6Ym2Vm2AOtoOARDzY=" },
	/* same pair, solicitation the other way: a different flow */
	{ 58, "fe80::260:97ff:fe07:69ea", "fe80::200:86ff:fe05:80da", 135, 0,
	  "1:zavyT/cezQr1fmImYCwYnMXbgck=", "1:2hSqmsDZ2kdcY9kbiUzOEBic0iM=" },
	{ 58, "fe80::200:86ff:fe05:80da", "fe80::260:97ff:fe07:69ea", 136, 0,
	  "1:zavyT/cezQr1fmImYCwYnMXbgck=", "1:2hSqmsDZ2kdcY9kbiUzOEBic0iM=" },
	{ 58, "3ffe:501:1800:2345::2", "3ffe:507:0:1:200:86ff:fe05:80da", 3, 0,
	  "1:2ObVBgIn28oZvibYZhZMBgh7WdQ=", "1:lVEtCZpYu84Xqaa++3lXFyuu2n4=" },
	{ 58, "3ffe:501:410:0:2c0:dfff:fe47:33e",
	  "3ffe:507:0:1:200:86ff:fe05:80da", 1, 4,
	  "1:hLZd0XGWojozrvxqE0dWB1iM6R0=", "1:W8MHwXpWzpoSTD+cGcaJr4u0ys8=" },
	{ 58, "3ffe:507:0:1:200:86ff:fe05:80da", "3ffe:501:0:1001::2", 128, 0,
	  "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg=", "1:GfZxjAkDk2MkegpBYHV6tadtFXQ=" },
	{ 58, "3ffe:501:0:1001::2", "3ffe:507:0:1:200:86ff:fe05:80da", 129, 0,
	  "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg=", "1:GfZxjAkDk2MkegpBYHV6tadtFXQ=" },
	{ 58, "fe80::200:86ff:fe05:80da", "ff02::2", 133, 0,
	  "1:hO+sN4H+MG5MY/8hIrXPqc4ZQz0=", "1:L7Ka0ZMYu+J3bL4ulW2PrqyXNo8=" },
	{ 58, "fe80::260:97ff:fe07:69ea", "ff02::1", 134, 0,
	  "1:pkvHqCL88/tg1k4cPigmZXUtL00=", "1:K/ee5UCqAMAQXDorP5nSa2CGLjc=" },
	{ 1, "192.168.0.89", "192.168.0.1", 8, 0,
	  "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=", "1:03g6IloqVBdcZlPyX8r0hgoE7kA=" },
	{ 1, "192.168.0.1", "192.168.0.89", 0, 0,
	  "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=", "1:03g6IloqVBdcZlPyX8r0hgoE7kA=" },
	{ 1, "10.0.0.1", "10.0.0.2", 11, 0,
	  "1:YHxtAirCG//0OzkcVAukqKQN9xM=", "1:XjUibYHaafLQ3pxQeiMI8g25q20=" },
	{ 6, "2001:470:e5bf:dead:4957:2174:e82c:4887", "2607:f8b0:400c:c03::1a",
	  63943, 25,
	  "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=", "1:eJYTW6AOzFLlSUoESovMjnu7rMw=" },
	{ 6, "2607:f8b0:400c:c03::1a", "2001:470:e5bf:dead:4957:2174:e82c:4887",
	  25, 63943,
	  "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=", "1:eJYTW6AOzFLlSUoESovMjnu7rMw=" },
	{ 132, "192.168.170.8", "192.168.170.56", 7, 7,
	  "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs=", "1:5w3ZRjeKBzqT3zsaEECDGjUbYeg=" },
	{ 132, "192.168.170.56", "192.168.170.8", 7, 7,
	  "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs=", "1:5w3ZRjeKBzqT3zsaEECDGjUbYeg=" },
	{ 6, "128.232.110.120", "66.35.250.204", 34855, 80,
	  "1:LQU9qZlK+B5F3KDmev6m5PMibrg=", "1:3V71V58M3Ksw/yuFALMcW0LAHvc=" },
	{ 6, "66.35.250.204", "128.232.110.120", 80, 34855,
	  "1:LQU9qZlK+B5F3KDmev6m5PMibrg=", "1:3V71V58M3Ksw/yuFALMcW0LAHvc=" },
	{ 17, "192.168.1.52", "8.8.8.8", 54585, 53,
	  "1:d/FP5EW3wiY1vCndhwleRRKHowQ=", "1:Q9We8WO3piVF8yEQBNJF4uiSVrI=" },
	{ 17, "8.8.8.8", "192.168.1.52", 53, 54585,
	  "1:d/FP5EW3wiY1vCndhwleRRKHowQ=", "1:Q9We8WO3piVF8yEQBNJF4uiSVrI=" },

	/* pycommunityid unit tests */
	/* type 20 has no counterpart: the code is hashed, no reordering */
	{ 1, "192.168.0.89", "192.168.0.1", 20, 0,
	  "1:3o2RFccXzUgjl7zDpqmY7yJi8rI=", "1:lCXHHxavE1Vq3oX9NH5ladQg02o=" },
	{ 1, "192.168.0.89", "192.168.0.1", 20, 1,
	  "1:tz/fHIDUHs19NkixVVoOZywde+I=", "1:Ie3wmFyxiEyikbsbcO03d2nh+PM=" },
	/* echo reply: the code is ignored */
	{ 1, "192.168.0.1", "192.168.0.89", 0, 20,
	  "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=", "1:03g6IloqVBdcZlPyX8r0hgoE7kA=" },
	{ 58, "3ffe:507:0:1:260:97ff:fe07:69ea",
	  "3ffe:507:0:1:200:86ff:fe05:80da", 3, 0,
	  "1:NdobDX8PQNJbAyfkWxhtL2Pqp5w=", "1:OlOWx9psIbBFi7lOCw/4MhlKR9M=" },
	{ 58, "3ffe:507:0:1:200:86ff:fe05:80da",
	  "3ffe:507:0:1:260:97ff:fe07:69ea", 3, 0,
	  "1:/OGBt9BN1ofenrmSPWYicpij2Vc=", "1:Ij4ZxnC87/MXzhOjvH2vHu7LRmE=" },
	{ 132, "192.168.170.8", "192.168.170.56", 7, 80,
	  "1:jQgCxbku+pNGw8WPbEc/TS/uTpQ=", "1:Y1/0jQg6e+I3ZwZZ9LP65DNbTXU=" },
	{ 132, "192.168.170.56", "192.168.170.8", 80, 7,
	  "1:jQgCxbku+pNGw8WPbEc/TS/uTpQ=", "1:Y1/0jQg6e+I3ZwZZ9LP65DNbTXU=" },
	/* ports compare as numbers (pycommunityid issue #3) */
	{ 6, "10.0.0.1", "10.0.0.2", 10, 11569,
	  "1:SXBGMX1lBOwhhoDrZynfROxnhnM=", "1:HmBRGR+fUyXF4t8WEtal7Y0gEAo=" },

	/* equal addresses, ports decide; computed with Python hashlib */
	{ 6, "127.0.0.1", "127.0.0.1", 80, 1234,
	  "1:CClrqgOo/86/YM8mzzGpJkw9tqQ=", NULL },
	{ 6, "127.0.0.1", "127.0.0.1", 1234, 80,
	  "1:CClrqgOo/86/YM8mzzGpJkw9tqQ=", NULL },
};

static int parse_addr(const char *s, uint8_t *a)
{
	if (inet_pton(AF_INET, s, a) == 1)
		return 4;
	assert_int_equal(inet_pton(AF_INET6, s, a), 1);
	return 6;
}

static void check_id(uint16_t seed, uint8_t proto, const char *s,
		     const char *d, uint16_t sport, uint16_t dport,
		     const char *want)
{
	uint8_t sa[16], da[16];
	char out[COMMUNITY_ID_LEN + 8];
	int v = parse_addr(s, sa);

	assert_int_equal(parse_addr(d, da), v);
	memset(out, 0x5a, sizeof(out));
	assert_int_equal(community_id_v1(seed, v, sa, da, proto, sport, dport,
					 out), COMMUNITY_ID_LEN);
	if (strcmp(out, want))
		print_error("seed %u proto %u %s/%u -> %s/%u\n", seed, proto,
			    s, sport, d, dport);
	assert_string_equal(out, want);
	/* exactly the id and its NUL, nothing past */
	assert_int_equal(strlen(out), COMMUNITY_ID_LEN);
	assert_int_equal((unsigned char)out[COMMUNITY_ID_LEN + 1], 0x5a);
	/* flow records' way, past the cache: the same */
	memset(out, 0x5a, sizeof(out));
	assert_int_equal(community_id_v1_once(seed, v, sa, da, proto, sport,
					      dport, out), COMMUNITY_ID_LEN);
	assert_string_equal(out, want);
	assert_int_equal((unsigned char)out[COMMUNITY_ID_LEN + 1], 0x5a);
}

static void test_cid_vectors(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
		const struct cid_vec *t = &vecs[i];

		check_id(0, t->proto, t->saddr, t->daddr, t->sport, t->dport,
			 t->id0);
		if (t->id1)
			check_id(1, t->proto, t->saddr, t->daddr, t->sport,
				 t->dport, t->id1);
	}
}

/* Every port-based vector, reversed, yields the same id. */
static void test_cid_reverse(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(vecs) / sizeof(vecs[0]); i++) {
		const struct cid_vec *t = &vecs[i];

		if (t->proto == 1 || t->proto == 58)
			continue;
		check_id(0, t->proto, t->daddr, t->saddr, t->dport, t->sport,
			 t->id0);
	}
}

static void cid(uint16_t seed, uint8_t proto, const char *s, const char *d,
		uint16_t sport, uint16_t dport, char *out)
{
	uint8_t sa[16], da[16];
	int v = parse_addr(s, sa);

	assert_int_equal(parse_addr(d, da), v);
	assert_int_equal(community_id_v1(seed, v, sa, da, proto, sport, dport,
					 out), COMMUNITY_ID_LEN);
}

/* Request and reply of every paired ICMP type map to one flow. */
static void test_cid_icmp_pairs(void **state)
{
	static const struct {
		uint8_t proto, req, rep;
	} pairs[] = {
		{ 1, 8, 0 }, { 1, 10, 9 }, { 1, 13, 14 }, { 1, 15, 16 },
		{ 1, 17, 18 },
		{ 58, 128, 129 }, { 58, 133, 134 }, { 58, 135, 136 },
		{ 58, 130, 131 }, { 58, 139, 140 }, { 58, 144, 145 },
	};
	char a[COMMUNITY_ID_LEN + 1], b[COMMUNITY_ID_LEN + 1];
	char c[COMMUNITY_ID_LEN + 1];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
		int v4 = pairs[i].proto == 1;
		const char *x = v4 ? "10.1.1.1" : "2001:db8::1";
		const char *y = v4 ? "10.0.0.9" : "2001:db8::2";

		cid(0, pairs[i].proto, x, y, pairs[i].req, 0, a);
		cid(0, pairs[i].proto, y, x, pairs[i].rep, 7, b);
		assert_string_equal(a, b);
		/* the reverse roles are a different flow */
		cid(0, pairs[i].proto, y, x, pairs[i].req, 0, c);
		assert_string_not_equal(a, c);
	}
}

/* One-way ICMP is never reordered: the two directions differ. */
static void test_cid_icmp_one_way(void **state)
{
	char a[COMMUNITY_ID_LEN + 1], b[COMMUNITY_ID_LEN + 1];

	(void)state;
	cid(0, 1, "10.0.0.1", "10.0.0.2", 3, 3, a);
	cid(0, 1, "10.0.0.2", "10.0.0.1", 3, 3, b);
	assert_string_not_equal(a, b);
	/* ICMPv6 type 9 is not paired (router advert is 134 there) */
	cid(0, 58, "::1", "::2", 9, 0, a);
	cid(0, 58, "::2", "::1", 9, 0, b);
	assert_string_not_equal(a, b);
}

static void test_cid_seed(void **state)
{
	(void)state;
	check_id(0xbeef, 17, "::1", "::1", 5353, 53,
		 "1:HkW4G5ImcCy6LAM0cJj7jQasYtQ=");
}

static void test_cid_unsupported(void **state)
{
	static const uint8_t a[16] = { 10, 1, 12, 1 }, b[16] = { 10, 1, 12, 2 };
	static const uint8_t protos[] = { 0, 2, 41, 46, 47, 50, 255 };
	char out[COMMUNITY_ID_LEN + 1];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(protos); i++) {
		assert_int_equal(community_id_v1(0, 4, a, b, protos[i], 0, 0,
						 out), -1);
		assert_int_equal(community_id_v1(0, 6, a, b, protos[i], 0, 0,
						 out), -1);
	}
	assert_int_equal(community_id_v1(0, 5, a, b, 6, 1, 2, out), -1);
	assert_int_equal(community_id_v1(0, 0, a, b, 6, 1, 2, out), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha1_fips),
		cmocka_unit_test(test_sha1_million_a),
		cmocka_unit_test(test_sha1_padding_edges),
		cmocka_unit_test(test_sha1_shani_matches),
		cmocka_unit_test(test_cid_vectors),
		cmocka_unit_test(test_cid_reverse),
		cmocka_unit_test(test_cid_icmp_pairs),
		cmocka_unit_test(test_cid_icmp_one_way),
		cmocka_unit_test(test_cid_seed),
		cmocka_unit_test(test_cid_unsupported),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
