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
# (namespace hvb, veth vb); from the first IPv6 socket-event case on, also
# 2001:db8::1/64 and 2001:db8::2/64 on the same veths.

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
tc()      { /usr/sbin/tc "$@"; }
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
check "modules loaded ($(tr '\n' ' ' </modules/order | sed 's/ $//'))" $modok

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
	# nsenter itself, not the in_a function: $! must be hdrlog, not a
	# subshell that would take the signals wait_pid sends
	# XDP asked for: on a veth, --attach-ingress auto takes tc
	nsenter --net=/run/netns/$A hdrlog -i $VA --attach-ingress xdp \
		-o json:/tmp/x.json -c $n >/dev/null 2>/tmp/x.err &
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

# --- --respond on this kernel's verifier: a ping flood gets blocked --------
respond_test() {
	printf '[policy pings]\ndetector = packet-rate\nthreshold = 20/s\naction = block\nttl = 60s\n' >/tmp/r.conf
	rm -f /tmp/r.json /tmp/r.err
	nsenter --net=/run/netns/$A hdrlog -i $VA --attach-ingress xdp \
		--respond /tmp/r.conf -o json:/tmp/r.json >/dev/null 2>/tmp/r.err &
	pid=$!
	if ! wait_for /tmp/r.err 'listening on' 60 $pid; then
		diag </tmp/r.err
		not_ok "--respond loads (XDP) on this kernel"
		kill -KILL $pid 2>/dev/null; wait $pid
		return
	fi
	in_b ping -c 100 -i 0.01 -W 1 $IPA >/dev/null 2>&1
	kill -INT $pid; wait_pid $pid 30
	if grep -q '"event_type":"block"' /tmp/r.json &&
	   grep -q '^policy pings: 1 alerts, 1 blocks, 1 unblocks, [1-9]' /tmp/r.err; then
		ok "--respond (XDP): a ping flood is blocked and dropped"
	else
		diag </tmp/r.err
		grep -v '"packet"' /tmp/r.json | diag
		not_ok "--respond (XDP): a ping flood is blocked and dropped"
	fi
}
if [ -n "$NET" ]; then
	respond_test
else
	skip "--respond (XDP)" "no network namespaces"
fi

# --- tc without tcx (6.1): clsact filters of hdrlog's own ------------------
# Both directions through tc: pings from $B arrive (echo requests, in) and
# their replies leave (out). A killed hdrlog leaves its filters (a filter,
# unlike a tcx link, outlives its process); the next start removes them
# and says so; a clean exit removes them.
tc_filters() { # how many of hdrlog's filters $VA has (tc shows 15 bytes of a name)
	{ tc -n $A filter show dev $VA ingress; tc -n $A filter show dev $VA egress; } \
		>/tmp/tc.show 2>&1
	grep -c 'handle 0x4844 hdrlog_tc_' /tmp/tc.show
}
tc_start() {    # tc_start: hdrlog --direction both --attach-ingress tc; $pid
	rm -f /tmp/t.json /tmp/t.err
	nsenter --net=/run/netns/$A hdrlog -i $VA --direction both \
		--attach-ingress tc -o json:/tmp/t.json >/dev/null 2>/tmp/t.err &
	pid=$!
	wait_for /tmp/t.err 'listening on' 60 $pid
}
tc_test() {
	if ! tc_start; then
		diag </tmp/t.err
		not_ok "hdrlog --direction both --attach-ingress tc starts"
		kill -KILL $pid 2>/dev/null; wait $pid
		return
	fi
	check "start-up line: in and out through tc clsact ($(grep -o 'listening on.*' /tmp/t.err))" \
		grep -q "listening on $VA (in: tc clsact, out: tc clsact)" /tmp/t.err
	check "--features: tc attaches through clsact filters" \
		sh -c 'hdrlog --features | grep -q "^tc attaches through: clsact"'
	check "two clsact filters of hdrlog's on $VA ($(tc_filters))" [ "$(tc_filters)" = 2 ]
	diag </tmp/tc.show
	in_b ping -c 3 -i 0.2 -W 5 $IPA 2>&1 | tail -1 | diag
	_n=100      # until the third reply's record is written
	while [ $_n -gt 0 ] && [ "$(grep -c '"icmp_type":0,' /tmp/t.json 2>/dev/null)" -lt 3 ]; do
		sleep 0.1; _n=$((_n - 1))
	done
	_in=$(grep -F "\"in_iface\":\"$VA\"" /tmp/t.json | grep -F '"direction":"in"' |
		grep -F "\"src_ip\":\"$IPB\"" | grep -c -F '"icmp_type":8,')
	_out=$(grep -F "\"out_iface\":\"$VA\"" /tmp/t.json | grep -F '"direction":"out"' |
		grep -F "\"src_ip\":\"$IPA\"" | grep -c -F '"icmp_type":0,')
	if [ "$_in" = 3 ] && [ "$_out" = 3 ]; then
		ok "3 echo requests in and 3 replies out on $VA through clsact"
	else
		diag </tmp/t.json
		not_ok "3 echo requests in and 3 replies out on $VA through clsact ($_in in, $_out out)"
	fi
	kill -KILL $pid; wait $pid 2>/dev/null
	check "a killed hdrlog leaves its 2 filters ($(tc_filters))" [ "$(tc_filters)" = 2 ]
	if tc_start; then
		check "the next start removes both stale filters and says so" \
			[ "$(grep -c 'removed a stale hdrlog filter' /tmp/t.err)" = 2 ]
		check "... and has its own 2 in place ($(tc_filters))" [ "$(tc_filters)" = 2 ]
		kill -INT $pid
		wait_pid $pid 30
		check "hdrlog exits 0 on SIGINT (status $RC)" [ "$RC" = 0 ]
	else
		diag </tmp/t.err
		not_ok "hdrlog starts again over its stale filters"
		kill -KILL $pid 2>/dev/null; wait $pid
	fi
	check "no hdrlog filter left after a clean exit ($(tc_filters))" [ "$(tc_filters)" = 0 ]
}
if [ -n "$NET" ]; then
	tc_test
