#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# flood.sh: a live flood over a veth pair, capturers side by side (issue 11).
#
# trafgen -P 1 in the second namespace sends N 64-byte UDP frames out of
# its veth end; the capturer runs in the first namespace on the other end,
# pinned to CAP_CPU. Per run: frames that arrived (the veth's own rx
# counters), frames the capturer says it captured, and whole-machine CPU
# from /proc/stat (user + system + irq + softirq; niced work left out),
# from just before trafgen starts until the capturer has gone idle. The
# table shows, median of RUNS, captured/arrived and the CPU per arrived
# frame above the same flood with nothing capturing, plus the capturer's
# voluntary context switches (its wake-ups) per frame. Then the outgoing
# direction: trafgen -q (through the qdisc layer, where tc egress is;
# without -q it bypasses it, and packet sockets' taps too), the capturer
# on the sending end, frames counted by its tx counter. Then one hdrlog -o
# json run under strace -c -f: system calls per frame.
#
# Timed numbers: not a test, never in make check. Environment: N (300000,
# at most 5000000), RUNS (3), QUICK=1 (N=100000, RUNS=3), CAP_CPU (1),
# HDRLOG, HDRLOG_BEFORE (a second binary: its rows too, "before"), STRACE
# (1; 0 skips the strace run), EGRESS (1; 0 skips the outgoing rows).
set -eu
. "$(dirname "$0")/common.sh"

if [ "${QUICK:-0}" = 1 ]; then
	N=${N:-100000}
fi
N=${N:-300000}
RUNS=${RUNS:-3}
CAP_CPU=${CAP_CPU:-1}
STRACE=${STRACE:-1}
EGRESS=${EGRESS:-1}
HDRLOG_BEFORE=${HDRLOG_BEFORE:-}
[ "$N" -le 5000000 ] || { echo "N is at most 5000000" >&2; exit 1; }

# What the flood needs, installed as packaging/install-deps.sh would.
install_missing trafgen:netsniff-ng tcpdump:tcpdump xdpdump:xdp-tools \
	strace:strace jq:jq
need ip jq taskset trafgen

OUT_DIR=$(mktemp -d /dev/shm/hdrlog-flood.XXXXXX)
EXTRA_DIRS="$OUT_DIR"
bench_header "flood.sh: live flood of $N 64-byte UDP frames over a veth, trafgen -P 1, $RUNS runs each"

make_netns
# Frames addressed to the capturing end: the stack takes them up to UDP,
# as real traffic to a host would go (no socket: dropped there, counted).
ip -n "$NS_A" link set dev "$VETH_A" address 02:00:00:00:00:02
ip netns exec "$NS_A" sysctl -qw net.ipv4.icmp_ratelimit=1000000000
make_frame "$WORK/frame.bin"
{ printf '{ '; od -An -v -tx1 "$WORK/frame.bin" | tr -s ' \n' '  ' |
	sed 's/^ //; s/ $//; s/ /, 0x/g; s/^/0x/'; printf ' }\n'; } >"$WORK/frame.trafgen"

# Which way the flood is captured: in (capturer on $VETH_A, frames that
# arrived there) or out (capturer on $VETH_B, frames that left it);
# start_capturer runs the capturer in CAP_NS.
direction() {
	DIR=$1
	if [ "$DIR" = in ]; then CAP_NS=$NS_A; else CAP_NS=$NS_B; fi
}
direction in

# frames that arrived at $VETH_A (in), or left $VETH_B (out)
rx_packets() {
	if [ "$DIR" = in ]; then
		link_packets "$NS_A" "$VETH_A" rx
	else
		link_packets "$NS_B" "$VETH_B" tx
	fi
}

vol_switches() {
	sed -n 's/^voluntary_ctxt_switches:[[:space:]]*//p' "/proc/$1/status" 2>/dev/null || echo 0
}

# flood: sends N frames; sets ARRIVED, TICKS (machine), SWITCHES (capturer).
# The CPU window ends where the capturer last ran (settle window): the
# waiting adds no background; with nothing capturing it ends with trafgen.
flood() {
	settle
	_rx0=$(rx_packets); _t0=$(machine_ticks)
	_v0=0; [ -n "$CAP_PID" ] && _v0=$(vol_switches "$CAP_PID")
	_q=""; [ "$DIR" = out ] && _q=-q
	# shellcheck disable=SC2086
	ip netns exec "$NS_B" trafgen -o "$VETH_B" -i "$WORK/frame.trafgen" \
		-n "$N" -P 1 $_q >"$WORK/tg.out" 2>&1 || {
		echo "trafgen failed:" >&2; cat "$WORK/tg.out" >&2; exit 1; }
	settle window
	_t1=$SETTLED; _rx1=$(rx_packets)
	_v1=0; [ -n "$CAP_PID" ] && _v1=$(vol_switches "$CAP_PID")
	ARRIVED=$((_rx1 - _rx0))
	TICKS=$((_t1 - _t0))
	SWITCHES=$((_v1 - _v0))
}

