#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Per-frame cost of XDP programs, measured in the kernel with BPF_PROG_RUN
# (bpftool prog run ... repeat N) on one 64-byte UDP frame:
#   (a) a bare XDP_PASS program
#   (b) xdp-filter (xdp-tools) with a few ip/port rules, on a veth
#   (c) hdrlog_xdp with logging on, consumer keeping up (json:/dev/null,
#       big ring buffer, drained between runs), and once more with one
#       repeat-10^7 burst into the default ring buffer (it fills)
#   (d) hdrlog_xdp with --sample 1000000
#   (h) hdrlog_xdp with --log flows (the frame's flow exists: one flow)
# and the tc programs (sched_cls; BPF_PROG_RUN builds an skb of the frame):
#   (e) a bare tc program returning TC_ACT_OK
#   (f) hdrlog_tc_ingress (--attach-ingress tc), logging, as (c)
#   (g) hdrlog_tc_ingress with --sample 1000000
# and with hdrlog's per-source counters (--respond, log policies only):
#   (i) as (c) with --respond, (j) as (d) with --respond
# Prints a table; no pass/fail. Needs root, clang, bpftool, jq, xdp-tools.
#
# Environment: REPEAT (default 10000000), RUNS (default 5),
#   HDRLOG_REPEAT (per run for (c), default 2000000: must fit the ring),
#   HDRLOG_RINGBUF (for (c), default 1G), HDRLOG (binary path).
set -eu
. "$(dirname "$0")/common.sh"

REPEAT=${REPEAT:-10000000}
RUNS=${RUNS:-5}
HDRLOG_REPEAT=${HDRLOG_REPEAT:-2000000}
HDRLOG_RINGBUF=${HDRLOG_RINGBUF:-1G}
RUN_CPU=1	# BPF_PROG_RUN here
HDRLOG_CPU=0	# hdrlog's consumer here

bench_header "xdp_cost: ns per 64-byte frame via BPF_PROG_RUN"
need clang bpftool jq xdp-filter ip taskset
echo "repeat $REPEAT per run, median of $RUNS runs, prog run pinned to CPU $RUN_CPU"
echo

FRAME=$WORK/frame.bin
make_frame "$FRAME"
make_netns

ROWS=$WORK/rows
: >"$ROWS"
row() {	# program, ns/frame, runs, note
	printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$ROWS"
}

# --- (a) bare XDP_PASS -------------------------------------------------------
load_bare xdp
measure "$BARE_ID" "$FRAME" "$REPEAT"
row "(a) XDP_PASS (bpftool prog load)" "$MED" "$RUNS_LIST" "prog id $BARE_ID"
rm -f "$BARE_PIN"

# --- (e) bare tc program --------------------------------------------------------
load_bare tc
measure "$BARE_ID" "$FRAME" "$REPEAT"
TC_ROW="$MED	$RUNS_LIST	prog id $BARE_ID"
rm -f "$BARE_PIN"

# --- (b) xdp-filter ----------------------------------------------------------
xdp_filter_load 203.0.113.7 203.0.113.8 2001:db8::7
XF_ID=$(veth_prog_id)
XF_NAME=$(veth_prog_name)
measure "$XF_ID" "$FRAME" "$REPEAT"
row "(b) xdp-filter, 5 rules, no match" "$MED" "$RUNS_LIST" "prog $XF_NAME id $XF_ID"
xdp_filter_unload

# --- (c), (d) hdrlog ---------------------------------------------------------
hdrlog_counts() {	# ERRFILE -> "seen=.. written=.. lost=.. sampled=.."
	echo "seen=$(summary_value "$1" 'frames seen')" \
	     "written=$(summary_value "$1" 'records written')" \
	     "lost=$(summary_value "$1" 'records lost')" \
	     "sampled_out=$(summary_value "$1" 'frames not logged')"
}

# hdrlog_row LABEL HOOK HOW NOTE ARGS...: hdrlog -o json:/dev/null ARGS
# through HOOK (xdp, or tc: --attach-ingress tc), its program timed as HOW
# says, and a row: the figures, NOTE and hdrlog's counters. HOW:
#   drain  RUNS runs of HDRLOG_REPEAT, the consumer drained (idle) after
#          each: with a --ringbuf-size in ARGS that every run fits in,
#          the ring is never full
#   burst  one run of REPEAT (into the default ring: it fills, and the
#          rest of the frames take the cheaper "reserve failed" path)
#   runs   RUNS runs of REPEAT, then the consumer drained
HROWS=0
hdrlog_row() {
	_label=$1; _hook=$2; _how=$3; _note=$4; shift 4
	HROWS=$((HROWS + 1)); _err=$WORK/hdrlog$HROWS.err
	if [ "$_hook" = tc ]; then
		start_hdrlog "$_err" "$HDRLOG_CPU" --attach-ingress tc \
			-o json:/dev/null "$@"
		_prog=$(veth_tc_prog_id)
		[ -n "$_prog" ] || { echo "no tcx program on $VETH_A" >&2; exit 1; }
	else
		start_hdrlog "$_err" "$HDRLOG_CPU" -o json:/dev/null "$@"
		_prog=$(veth_prog_id); _name=$(veth_prog_name)
		[ "$_name" = hdrlog_xdp ] ||
			{ echo "attached prog is '$_name'" >&2; exit 1; }
	fi
	case $_how in
	drain)
		measure "$_prog" "$FRAME" "$HDRLOG_REPEAT" wait_idle "$HDRLOG_PID" 120
		;;
	burst)
		MED=$(prog_run_ns "$_prog" "$FRAME" "$REPEAT" "$RUN_CPU")
		RUNS_LIST="1 run"
		wait_idle "$HDRLOG_PID" 120
		;;
	runs)
		measure "$_prog" "$FRAME" "$REPEAT"
		wait_idle "$HDRLOG_PID" 30
		;;
	esac
	stop_hdrlog
	row "$_label" "$MED" "$RUNS_LIST" "${_note:+$_note: }$(hdrlog_counts "$_err")"
}

