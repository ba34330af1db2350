// SPDX-License-Identifier: GPL-2.0-or-later
/* Output registry: "-o NAME[:TARGET]" to the sink that writes it. */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sink.h"

extern const struct sink_ops json_sink_ops, pcap_sink_ops, pcapng_sink_ops,
	journal_sink_ops, syslog_sink_ops;

static const struct sink_ops *const sink_types[] = {
	&json_sink_ops,
	&pcap_sink_ops,
	&pcapng_sink_ops,
	&journal_sink_ops,
	&syslog_sink_ops,
};

struct sink *sink_create(const char *spec, const struct sink_config *cfg)
{
	size_t n = strcspn(spec, ":");
	struct sink *s;

	for (size_t i = 0; i < sizeof(sink_types) / sizeof(sink_types[0]); i++) {
		const struct sink_ops *ops = sink_types[i];

		if (strlen(ops->name) != n || strncmp(ops->name, spec, n))
			continue;
		s = calloc(1, sizeof(*s));
		if (!s)
			return NULL;
		s->ops = ops;
		s->target = spec[n] ? spec + n + 1 : "";
		s->cfg = cfg;
		if (ops->open(s)) {
			free(s);
			return NULL;
		}
		return s;
	}
	pr_err("unknown output '%.*s' (known: json, pcap, pcapng, journal, syslog)",
	       (int)n, spec);
	return NULL;
}

void sink_destroy(struct sink *s)
{
	if (!s)
		return;
	s->ops->close(s);
	free(s);
}
