// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * XDP header capture: parse each ingress frame, put the selected header
 * fields into the ring buffer, and always pass the frame on.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "parse.h"

/* Set by userspace before load. */
const volatile __u32 sample_every = 1;	/* log 1 in N frames */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);	/* resized from --ringbuf-size */
} records SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct hdrlog_counters);
} counters SEC(".maps");

static __always_inline void parse_frame(struct xdp_md *ctx,
					struct hdrlog_record *r)
{
	struct cursor c = {
		.pos = (void *)(long)ctx->data,
		.end = (void *)(long)ctx->data_end,
	};
	__be16 eth_proto;
	int proto;

	if (parse_eth(&c, r, &eth_proto) < 0)
		goto truncated;
	if (eth_proto == bpf_htons(ETH_P_IP))
		proto = parse_ipv4(&c, r);
	else if (eth_proto == bpf_htons(ETH_P_IPV6))
		proto = parse_ipv6(&c, r);
	else
		return;
	if (proto < 0)
		goto truncated;
	/* Only a first fragment carries the transport header. */
	if (proto == 0 || r->frag_off)
		return;
	if (parse_l4(&c, r, proto) < 0)
		goto truncated;
	return;
truncated:
	r->flags |= HDRLOG_RF_TRUNCATED;
}

SEC("xdp")
int hdrlog_xdp(struct xdp_md *ctx)
{
	struct hdrlog_counters *cnt;
	struct hdrlog_record *r;
	__u32 key = 0;

	cnt = bpf_map_lookup_elem(&counters, &key);
	if (!cnt)
		return XDP_PASS;
	cnt->seen++;
	if (sample_every > 1 && cnt->seen % sample_every) {
		cnt->sampled_out++;
		return XDP_PASS;
	}

	r = bpf_ringbuf_reserve(&records, sizeof(*r), 0);
	if (!r) {
		cnt->lost++;
		return XDP_PASS;
	}
	__builtin_memset(r, 0, sizeof(*r));
	r->version = HDRLOG_RECORD_VERSION;
	r->kind = HDRLOG_REC_PACKET;
	r->ifindex = ctx->ingress_ifindex;
	r->ts_ns = bpf_ktime_get_ns();
	r->pkt_len = ctx->data_end - ctx->data;
	parse_frame(ctx, r);
	bpf_ringbuf_submit(r, 0);
	cnt->logged++;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
