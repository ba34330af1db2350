// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <cmocka.h>

#include <sys/stat.h>

#include "lists.h"
#include "log.h"
#include "ranges.h"

#define SCRATCH_NAME "lists"
#include "scratch.h"

static char err[8192];		/* stderr of the last capture */
static int saved_stderr = -1;
static FILE *err_file;

/* Writes name in scratch_dir; its path (static, one at a time per slot). */
static const char *write_file(const char *name, const char *text)
{
	static char paths[4][256];
	static int slot;
	char *path = paths[slot++ % 4];
	FILE *f;

	snprintf(path, 256, "%s/%s", scratch_dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	assert_int_equal(fclose(f), 0);
	return path;
}

/* As write_file(), for text that may hold NULs. */
static const char *write_bytes(const char *name, const char *text, size_t len)
{
	static char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", scratch_dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	return path;
}

static void capture_begin(void)
{
	fflush(stderr);
	err_file = tmpfile();
	assert_non_null(err_file);
	saved_stderr = dup(STDERR_FILENO);
	assert_true(saved_stderr >= 0);
	assert_true(dup2(fileno(err_file), STDERR_FILENO) >= 0);
}

static const char *capture_end(void)
{
	size_t n;

	fflush(stderr);
	assert_true(dup2(saved_stderr, STDERR_FILENO) >= 0);
	close(saved_stderr);
	rewind(err_file);
	n = fread(err, 1, sizeof(err) - 1, err_file);
	err[n] = '\0';
	fclose(err_file);
	return err;
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void spec(struct list_spec *sp, const char *arg)
{
	assert_int_equal(list_spec_parse(sp, LIST_TAG, arg), 0);
}

/* Loads files (name=text pairs) into one list each; returns the result. */
static int load_texts(struct list_set *set, int n, const char *const *texts)
{
	struct list_spec specs[MAX_LISTS + 1];
	char arg[300];
	int i;

	for (i = 0; i < n; i++) {
		snprintf(arg, sizeof(arg), "%c=%s", 'A' + i,
			 write_file(texts[2 * i], texts[2 * i + 1]));
		spec(&specs[i], arg);
	}
	return list_set_load(set, specs, n, NULL);
}

static void load1(struct list_set *set, const char *text)
{
	const char *t[] = { "one.txt", text };

	assert_int_equal(load_texts(set, 1, t), 0);
}

static void assert_v4(const struct list_set *set, size_t i, const char *addr,
		      unsigned int len, uint64_t mask)
{
	char buf[INET_ADDRSTRLEN];
	uint32_t be;

	assert_true(i < set->n_v4);
	be = htonl(set->v4[i].addr);
	inet_ntop(AF_INET, &be, buf, sizeof(buf));
	assert_string_equal(buf, addr);
	assert_int_equal(set->v4[i].len, len);
	assert_int_equal(set->v4[i].mask, mask);
}

static void assert_v6(const struct list_set *set, size_t i, const char *addr,
		      unsigned int len, uint64_t mask)
{
	char buf[INET6_ADDRSTRLEN];
	uint8_t a[16];
	int j;

	assert_true(i < set->n_v6);
	for (j = 0; j < 8; j++) {
		a[j] = set->v6[i].hi >> (56 - 8 * j);
		a[j + 8] = set->v6[i].lo >> (56 - 8 * j);
	}
	inet_ntop(AF_INET6, a, buf, sizeof(buf));
	assert_string_equal(buf, addr);
	assert_int_equal(set->v6[i].len, len);
	assert_int_equal(set->v6[i].mask, mask);
}

static void assert_empty(const struct list_set *set)
{
	assert_int_equal(set->n_lists, 0);
	assert_null(set->v4);
	assert_null(set->v6);
	assert_int_equal(set->n_v4, 0);
	assert_int_equal(set->n_v6, 0);
}

static void test_default_names(void **state)
{
	static const char *const cases[][2] = {
		{ "/etc/hdrlog/lists.d/drop.txt", "drop" },
		{ "tor-exits.netset", "tor-exits" },
		{ "plain", "plain" },
		{ "a.tar.gz", "a.tar" },
		{ "dir.d/file", "file" },
		{ ".hidden", ".hidden" },
		{ "./x_1.v4.list", "x_1.v4" },
		{ "/a=b/c.txt", "c" },	/* '=' after a '/' is the path's */
	};
	struct list_spec sp;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(list_spec_parse(&sp, LIST_BLOCK, cases[i][0]), 0);
		assert_string_equal(sp.name, cases[i][1]);
		assert_string_equal(sp.path, cases[i][0]);
		assert_int_equal(sp.kind, LIST_BLOCK);
		assert_false(sp.any);
	}
}

static void test_given_names(void **state)
{
	char arg[128];
	struct list_spec sp;

	(void)state;
	assert_int_equal(list_spec_parse(&sp, LIST_ALLOW, "ok_1.x-Y=/x/y.txt"), 0);
	assert_string_equal(sp.name, "ok_1.x-Y");
	assert_string_equal(sp.path, "/x/y.txt");
	assert_int_equal(sp.kind, LIST_ALLOW);

	/* 63 characters is the longest */
	memset(arg, 'n', 63);
	strcpy(arg + 63, "=f");
	assert_int_equal(list_spec_parse(&sp, LIST_TAG, arg), 0);
	assert_int_equal(strlen(sp.name), 63);
	assert_string_equal(sp.path, "f");

	/* only the first '=' splits */
	assert_int_equal(list_spec_parse(&sp, LIST_TAG, "a=b=c"), 0);
	assert_string_equal(sp.name, "a");
	assert_string_equal(sp.path, "b=c");
}

static void expect_spec_error(enum list_kind kind, const char *arg,
			      const char *want)
{
	struct list_spec sp;

	capture_begin();
	assert_int_equal(list_spec_parse(&sp, kind, arg), -1);
	capture_end();
	assert_non_null(strstr(err, want));
	assert_true(!strncmp(err, "hdrlog: ", 8));
	assert_int_equal(count_lines(err), 1);
}

static void test_bad_names(void **state)
{
	char arg[128];

	(void)state;
	expect_spec_error(LIST_TAG, "bad name=x", "'bad name'");
	expect_spec_error(LIST_TAG, "=x", "''");
	expect_spec_error(LIST_TAG, "a,b=x", "'a,b'");
	/* bytes from the command line are printed escaped */
	expect_spec_error(LIST_TAG, "caf\xc3\xa9=x", "'caf\\xc3\\xa9'");
	expect_spec_error(LIST_TAG, "\x1b[2J=x", "'\\x1b[2J'");
	assert_null(strchr(err, '\x1b'));
	memset(arg, 'n', 64);
	strcpy(arg + 64, "=f");
	expect_spec_error(LIST_TAG, arg, "'nnnn");
	/* a default name that is not a valid one */
	expect_spec_error(LIST_TAG, "/tmp/my list.txt", "'my list'");
	expect_spec_error(LIST_TAG, "/tmp/dir/", "NAME=FILE");
	/* no file */
	expect_spec_error(LIST_TAG, "", "no file");
	expect_spec_error(LIST_TAG, "n=", "no file");
	expect_spec_error(LIST_BLOCK, "n=:any", "no file");
	expect_spec_error(LIST_BLOCK, ":any", "no file");
}

static void test_any(void **state)
{
	struct list_spec sp;

	(void)state;
	assert_int_equal(list_spec_parse(&sp, LIST_BLOCK, "/x/drop.txt:any"), 0);
	assert_true(sp.any);
	assert_string_equal(sp.path, "/x/drop.txt");
	assert_string_equal(sp.name, "drop");

	assert_int_equal(list_spec_parse(&sp, LIST_BLOCK, "d=drop.txt:any"), 0);
	assert_true(sp.any);
	assert_string_equal(sp.name, "d");
	assert_string_equal(sp.path, "drop.txt");

	assert_int_equal(list_spec_parse(&sp, LIST_BLOCK, "drop.txt"), 0);
	assert_false(sp.any);

	expect_spec_error(LIST_TAG, "drop.txt:any", "block");
	expect_spec_error(LIST_ALLOW, "a=drop.txt:any", "block");
}

static void test_formats(void **state)
{
	struct list_set set;

	(void)state;
	load1(&set,
	      "#\n"
	      "# FireHOL netset header\n"
	      "#\n"
	      "\n"
	      "1.0.0.0/24\n"
	      "; Spamhaus DROP List 2024/01/01\n"
	      "1.10.16.0/20 ; SBL256894\n"
	      "  \t2.2.2.0/23\t# indented, tab before the comment\r\n"
	      "3.3.3.3   \r\n"
	      "\r\n"
	      "   \t \n"
	      "4.4.0.0/16;no space before the comment\n"
	      "5.5.5.5#\n"
	      "  ; indented comment 6.6.6.6\n"
	      "0.0.0.0/0\n"
	      "255.255.255.255/32");	/* no final newline */
	assert_int_equal(set.n_lists, 1);
	assert_int_equal(set.n_v4, 8);
	assert_int_equal(set.n_v6, 0);
	assert_v4(&set, 0, "0.0.0.0", 0, 1);
	assert_v4(&set, 1, "1.0.0.0", 24, 1);
	assert_v4(&set, 2, "1.10.16.0", 20, 1);
	assert_v4(&set, 3, "2.2.2.0", 23, 1);
	assert_v4(&set, 4, "3.3.3.3", 32, 1);
	assert_v4(&set, 5, "4.4.0.0", 16, 1);
	assert_v4(&set, 6, "5.5.5.5", 32, 1);
	assert_v4(&set, 7, "255.255.255.255", 32, 1);
	list_set_free(&set);
	assert_empty(&set);

	/* empty and comment-only files are fine */
	load1(&set, "");
	assert_int_equal(set.n_v4 + set.n_v6, 0);
	list_set_free(&set);
	load1(&set, "# nothing\n\n;\n");
	assert_int_equal(set.n_v4 + set.n_v6, 0);
	list_set_free(&set);
}

static void test_ipv6(void **state)
{
	struct list_set set;

	(void)state;
	load1(&set,
	      "2001:db8::/32 ; SBL1\n"
	      "::1\n"
	      "2001:DB8:0:0:0:0:0:1\n"
	      "::/0\n"
	      "fe80::/10\r\n"
	      "64:ff9b::1.2.3.4\n"	/* NAT64, not mapped: stays v6 */
	      "::/64\n");		/* covers ::ffff:0:0/96, stays v6 */
	assert_int_equal(set.n_v4, 0);
	assert_int_equal(set.n_v6, 7);
	assert_v6(&set, 0, "::", 0, 1);
	assert_v6(&set, 1, "::", 64, 1);
	assert_v6(&set, 2, "::1", 128, 1);
	assert_v6(&set, 3, "64:ff9b::102:304", 128, 1);
	assert_v6(&set, 4, "2001:db8::", 32, 1);
	assert_v6(&set, 5, "2001:db8::1", 128, 1);
	assert_v6(&set, 6, "fe80::", 10, 1);
	list_set_free(&set);
}

static void test_mapped(void **state)
{
	const char *t[] = {
		"a.txt", "::ffff:1.2.3.4\n::ffff:10.0.0.0/104\n::/0\n",
		"b.txt", ("::ffff:0:0/96\n::FFFF:192.168.1.0/120\n"
			  "10.0.0.0/8\n::fffe:0:0/95\n"),
	};
	struct list_set set;

	(void)state;
	assert_int_equal(load_texts(&set, 2, t), 0);
	assert_int_equal(set.n_v4, 4);
	/* ::ffff:0:0/96 is 0.0.0.0/0 and covers the rest */
	assert_v4(&set, 0, "0.0.0.0", 0, 2);
	assert_v4(&set, 1, "1.2.3.4", 32, 3);
	assert_v4(&set, 2, "10.0.0.0", 8, 3);
	assert_v4(&set, 3, "192.168.1.0", 24, 2);
	/* ::/0 and the /95 stay v6 and give the v4 entries nothing */
	assert_int_equal(set.n_v6, 2);
	assert_v6(&set, 0, "::", 0, 1);
	assert_v6(&set, 1, "::fffe:0:0", 95, 3);
	list_set_free(&set);
}

static void test_host_bits(void **state)
{
	char want[512];
	const char *path;
	struct list_spec sp;
	struct list_set set;

	(void)state;
	path = write_file("host.txt",
			  "1.1.1.1\n"
			  "# x\n"
			  "10.1.2.3/8\n"
			  "10.0.0.0/8\n"
			  "2001:db8::1/32\n"
			  "192.168.1.255/31\n"
			  "::ffff:1.2.3.4/112\n");
	spec(&sp, path);
	capture_begin();
	assert_int_equal(list_set_load(&set, &sp, 1, NULL), 0);
	capture_end();
	assert_int_equal(count_lines(err), 1);
	snprintf(want, sizeof(want), "hdrlog: warning: %s:3: ", path);
	assert_non_null(strstr(err, want));
	assert_non_null(strstr(err, "(4 lines in this file)"));

	assert_int_equal(set.n_v4, 4);
	assert_v4(&set, 0, "1.1.1.1", 32, 1);
	assert_v4(&set, 1, "1.2.0.0", 16, 1);
	assert_v4(&set, 2, "10.0.0.0", 8, 1);
	assert_v4(&set, 3, "192.168.1.254", 31, 1);
	assert_int_equal(set.n_v6, 1);
	assert_v6(&set, 0, "2001:db8::", 32, 1);
	list_set_free(&set);

	/* silent when nothing is masked */
	spec(&sp, write_file("clean.txt", "10.0.0.0/8\n"));
	capture_begin();
	assert_int_equal(list_set_load(&set, &sp, 1, NULL), 0);
	capture_end();
	assert_string_equal(err, "");
	list_set_free(&set);
}

static void test_bad_lines(void **state)
{
	static const struct {
		const char *text;
		unsigned int line;
		const char *reason, *quoted;
	} cases[] = {
		{ "1.2.3\n", 1, "bad IPv4 address", "1.2.3" },
		{ "1.2.3.256\n", 1, "bad IPv4 address", "1.2.3.256" },
		{ "1.2.3.4.5\n", 1, "bad IPv4 address", "1.2.3.4.5" },
		{ "01.2.3.4\n", 1, "bad IPv4 address", "01.2.3.4" },
		{ "1.2.3.1000\n", 1, "bad IPv4 address", "1.2.3.1000" },
		{ "1.2.3.4-1.2.3.9\n", 1, "bad IPv4 address", "1.2.3.4-1.2.3.9" },
		{ "hello\n", 1, "bad IPv4 address", "hello" },
		{ "1.2.3.4/33\n", 1, "prefix length out of range", "1.2.3.4/33" },
		{ "1.2.3.4/99999999999\n", 1, "prefix length out of range",
		  "1.2.3.4/99999999999" },
		{ "1.2.3.4/\n", 1, "bad prefix length", "1.2.3.4/" },
		{ "1.2.3.4/-1\n", 1, "bad prefix length", "1.2.3.4/-1" },
		{ "1.2.3.4/24x\n", 1, "bad prefix length", "1.2.3.4/24x" },
		{ "1.2.3.4 foo\n", 1, "unexpected text after the prefix",
		  "1.2.3.4 foo" },
		{ "1.2.3.0/24 foo # c\n", 1, "unexpected text after the prefix",
		  "1.2.3.0/24 foo" },
		{ "2001:db8::/129\n", 1, "prefix length out of range",
		  "2001:db8::/129" },
		{ "2001:db8:::1\n", 1, "bad IPv6 address", "2001:db8:::1" },
		{ "fe80::1%eth0\n", 1, "bad IPv6 address", "fe80::1%eth0" },
		{ "2001:db8::/32 x\n", 1, "unexpected text after the prefix",
		  "2001:db8::/32 x" },
		{ "1.2.3.4:80\n", 1, "bad IPv6 address", "1.2.3.4:80" },
		/* later lines, CRLF, and a last line with no newline */
		{ "# a\n10.0.0.0/8\n\n  bad  ; c\n", 4, "bad IPv4 address",
		  "bad" },
		{ "1.1.1.1\r\n2.2.2.2/40\r\n", 2, "prefix length out of range",
		  "2.2.2.2/40" },
		{ "1.1.1.1\n::1\nx", 3, "bad IPv4 address", "x" },
	};
	struct list_spec sp;
	struct list_set set;
	char want[512];
	const char *path;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		path = write_file("bad.txt", cases[i].text);
		spec(&sp, path);
		memset(&set, 0x5a, sizeof(set));
		capture_begin();
		assert_int_equal(list_set_load(&set, &sp, 1, NULL), -1);
		capture_end();
		snprintf(want, sizeof(want), "hdrlog: %s:%u: %s: '%s'\n", path,
			 cases[i].line, cases[i].reason, cases[i].quoted);
		assert_string_equal(err, want);
		assert_empty(&set);
		list_set_free(&set);
	}
}

