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

# measure ID REPEAT -> sets MED (median ns) and RUNS_LIST
measure() {
	_vals=""
	for _r in $(seq "$RUNS"); do
		_vals="$_vals $(prog_run_ns "$1" "$FRAME" "$2" "$RUN_CPU")"
	done
	RUNS_LIST=$(echo $_vals | tr ' ' '/')
	MED=$(median $_vals)
}

# --- (a) bare XDP_PASS -------------------------------------------------------
cat >"$WORK/xdp_pass.c" <<'EOF'
#define SEC(n) __attribute__((section(n), used))
struct xdp_md;
SEC("xdp") int xdp_pass(struct xdp_md *ctx) { return 2; /* XDP_PASS */ }
char LICENSE[] SEC("license") = "GPL";
EOF
clang -O2 -target bpf -c "$WORK/xdp_pass.c" -o "$WORK/xdp_pass.o"
PASS_PIN=/sys/fs/bpf/hdrlog_bench_pass_$$
PIN_PATHS="$PIN_PATHS $PASS_PIN"
bpftool prog load "$WORK/xdp_pass.o" "$PASS_PIN" type xdp
PASS_ID=$(bpftool -j prog show pinned "$PASS_PIN" | jq .id)
measure "$PASS_ID" "$REPEAT"
row "(a) XDP_PASS (bpftool prog load)" "$MED" "$RUNS_LIST" "prog id $PASS_ID"
rm -f "$PASS_PIN"

# --- (e) bare tc program --------------------------------------------------------
cat >"$WORK/tc_ok.c" <<'EOF'
#define SEC(n) __attribute__((section(n), used))
struct __sk_buff;
SEC("tc") int tc_ok(struct __sk_buff *skb) { return 0; /* TC_ACT_OK */ }
char LICENSE[] SEC("license") = "GPL";
EOF
clang -O2 -target bpf -c "$WORK/tc_ok.c" -o "$WORK/tc_ok.o"
TC_PIN=/sys/fs/bpf/hdrlog_bench_tc_ok_$$
PIN_PATHS="$PIN_PATHS $TC_PIN"
bpftool prog load "$WORK/tc_ok.o" "$TC_PIN" type classifier
TC_ID=$(bpftool -j prog show pinned "$TC_PIN" | jq .id)
measure "$TC_ID" "$REPEAT"
TC_ROW="$MED	$RUNS_LIST	prog id $TC_ID"
rm -f "$TC_PIN"

# --- (b) xdp-filter ----------------------------------------------------------
# `ip netns exec` remounts /sys, so libxdp gets a bpffs of its own; the
# rules are added in the same shell. The program stays attached after the
# shell (and its bpffs) is gone.
ip netns exec "$NS_A" sh -ec "
	mount -t bpf bpf /sys/fs/bpf
	xdp-filter load $VETH_A
	xdp-filter ip 203.0.113.7
	xdp-filter ip 203.0.113.8 -m src
	xdp-filter ip 2001:db8::7
	xdp-filter port 9999
	xdp-filter port 12345 -p tcp
" >"$WORK/xdp-filter.log" 2>&1 || { cat "$WORK/xdp-filter.log" >&2; exit 1; }
XF_ID=$(veth_prog_id)
XF_NAME=$(veth_prog_name)
measure "$XF_ID" "$REPEAT"
row "(b) xdp-filter, 5 rules, no match" "$MED" "$RUNS_LIST" "prog $XF_NAME id $XF_ID"
ip -n "$NS_A" link set dev "$VETH_A" xdp off 2>/dev/null || true
ip netns exec "$NS_A" sh -c "mount -t bpf bpf /sys/fs/bpf; xdp-filter unload $VETH_A" \
	>/dev/null 2>&1 || true
ip -n "$NS_A" link set dev "$VETH_A" xdp off 2>/dev/null || true

# --- (c), (d) hdrlog ---------------------------------------------------------
hdrlog_counts() {	# ERRFILE -> "seen=.. written=.. lost=.. sampled=.."
	echo "seen=$(summary_value "$1" 'frames seen')" \
	     "written=$(summary_value "$1" 'records written')" \
	     "lost=$(summary_value "$1" 'records lost')" \
	     "sampled_out=$(summary_value "$1" 'frames not logged')"
}

if [ ! -x "$HDRLOG" ]; then
	row "(c) hdrlog, logging" "-" "-" "skipped: $HDRLOG not built"
	row "(d) hdrlog --sample 1000000" "-" "-" "skipped: $HDRLOG not built"
