#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The packaged service under a real systemd: runs inside a booted Debian
# root with hdrlog installed (tests/vm/boot-root.sh installs it as the
# oneshot unit hdrlog-boot-test.service, ordered after multi-user.target,
# which powers the machine off when it ends). Prints TAP on stdout (the
# unit sends it to the console), then
#   1..N
#   HDRLOG-VM-DONE tests=N failed=M
# See tests/vm/README.
#
# Its own network, made here: a veth pair, hsvc0 in this (the guest's
# initial) namespace with 198.51.100.1/24, hsvc1 in namespace "peer" with
# 198.51.100.2/24; IPv6 off on both and static neighbours, so the only
# frames hdrlog sees are the test's datagrams. They are UDP, sent by bash
# itself (/dev/udp), so that the root needs no ping: bash, iproute2 and
# util-linux's nsenter are all the test uses besides systemd.

export PATH=/usr/sbin:/usr/bin:/sbin:/bin
export SYSTEMD_PAGER='' SYSTEMD_COLORS=0 LC_ALL=C.UTF-8
umask 022

IF=hsvc0 PIF=hsvc1 PEER=peer
IPH=198.51.100.1 IPP=198.51.100.2
MACH=02:00:5e:00:53:1a MACP=02:00:5e:00:53:1b
CONF=/etc/hdrlog/hdrlog.conf
JSON=/var/log/hdrlog/hdrlog.json
N=5                     # datagrams per step
PORT=9                  # discard: nothing listens, the answer is ICMP
SVC=hdrlog.service

T=0 FAILED=0
ok()      { T=$((T + 1)); echo "ok $T - $*"; }
not_ok()  { T=$((T + 1)); FAILED=$((FAILED + 1)); echo "not ok $T - $*"; }
skip()    { T=$((T + 1)); echo "ok $T - $1 # SKIP $2"; }
check()   { # check NAME COMMAND...: one test, passing if COMMAND succeeds
	local name=$1; shift
	if "$@"; then ok "$name"; else not_ok "$name"; fi
}
diag()    { sed 's/^/# /'; }

finish() {
	echo "1..$T"
	echo "HDRLOG-VM-DONE tests=$T failed=$FAILED"
	exit 0
}

# wait_until SECONDS COMMAND...: until COMMAND succeeds, polling
wait_until() {
	local n=$(($1 * 10)); shift
	while [ "$n" -gt 0 ]; do
		"$@" && return 0
		sleep 0.1; n=$((n - 1))
	done
	"$@"
}

