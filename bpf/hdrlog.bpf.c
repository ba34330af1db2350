// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * hdrlog's BPF object: the packet programs (xdp.bpf.c, tc.bpf.c, one
 * body in packet.bpf.h) and the socket programs (socket.bpf.c), built as one object so that one skeleton
 * loads them at once and they share the ring buffer, the counters
 * (maps.h) and the list tables (lists.bpf.h).
 *
 * One translation unit, not two objects joined by bpftool's static
 * linker: the shared maps and settings are defined once, in the headers
 * that say what they hold, with no extern declarations to keep in step.
 * Each program file includes everything it uses and compiles alone; the
 * build checks that (Makefile.am), so neither leans on the other.
 */
#include "xdp.bpf.c"
#include "tc.bpf.c"
#include "socket.bpf.c"

char LICENSE[] SEC("license") = "GPL";