else
	skip "tc clsact capture" "no network namespaces"
fi

# --- --log flows on this kernel's verifier: the flow table's programs -----
# (flow_walk and flow_find are global functions with pointer arguments,
# and the table takes atomics and cmpxchg). XDP in: 5 echo requests; tc
# both ways: the 5 replies too, counted toclient in the same flow, with a
# table large enough (--flow-table 200000, 43 MB) for the front cache
# before the index, which the verifier checks only then.
flows_case() {  # flows_case ATTACH DIRECTION TOSERVER TOCLIENT [TABLE]
	rm -f /tmp/f.json /tmp/f.err
	nsenter --net=/run/netns/$A hdrlog -i $VA --attach-ingress $1 \
		--direction $2 --log flows --flow-table ${5:-65536} \
		-o json:/tmp/f.json \
		>/dev/null 2>/tmp/f.err &
	pid=$!
	if ! wait_for /tmp/f.err 'listening on' 60 $pid; then
		diag </tmp/f.err
		not_ok "--log flows loads ($1, --direction $2) on this kernel"
		kill -KILL $pid 2>/dev/null; wait $pid
		return
	fi
	in_b ping -c 5 -i 0.2 -W 5 $IPA 2>&1 | tail -1 | diag
	kill -INT $pid; wait_pid $pid 30
	_f=$(grep -F '"event_type":"flow"' /tmp/f.json 2>/dev/null |
		grep -F "\"src_ip\":\"$IPB\"" | grep -F '"proto":"ICMP"')
	_ts=$(printf '%s\n' "$_f" | sed -n 's/.*"pkts_toserver":\([0-9]*\).*/\1/p')
	_tc=$(printf '%s\n' "$_f" | sed -n 's/.*"pkts_toclient":\([0-9]*\).*/\1/p')
	if [ "$RC" = 0 ] && [ "$(printf '%s\n' "$_f" | grep -c .)" = 1 ] &&
	   [ "$_ts" = "$3" ] && [ "$_tc" = "$4" ]; then
		ok "--log flows ($1, --direction $2): one ICMP flow of $3 + $4 frames"
	else
		diag </tmp/f.err
		diag </tmp/f.json
		not_ok "--log flows ($1, --direction $2): one ICMP flow of $3 + $4 frames (status $RC, got $_ts + $_tc)"
	fi
}
if [ -n "$NET" ]; then
	flows_case xdp in 5 0
	flows_case tc both 5 5 200000
else
	skip "--log flows (xdp)" "no network namespaces"
	skip "--log flows (tc)" "no network namespaces"
