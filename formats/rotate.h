/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Which file an output writes to, shared by pcap and pcapng (-C size,
 * -G seconds, -W how many files to keep, SIGHUP) and JSON (SIGHUP only:
 * see rotate_init_append()).
 *
 * Without -C, -G and -W, PATH is the file, truncated when hdrlog starts.
 * SIGHUP keeps what is there (see capfile_reopen()): while PATH names the
 * open file, writing goes on in it; a file moved away (logrotate) is
 * closed and a new one made at PATH; a file found at PATH is appended to
 * when the output can go on in it (pcapng: a new section; pcap: the same
 * file header), and refused otherwise. With any of -C, -G and -W, PATH is
 * a base, SIGHUP starts a new file, and every file is named after the UTC
 * second it was started, with a sequence number:
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
 * struct rotate decides when a new file is due, names it, opens it and
 * deletes the files -W lets go; struct capfile below is the one buffered
 * writer every file output (json, pcap, pcapng) puts its records in.
 */
#ifndef HDRLOG_ROTATE_H
#define HDRLOG_ROTATE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "clock.h"

struct sink;
struct sink_config;

struct rotate {
	const char *target;		/* PATH as given, "-": stdout */
	const struct sink_config *cfg;
	bool is_stdout;
	bool append;			/* JSON lines: appended to, never
					 * truncated or rotated */
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
/*
 * A file appended to (JSON lines): opened with O_APPEND, never truncated,
 * -C, -G and -W do not apply; "" is standard output too.
 */
int rotate_init_append(struct rotate *r, const char *target,
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
 * current one holds a record already (so a record bigger than -C still
 * gets written, and a file opened late for -G is not left empty) and
 * would pass -C, or -G has run out. Per record: a few comparisons.
 */
static inline bool rotate_due(const struct rotate *r, uint64_t n,
			      uint64_t now_ns)
{
	/* An empty file takes the record: no header-only files. */
	if (!r->records)
		return false;
	return now_ns >= r->due_ns || r->bytes + n > r->limit;
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

/*
 * A file being written: whole records (lines, blocks) collect in buf
 * and go out with one write(2) when it fills and on flush, so a flush
 * always ends on a record boundary: a failed one loses exactly the
 * records in it, and in a regular file the half written is cut off
 * again, so the file stays readable and writing goes on after it when
 * space comes back.
 */
enum capfile_append {
	CAPFILE_REFUSE,		/* not a file this output can go on in */
	CAPFILE_CONTINUE,	/* records go on after what is there */
	CAPFILE_SECTION,	/* the header again, then records (pcapng) */
};

struct capfile {
	struct rotate rot;
	bool append_only;	/* see rotate_init_append(); set before open */
	int fd;
	bool cut_back;		/* a regular file: undo partial writes */
	bool to_stdout;		/* EPIPE there ends the run */
	const uint8_t *hdr;	/* what starts every file: set before open */
	size_t hdr_len;
	/* What to do with a non-empty file at PATH on SIGHUP; set before open. */
	enum capfile_append (*append)(const struct capfile *c,
				      const uint8_t *head, size_t n);
	uint64_t on_disk;	/* bytes of whole records in the file */
	uint64_t pending;	/* records in buf */
	size_t len;		/* bytes in buf */
	size_t size;
	uint8_t *buf;
};

/* Open the first file, header queued. 0, or -errno with a message. */
int capfile_open(struct sink *s, struct capfile *c, size_t buf_size);
/* Write buf out; counts written or lost records. */
int capfile_push(struct sink *s, struct capfile *c);
/*
 * Room for a record of n bytes at wall clock now_ns, in a new file if one
 * is due: where to build it, or NULL (no file to write to). Then
 * capfile_commit() with the same n.
 */
uint8_t *capfile_reserve(struct sink *s, struct capfile *c, size_t n,
			 uint64_t now_ns);

static inline void capfile_commit(struct capfile *c, size_t n)
{
	c->len += n;
	c->pending++;
	c->rot.bytes += n;
	c->rot.records++;
}

int capfile_flush(struct sink *s, struct capfile *c);
int capfile_reopen(struct sink *s, struct capfile *c);
/* Write out and close; the caller frees hdr. */
void capfile_close(struct sink *s, struct capfile *c);

#endif