static void test_bad_line_in_second_file(void **state)
{
	const char *t[] = {
		"good.txt", "10.0.0.0/8\n2001:db8::/32\n",
		"worse.txt", "10.0.0.0/8\n10.0.0.0/80\n",
	};
	struct list_set set;

	(void)state;
	capture_begin();
	assert_int_equal(load_texts(&set, 2, t), -1);
	capture_end();
	assert_non_null(strstr(err, "worse.txt:2: prefix length out of range: '10.0.0.0/80'"));
	assert_empty(&set);
}

static void test_missing_file(void **state)
{
	struct list_spec sp;
	struct list_set set;
	char path[300], want[400];

	(void)state;
	snprintf(path, sizeof(path), "%s/no-such-file.txt", scratch_dir);
	spec(&sp, path);
	capture_begin();
	assert_int_equal(list_set_load(&set, &sp, 1, NULL), -1);
	capture_end();
	snprintf(want, sizeof(want), "hdrlog: %s: No such file or directory\n",
		 path);
	assert_string_equal(err, want);
	assert_empty(&set);

	/* a path hdrlog did not make is printed escaped */
	snprintf(path, sizeof(path), "n=%s/no\x1b[1mfile\\.txt", scratch_dir);
	spec(&sp, path);
	capture_begin();
	assert_int_equal(list_set_load(&set, &sp, 1, NULL), -1);
	capture_end();
	snprintf(want, sizeof(want),
		 "hdrlog: %s/no\\x1b[1mfile\\\\.txt: No such file or directory\n",
		 scratch_dir);
	assert_null(strchr(err, '\x1b'));
	assert_string_equal(err, want);
	assert_empty(&set);
}

