/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One scratch directory for a unit test program: made by its group's
 * setup, removed with everything in it by the group's teardown, also
 * what a failed test left behind. Define SCRATCH_NAME first (the
 * directory is /tmp/hdrlog-test-SCRATCH_NAME-XXXXXX), then pass
 * scratch_setup and scratch_teardown to cmocka_run_group_tests().
 */
#ifndef HDRLOG_TEST_SCRATCH_H
#define HDRLOG_TEST_SCRATCH_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

static char scratch_dir[] = "/tmp/hdrlog-test-" SCRATCH_NAME "-XXXXXX";

static int scratch_setup(void **state)
{
	(void)state;
	return mkdtemp(scratch_dir) ? 0 : -1;
}

static int scratch_remove(const char *path, const struct stat *st, int flag,
			  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int scratch_teardown(void **state)
{
	(void)state;
	/* depth first, so the directory goes last; links are not followed */
	return nftw(scratch_dir, scratch_remove, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
