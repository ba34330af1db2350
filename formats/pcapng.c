// SPDX-License-Identifier: GPL-2.0-or-later
/* Placeholder while the pcapng output is being written. */
#include <errno.h>

#include "log.h"
#include "sink.h"

static int pcapng_open(struct sink *s)
{
	pr_err("the pcapng output is not ready yet (%s)", s->target);
	return -ENOSYS;
}

const struct sink_ops pcapng_sink_ops = {
	.name = "pcapng",
	.open = pcapng_open,
};
