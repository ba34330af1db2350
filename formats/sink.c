// SPDX-License-Identifier: GPL-2.0-or-later
/* Output registry: "-o NAME[:TARGET]" to the sink that writes it. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "sink.h"

extern const struct sink_ops json_sink_ops, pcap_sink_ops, pcapng_sink_ops,
	journal_sink_ops, syslog_sink_ops, kafka_sink_ops, ipfix_sink_ops;

static const struct sink_ops *const sink_types[] = {
	&json_sink_ops,
	&pcap_sink_ops,
	&pcapng_sink_ops,
	&journal_sink_ops,
	&syslog_sink_ops,
	&kafka_sink_ops,
	&ipfix_sink_ops,
};

const struct sink_ops *sink_type(const char *spec)
{
	size_t n = strcspn(spec, ":");

	for (size_t i = 0; i < sizeof(sink_types) / sizeof(sink_types[0]); i++) {
		const struct sink_ops *ops = sink_types[i];

		if (strlen(ops->name) == n && !strncmp(ops->name, spec, n))
			return ops;
	}
	pr_err("unknown output '%.*s' (known: json, pcap, pcapng, journal, syslog, kafka, ipfix)",
	       (int)n, spec);
	return NULL;
}

/* What follows "TYPE:" in an output spec; "" for a bare TYPE. */
static const char *spec_target(const char *spec, const struct sink_ops *ops)
{
	size_t n = strlen(ops->name);

	return spec[n] ? spec + n + 1 : "";
}

struct sink *sink_create(const char *spec, const struct sink_config *cfg)
{
	const struct sink_ops *ops = sink_type(spec);
	struct sink *s;
	int err;

	if (!ops) {
		errno = EINVAL;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		pr_err("out of memory");
		return NULL;
	}
	s->ops = ops;
	s->target = spec_target(spec, ops);
	s->cfg = cfg;
	err = ops->open(s);
	if (err) {
		free(s);
		errno = -err;
		return NULL;
	}
	return s;
}

void sink_close(struct sink *s)
{
	if (s && s->priv) {
		s->ops->close(s);
		s->priv = NULL;
	}
}

void sink_destroy(struct sink *s)
{
	sink_close(s);
	free(s);
}

#define HEALED_NS 1000000000ull

void sink_write_failed(struct sink *s, const char *what, int err)
{
	if (!s->write_failing)
		pr_err("writing %s failed: %s; counting lost records until it works again",
		       what, strerror(err));
	s->write_failing = true;
	s->write_worked = false;
	s->last_fail_ns = clock_mono_ns();
}

void sink_write_worked(struct sink *s, const char *what, bool wrote)
{
	if (!s->write_failing)
		return;
	s->write_worked |= wrote;
	if (s->write_worked && clock_mono_ns() - s->last_fail_ns >= HEALED_NS) {
		pr_info("writing %s works again", what);
		s->write_failing = false;
	}
}

static const struct event *current;	/* being handed out, or NULL */
static uint64_t current_id;

void sink_write_all(struct sink *const *sinks, int n, const struct event *e)
{
	current = e;
	current_id++;
	for (int i = 0; i < n; i++)
		sink_write(sinks[i], e);
	current = NULL;
}

void sink_write_stats_all(struct sink *const *sinks, int n,
			  const struct event *e, const char *json, size_t len)
{
	for (int i = 0; i < n; i++) {
		struct sink *s = sinks[i];

		if (!s->ops->write_stats)
			continue;
		s->records++;
		s->stats++;
		s->ops->write_stats(s, e, json, len);
	}
}

uint64_t sink_record_id(const struct event *e)
{
	return e == current ? current_id : 0;
}

const char *sink_target_name(const struct sink *s)
{
	if ((s->ops->flags & SINK_FILE) &&
	    (!*s->target || !strcmp(s->target, "-")))
		return "standard output";
	return s->target;
}

const char *sink_describe(const struct sink *s, char *buf, size_t size)
{
	char esc[LOG_ESCAPE_SIZE(256)];
	const char *name = sink_target_name(s);

	if (name != s->target)	/* "standard output": no ':' before it */
		snprintf(buf, size, "%s (%s)", s->ops->name, name);
	else
		snprintf(buf, size, "%s%s%s", s->ops->name, *name ? ":" : "",
			 log_escape(esc, sizeof(esc), name, strlen(name)));
	return buf;
}

volatile int sink_stdout_closed;
bool sink_capture_over;
volatile int sink_stop_now;

void sink_stdout_gone(const struct sink *s)
{
	if (!sink_stdout_closed)
		pr_info("standard output was closed (%s output); stopping",
			s->ops->name);
	sink_stdout_closed = 1;
}

bool sink_fd_is_stdout(int fd)
{
	struct stat a, b;

	if (fd == STDOUT_FILENO)
		return true;
	return !fstat(fd, &a) && !fstat(STDOUT_FILENO, &b) &&
	       a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* The directory a file name is in. */
static void dir_of(const char *path, char *dir, size_t size)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		snprintf(dir, size, ".");
	else if (slash == path)
		snprintf(dir, size, "/");
	else
		snprintf(dir, size, "%.*s", (int)(slash - path), path);
}

/*
 * 0 if the link at path may be followed (the kernel's may_follow_link()
 * rule); else open_err, or -EPERM with a message. Racing the check is no
 * help to an attacker: in a sticky directory nobody but the link's owner
 * and the directory's owner can replace a link that passed it.
 */