fi

# ==========================================================================
# SOCKET-EVENT TEST CASES: add them here.
#
# Every function named in SOCKET_CASES runs once per attach method in
# ATTACH_METHODS, as
#	CASE METHOD
# with the namespaces above up. It runs hdrlog with "--attach METHOD",
# makes the traffic, checks the records, prints diagnostics to stdout (they
# become '#' lines), writes the attach method hdrlog reports it used to
# $SOCK_USED, and returns
#	0 pass, 77 skip, anything else fail.
# run_socket_case prints one TAP line per case and method, and an
# '# attach-method:' line that run.sh lists in its summary. A case whose
# hdrlog used another method than the one forced fails.
#
# The traffic: /usr/bin/tcpecho (tests/vm/tcpecho.c, static), a server in
# $A on $IPA (or $IPA6) accepting one connection, reading SOCK_N bytes,
# writing SOCK_M, reading until the client closes; the client in $B,
# named CLIENT_NAME (a quote and a newline in it: JSON must escape them),
# writing SOCK_N, reading SOCK_M, closing first. Both print their pid.
SOCKET_CASES="sock_tcp4 sock_tcp6 sock_udp4"
ATTACH_METHODS="fentry kprobe tracepoint"
IPA6=2001:db8::1 IPB6=2001:db8::2
SOCK_N=3000                     # data bytes client -> server
SOCK_M=50000                    # data bytes server -> client
CLIENT_NAME='cl\"i\nent'        # tcpecho -n turns \" and \n into " and LF
CLIENT_COMM='"comm":"cl\"i\nent"'       # ... and JSON must write it so
SERVER_COMM='"comm":"tcpecho"'
SOCK_PORT=8000                  # each connection takes the next port

# recs FILE STRING...: the lines of FILE holding every STRING
recs() {
	_r=$(cat "$1" 2>/dev/null); shift
	for _s in "$@"; do
		_r=$(printf '%s\n' "$_r" | grep -F -- "$_s")
	done
	[ -n "$_r" ] && printf '%s\n' "$_r"
}
nrecs() { recs "$@" | grep -c .; }
# num FIELD LINE: a number field of a JSON line
num() { printf '%s\n' "$2" | sed -n "s/.*\"$1\":\([0-9.]*\)[,}].*/\1/p"; }
positive() { [ -n "$1" ] && awk "BEGIN { exit !($1 > 0) }"; }
# want DESCRIPTION COMMAND...: one check of a case; a failure sets SFAIL
want() {
	_d=$1; shift
	if "$@"; then echo "ok: $_d"; else echo "FAIL: $_d"; SFAIL=1; fi
}

# What the kernel shows attached to tcp_set_state while hdrlog runs: a
# kprobe (kprobes/list), an ftrace trampoline without a kprobe (fentry),
# or neither (the raw tracepoint inet_sock_set_state).
kernel_attach() {
	if grep -q ' tcp_set_state+0x0' /sys/kernel/debug/kprobes/list 2>/dev/null; then
		echo kprobe
	elif grep -q '^tcp_set_state ' /sys/kernel/tracing/enabled_functions 2>/dev/null; then
		echo fentry
	else
		echo tracepoint
	fi
}

v6up() {        # IPv6 on the veth only, no DAD, static neighbours; once
	ip -n $A -6 addr show dev $VA | grep -q " $IPA6/" && return 0
	in_a sysctl -qw net.ipv6.conf.$VA.disable_ipv6=0 &&
	in_b sysctl -qw net.ipv6.conf.$VB.disable_ipv6=0 &&
	ip -n $A -6 addr add $IPA6/64 dev $VA nodad &&
	ip -n $B -6 addr add $IPB6/64 dev $VB nodad &&
	ip -n $A -6 neigh add $IPB6 lladdr $MACB dev $VA nud permanent &&
	ip -n $B -6 neigh add $IPA6 lladdr $MACA dev $VB nud permanent
}

ns_inode() { stat -L -c %i /run/netns/$1; }

