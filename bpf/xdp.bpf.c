// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The XDP entry point: ingress frames, before the kernel allocates an
 * skb. The body is packet.bpf.h's, shared with the tc programs.
 *
 * Built as part of hdrlog.bpf.c, with the socket programs: one object,
 * whose maps both share.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "packet.bpf.h"

/*
 * xdp.frags: frames longer than a page (a jumbo MTU) reach the program
 * too, so -s 0 can capture them whole; the headers are always in the
 * first buffer, which is what data..data_end covers.
 */
SEC("xdp.frags")
int hdrlog_xdp(struct xdp_md *ctx)
{
	struct frame_info fi = {
		/* Not data_end - data: that is the first buffer only. */
		.len = bpf_xdp_get_buff_len(ctx),
		.ifindex = ctx->ingress_ifindex,
		.dir = HDRLOG_DIR_INBOUND,
	};

	return handle_frame(ctx, HOOK_XDP, &fi);
}
