// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The systemd journal: one sd_journal_sendv() per record, every record
 * field as an upper-case journal field (SRC_IP=, DEST_PORT=, ...), array
 * fields as one field per element (journald allows repeated fields), and
 * MESSAGE, PRIORITY, MESSAGE_ID and SYSLOG_IDENTIFIER for journalctl.
 *
 * Every value has a slot that starts with its "NAME=" written once at
 * open; a record costs the value texts and the system call.
 *
 * journald that refuses records (queue full, not running) costs records,
 * never time: they are counted in s->failed, with one warning per outage
 * and one message when records go through again.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* no CODE_FILE=, CODE_LINE=, CODE_FUNC= of this file in every entry */
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#include "clock.h"
#include "event.h"
#include "fields.h"
#include "lists.h"
#include "log.h"
#include "message.h"
#include "sink.h"

#define JOURNAL_SOCKET	"/run/systemd/journal/socket"
#define KEY_MAX		64	/* journald's limit on field names */
#define SLOT_SIZE	(KEY_MAX + 1 + FIELD_TEXT_MAX)
#define ARRAY_MAX	MAX_LISTS	/* most elements of an array field */
#define MESSAGE_MAX	2048
#define FIXED_IOVS	4	/* identifier, id, priority, message */
#define RETRY_NS	1000000ull	/* refused: try again after 1 ms */
#define CHECK_NS	200000000ull	/* socket gone: look every 200 ms */
#define CALM_NS		1000000000ull	/* a second without refusals ends it */
#define PROBE_FDS	16

struct journal_sink {
	unsigned int first[F_COUNT];	/* each field's first slot */
	unsigned int key_len[F_COUNT];	/* "NAME=" */
	char (*slots)[SLOT_SIZE];
	struct iovec *iov;

	/* outage state */
	int failing;		/* warned; waiting to say it works again */
	int no_socket;		/* socket missing: libsystemd would drop silently */
	uint64_t retry_ns;	/* refusing: skip sending until then; 0 send */
	uint64_t last_fail_ns;
	uint64_t accepted;	/* records taken since the last refusal */
	uint64_t lost;		/* records lost in this outage */
	uint64_t checked_ns;	/* last look for the socket */
	int fd_probed;		/* libsystemd's socket made non-blocking, or not */

	char message[sizeof("MESSAGE=") - 1 + MESSAGE_MAX];
};

static const char *const priorities[8] = {
	"PRIORITY=0", "PRIORITY=1", "PRIORITY=2", "PRIORITY=3",
	"PRIORITY=4", "PRIORITY=5", "PRIORITY=6", "PRIORITY=7",
};

static int is_array(enum field_id id)
{
	enum field_kind k = field_table[id].kind;

	return k == FK_NUMBER_ARRAY || k == FK_FOREIGN_STRING_ARRAY;
}

/* --- libsystemd's socket --- */

/*
 * libsystemd sends over one cached, blocking socket it creates on first
 * use and offers no way to make it non-blocking, so a journald that stops
 * reading (stopped while systemd holds its socket, stalled on disk) would
 * stall capture and every other output. That socket is found as the one
 * new AF_UNIX datagram socket after the first send, and made non-blocking:
 * a full queue then fails with EAGAIN, which is counted.
 */
static int is_unix_dgram(int fd)
{
	socklen_t len = sizeof(int);
	int v;

	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &len) || v != AF_UNIX)
		return 0;
	len = sizeof(int);
	return !getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len) && v == SOCK_DGRAM;
}

/* Unix datagram sockets open now; -1 when there are too many to tell. */
static int unix_dgram_fds(int *fds)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d))) {
		int fd = atoi(de->d_name);

		if (de->d_name[0] < '0' || de->d_name[0] > '9' || fd == dirfd(d) ||
		    !is_unix_dgram(fd))
			continue;
		if (n == PROBE_FDS) {
			n = -1;
			break;
		}
		fds[n++] = fd;
	}
	closedir(d);
	return n;
}

