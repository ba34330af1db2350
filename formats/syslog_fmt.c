// SPDX-License-Identifier: GPL-2.0-or-later
/* Records as RFC 5424/3164 messages; see syslog_fmt.h. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "event.h"
#include "fields.h"
#include "message.h"
#include "syslog_fmt.h"

/* Bounded output: a put that does not fit marks the whole as over. */
struct out {
	char *p;
	char *end;
	bool over;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->over || (size_t)(o->end - o->p) < n) {
		o->over = true;
		return;
	}
	memcpy(o->p, s, n);
	o->p += n;
}

static bool utf8_valid(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		size_t k;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			k = 1;
		else if (c >= 0xe0 && c <= 0xef)
			k = 2;
		else if (c >= 0xf0 && c <= 0xf4)
			k = 3;
		else
			return false;
		for (size_t j = 1; j <= k; j++)
			if (i + j >= n || (s[i + j] & 0xc0) != 0x80)
				return false;
		i += k + 1;
	}
	return true;
}

/*
 * An SD-PARAM value: '"', '\' and ']' get a backslash (RFC 5424 6.3.3).
 * Control characters, which would break newline framing, and the bytes of
 * text that is not UTF-8 become '?', as in the JSON body.
 */
static void put_sd_value(struct out *o, const char *v, size_t n)
{
	bool utf8 = utf8_valid((const unsigned char *)v, n);

	for (size_t i = 0; i < n; i++) {
		unsigned char c = v[i];
		char esc[2] = { '\\', (char)c };

		if (c < 0x20 || c == 0x7f || (c >= 0x80 && !utf8))
			put(o, "?", 1);
		else if (c == '"' || c == '\\' || c == ']')
			put(o, esc, 2);
		else
			put(o, esc + 1, 1);
	}
}

/* [hdrlog@32473 name="value" ...], or "-" without fields or room. */
static size_t build_sd(const struct event *e, field_mask mask, char *buf,
		       size_t size)
{
	struct out o = { buf, buf + size, false };
	char text[FIELD_TEXT_MAX];

	mask &= e->present;
	if (!mask) {
		buf[0] = '-';
		return 1;
	}
	put(&o, "[" SYSLOG_SD_ID, sizeof(SYSLOG_SD_ID));
	while (mask) {
		enum field_id id = field_mask_pop(&mask);
		const struct field *f = &field_table[id];
		int n;

		put(&o, " ", 1);
		put(&o, f->name, f->name_len);	/* <= 32 printable ASCII */
		put(&o, "=\"", 2);
		if (f->kind == FK_NUMBER_ARRAY ||
		    f->kind == FK_FOREIGN_STRING_ARRAY) {
			for (unsigned int i = 0;
			     (n = field_text(e, id, i, text)) >= 0; i++) {
				if (i)
					put(&o, ",", 1);
				put_sd_value(&o, text, n);
			}
		} else {
			n = field_text(e, id, 0, text);
			put_sd_value(&o, text, n > 0 ? n : 0);
		}
		put(&o, "\"", 1);
	}
	put(&o, "]", 1);
	if (o.over) {
		buf[0] = '-';	/* cannot happen with bounded names */
		return 1;
	}
	return o.p - buf;
}

/* The longest prefix of s, at most n bytes, that ends on a character. */
static size_t utf8_floor(const char *s, size_t len, size_t n)
{
	if (n >= len)
		return len;
	while (n && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return n;
}

/* "<PRI>" and the time: RFC 3339 for 5424, "Mmm dd hh:mm:ss" local for 3164. */
static size_t build_head(const struct syslog_fmt *f, const struct event *e,
			 char *p)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	char *start = p;

	*p++ = '<';
	p += uint_text(SYSLOG_FACILITY * 8 + event_priority(e), p);
	*p++ = '>';
	if (f->format == SYSLOG_RFC5424) {
		*p++ = '1';
		*p++ = ' ';
		p += field_text(e, F_TIMESTAMP, 0, p);
	} else {
		time_t t = e->time_ns / 1000000000ull;
		struct tm tm;

		localtime_r(&t, &tm);
		memcpy(p, months + 3 * tm.tm_mon, 3);
		p += 3;
		p += sprintf(p, " %2d %02d:%02d:%02d", tm.tm_mday % 100,
			     tm.tm_hour % 100, tm.tm_min % 100, tm.tm_sec % 100);
	}
	return p - start;
}