else
	# (c) consumer keeping up: every run fits in the ring, and the
	# consumer drains it (goes idle) before the next run.
	start_hdrlog "$WORK/c.err" "$HDRLOG_CPU" -o json:/dev/null \
		--ringbuf-size "$HDRLOG_RINGBUF"
	id=$(veth_prog_id); name=$(veth_prog_name)
	[ "$name" = hdrlog_xdp ] || { echo "attached prog is '$name'" >&2; exit 1; }
	vals=""
	for r in $(seq "$RUNS"); do
		vals="$vals $(prog_run_ns "$id" "$FRAME" "$HDRLOG_REPEAT" "$RUN_CPU")"
		wait_idle "$HDRLOG_PID" 120
	done
	stop_hdrlog
	row "(c) hdrlog, logging, ring never full" "$(median $vals)" \
		"$(echo $vals | tr ' ' '/')" \
		"repeat $HDRLOG_REPEAT, ring $HDRLOG_RINGBUF, json:/dev/null: $(hdrlog_counts "$WORK/c.err")"

	# (c') one burst of REPEAT into the default ring: it fills, and the
	# rest of the frames take the cheaper "reserve failed" path.
	start_hdrlog "$WORK/c2.err" "$HDRLOG_CPU" -o json:/dev/null
	id=$(veth_prog_id)
	ns=$(prog_run_ns "$id" "$FRAME" "$REPEAT" "$RUN_CPU")
	wait_idle "$HDRLOG_PID" 120
	stop_hdrlog
	row "(c') hdrlog, logging, ring fills" "$ns" "1 run" \
		"repeat $REPEAT, default ring: $(hdrlog_counts "$WORK/c2.err")"

	# (d) sampling: almost nothing reaches the ring buffer
	start_hdrlog "$WORK/d.err" "$HDRLOG_CPU" -o json:/dev/null --sample 1000000
	id=$(veth_prog_id)
	measure "$id" "$REPEAT"
	wait_idle "$HDRLOG_PID" 30
	stop_hdrlog
	row "(d) hdrlog --sample 1000000" "$MED" "$RUNS_LIST" \
		"$(hdrlog_counts "$WORK/d.err")"

	# (h) --log flows: every frame counts in its flow, nothing is
	# logged. The frame is always the same, so this is a frame of a
	# known flow (lookup, two atomic adds); the first run makes it.
	start_hdrlog "$WORK/h.err" "$HDRLOG_CPU" --log flows -o json:/dev/null
	id=$(veth_prog_id)
	measure "$id" "$REPEAT"
	stop_hdrlog
	row "(h) hdrlog --log flows, one flow" "$MED" "$RUNS_LIST" \
		"$(hdrlog_counts "$WORK/h.err")"
fi

# --- (e), (f), (g) tc --------------------------------------------------------------
IFS="$(printf '\t')" read -r _ns _runs _note <<EOF
$TC_ROW
EOF
row "(e) tc, TC_ACT_OK (bpftool prog load)" "$_ns" "$_runs" "$_note"
if [ ! -x "$HDRLOG" ]; then
	row "(f) hdrlog tc, logging" "-" "-" "skipped: $HDRLOG not built"
	row "(g) hdrlog tc --sample 1000000" "-" "-" "skipped: $HDRLOG not built"
else
	start_hdrlog "$WORK/f.err" "$HDRLOG_CPU" --attach-ingress tc \
		-o json:/dev/null --ringbuf-size "$HDRLOG_RINGBUF"
	id=$(veth_tc_prog_id)
	[ -n "$id" ] || { echo "no tcx program on $VETH_A" >&2; exit 1; }
	vals=""
	for r in $(seq "$RUNS"); do
		vals="$vals $(prog_run_ns "$id" "$FRAME" "$HDRLOG_REPEAT" "$RUN_CPU")"
		wait_idle "$HDRLOG_PID" 120
	done
	stop_hdrlog
	row "(f) hdrlog tc, logging, ring never full" "$(median $vals)" \
		"$(echo $vals | tr ' ' '/')" \
		"repeat $HDRLOG_REPEAT, ring $HDRLOG_RINGBUF, json:/dev/null: $(hdrlog_counts "$WORK/f.err")"

	start_hdrlog "$WORK/g.err" "$HDRLOG_CPU" --attach-ingress tc \
		-o json:/dev/null --sample 1000000
	id=$(veth_tc_prog_id)
	measure "$id" "$REPEAT"
	wait_idle "$HDRLOG_PID" 30
	stop_hdrlog
	row "(g) hdrlog tc --sample 1000000" "$MED" "$RUNS_LIST" \
		"$(hdrlog_counts "$WORK/g.err")"
fi

# --- (i), (j) hdrlog --respond (issue 14) --------------------------------------
# The per-source counters on the XDP path, with the example policies of
# respond_bench.sh but action = log: the bench frame (one source,
# 198.51.100.1) crosses the rate thresholds, and a block would turn the
# runs into drops. Every run after the first finds the source's entry: this
# is the lookup + atomic adds path (plus one hot-queue push per window and
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
	row "(i) hdrlog, logging, --respond" "-" "-" "skipped: $HDRLOG not built"
	row "(j) hdrlog --sample 1000000 --respond" "-" "-" "skipped: $HDRLOG not built"
else
	start_hdrlog "$WORK/h.err" "$HDRLOG_CPU" -o json:/dev/null \
		--ringbuf-size "$HDRLOG_RINGBUF" --respond "$WORK/respond.conf"
	id=$(veth_prog_id)
	vals=""
	for r in $(seq "$RUNS"); do
		vals="$vals $(prog_run_ns "$id" "$FRAME" "$HDRLOG_REPEAT" "$RUN_CPU")"
		wait_idle "$HDRLOG_PID" 120
	done
	stop_hdrlog
	row "(i) hdrlog, logging, --respond" "$(median $vals)" \
		"$(echo $vals | tr ' ' '/')" \
		"as (c), 6 log policies: $(hdrlog_counts "$WORK/h.err")"

	start_hdrlog "$WORK/i.err" "$HDRLOG_CPU" -o json:/dev/null \
		--sample 1000000 --respond "$WORK/respond.conf"
	id=$(veth_prog_id)
	measure "$id" "$REPEAT"
	wait_idle "$HDRLOG_PID" 30
	stop_hdrlog
	row "(j) hdrlog --sample 1000000 --respond" "$MED" "$RUNS_LIST" \
		"as (d), 6 log policies: $(hdrlog_counts "$WORK/i.err")"
fi

# --- table ---------------------------------------------------------------------
printf '%-40s %9s  %-22s %s\n' program ns/frame "runs (ns)" note
printf '%-40s %9s  %-22s %s\n' ---------------------------------------- --------- ---------------------- ----
while IFS="$(printf '\t')" read -r prog ns runs note; do
	printf '%-40s %9s  %-22s %s\n' "$prog" "$ns" "$runs" "$note"
done <"$ROWS"
