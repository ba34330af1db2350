// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * JSON lines. yajl renders every key (once, at open) and every string
 * that came from outside hdrlog (interface and list names), so escaping
 * and UTF-8 checks are yajl's. Numbers and the ASCII text hdrlog makes
 * itself (addresses, timestamps, keywords) need no escaping and are put
 * in directly: a generic generator costs ~75 ns per field here, which
 * would cap the output far below the ring buffer's rate.
 *
 * Lines collect in one buffer that goes out with one write(2) when it
 * fills or on flush, so a burst costs few system calls; a terminal gets
 * each line at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <yajl/yajl_gen.h>

#include "event.h"
#include "fields.h"
#include "log.h"
#include "sink.h"

#define JSON_BUF_SIZE	(256 * 1024)
#define JSON_KEY_MAX	64

struct json_key {
	char text[JSON_KEY_MAX];	/* ,"name": */
	unsigned int len;
};

struct json_sink {
	int fd;
	int own_fd;		/* opened here, so closed and reopened here */
	int tty;
	int failing;		/* a write error was reported; quiet until it heals */
	yajl_gen esc;		/* renders one foreign string at a time */
	struct json_key keys[F_COUNT];
	size_t len;
	uint64_t pending;	/* records in buf */
	char buf[JSON_BUF_SIZE];
};

static int json_open_target(struct sink *s, struct json_sink *j)
{
	if (!strcmp(s->target, "-")) {
		j->fd = STDOUT_FILENO;
		j->own_fd = 0;
	} else {
		j->fd = open(s->target, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
			     0640);
		if (j->fd < 0) {
			pr_err("cannot open %s: %s", s->target, strerror(errno));
			return -errno;
		}
		j->own_fd = 1;
	}
	j->tty = isatty(j->fd);
	return 0;
}

static int json_flush(struct sink *s)
{
	struct json_sink *j = s->priv;
	size_t off = 0;

	while (off < j->len) {
		ssize_t n = write(j->fd, j->buf + off, j->len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int err = n < 0 ? errno : EIO;

			if (!j->failing)
				pr_err("writing %s failed: %s; counting lost records until it works again",
				       s->target, strerror(err));
			j->failing = 1;
			s->failed += j->pending;
			j->len = 0;
			j->pending = 0;
			return -err;
		}
		off += n;
	}
	if (j->failing && j->len)
		pr_info("writing %s works again", s->target);
	j->failing = 0;
	s->written += j->pending;
	j->len = 0;
	j->pending = 0;
	return 0;
}

/* Room for n more bytes; a record may straddle a flush, never overrun. */
static char *reserve(struct sink *s, size_t n)
{
	struct json_sink *j = s->priv;

	if (j->len + n > JSON_BUF_SIZE)
		json_flush(s);
	return j->buf + j->len;
}

static void put(struct sink *s, const void *p, size_t n)
{
	struct json_sink *j = s->priv;

	memcpy(reserve(s, n), p, n);
	j->len += n;
}

static void put_char(struct sink *s, char c)
{
	struct json_sink *j = s->priv;

	*reserve(s, 1) = c;
	j->len++;
}

/* yajl renders str; if it is not UTF-8, its non-ASCII bytes become '?'. */
static int render_string(yajl_gen g, const char *str, size_t n,
			 const unsigned char **out, size_t *out_len)
{
	char clean[FIELD_TEXT_MAX];

	yajl_gen_clear(g);
	yajl_gen_reset(g, NULL);
	if (yajl_gen_string(g, (const unsigned char *)str, n) != yajl_gen_status_ok) {
		n = n < sizeof(clean) ? n : sizeof(clean);
		for (size_t i = 0; i < n; i++)
			clean[i] = (unsigned char)str[i] < 0x80 ? str[i] : '?';
		yajl_gen_reset(g, NULL);
		if (yajl_gen_string(g, (const unsigned char *)clean, n) !=
		    yajl_gen_status_ok)
			return -1;
	}
	return yajl_gen_get_buf(g, out, out_len) == yajl_gen_status_ok ? 0 : -1;
}

static void put_foreign(struct sink *s, const char *str, size_t n)
{
	struct json_sink *j = s->priv;
	const unsigned char *out;
	size_t len;

	if (render_string(j->esc, str, n, &out, &len))
		put(s, "\"\"", 2);
	else
		put(s, out, len);
}

