/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The one interface every output implements. */
#ifndef HDRLOG_SINK_H
#define HDRLOG_SINK_H

#include <stdint.h>

struct event;

struct sink {
	const struct sink_ops *ops;
	const char *target;	/* what the user named, for messages */
	uint64_t fields;	/* mask of enum field_id to write */
	uint64_t written;	/* records written */
	uint64_t failed;	/* records lost to write errors */
	void *priv;		/* the output's own state */
};

struct sink_ops {
	const char *name;
	/* Returns 0, or a negative errno with a message already printed. */
	int (*open)(struct sink *s);
	int (*write)(struct sink *s, const struct event *e);
	int (*flush)(struct sink *s);
	int (*reopen)(struct sink *s);
	void (*close)(struct sink *s);
};

/*
 * Create a sink from an -o argument such as "json", "json:-" or
 * "json:/var/log/x.json". Returns NULL with a message printed on error.
 */
struct sink *sink_create(const char *spec, uint64_t fields);
void sink_destroy(struct sink *s);

#endif