ROWS=""

# config LABEL KIND READY-REGEX COMMAND...: RUNS floods with it running.
# KIND: none, tcpdump, xdpdump, hdrlog (records written), seen (hdrlog
# --sample: nothing is written, the program runs)
config() {
	_label=$1; _kind=$2; _ready=$3; shift 3
	_us=""; _ratio=""; _sw=""
	_r=0
	while [ $_r -lt "$RUNS" ]; do
		_r=$((_r + 1))
		rm -f "$OUT_DIR"/*
		if [ "$_kind" != none ]; then
			start_capturer "$WORK/cap.log" "$_ready" "$@" || {
				ROWS="$ROWS$(printf '%-46s  %s' "$_label" 'did not run')
"
				return 0; }
		fi
		flood
		stop_capturer
		case $_kind in
		tcpdump|xdpdump)
			_cap=$(sed -n 's/^\([0-9]*\) packets captured.*/\1/p' "$WORK/cap.log" | tail -1) ;;
		hdrlog)
			_cap=$(summary_value "$WORK/cap.log" 'records written') ;;
		*)	_cap="" ;;
		esac
		# what the capturer says it lost, and anything odd, as it said it
		_lost=""
		[ "$_kind" = none ] ||
			_lost=$(sed -n 's/^\([0-9]*\) \(records lost\|packets dropped\).*/\1/p' \
				"$WORK/cap.log" | paste -sd+ -)
		if [ -n "$_cap" ] && [ "$_cap" -ne "$ARRIVED" ]; then
			echo "   captured $_cap of $ARRIVED arrived; the capturer said:"
			sed 's/^/      | /' "$WORK/cap.log" | tail -12
		fi
		_us="$_us $(us_per_frame "$TICKS" "$ARRIVED")"
		_sw="$_sw $(awk -v s="$SWITCHES" -v n="$ARRIVED" 'BEGIN { printf "%.5f", (n ? s / n : 0) }')"
		[ -n "$_cap" ] && _ratio="$_ratio $(awk -v c="$_cap" -v n="$ARRIVED" 'BEGIN { printf "%.4f", (n ? c / n : 0) }')"
		printf '   %-44s run %d: arrived %d of %d, captured %s (lost %s), %d ticks, %s us/frame, %d wake-ups\n' \
			"$_label" "$_r" "$ARRIVED" "$N" "${_cap:--}" "${_lost:--}" "$TICKS" \
			"$(us_per_frame "$TICKS" "$ARRIVED")" "$SWITCHES"
	done
	# shellcheck disable=SC2086
	above_base "$_kind" %.2f $_us
	# shellcheck disable=SC2086
	ROWS="$ROWS$(printf '%-46s  %-10s  %-13s  %s' "$_label" \
		"$([ -n "$_ratio" ] && median $_ratio || echo -)" "$EXTRA" \
		"$([ "$_kind" = none ] && echo - || median $_sw)")
"
}

# Each output through each hook, named: a binary without tc is XDP only.
hdrlog_configs() {	# BINARY SUFFIX
	_b=$1; _s=$2
	_hooks="xdp"
	"$_b" --help 2>&1 | grep -q attach-ingress && _hooks="xdp tc"
	for _h in $_hooks; do
		_a=""; _l=""
		[ "$_hooks" = xdp ] || { _a="--attach-ingress $_h"; _l=" $_a"; }
		# shellcheck disable=SC2086
		config "hdrlog -w pcap$_l$_s" hdrlog 'listening on' \
			"$_b" -i "$VETH_A" $_a -w "$OUT_DIR/h.pcap"
		# shellcheck disable=SC2086
		config "hdrlog -o json$_l$_s" hdrlog 'listening on' \
			"$_b" -i "$VETH_A" $_a -o "json:$OUT_DIR/h.json"
		# shellcheck disable=SC2086
		config "hdrlog --sample 1000000$_l$_s" seen 'listening on' \
			"$_b" -i "$VETH_A" $_a --sample 1000000 -o "json:$OUT_DIR/h.json"
	done
}

