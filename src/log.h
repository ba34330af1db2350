/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Messages on stderr, one line each, prefixed "hdrlog: ". */
#ifndef HDRLOG_LOG_H
#define HDRLOG_LOG_H

#include <stddef.h>

enum log_level {
	LOG_QUIET,	/* -q: errors and warnings only */
	LOG_NORMAL,
	LOG_VERBOSE,	/* -v: also debug detail and libbpf's own output */
};

extern enum log_level log_level;

void pr_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pr_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pr_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void pr_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Bytes hdrlog did not make (list lines, paths and interface names from
 * the command line) made safe to print: a terminal must not see ESC, and
 * a NUL must not hide what follows it. Printable ASCII is kept, except
 * that a backslash is doubled; every other byte is written \xNN. At most
 * size bytes are written, the NUL included; text that does not fit is cut
 * after a whole character and ends in "...". Returns out, to be printed
 * with "%s".
 */
const char *log_escape(char *out, size_t size, const void *text, size_t len);

/* A log_escape() buffer that holds n bytes of any text in full. */
#define LOG_ESCAPE_SIZE(n)	(4 * (n) + 1)

#endif