# tcp_traffic FAMILY: one tcpecho connection from $B to $A on the next
# port; sets SIP CIP PORT SPID CPID EPH (the client's port), TRC=0 if both
# sides moved every byte
tcp_traffic() {
	SOCK_PORT=$((SOCK_PORT + 1)); PORT=$SOCK_PORT
	if [ "$1" = 6 ]; then SIP=$IPA6 CIP=$IPB6; else SIP=$IPA CIP=$IPB; fi
	rm -f /tmp/srv.out /tmp/cli.out
	nsenter --net=/run/netns/$A tcpecho -l $SIP $PORT $SOCK_M $SOCK_N \
		>/tmp/srv.out 2>&1 &
	_sj=$!
	wait_for /tmp/srv.out '^listening' 10 $_sj
	in_b tcpecho -n "$CLIENT_NAME" $SIP $PORT $SOCK_N $SOCK_M \
		>/tmp/cli.out 2>&1
	_crc=$?
	wait_pid $_sj 10
	SPID=$(sed -n 's/^pid //p' /tmp/srv.out)
	CPID=$(sed -n 's/^pid //p' /tmp/cli.out)
	EPH=$(sed -n 's/^peer .* \([0-9]*\)$/\1/p' /tmp/srv.out)
	TRC=1
	[ "$_crc" = 0 ] && [ "$RC" = 0 ] && [ -n "$SPID" ] && [ -n "$CPID" ] &&
		[ -n "$EPH" ] && TRC=0
	if [ "$TRC" != 0 ]; then
		echo "tcpecho: client status $_crc, server status $RC"
		sed 's/^/server: /' /tmp/srv.out
		sed 's/^/client: /' /tmp/cli.out
	fi
}

# check_sock_records FILE FAMILY: the four records of the connection
# tcp_traffic made, as described above
check_sock_records() {
	_f=$1
	_tuple="\"ip_v\":$2,\"src_ip\":\"$CIP\",\"dest_ip\":\"$SIP\""
	_ports="\"src_port\":$EPH,\"dest_port\":$PORT,"
	_nsa="\"netns\":$(ns_inode $A)," _nsb="\"netns\":$(ns_inode $B),"
	want "connect: pid $CPID, $CLIENT_COMM, $CIP:$EPH -> $SIP:$PORT, out, netns $B" \
		[ "$(nrecs $_f '"event":"connect"' "\"pid\":$CPID,\"tid\":$CPID," \
			"$CLIENT_COMM" '"uid":0,' "$_nsb" "$_tuple" "$_ports" \
			'"direction":"out","tcp_state":"ESTABLISHED"')" = 1 ]
	want "accept: pid $SPID, $SERVER_COMM, same 4-tuple, in, netns $A" \
		[ "$(nrecs $_f '"event":"accept"' "\"pid\":$SPID,\"tid\":$SPID," \
			"$SERVER_COMM" '"uid":0,' "$_nsa" "$_tuple" "$_ports" \
			'"direction":"in","tcp_state":"ESTABLISHED"')" = 1 ]
	_cc=$(recs $_f '"event":"close"' "\"pid\":$CPID," "$CLIENT_COMM" \
		"$_nsb" "$_tuple" "$_ports" '"direction":"out"' \
		'"tcp_state":"CLOSE"')
	want "client close: pid $CPID, $CLIENT_COMM, same 4-tuple, out" \
		[ "$(printf '%s\n' "$_cc" | grep -c .)" = 1 ]
	want "client close: bytes_sent $SOCK_N, bytes_received $SOCK_M (record: $(num bytes_sent "$_cc"), $(num bytes_received "$_cc"))" \
		[ "$(num bytes_sent "$_cc")" = $SOCK_N -a \
		  "$(num bytes_received "$_cc")" = $SOCK_M ]
	want "client close: duration_ms $(num duration_ms "$_cc") > 0" \
		positive "$(num duration_ms "$_cc")"
	_sc=$(recs $_f '"event":"close"' "\"pid\":$SPID," "$SERVER_COMM" \
		"$_nsa" "$_tuple" "$_ports" '"direction":"in"' \
		'"tcp_state":"CLOSE"')
	want "server close: pid $SPID, $SERVER_COMM, same 4-tuple, in" \
		[ "$(printf '%s\n' "$_sc" | grep -c .)" = 1 ]
	want "server close: bytes_sent $SOCK_M, bytes_received $SOCK_N (record: $(num bytes_sent "$_sc"), $(num bytes_received "$_sc"))" \
		[ "$(num bytes_sent "$_sc")" = $SOCK_M -a \
		  "$(num bytes_received "$_sc")" = $SOCK_N ]
	want "server close: duration_ms $(num duration_ms "$_sc") > 0" \
		positive "$(num duration_ms "$_sc")"
	want "4 socket records in all" \
		[ "$(nrecs $_f '"event_type":"socket"')" = 4 ]
}