# Outgoing frames on the sending end: xdpdump has no egress; a binary
# without --direction captures none.
egress_configs() {	# BINARY SUFFIX
	_b=$1; _s=$2
	"$_b" --help 2>&1 | grep -q -- --direction || return 0
	config "out: hdrlog -w pcap$_s" hdrlog 'listening on' \
		"$_b" -i "$VETH_B" --direction out -w "$OUT_DIR/h.pcap"
	config "out: hdrlog -o json$_s" hdrlog 'listening on' \
		"$_b" -i "$VETH_B" --direction out -o "json:$OUT_DIR/h.json"
	config "out: hdrlog --sample 1000000$_s" seen 'listening on' \
		"$_b" -i "$VETH_B" --direction out --sample 1000000 \
		-o "json:$OUT_DIR/h.json"
}

echo "-- runs (CPU: whole machine, user+system+irq+softirq; wake-ups: the capturer's voluntary context switches)"
config "nothing" none ''
config "tcpdump -w" tcpdump 'listening on' \
	tcpdump -i "$VETH_A" -nn -w "$OUT_DIR/t.pcap"
if command -v xdpdump >/dev/null 2>&1; then
	config "xdpdump -w (its own XDP program)" xdpdump 'listening' \
		xdpdump --load-xdp-program -i "$VETH_A" -w "$OUT_DIR/x.pcap"
fi
if [ -n "$HDRLOG_BEFORE" ] && [ -x "$HDRLOG_BEFORE" ]; then
	hdrlog_configs "$HDRLOG_BEFORE" " (before)"
fi
if [ -x "$HDRLOG" ]; then
	hdrlog_configs "$HDRLOG" ""
fi
if [ "$EGRESS" = 1 ]; then
	direction out
	ROWS="$ROWS-- outgoing: trafgen -q (qdisc path), capturer on the sending end, frames that left it
"
	config "out: nothing" none ''
	config "out: tcpdump -Q out -w" tcpdump 'listening on' \
		tcpdump -i "$VETH_B" -Q out -nn -w "$OUT_DIR/t.pcap"
	if [ -n "$HDRLOG_BEFORE" ] && [ -x "$HDRLOG_BEFORE" ]; then
		egress_configs "$HDRLOG_BEFORE" " (before)"
	fi
	[ -x "$HDRLOG" ] && egress_configs "$HDRLOG" ""
	direction in
fi

SC_LINES=""
strace_run() {	# BINARY LABEL
	command -v strace >/dev/null 2>&1 || return 0
	STRACE_HOOK=""
	"$1" --help 2>&1 | grep -q attach-ingress &&
		STRACE_HOOK="--attach-ingress xdp"
	# shellcheck disable=SC2086
	start_capturer "$WORK/cap.log" 'listening on' strace -c -f \
		-o "$WORK/strace.out" "$1" -i "$VETH_A" $STRACE_HOOK \
		-o "json:$OUT_DIR/h.json" ||
		return 0
	flood
	# strace holds SIGINT back while it traces: stop hdrlog, its child
	_child=$(pgrep -P "$CAP_PID" | head -1)
	[ -n "$_child" ] && kill -INT "$_child" 2>/dev/null
	stop_capturer
	SC_LINES="$SC_LINES$(awk -v n="$ARRIVED" -v l="$2" '
		$NF ~ /^(epoll_wait|epoll_pwait|write|lseek|ppoll|poll|recvfrom|read)$/ {
			calls = ($4 ~ /^[0-9]+$/) ? $4 : $3; c[$NF] = calls }
		END { printf "   %-24s %d frames:", l, n
		      for (k in c) printf "  %s %d (%.4f/frame)", k, c[k], c[k] / n
		      printf "\n" }' "$WORK/strace.out")
"
	rm -f "$OUT_DIR"/*
}
if [ "$STRACE" = 1 ]; then
	[ -n "$HDRLOG_BEFORE" ] && [ -x "$HDRLOG_BEFORE" ] &&
		strace_run "$HDRLOG_BEFORE" "hdrlog -o json (before)"
	[ -x "$HDRLOG" ] && strace_run "$HDRLOG" "hdrlog -o json"
fi

echo
echo "-- table: $N frames a run, median of $RUNS; extra CPU per frame above nothing capturing"
printf '%-46s  %-10s  %-13s  %s\n' capturer 'capt/arr' 'extra us/fr' 'wake-ups/frame'
printf '%s' "$ROWS"
if [ -n "$SC_LINES" ]; then
	echo
	echo "-- strace -c -f, one run each (strace slows the reader: fewer, larger batches than without)"
	printf '%s' "$SC_LINES"
fi