/* Loads path as the one list and expects "hdrlog: path: what, not a list file...". */
static void expect_not_regular(const char *path, const char *what)
{
	struct list_spec sp;
	struct list_set set;
	char want[512];

	spec(&sp, path);
	memset(&set, 0x5a, sizeof(set));
	capture_begin();
	assert_int_equal(list_set_load(&set, &sp, 1, NULL), -1);
	capture_end();
	snprintf(want, sizeof(want), "hdrlog: %s: %s, not a list file: ",
		 path, what);
	if (strncmp(err, want, strlen(want)))
		fail_msg("expected '%s...', got '%s'", want, err);
	assert_int_equal(count_lines(err), 1);
	assert_empty(&set);
}

/*
 * A FIFO with no writer would block the open for good, /dev/zero never
 * ends: only regular files are lists, and the FIFO case must return (a
 * hang here is the failure).
 */
static void test_special_files(void **state)
{
	char fifo[300], link[300];

	(void)state;
	snprintf(fifo, sizeof(fifo), "%s/fifo.txt", scratch_dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	expect_not_regular(fifo, "a FIFO");
	expect_not_regular("/dev/zero", "a character device");
	expect_not_regular("/dev/null", "a character device");
	expect_not_regular(scratch_dir, "a directory");
	/* the opened file is checked, not the name */
	snprintf(link, sizeof(link), "%s/zero.txt", scratch_dir);
	assert_int_equal(symlink("/dev/zero", link), 0);
	expect_not_regular(link, "a character device");
	unlink(link);
	unlink(fifo);
}

/* Loads text (len bytes, NULs allowed) and expects the one-line error want. */
static void expect_bad_bytes(const char *text, size_t len, unsigned int line,
			     const char *reason, const char *quoted)
{
	const char *path = write_bytes("bytes.txt", text, len);
	struct list_spec sp;
	struct list_set set;
	char want[1024];

	spec(&sp, path);
	memset(&set, 0x5a, sizeof(set));
	capture_begin();
	assert_int_equal(list_set_load(&set, &sp, 1, NULL), -1);
	capture_end();
	snprintf(want, sizeof(want), "hdrlog: %s:%u: %s: '%s'\n", path, line,
		 reason, quoted);
	assert_string_equal(err, want);
	assert_empty(&set);
}

#define BAD_BYTES(lit, line, reason, quoted) \
	expect_bad_bytes(lit, sizeof(lit) - 1, line, reason, quoted)

/*
 * An address followed by a NUL and garbage was taken (inet_pton stops at
 * the NUL): a NUL anywhere in a line, comments included, is an error.
 */
static void test_nul_bytes(void **state)
{
	static const char nul[] = "NUL byte in the line";
	size_t big = (3u << 20) / 16 * 16, i;
	char *text, q[64];

	(void)state;
	BAD_BYTES("2001:db8::1\0garbage\n", 1, nul, "2001:db8::1\\x00garbage");
	BAD_BYTES("10.0.0.1\0 x\n", 1, nul, "10.0.0.1\\x00 x");
	BAD_BYTES("10.0.0.0/8\n# comment \0\n", 2, nul,
		  "# comment \\x00");
	BAD_BYTES("10.0.0.0/8\n\0", 2, nul, "\\x00");	/* no final newline */
	BAD_BYTES("10.0.0.0/8\r\n1.2.3.4\0\r\n", 2, nul,
		  "1.2.3.4\\x00\\x0d");

	/* one far into the file, past the first read */
	text = malloc(big + 16);
	assert_non_null(text);
	for (i = 0; i < big; i += 16)
		memcpy(text + i, "192.0.2.0/24   \n", 16);
	memcpy(text + big, "192.0.2.1\0\n", 11);
	snprintf(q, sizeof(q), "%zu", big / 16 + 1);
	expect_bad_bytes(text, big + 11, big / 16 + 1, nul, "192.0.2.1\\x00");
	free(text);
}

/*
 * Lines are capped at LIST_LINE_MAX bytes: one that long loads, one byte
 * more is an error at its line, also when it never ends (/dev/zero's
 * like in a regular file), and the message quotes only its start.
 */
static void test_long_lines(void **state)
{
	static const char reason[] = "line longer than 4096 bytes";
	size_t size = 3 << 20, n;
	char *text = malloc(size + 1), quoted[200];
	struct list_set set;

	(void)state;
	assert_non_null(text);
	assert_int_equal(LIST_LINE_MAX, 4096);

	/* exactly the limit: fine, also with a CR */
	n = snprintf(text, size, "10.0.0.0/8\n192.0.2.0/24 #");
	memset(text + n, 'c', LIST_LINE_MAX - 14);
	n += LIST_LINE_MAX - 14;
	n += snprintf(text + n, size - n, "\n198.51.100.0/24 ;");
	memset(text + n, 'c', LIST_LINE_MAX - 18 - 1);
	n += LIST_LINE_MAX - 18 - 1;
	n += snprintf(text + n, size - n, "\r\n");
	load1(&set, text);
	assert_int_equal(set.n_v4, 3);
	list_set_free(&set);

	/* one more byte, in a comment */
	memset(quoted, 'c', 120);
	strcpy(quoted + 120, "...");
	n = snprintf(text, size, "10.0.0.0/8\n\n");
	memset(text + n, 'c', LIST_LINE_MAX + 1);
	n += LIST_LINE_MAX + 1;
	text[n++] = '\n';
	expect_bad_bytes(text, n, 3, reason, quoted);
	/* the same as the last line, with no newline */
	expect_bad_bytes(text, n - 1, 3, reason, quoted);

	/* a line longer than the read buffer, non-printable bytes quoted */
	memset(text, 0x01, size);
	text[0] = '\n';
	for (n = 0; n < 30; n++)
		memcpy(quoted + 4 * n, "\\x01", 4);
	strcpy(quoted + 120, "...");
	expect_bad_bytes(text, size, 2, reason, quoted);
	free(text);
}

/*
 * A message printed between a failing call and its strerror(errno) leaves
 * errno alone, even when writing it fails (stderr on a full disk).
 */
static void test_log_keeps_errno(void **state)
{
	int full = open("/dev/full", O_WRONLY | O_CLOEXEC), saved, got;

	(void)state;
	assert_true(full >= 0);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_true(dup2(full, STDERR_FILENO) >= 0);
	errno = ENOENT;
	pr_err("a note before strerror(errno)");
	pr_warn("and a warning");
	got = errno;
	clearerr(stderr);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	close(full);
	assert_int_equal(got, ENOENT);
}

/* Bytes hdrlog did not make, as printed in messages. */
static void test_log_escape(void **state)
{
	char buf[64];

	(void)state;
	assert_string_equal(log_escape(buf, sizeof(buf), "a-Z 0~", 6),
			    "a-Z 0~");
	assert_string_equal(log_escape(buf, sizeof(buf), "\x1b[0m\0x\x7f\xff\n",
				       9),
			    "\\x1b[0m\\x00x\\x7f\\xff\\x0a");
	/* a backslash doubled, so "\\x41" cannot pass for an escaped 'A' */
	assert_string_equal(log_escape(buf, sizeof(buf), "\\x41", 4),
			    "\\\\x41");
	/* the length given, not a NUL, ends the text */
	assert_string_equal(log_escape(buf, sizeof(buf), "ab\0cd", 5),
			    "ab\\x00cd");
	assert_string_equal(log_escape(buf, sizeof(buf), "", 0), "");

	/* cut at a whole character, "..." included in the size */
	assert_string_equal(log_escape(buf, 8, "abcdefg", 7), "abcdefg");
	assert_string_equal(log_escape(buf, 8, "abcdefgh", 8), "abcd...");
	assert_string_equal(log_escape(buf, 10, "ab\x01\x02\x03", 5),
			    "ab\\x01...");
	assert_string_equal(log_escape(buf, 9, "ab\x01\x02\x03", 5),
			    "ab...");
	assert_string_equal(log_escape(buf, 3, "abcdef", 6), "ab");
	buf[0] = 'x';
	log_escape(buf, 1, "abc", 3);
	assert_int_equal(buf[0], '\0');
	log_escape(buf, 0, "abc", 3);	/* writes nothing */

	/* the size macro holds any text whole */
	{
		char all[256], out[LOG_ESCAPE_SIZE(256)];
		int i;

		for (i = 0; i < 256; i++)
			all[i] = (char)i;
		log_escape(out, sizeof(out), all, sizeof(all));
		assert_null(strstr(out, "..."));
		/* 94 printable as is, a doubled backslash, 161 as \xNN */
		assert_int_equal(strlen(out), 94 + 2 + 161 * 4);
	}
}

/* A load asked to stop returns at once, quietly, with nothing built. */
static void test_stop(void **state)
{
	volatile sig_atomic_t stop = 1;
	struct list_spec sp;
	struct list_set set;

	(void)state;
	spec(&sp, write_file("stop.txt", "10.0.0.0/8\n"));
	capture_begin();
	assert_int_equal(list_set_load(&set, &sp, 1, &stop), LIST_LOAD_STOPPED);
	capture_end();
	assert_string_equal(err, "");
	assert_empty(&set);
	stop = 0;
	assert_int_equal(list_set_load(&set, &sp, 1, &stop), 0);
	assert_int_equal(set.n_v4, 1);
	list_set_free(&set);
}

static void test_duplicate_names(void **state)
{
	struct list_spec sp[3];
	struct list_set set;

	(void)state;
	spec(&sp[0], write_file("x.txt", "1.1.1.1\n"));
	spec(&sp[1], "other=/nonexistent");
	spec(&sp[2], "x=/elsewhere/y.txt");
	capture_begin();
	assert_int_equal(list_set_load(&set, sp, 3, NULL), -1);
	capture_end();
	assert_non_null(strstr(err, "'x'"));
	assert_int_equal(count_lines(err), 1);
	assert_empty(&set);
}

static void test_merge(void **state)
{
	const char *t[] = {
		"a.txt", "10.0.0.0/8\n1.2.3.4\n10.0.0.0/8\n2001:db8::/32\n",
		"b.txt", "1.2.3.4/32\n10.0.0.0/8\n",
		"c.txt", "10.9.9.9/8\n2001:db8::/32\n2001:db8:0::/32\n",
	};
	struct list_set set;

	(void)state;
	capture_begin();
	assert_int_equal(load_texts(&set, 3, t), 0);
	capture_end();
	assert_int_equal(set.n_lists, 3);
	assert_int_equal(set.n_v4, 2);
	assert_v4(&set, 0, "1.2.3.4", 32, 1 | 2);
	assert_v4(&set, 1, "10.0.0.0", 8, 1 | 2 | 4);
	assert_int_equal(set.n_v6, 1);
	assert_v6(&set, 0, "2001:db8::", 32, 1 | 4);
	list_set_free(&set);
}

enum { A = 1, B = 2, C = 4 };

static void test_propagation_v4(void **state)
{
	const char *t[] = {
		"a.txt", "10.0.0.0/8\n10.1.2.3\n",
		"b.txt", "10.1.0.0/16\n10.1.2.0/24\n10.1.2.0/25\n",
		"c.txt", ("10.1.2.3/32\n10.2.0.0/16\n11.0.0.0/8\n"
			  "10.1.2.128/25\n9.255.255.255\n10.255.255.255\n"),
	};
	struct list_set set;

	(void)state;
	assert_int_equal(load_texts(&set, 3, t), 0);
	assert_int_equal(set.n_v4, 10);
	assert_v4(&set, 0, "9.255.255.255", 32, C);
	assert_v4(&set, 1, "10.0.0.0", 8, A);
	assert_v4(&set, 2, "10.1.0.0", 16, A | B);
	assert_v4(&set, 3, "10.1.2.0", 24, A | B);
	assert_v4(&set, 4, "10.1.2.0", 25, A | B);
	assert_v4(&set, 5, "10.1.2.3", 32, A | B | C);
	assert_v4(&set, 6, "10.1.2.128", 25, A | B | C);
	assert_v4(&set, 7, "10.2.0.0", 16, A | C);
	assert_v4(&set, 8, "10.255.255.255", 32, A | C);
	assert_v4(&set, 9, "11.0.0.0", 8, C);
	list_set_free(&set);
}

static void test_propagation_v6(void **state)
{
	const char *t[] = {
		"a.txt", "2001:db8::/32\n::/0\n",
		"b.txt", "2001:db8:1::/48\n2001:db8:1:8000::/49\n",
		"c.txt", ("2001:db8:1::1\n2001:db8:2::/48\n2a00::/16\n"
			  "2001:db8:1:ffff::/64\n2001:db9::/32\n"),
	};
	struct list_set set;

	(void)state;
	assert_int_equal(load_texts(&set, 3, t), 0);
	assert_int_equal(set.n_v6, 9);
	assert_v6(&set, 0, "::", 0, A);
	assert_v6(&set, 1, "2001:db8::", 32, A);
	assert_v6(&set, 2, "2001:db8:1::", 48, A | B);
	assert_v6(&set, 3, "2001:db8:1::1", 128, A | B | C);
	assert_v6(&set, 4, "2001:db8:1:8000::", 49, A | B);
	assert_v6(&set, 5, "2001:db8:1:ffff::", 64, A | B | C);
	assert_v6(&set, 6, "2001:db8:2::", 48, A | C);
	assert_v6(&set, 7, "2001:db9::", 32, A | C);
	assert_v6(&set, 8, "2a00::", 16, A | C);
	list_set_free(&set);
}

static void test_max_lists(void **state)
{
	struct list_spec specs[MAX_LISTS + 1];
	struct list_set set;
	char arg[300];
	const char *path;
	int i;

	(void)state;
	path = write_file("many.txt", "192.0.2.0/24\n");
	for (i = 0; i <= MAX_LISTS; i++) {
		snprintf(arg, sizeof(arg), "l%02d=%s", i, path);
		spec(&specs[i], arg);
	}
	assert_int_equal(list_set_load(&set, specs, MAX_LISTS, NULL), 0);
	assert_int_equal(set.n_lists, MAX_LISTS);
	assert_int_equal(set.n_v4, 1);
	assert_v4(&set, 0, "192.0.2.0", 24, ~0ull);
	list_set_free(&set);

	capture_begin();
	assert_int_equal(list_set_load(&set, specs, MAX_LISTS + 1, NULL), -1);
	capture_end();
	assert_non_null(strstr(err, "65"));
	assert_non_null(strstr(err, "64"));
	assert_empty(&set);
}

static void test_names(void **state)
{
	const char *t[] = {
		"zeta.txt", "1.0.0.0/8\n",
		"alpha.txt", "1.1.0.0/16\n",
		"Mid.txt", "1.1.1.0/24\n",
		"beta.txt", "1.1.1.1\n",
		"alpha2.txt", "2.0.0.0/8\n",
	};
	static const char *const names[] = {
		"zeta", "alpha", "Mid", "beta", "alpha2",
	};
	struct list_spec specs[5];
	struct list_set set;
	const char *out[8];
	int i;

	(void)state;
	for (i = 0; i < 5; i++) {
		char arg[300];

		snprintf(arg, sizeof(arg), "%s=%s", names[i],
			 write_file(t[2 * i], t[2 * i + 1]));
		spec(&specs[i], arg);
	}
	assert_int_equal(list_set_load(&set, specs, 5, NULL), 0);

	assert_int_equal(list_set_names(&set, 0x1f, out, 8), 5);
	assert_string_equal(out[0], "Mid");
	assert_string_equal(out[1], "alpha");
	assert_string_equal(out[2], "alpha2");
	assert_string_equal(out[3], "beta");
	assert_string_equal(out[4], "zeta");

	/* the /32 carries all four lists covering it */
	assert_v4(&set, 3, "1.1.1.1", 32, 0xf);
	assert_int_equal(list_set_names(&set, set.v4[3].mask, out, 8), 4);
	assert_string_equal(out[0], "Mid");
	assert_string_equal(out[3], "zeta");

	assert_int_equal(list_set_names(&set, 1 << 0 | 1 << 3, out, 8), 2);
	assert_string_equal(out[0], "beta");
	assert_string_equal(out[1], "zeta");

	assert_int_equal(list_set_names(&set, 0x1f, out, 2), 2);
	assert_string_equal(out[0], "Mid");
	assert_string_equal(out[1], "alpha");

	assert_int_equal(list_set_names(&set, 0, out, 8), 0);
	/* bits of lists that do not exist are ignored */
	assert_int_equal(list_set_names(&set, 1ull << 40, out, 8), 0);
	list_set_free(&set);
	assert_int_equal(list_set_names(&set, 0x1f, out, 8), 0);
}

/* Many lines cross the read buffer's edges; a huge line makes it grow. */
static void test_big_file(void **state)
{
	size_t size = 300000 * 16 + LIST_LINE_MAX + 1, len = 0, i;
	struct list_set set;
	char *text = malloc(size);
	unsigned int a;

	(void)state;
	assert_non_null(text);
	/* a comment line as long as a line may be; lines cross reads */
	text[len++] = '#';
	memset(text + len, 'x', LIST_LINE_MAX - 1);
	len += LIST_LINE_MAX - 1;
	text[len++] = '\n';
	for (i = 0; i < 300000; i++) {
		a = (uint32_t)(i * 2654435761u);	/* a bijection: distinct */
		len += snprintf(text + len, size - len, "%u.%u.%u.%u\n",
				a >> 24, a >> 16 & 255, a >> 8 & 255, a & 255);
	}
	load1(&set, text);
	free(text);
	assert_int_equal(set.n_v4, 300000);
	for (i = 1; i < set.n_v4; i++)
		assert_true(set.v4[i - 1].addr < set.v4[i].addr);
	list_set_free(&set);
}

static void test_reuse(void **state)
{
	struct list_set set;

	(void)state;
	load1(&set, "10.0.0.0/8\n");
	list_set_free(&set);
	assert_empty(&set);
	list_set_free(&set);	/* twice is fine */
	load1(&set, "::1\n");
	assert_int_equal(set.n_v6, 1);
	list_set_free(&set);

	/* no lists at all */
	assert_int_equal(list_set_load(&set, NULL, 0, NULL), 0);
	assert_empty(&set);
	list_set_free(&set);
}

/* The range tables. */

typedef unsigned __int128 u128;

static uint32_t ip4(const char *s)
{
	struct in_addr a;

	assert_int_equal(inet_pton(AF_INET, s, &a), 1);
	return ntohl(a.s_addr);
}

static void ip6(const char *s, uint8_t a[16])
{
	assert_int_equal(inet_pton(AF_INET6, s, a), 1);
}

static u128 bytes_u128(const uint8_t a[16])
{
	u128 v = 0;
	int i;

	for (i = 0; i < 16; i++)
		v = v << 8 | a[i];
	return v;
}

static void u128_bytes(u128 v, uint8_t a[16])
{
	int i;

	for (i = 15; i >= 0; i--, v >>= 8)
		a[i] = (uint8_t)v;
}

static u128 range6_start(const struct hdrlog_range_v6 *rg)
{
	return (u128)rg->start_hi << 64 | rg->start_lo;
}

static uint64_t lookup4(const struct list_ranges *r, uint32_t addr)
{
	return list_ranges_lookup(r, 32, addr, 0);
}

static uint64_t lookup6(const struct list_ranges *r, u128 addr)
{
	return list_ranges_lookup(r, 128, addr >> 64, (uint64_t)addr);
}

/*
 * What every table must be: starting at 0, strictly increasing, no two
 * neighbours alike, and the chunk index by its definition (the last range
 * starting at or before the chunk's first address), walked here rather
 * than counted as list_ranges_build does.
 */
static void check_ranges(const struct list_ranges *r)
{
	size_t i, idx;
	uint32_t c;

	assert_true(r->n_v4 >= 1 && r->n_v6 >= 1);
	assert_int_equal(r->v4[0].start, 0);
	assert_true(r->v6[0].start_hi == 0 && r->v6[0].start_lo == 0);
	for (i = 0; i < r->n_v4; i++) {
		assert_int_equal(r->v4[i].pad, 0);
		if (i && (r->v4[i - 1].start >= r->v4[i].start ||
			  r->v4[i - 1].mask == r->v4[i].mask))
			fail_msg("v4 ranges %zu and %zu out of order or alike",
				 i - 1, i);
	}
	for (i = 1; i < r->n_v6; i++)
		if (range6_start(&r->v6[i - 1]) >= range6_start(&r->v6[i]) ||
		    r->v6[i - 1].mask == r->v6[i].mask)
			fail_msg("v6 ranges %zu and %zu out of order or alike",
				 i - 1, i);

	for (c = 0, idx = 0; c < HDRLOG_CHUNKS - 1; c++) {
		uint32_t base = c << (32 - HDRLOG_CHUNK_BITS);

		while (idx + 1 < r->n_v4 && r->v4[idx + 1].start <= base)
			idx++;
		if (r->v4_chunks[c] != idx)
			fail_msg("v4 chunk %#x: %u, not %zu", c,
				 r->v4_chunks[c], idx);
	}
	assert_int_equal(r->v4_chunks[c], r->n_v4 - 1);
	for (c = 0, idx = 0; c < HDRLOG_CHUNKS - 1; c++) {
		u128 base = (u128)c << (128 - HDRLOG_CHUNK_BITS);

		while (idx + 1 < r->n_v6 &&
		       range6_start(&r->v6[idx + 1]) <= base)
			idx++;
		if (r->v6_chunks[c] != idx)
			fail_msg("v6 chunk %#x: %u, not %zu", c,
				 r->v6_chunks[c], idx);
	}
	assert_int_equal(r->v6_chunks[c], r->n_v6 - 1);
}

static void build_ranges(struct list_set *set, struct list_ranges *r, int n,
			 const char *const *texts)
{
	assert_int_equal(load_texts(set, n, texts), 0);
	assert_int_equal(list_ranges_build(r, set), 0);
	check_ranges(r);
}

struct want {
	const char *start;
	uint64_t mask;
};

static void assert_ranges_v4(const struct list_ranges *r,
			     const struct want *w, size_t n)
{
	char buf[INET_ADDRSTRLEN];
	uint32_t be;
	size_t i;

	for (i = 0; i < n && i < r->n_v4; i++) {
		be = htonl(r->v4[i].start);
		inet_ntop(AF_INET, &be, buf, sizeof(buf));
		assert_string_equal(buf, w[i].start);
		assert_int_equal(r->v4[i].mask, w[i].mask);
		/* the search finds it from its first address on */
		assert_int_equal(lookup4(r, r->v4[i].start),
				 w[i].mask);
	}
	assert_int_equal(r->n_v4, n);
}

static void assert_ranges_v6(const struct list_ranges *r,
			     const struct want *w, size_t n)
{
	char buf[INET6_ADDRSTRLEN];
	uint8_t a[16];
	size_t i;

	for (i = 0; i < n && i < r->n_v6; i++) {
		u128_bytes(range6_start(&r->v6[i]), a);
		inet_ntop(AF_INET6, a, buf, sizeof(buf));
		assert_string_equal(buf, w[i].start);
		assert_int_equal(r->v6[i].mask, w[i].mask);
		assert_int_equal(lookup6(r, range6_start(&r->v6[i])), w[i].mask);
	}
	assert_int_equal(r->n_v6, n);
}

#define ASSERT_RANGES(fam, r, ...) do {					\
	const struct want w_[] = { __VA_ARGS__ };			\
	assert_ranges_##fam(r, w_, sizeof(w_) / sizeof(w_[0]));	\
} while (0)

