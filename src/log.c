// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdarg.h>
#include <stdio.h>

#include "log.h"

enum log_level log_level = LOG_NORMAL;

static void vlog(const char *prefix, const char *fmt, va_list ap)
{
	fprintf(stderr, "hdrlog: %s", prefix);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
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