# hdrlog_skipped LABEL...: a "not built" row each
hdrlog_skipped() {
	for _label in "$@"; do
		row "$_label" "-" "-" "skipped: $HDRLOG not built"
	done
}

DRAIN_NOTE="repeat $HDRLOG_REPEAT, ring $HDRLOG_RINGBUF, json:/dev/null"
if [ ! -x "$HDRLOG" ]; then
	hdrlog_skipped "(c) hdrlog, logging" "(d) hdrlog --sample 1000000"
else
	hdrlog_row "(c) hdrlog, logging, ring never full" xdp drain \
		"$DRAIN_NOTE" --ringbuf-size "$HDRLOG_RINGBUF"
	hdrlog_row "(c') hdrlog, logging, ring fills" xdp burst \
		"repeat $REPEAT, default ring"
	# sampling: almost nothing reaches the ring buffer
	hdrlog_row "(d) hdrlog --sample 1000000" xdp runs "" --sample 1000000
	# --log flows: every frame counts in its flow, nothing is logged.
	# The frame is always the same, so this is a frame of a known flow
	# (lookup, two atomic adds); the first run makes it.
	hdrlog_row "(h) hdrlog --log flows, one flow" xdp runs "" --log flows
fi

# --- (e), (f), (g) tc --------------------------------------------------------------
IFS="$(printf '\t')" read -r _ns _runs _note <<EOF
$TC_ROW
EOF
row "(e) tc, TC_ACT_OK (bpftool prog load)" "$_ns" "$_runs" "$_note"
if [ ! -x "$HDRLOG" ]; then
	hdrlog_skipped "(f) hdrlog tc, logging" "(g) hdrlog tc --sample 1000000"
else
	hdrlog_row "(f) hdrlog tc, logging, ring never full" tc drain \
		"$DRAIN_NOTE" --ringbuf-size "$HDRLOG_RINGBUF"
	hdrlog_row "(g) hdrlog tc --sample 1000000" tc runs "" --sample 1000000
fi

# --- (i), (j) hdrlog --respond (issue 14) --------------------------------------
# The per-source counters on the XDP path, with the example policies of
# respond_bench.sh but action = log: the bench frame (one source,
# 198.51.100.1) crosses the rate thresholds, and a block would turn the
# runs into drops. Every run after the first finds the source's entry: this
# is the lookup + atomic adds path (plus one hot-ring notice per window and
# measure), not the insert of a new source.
cat >"$WORK/respond.conf" <<'EOF'
window = 1s
[policy syn-flood]
detector = syn
threshold = 200/s
[policy port-scan]
detector = port-scan
threshold = 50
[policy host-scan]
detector = host-scan
threshold = 50
[policy udp-flood]
detector = packet-rate
threshold = 1000/s
[policy bytes]
detector = byte-rate
threshold = 5000000/s
[policy surge]
detector = baseline
history = 20s
EOF
if [ ! -x "$HDRLOG" ]; then
	hdrlog_skipped "(i) hdrlog, logging, --respond" \
		"(j) hdrlog --sample 1000000 --respond"
else
	hdrlog_row "(i) hdrlog, logging, --respond" xdp drain \
		"as (c), 6 log policies" --ringbuf-size "$HDRLOG_RINGBUF" \
		--respond "$WORK/respond.conf"
	hdrlog_row "(j) hdrlog --sample 1000000 --respond" xdp runs \
		"as (d), 6 log policies" --sample 1000000 \
		--respond "$WORK/respond.conf"
fi

# --- table ---------------------------------------------------------------------
printf '%-40s %9s  %-22s %s\n' program ns/frame "runs (ns)" note
printf '%-40s %9s  %-22s %s\n' ---------------------------------------- --------- ---------------------- ----
while IFS="$(printf '\t')" read -r prog ns runs note; do
	printf '%-40s %9s  %-22s %s\n' "$prog" "$ns" "$runs" "$note"
done <"$ROWS"
