// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer: a config file (--config) of arbitrary bytes through the
 * option table. Whatever it holds, parsing ends with a result, every
 * value kept stays NUL-terminated, and freeing leaves nothing behind.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "options.h"

static char path[] = "/tmp/hdrlog-fuzz-config-XXXXXX";
static int fd = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	stderr = fopen("/dev/null", "w");
	stdout = stderr;
	fd = mkstemp(path);
	if (fd < 0)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *argv[] = { "hdrlog", "--config", path, NULL };
	static struct options o;
	enum options_result r;

	if (ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	r = options_parse(&o, 3, argv);
	if (r != OPTIONS_RUN && r != OPTIONS_USAGE && r != OPTIONS_EXIT)
		abort();
	for (int i = 0; i < o.n_ifaces; i++)
		if (strlen(o.ifaces[i]) >= 16)
			abort();
	if (o.n_outputs > MAX_OUTPUTS || o.n_lists > MAX_LISTS)
		abort();
	options_free(&o);
	return 0;
}