static void test_ranges_empty(void **state)
{
	struct list_ranges r;
	struct list_set set;
	uint8_t a[16];

	(void)state;
	assert_int_equal(list_set_load(&set, NULL, 0, NULL), 0);
	assert_int_equal(list_ranges_build(&r, &set), 0);
	check_ranges(&r);
	ASSERT_RANGES(v4, &r, { "0.0.0.0", 0 });
	ASSERT_RANGES(v6, &r, { "::", 0 });
	assert_int_equal(lookup4(&r, 0xffffffff), 0);
	memset(a, 0xff, sizeof(a));
	assert_int_equal(lookup6(&r, bytes_u128(a)), 0);
	list_ranges_free(&r);
	list_ranges_free(&r);	/* twice is fine */
	list_set_free(&set);
}

static void test_ranges_nested_v4(void **state)
{
	const char *t[] = {
		"a.txt", "10.0.0.0/8\n10.1.0.0/16\n",
		/* adjacent /24s merge; three prefixes end at 11.0.0.0 */
		"b.txt", ("10.1.0.0/24\n10.1.1.0/24\n10.2.0.0/16\n"
			  "10.255.255.0/24\n"),
		"c.txt", "10.3.0.0/16\n192.168.0.0/16\n10.255.0.0/16\n",
	};
	struct list_ranges r;
	struct list_set set;

	(void)state;
	build_ranges(&set, &r, 3, t);
	ASSERT_RANGES(v4, &r,
		{ "0.0.0.0", 0 },
		{ "10.0.0.0", A },
		{ "10.1.0.0", A | B },
		{ "10.1.2.0", A },
		{ "10.2.0.0", A | B },
		{ "10.3.0.0", A | C },
		{ "10.4.0.0", A },
		{ "10.255.0.0", A | C },
		{ "10.255.255.0", A | B | C },
		{ "11.0.0.0", 0 },
		{ "192.168.0.0", C },
		{ "192.169.0.0", 0 });
	ASSERT_RANGES(v6, &r, { "::", 0 });
	assert_int_equal(lookup4(&r, ip4("9.255.255.255")), 0);
	assert_int_equal(lookup4(&r, ip4("10.1.1.255")), A | B);
	assert_int_equal(lookup4(&r, ip4("10.1.2.0")), A);
	assert_int_equal(lookup4(&r, ip4("10.255.255.255")),
			 A | B | C);
	assert_int_equal(lookup4(&r, ip4("255.255.255.255")), 0);
	list_ranges_free(&r);
	list_set_free(&set);
}

