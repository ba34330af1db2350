// SPDX-License-Identifier: GPL-2.0-or-later
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

enum log_level log_level = LOG_NORMAL;

/*
 * errno is kept: a caller may print a note between a failing call and
 * its strerror(errno), and a failed write to stderr (a full disk, a
 * closed pipe) must not turn that into ENOSPC or EPIPE.
 */
static void vlog(const char *prefix, const char *fmt, va_list ap)
{
	int saved = errno;

	fprintf(stderr, "hdrlog: %s", prefix);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	errno = saved;
}

#define DEFINE_LOG(fn, min, prefix)			\
void fn(const char *fmt, ...)				\
{							\
	va_list ap;					\
							\
	if (log_level < (min))				\
		return;					\
	va_start(ap, fmt);				\
	vlog(prefix, fmt, ap);				\
	va_end(ap);					\
}

DEFINE_LOG(pr_err, LOG_QUIET, "")
DEFINE_LOG(pr_warn, LOG_QUIET, "warning: ")
DEFINE_LOG(pr_info, LOG_NORMAL, "")
DEFINE_LOG(pr_debug, LOG_VERBOSE, "")

const char *log_escape(char *out, size_t size, const void *text, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *t = text;
	size_t o = 0, cut = 0, i;

	if (!size)
		return out;
	for (i = 0; i < len; i++) {
		unsigned char c = t[i];
		char e[4];
		size_t k = 0;

		if (c == '\\') {
			e[k++] = '\\';
			e[k++] = '\\';
		} else if (c >= 0x20 && c < 0x7f) {
			e[k++] = c;
		} else {
			e[k++] = '\\';
			e[k++] = 'x';
			e[k++] = hex[c >> 4];
			e[k++] = hex[c & 15];
		}
		if (o + k > size - 1)
			break;
		memcpy(out + o, e, k);
		o += k;
		/* the last place "..." still fits after, should the rest not */
		if (o + 3 <= size - 1)
			cut = o;
	}
	/* cut: "..." after the last character it fits after, if it fits */
	if (i < len && size - 1 >= 3) {
		memcpy(out + cut, "...", 3);
		o = cut + 3;
	}
	out[o] = '\0';
	return out;
}
