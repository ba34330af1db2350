// SPDX-License-Identifier: GPL-2.0-or-later
/* File rotation for the capture outputs: see rotate.h for the rules. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "rotate.h"
#include "sink.h"

#define NS_PER_SEC	1000000000ull
#define RETRY_NS	NS_PER_SEC	/* after a new file failed to open */
#define MAX_SEQ		1000000		/* six digits */

int rotate_init(struct rotate *r, const char *target,
		const struct sink_config *cfg)
{
	const char *base, *dot;
	bool rotating = cfg->rotate_bytes || cfg->rotate_seconds ||
			cfg->rotate_count;

	memset(r, 0, sizeof(*r));
	r->target = target;
	r->cfg = cfg;
	r->limit = UINT64_MAX;
	r->due_ns = UINT64_MAX;
	if (!*target) {
		pr_err("a capture output needs a file name, or '-' for standard output");
		return -EINVAL;
	}
	if (!strcmp(target, "-")) {
		r->is_stdout = true;
		snprintf(r->path, sizeof(r->path), "standard output");
		if (rotating)
			pr_warn("-C, -G and -W do not apply to standard output; writing one stream");
		return 0;
	}
	/* Room for "-YYYYmmddTHHMMSSZ-NNNNNN" and the NUL. */
	if (strlen(target) + 26 > sizeof(r->path)) {
		pr_err("the file name %s is too long", target);
		return -ENAMETOOLONG;
	}
	if (!rotating)
		return 0;
	r->named = true;
	if (cfg->rotate_bytes)
		r->limit = cfg->rotate_bytes;
	base = strrchr(target, '/');
	base = base ? base + 1 : target;
	dot = strrchr(base, '.');
	r->stem_len = dot && dot > base ? (size_t)(dot - target) : strlen(target);
	if (cfg->rotate_count) {
		r->kept = calloc(cfg->rotate_count, sizeof(*r->kept));
		if (!r->kept) {
			pr_err("out of memory");
			return -ENOMEM;
		}
	}
	return 0;
}

void rotate_free(struct rotate *r)
{
	for (uint32_t i = 0; r->kept && i < r->cfg->rotate_count; i++)
		free(r->kept[i]);
	free(r->kept);
	r->kept = NULL;
}

/* -W: remember the file just made; delete the oldest past the count. */
static void keep(struct rotate *r)
{
	uint32_t w = r->cfg->rotate_count;
	char *name = strdup(r->path);
	char **slot;

	if (!name)
		return;		/* forgotten: it stays on disk */
	if (r->n_kept < w) {
		r->kept[(r->first_kept + r->n_kept++) % w] = name;
		return;
	}
	slot = &r->kept[r->first_kept];
	if (unlink(*slot) && errno != ENOENT)
		pr_warn("cannot delete %s (-W %u): %s", *slot, w,
			strerror(errno));
	free(*slot);
	*slot = name;
	r->first_kept = (r->first_kept + 1) % w;
}

/* Create the next time-named file; its descriptor or -errno. */
static int open_named(struct rotate *r, uint64_t now_ns)
{
	time_t sec = now_ns / NS_PER_SEC;
	char stamp[32];	/* YYYYmmddTHHMMSSZ */
	struct tm tm;

	/* Record times lag the clock a little: names never go back. */
	if (sec <= r->name_sec) {
		sec = r->name_sec;
		r->name_seq++;
	} else {
		r->name_sec = sec;
		r->name_seq = 0;
	}
	gmtime_r(&sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	for (; r->name_seq < MAX_SEQ; r->name_seq++) {
		int fd;

		snprintf(r->next, sizeof(r->next), "%.*s-%s-%06u%s",
			 (int)r->stem_len, r->target, stamp, r->name_seq,
			 r->target + r->stem_len);
		fd = open(r->next, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
			  0640);
		if (fd >= 0 || errno != EEXIST)
			return fd >= 0 ? fd : -errno;
	}
	return -EEXIST;
}

int rotate_open(struct rotate *r, uint64_t now_ns)
{
	int fd;

	if (r->is_stdout)
		return STDOUT_FILENO;
	if (r->named) {
		fd = open_named(r, now_ns);
	} else {
		snprintf(r->next, sizeof(r->next), "%s", r->target);
		fd = open(r->next, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			  0640);
		if (fd < 0)
			fd = -errno;
	}
	if (fd < 0) {
		if (!r->failing && r->opened)
			pr_err("cannot open %s: %s; writing on to %s, retrying every second",
			       r->next, strerror(-fd), r->path);
		else if (!r->failing)
			pr_err("cannot open %s: %s", r->next, strerror(-fd));
		r->failing = true;
		r->limit = UINT64_MAX;
		r->due_ns = now_ns + RETRY_NS;
		return fd;
	}
	if (r->failing)
		pr_info("opening %s worked; writing there", r->next);
	memcpy(r->path, r->next, sizeof(r->path));
	pr_debug("writing to %s", r->path);
	r->failing = false;
	r->opened = true;
	r->bytes = 0;
	r->records = 0;
	r->limit = r->cfg->rotate_bytes && r->named ? r->cfg->rotate_bytes
						    : UINT64_MAX;
	r->due_ns = r->cfg->rotate_seconds && r->named ?
		    now_ns + r->cfg->rotate_seconds * NS_PER_SEC : UINT64_MAX;
	if (r->kept)
		keep(r);
	return fd;
}
