/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Messages on stderr, one line each, prefixed "hdrlog: ". */
#ifndef HDRLOG_LOG_H
#define HDRLOG_LOG_H

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

#endif
