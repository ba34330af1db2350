#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# /init of the test VM (tests/vm/run.sh builds the initramfs). Runs as PID 1
# under busybox sh, prints TAP on the console (ttyS0), then
#   1..N
#   HDRLOG-VM-DONE tests=N failed=M
# and powers off. run.sh checks the TAP. Lines starting with '#' are
# diagnostics; '# attach-method: ...' lines are collected by run.sh.
#
# Addresses: 198.51.100.1/24 (namespace hva, veth va) and 198.51.100.2/24
# (namespace hvb, veth vb); nothing else.

export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export LD_LIBRARY_PATH=/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu:/lib64
export HOME=/ TERM=dumb
umask 022

A=hva B=hvb            # namespaces
VA=va VB=vb            # their veth ends
IPA=198.51.100.1 IPB=198.51.100.2
MACA=02:00:5e:00:53:0a MACB=02:00:5e:00:53:0b

T=0 FAILED=0
ok()      { T=$((T + 1)); echo "ok $T - $*"; }
not_ok()  { T=$((T + 1)); FAILED=$((FAILED + 1)); echo "not ok $T - $*"; }
skip()    { T=$((T + 1)); echo "ok $T - $1 # SKIP $2"; }
check()   { # check NAME COMMAND...: one test, passing if COMMAND succeeds
	_name=$1; shift
	if "$@"; then ok "$_name"; else not_ok "$_name"; fi
}
diag()    { sed 's/^/# /'; }       # stdin to TAP comments
# busybox sh runs its own applets before PATH: iproute2's ip by its path
ip()      { /usr/sbin/ip "$@"; }
in_a()    { nsenter --net=/run/netns/$A "$@"; }
in_b()    { nsenter --net=/run/netns/$B "$@"; }

finish() {
	echo "1..$T"
	if [ "$FAILED" -gt 0 ]; then
		echo "# kernel log (tail):"
		dmesg | tail -40 | diag
	fi
	echo "HDRLOG-VM-DONE tests=$T failed=$FAILED"
	sync
	poweroff -f
	echo o >/proc/sysrq-trigger
	sleep 5
}

# wait_for FILE REGEX SECONDS [PID]: until FILE has a line matching REGEX;
# gives up early if PID exits
wait_for() {
	_n=$(($3 * 10))
	while [ "$_n" -gt 0 ]; do
		grep -q "$2" "$1" 2>/dev/null && return 0
		[ -n "$4" ] && ! kill -0 "$4" 2>/dev/null && break
		sleep 0.1; _n=$((_n - 1))
	done
	grep -q "$2" "$1" 2>/dev/null
}

# wait_pid PID SECONDS: wait for a background job, killing it after SECONDS;
# sets RC to its exit status (or 124 if it had to be killed)
wait_pid() {
	_n=$(($2 * 10))
	while [ "$_n" -gt 0 ] && kill -0 "$1" 2>/dev/null; do
		sleep 0.1; _n=$((_n - 1))
	done
	if kill -0 "$1" 2>/dev/null; then
		kill -INT "$1"; sleep 1; kill -KILL "$1" 2>/dev/null
		wait "$1"; RC=124
	else
		wait "$1"; RC=$?
	fi
}

# --- bring-up -------------------------------------------------------------
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
mount -t bpf bpf /sys/fs/bpf
mount -t tracefs tracefs /sys/kernel/tracing
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
dmesg -n 1                      # keep printk off the TAP lines
ip link set lo up
hostname hdrlog-vm

want_kver=$(sed -n 's/.*hdrlog\.kver=\([^ ]*\).*/\1/p' /proc/cmdline)
kver=$(uname -r)
echo "# kernel: $kver ($(uname -v))"
echo "# hdrlog: $(hdrlog --version 2>&1 | head -1)"

# --- kernel facts ----------------------------------------------------------
check "kernel $kver is the one run.sh asked for (${want_kver:-?})" \
	[ -z "$want_kver" -o "$kver" = "$want_kver" ]
