#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Install what building hdrlog and running its tests need (Debian 12).
# libclang-rt-14-dev: clang's sanitizer and libFuzzer runtimes (make fuzz).
# logrotate, strace: test_install.py runs the shipped logrotate snippet and
# checks the units' system call filter against what hdrlog calls.
# kcat: test_kafka.py reads the Kafka output back with it.
# libgnutls28-dev: syslog over TLS; gnutls-bin (certtool) and
# rsyslog-gnutls: test_syslog_tls.py's certificates and TLS receiver.
# librelp-dev: the RELP syslog output; rsyslog-relp: imrelp, its tests' receiver.
# nfdump: nfcapd, test_ipfix.py's IPFIX collector, and nfdump to read it back.
set -e
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
	autoconf automake make gcc pkg-config \
	clang llvm libclang-rt-14-dev bpftool libbpf-dev libelf-dev zlib1g-dev \
	libyajl-dev libsystemd-dev libpcap-dev libcmocka-dev librdkafka-dev librelp-dev \
	libgnutls28-dev gnutls-bin rsyslog-gnutls \
	iproute2 iputils-ping util-linux \
	python3 python3-scapy python3-prometheus-client tshark tcpdump xdp-tools \
	logrotate strace kcat nfdump \
	rsyslog rsyslog-relp systemd qemu-system-x86 busybox-static cpio >/dev/null
