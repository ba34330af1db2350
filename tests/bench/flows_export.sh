#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# flows_export.sh: what hdrlog's export of every open flow at exit costs
# (issue 13), on flows_bench.sh's 1m set.
#
# Per run: hdrlog --log flows --flow-table MAX_FLOWS -o OUTPUT starts in
# the first namespace pinned to CAP_CPU, under a small wrapper that
# reports the rusage of its exit (wait4); trafgen sends N_1M frames of the
# 1m set (1,036,288 distinct flows, about two frames a flow) as in
# flows_bench.sh; once hdrlog has handled them (settle), its CPU so far is
# read from /proc/PID/stat and it gets SIGINT, on which it exports every
# flow (reason shutdown) and exits. The export's CPU is the exit rusage
# minus that reading (user and system apart; /proc/PID/stat counts clock
# ticks, so each figure is good to a tick, 10 ms here), its wall time is
# from SIGINT to the wrapper seeing the exit; the records hdrlog wrote
# (its summary's "records written": the CPU figure is per one of these);
# and the records out: the same for JSON, the flow records an nfcapd on
# the namespace's loopback received for -o ipfix (UDP: it may lose some).
#
# OUTPUTS ("json ipfix") in that order, each for HDRLOG and, with
# HDRLOG_BEFORE=BINARY, that binary too, interleaved (before, after,
# before, ...) as the VM's speed drifts, RUNS (3) rounds; the table has
# the medians and min..max of the export's CPU (and per record), its
# user part, the wall time, the records written and out. KEEP=DIR keeps
# the last run's JSON output of each build there (f.json.before,
# f.json.after) for a diff of the two builds' records (tests/bench/README
# says how).
# PERF=FILE profiles HDRLOG's exports (perf record -g, 4999 Hz, from just
# before SIGINT to the exit) into FILE.json and FILE.ipfix. JSON goes
# to a tmpfs directory of its own. Timed numbers: not a test, never in
# make check. Environment: N_1M (2100000), RUNS (3), OUTPUTS, CAP_CPU
# (1), MAX_FLOWS (2000000), NFCAPD_PORT (14739), HDRLOG, HDRLOG_BEFORE,
# KEEP, PERF.
set -eu
. "$(dirname "$0")/common.sh"

N_1M=${N_1M:-2100000}
RUNS=${RUNS:-3}
OUTPUTS=${OUTPUTS:-json ipfix}
CAP_CPU=${CAP_CPU:-1}
MAX_FLOWS=${MAX_FLOWS:-2000000}
NFCAPD_PORT=${NFCAPD_PORT:-14739}
HDRLOG_BEFORE=${HDRLOG_BEFORE:-}
KEEP=${KEEP:-}
PERF=${PERF:-}
[ "$N_1M" -le 5000000 ] || { echo "N_1M is at most 5000000" >&2; exit 1; }

install_missing trafgen:netsniff-ng nfcapd:nfdump jq:jq
need ip jq taskset trafgen
[ -x "$HDRLOG" ] || { echo "no hdrlog at $HDRLOG: build it first" >&2; exit 1; }
case " $OUTPUTS " in *" ipfix "*) need nfcapd ;; esac

OUT_DIR=$(mktemp -d /dev/shm/hdrlog-export.XXXXXX)
EXTRA_DIRS="$OUT_DIR"
bench_header "flows_export.sh: hdrlog's export of every open flow at SIGINT, 1m set ($N_1M frames), $RUNS rounds${HDRLOG_BEFORE:+, interleaved with $HDRLOG_BEFORE (before)}"

make_flows_netns
trafgen_conf 1m >"$WORK/frames.trafgen"

# The wrapper: runs its command as a child, prints the child's pid to
# PIDFILE, and at its exit "utime stime exit-time status" to OUTFILE. It
# ignores SIGINT: the script signals hdrlog itself.
cat >"$WORK/ru.py" <<'EOF'
import os, signal, sys, time
out, pidfile = sys.argv[1], sys.argv[2]
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[3], sys.argv[3:])
signal.signal(signal.SIGINT, signal.SIG_IGN)
with open(pidfile, 'w') as f:
    f.write('%d\n' % pid)
_, status, ru = os.wait4(pid, 0)
now = time.time()
with open(out, 'w') as f:
    f.write('%.6f %.6f %.6f %d\n' % (ru.ru_utime, ru.ru_stime, now, status))
EOF

# proc_ticks PID FIELD: utime (14) or stime (15) of PID, in ticks
proc_ticks() {
	awk -v f="$2" '{ print $f }' "/proc/$1/stat"
}