# sock_conn FAMILY METHOD: hdrlog --events sockets (--attach METHOD unless
# METHOD is auto) in the initial namespace, -c 4, one connection between
# the other two; every check above
sock_conn() {
	_fam=$1 _m=$2 SFAIL=
	_att="--attach $_m"
	[ "$_m" = auto ] && _att=
	if [ "$_fam" = 6 ] && ! v6up; then
		echo "IPv6 set-up failed"
		return 1
	fi
	rm -f /tmp/s.json /tmp/s.err
	# shellcheck disable=SC2086
	hdrlog --events sockets $_att -o json:/tmp/s.json -c 4 \
		>/dev/null 2>/tmp/s.err &
	_hp=$!
	if ! wait_for /tmp/s.err 'listening to socket events' 60 $_hp; then
		sed 's/^/hdrlog: /' /tmp/s.err
		sed -n 's/^hdrlog: socket events via \([a-z]*\)$/\1/p' \
			/tmp/s.err >"$SOCK_USED"
		kill -KILL $_hp 2>/dev/null; wait $_hp
		echo "FAIL: hdrlog did not start"
		return 1
	fi
	_used=$(sed -n 's/^hdrlog: socket events via \([a-z]*\)$/\1/p' /tmp/s.err)
	echo "${_used:-?}" >"$SOCK_USED"
	_kern=$(kernel_attach)
	tcp_traffic "$_fam"
	wait_pid $_hp 20
	_hrc=$RC
	_want=$_m
	[ "$_m" = auto ] && _want=fentry
	want "hdrlog says 'socket events via $_want' (said: ${_used:-nothing})" \
		[ "$_used" = "$_want" ]
	want "hdrlog says 'listening to socket events (via $_want)'" \
		grep -q "^hdrlog: listening to socket events (via $_want), writing to json:/tmp/s.json\$" /tmp/s.err
	want "the kernel shows $_want attached to tcp_set_state (shows: $_kern)" \
		[ "$_kern" = "$_want" ]
	want "tcpecho moved $SOCK_N and $SOCK_M bytes (IPv$_fam)" [ "$TRC" = 0 ]
	want "hdrlog -c 4 exits 0 (status $_hrc)" [ "$_hrc" = 0 ]
	want "hdrlog's summary says 4 records written" \
		grep -q '^ *4 records written' /tmp/s.err
	[ "$TRC" = 0 ] && check_sock_records /tmp/s.json "$_fam"
	if [ -n "$SFAIL" ]; then
		sed 's/^/hdrlog: /' /tmp/s.err
		sed 's/^/json: /' /tmp/s.json 2>/dev/null
		return 1
	fi
	return 0
}
sock_tcp4() { sock_conn 4 "$1"; }
sock_tcp6() { sock_conn 6 "$1"; }

