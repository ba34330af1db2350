// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The capture outputs byte by byte: pcapng block layouts and options
 * (draft-ietf-opsawg-pcapng), the pcap file and record headers, and file
 * rotation's names and -W, without a network or root.
 */
#include <dirent.h>
#include <fcntl.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cmocka.h>

#include "clock.h"
#include "config.h"
#include "event.h"
#include "iface.h"
#include "rotate.h"
#include "sink.h"

#define NS	1000000000ULL

static char dir[] = "/tmp/hdrlog-unit-XXXXXX";
static struct iface_table ifaces = {
	.v = { { 2, "eth0" }, { 7, "veth-long-name1" } },
	.n = 2,
};
static uint8_t frame[1600];

static struct sink_config config(void)
{
	return (struct sink_config){ .ifaces = &ifaces, .snaplen = 200 };
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;

	assert_non_null(f);
	buf = malloc(1 << 20);
	assert_non_null(buf);
	*len = fread(buf, 1, 1 << 20, f);
	fclose(f);
	return buf;
}

static uint32_t u32(const char *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static uint16_t u16(const char *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return v;
}

/* Options from p to end: each (code, length, value) in turn. */
struct opt {
	uint16_t code;
	uint16_t len;
	const char *v;
};

static int options(const char *p, const char *end, struct opt *o, int max)
{
	int n = 0;

	while (p < end) {
		assert_true(n < max);
		o[n].code = u16(p);
		o[n].len = u16(p + 2);
		o[n].v = p + 4;
		p += 4 + ((o[n].len + 3) & ~3);
		if (!o[n++].code)
			break;
	}
	assert_ptr_equal(p, end);	/* end of options is the last */
	return n;
}

static struct event packet(uint32_t ifindex, uint32_t cap, uint32_t len,
			   uint64_t ns)
{
	struct event e;

	memset(&e, 0, sizeof(e));
	e.present = FIELD_BIT(F_TIMESTAMP);
	e.time_ns = ns;
	e.ifindex = ifindex;
	e.pkt_len = len;
	e.cap_len = cap;
	e.data = frame;
	/* counts without their present bits must be ignored */
	e.n_src_lists = 200;
	e.n_dest_lists = 200;
	return e;
}

static void test_pcapng_layout(void **state)
{
	struct sink_config cfg = config();
	static const char *src[] = { "bad", "tor" }, *dst[] = { "mine" };
	char path[64], os[300];
	struct event a, b;
	struct opt o[8];
	struct utsname u;
	struct sink *s;
	const char *p, *end;
	size_t len;
	char *buf;
	int n;

	(void)state;
	snprintf(path, sizeof(path), "%s/l.pcapng", dir);
	snprintf(os, sizeof(os), "pcapng:%s", path);
	s = sink_create(os, &cfg);
	assert_non_null(s);
	a = packet(7, 61, 100, 1795708862 * NS + 123456789);
	a.present |= FIELD_BIT(F_ACTION) | FIELD_BIT(F_SRC_LISTS) |
		     FIELD_BIT(F_DEST_LISTS);
	a.dropped = true;
	a.n_src_lists = 2;
	a.n_dest_lists = 1;
	memcpy(a.src_lists, src, sizeof(src));
	memcpy(a.dest_lists, dst, sizeof(dst));
	b = packet(2, 64, 64, 5 * NS + 1);
	b.present |= FIELD_BIT(F_ACTION);
	/* an outgoing frame tc passed */
	b.direction = HDRLOG_DIR_OUTBOUND;
	b.tc = true;
	assert_int_equal(s->ops->write(s, &a), 0);
	assert_int_equal(s->ops->write(s, &b), 0);
	b.ifindex = 99;		/* not captured on: not written */
	assert_int_not_equal(s->ops->write(s, &b), 0);
	assert_int_equal(s->ops->flush(s), 0);
	assert_int_equal(s->written, 2);
	assert_int_equal(s->failed, 1);
	sink_destroy(s);

	buf = slurp(path, &len);
	p = buf;
	/* SHB */
	assert_int_equal(u32(p), 0x0a0d0d0a);
	assert_int_equal(u32(p + 8), 0x1a2b3c4d);
	assert_int_equal(u16(p + 12), 1);
	assert_int_equal(u16(p + 14), 0);
	assert_int_equal(u32(p + 4), u32(p + u32(p + 4) - 4));
	n = options(p + 24, p + u32(p + 4) - 4, o, 8);
	assert_int_equal(n, 3);
	assert_int_equal(o[0].code, 3);		/* shb_os */
	uname(&u);
	snprintf(os, sizeof(os), "%s %s", u.sysname, u.release);
	assert_int_equal(o[0].len, strlen(os));
	assert_memory_equal(o[0].v, os, o[0].len);
	assert_int_equal(o[1].code, 4);		/* shb_userappl */
	assert_int_equal(o[1].len, strlen("hdrlog " PACKAGE_VERSION));
	assert_memory_equal(o[1].v, "hdrlog " PACKAGE_VERSION, o[1].len);
	p += u32(p + 4);
	/* two IDBs, in table order */
	for (int i = 0; i < 2; i++) {
		assert_int_equal(u32(p), 1);
		assert_int_equal(u16(p + 8), 1);	/* LINKTYPE_ETHERNET */
		assert_int_equal(u32(p + 12), 200);
		assert_int_equal(u32(p + 4), u32(p + u32(p + 4) - 4));
		n = options(p + 16, p + u32(p + 4) - 4, o, 8);
		assert_int_equal(n, 3);
		assert_int_equal(o[0].code, 2);		/* if_name */
		assert_int_equal(o[0].len, strlen(ifaces.v[i].name));
		assert_memory_equal(o[0].v, ifaces.v[i].name, o[0].len);
		assert_int_equal(o[1].code, 9);		/* if_tsresol */
		assert_int_equal(o[1].len, 1);
		assert_int_equal(o[1].v[0], 9);
		p += u32(p + 4);
	}
	/* EPB a: interface 1, verdict drop, comment */
	assert_int_equal(u32(p), 6);
	assert_int_equal(u32(p + 4) % 4, 0);
	assert_int_equal(u32(p + 4), u32(p + u32(p + 4) - 4));
	assert_int_equal(u32(p + 8), 1);
	assert_int_equal(((uint64_t)u32(p + 12) << 32 | u32(p + 16)),
			 1795708862 * NS + 123456789);
	assert_int_equal(u32(p + 20), 61);
	assert_int_equal(u32(p + 24), 100);
	assert_memory_equal(p + 28, frame, 61);
	assert_int_equal(p[28 + 61] | p[29 + 61] | p[30 + 61], 0);
	n = options(p + 28 + 64, p + u32(p + 4) - 4, o, 8);
	assert_int_equal(n, 4);
	assert_int_equal(o[0].code, 2);		/* epb_flags: inbound */
	assert_int_equal(o[0].len, 4);
	assert_int_equal(u32(o[0].v), 1);
	assert_int_equal(o[1].code, 7);		/* epb_verdict */
	assert_int_equal(o[1].len, 9);
	assert_int_equal(o[1].v[0], 2);		/* Linux XDP */
	assert_memory_equal(o[1].v + 1, &(uint64_t){ 1 }, 8);	/* XDP_DROP */
	assert_int_equal(o[2].code, 1);		/* opt_comment */
	assert_int_equal(o[2].len, strlen("lists: src=bad,tor dest=mine"));
	assert_memory_equal(o[2].v, "lists: src=bad,tor dest=mine", o[2].len);
	assert_int_equal(o[3].len, 0);
	p += u32(p + 4);
	/* EPB b: interface 0, outbound, tc passed, no comment, no padding */
	assert_int_equal(u32(p + 8), 0);
	assert_int_equal(u32(p + 20), 64);
	n = options(p + 28 + 64, p + u32(p + 4) - 4, o, 8);
	assert_int_equal(n, 3);
	assert_int_equal(o[0].code, 2);		/* epb_flags: outbound */
	assert_int_equal(u32(o[0].v), 2);
	assert_int_equal(o[1].code, 7);
	assert_int_equal(o[1].v[0], 1);		/* Linux tc */
	assert_memory_equal(o[1].v + 1, &(uint64_t){ 0 }, 8);	/* TC_ACT_OK */
	p += u32(p + 4);
	end = buf + len;
	assert_ptr_equal(p, end);
	free(buf);
}

static void test_pcapng_no_lists(void **state)
{
	struct sink_config cfg = config();
	char spec[80];
	struct event e = packet(2, 13, 13, 1);
	struct sink *s;
	struct opt o[8];
	size_t len;
	char *buf, *p;

	(void)state;
	snprintf(spec, sizeof(spec), "pcapng:%s/n.pcapng", dir);
	s = sink_create(spec, &cfg);
	assert_non_null(s);
	assert_int_equal(s->ops->write(s, &e), 0);
	sink_destroy(s);
	buf = slurp(spec + 7, &len);
	p = buf + len - (28 + 16 + 8 + 4 + 4);	/* the only EPB, last */
	assert_int_equal(u32(p), 6);
	assert_int_equal(u32(p + 4), 28 + 16 + 8 + 4 + 4);
	assert_int_equal(options(p + 28 + 16, p + u32(p + 4) - 4, o, 8), 2);
	assert_int_equal(o[0].code, 2);
	free(buf);
}

static void test_pcap_layout(void **state)
{
	struct sink_config cfg = config();
	char spec[80];
	struct event e = packet(2, 200, 1514, 1795708862 * NS + 123456789);
	struct sink *s;
	size_t len;
	char *buf;

	(void)state;
	snprintf(spec, sizeof(spec), "pcap:%s/p.pcap", dir);
	s = sink_create(spec, &cfg);
	assert_non_null(s);
	assert_int_equal(s->ops->write(s, &e), 0);
	sink_destroy(s);
	buf = slurp(spec + 5, &len);
	assert_int_equal(len, 24 + 16 + 200);
	assert_int_equal(u32(buf), 0xa1b2c3d4);		/* microseconds */
	assert_int_equal(u32(buf + 16), 200);
	assert_int_equal(u32(buf + 20), 1);
	assert_int_equal(u32(buf + 24), 1795708862);
	assert_int_equal(u32(buf + 28), 123456);
	assert_int_equal(u32(buf + 32), 200);
	assert_int_equal(u32(buf + 36), 1514);
	assert_memory_equal(buf + 40, frame, 200);
	free(buf);
}

#define NAME_LEN 256

/* Names in d matching prefix, sorted; their count. */
static int list(const char *d, const char *prefix, char names[][NAME_LEN],
		int max)
{
	DIR *dp = opendir(d);
	struct dirent *de;
	int n = 0;

	assert_non_null(dp);
	while ((de = readdir(dp))) {
		if (strncmp(de->d_name, prefix, strlen(prefix)))
			continue;
		assert_true(n < max);
		memcpy(names[n++], de->d_name, NAME_LEN);
	}
	closedir(dp);
	qsort(names, n, NAME_LEN, (int (*)(const void *, const void *))strcmp);
	return n;
}

static void rotation(const char *fmt, const char *ext)
{
	struct sink_config cfg = config();
	char spec[80], sub[64], names[16][NAME_LEN], want[80];
	uint64_t t = clock_real_ns() + 5 * NS;	/* after the first name */
	struct sink *s;
	regex_t re;

	snprintf(sub, sizeof(sub), "%s/%s", dir, fmt);
	assert_int_equal(mkdir(sub, 0700), 0);
	cfg.snaplen = 256;
	cfg.rotate_bytes = 1000;
	cfg.rotate_count = 3;
	snprintf(spec, sizeof(spec), "%s:%s/cap.%s", fmt, sub, ext);
	s = sink_create(spec, &cfg);
	assert_non_null(s);
	/* 3 records a file in both formats: 10 make 4 files, 3 kept */
	for (int i = 0; i < 10; i++) {
		struct event e = packet(2, 230, 230, t + i);

		assert_int_equal(s->ops->write(s, &e), 0);
	}
	sink_destroy(s);
	assert_int_equal(list(sub, "cap", names, 16), 3);
	snprintf(want, sizeof(want),
		 "^cap-[0-9]{8}T[0-9]{6}Z-00000[0-9]\\.%s$", ext);
	assert_int_equal(regcomp(&re, want, REG_EXTENDED | REG_NOSUB), 0);
	for (int i = 0; i < 3; i++) {
		struct stat st;
		int dfd = open(sub, O_RDONLY | O_DIRECTORY);

		assert_int_equal(regexec(&re, names[i], 0, NULL, 0), 0);
		assert_int_equal(fstatat(dfd, names[i], &st, 0), 0);
		close(dfd);
		assert_true(st.st_size <= 1000);
	}
	regfree(&re);
	/*
	 * The first file, named at the real time, went; the three named
	 * after the records' second count 0, 1, 2.
	 */
	for (int i = 0; i < 3; i++)
		assert_int_equal(names[i][strlen(names[i]) - strlen(ext) - 2],
				 '0' + i);
}

static void test_rotate_pcapng(void **state)
{
	(void)state;
	rotation("pcapng", "pcapng");
}

static void test_rotate_pcap(void **state)
{
	(void)state;
	rotation("pcap", "pcap");
}

static void test_plain_name(void **state)
{
	struct sink_config cfg = config();
	struct rotate r;
	int fd;

	(void)state;
	assert_int_equal(rotate_init(&r, "-", &cfg), 0);
	assert_true(r.is_stdout);
	assert_int_equal(rotate_open(&r, 0), STDOUT_FILENO);
	rotate_free(&r);
	assert_int_not_equal(rotate_init(&r, "", &cfg), 0);
	/* a dot in a directory is no extension */
	cfg.rotate_seconds = 60;
	assert_int_equal(chdir(dir), 0);
	assert_int_equal(mkdir("d.x", 0700), 0);
	assert_int_equal(rotate_init(&r, "d.x/dump", &cfg), 0);
	fd = rotate_open(&r, 1795708862 * NS);
	assert_true(fd >= 0);
	close(fd);
	assert_string_equal(r.path, "d.x/dump-20261126T160102Z-000000");
	assert_int_equal(r.due_ns, 1795708922 * NS);
	rotate_free(&r);
}

static int setup(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(frame); i++)
		frame[i] = i * 7 + 1;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[80];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) ? -1 : 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pcapng_layout),
		cmocka_unit_test(test_pcapng_no_lists),
		cmocka_unit_test(test_pcap_layout),
		cmocka_unit_test(test_rotate_pcapng),
		cmocka_unit_test(test_rotate_pcap),
		cmocka_unit_test(test_plain_name),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
