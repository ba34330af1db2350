// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * --respond-state FILE: FILE.baseline (detector = baseline's averages)
 * is written every minute by a thread of its own, off the main loop
 * (src/respond.c, struct base_save). A write that takes long is made to
 * take as long as the test wants: this file's fsync() holds the writer
 * of FILE.baseline.tmp (all written, not yet synced) until the test lets
 * it go, then fails it or not. (It was a FIFO put at FILE.baseline.tmp;
 * hdrlog now removes whatever is there before it writes, see
 * sink_create_tmp().) The periodic save must return meanwhile (before,
 * the loop itself waited there: the alarm ends the test), start no
 * second writer, keep the old file when that write fails, and the exit
 * save must wait for it and then write the whole table. Only the public
 * API: the table is filled by reading a FILE.baseline at start, as
 * hdrlog does.
 */
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
#include <sys/stat.h>
#include <sys/syscall.h>

#include <cmocka.h>

#include "clock.h"
#include "respond.h"

#define SCRATCH_NAME "respond-save"
#include "scratch.h"

#define NS		1000000000ull
#define N_ROWS		(2 * 256 + 1000)
#define ROW_MAX		64


/*
 * hdrlog's fsync() calls come here (the executable's definition wins over
 * libc's). One of a FILE.baseline.tmp waits while hold is set, and then
 * fails with EIO if fail is; each is counted in synced.
 */
static bool hold, fail;
static int synced, held;

int fsync(int fd)
{
	char link[64], name[256];
	ssize_t len;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	len = readlink(link, name, sizeof(name) - 1);
	name[len > 0 ? len : 0] = '\0';
	if (len > 0 && strstr(name, ".baseline.tmp")) {
		__atomic_add_fetch(&synced, 1, __ATOMIC_SEQ_CST);
		if (__atomic_load_n(&hold, __ATOMIC_SEQ_CST)) {
			__atomic_store_n(&held, 1, __ATOMIC_SEQ_CST);
			while (__atomic_load_n(&hold, __ATOMIC_SEQ_CST))
				usleep(1000);	/* the alarm bounds it */
		}
		if (__atomic_load_n(&fail, __ATOMIC_SEQ_CST)) {
			errno = EIO;
			return -1;
		}
	}
	return syscall(SYS_fsync, fd);
}

/* All of path. */
static char *read_all(const char *path)
{
	int fd = open(path, O_RDONLY);
	size_t size = 1 << 20, n = 0;
	char *buf = calloc(1, size + 1);
	ssize_t got;

	assert_true(fd >= 0);
	assert_non_null(buf);
	while ((got = read(fd, buf + n, size - n)) > 0)
		n += got;
	assert_int_equal(got, 0);
	close(fd);
	return buf;
}

static int count(const char *text, const char *what)
{
	int n = 0;

	for (const char *s = text; (s = strstr(s, what)); s++)
		n++;
	return n;
}

/* A FILE.baseline's rows (lines not starting with '#' or a letter), sorted. */
static int rows_of(const char *text, char rows[][ROW_MAX], int max)
{
	int n = 0;

	memset(rows, 0, (size_t)max * ROW_MAX);	/* compared whole */
	for (const char *s = text; *s; s = strchr(s, '\n') + 1) {
		size_t len = strcspn(s, "\n");

		if (len && *s != '#' && !(*s >= 'a' && *s <= 'z')) {
			assert_true(n < max && len < ROW_MAX);
			memcpy(rows[n], s, len);
			rows[n++][len] = '\0';
		}
		if (!s[len])
			break;
	}
	qsort(rows, n, ROW_MAX, (int (*)(const void *, const void *))strcmp);
	return n;
}

static void test_save_held_up(void **state)
{
	static char want[N_ROWS][ROW_MAX], got[N_ROWS][ROW_MAX];
	char conf[128], path[128], base[160], tmp[160], *old, *text;
	struct respond_fds fds = { .sources = -1, .blocks = -1, .hot = -1,
				   .counters = -1 };
	struct respond_config c;
	struct respond *r;
	uint64_t now;
	FILE *f;

	(void)state;
	/* a save that waits for ever fails the test, not hangs it */
	alarm(30);
	snprintf(conf, sizeof(conf), "%s/respond.conf", scratch_dir);
	snprintf(path, sizeof(path), "%s/learned.state", scratch_dir);
	snprintf(base, sizeof(base), "%s.baseline", path);
	snprintf(tmp, sizeof(tmp), "%s.baseline.tmp", path);
	f = fopen(conf, "w");
	assert_non_null(f);
	fprintf(f, "window = 1s\nsources = 4096\n[policy learned]\n"
		"detector = baseline\nhistory = 10m\n");
	fclose(f);
	assert_int_equal(respond_config_load(&c, conf), 0);
	assert_int_equal(respond_config_bind(&c, NULL, 0), 0);

	f = fopen(base, "w");
	assert_non_null(f);
	fprintf(f, "hdrlog-baseline 1 written %.3f\npolicy learned packets\n",
		clock_real_ns() / 1e9);
	for (int i = 0; i < N_ROWS; i++) {
		if (i < 256)
			fprintf(f, "198.51.100.%d/32", i);
		else if (i < 512)
			fprintf(f, "203.0.113.%d/32", i - 256);
		else
			fprintf(f, "2001:db8:0:%x::/64", i - 511);
		fprintf(f, " %d 60000\n", 100 + i);	/* exact in %.9g */
	}
	fclose(f);
	old = read_all(base);
	assert_int_equal(rows_of(old, want, N_ROWS), N_ROWS);

	r = respond_new(&c, &fds, true);
	assert_non_null(r);
	assert_int_equal(respond_state_load(r, path, NULL, NULL, NULL), 0);
	hold = fail = true;

	/* a minute on: the save is due; its writer waits in fsync(tmp) */
	now = clock_mono_ns() + 61 * NS;
	respond_state_save(r, now, false, NULL);
	for (int i = 0; !__atomic_load_n(&held, __ATOMIC_SEQ_CST); i++) {
		assert_true(i < 1000);
		usleep(10000);
	}
	/* and another minute: not a second writer while it runs */
	respond_state_save(r, now + 61 * NS, false, NULL);

	text = read_all(tmp);
	assert_int_equal(count(text, "hdrlog-baseline 1 written"), 1);
	assert_int_equal(rows_of(text, got, N_ROWS), N_ROWS);
	assert_memory_equal(got, want, sizeof(want));
	free(text);

	/* let go, that write fails (EIO) and removes tmp */
	__atomic_store_n(&hold, false, __ATOMIC_SEQ_CST);
	for (int i = 0; !access(tmp, F_OK); i++) {
		assert_true(i < 1000);
		usleep(10000);
	}
	text = read_all(base);
	assert_string_equal(text, old);		/* kept whole */
	free(text);

	/* the exit save (force) waits for the writer, then writes */
	__atomic_store_n(&fail, false, __ATOMIC_SEQ_CST);
	respond_state_save(r, now + 62 * NS, true, NULL);
	assert_int_equal(synced, 2);	/* the held writer and this one */
	assert_int_equal(access(tmp, F_OK), -1);
	text = read_all(base);
	assert_string_not_equal(text, old);
	assert_int_equal(count(text, "hdrlog-baseline 1 written"), 1);
	assert_int_equal(rows_of(text, got, N_ROWS), N_ROWS);
	assert_memory_equal(got, want, sizeof(want));
	free(text);
	free(old);
	respond_free(r);
	alarm(0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_save_held_up),
	};

	return cmocka_run_group_tests(tests, scratch_setup, scratch_teardown);
}
