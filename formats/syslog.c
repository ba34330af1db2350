// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The syslog output: each record as an RFC 5424 or RFC 3164 message
 * (syslog_fmt.h) with its JSON record as the body, sent over a unix
 * socket, UDP, TCP or TLS (transport.h), or RELP (relp.h: relp://
 * targets). This file only joins the two.
 *
 * Size: messages are kept within what receivers take by default: 2048
 * bytes over UDP (RFC 5426 says receivers SHOULD take 2048; 480/1180 is
 * the floor, which no record fits), 8192 bytes otherwise (rsyslog's
 * default maxMessageSize). Shortened records count in s->cut.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "event.h"
#include "json.h"
#include "log.h"
#include "relp.h"
#include "sink.h"
#include "syslog_fmt.h"
#include "transport.h"

/* Smallest framed message: a header, "-" and "{}"; bounds the length FIFO. */
#define SYSLOG_MIN_FRAME	32

static const struct transport_defaults syslog_defaults = {
	.label = "syslog",
	.path = "/dev/log",
	.port = "514",
	.tls_port = "6514",	/* RFC 5425 */
	.min_msg = SYSLOG_MIN_FRAME,
};

struct syslog_sink {
	struct transport t;
	struct relp_out *relp;	/* relp://: instead of t */
	struct syslog_fmt f;
	char msg[SYSLOG_MSG_MAX + SYSLOG_FRAME_EXTRA];
};

/* RFC 6587 framing for streams; a local stream socket as syslog(3) does. */
static enum syslog_framing framing(const struct syslog_sink *x,
				   const struct sink_config *cfg)
{
	/* RELP frames each message itself. */
	if (x->relp || !transport_is_stream(&x->t))
		return SYSLOG_FRAME_NONE;
	if (x->t.kind == TRANSPORT_TCP || x->t.kind == TRANSPORT_TLS)
		return cfg->syslog_lf_framing ? SYSLOG_FRAME_LF
					      : SYSLOG_FRAME_OCTETS;
	return cfg->syslog_lf_framing ? SYSLOG_FRAME_LF : SYSLOG_FRAME_NUL;
}

/*
 * One message with body (a record's JSON, or a stats record's) to RELP
 * or the transport; counted written, lost or cut there.
 */
static int syslog_send(struct sink *s, const struct event *e,
		       const char *body, size_t body_len)
{
	struct syslog_sink *x = s->priv;
	size_t len;
	bool cut;

	len = syslog_fmt_message(&x->f, e, body, body_len, framing(x, s->cfg),
				 x->msg, sizeof(x->msg), &cut);
	if (cut)
		s->cut++;
	if (x->relp)
		relp_send(x->relp, x->msg, len);
	else
		transport_send(&x->t, x->msg, len);
	return 0;
}

static int syslog_write(struct sink *s, const struct event *e)
{
	struct syslog_sink *x = s->priv;
	const char *body;
	size_t len;

	if (!x->relp && !transport_ready(&x->t))
		return -ENOTCONN;
	body = json_render(e, s->cfg->fields, &len);
	return syslog_send(s, e, body, len);
}

/* A stats record: its JSON as the body, MSGID "stats" (sink.h). */
static int syslog_write_stats(struct sink *s, const struct event *e,
			      const char *json, size_t len)
{
	struct syslog_sink *x = s->priv;

	if (!x->relp && !transport_ready(&x->t))
		return -ENOTCONN;
	return syslog_send(s, e, json, len);
}

static int syslog_flush(struct sink *s)
{
	struct syslog_sink *x = s->priv;

	if (x->relp)
		relp_flush(x->relp);
	else
		transport_flush(&x->t);
	return 0;
}

static int syslog_reopen(struct sink *s)
{
	struct syslog_sink *x = s->priv;

	if (x->relp)
		relp_reopen(x->relp);
	else
		transport_reopen(&x->t);
	return 0;
}

static void syslog_close(struct sink *s)
{
	struct syslog_sink *x = s->priv;

	if (x->relp)
		relp_close(x->relp);
	else
		transport_close(&x->t);
	json_render_put();
	free(x);
}

static int syslog_open(struct sink *s)
{
	struct syslog_sink *x = calloc(1, sizeof(*x));
	char host[256] = "";
	int err;

	if (!x) {
		pr_err("out of memory");
		return -ENOMEM;
	}
	if (relp_target(s->target))
		err = relp_open(&x->relp, s, s->target, syslog_defaults.label);
	else
		err = transport_open(&x->t, s, s->target, &syslog_defaults);
	if (!err && json_render_get(s->cfg))
		err = -ENOMEM;
	if (err) {
		if (x->relp)
			relp_close(x->relp);
		if (x->t.q.buf)
			transport_close(&x->t);
		free(x);
		return err;
	}
	if (gethostname(host, sizeof(host) - 1))
		host[0] = '\0';
	syslog_fmt_init(&x->f, s->cfg->syslog_format, s->cfg->syslog_cee,
			s->cfg->fields,
			x->t.kind == TRANSPORT_UDP ? SYSLOG_UDP_MAX : SYSLOG_MSG_MAX,
			host, (int)getpid(),
			!x->relp && x->t.kind == TRANSPORT_UNIX);
	s->priv = x;
	return 0;
}

static int syslog_check(const struct sink *s)
{
	if (relp_target(s->target))
		return relp_check(s->target, syslog_defaults.label);
	return transport_check(s->target, s->cfg, &syslog_defaults);
}

const struct sink_ops syslog_sink_ops = {
	.name = "syslog",
	.check = syslog_check,
	.open = syslog_open,
	.write = syslog_write,
	.write_stats = syslog_write_stats,
	.flush = syslog_flush,
	.reopen = syslog_reopen,
	.close = syslog_close,
};
