// SPDX-License-Identifier: GPL-2.0-or-later
/* Output registry: "-o NAME[:TARGET]" to the sink that writes it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
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

const struct sink_ops *sink_type(const char *spec)
{
	size_t n = strcspn(spec, ":");

	for (size_t i = 0; i < sizeof(sink_types) / sizeof(sink_types[0]); i++) {
		const struct sink_ops *ops = sink_types[i];

		if (strlen(ops->name) == n && !strncmp(ops->name, spec, n))
			return ops;
	}
	pr_err("unknown output '%.*s' (known: json, pcap, pcapng, journal, syslog)",
	       (int)n, spec);
	return NULL;
}

struct sink *sink_create(const char *spec, const struct sink_config *cfg)
{
	const struct sink_ops *ops = sink_type(spec);
	struct sink *s;
	int err;

	if (!ops) {
		errno = EINVAL;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		pr_err("out of memory");
		return NULL;
	}
	s->ops = ops;
	s->target = spec[strlen(ops->name)] ? spec + strlen(ops->name) + 1 : "";
	s->cfg = cfg;
	err = ops->open(s);
	if (err) {
		free(s);
		errno = -err;
		return NULL;
	}
	return s;
}

void sink_close(struct sink *s)
{
	if (s && s->priv) {
		s->ops->close(s);
		s->priv = NULL;
	}
}

void sink_destroy(struct sink *s)
{
	sink_close(s);
	free(s);
}

#define HEALED_NS 1000000000ull

void sink_write_failed(struct sink *s, const char *what, int err)
{
	if (!s->write_failing)
		pr_err("writing %s failed: %s; counting lost records until it works again",
		       what, strerror(err));
	s->write_failing = true;
	s->write_worked = false;
	s->last_fail_ns = clock_mono_ns();
}

void sink_write_worked(struct sink *s, const char *what, bool wrote)
{
	if (!s->write_failing)
		return;
	s->write_worked |= wrote;
	if (s->write_worked && clock_mono_ns() - s->last_fail_ns >= HEALED_NS) {
		pr_info("writing %s works again", what);
		s->write_failing = false;
	}
}