in_peer() { nsenter --net=/run/netns/$PEER "$@"; }
# hdrlog's ingress program on $1: XDP, or (--attach-ingress auto on a
# veth) tc, a clsact filter on this kernel (6.1 has no tcx)
# XDP or a clsact filter: ip and tc show them. A tcx link (kernels 6.6+,
# the nspawn boot) is shown by neither in Debian 12's iproute2; the kernel
# says it in the fdinfo of hdrlog's link descriptor (link_type tcx, ifindex).
tcx_on() {
	local ifx d
	ifx=$(cat "/sys/class/net/$1/ifindex" 2>/dev/null) || return 1
	for d in $(hdrlog_pids); do
		grep -l '^link_type:[[:space:]]*tcx' /proc/"$d"/fdinfo/* 2>/dev/null |
			xargs -r grep -l "^ifindex:[[:space:]]*$ifx\$" | grep -q . && return 0
	done
	return 1
}
prog_on()  {
	ip link show dev "$1" 2>/dev/null | grep -q 'prog/xdp' ||
		tc filter show dev "$1" ingress 2>/dev/null | grep -q 'hdrlog_tc_' ||
		tcx_on "$1"
}
no_prog()  { ip link show dev "$1" >/dev/null 2>&1 && ! prog_on "$1"; }
# hdrlog processes, by name, from /proc (procps may not be installed)
hdrlog_pids() {
	local d
	for d in /proc/[0-9]*; do
		[ "$(cat "$d/comm" 2>/dev/null)" = hdrlog ] && echo "${d#/proc/}"
	done
}
no_hdrlog() { [ -z "$(hdrlog_pids)" ]; }
prop()    { systemctl show -p "$2" --value "$1"; }
# the peer's datagrams, as records of hdrlog on $IF, in FILE... (or stdin)
recs_in() {
	cat "$@" 2>/dev/null | grep -F "\"in_iface\":\"$IF\"" |
		grep -F "\"src_ip\":\"$IPP\",\"dest_ip\":\"$IPH\",\"proto\":\"UDP\"" |
		grep -cF "\"dest_port\":$PORT,"
}
rx_packets() { cat /sys/class/net/$IF/statistics/rx_packets; }
rx_since() { [ $(($(rx_packets) - $1)) -ge "$2" ]; }     # rx_since RX0 COUNT
# send_peer: N datagrams from the peer to $IPH:$PORT, each from a socket
# of its own; succeeds once $IF has received them all
send_peer() {
	local rx0 i
	rx0=$(rx_packets)
	for i in $(seq "$N"); do
		in_peer bash -c "echo hdrlog-test-$i >/dev/udp/$IPH/$PORT" || return 1
	done
	wait_until 10 rx_since "$rx0" "$N"
}
count_is() { [ "$(recs_in "${@:2}")" = "$1" ]; }
# after N more datagrams, FILE... hold WANT records (waits for them, then
# checks that no more came)
sends_give() {
	local want=$1; shift
	send_peer || echo "# sending from $PEER failed"
	wait_until 30 count_is "$want" "$@"
}
# mode of a file, octal
mode()    { stat -c %a "$1" 2>/dev/null; }
not_world_readable() { local m; m=$(mode "$1") && [ $((8#$m & 7)) = 0 ]; }
journal_tail() { journalctl -u "$1" --no-pager -o short-monotonic 2>&1 | tail -25 | diag; }
active_running() {
	[ "$(prop "$1" ActiveState)" = active ] && [ "$(prop "$1" SubState)" = running ]
}

# start UNIT: systemctl start, then what the unit looks like right after
# it returned; sets MAIN to its main pid. Fails if the start failed (the
# unit's other tests are then left out). 45 s: hdrlog is ready in about
# 3 s under TCG; systemd's own limit (90 s) would outlast the host's.
start_unit() {
	local u=$1 rc t0 attached
	t0=${EPOCHREALTIME/./}
	timeout 45 systemctl start "$u"; rc=$?
	# checked at once: with Type=notify, start returns after READY=1,
	# which hdrlog sends once every program is attached
	if prog_on $IF; then attached=yes; else attached=no; fi
	echo "# systemctl start $u: status $rc after $(((${EPOCHREALTIME/./} - t0) / 1000)) ms"
	systemctl show -p Type,ActiveState,SubState,StatusText,MainPID,NotifyAccess "$u" | diag
	check "systemctl start $u succeeds" [ "$rc" = 0 ]
	check "$u is Type=notify (says: $(prop "$u" Type))" [ "$(prop "$u" Type)" = notify ]
	check "the ingress program (XDP or tc) is attached to $IF when systemctl start returns" [ "$attached" = yes ]
	check "$u is active/running" active_running "$u"
	MAIN=$(prop "$u" MainPID)
	check "its main process ($MAIN) is hdrlog" \
		[ "$(cat "/proc/$MAIN/comm" 2>/dev/null)" = hdrlog ]
	check "hdrlog set the unit's status text ($(prop "$u" StatusText))" \
		[ -n "$(prop "$u" StatusText)" ]
	check "ip link or tc shows hdrlog's program on $IF" wait_until 20 prog_on $IF
	[ "$rc" = 0 ] || journal_tail "$u"
	[ "$rc" = 0 ]
}

# stop UNIT: nothing left attached or running
stop_unit() {
	local u=$1 rc
	timeout 45 systemctl stop "$u"; rc=$?
	check "systemctl stop $u succeeds" [ "$rc" = 0 ]
	check "$u is inactive after stop (says: $(prop "$u" ActiveState))" \
		[ "$(prop "$u" ActiveState)" = inactive ]
	check "no XDP or tc program of hdrlog's left on $IF" no_prog $IF
	check "no hdrlog process left" no_hdrlog
	ip link show dev $IF | diag
}

# --- the machine ---------------------------------------------------------
echo "# kernel: $(uname -r); systemd: $(systemctl --version | head -1)"
echo "# virtualization: $(systemd-detect-virt 2>/dev/null || echo none)"
echo "# hdrlog: $(hdrlog --version 2>&1 | head -1)"
echo "# system state: $(systemctl is-system-running 2>&1)"
# how long the boot took (systemd-analyze time waits for this unit too)
mu=$(systemctl show -p ActiveEnterTimestampMonotonic --value multi-user.target)
us=$(systemctl show -p UserspaceTimestampMonotonic --value)
if systemd-detect-virt -q -c; then
	echo "# boot: multi-user.target reached $(((mu - us) / 1000)) ms after systemd started"
else
	echo "# boot: multi-user.target reached $((mu / 1000)) ms after the kernel started ($(((mu - us) / 1000)) ms after systemd did)"
fi
systemctl --failed --no-legend --plain 2>&1 | diag
quietly() { "$@" >/dev/null 2>&1; }
check "hdrlog is installed (/usr/sbin/hdrlog --version)" quietly hdrlog --version
check "$SVC and hdrlog@.service are installed" \
	quietly systemctl cat $SVC hdrlog@x.service
check "installing started nothing: $SVC is not enabled ($(systemctl is-enabled $SVC 2>&1))" \
	[ "$(systemctl is-enabled $SVC 2>&1)" != enabled ]
check "no hdrlog runs after boot" no_hdrlog

# --- the network ---------------------------------------------------------
net_up() {
	ip netns add $PEER &&
	ip link add $IF address $MACH type veth peer name $PIF address $MACP &&
	ip link set $PIF netns $PEER &&
	echo 1 >/proc/sys/net/ipv6/conf/$IF/disable_ipv6 &&
	in_peer sh -c "echo 1 >/proc/sys/net/ipv6/conf/$PIF/disable_ipv6" &&
	ip addr add $IPH/24 dev $IF &&
	in_peer ip addr add $IPP/24 dev $PIF &&
	ip neigh replace $IPP lladdr $MACP dev $IF nud permanent &&
	in_peer ip neigh replace $IPH lladdr $MACH dev $PIF nud permanent &&
	in_peer ip link set lo up &&
	in_peer ip link set $PIF up &&
	ip link set $IF up &&
	send_peer
}
net_up >/tmp/net.out 2>&1; rc=$?
diag </tmp/net.out
if [ "$rc" != 0 ] || ! no_prog $IF; then
	not_ok "veth $IF <-> $PEER/$PIF with $IPH and $IPP, datagrams arrive"
	finish
fi
ok "veth $IF <-> $PEER/$PIF with $IPH and $IPP, datagrams arrive"

# --- the shipped configuration, pointed at the veth ------------------------
check "the shipped $CONF writes JSON lines to $JSON" \
	grep -Eq "^[[:space:]]*output[[:space:]]*=[[:space:]]*json:${JSON}[[:space:]]*\$" $CONF
if ! grep -Eq "^[[:space:]]*output[[:space:]]*=" $CONF 2>/dev/null; then
	echo "output = json:$JSON" >>$CONF
fi
sed -i '/^[[:space:]]*interface[[:space:]]*=/d' $CONF
echo "interface = $IF" >>$CONF
grep -v '^[[:space:]]*\(#\|$\)' $CONF | sed 's/^/conf: /' | diag
if hdrlog --help 2>&1 | grep -q -- '--check'; then
	hdrlog --config $CONF --check >/tmp/check.out 2>&1; rc=$?
	diag </tmp/check.out
	check "hdrlog --config $CONF --check exits 0 (status $rc)" [ "$rc" = 0 ]
	check "--check attached nothing" no_prog $IF
else
	skip "hdrlog --config $CONF --check" "this hdrlog has no --check"
fi

# --- hdrlog.service: start, records, reload, rotate, stop ----------------
if start_unit $SVC; then
	sends_give "$N" $JSON
	check "$N datagrams from $PEER give $N UDP records in $JSON ($(recs_in $JSON))" count_is "$N" $JSON
	check "/var/log/hdrlog is mode 0750 ($(mode /var/log/hdrlog))" [ "$(mode /var/log/hdrlog)" = 750 ]
	check "$JSON is not world-readable ($(mode $JSON))" not_world_readable $JSON

	# A change a reload cannot apply (the ring buffer's size): hdrlog
	# says so and keeps running as it was, which shows the file was read
	# again. (hdrlog without --check predates reloading its config.)
	reread=
	if hdrlog --help 2>&1 | grep -q -- '--check'; then
		reread=1
		echo "ringbuf-size = 16M" >>$CONF
	fi
	timeout 45 systemctl reload $SVC; rc=$?
	check "systemctl reload $SVC succeeds (status $rc)" [ "$rc" = 0 ]
	if [ -n "$reread" ]; then
		check "hdrlog re-read $CONF: its journal says ringbuf-size needs a restart" \
			wait_until 10 eval "journalctl -u $SVC --no-pager -o cat |
				grep -qF 'config $CONF: ringbuf-size changed; restart hdrlog'"
	else
		skip "hdrlog re-reads $CONF on reload" "this hdrlog has no --check"
	fi
	check "after reload: active/running, same main process $MAIN" \
		eval 'active_running $SVC && [ "$(prop $SVC MainPID)" = "$MAIN" ]'
	sends_give $((2 * N)) $JSON
	check "$N more datagrams after reload: $((2 * N)) records in all ($(recs_in $JSON))" \
		count_is $((2 * N)) $JSON

	if [ -r /etc/logrotate.d/hdrlog ] && command -v logrotate >/dev/null; then
		logrotate -f /etc/logrotate.d/hdrlog 2>&1 | diag
		rc=${PIPESTATUS[0]}
		check "logrotate -f /etc/logrotate.d/hdrlog succeeds (status $rc)" [ "$rc" = 0 ]
		ls -l /var/log/hdrlog | diag
		sends_give "$N" $JSON
		check "$N datagrams after rotation land in a new $JSON ($(recs_in $JSON))" \
			count_is "$N" $JSON
		rotated=$(ls /var/log/hdrlog/hdrlog.json?* 2>/dev/null)
		# shellcheck disable=SC2086
		check "the rotated file holds the $((2 * N)) earlier records ($(zcat -f $rotated </dev/null | recs_in))" \
			eval '[ -n "$rotated" ] && [ "$(zcat -f $rotated | recs_in)" = $((2 * N)) ]'
		check "after rotation: same main process $MAIN" \
			[ "$(prop $SVC MainPID)" = "$MAIN" ]
	else
		skip "logrotate -f /etc/logrotate.d/hdrlog" "no snippet or no logrotate"
	fi

	check "journalctl -u $SVC has hdrlog's start-up line" \
		eval "journalctl -u $SVC --no-pager -o cat | grep -q '^hdrlog: listening on $IF '"
	[ "$FAILED" -gt 0 ] && journal_tail $SVC
fi
stop_unit $SVC

# --- hdrlog@.service: one instance per interface ---------------------------
TSVC=hdrlog@$IF.service TJSON=/var/log/hdrlog/$IF.json
printf 'interface = %s\noutput = json:%s\n' $IF "$TJSON" >/etc/hdrlog/$IF.conf
f0=$FAILED
if start_unit "$TSVC"; then
	sends_give "$N" "$TJSON"
	check "$N datagrams give $N records in $TJSON ($(recs_in "$TJSON"))" count_is "$N" "$TJSON"
	check "journalctl -u $TSVC has hdrlog's start-up line" \
		eval "journalctl -u $TSVC --no-pager -o cat | grep -q '^hdrlog: listening on $IF '"
	[ "$FAILED" -gt "$f0" ] && journal_tail "$TSVC"
fi
stop_unit "$TSVC"

finish