static int sendv_first(struct journal_sink *j, struct iovec *iov, int n)
{
	int before[PROBE_FDS], after[PROBE_FDS];
	int nb = unix_dgram_fds(before);
	int r = sd_journal_sendv(iov, n);
	int na = unix_dgram_fds(after);
	int found = -1;

	j->fd_probed = 1;
	for (int a = 0; nb >= 0 && a < na; a++) {
		int old = 0;

		for (int b = 0; b < nb; b++)
			old |= after[a] == before[b];
		if (old)
			continue;
		if (found >= 0) {
			found = -1;	/* two new ones: not sure which */
			break;
		}
		found = after[a];
	}
	if (found < 0 || fcntl(found, F_SETFL,
			       fcntl(found, F_GETFL) | O_NONBLOCK) < 0)
		pr_debug("journal output: libsystemd's socket not found; sends may block");
	return r;
}

/* --- outages --- */

static const char *refusal(int err)
{
	switch (err) {
	case EAGAIN:
	case ENOBUFS:
		return "journald's queue is full";
	case ENOENT:
	case ECONNREFUSED:
		return "journald is not running";
	default:
		return "journald refuses records";
	}
}

/* A record lost to an outage; a refusal starts (or goes on with) one. */
static void lose(struct sink *s, struct journal_sink *j, uint64_t now)
{
	j->failing = 1;
	j->accepted = 0;
	j->last_fail_ns = now;
	j->lost++;
	s->failed++;
}

static void refused(struct sink *s, struct journal_sink *j, int err)
{
	uint64_t now = clock_mono_ns();

	if (!j->failing)
		pr_warn("%s (%s); counting records as lost until it takes them again",
			refusal(err), strerror(err));
	j->retry_ns = now + RETRY_NS;
	lose(s, j, now);
}

/*
 * Said once records have gone through for a while: a journald that only
 * keeps up now and then is one outage, not a warning every few records.
 */
static void check_recovery(struct journal_sink *j, uint64_t now, int force)
{
	if (!j->failing || !j->accepted ||
	    (!force && now - j->last_fail_ns < CALM_NS))
		return;
	pr_info("journald takes records again; %llu lost meanwhile",
		(unsigned long long)j->lost);
	j->failing = 0;
	j->lost = 0;
}

/* libsystemd reports a missing socket as success, so look for it. */
static void check_socket(struct journal_sink *j)
{
	int gone = access(JOURNAL_SOCKET, F_OK) != 0;

	if (gone && !j->no_socket) {
		if (!j->failing)
			pr_warn("%s is missing (journald is not running); counting records as lost until it is back",
				JOURNAL_SOCKET);
		j->failing = 1;
		j->accepted = 0;
		j->last_fail_ns = clock_mono_ns();
	} else if (!gone && j->no_socket) {
		j->retry_ns = 0;
	}
	j->no_socket = gone;
}

/* --- the output --- */

static int journal_write(struct sink *s, const struct event *e)
{
	struct journal_sink *j = s->priv;
	uint64_t mask = s->cfg->fields & e->present;
	struct iovec *iov = j->iov;
	unsigned int n = FIXED_IOVS;
	int r;

	if (j->no_socket || j->retry_ns) {
		uint64_t now = clock_mono_ns();

		if (j->no_socket || now < j->retry_ns) {
			lose(s, j, now);
			return j->no_socket ? -ENOENT : -EAGAIN;
		}
	}
	iov[2].iov_base = (void *)priorities[event_priority(e) & 7];
	iov[2].iov_len = sizeof("PRIORITY=0") - 1;
	iov[3].iov_len = sizeof("MESSAGE=") - 1 +
		event_message(e, s->cfg->fields, j->message + sizeof("MESSAGE=") - 1,
			      MESSAGE_MAX);
	while (mask) {
		enum field_id id = __builtin_ctzll(mask);
		unsigned int k = j->key_len[id];
		unsigned int count = is_array(id) ? ARRAY_MAX : 1;

		mask &= mask - 1;
		for (unsigned int i = 0; i < count; i++) {
			char *slot = j->slots[j->first[id] + i];
			int len = field_text(e, id, i, slot + k);

			if (len < 0 && count > 1)
				break;
			iov[n].iov_base = slot;
			iov[n].iov_len = k + (len > 0 ? len : 0);
			n++;
		}
	}
	if (j->fd_probed)
		r = sd_journal_sendv(iov, n);
	else
		r = sendv_first(j, iov, n);
	if (r < 0) {
		refused(s, j, -r);
		return r;
	}
	j->retry_ns = 0;
	j->accepted++;
	s->written++;
	return 0;
}

