// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer: "[NAME=]FILE[:any]" list arguments and log_escape(), the two
 * places command-line bytes become names and messages.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lists.h"
#include "log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	stderr = fopen("/dev/null", "w");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char arg[LIST_PATH_MAX + 256], out[LOG_ESCAPE_SIZE(64)];
	struct list_spec spec;
	size_t n = size < sizeof(arg) - 1 ? size : sizeof(arg) - 1;

	memcpy(arg, data, n);
	arg[n] = '\0';
	for (int kind = LIST_BLOCK; kind <= LIST_ALLOW; kind++)
		if (!list_spec_parse(&spec, kind, arg) &&
		    (!spec.name[0] || !spec.path[0] ||
		     strlen(spec.name) >= LIST_NAME_MAX))
			abort();

	/* every size: NUL-terminated, within it, nothing but printable ASCII */
	for (size_t sz = 0; sz <= sizeof(out); sz += 1 + sz / 4) {
		size_t len;

		memset(out, 0x5a, sizeof(out));
		log_escape(out, sz, data, size);
		if (!sz)
			continue;
		len = strnlen(out, sz);
		if (len >= sz)
			abort();
		for (size_t i = 0; i < len; i++)
			if (out[i] < 0x20 || out[i] > 0x7e)
				abort();
	}
	return 0;
}