check "BTF: /sys/kernel/btf/vmlinux exists" [ -r /sys/kernel/btf/vmlinux ]
# What fentry/kprobe/tracepoint attachment needs; diagnostics for now (no
# 'hdrlog --features' yet). fentry: BTF plus ftrace direct calls;
# kprobe: the kprobe PMU (or kprobe_events); tracepoint: tracefs events.
yn() { if "$@"; then echo yes; else echo no; fi; }
echo "# feature: btf=$(yn [ -r /sys/kernel/btf/vmlinux ])" \
	"ftrace=$(yn [ -r /sys/kernel/tracing/available_filter_functions ])" \
	"kprobe_pmu=$(yn [ -r /sys/bus/event_source/devices/kprobe/type ])" \
	"kprobe_events=$(yn [ -w /sys/kernel/tracing/kprobe_events ])" \
	"tracepoints=$(yn [ -d /sys/kernel/tracing/events/sock ])" \
	"jit=$(cat /proc/sys/net/core/bpf_jit_enable 2>/dev/null)"

# --- veth module and two namespaces ---------------------------------------
modok=true
while read -r m; do
	[ -n "$m" ] || continue
	insmod "/modules/$m.ko" 2>&1 | diag
	grep -q "^$m " /proc/modules || modok=false
done </modules/order
check "veth module loaded ($(tr '\n' ' ' </modules/order | sed 's/ $//'))" $modok

netup() {
	ip netns add $A && ip netns add $B || return 1
	for ns in $A $B; do
		# no IPv6: the only frames on the wire are the ones we send
		nsenter --net=/run/netns/$ns sh -c '
			sysctl -qw net.ipv6.conf.all.disable_ipv6=1
			sysctl -qw net.ipv6.conf.default.disable_ipv6=1' || return 1
	done
	ip link add $VA netns $A address $MACA type veth \
		peer name $VB netns $B address $MACB || return 1
	ip -n $A addr add $IPA/24 dev $VA || return 1
	ip -n $B addr add $IPB/24 dev $VB || return 1
	# static neighbours: no ARP either
	ip -n $A neigh add $IPB lladdr $MACB dev $VA nud permanent || return 1
	ip -n $B neigh add $IPA lladdr $MACA dev $VB nud permanent || return 1
	ip -n $A link set lo up && ip -n $B link set lo up &&
	ip -n $A link set $VA up && ip -n $B link set $VB up || return 1
	in_b ping -c 1 -W 5 $IPA >/dev/null
}
if netup 2>/tmp/netup.err; then
	ok "namespaces $A ($IPA) and $B ($IPB) joined by veth $VA-$VB"
	NET=1
else
	diag </tmp/netup.err
	not_ok "namespaces $A ($IPA) and $B ($IPB) joined by veth $VA-$VB"
	NET=
fi