# sock_udp4 METHOD: hdrlog --events sockets --attach METHOD -c 2 while one
# socket in $B (tcpecho -u) sends 3 datagrams to $IPA:PORT, then 1 to
# PORT+1: one udp_send record per peer (a repeat would be the second
# record and leave PORT+1 out), each with the sender's pid, name, port and
# namespace. The fentry and kprobe programs on ip_send_skb run in the
# sender's context; the tracepoint path learns the sender at sendto(2).
sock_udp4() {
	_m=$1 SFAIL=
	SOCK_PORT=$((SOCK_PORT + 2)); PORT=$SOCK_PORT
	rm -f /tmp/u.json /tmp/u.err /tmp/udp.out
	hdrlog --events sockets --attach "$_m" -o json:/tmp/u.json -c 2 \
		>/dev/null 2>/tmp/u.err &
	_hp=$!
	if ! wait_for /tmp/u.err 'listening to socket events' 60 $_hp; then
		sed 's/^/hdrlog: /' /tmp/u.err
		kill -KILL $_hp 2>/dev/null; wait $_hp
		echo "FAIL: hdrlog did not start"
		return 1
	fi
	_used=$(sed -n 's/^hdrlog: socket events via \([a-z]*\)$/\1/p' /tmp/u.err)
	echo "${_used:-?}" >"$SOCK_USED"
	in_b tcpecho -u -n hdrlog-udp $IPA $PORT 3 1 >/tmp/udp.out 2>&1
	_urc=$?
	wait_pid $_hp 20
	_hrc=$RC
	_up=$(sed -n 's/^pid //p' /tmp/udp.out)
	_lp=$(sed -n 's/^local //p' /tmp/udp.out)
	want "hdrlog says 'socket events via $_m' (said: ${_used:-nothing})" \
		[ "$_used" = "$_m" ]
	want "tcpecho -u sent 4 datagrams (status $_urc)" \
		[ "$_urc" = 0 -a -n "$_up" -a -n "$_lp" ]
	want "hdrlog -c 2 exits 0 (status $_hrc)" [ "$_hrc" = 0 ]
	for _p in $PORT $((PORT + 1)); do
		want "udp_send: pid $_up, hdrlog-udp, $IPB:$_lp -> $IPA:$_p, out, netns $B" \
			[ "$(nrecs /tmp/u.json '"event":"udp_send"' \
				"\"pid\":$_up,\"tid\":$_up," '"comm":"hdrlog-udp"' \
				"\"netns\":$(ns_inode $B)," '"ip_v":4,' \
				"\"src_ip\":\"$IPB\",\"dest_ip\":\"$IPA\"" '"proto":"UDP"' \
				"\"src_port\":$_lp,\"dest_port\":$_p," \
				'"direction":"out"')" = 1 ]
	done
	want "2 socket records in all" \
		[ "$(nrecs /tmp/u.json '"event_type":"socket"')" = 2 ]
	if [ -n "$SFAIL" ]; then
		sed 's/^/tcpecho: /' /tmp/udp.out
		sed 's/^/hdrlog: /' /tmp/u.err
		sed 's/^/json: /' /tmp/u.json 2>/dev/null
		return 1
	fi
	return 0
}

# Without --attach, hdrlog must take fentry on this kernel.
sock_default() {
	hdrlog --features >/tmp/f.out 2>&1
	cat /tmp/f.out
	SFAIL=
	want "--features: hdrlog will use fentry" \
		grep -qx 'hdrlog will use: fentry' /tmp/f.out
	for _m in $ATTACH_METHODS; do
		want "--features: socket events via $_m: yes" \
			grep -qx "socket events via $_m: yes" /tmp/f.out
	done
	sock_conn 4 auto || SFAIL=1
	[ -z "$SFAIL" ]
}

