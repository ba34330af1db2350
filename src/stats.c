// SPDX-License-Identifier: GPL-2.0-or-later
#include "stats.h"

void stats_print(const struct stats *s, FILE *f)
{
	fprintf(f, "%llu frames seen\n", (unsigned long long)s->kernel.seen);
	fprintf(f, "%llu records written\n", (unsigned long long)s->written);
	fprintf(f, "%llu records lost (ring buffer full)\n",
		(unsigned long long)s->kernel.lost);
	fprintf(f, "%llu frames not logged (sampling)\n",
		(unsigned long long)s->kernel.sampled_out);
	if (s->write_failed)
		fprintf(f, "%llu records lost (output write errors)\n",
			(unsigned long long)s->write_failed);
	if (s->undecodable)
		fprintf(f, "%llu records lost (unknown record layout)\n",
			(unsigned long long)s->undecodable);
}
