// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Tiny programs that tell what this kernel allows: hdrlog really loads
 * and attaches one to choose how socket events are caught, since BTF
 * alone does not say whether fentry or kprobes work.
 */
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

SEC("fentry/tcp_set_state")
int BPF_PROG(probe_fentry)
{
	return 0;
}

SEC("kprobe/tcp_set_state")
int BPF_KPROBE(probe_kprobe)
{
	return 0;
}

SEC("raw_tracepoint/inet_sock_set_state")
int probe_tracepoint(struct bpf_raw_tracepoint_args *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
