// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * JSON lines through yajl. Records collect in yajl's own buffer and go out
 * with one write(2) per batch or on flush, so a burst of records costs few
 * system calls. A terminal gets each line at once.
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

#define JSON_BATCH	512	/* records per write(2) at most */

struct json_sink {
	int fd;
	int own_fd;		/* opened here, so closed and reopened here */
	int tty;
	int failing;		/* a write error was reported; quiet until it heals */
	yajl_gen gen;		/* its own buffer holds the unwritten lines */
	uint64_t pending;	/* records in that buffer */
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

static int json_open(struct sink *s)
{
	struct json_sink *j = calloc(1, sizeof(*j));
	int err;

	if (!j)
		return -ENOMEM;
	err = json_open_target(s, j);
	if (err) {
		free(j);
		return err;
	}
	j->gen = yajl_gen_alloc(NULL);
	if (!j->gen) {
		free(j);
		return -ENOMEM;
	}
	s->priv = j;
	return 0;
}

static int json_flush(struct sink *s)
{
	struct json_sink *j = s->priv;
	const unsigned char *buf;
	size_t len, off = 0;

	yajl_gen_get_buf(j->gen, &buf, &len);
	while (off < len) {
		ssize_t n = write(j->fd, buf + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int err = n < 0 ? errno : EIO;

			if (!j->failing)
				pr_err("writing %s failed: %s; counting lost records until it works again",
				       s->target, strerror(err));
			j->failing = 1;
			s->failed += j->pending;
			yajl_gen_clear(j->gen);
			j->pending = 0;
			return -err;
		}
		off += n;
	}
	if (j->failing && len)
		pr_info("writing %s works again", s->target);
	j->failing = 0;
	s->written += j->pending;
	yajl_gen_clear(j->gen);
	j->pending = 0;
	return 0;
}

static void put_string(yajl_gen g, const char *s, size_t n)
{
	yajl_gen_string(g, (const unsigned char *)s, n);
}

static int json_write(struct sink *s, const struct event *e)
{
	struct json_sink *j = s->priv;
	uint64_t mask = e->present & s->fields;
	yajl_gen g = j->gen;
	char text[FIELD_TEXT_MAX];

	yajl_gen_map_open(g);
	while (mask) {
		enum field_id id = __builtin_ctzll(mask);
		const struct field *f = &field_table[id];
		int n;

		mask &= mask - 1;
		put_string(g, f->name, f->name_len);
		switch (f->kind) {
		case FK_NUMBER_ARRAY:
			yajl_gen_array_open(g);
			for (unsigned int i = 0;
			     (n = field_text(e, id, i, text)) >= 0; i++)
				yajl_gen_number(g, text, n);
			yajl_gen_array_close(g);
			break;
		case FK_BOOL:
			field_text(e, id, 0, text);
			yajl_gen_bool(g, text[0] == 't');
			break;
		case FK_NUMBER:
			n = field_text(e, id, 0, text);
			yajl_gen_number(g, text, n);
			break;
		case FK_STRING:
			n = field_text(e, id, 0, text);
			put_string(g, text, n);
			break;
		}
	}
	yajl_gen_map_close(g);
	yajl_gen_reset(g, "\n");
	if (++j->pending >= JSON_BATCH || j->tty)
		return json_flush(s);
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
	yajl_gen_free(j->gen);
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
