// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The systemd journal, spoken directly: journald's native protocol
 * (https://systemd.io/JOURNAL_NATIVE_PROTOCOL/) on a datagram socket of
 * hdrlog's own. One datagram per record, every record field as an
 * upper-case journal field (SRC_IP=, DEST_PORT=, ...), array fields as
 * one field per element (journald allows repeated fields), and MESSAGE,
 * PRIORITY, MESSAGE_ID and SYSLOG_IDENTIFIER for journalctl.
 *
 * Each field is "KEY=value\n"; a value holding a newline (a process or
 * list name can) goes in the binary-safe form "KEY\n", its length as a
 * 64-bit little-endian number, the value, "\n". A record too big for one
 * datagram goes in a sealed memfd passed with SCM_RIGHTS, as the protocol
 * says.
 *
 * Why not sd_journal_sendv(): it sends over a blocking socket of its own
 * that cannot be made non-blocking, so a journald that stops reading
 * would stall capture, and it reports a missing journald (ENOENT) as
 * success. Here the socket is non-blocking and not connected (a journald
 * that restarts binds a new socket at the same path), and every error is
 * real: ENOENT and ECONNREFUSED (journald not running), EAGAIN (its queue
 * is full). They cost records, never time: the records are counted in
 * s->failed, with one warning per outage and one message when records go
 * through again.
 *
 * Every value has a slot that starts with its "NAME=" written once at
 * open; a record costs the value texts and one sendmsg().
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "clock.h"
#include "event.h"
#include "fields.h"
#include "lists.h"
#include "log.h"
#include "message.h"
#include "sink.h"

#define JOURNAL_SOCKET	"/run/systemd/journal/socket"
#define KEY_MAX		64	/* journald's limit on field names */
#define BINARY_EXTRA	(8 + 1)	/* the length, and the "\n" after the value */
#define SLOT_SIZE	(KEY_MAX + 1 + FIELD_TEXT_MAX + BINARY_EXTRA)
#define ARRAY_MAX	MAX_LISTS	/* most elements of an array field */
#define MESSAGE_MAX	2048
#define FIXED_IOVS	4	/* identifier, id, priority, message */
#define SNDBUF_SIZE	(8 * 1024 * 1024)	/* big records in one datagram */
#define RETRY_NS	1000000ull	/* refused: try again after 1 ms */
#define CALM_NS		1000000000ull	/* a second without refusals ends it */

struct journal_sink {
	int fd;
	struct sockaddr_un addr;

	unsigned int first[F_COUNT];	/* each field's first slot */
	unsigned int key_len[F_COUNT];	/* "NAME=" */
	char (*slots)[SLOT_SIZE];
	struct iovec *iov;

	/* outage state */
	int failing;		/* warned; waiting to say it works again */
	uint64_t retry_ns;	/* refusing: skip sending until then; 0 send */
	uint64_t last_fail_ns;
	uint64_t accepted;	/* records taken since the last refusal */
	uint64_t lost;		/* records lost in this outage */

	char message_id[sizeof("MESSAGE_ID=" HDRLOG_MESSAGE_ID_PACKET "\n")];
	char message[sizeof("MESSAGE=") - 1 + MESSAGE_MAX + BINARY_EXTRA];
};

/* Where the 32 hex digits go in "MESSAGE_ID=...\n". */
#define ID_AT	(sizeof("MESSAGE_ID=") - 1)
#define ID_LEN	(sizeof(HDRLOG_MESSAGE_ID_PACKET) - 1)

static const char *const priorities[8] = {
	"PRIORITY=0\n", "PRIORITY=1\n", "PRIORITY=2\n", "PRIORITY=3\n",
	"PRIORITY=4\n", "PRIORITY=5\n", "PRIORITY=6\n", "PRIORITY=7\n",
};

static int is_array(enum field_id id)
{
	enum field_kind k = field_table[id].kind;

	return k == FK_NUMBER_ARRAY || k == FK_FOREIGN_STRING_ARRAY;
}

/*
 * Finish the field at buf: "KEY=" (key_len bytes with the '='), then len
 * bytes of value. Returns its length in the protocol: "KEY=value\n", or
 * when the value holds a newline "KEY\n<le64 len>value\n". buf has
 * BINARY_EXTRA bytes of room after the value.
 */
static size_t journal_field(char *buf, size_t key_len, size_t len)
{
	char *v = buf + key_len;
	uint64_t le;

	if (!memchr(v, '\n', len)) {
		buf[key_len - 1] = '=';	/* the slot's last value may have been binary */
		v[len] = '\n';
		return key_len + len + 1;
	}
	memmove(v + 8, v, len);
	buf[key_len - 1] = '\n';
	le = htole64(len);
	memcpy(v, &le, 8);
	v[8 + len] = '\n';
	return key_len + 8 + len + 1;
}

/* --- sending --- */

/*
 * A record bigger than a datagram: in a memfd, sealed so that journald
 * may read it without fearing it changes, passed with SCM_RIGHTS and no
 * data. Returns 0 or a negative errno.
 */
static int send_memfd(struct journal_sink *j, struct iovec *iov, int n)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl = { 0 };
	struct msghdr mh = {
		.msg_name = &j->addr,
		.msg_namelen = sizeof(j->addr),
		.msg_control = ctl.buf,
		.msg_controllen = sizeof(ctl.buf),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	int fd, err = 0;

	fd = memfd_create("hdrlog-journal", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	for (int i = 0; i < n; i += IOV_MAX) {
		if (writev(fd, iov + i, n - i < IOV_MAX ? n - i : IOV_MAX) < 0) {
			err = -errno;
			goto out;
		}
	}
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE |
		  F_SEAL_SEAL) < 0) {
		err = -errno;
		goto out;
	}
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	if (sendmsg(j->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		err = -errno;
out:
	close(fd);
	return err;
}

/* One entry: 0, or a negative errno from the socket. */
static int journal_send(struct journal_sink *j, struct iovec *iov, int n)
{
	struct msghdr mh = {
		.msg_name = &j->addr,
		.msg_namelen = sizeof(j->addr),
		.msg_iov = iov,
		.msg_iovlen = n,
	};

	for (;;) {
		if (sendmsg(j->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) >= 0)
			return 0;
		if (errno != EINTR)
			break;
	}
	/* EAGAIN is journald's queue being full: a memfd would wait there too. */
	if (errno == EMSGSIZE || errno == ENOBUFS)
		return send_memfd(j, iov, n);
	return -errno;
}

/* --- outages --- */

static void refused_warning(int err)
{
	switch (err) {
	case EAGAIN:
	case ENOBUFS:
		pr_warn("journald's queue is full (%s); counting records as lost until it takes them again",
			strerror(err));
		break;
	case ENOENT:
		pr_warn("%s is missing (journald is not running); counting records as lost until it is back",
			JOURNAL_SOCKET);
		break;
	case ECONNREFUSED:
		pr_warn("journald is not running (%s); counting records as lost until it takes them again",
			strerror(err));
		break;
	default:
		pr_warn("journald refuses records (%s); counting records as lost until it takes them again",
			strerror(err));
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
		refused_warning(err);
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

/* --- the output --- */

/* Send one entry; count it written, or refused and lost. */
static int journal_submit(struct sink *s, struct journal_sink *j,
			  struct iovec *iov, unsigned int n)
{
	int r = journal_send(j, iov, n);

	if (r < 0) {
		refused(s, j, -r);
		return r;
	}
	j->retry_ns = 0;
	j->accepted++;
	s->written++;
	return 0;
}

static int journal_write(struct sink *s, const struct event *e)
{
	struct journal_sink *j = s->priv;
	field_mask mask = s->cfg->fields & e->present;
	struct iovec *iov = j->iov;
	unsigned int n = FIXED_IOVS;
	size_t len;

	if (j->retry_ns) {
		uint64_t now = clock_mono_ns();

		if (now < j->retry_ns) {
			lose(s, j, now);
			return -EAGAIN;
		}
	}
	memcpy(j->message_id + ID_AT, event_message_id(e), ID_LEN);
	iov[2].iov_base = (void *)priorities[event_priority(e) & 7];
	iov[2].iov_len = sizeof("PRIORITY=0\n") - 1;
	len = event_message(e, s->cfg->fields,
			    j->message + sizeof("MESSAGE=") - 1, MESSAGE_MAX);
	iov[3].iov_len = journal_field(j->message, sizeof("MESSAGE=") - 1, len);
	while (mask) {
		enum field_id id = field_mask_pop(&mask);
		unsigned int k = j->key_len[id];
		unsigned int count = is_array(id) ? ARRAY_MAX : 1;

		for (unsigned int i = 0; i < count; i++) {
			char *slot = j->slots[j->first[id] + i];
			int vlen = field_text(e, id, i, slot + k);

			if (vlen < 0 && count > 1)
				break;
			iov[n].iov_base = slot;
			iov[n].iov_len = journal_field(slot, k,
						       vlen > 0 ? vlen : 0);
			n++;
		}
	}
	return journal_submit(s, j, iov, n);
}

/*
 * A stats record: MESSAGE is its JSON object (as syslog's body is),
 * EVENT_TYPE=stats and MESSAGE_ID HDRLOG_MESSAGE_ID_STATS to pick it.
 */
static int journal_write_stats(struct sink *s, const struct event *e,
			       const char *json, size_t len)
{
	struct journal_sink *j = s->priv;
	struct iovec iov[] = {
		j->iov[0],	/* SYSLOG_IDENTIFIER */
		{ (void *)"MESSAGE_ID=" HDRLOG_MESSAGE_ID_STATS "\n",
		  sizeof("MESSAGE_ID=" HDRLOG_MESSAGE_ID_STATS "\n") - 1 },
		{ (void *)priorities[event_priority(e) & 7],
		  sizeof("PRIORITY=0\n") - 1 },
		{ (void *)"EVENT_TYPE=stats\n", sizeof("EVENT_TYPE=stats\n") - 1 },
		{ (void *)"MESSAGE=", sizeof("MESSAGE=") - 1 },
		{ (void *)json, len },	/* yajl escapes newlines: one line */
		{ (void *)"\n", 1 },
	};

	if (j->retry_ns && clock_mono_ns() < j->retry_ns) {
		lose(s, j, clock_mono_ns());
		return -EAGAIN;
	}
	return journal_submit(s, j, iov, sizeof(iov) / sizeof(iov[0]));
}

static int journal_flush(struct sink *s)
{
	struct journal_sink *j = s->priv;

	check_recovery(j, clock_mono_ns(), 0);
	return 0;
}

static int journal_reopen(struct sink *s)
{
	struct journal_sink *j = s->priv;

	j->retry_ns = 0;
	return 0;
}

static void journal_free(struct journal_sink *j)
{
	if (j->fd >= 0)
		close(j->fd);
	free(j->slots);
	free(j->iov);
	free(j);
}

static void journal_close(struct sink *s)
{
	struct journal_sink *j = s->priv;

	check_recovery(j, clock_mono_ns(), 1);
	journal_free(j);
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
		else if (c == '.')	/* flow.start: FLOW_START */
			c = '_';
		else if (!(c >= 'A' && c <= 'Z') && !(c >= '0' && c <= '9') &&
			 c != '_')
			return -1;
		out[i] = c;
	}
	out[f->name_len] = '=';
	return f->name_len + 1;
}

/*
 * Whether journald is there at start, so that a missing one is said
 * before the first record; a connected probe, since the sending socket
 * stays unconnected.
 */
static void probe(struct journal_sink *j)
{
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return;
	if (connect(fd, (struct sockaddr *)&j->addr, sizeof(j->addr)) < 0) {
		refused_warning(errno);
		j->failing = 1;
		j->last_fail_ns = clock_mono_ns();
	}
	close(fd);
}

static int has_target(const struct sink *s)
{
	if (*s->target)
		pr_err("the journal output takes no target ('journal:%s'); use -o journal",
		       s->target);
	return *s->target;
}

/* All there is to check: the socket journald listens on is there. */
static int journal_check(const struct sink *s)
{
	struct stat st;

	if (has_target(s))
		return -EINVAL;
	if (!stat(JOURNAL_SOCKET, &st) && S_ISSOCK(st.st_mode))
		return 0;
	pr_warn("output journal: no journald socket at " JOURNAL_SOCKET
		": records would be counted lost until journald is there");
	return 1;
}

static int journal_open(struct sink *s)
{
	struct journal_sink *j;
	unsigned int n_slots = 0;
	int err = -ENOMEM, size = SNDBUF_SIZE;

	if (has_target(s))
		return -EINVAL;
	j = calloc(1, sizeof(*j));
	if (!j) {
		pr_err("out of memory");
		return -ENOMEM;
	}
	j->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (j->fd < 0) {
		err = -errno;
		pr_err("journal output: cannot make a socket: %s", strerror(-err));
		goto fail;
	}
	/* The default send buffer caps a datagram near 200 KiB; best effort. */
	setsockopt(j->fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	j->addr.sun_family = AF_UNIX;
	memcpy(j->addr.sun_path, JOURNAL_SOCKET, sizeof(JOURNAL_SOCKET));
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
	memcpy(j->message_id, "MESSAGE_ID=" HDRLOG_MESSAGE_ID_PACKET "\n",
	       sizeof(j->message_id));
	j->iov[1].iov_base = j->message_id;
	j->iov[1].iov_len = sizeof(j->message_id) - 1;
	j->iov[0].iov_base = (void *)"SYSLOG_IDENTIFIER=hdrlog\n";
	j->iov[0].iov_len = sizeof("SYSLOG_IDENTIFIER=hdrlog\n") - 1;
	j->iov[3].iov_base = j->message;
	s->priv = j;
	probe(j);
	return 0;
fail:
	journal_free(j);
	return err;
}

const struct sink_ops journal_sink_ops = {
	.name = "journal",
	.open = journal_open,
	.write = journal_write,
	.write_stats = journal_write_stats,
	.flush = journal_flush,
	.reopen = journal_reopen,
	.close = journal_close,
	.check = journal_check,
};
