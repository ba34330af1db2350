// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * libFuzzer: the --respond-state files on arbitrary bytes, read as a
 * start reads them (state_read() for FILE's blocks, baseline_load() for
 * FILE.baseline's learned averages), through respond_state_check(), the
 * public entry --check uses. The input is FILE, then, after the first
 * "====\n", FILE.baseline; without one there is no FILE.baseline.
 * Both are regular files, so the answer is 0 or 1 (warned about), never
 * -1, and whatever they hold ends in no crash, leak or hang.
 *
 * The respond.conf has the policies the seeds name (syn-flood, learned)
 * and small tables (sources 64, max-blocks 16), so "more blocks than
 * max-blocks" and a full learned table are in reach. history = 30d, the
 * longest: a seed's FILE.baseline saved within it has its rows taken
 * into the table; one saved earlier only checks them (the policy learns
 * again). The seeds include a copy dated in 2100 (read as saved just
 * now) so the taking is covered whenever the fuzzer runs.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "respond.h"

static const char conf_text[] =
	"window = 100ms\n"
	"sources = 64\n"
	"max-blocks = 16\n"
	"[policy syn-flood]\n"
	"detector = syn\n"
	"threshold = 100/s\n"
	"action = block\n"
	"ttl = 3600s\n"
	"[policy learned]\n"
	"detector = baseline\n"
	"history = 30d\n"
	"factor = 5\n"
	"min = 100/s\n";

static struct respond_config conf;
static char dir[] = "/tmp/hdrlog-fuzz-state-XXXXXX";
static char state[64], baseline[80];

static void put(const char *path, const uint8_t *data, size_t size)
{
	FILE *f = fopen(path, "w");

	if (!f || (size && fwrite(data, size, 1, f) != 1) || fclose(f))
		abort();
}

static void clean_up(void)
{
	unlink(state);
	unlink(baseline);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char path[64];

	(void)argc;
	(void)argv;
	/* every bad line is warned about: keep that off libFuzzer's output */
	stderr = fopen("/dev/null", "w");
	stdout = stderr;
	if (!mkdtemp(dir))
		abort();
	snprintf(path, sizeof(path), "%s/respond.conf", dir);
	put(path, (const uint8_t *)conf_text, strlen(conf_text));
	if (respond_config_load(&conf, path) ||
	    respond_config_bind(&conf, NULL, 0))
		abort();
	unlink(path);
	snprintf(state, sizeof(state), "%s/s", dir);
	snprintf(baseline, sizeof(baseline), "%s.baseline", state);
	atexit(clean_up);	/* libFuzzer's run ends in exit() */
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char sep[] = "====\n";
	const uint8_t *b = memmem(data, size, sep, strlen(sep));
	size_t n = b ? (size_t)(b - data) : size;

	put(state, data, n);
	if (b) {
		b += strlen(sep);
		put(baseline, b, size - (size_t)(b - data));
	} else {
		unlink(baseline);
	}
	if (respond_state_check(&conf, state) < 0)
		abort();
	return 0;
}
