#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Install what building hdrlog and running its tests need (Debian 12).
# libclang-rt-14-dev: clang's sanitizer and libFuzzer runtimes (make fuzz).
# logrotate, strace: test_install.py runs the shipped logrotate snippet and
# checks the units' system call filter against what hdrlog calls.
# librelp-dev: the RELP syslog output; rsyslog-relp: imrelp, its tests' receiver.
set -e
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
	autoconf automake make gcc pkg-config \
	clang llvm libclang-rt-14-dev bpftool libbpf-dev libelf-dev zlib1g-dev \
	libyajl-dev libsystemd-dev libpcap-dev libcmocka-dev librelp-dev \
	iproute2 iputils-ping util-linux \
	python3 python3-scapy tshark tcpdump xdp-tools \
	logrotate strace \
	rsyslog rsyslog-relp systemd qemu-system-x86 busybox-static cpio >/dev/null
