/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Which process a connection belongs to, learnt from socket events, so
 * packet records of that connection can name it too (pid, comm). Bounded:
 * a full bucket forgets its oldest connection; close forgets at once.
 */
#ifndef HDRLOG_FLOWS_H
#define HDRLOG_FLOWS_H

#include <stdint.h>

struct event;
struct flows;

struct flows *flows_new(void);
void flows_free(struct flows *f);

/* A socket event: connect and accept remember, close forgets. */
void flows_learn(struct flows *f, const struct event *e);

/*
 * A packet record, captured in network namespace netns (inode): add pid
 * and comm when its connection is known there. A flow record (which
 * comes after its connection closed) takes a closed one's too.
 */
void flows_annotate(const struct flows *f, struct event *e, uint32_t netns);

#endif