size_t syslog_fmt_message(struct syslog_fmt *f, const struct event *e,
			  const char *body, size_t body_len,
			  enum syslog_framing framing, char *out, size_t size,
			  bool *cut)
{
	bool rfc5424 = f->format == SYSLOG_RFC5424;
	const char *cee = f->cee ? "@cee:" : "";
	size_t cee_len = strlen(cee);
	/* PRI and time (< 64), the tail, MSGID (<= 32) and a space */
	char head[64 + sizeof(f->tail) + 40];
	size_t head_len, sd_len = 0, fixed, len, off;
	char *m;

	*cut = false;
	if (size < f->max_msg + SYSLOG_FRAME_EXTRA)
		return 0;
	head_len = build_head(f, e, head);
	memcpy(head + head_len, f->tail, f->tail_len);
	head_len += f->tail_len;
	if (rfc5424) {
		char type[FIELD_TEXT_MAX];
		int n = event_has(e, F_EVENT_TYPE) ?
			field_text(e, F_EVENT_TYPE, 0, type) : -1;

		/* MSGID: 1*32PRINTUSASCII */
		for (int i = 0; i < n; i++)
			if (type[i] <= ' ' || type[i] >= 0x7f)
				n = -1;
		if (n <= 0 || n > 32)
			n = 1, type[0] = '-';
		memcpy(head + head_len, type, n);
		head_len += n;
		head[head_len++] = ' ';
		sd_len = build_sd(e, f->fields, f->sd, sizeof(f->sd));
	}
	if (!body || !body_len) {
		body = "{}";
		body_len = 2;
		*cut = true;
	}

	/* Too long: without the structured data, then with the JSON cut. */
	fixed = head_len + (rfc5424 ? 1 : 0) + cee_len;
	if (rfc5424 && fixed + sd_len + body_len > f->max_msg && sd_len > 1) {
		f->sd[0] = '-';
		sd_len = 1;
		*cut = true;
	}
	if (fixed + sd_len + body_len > f->max_msg) {
		body_len = utf8_floor(body, body_len,
				      f->max_msg - fixed - sd_len);
		*cut = true;
	}
	len = fixed + sd_len + body_len;

	off = 0;
	if (framing == SYSLOG_FRAME_OCTETS) {
		off = uint_text(len, out);
		out[off++] = ' ';
	}
	m = out + off;
	memcpy(m, head, head_len);
	m += head_len;
	if (rfc5424) {
		memcpy(m, f->sd, sd_len);
		m += sd_len;
		*m++ = ' ';
	}
	memcpy(m, cee, cee_len);
	m += cee_len;
	memcpy(m, body, body_len);
	m += body_len;
	if (framing == SYSLOG_FRAME_LF)
		*m++ = '\n';
	else if (framing == SYSLOG_FRAME_NUL)
		*m++ = '\0';
	return m - out;
}

void syslog_fmt_init(struct syslog_fmt *f, enum syslog_format format,
		     bool cee, field_mask fields, size_t max_msg,
		     const char *hostname, int pid, bool local)
{
	char host[256];
	size_t n;

	f->format = format;
	f->cee = cee;
	f->fields = fields;
	f->max_msg = max_msg < SYSLOG_MSG_MIN ? SYSLOG_MSG_MIN : max_msg;
	snprintf(host, sizeof(host), "%s", hostname && *hostname ? hostname : "-");
	/* HOSTNAME: 1*255PRINTUSASCII */
	for (char *p = host; *p; p++)
		if (*p <= ' ' || *p >= 0x7f)
			*p = '-';
	if (format == SYSLOG_RFC5424) {
		snprintf(f->tail, sizeof(f->tail), " %s hdrlog %d ", host, pid);
	} else if (local) {
		snprintf(f->tail, sizeof(f->tail), " hdrlog[%d]: ", pid);
	} else {
		/* RFC 3164 4.1.2: the host name without the domain. */
		n = strcspn(host, ".");
		if (inet_addr(host) == INADDR_NONE)
			host[n] = '\0';
		if (!host[0])
			strcpy(host, "-");
		snprintf(f->tail, sizeof(f->tail), " %s hdrlog[%d]: ", host, pid);
	}
	f->tail_len = strlen(f->tail);
}
