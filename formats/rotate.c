// SPDX-License-Identifier: GPL-2.0-or-later
/* File rotation for the capture outputs: see rotate.h for the rules. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "rotate.h"
#include "sink.h"

#define NS_PER_SEC	1000000000ull
#define RETRY_NS	NS_PER_SEC	/* after a new file failed to open */
#define MAX_SEQ		1000000		/* six digits */

static int rotate_setup(struct rotate *r, const char *target,
			const struct sink_config *cfg, bool append)
{
	const char *base, *dot;
	bool rotating = !append && (cfg->rotate_bytes ||
				    cfg->rotate_seconds || cfg->rotate_count);

	memset(r, 0, sizeof(*r));
	r->target = target;
	r->cfg = cfg;
	r->append = append;
	r->limit = UINT64_MAX;
	r->due_ns = UINT64_MAX;
	if (!*target && append)
		target = r->target = "-";	/* json: stdout */
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

int rotate_init(struct rotate *r, const char *target,
		const struct sink_config *cfg)
{
	return rotate_setup(r, target, cfg, false);
}

int rotate_init_append(struct rotate *r, const char *target,
		       const struct sink_config *cfg)
{
	return rotate_setup(r, target, cfg, true);
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

	if (!name) {
		/* forgotten: it stays on disk, and the user is told */
		pr_warn("out of memory: %s will not be deleted by -W %u", r->path, w);
		return;
	}
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
		fd = sink_open_file(r->next, O_WRONLY | O_EXCL);
		if (fd != -EEXIST)
			return fd;
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
		fd = sink_open_file(r->next, r->append ? O_WRONLY | O_APPEND :
							 O_WRONLY | O_TRUNC);
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

/* --- the buffered writer ------------------------------------------------ */

/* A new file's header (none for JSON lines) starts the empty buffer. */
static void put_header(struct capfile *c)
{
	if (c->hdr_len)
		memcpy(c->buf, c->hdr, c->hdr_len);
	c->len = c->hdr_len;
}

/* Start writing fd, which holds size bytes already; header as needed. */
static void capfile_start(struct capfile *c, int fd, uint64_t size,
			  bool header)
{
	struct stat st;

	c->fd = fd;
	/*
	 * A regular file is cut back after a failed batch; standard output
	 * only when appending (where the batch started is the file's end).
	 */
	c->cut_back = (!c->rot.is_stdout || c->rot.append) &&
		      !fstat(fd, &st) && S_ISREG(st.st_mode);
	c->to_stdout = sink_fd_is_stdout(fd);
	c->on_disk = size;
	c->len = 0;
	if (header)
		put_header(c);
	c->rot.bytes = size + c->len;
}

int capfile_open(struct sink *s, struct capfile *c, size_t buf_size)
{
	int fd, err;

	err = c->append_only ? rotate_init_append(&c->rot, s->target, s->cfg) :
			       rotate_init(&c->rot, s->target, s->cfg);
	if (err)
		return err;
	c->size = buf_size;
	c->buf = malloc(buf_size);
	if (!c->buf) {
		pr_err("out of memory");
		rotate_free(&c->rot);
		return -ENOMEM;
	}
	fd = rotate_open(&c->rot, clock_real_ns());
	if (fd < 0) {
		free(c->buf);
		rotate_free(&c->rot);
		return fd;
	}
	capfile_start(c, fd, 0, true);
	return 0;
}

/*
 * A part-written batch of off bytes ends the appended file, so it began
 * off bytes before the end; false if that cannot be (cut nothing then).
 */
static bool append_start(struct capfile *c, size_t off)
{
	off_t end = lseek(c->fd, 0, SEEK_END);

	if (end < 0 || (uint64_t)end < off)
		return false;
	c->on_disk = end - off;
	return true;
}

int capfile_push(struct sink *s, struct capfile *c)
{
	size_t off = 0;

	while (off < c->len) {
		ssize_t n = write(c->fd, c->buf + off, c->len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int err = n < 0 ? errno : EIO;

			if (err == EPIPE && c->to_stdout)
				sink_stdout_gone(s);
			else
				sink_write_failed(s, c->rot.path, err);
			s->failed += c->pending;
			c->pending = 0;
			c->len = 0;
			/*
			 * No half record in the file: later ones stay
			 * readable. Appending, others may append too, so
			 * where this batch began is asked only now, from the
			 * end, not before every write (issue 11).
			 */
			if (c->cut_back && off &&
			    (!c->rot.append || append_start(c, off)) &&
			    (ftruncate(c->fd, c->on_disk) ||
			     lseek(c->fd, c->on_disk, SEEK_SET) < 0))
				c->cut_back = false;
			if (!c->on_disk)	/* the header went too */
				put_header(c);
			c->rot.bytes = c->on_disk + c->len;
			return -err;
		}
		off += n;
	}
	sink_write_worked(s, c->rot.path, c->len);
	c->on_disk += c->len;
	s->written += c->pending;
	c->pending = 0;
	c->len = 0;
	return 0;
}

/* Rotation: what is buffered goes to the file before. */
static int next_file(struct sink *s, struct capfile *c, uint64_t now_ns)
{
	int fd;

	capfile_push(s, c);
	if (c->rot.is_stdout)
		return 0;
	fd = rotate_open(&c->rot, now_ns);
	if (fd < 0)
		return fd;
	close(c->fd);
	capfile_start(c, fd, 0, true);
	return 0;
}

uint8_t *capfile_reserve(struct sink *s, struct capfile *c, size_t n,
			 uint64_t now_ns)
{
	if (rotate_due(&c->rot, n, now_ns))
		next_file(s, c, now_ns);
	if (c->size - c->len < n)
		capfile_push(s, c);
	if (c->fd < 0 || c->size - c->len < n)
		return NULL;
	return c->buf + c->len;
}

int capfile_flush(struct sink *s, struct capfile *c)
{
	uint64_t now;

	if (rotate_due_at_flush(&c->rot, &now))
		return next_file(s, c, now);
	return capfile_push(s, c);
}

/*
 * SIGHUP without -C/-G/-W: keep what is there. PATH still naming the open
 * file (same inode) is the common case: writing goes on, or starts over
 * at 0 after logrotate's copytruncate. PATH gone or naming another file
 * (moved away, maybe a new one put there by logrotate's create): open
 * PATH without truncating; empty, it gets the header; not empty, the
 * output says whether it can go on in it, else writing goes on where it
 * went before and nothing is lost.
 */
static int reopen_path(struct capfile *c)
{
	struct stat cur, at;
	uint8_t head[64];
	enum capfile_append how = CAPFILE_SECTION;
	uint64_t size;
	ssize_t n = 0;
	int fd;

	/* RDWR: its header is read. */
	fd = sink_open_file(c->rot.target,
			    c->rot.append ? O_RDWR | O_APPEND : O_RDWR);
	if (fd < 0) {
		pr_err("cannot open %s again: %s; writing on to the file opened before",
		       c->rot.target, strerror(-fd));
		return fd;
	}
	if (fstat(fd, &at) || fstat(c->fd, &cur)) {
		int err = -errno;

		close(fd);
		return err;
	}
	/* A pipe or device (/dev/stdout) is a stream: no size, no seeking. */
	size = S_ISREG(at.st_mode) ? (uint64_t)at.st_size : 0;
	if (at.st_dev == cur.st_dev && at.st_ino == cur.st_ino) {
		close(fd);
		fd = c->fd;
		if (!S_ISREG(at.st_mode) || size == c->on_disk)
			return 0;	/* nobody touched it */
	}
	if (size) {
		n = pread(fd, head, sizeof(head), 0);
		how = c->append(c, head, n > 0 ? n : 0);
	}
	if (how == CAPFILE_REFUSE) {
		pr_err("%s now holds something this output cannot append to; writing on to the file opened before (move it away and send SIGHUP again)",
		       c->rot.target);
		if (fd != c->fd)
			close(fd);
		return -EEXIST;
	}
	if (S_ISREG(at.st_mode) && lseek(fd, size, SEEK_SET) < 0) {
		int err = -errno;

		if (fd != c->fd)
			close(fd);
		return err;
	}
	if (fd != c->fd) {
		close(c->fd);
		pr_debug("writing to %s anew", c->rot.target);
	}
	capfile_start(c, fd, size, !size || how == CAPFILE_SECTION);
	return 0;
}

int capfile_reopen(struct sink *s, struct capfile *c)
{
	capfile_push(s, c);
	if (c->rot.is_stdout)
		return 0;
	if (c->rot.named)
		return next_file(s, c, clock_real_ns());
	return reopen_path(c);
}

void capfile_close(struct sink *s, struct capfile *c)
{
	capfile_push(s, c);
	if (!c->rot.is_stdout && c->fd >= 0)
		close(c->fd);
	rotate_free(&c->rot);
	free(c->buf);
	c->buf = NULL;
}