static void test_ranges_nested_v6(void **state)
{
	const char *t[] = {
		"a.txt", "2001:db8::/32\n2001:db8:1::/48\n",
		"b.txt", "2001:db8:1::/64\n2001:db8:1:1::/64\n2001:db8:ffff::/48\n",
		"c.txt", "2001:db8:ffff:ffff::/64\n2001:db9::1\n",
	};
	struct list_ranges r;
	struct list_set set;
	uint8_t a[16];

	(void)state;
	build_ranges(&set, &r, 3, t);
	ASSERT_RANGES(v6, &r,
		{ "::", 0 },
		{ "2001:db8::", A },
		{ "2001:db8:1::", A | B },
		{ "2001:db8:1:2::", A },
		{ "2001:db8:ffff::", A | B },
		{ "2001:db8:ffff:ffff::", A | B | C },
		{ "2001:db9::", 0 },
		{ "2001:db9::1", C },
		{ "2001:db9::2", 0 });
	ip6("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", a);
	assert_int_equal(lookup6(&r, bytes_u128(a)), A | B | C);
	ip6("2001:db8:1:1:ffff:ffff:ffff:ffff", a);
	assert_int_equal(lookup6(&r, bytes_u128(a)), A | B);
	list_ranges_free(&r);
	list_set_free(&set);
}