# run_one LABEL BINARY OUTPUT: one run; appends its figures to
# $WORK/res.OUTPUT.LABEL: cpu user wall records-out records-written
run_one() {
	_label=$1; _bin=$2; _output=$3
	rm -rf "${OUT_DIR:?}"/* "$WORK/ru.out" "$WORK/ru.pid"
	case $_output in
	json)	_spec="json:$OUT_DIR/f.json" ;;
	ipfix)	start_nfcapd; _spec="ipfix://127.0.0.1:$NFCAPD_PORT" ;;
	esac
	start_capturer "$WORK/cap.log" 'listening on' "$PY" "$WORK/ru.py" \
		"$WORK/ru.out" "$WORK/ru.pid" "$_bin" -i "$VETH_A" \
		--log flows --flow-table "$MAX_FLOWS" -o "$_spec" || exit 1
	_wrap=$CAP_PID
	_pid=$(cat "$WORK/ru.pid")
	BG_PIDS="$BG_PIDS $_pid"
	CAP_PID=$_pid	# settle watches hdrlog, not the wrapper
	settle
	ip netns exec "$NS_B" trafgen -o "$VETH_B" -i "$WORK/frames.trafgen" \
		-n "$N_1M" -P 1 >"$WORK/tg.out" 2>&1 || {
		echo "trafgen failed:" >&2; cat "$WORK/tg.out" >&2; exit 1; }
	settle
	_u0=$(proc_ticks "$_pid" 14); _s0=$(proc_ticks "$_pid" 15)
	_perf=""
	if [ -n "$PERF" ] && [ "$_label" = after ]; then
		perf record -q -F 4999 -g -p "$_pid" -o "$PERF.$_output" \
			>/dev/null 2>&1 &
		_perf=$!
		sleep 0.5	# perf attached (its start is not timed)
	fi
	_t0=$(date +%s.%N)
	kill -INT "$_pid"
	stop_pid "$_wrap" "" 600	# the wrapper exits when hdrlog has
	CAP_PID=""
	[ -z "$_perf" ] || wait "$_perf" || true
	BG_PIDS=$(echo "$BG_PIDS" | tr ' ' '\n' | grep -vx "$_pid" | tr '\n' ' ')
	[ -s "$WORK/ru.out" ] || { echo "hdrlog did not exit in 60 s" >&2; exit 1; }
	_written=$(summary_value "$WORK/cap.log" 'records written')
	case $_output in
	json)	_out=$_written
		[ -z "$KEEP" ] || cp "$OUT_DIR/f.json" "$KEEP/f.json.$_label" ;;
	ipfix)	stop_nfcapd; _out=$NF_FLOWS ;;
	esac
	read -r _ru _rs _t1 _st <"$WORK/ru.out"
	awk -v ru="$_ru" -v rs="$_rs" -v u0="$_u0" -v s0="$_s0" -v hz="$HZ" \
	    -v t0="$_t0" -v t1="$_t1" -v out="${_out:-0}" -v wr="${_written:-0}" 'BEGIN {
		printf "%.3f %.3f %.3f %d %d\n", ru + rs - (u0 + s0) / hz,
			ru - u0 / hz, t1 - t0, out, wr }' >>"$WORK/res.$_output.$_label"
	tail -1 "$WORK/res.$_output.$_label" | {
		read -r _c _u _w _o _r
		printf '   %-5s %-6s run %d: export CPU %s s (user %s), wall %s s, records written %s, out %s, exit status %s\n' \
			"$_output" "$_label" "$ROUND" "$_c" "$_u" "$_w" "$_r" "$_o" "$_st"; }
}

echo "-- runs"
ROUND=0
while [ $ROUND -lt "$RUNS" ]; do
	ROUND=$((ROUND + 1))
	for output in $OUTPUTS; do
		[ -z "$HDRLOG_BEFORE" ] || run_one before "$HDRLOG_BEFORE" "$output"
		run_one after "$HDRLOG" "$output"
	done
done

# med FILE N: the median of column N of FILE (one run a line), %.3f
med() {
	# shellcheck disable=SC2046  # numbers, one a word
	awk -v m="$(median $(awk -v n="$2" '{ print $n }' "$1"))" \
		'BEGIN { printf "%.3f", m }'
}

# range FILE N: min..max of column N of FILE
range() {
	awk -v n="$2" '{ print $n }' "$1" | sort -n |
		awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.3f..%.3f", lo, hi }'
}

echo
echo "-- table: median (min..max) of $RUNS runs; CPU is hdrlog's own from SIGINT to its exit, per record written"
printf '%-6s %-7s %-24s %-10s %-24s %-7s %-9s %s\n' output build 'export CPU s' \
	'us/record' 'user s' 'wall s' written 'out'
for output in $OUTPUTS; do
	for label in before after; do
		_f="$WORK/res.$output.$label"
		[ -s "$_f" ] || continue
		_cpu=$(med "$_f" 1)
		_rec=$(med "$_f" 5)
		printf '%-6s %-7s %-24s %-10s %-24s %-7s %-9.0f %.0f\n' "$output" "$label" \
			"$_cpu ($(range "$_f" 1))" \
			"$(awk -v c="$_cpu" -v r="$_rec" 'BEGIN { printf "%.3f", r ? c / r * 1e6 : 0 }')" \
			"$(med "$_f" 2) ($(range "$_f" 2))" "$(med "$_f" 3)" "$_rec" \
			"$(med "$_f" 4)"
	done
done
