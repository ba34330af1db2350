/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Which file a capture output writes to, shared by pcap and pcapng:
 * -C (size), -G (seconds), -W (how many files to keep), SIGHUP.
 *
 * Without -C, -G and -W, PATH is the file, truncated when opened (a
 * capture file cannot be appended to safely) and on SIGHUP opened anew
 * at the same path. With any of them, PATH is a base and every file is
 * named after the UTC second it was started, with a sequence number:
 *
 *	cap.pcapng -> cap-20250314T092653Z-000000.pcapng
 *	              cap-20250314T092653Z-000001.pcapng  (same second)
 *	dump       -> dump-20250314T092700Z-000000
 *
 * The extension is what follows the last '.' of the file name, if any.
 * Fixed-width fields make byte order time order, so ls lists the files
 * oldest first. A name that exists already is never overwritten: the
 * sequence number goes up instead.
 *
 * The output owns the file descriptors; this part decides when a new
 * file is due, names it, opens it and deletes the files -W lets go.
 */
#ifndef HDRLOG_ROTATE_H
#define HDRLOG_ROTATE_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "clock.h"

struct sink_config;

struct rotate {
	const char *target;		/* PATH as given, "-": stdout */
	const struct sink_config *cfg;
	bool is_stdout;
	bool named;			/* -C, -G or -W: names carry the time */
	bool opened;			/* a file was opened once */
	bool failing;			/* a new file could not be opened */
	uint64_t limit;			/* -C in bytes; UINT64_MAX: none */
	uint64_t due_ns;		/* wall clock ns a new file is due */
	uint64_t bytes;			/* current file, buffered bytes included */
	uint64_t records;		/* records in the current file */
	size_t stem_len;		/* target without its extension */
	time_t name_sec;		/* second and sequence of the last name */
	unsigned int name_seq;
	char **kept;			/* -W: files made, a ring, oldest at first */
	uint32_t n_kept;
	uint32_t first_kept;
	char path[PATH_MAX];		/* the current file */
	char next[PATH_MAX];		/* the one being opened */
};

/* Returns 0, or a negative errno with a message printed. */
int rotate_init(struct rotate *r, const char *target,
		const struct sink_config *cfg);
void rotate_free(struct rotate *r);

/*
 * Open the file to write next (stdout: STDOUT_FILENO each time). Returns
 * its descriptor, or a negative errno: reported once until a file opens
 * again; a size or time rotation is then retried after a second.
 */
int rotate_open(struct rotate *r, uint64_t now_ns);

/*
 * Whether n more bytes, at wall clock now_ns, belong in a new file: the
 * current one would pass -C (and holds a record already, so a record
 * bigger than -C still gets written), or -G has run out. Per record: one
 * comparison each when nothing is due.
 */
static inline bool rotate_due(const struct rotate *r, uint64_t n,
			      uint64_t now_ns)
{
	if (now_ns >= r->due_ns)
		return true;
	return r->bytes + n > r->limit && r->records;
}

/*
 * At a flush, with no record to go by: whether -G (or a retry) calls for
 * a new file now; *now_ns gets the time to open it at. An idle file waits
 * for a record to be replaced, so idle captures make no empty files.
 */
static inline bool rotate_due_at_flush(const struct rotate *r,
				       uint64_t *now_ns)
{
	if (r->due_ns == UINT64_MAX || !r->records)
		return false;
	*now_ns = clock_real_ns();
	return rotate_due(r, 0, *now_ns);
}

#endif