static int journal_flush(struct sink *s)
{
	struct journal_sink *j = s->priv;
	uint64_t now = clock_mono_ns();

	if (now - j->checked_ns >= CHECK_NS) {
		j->checked_ns = now;
		check_socket(j);
	}
	check_recovery(j, now, 0);
	return 0;
}

static int journal_reopen(struct sink *s)
{
	struct journal_sink *j = s->priv;

	j->retry_ns = 0;
	check_socket(j);
	return 0;
}

static void journal_close(struct sink *s)
{
	struct journal_sink *j = s->priv;

	check_recovery(j, clock_mono_ns(), 1);
	free(j->slots);
	free(j->iov);
	free(j);
}

/* SRC_IP= from src_ip: journald takes [A-Z0-9_], not starting with '_'. */
static int journal_key(char *out, const struct field *f)
{
	if (f->name_len + 1 >= KEY_MAX || !f->name_len || f->name[0] == '_' ||
	    (f->name[0] >= '0' && f->name[0] <= '9'))
		return -1;
	for (unsigned int i = 0; i < f->name_len; i++) {
		char c = f->name[i];

		if (c >= 'a' && c <= 'z')
			c -= 'a' - 'A';
		else if (!(c >= 'A' && c <= 'Z') && !(c >= '0' && c <= '9') &&
			 c != '_')
			return -1;
		out[i] = c;
	}
	out[f->name_len] = '=';
	return f->name_len + 1;
}

static int journal_open(struct sink *s)
{
	struct journal_sink *j;
	unsigned int n_slots = 0;
	int err = -ENOMEM;

	if (*s->target) {
		pr_err("the journal output takes no target ('journal:%s'); use -o journal",
		       s->target);
		return -EINVAL;
	}
	j = calloc(1, sizeof(*j));
	if (!j)
		return -ENOMEM;
	for (int id = 0; id < F_COUNT; id++) {
		j->first[id] = n_slots;
		n_slots += is_array(id) ? ARRAY_MAX : 1;
	}
	j->slots = calloc(n_slots, SLOT_SIZE);
	j->iov = calloc(FIXED_IOVS + n_slots, sizeof(*j->iov));
	if (!j->slots || !j->iov) {
		pr_err("out of memory");
		goto fail;
	}
	for (int id = 0; id < F_COUNT; id++) {
		char key[KEY_MAX];
		int len = journal_key(key, &field_table[id]);

		if (len < 0) {
			pr_err("the field name %s cannot be a journal field",
			       field_table[id].name);
			err = -EINVAL;
			goto fail;
		}
		j->key_len[id] = len;
		for (unsigned int i = 0; i < (is_array(id) ? ARRAY_MAX : 1); i++)
			memcpy(j->slots[j->first[id] + i], key, len);
	}
	memcpy(j->message, "MESSAGE=", sizeof("MESSAGE=") - 1);
	j->iov[0].iov_base = (void *)"SYSLOG_IDENTIFIER=hdrlog";
	j->iov[0].iov_len = sizeof("SYSLOG_IDENTIFIER=hdrlog") - 1;
	j->iov[1].iov_base = (void *)("MESSAGE_ID=" HDRLOG_MESSAGE_ID_PACKET);
	j->iov[1].iov_len = sizeof("MESSAGE_ID=" HDRLOG_MESSAGE_ID_PACKET) - 1;
	j->iov[3].iov_base = j->message;
	s->priv = j;
	j->checked_ns = clock_mono_ns();
	check_socket(j);
	return 0;
fail:
	free(j->slots);
	free(j->iov);
	free(j);
	return err;
}

const struct sink_ops journal_sink_ops = {
	.name = "journal",
	.open = journal_open,
	.write = journal_write,
	.flush = journal_flush,
	.reopen = journal_reopen,
	.close = journal_close,
};
