/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The control socket (--control PATH, issue 14): how hdrlog --blocks,
 * --unblock and --top reach a running hdrlog. AF_UNIX SOCK_SEQPACKET,
 * mode 0600; one request per connection, one text reply, both bounded.
 * Request: "blocks", "top" or "unblock ADDR[/PREFIX]". Reply: "ok\n" or
 * "error\n", then text for the user.
 */
#ifndef HDRLOG_CONTROL_H
#define HDRLOG_CONTROL_H

#include <stdbool.h>
#include <stddef.h>

#define CONTROL_DIR		"/run/hdrlog"	/* the unit's RuntimeDirectory= */
#define CONTROL_REQUEST_MAX	256
#define CONTROL_REPLY_MAX	(64 * 1024)

struct control;

/*
 * Listen on path. NULL with a warning if it cannot (another hdrlog has
 * it, no directory): capture goes on without --blocks and --top.
 */
struct control *control_open(const char *path);
int control_fd(const struct control *c);	/* for epoll; -1 if none */
void control_close(struct control *c);

/*
 * Answer every request that has come, never waiting: a connection whose
 * request has not arrived is kept (a few) and tried again next call,
 * dropped after a second. handle writes the reply (after "ok\n" or
 * "error\n", which its return value, 0 or -1, chooses).
 */
typedef int (*control_handler)(void *ctx, const char *request, char *reply,
			       size_t size);
bool control_pending(const struct control *c);	/* slow clients kept */
void control_serve(struct control *c, control_handler handle, void *ctx);

/*
 * hdrlog --blocks, --unblock, --top: the client. Returns the exit
 * status: 0, 1 (no hdrlog there, or it said error), with messages.
 */
int control_command(const char *path, const char *request, bool top,
		    bool once);

#endif