/* A nested prefix starting where its parent does replaces its range. */
static void test_ranges_same_start(void **state)
{
	const char *t[] = {
		"a.txt", ("30.0.0.0/24\n30.0.1.0/24\n40.0.0.0/8\n"
			  "2001:db6::/32\n2001:db7::/32\n2001:db8::/32\n"),
		"b.txt", ("30.0.0.0/24\n30.0.1.0/25\n40.0.0.0/16\n40.0.0.0/24\n"
			  "2001:db6::/32\n2001:db7::/33\n2001:db8::/48\n"),
		"c.txt", "40.0.0.0/32\n2001:db8::/128\n",
	};
	struct list_ranges r;
	struct list_set set;

	(void)state;
	build_ranges(&set, &r, 3, t);
	/*
	 * 30.0.1.0/24 (A) follows 30.0.0.0/24 (AB), then 30.0.1.0/25 (AB)
	 * replaces its range, which then merges with the one before.
	 */
	ASSERT_RANGES(v4, &r,
		{ "0.0.0.0", 0 },
		{ "30.0.0.0", A | B },
		{ "30.0.1.128", A },
		{ "30.0.2.0", 0 },
		{ "40.0.0.0", A | B | C },
		{ "40.0.0.1", A | B },
		{ "40.1.0.0", A },
		{ "41.0.0.0", 0 });
	ASSERT_RANGES(v6, &r,
		{ "::", 0 },
		{ "2001:db6::", A | B },
		{ "2001:db7:8000::", A },
		{ "2001:db8::", A | B | C },
		{ "2001:db8::1", A | B },
		{ "2001:db8:1::", A },
		{ "2001:db9::", 0 });
	list_ranges_free(&r);
	list_set_free(&set);
}

static void test_ranges_slash0(void **state)
{
	const char *t[] = {
		"a.txt", "0.0.0.0/0\n::/0\n",
		"b.txt", "0.0.0.0/32\n1.2.3.0/24\n::/128\n2001:db8::/32\n",
	};
	struct list_ranges r;
	struct list_set set;
	uint8_t a[16];

	(void)state;
	build_ranges(&set, &r, 2, t);
	ASSERT_RANGES(v4, &r,
		{ "0.0.0.0", A | B },
		{ "0.0.0.1", A },
		{ "1.2.3.0", A | B },
		{ "1.2.4.0", A });
	ASSERT_RANGES(v6, &r,
		{ "::", A | B },
		{ "::1", A },
		{ "2001:db8::", A | B },
		{ "2001:db9::", A });
	assert_int_equal(lookup4(&r, 0xffffffff), A);
	memset(a, 0xff, sizeof(a));
	assert_int_equal(lookup6(&r, bytes_u128(a)), A);
	list_ranges_free(&r);
	list_set_free(&set);

	/* alone: one range */
	load1(&set, "0.0.0.0/0\n::/0\n");
	assert_int_equal(list_ranges_build(&r, &set), 0);
	check_ranges(&r);
	ASSERT_RANGES(v4, &r, { "0.0.0.0", A });
	ASSERT_RANGES(v6, &r, { "::", A });
	list_ranges_free(&r);
	list_set_free(&set);
}

/* Prefixes ending at the top of the space have no range after them. */
static void test_ranges_top(void **state)
{
	const char *t[] = {
		"a.txt", ("255.255.255.255/32\n255.255.255.254/32\n"
			  "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128\n"),
		"b.txt", "255.255.255.0/24\nffff::/16\n",
		"c.txt", "255.0.0.0/8\n",
	};
	struct list_ranges r;
	struct list_set set;
	uint8_t a[16];

	(void)state;
	build_ranges(&set, &r, 3, t);
	ASSERT_RANGES(v4, &r,
		{ "0.0.0.0", 0 },
		{ "255.0.0.0", C },
		{ "255.255.255.0", B | C },
		{ "255.255.255.254", A | B | C });
	ASSERT_RANGES(v6, &r,
		{ "::", 0 },
		{ "ffff::", B },
		{ "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", A | B });
	assert_int_equal(lookup4(&r, 0xffffffff), A | B | C);
	assert_int_equal(lookup4(&r, 0xfffffffd), B | C);
	memset(a, 0xff, sizeof(a));
	assert_int_equal(lookup6(&r, bytes_u128(a)), A | B);
	a[15] = 0xfe;
	assert_int_equal(lookup6(&r, bytes_u128(a)), B);
	list_ranges_free(&r);
	list_set_free(&set);
}

/* A v4 chunk is a /20 (4096 addresses), a v6 one a /20 too. */
static void test_ranges_chunks(void **state)
{
	const char *t[] = {
		"a.txt", "10.0.16.0/20\n10.0.64.0/18\n2001:db8::/32\n",
		"b.txt", "10.0.32.1\n2001:fff:ffff:ffff:ffff:ffff:ffff:ffff\n",
		"c.txt", "10.0.47.255\n2001:1000::/20\n",
	};
	const uint32_t c10 = 0x0a000;	/* the chunk of 10.0.0.0 */
	const uint32_t c6 = 0x20010;	/* the chunk of 2001:: */
	struct list_ranges r;
	struct list_set set;

	(void)state;
	build_ranges(&set, &r, 3, t);
	ASSERT_RANGES(v4, &r,
		{ "0.0.0.0", 0 },
		{ "10.0.16.0", A },
		{ "10.0.32.0", 0 },
		{ "10.0.32.1", B },
		{ "10.0.32.2", 0 },
		{ "10.0.47.255", C },
		{ "10.0.48.0", 0 },
		{ "10.0.64.0", A },
		{ "10.0.128.0", 0 });
	assert_int_equal(r.v4_chunks[0], 0);
	assert_int_equal(r.v4_chunks[c10 - 1], 0);
	assert_int_equal(r.v4_chunks[c10], 0);
	assert_int_equal(r.v4_chunks[c10 + 1], 1);	/* starts there */
	assert_int_equal(r.v4_chunks[c10 + 2], 2);
	assert_int_equal(r.v4_chunks[c10 + 3], 6);	/* 10.0.48.0 */
	assert_int_equal(r.v4_chunks[c10 + 4], 7);
	assert_int_equal(r.v4_chunks[c10 + 7], 7);
	assert_int_equal(r.v4_chunks[c10 + 8], 8);
	assert_int_equal(r.v4_chunks[(1 << HDRLOG_CHUNK_BITS) - 1], 8);
	assert_int_equal(r.v4_chunks[1 << HDRLOG_CHUNK_BITS], 8);
	assert_int_equal(lookup4(&r, ip4("10.0.15.255")), 0);
	assert_int_equal(lookup4(&r, ip4("10.0.16.0")), A);
	assert_int_equal(lookup4(&r, ip4("10.0.31.255")), A);
	assert_int_equal(lookup4(&r, ip4("10.0.32.0")), 0);
	assert_int_equal(lookup4(&r, ip4("10.0.32.1")), B);
	assert_int_equal(lookup4(&r, ip4("10.0.47.254")), 0);
	assert_int_equal(lookup4(&r, ip4("10.0.47.255")), C);
	assert_int_equal(lookup4(&r, ip4("10.0.48.0")), 0);
	assert_int_equal(lookup4(&r, ip4("10.0.127.255")), A);
	assert_int_equal(lookup4(&r, ip4("10.0.128.0")), 0);

	ASSERT_RANGES(v6, &r,
		{ "::", 0 },
		{ "2001:db8::", A },
		{ "2001:db9::", 0 },
		{ "2001:fff:ffff:ffff:ffff:ffff:ffff:ffff", B },
		{ "2001:1000::", C },
		{ "2001:2000::", 0 });
	assert_int_equal(r.v6_chunks[c6 - 1], 0);
	assert_int_equal(r.v6_chunks[c6], 0);
	assert_int_equal(r.v6_chunks[c6 + 1], 4);
	assert_int_equal(r.v6_chunks[c6 + 2], 5);
	assert_int_equal(r.v6_chunks[1 << HDRLOG_CHUNK_BITS], 5);
	assert_int_equal(lookup6(&r, (u128)0x20010fffffffffffull << 64 |
				     0xfffffffffffffffeull), 0);
	assert_int_equal(lookup6(&r, ((u128)0x20011 << 108) - 1), B);
	assert_int_equal(lookup6(&r, (u128)0x20011 << 108), C);
	list_ranges_free(&r);
	list_set_free(&set);
}

