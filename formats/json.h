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

struct ecs_plan;

/* A foreign string's input bytes and yajl's rendering of them. */
#define JSON_RENDERED_KEPT	4
struct json_rendered {
	char in[FIELD_TEXT_MAX];
	size_t in_len;
	char out[2 * FIELD_TEXT_MAX];	/* 0 out_len: none kept */
	size_t out_len;
};

struct json_writer {
	yajl_gen esc;		/* renders one foreign string at a time */
	struct json_key keys[F_COUNT];
	/* field_table's kinds and members, close at hand: an entry is big */
	uint8_t kinds[F_COUNT];
	uint16_t members[F_COUNT];
	uint8_t sizes[F_COUNT];
	/*
	 * A name "a.b" (flow records) is b in object a: objs[id] is 0 for
	 * a name of the record itself, else i of obj_keys[i] (,"a":{).
	 */
	uint8_t objs[F_COUNT];
	struct json_key obj_keys[8];
	/* --schema ecs: the nested names in the order written; else NULL */
	struct ecs_plan *ecs;
	/* foreign strings rendered lately (json.c put_foreign()) */
	struct json_rendered rendered[JSON_RENDERED_KEPT];
	unsigned int rendered_next;
};

/* A writer for the names of schema: 0, or -1 with a message. */
int json_writer_init(struct json_writer *w, enum field_schema schema);
void json_writer_free(struct json_writer *w);

struct event;

/*
 * Write the fields of e in mask as one JSON object, no newline, at out,
 * with the names of the writer's schema (ECS: nested objects).
 * Returns its length, or 0 when it would not fit in size bytes. The
 * bytes past the record, up to size, may be written over.
 */
size_t json_writer_record(struct json_writer *w, const struct event *e,
			  field_mask mask, char *out, size_t size);

/*
 * The JSON record every output that sends one shares (json, syslog): one
 * writer, and for the record sink_write_all() hands out one rendering,
 * made by the first output that asks and reused by the others. An output
 * takes a reference at open (0, or -ENOMEM with a message) and gives it
 * back at close. The writer has the schema of cfg (cfg->schema): all
 * outputs share one sink_config.
 */
struct sink_config;
int json_render_get(const struct sink_config *cfg);
void json_render_put(void);
/* How many outputs hold a reference: with one, nothing is reused. */
int json_render_users(void);
struct json_writer *json_render_writer(void);
/*
 * e's fields in mask as one JSON object, no newline, valid until the next
 * call; its length in *len (0: it did not fit, cannot happen with
 * bounded names). Needs a reference.
 */
const char *json_render(const struct event *e, field_mask mask, size_t *len);

#endif
