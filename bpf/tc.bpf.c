// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * The tc entry points: egress always, ingress when --attach-ingress
 * chooses tc over XDP. The same body as XDP's (packet.bpf.h); attached
 * through tcx links where the kernel has them (6.6 and later), else as
 * clsact filters (src/loader.c). SEC("tc"): libbpf 1.1 knows no "tcx/"
 * sections, and a sched_cls program attaches both ways.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include "packet.bpf.h"

/*
 * The parser reads through direct packet access, which covers only the
 * skb's linear part. A locally built TCP skb has its headers there, but
 * a GRO'd or paged one may not; pull up to this many bytes (more than
 * the deepest header chain the parser follows) when the linear part is
 * shorter than both this and the frame.
 */
#define TC_PULL_BYTES	256

static __always_inline int tc_frame(struct __sk_buff *skb, __u8 dir)
{
	__u32 want = skb->len < TC_PULL_BYTES ? skb->len : TC_PULL_BYTES;

	if (skb->data_end - skb->data < want)
		bpf_skb_pull_data(skb, want);
	/*
	 * Read after the pull, branch-free: nothing the test above narrowed
	 * lives on, so the verifier's two paths join here instead of each
	 * running through the whole body (and each of those twice again for
	 * the tag), which took it past its limit with lists and frame bytes.
	 */
	asm volatile("" ::: "memory");
	struct frame_info fi = {
		/* on the wire, an offloaded VLAN tag too (add_offloaded_tag()) */
		.len = skb->len + ((skb->vlan_present & 1) << 2),
		.ifindex = skb->ifindex,
		.dir = dir,
	};

	return handle_frame(skb, HOOK_TC, &fi) == XDP_DROP ? TC_ACT_SHOT :
							   TC_ACT_OK;
}

SEC("tc")
int hdrlog_tc_ingress(struct __sk_buff *skb)
{
	return tc_frame(skb, HDRLOG_DIR_INBOUND);
}

SEC("tc")
int hdrlog_tc_egress(struct __sk_buff *skb)
{
	return tc_frame(skb, HDRLOG_DIR_OUTBOUND);
}
