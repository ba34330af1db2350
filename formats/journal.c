// SPDX-License-Identifier: GPL-2.0-or-later
/* Placeholder while the journal output is being written. */
#include <errno.h>

#include "log.h"
#include "sink.h"

static int journal_open(struct sink *s)
{
	pr_err("the journal output is not ready yet (%s)", s->target);
	return -ENOSYS;
}

const struct sink_ops journal_sink_ops = {
	.name = "journal",
	.open = journal_open,
};
