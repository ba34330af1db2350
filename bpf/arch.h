/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * What the socket programs' tracepoint path must know of the CPU: the
 * syscall numbers (from the UAPI headers of the architecture built for,
 * which configure puts on the include path) and where a syscall's first
 * argument and number sit in the kernel's struct pt_regs.
 *
 * The registers are read with CO-RE, by their kernel names. libbpf's
 * PT_REGS_PARM1_CORE_SYSCALL does that on arm64, but on x86 without a
 * vmlinux.h it asks for the UAPI names (rdi), which the kernel's BTF
 * does not have; and no libbpf macro reads the syscall number.
 * configure accepts only the architectures below.
 */
#ifndef HDRLOG_ARCH_H
#define HDRLOG_ARCH_H

#include <linux/bpf.h>
#include <asm/unistd.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include "core.h"

#if defined(__TARGET_ARCH_x86)
struct pt_regs___hdrlog {
	unsigned long di;
	unsigned long orig_ax;
} __core;
#define SYSCALL_ARG1	di
#define SYSCALL_NR	orig_ax
#elif defined(__TARGET_ARCH_arm64)
struct pt_regs___hdrlog {
	__u64 orig_x0;		/* x0 is overwritten by the return value */
	__s32 syscallno;
} __core;
#define SYSCALL_ARG1	orig_x0
#define SYSCALL_NR	syscallno
#else
#error "socket events know the syscalls of x86_64 and arm64 only: build with -D__TARGET_ARCH_x86 or -D__TARGET_ARCH_arm64"
#endif

/* A syscall's first argument, from sys_enter's or sys_exit's regs. */
static __always_inline long syscall_arg1(const void *regs)
{
	return BPF_CORE_READ((const struct pt_regs___hdrlog *)regs,
			     SYSCALL_ARG1);
}

/* The syscall's number, also at sys_exit, which does not pass it. */
static __always_inline long syscall_nr(const void *regs)
{
	return BPF_CORE_READ((const struct pt_regs___hdrlog *)regs, SYSCALL_NR);
}

#endif