# -i $VA --socket-events, in $A: packets and socket events in one run.
# The frames on $VA are the client's, arriving at the server: once the
# accept record named the connection in $A, they carry the server's pid
# and comm (never the client's: its socket lives in $B); the SYN, before
# any socket record, carries none.
sock_combined() {
	SFAIL=
	rm -f /tmp/c.json /tmp/c.err
	# (nsenter execs hdrlog: $! is hdrlog, and SIGINT reaches it)
	nsenter --net=/run/netns/$A hdrlog -i $VA --socket-events \
		-o json:/tmp/c.json >/dev/null 2>/tmp/c.err &
	_hp=$!
	if ! wait_for /tmp/c.err 'listening on' 60 $_hp; then
		sed 's/^/hdrlog: /' /tmp/c.err
		kill -KILL $_hp 2>/dev/null; wait $_hp
		echo "FAIL: hdrlog did not start"
		return 1
	fi
	_used=$(sed -n 's/^hdrlog: socket events via \([a-z]*\)$/\1/p' /tmp/c.err)
	echo "${_used:-?}" >"$SOCK_USED"
	tcp_traffic 4
	_n=100      # both close records, then stop it
	while [ $_n -gt 0 ] && [ "$(nrecs /tmp/c.json '"event":"close"')" -lt 2 ]; do
		sleep 0.1; _n=$((_n - 1))
	done
	sleep 0.3
	kill -INT $_hp
	wait_pid $_hp 10
	_hrc=$RC
	# --attach-ingress auto on a veth: tc, through clsact before tcx (6.6)
	want "hdrlog says 'listening on $VA (tc clsact because a virtual device (veth)) and to socket events'" \
		grep -q "^hdrlog: listening on $VA (tc clsact because a virtual device (veth)) and to socket events, writing to json:/tmp/c.json\$" /tmp/c.err
	want "hdrlog says 'socket events via fentry' (said: ${_used:-nothing})" \
		[ "$_used" = fentry ]
	want "tcpecho moved $SOCK_N and $SOCK_M bytes" [ "$TRC" = 0 ]
	want "hdrlog exits 0 on SIGINT (status $_hrc)" [ "$_hrc" = 0 ]
	if [ "$TRC" = 0 ]; then
		check_sock_records /tmp/c.json 4
		_conn="\"src_ip\":\"$IPB\",\"dest_ip\":\"$IPA\",\"proto\":\"TCP\""
		_ports="\"src_port\":$EPH,\"dest_port\":$PORT,"
		_pk=$(recs /tmp/c.json '"event_type":"packet"' "\"in_iface\":\"$VA\"" \
			"$_conn" "$_ports")
		_npk=$(printf '%s\n' "$_pk" | grep -c .)
		want "packet records of the connection on $VA ($_npk)" [ "$_npk" -gt 3 ]
		want "the SYN's record carries no pid" \
			[ "$(printf '%s\n' "$_pk" | grep -F '"tcp_flags":"02"' |
				grep -c -F -e '"pid":' -e '"comm":')" = 0 ]
		# between the accept record and the server's close record,
		# every frame of the connection names the server
		_between=$(sed -n '/"event":"accept"/,/"event":"close".*"direction":"in"/p' \
			/tmp/c.json | grep -F '"event_type":"packet"' |
			grep -F "$_conn" | grep -F "$_ports")
		_nb=$(printf '%s\n' "$_between" | grep -c .)
		_named=$(printf '%s\n' "$_between" |
			grep -F "\"pid\":$SPID,\"comm\":\"tcpecho\"" | grep -c .)
		want "after accept, packet records carry pid $SPID and comm tcpecho ($_named of $_nb)" \
			[ "$_nb" -gt 0 -a "$_named" = "$_nb" ]
		want "no packet record carries the client's pid $CPID" \
			[ "$(printf '%s\n' "$_pk" | grep -c -F "\"pid\":$CPID,")" = 0 ]
	fi
	if [ -n "$SFAIL" ]; then
		sed 's/^/hdrlog: /' /tmp/c.err
		sed 's/^/json: /' /tmp/c.json 2>/dev/null
		return 1
	fi
	return 0
}
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
		_t0=$(date +%s)
		out=$("$c" "$method" 2>&1); rc=$?
		[ -n "$out" ] && printf '%s\n' "$out" | diag
		used=$(head -1 "$SOCK_USED"); used=${used:-?}
		# a forced method hdrlog did not use is a failure, whatever the case said
		[ "$rc" = 0 ] && [ "$used" != "$method" ] && rc=1
		case $rc in
		0)  ok "$name"; res=ok ;;
		77) skip "$name" "case skipped"; res=skip ;;
		*)  not_ok "$name (status $rc)"; res=FAIL ;;
		esac
		echo "# attach-method: $c: requested=$method used=$used result=$res ($(($(date +%s) - _t0))s)"
	done
}
for m in $ATTACH_METHODS; do
	run_socket_case "$m"
done

# The cases that are not per method: the default choice, and packets and
# socket events together. Same conventions; the requested method is 'auto'.
run_extra_case() {      # run_extra_case CASE DESCRIPTION
	if [ -z "$NET" ]; then
		skip "$2" "no network namespaces"
		echo "# attach-method: $1: requested=auto used=- result=skip"
		return
	fi
	: >"$SOCK_USED"
	_t0=$(date +%s)
	out=$("$1" 2>&1); rc=$?
	[ -n "$out" ] && printf '%s\n' "$out" | diag
	used=$(head -1 "$SOCK_USED"); used=${used:-?}
	case $rc in
	0)  ok "$2"; res=ok ;;
	77) skip "$2" "case skipped"; res=skip ;;
	*)  not_ok "$2 (status $rc)"; res=FAIL ;;
	esac
	echo "# attach-method: $1: requested=auto used=$used result=$res ($(($(date +%s) - _t0))s)"
}
run_extra_case sock_default "socket events without --attach choose fentry"
run_extra_case sock_combined \
	"packets and socket events (-i $VA --socket-events): frames name the server"

finish