static int link_may_be_followed(const char *path, int open_err)
{
	char dir[PATH_MAX];
	struct stat lst, dst;

	if (lstat(path, &lst) || !S_ISLNK(lst.st_mode))
		return open_err;	/* not about a link at the end */
	dir_of(path, dir, sizeof(dir));
	if (stat(dir, &dst))
		return -errno;
	if ((dst.st_mode & (S_ISVTX | S_IWOTH)) != (S_ISVTX | S_IWOTH) ||
	    lst.st_uid == geteuid() || lst.st_uid == dst.st_uid)
		return 0;
	pr_err("refusing to follow %s: a symbolic link owned by uid %u in the sticky world-writable directory %s (owned by uid %u), which anyone could have put there",
	       path, (unsigned int)lst.st_uid, dir, (unsigned int)dst.st_uid);
	return -EPERM;
}

int sink_open_file(const char *path, int flags)
{
	int fd, err;

	fd = open(path, flags | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0640);
	if (fd >= 0)
		return fd;
	/*
	 * A symlink: ELOOP, or EACCES when O_CREAT meets one in a sticky
	 * directory that is neither ours nor the directory owner's.
	 */
	err = -errno;
	if (err != -ELOOP && err != -EACCES)
		return err;
	err = link_may_be_followed(path, err);
	if (err)
		return err;
	fd = open(path, flags | O_CREAT | O_CLOEXEC, 0640);
	return fd >= 0 ? fd : -errno;
}

/*
 * Not opened as found: a symbolic link or a hard link planted at tmp
 * would have the write go through to its target (as root: any file),
 * and a FIFO would hold the open until something read it. So the name
 * is unlinked first (which removes a link, never its target) and the
 * file made with O_CREAT | O_EXCL (which follows no link and takes
 * nothing that exists). O_EXCL without the unlink would have a .tmp
 * left by a crash between open and rename fail every later write;
 * O_NOFOLLOW alone would still write through a hard link and wait on a
 * FIFO. One put back between the unlink and the open fails it (EEXIST):
 * that write is lost and said by the caller, the next one tries again.
 * A directory there stays (unlink fails), and the open fails: EISDIR,
 * which says why where EEXIST would not.
 */
int sink_create_tmp(const char *tmp, mode_t mode, const char *who)
{
	char esc[LOG_ESCAPE_SIZE(PATH_MAX)];
	struct stat st;
	int fd;

	if (!lstat(tmp, &st) && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
		pr_warn("%s: %s was %s, which hdrlog never leaves there: removed, not written through",
			who, log_escape(esc, sizeof(esc), tmp, strlen(tmp)),
			S_ISLNK(st.st_mode) ? "a symbolic link" :
			S_ISFIFO(st.st_mode) ? "a FIFO" : "not a regular file");
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd >= 0)
		return fd;
	if (errno == EEXIST && !lstat(tmp, &st) && S_ISDIR(st.st_mode))
		return -EISDIR;
	return -errno;
}

static int __attribute__((format(printf, 2, 3)))
check_failed(const char *desc, const char *fmt, ...)
{
	char msg[PATH_MAX + 128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pr_err("output %s: %s", desc, msg);
	return -EINVAL;
}

/*
 * What sink_open_file() would meet, with the caller's credentials (as
 * the open would be done). creates: a new file is made whether or not
 * path exists (rotation names each file after its start).
 */
static int check_file(const char *path, bool creates, const char *desc)
{
	char dir[PATH_MAX], esc[LOG_ESCAPE_SIZE(PATH_MAX)];
	struct stat st;

	if (!lstat(path, &st)) {
		if (S_ISLNK(st.st_mode) && link_may_be_followed(path, 0))
			return -EPERM;	/* said why */
		if (stat(path, &st))	/* a dangling link: open creates */
			creates = true;
		else if (S_ISDIR(st.st_mode))
			return check_failed(desc, "it is a directory");
		else if (!S_ISREG(st.st_mode) && !S_ISCHR(st.st_mode))
			return check_failed(desc, "not a regular file");
		else if (faccessat(AT_FDCWD, path, W_OK, AT_EACCESS))
			return check_failed(desc, "cannot write to it: %s",
					    strerror(errno));
		if (!creates)
			return 0;
	} else if (errno != ENOENT) {
		return check_failed(desc, "%s", strerror(errno));
	}
	dir_of(path, dir, sizeof(dir));
	log_escape(esc, sizeof(esc), dir, strlen(dir));
	if (stat(dir, &st))
		return check_failed(desc, "the directory %s: %s", esc,
				    strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return check_failed(desc, "%s is not a directory", esc);
	if (faccessat(AT_FDCWD, dir, W_OK | X_OK, AT_EACCESS))
		return check_failed(desc, "cannot create files in %s: %s", esc,
				    strerror(errno));
	return 0;
}

int sink_check(const char *spec, const struct sink_config *cfg, char *desc,
	       size_t size)
{
	const struct sink_ops *ops = sink_type(spec);
	struct sink s = { .ops = ops, .cfg = cfg };
	bool rotating;

	snprintf(desc, size, "%s", spec);
	if (!ops)
		return -EINVAL;
	s.target = spec_target(spec, ops);
	sink_describe(&s, desc, size);
	if (ops->check)
		return ops->check(&s);
	if (!(ops->flags & SINK_FILE))
		return 0;
	/* Capture files (the outputs that rotate) need a name; JSON not. */
	if (!*s.target && (ops->flags & SINK_ROTATES))
		return check_failed(desc, "a capture output needs a file name, or '-' for standard output");
	if (!*s.target || !strcmp(s.target, "-"))
		return 0;
	rotating = (ops->flags & SINK_ROTATES) &&
		   (cfg->rotate_bytes || cfg->rotate_seconds || cfg->rotate_count);
	return check_file(s.target, rotating, desc);
}
