// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer: the list parser on arbitrary file contents, then the range
 * tables built from whatever it took, checked against the merged prefixes.
 * The bytes reach list_set_load() as a real file (a memfd, opened by its
 * /proc path), so the read loop, the line cap and the NUL check are in play.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lists.h"
#include "log.h"
#include "ranges.h"

static int mfd = -1;
static char mpath[64];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	mfd = memfd_create("fuzz-list", MFD_CLOEXEC);
	if (mfd < 0)
		abort();
	snprintf(mpath, sizeof(mpath), "/proc/self/fd/%d", mfd);
	/* parse errors are expected: keep them off libFuzzer's output */
	stderr = fopen("/dev/null", "w");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct list_spec spec[2];
	struct list_ranges r;
	struct list_set set;
	char arg[128];

	if (ftruncate(mfd, 0) || pwrite(mfd, data, size, 0) != (ssize_t)size)
		abort();
	/* the same file twice, as two lists: masks with two bits */
	snprintf(arg, sizeof(arg), "a=%s", mpath);
	if (list_spec_parse(&spec[0], LIST_BLOCK, arg))
		abort();
	snprintf(arg, sizeof(arg), "b=%s", mpath);
	if (list_spec_parse(&spec[1], LIST_TAG, arg))
		abort();
	if (list_set_load(&set, spec, size & 1 ? 2 : 1, NULL))
		return 0;
	/*
	 * The range tables cost two 4 MiB chunk indexes whatever the input
	 * (about 2 ms here, 20 times the parse of a small file): built for
	 * one input in sixteen, so the parser gets most of the time. The
	 * tables have their own randomised unit test (test_lists.c).
	 */
	if (size % 16 == 0 && !list_ranges_build(&r, &set)) {
		/* each prefix's own address finds at least its own lists */
		for (size_t i = 0; i < set.n_v4; i++)
			if ((list_ranges_lookup(&r, 32, set.v4[i].addr, 0) &
			     set.v4[i].mask) != set.v4[i].mask)
				abort();
		for (size_t i = 0; i < set.n_v6; i++)
			if ((list_ranges_lookup(&r, 128, set.v6[i].hi,
						set.v6[i].lo) &
			     set.v6[i].mask) != set.v6[i].mask)
				abort();
		list_ranges_free(&r);
	}
	list_set_free(&set);
	return 0;
}