/* Random sets against a brute-force search, by fixed seeds. */

#define RAND_LISTS	8
#define RAND_LINES	80	/* per list, about 3/4 of them IPv4 */
#define RAND_QUERIES	400

struct raw_prefix {
	bool v6;
	unsigned int len;
	u128 addr;		/* v4 in the low 32 bits */
	uint64_t bit;
};

static uint64_t rnd_state;

static uint64_t rnd(void)
{
	/* xorshift64* */
	rnd_state ^= rnd_state >> 12;
	rnd_state ^= rnd_state << 25;
	rnd_state ^= rnd_state >> 27;
	return rnd_state * 0x2545f4914f6cdd1dull;
}

static uint32_t mask4(unsigned int len)
{
	return len ? ~0u << (32 - len) : 0;
}

static u128 mask6(unsigned int len)
{
	return len ? ~(u128)0 << (128 - len) : 0;
}

/* x >> n for n up to the type's width: C leaves a full-width shift undefined. */
static uint32_t shr32(uint32_t x, unsigned int n)
{
	return n < 32 ? x >> n : 0;
}

static u128 shr128(u128 x, unsigned int n)
{
	return n < 128 ? x >> n : 0;
}

/*
 * Crowded into a few chunks so that prefixes nest, share starts and
 * abut, and into one so that its search takes many steps; some at chunk
 * edges; some anywhere, the top of the space included.
 */
static unsigned int rand_len4(void);

/* An address, and if len, a prefix length for it. */
static uint32_t rand_v4(unsigned int *len)
{
	uint64_t x = rnd();

	if (len)
		*len = rand_len4();

	switch (x % 10) {
	case 0:
		return x % 3 ? (uint32_t)(x >> 8) : 0xffffffff;
	case 1:
	case 2:
		return 0x0a000000 | (x >> 8 & 0xff) << 12 |
		       (x & 16 ? 0xfff - (x >> 20 & 3) : x >> 20 & 3);
	case 3:
	case 4:
		/* many ranges in one chunk: the search takes every step */
		if (len)
			*len = 20 + x / 10 % 13;
		return 0x0a0ff000 | (uint32_t)(x >> 8 & 0xfff);
	default:
		return 0x0a000000 | (uint32_t)(x >> 8 & 0xfffff);
	}
}

static unsigned int rand_len4(void)
{
	uint64_t x = rnd();

	/* short ones are rare: they would give all a common mask */
	if (!(x % 50))
		return x / 50 % 33;
	return x % 40 ? 16 + x / 50 % 17 : 10 + x / 50 % 6;
}

static unsigned int rand_len6(void);

static u128 rand_v6(unsigned int *len)
{
	uint64_t x = rnd(), y = rnd();
	u128 hi;

	if (len)
		*len = rand_len6();

	switch (x % 10) {
	case 0:
		/* anywhere, but never in ::ffff:0:0/96, which is IPv4 */
		if (x & 16)
			return ~(u128)0;
		return (u128)(y | 1ull << 63) << 64 | rnd();
	case 1:
	case 2:
		hi = (u128)(0x20010 + (y & 3)) << 108;
		return x & 32 ? hi - 1 - (y >> 8 & 3) : hi + (y >> 8 & 3);
	case 3:
	case 4:
		if (len)
			*len = 64 + x / 10 % 65;
		return (u128)0x20010 << 108 | (u128)(y & 0xff) << 64 |
		       (y >> 8 & 0xff);
	default:
		hi = (u128)0x2001 << 112 | (u128)(y & 0xf) << 108 |
		     (u128)(y >> 4 & 0xff) << 96 | (u128)(y >> 12 & 0xff) << 64;
		return hi | (x & 64 ? y >> 20 & 0xff : 0);
	}
}

static unsigned int rand_len6(void)
{
	uint64_t x = rnd();

	if (!(x % 50))
		return x / 50 % 129;
	return x % 40 ? 32 + x / 50 % 97 : 4 + x / 50 % 28;
}

static int rand_lists(struct raw_prefix *raw, char **texts, int n_lists)
{
	static char names[RAND_LISTS][24];	/* "r%d.txt" for any int */
	int list, i, n = 0;

	for (list = 0; list < n_lists; list++) {
		size_t size = RAND_LINES * 50, len = 0;
		char *text = malloc(size), buf[INET6_ADDRSTRLEN];
		int lines = rnd() % (RAND_LINES + 1);

		assert_non_null(text);
		text[0] = '\0';
		snprintf(names[list], sizeof(names[list]), "r%d.txt", list);
		for (i = 0; i < lines; i++) {
			struct raw_prefix *p = &raw[n++];
			uint8_t a[16];

			p->bit = 1ull << list;
			p->v6 = rnd() % 4 == 0;
			if (p->v6) {
				p->addr = rand_v6(&p->len) & mask6(p->len);
				u128_bytes(p->addr, a);
				inet_ntop(AF_INET6, a, buf, sizeof(buf));
			} else {
				uint32_t be;

				p->addr = rand_v4(&p->len) & mask4(p->len);
				be = htonl((uint32_t)p->addr);
				inet_ntop(AF_INET, &be, buf, sizeof(buf));
			}
			len += snprintf(text + len, size - len, "%s/%u\n", buf,
					p->len);
			assert_true(len < size);
		}
		texts[2 * list] = names[list];
		texts[2 * list + 1] = text;
	}
	return n;
}

/* The longest match among the set's prefixes, found the slow way. */
static uint64_t lpm_v4(const struct list_set *set, uint32_t addr)
{
	unsigned int best = 0;
	uint64_t mask = 0;
	size_t i;

	for (i = 0; i < set->n_v4; i++) {
		const struct entry_v4 *e = &set->v4[i];

		if ((addr & mask4(e->len)) == e->addr &&
		    (!mask || e->len >= best)) {
			best = e->len;
			mask = e->mask;
		}
	}
	return mask;
}

static uint64_t lpm_v6(const struct list_set *set, u128 addr)
{
	unsigned int best = 0;
	uint64_t mask = 0;
	size_t i;

	for (i = 0; i < set->n_v6; i++) {
		const struct entry_v6 *e = &set->v6[i];

		if ((addr & mask6(e->len)) == ((u128)e->hi << 64 | e->lo) &&
		    (!mask || e->len >= best)) {
			best = e->len;
			mask = e->mask;
		}
	}
	return mask;
}

/* Every list with a line covering addr: what the mask means. */
static uint64_t union_of(const struct raw_prefix *raw, int n, bool v6,
			 u128 addr)
{
	uint64_t mask = 0;
	int i;

	for (i = 0; i < n; i++)
		if (raw[i].v6 == v6 &&
		    (addr & (v6 ? mask6(raw[i].len) : mask4(raw[i].len))) ==
		    raw[i].addr)
			mask |= raw[i].bit;
	return mask;
}

static void check_v4(const struct list_ranges *r, const struct list_set *set,
		     const struct raw_prefix *raw, int n, uint32_t addr)
{
	uint64_t got = lookup4(r, addr), want;

	want = lpm_v4(set, addr);
	if (got != want)
		fail_msg("v4 %#x: %#llx, not %#llx", addr,
			 (unsigned long long)got, (unsigned long long)want);
	assert_int_equal(want, union_of(raw, n, false, addr));
}

static void check_v6(const struct list_ranges *r, const struct list_set *set,
		     const struct raw_prefix *raw, int n, u128 addr)
{
	uint64_t got = lookup6(r, addr), want;

	want = lpm_v6(set, addr);
	if (got != want)
		fail_msg("v6 %#llx:%#llx: %#llx, not %#llx",
			 (unsigned long long)(addr >> 64),
			 (unsigned long long)addr,
			 (unsigned long long)got, (unsigned long long)want);
	assert_int_equal(want, union_of(raw, n, true, addr));
}

