// SPDX-License-Identifier: GPL-2.0-or-later
/* Placeholder while the syslog output is being written. */
#include <errno.h>

#include "log.h"
#include "sink.h"

static int syslog_open(struct sink *s)
{
	pr_err("the syslog output is not ready yet (%s)", s->target);
	return -ENOSYS;
}

const struct sink_ops syslog_sink_ops = {
	.name = "syslog",
	.open = syslog_open,
};
