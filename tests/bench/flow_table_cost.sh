#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# flow_table_cost.sh: the kernel's cost per frame of hdrlog's flow table
# (--log flows) at many distinct flows, by BPF_PROG_RUN of the attached
# XDP program (flow_prog_run.c, built here with cc and libbpf): FLOWS
# (1000000) UDP flows, each flow's first frame (new flows), then each
# flow again in order (known flows, as a replayed capture brings them),
# then again shuffled (known flows, no order to help the caches). Each
# run starts a fresh hdrlog with --log flows --flow-table MAX_FLOWS
# (2000000), pinned to CPU 0; BPF_PROG_RUN runs pinned to CPU 1.
#
# Rows, interleaved in RUNS (5) rounds, as the VM's speed drifts: HDRLOG;
# HDRLOG_B when set (another build, e.g. main's, to compare); and a floor,
# HDRLOG with --sample 1000000 and no flows (the parse and counters every
# frame pays, and BPF_PROG_RUN's own cost): a row minus the floor is the
# flow table's. Medians and min..max in ns a frame, and each build's flow
# maps' memory (bytes_memlock). Timed numbers: not a test, never in make
# check. Environment: FLOWS, MAX_FLOWS, RUNS, HDRLOG, HDRLOG_B.
set -eu
. "$(dirname "$0")/common.sh"

FLOWS=${FLOWS:-1000000}
MAX_FLOWS=${MAX_FLOWS:-2000000}
RUNS=${RUNS:-5}
HDRLOG_B=${HDRLOG_B:-}

bench_header "flow_table_cost: ns per frame of the flow table via BPF_PROG_RUN"
need cc bpftool jq ip taskset
# shellcheck disable=SC2153  # HDRLOG: common.sh's
[ -x "$HDRLOG" ] || { echo "no hdrlog at $HDRLOG" >&2; exit 1; }
[ -z "$HDRLOG_B" ] || [ -x "$HDRLOG_B" ] ||
	{ echo "no hdrlog at $HDRLOG_B" >&2; exit 1; }
echo "$FLOWS flows, --flow-table $MAX_FLOWS, median of $RUNS rounds"
[ -z "$HDRLOG_B" ] || echo "A: $HDRLOG   B: $HDRLOG_B"
echo

cc -O2 -Wall -I "$TOP_DIR/tests/helpers" -o "$WORK/flow_prog_run" \
	"$BENCH_DIR/flow_prog_run.c" -lbpf
make_netns

# one_run ROW BINARY ARGS...: one hdrlog, one flow_prog_run; appends its
# three figures to $WORK/ROW.{new,inorder,random}, its maps to ROW.mem
one_run() {
	_row=$1; _bin=$2; shift 2
	_a=$HDRLOG
	HDRLOG=$_bin
	start_hdrlog "$WORK/$_row.err" 0 -o json:/dev/null "$@"
	HDRLOG=$_a
	_prog=$(veth_prog_id)
	[ -n "$_prog" ] || { echo "no XDP program on $VETH_A" >&2; exit 1; }
	if [ ! -f "$WORK/$_row.mem" ]; then
		for _f in /proc/"$HDRLOG_PID"/fdinfo/*; do
			_id=$(sed -n 's/^map_id:[[:space:]]*//p' "$_f" 2>/dev/null)
			[ -n "$_id" ] || continue
			bpftool -j map show id "$_id" 2>/dev/null | jq -r '
				select(.name | test("flow")) |
				"\(.name) \(.bytes_memlock)"'
		done | sort -u | awk '{ printf "%s %s, ", $1, $2; t += $2 }
			END { printf "total %d bytes\n", t }' >"$WORK/$_row.mem"
	fi
	# shellcheck disable=SC2046  # three words
	set -- $(taskset -c 1 "$WORK/flow_prog_run" "$_prog" "$FLOWS")
	stop_hdrlog
	echo "$2" >>"$WORK/$_row.new"
	echo "$4" >>"$WORK/$_row.inorder"
	echo "$6" >>"$WORK/$_row.random"
	echo "   round $_round $_row: new $2, known in order $4, known shuffled $6 ns/frame"
}

FLOW_ARGS="--log flows --flow-table $MAX_FLOWS --flow-idle-timeout 60"
for _round in $(seq "$RUNS"); do
	# shellcheck disable=SC2086  # words
	one_run A "$HDRLOG" $FLOW_ARGS
	# shellcheck disable=SC2086
	[ -z "$HDRLOG_B" ] || one_run B "$HDRLOG_B" $FLOW_ARGS
	one_run floor "$HDRLOG" --sample 1000000
done

# stat ROW WHAT: median (min..max)
stat() {
	# shellcheck disable=SC2046
	printf '%s (%s..%s)' "$(median $(cat "$WORK/$1.$2"))" \
		"$(sort -n "$WORK/$1.$2" | head -1)" "$(sort -n "$WORK/$1.$2" | tail -1)"
}

echo
echo "-- ns per frame, BPF_PROG_RUN: median (min..max) of $RUNS rounds"
printf '%-6s %-24s %-24s %s\n' row new 'known, in order' 'known, shuffled'
for _row in A B floor; do
	[ -f "$WORK/$_row.new" ] || continue
	printf '%-6s %-24s %-24s %s\n' "$_row" "$(stat $_row new)" \
		"$(stat $_row inorder)" "$(stat $_row random)"
done
echo
echo "-- flow maps (bytes_memlock)"
for _row in A B; do
	[ -f "$WORK/$_row.mem" ] && echo "   $_row: $(cat "$WORK/$_row.mem")"
done