/* A field's value text straight into the buffer, quoted or not. */
static void put_text(struct sink *s, const struct event *e, enum field_id id,
		     int quoted)
{
	struct json_sink *j = s->priv;
	char *p = reserve(s, FIELD_TEXT_MAX + 2);
	int n;

	if (quoted)
		*p++ = '"';
	n = field_text(e, id, 0, p);
	p += n > 0 ? n : 0;
	if (quoted)
		*p++ = '"';
	j->len = p - j->buf;
}

static void put_array(struct sink *s, const struct event *e, enum field_id id,
		      enum field_kind kind)
{
	char text[FIELD_TEXT_MAX];
	int n;

	put_char(s, '[');
	for (unsigned int i = 0; (n = field_text(e, id, i, text)) >= 0; i++) {
		if (i)
			put_char(s, ',');
		if (kind == FK_NUMBER_ARRAY)
			put(s, text, n);
		else
			put_foreign(s, text, n);
	}
	put_char(s, ']');
}

static int json_write(struct sink *s, const struct event *e)
{
	struct json_sink *j = s->priv;
	uint64_t mask = e->present & s->fields;
	char text[FIELD_TEXT_MAX];
	int first = 1;

	put_char(s, '{');
	while (mask) {
		enum field_id id = __builtin_ctzll(mask);
		const struct json_key *k = &j->keys[id];
		enum field_kind kind = field_table[id].kind;
		int n;

		mask &= mask - 1;
		put(s, k->text + first, k->len - first);
		first = 0;
		switch (kind) {
		case FK_NUMBER:
			put_text(s, e, id, 0);
			break;
		case FK_STRING:
			put_text(s, e, id, 1);
			break;
		case FK_FOREIGN_STRING:
			n = field_text(e, id, 0, text);
			put_foreign(s, text, n > 0 ? n : 0);
			break;
		case FK_BOOL:
			field_text(e, id, 0, text);
			if (text[0] == 't')
				put(s, "true", 4);
			else
				put(s, "false", 5);
			break;
		case FK_NUMBER_ARRAY:
		case FK_FOREIGN_STRING_ARRAY:
			put_array(s, e, id, kind);
			break;
		}
	}
	put(s, "}\n", 2);
	j->pending++;
	if (j->tty)
		return json_flush(s);
	return 0;
}

/* ,"name": for every field, rendered by yajl once. */
static int render_keys(struct json_sink *j)
{
	for (int i = 0; i < F_COUNT; i++) {
		const struct field *f = &field_table[i];
		struct json_key *k = &j->keys[i];
		const unsigned char *out;
		size_t len;

		if (render_string(j->esc, f->name, f->name_len, &out, &len) ||
		    len + 2 > sizeof(k->text))
			return -1;
		k->text[0] = ',';
		memcpy(k->text + 1, out, len);
		k->text[len + 1] = ':';
		k->len = len + 2;
	}
	return 0;
}

static int json_open(struct sink *s)
{
	struct json_sink *j = calloc(1, sizeof(*j));
	int err;

	if (!j)
		return -ENOMEM;
	j->esc = yajl_gen_alloc(NULL);
	if (!j->esc) {
		free(j);
		return -ENOMEM;
	}
	yajl_gen_config(j->esc, yajl_gen_validate_utf8, 1);
	if (render_keys(j)) {
		yajl_gen_free(j->esc);
		free(j);
		return -EINVAL;
	}
	err = json_open_target(s, j);
	if (err) {
		yajl_gen_free(j->esc);
		free(j);
		return err;
	}
	s->priv = j;
	return 0;
}

static int json_reopen(struct sink *s)
{
	struct json_sink *j = s->priv;

	json_flush(s);
	if (!j->own_fd)
		return 0;
	close(j->fd);
	return json_open_target(s, j);
}

static void json_close(struct sink *s)
{
	struct json_sink *j = s->priv;

	json_flush(s);
	if (j->own_fd)
		close(j->fd);
	yajl_gen_free(j->esc);
	free(j);
}

const struct sink_ops json_sink_ops = {
	.name = "json",
	.open = json_open,
	.write = json_write,
	.flush = json_flush,
	.reopen = json_reopen,
	.close = json_close,
};
