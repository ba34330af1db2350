/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * One record as one line of JSON: the JSON output writes these to files,
 * the syslog output sends them as message bodies.
 */
#ifndef HDRLOG_JSON_H
#define HDRLOG_JSON_H

#include <stddef.h>
#include <stdint.h>

#include <yajl/yajl_gen.h>

#include "fields.h"

/* The longest record: 64 list names, every byte escaped, twice over. */
#define JSON_RECORD_MAX	(64 * 1024)

struct json_key {
	char text[64];		/* ,"name": */
	unsigned int len;
};

struct json_writer {
	yajl_gen esc;		/* renders one foreign string at a time */
	struct json_key keys[F_COUNT];
};

/* 0, or -1 with a message. */
int json_writer_init(struct json_writer *w);
void json_writer_free(struct json_writer *w);

struct event;

/*
 * Write the fields of e in mask as one JSON object, no newline, at out.
 * Returns its length, or 0 when it would not fit in size bytes.
 */
size_t json_writer_record(struct json_writer *w, const struct event *e,
			  uint64_t mask, char *out, size_t size);

#endif