static void test_ranges_random(void **state)
{
	struct raw_prefix raw[RAND_LISTS * RAND_LINES];
	const char *texts[2 * RAND_LISTS];
	char *owned[2 * RAND_LISTS];
	struct list_ranges r;
	struct list_set set;
	int seed, n, n_lists, i, d;
	size_t k;

	(void)state;
	for (seed = 1; seed <= 30; seed++) {
		rnd_state = seed * 0x9e3779b97f4a7c15ull;
		n_lists = 1 + rnd() % RAND_LISTS;
		n = rand_lists(raw, owned, n_lists);
		for (i = 0; i < 2 * n_lists; i++)
			texts[i] = owned[i];
		build_ranges(&set, &r, n_lists, texts);
		for (i = 0; i < n_lists; i++)
			free(owned[2 * i + 1]);

		/* every boundary and its neighbours, wrapping at the ends */
		for (k = 0; k < r.n_v4; k++)
			for (d = -1; d <= 1; d++)
				check_v4(&r, &set, raw, n, r.v4[k].start + d);
		for (k = 0; k < r.n_v6; k++)
			for (d = -1; d <= 1; d++)
				check_v6(&r, &set, raw, n,
					 range6_start(&r.v6[k]) + d);
		/* each prefix's first and last address, and random ones */
		for (i = 0; i < n; i++) {
			if (raw[i].v6) {
				check_v6(&r, &set, raw, n, raw[i].addr);
				check_v6(&r, &set, raw, n,
					 raw[i].addr | ~mask6(raw[i].len));
			} else {
				check_v4(&r, &set, raw, n, raw[i].addr);
				check_v4(&r, &set, raw, n,
					 raw[i].addr | ~mask4(raw[i].len));
			}
		}
		/* a random flip of the low 0..all bits */
		for (i = 0; i < RAND_QUERIES; i++) {
			check_v4(&r, &set, raw, n,
				 rand_v4(NULL) ^ shr32((uint32_t)rnd(),
						      rnd() % 33));
			check_v6(&r, &set, raw, n,
				 rand_v6(NULL) ^ shr128((u128)rnd() << 64 |
							rnd(), rnd() % 129));
		}
		list_ranges_free(&r);
		list_set_free(&set);
	}
}

/*
 * A tree four levels deep: 150,000 IPv6 prefixes in the one chunk
 * 2001::/20 (about 300,000 ranges, more than a three-level subtree's
 * 64^3), and 6,000 IPv4 /30../32 in 10.0.0.0/19, over three lists. The
 * search of the kernel's tables (list_ranges_lookup) must agree with a
 * plain binary search of the ranges, which test_ranges_random checks
 * against the prefixes, at every boundary and its neighbours and at
 * random addresses; and with the prefixes themselves at some of these.
 */
#define DEEP_V6		150000
#define DEEP_V4		6000

static uint64_t flat_lookup(const struct list_ranges *r, bool v6, u128 addr)
{
	size_t lo = 0, hi = v6 ? r->n_v6 : r->n_v4;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		u128 start = v6 ? range6_start(&r->v6[mid]) : r->v4[mid].start;

		if (start <= addr)
			lo = mid;
		else
			hi = mid;
	}
	return v6 ? r->v6[lo].mask : r->v4[lo].mask;
}

static void check_deep(const struct list_ranges *r, const struct list_set *set,
		       bool v6, u128 addr, bool slow)
{
	uint64_t got = v6 ? lookup6(r, addr) : lookup4(r, (uint32_t)addr);
	uint64_t want = flat_lookup(r, v6, addr);

	if (got != want)
		fail_msg("%s %#llx:%#llx: tree %#llx, ranges %#llx",
			 v6 ? "v6" : "v4", (unsigned long long)(addr >> 64),
			 (unsigned long long)addr, (unsigned long long)got,
			 (unsigned long long)want);
	if (slow)
		assert_int_equal(got, v6 ? lpm_v6(set, addr)
					 : lpm_v4(set, (uint32_t)addr));
}

static void test_ranges_deep_tree(void **state)
{
	const size_t size = (size_t)(DEEP_V6 + DEEP_V4) * 48;
	char *text[3], buf[INET6_ADDRSTRLEN];
	size_t len[3] = { 0, 0, 0 }, k;
	const char *texts[6];
	struct list_ranges r;
	struct list_set set;
	struct hdrlog_chunk ch;
	const struct hdrlog_chunk *c;
	int i, d;

	(void)state;
	rnd_state = 0x5eed;
	for (i = 0; i < 3; i++) {
		text[i] = malloc(size);
		assert_non_null(text[i]);
		text[i][0] = '\0';
	}
	for (i = 0; i < DEEP_V6 + DEEP_V4; i++) {
		int list = rnd() % 3;
		unsigned int plen;

		if (i < DEEP_V6) {
			uint8_t a[16];

			plen = 36 + rnd() % 93;
			u128_bytes(((u128)0x20010 << 108 |
				    shr128((u128)rnd() << 64 | rnd(), 20)) &
				   mask6(plen), a);
			inet_ntop(AF_INET6, a, buf, sizeof(buf));
		} else {
			uint32_t be;

			plen = 30 + rnd() % 3;
			be = htonl((0x0a000000 | (uint32_t)rnd() % 0x2000) &
				   mask4(plen));
			inet_ntop(AF_INET, &be, buf, sizeof(buf));
		}
		len[list] += snprintf(text[list] + len[list], size - len[list],
				      "%s/%u\n", buf, plen);
		assert_true(len[list] < size);
	}
	for (i = 0; i < 3; i++) {
		texts[2 * i] = i == 0 ? "d0.txt" : i == 1 ? "d1.txt" : "d2.txt";
		texts[2 * i + 1] = text[i];
	}
	build_ranges(&set, &r, 3, texts);
	for (i = 0; i < 3; i++)
		free(text[i]);

	/*
	 * The search really goes four nodes down; for IPv4 two, all a chunk
	 * of 4096 addresses can need (three if it straddles a subtree).
	 */
	assert_true(r.n_v6 > 64 * 64 * 64);
	list_ranges_chunk(&r, 128, 0x20010, &ch);
	c = &ch;
	assert_int_equal(c->levels, 4);
	assert_int_equal(c->node, r.n_v6_nodes - 1);	/* the root */
	assert_int_equal(c->first, 0);
	assert_true(c->end >= 2 && c->end <= HDRLOG_NODE_KEYS);
	list_ranges_chunk(&r, 32, 0x0a000, &ch);
	assert_int_equal(c->levels, 2);

	for (k = 0; k < r.n_v6; k++)
		for (d = -1; d <= 1; d++)
			check_deep(&r, &set, true, range6_start(&r.v6[k]) + d,
				   k % 1000 == 0);
	for (k = 0; k < r.n_v4; k++)
		for (d = -1; d <= 1; d++)
			check_deep(&r, &set, false,
				   (uint32_t)(r.v4[k].start + d), k % 100 == 0);
	for (i = 0; i < 20000; i++) {
		check_deep(&r, &set, true, (u128)0x20010 << 108 |
			   shr128((u128)rnd() << 64 | rnd(), 20), i % 100 == 0);
		check_deep(&r, &set, false,
			   0x0a000000 | (uint32_t)rnd() % 0x2000, i % 10 == 0);
	}
	list_ranges_free(&r);
	list_set_free(&set);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_names),
		cmocka_unit_test(test_given_names),
		cmocka_unit_test(test_bad_names),
		cmocka_unit_test(test_any),
		cmocka_unit_test(test_formats),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_mapped),
		cmocka_unit_test(test_host_bits),
		cmocka_unit_test(test_bad_lines),
		cmocka_unit_test(test_bad_line_in_second_file),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_special_files),
		cmocka_unit_test(test_nul_bytes),
		cmocka_unit_test(test_long_lines),
		cmocka_unit_test(test_log_keeps_errno),
		cmocka_unit_test(test_log_escape),
		cmocka_unit_test(test_stop),
		cmocka_unit_test(test_duplicate_names),
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_propagation_v4),
		cmocka_unit_test(test_propagation_v6),
		cmocka_unit_test(test_max_lists),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_big_file),
		cmocka_unit_test(test_reuse),
		cmocka_unit_test(test_ranges_empty),
		cmocka_unit_test(test_ranges_nested_v4),
		cmocka_unit_test(test_ranges_nested_v6),
		cmocka_unit_test(test_ranges_same_start),
		cmocka_unit_test(test_ranges_slash0),
		cmocka_unit_test(test_ranges_top),
		cmocka_unit_test(test_ranges_chunks),
		cmocka_unit_test(test_ranges_random),
		cmocka_unit_test(test_ranges_deep_tree),
	};

	return cmocka_run_group_tests(tests, scratch_setup, scratch_teardown);
}
