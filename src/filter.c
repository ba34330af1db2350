// SPDX-License-Identifier: GPL-2.0-or-later
#include <stdlib.h>
#include <string.h>

#include <pcap/pcap.h>

#include "event.h"
#include "filter.h"
#include "log.h"

int filter_compile(struct filter *f, const char *expr, uint32_t snaplen)
{
	struct bpf_program *prog;
	pcap_t *p;
	int err;

	f->prog = NULL;
	if (!*expr)
		return 0;
	prog = calloc(1, sizeof(*prog));
	p = pcap_open_dead(DLT_EN10MB, snaplen);
	if (!prog || !p) {
		pr_err("cannot set up the filter expression");
		free(prog);
		if (p)
			pcap_close(p);
		return -1;
	}
	err = pcap_compile(p, prog, expr, 1, PCAP_NETMASK_UNKNOWN);
	if (err) {
		pr_err("bad filter expression '%s': %s", expr, pcap_geterr(p));
		free(prog);
	} else {
		f->prog = prog;
	}
	pcap_close(p);
	return err ? -1 : 0;
}

bool filter_match(const struct filter *f, const struct event *e)
{
	const struct bpf_program *prog = f->prog;

	if (!prog)
		return true;
	/* A filter past the captured bytes does not match, as in libpcap. */
	return e->data && bpf_filter(prog->bf_insns, e->data, e->pkt_len,
				     e->cap_len);
}

void filter_free(struct filter *f)
{
	if (f->prog) {
		pcap_freecode(f->prog);
		free(f->prog);
	}
	f->prog = NULL;
}
