// SPDX-License-Identifier: GPL-2.0-or-later
/* Placeholder while the pcap output is being written. */
#include <errno.h>

#include "log.h"
#include "sink.h"

static int pcap_open(struct sink *s)
{
	pr_err("the pcap output is not ready yet (%s)", s->target);
	return -ENOSYS;
}

const struct sink_ops pcap_sink_ops = {
	.name = "pcap",
	.open = pcap_open,
};
