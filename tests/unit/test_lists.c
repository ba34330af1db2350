// SPDX-License-Identifier: GPL-2.0-or-later
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

#include "lists.h"

static char dir[] = "/tmp/hdrlog-test-lists-XXXXXX";
static char err[8192];		/* stderr of the last capture */
static int saved_stderr = -1;
static FILE *err_file;

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) ? -1 : 0;
}

/* Writes dir/name and returns its path (static, one at a time per slot). */
static const char *write_file(const char *name, const char *text)
{
	static char paths[4][256];
	static int slot;
	char *path = paths[slot++ % 4];
	FILE *f;

	snprintf(path, 256, "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
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
	return list_set_load(set, specs, n);
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

	assert_true(i < set->n_v4);
	inet_ntop(AF_INET, set->v4[i].key.addr, buf, sizeof(buf));
	assert_string_equal(buf, addr);
	assert_int_equal(set->v4[i].key.prefixlen, len);
	assert_int_equal(set->v4[i].mask, mask);
}

static void assert_v6(const struct list_set *set, size_t i, const char *addr,
		      unsigned int len, uint64_t mask)
{
	char buf[INET6_ADDRSTRLEN];

	assert_true(i < set->n_v6);
	inet_ntop(AF_INET6, set->v6[i].key.addr, buf, sizeof(buf));
	assert_string_equal(buf, addr);
	assert_int_equal(set->v6[i].key.prefixlen, len);
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
	expect_spec_error(LIST_TAG, "caf\xc3\xa9=x", "'caf\xc3\xa9'");
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
	assert_int_equal(list_set_load(&set, &sp, 1), 0);
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
	assert_int_equal(list_set_load(&set, &sp, 1), 0);
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
		assert_int_equal(list_set_load(&set, &sp, 1), -1);
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
	snprintf(path, sizeof(path), "%s/no-such-file.txt", dir);
	spec(&sp, path);
	capture_begin();
	assert_int_equal(list_set_load(&set, &sp, 1), -1);
	capture_end();
	snprintf(want, sizeof(want), "hdrlog: %s: No such file or directory\n",
		 path);
	assert_string_equal(err, want);
	assert_empty(&set);

	/* a directory opens but cannot be read */
	spec(&sp, dir);
	capture_begin();
	assert_int_equal(list_set_load(&set, &sp, 1), -1);
	capture_end();
	assert_non_null(strstr(err, "Is a directory"));
	assert_empty(&set);
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
	assert_int_equal(list_set_load(&set, sp, 3), -1);
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
	assert_int_equal(list_set_load(&set, specs, MAX_LISTS), 0);
	assert_int_equal(set.n_lists, MAX_LISTS);
	assert_int_equal(set.n_v4, 1);
	assert_v4(&set, 0, "192.0.2.0", 24, ~0ull);
	list_set_free(&set);

	capture_begin();
	assert_int_equal(list_set_load(&set, specs, MAX_LISTS + 1), -1);
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
	assert_int_equal(list_set_load(&set, specs, 5), 0);

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
	size_t size = 300000 * 16 + (3 << 20), len = 0, i;
	struct list_set set;
	char *text = malloc(size);
	unsigned int a;

	(void)state;
	assert_non_null(text);
	/* a comment line longer than the read buffer */
	text[len++] = '#';
	memset(text + len, 'x', 3 << 20);
	len += 3 << 20;
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
		assert_true(memcmp(set.v4[i - 1].key.addr, set.v4[i].key.addr,
				   4) < 0);
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
	assert_int_equal(list_set_load(&set, NULL, 0), 0);
	assert_empty(&set);
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
		cmocka_unit_test(test_duplicate_names),
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_propagation_v4),
		cmocka_unit_test(test_propagation_v6),
		cmocka_unit_test(test_max_lists),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_big_file),
		cmocka_unit_test(test_reuse),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