# --- packet capture: XDP on va, pings from hvb ------------------------------
xdp_on() { ip -n $A link show $VA | grep -q 'prog/xdp'; }
CAPTURE_TESTS=5                 # results capture_test prints
capture_skip() {                # capture_skip COUNT REASON
	_i=0
	while [ $_i -lt "$1" ]; do
		_i=$((_i + 1)); skip "packet capture ($_i/$1)" "$2"
	done
}
capture_test() {
	n=5
	rm -f /tmp/x.json /tmp/x.err
	in_a hdrlog -i $VA -o json:/tmp/x.json -c $n 2>/tmp/x.err &
	pid=$!
	if wait_for /tmp/x.err 'listening on' 60 $pid && xdp_on; then
		ok "hdrlog attaches XDP to $VA ($(grep -o 'listening on.*' /tmp/x.err))"
	else
		diag </tmp/x.err
		not_ok "hdrlog attaches XDP to $VA"
		kill -KILL $pid 2>/dev/null; wait $pid
		capture_skip 4 "hdrlog did not attach"
		return
	fi
	in_b ping -c $n -i 0.2 -W 5 $IPA 2>&1 | tail -2 | diag
	wait_pid $pid 30
	if [ "$RC" = 0 ]; then
		ok "hdrlog -c $n exits 0 after $n pings"
	else
		diag </tmp/x.err
		not_ok "hdrlog -c $n exits 0 after $n pings (status $RC)"
	fi
	check "hdrlog's summary says $n records written" \
		grep -q "^ *$n records written" /tmp/x.err
	lines=$(grep -c . /tmp/x.json 2>/dev/null)
	match=$(grep '"proto":"ICMP"' /tmp/x.json 2>/dev/null |
		grep "\"src_ip\":\"$IPB\"" | grep "\"dest_ip\":\"$IPA\"" |
		grep '"icmp_type":8,' | grep "\"in_iface\":\"$VA\"" |
		grep "\"src_mac\":\"$MACB\"" | grep -c '"event_type":"packet"')
	if [ "$lines" = "$n" ] && [ "$match" = "$n" ]; then
		ok "JSON: $n ICMP echo requests $IPB -> $IPA on $VA"
	else
		echo "# $lines records, $match matching:"
		head -5 /tmp/x.json 2>/dev/null | diag
		not_ok "JSON: $n ICMP echo requests $IPB -> $IPA on $VA"
	fi
	if xdp_on; then
		ip -n $A link show $VA | diag
		not_ok "XDP program detached after exit"
	else
		ok "XDP program detached after exit"
	fi
}
if [ -n "$NET" ]; then
	capture_test
else
	capture_skip $CAPTURE_TESTS "no network namespaces"
fi

# ==========================================================================
# SOCKET-EVENT TEST CASES: add them here.
#
# Every function named in SOCKET_CASES runs once per attach method in
# ATTACH_METHODS, as
#	CASE METHOD
# with the namespaces above up. It runs hdrlog with "--attach METHOD" (in
# $A, say: in_a hdrlog --attach METHOD ...), makes the traffic (from $B),
# checks the records, prints diagnostics to stdout (they become '#' lines),
# writes the attach method hdrlog reports it used to $SOCK_USED, and returns
#	0 pass, 77 skip, anything else fail.
# run_socket_case prints one TAP line per case and method, and an
# '# attach-method:' line that run.sh lists in its summary.
#
# Example (to adapt once hdrlog has socket events):
#	sock_tcp_connect() {
#		in_a hdrlog --attach "$1" -o json:/tmp/s.json -c 2 ... 2>/tmp/s.err &
#		...; in_b nc -w 2 $IPA 8080 </dev/null; ...
#		sed -n 's/.*attached via \([a-z]*\).*/\1/p' /tmp/s.err >"$SOCK_USED"
#		grep -q '"event_type":"socket"' /tmp/s.json
#	}
SOCKET_CASES=""                 # e.g. "sock_tcp_connect sock_udp_bind"
ATTACH_METHODS="fentry kprobe tracepoint"
# ==========================================================================

SOCK_USED=/tmp/sock_used
run_socket_case() {     # run_socket_case METHOD
	method=$1
	if [ -z "$SOCKET_CASES" ]; then
		skip "socket events via $method" "not implemented yet"
		echo "# attach-method: socket events: requested=$method used=- result=skip"
		return
	fi
	for c in $SOCKET_CASES; do
		name="socket events via $method: $c"
		if [ -z "$NET" ]; then
			skip "$name" "no network namespaces"
			echo "# attach-method: $c: requested=$method used=- result=skip"
			continue
		fi
		: >"$SOCK_USED"
		out=$("$c" "$method" 2>&1); rc=$?
		[ -n "$out" ] && printf '%s\n' "$out" | diag
		used=$(head -1 "$SOCK_USED"); used=${used:-?}
		case $rc in
		0)  ok "$name"; res=ok ;;
		77) skip "$name" "case skipped"; res=skip ;;
		*)  not_ok "$name (status $rc)"; res=FAIL ;;
		esac
		echo "# attach-method: $c: requested=$method used=$used result=$res"
	done
}
for m in $ATTACH_METHODS; do
	run_socket_case "$m"
done

finish
