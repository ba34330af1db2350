#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Records per second from the ring buffer to a JSON file, hdrlog pinned to
# one CPU, frames generated in the kernel with BPF_PROG_RUN on the other
# CPU (so generation costs hdrlog nothing):
#   0. peer anchor: tcpdump -r of a 500k-frame pcap, -nn -tttt -e, to a file
#   1. flat out: one burst of N frames into a ring buffer big enough to hold
#      them all (1G), hdrlog -c N; rate = N / (burst start -> hdrlog exit).
#      Default fields to tmpfs and to disk; also to /dev/null (formatting
#      only) and with a 5-field --fields list.
#   2. sustained: paced generation at rising rates for DURATION s each with
#      a 64M ring buffer; stops at the first rate that loses records.
#   3. with PROFILE=1 (or PROFILE=auto, the default, when the flat-out rate
#      is below TARGET lines/s) one flat-out run under perf record
#      --call-graph dwarf, and the top hot spots.
# Prints figures; no pass/fail.
#
# Environment: N (default 4000000), RUNS (3), DURATION (5), RATES,
#   TARGET (2000000), PROFILE (auto|1|0), PCAP_FRAMES (500000), HDRLOG.
set -eu
. "$(dirname "$0")/common.sh"

N=${N:-4000000}
RUNS=${RUNS:-3}
DURATION=${DURATION:-5}
RATES=${RATES:-"250000 500000 750000 1000000 1500000 2000000"}
TARGET=${TARGET:-2000000}
PROFILE=${PROFILE:-auto}
PCAP_FRAMES=${PCAP_FRAMES:-500000}
SMALL_FIELDS=timestamp,src_ip,dest_ip,src_port,dest_port
HDRLOG_CPU=0
GEN_CPU=1

TMPFS_DIR=$(mktemp -d /dev/shm/hdrlog-bench.XXXXXX)
EXTRA_DIRS="$TMPFS_DIR"
DISK_DIR=$(mktemp -d /var/tmp/hdrlog-bench.XXXXXX)
EXTRA_DIRS="$TMPFS_DIR $DISK_DIR"
SHM_FS=$(fs_type "$TMPFS_DIR")
DISK_FS=$(fs_type "$DISK_DIR")

bench_header "json_rate: ring buffer -> JSON lines per second, one CPU"
need bpftool jq ip taskset tcpdump
echo "hdrlog (and tcpdump) pinned to CPU $HDRLOG_CPU, BPF_PROG_RUN on CPU $GEN_CPU"
echo "files: $TMPFS_DIR ($SHM_FS), $DISK_DIR ($DISK_FS)"
echo

FRAME=$WORK/frame.bin
make_frame "$FRAME"

now() { date +%s.%N; }
rate() { awk -v n="$1" -v t="$2" 'BEGIN { printf "%.0f", (t > 0 ? n / t : 0) }'; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
# only ever remove our own output files
rm_out() {
	case "$1" in
	"$TMPFS_DIR"/*|"$DISK_DIR"/*) rm -f "$1" ;;
	esac
}

# --- 0. peer anchor: tcpdump -r ----------------------------------------------
"$PY" - "$WORK/anchor.pcap" "$PCAP_FRAMES" <<'EOF'
import struct, sys
path, n = sys.argv[1], int(sys.argv[2])
def frame(i):
    payload = b'\x00' * 22
    udp = struct.pack('!HHHH', 1024 + i % 60000, 53, 30, 0) + payload
    ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 50, i & 0xffff, 0, 64, 17, 0,
                     bytes([198, 51, 100, 1 + i % 250]), bytes([203, 0, 113, 2]))
    return bytes.fromhex('020000000002020000000001') + b'\x08\x00' + ip + udp
with open(path, 'wb') as f:
    f.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    t = 1700000000
    for i in range(n):
        fr = frame(i)
        f.write(struct.pack('<IIII', t + i // 1000000, i % 1000000, len(fr), len(fr)))
        f.write(fr)
EOF
echo "-- peer anchor: tcpdump -r ($PCAP_FRAMES 64-byte UDP frames) -nn -tttt -e > file, median of $RUNS"
TCPDUMP_RATE=0
for d in "$TMPFS_DIR" "$DISK_DIR"; do
	ts=""
	for r in $(seq "$RUNS"); do
		t0=$(now)
		taskset -c "$HDRLOG_CPU" tcpdump -r "$WORK/anchor.pcap" -nn -tttt -e \
			>"$d/tcpdump.txt" 2>/dev/null
		t1=$(now)
		ts="$ts $(secs "$t0" "$t1")"
	done
	lines=$(wc -l <"$d/tcpdump.txt")
	bytes=$(stat -c %s "$d/tcpdump.txt")
	t=$(median $ts)
	r=$(rate "$lines" "$t")
	[ "$d" = "$TMPFS_DIR" ] && TCPDUMP_RATE=$r
	printf '   tcpdump -> %-6s %8s lines/s  (%d lines, %d bytes/line, %ss; runs%s)\n' \
		"$(fs_type "$d")" "$r" "$lines" $((bytes / lines)) "$t" "$ts"
	rm_out "$d/tcpdump.txt"
done
echo

if [ ! -x "$HDRLOG" ]; then
	echo "-- hdrlog: skipped, $HDRLOG not built"
	exit 0
fi

make_netns

# --- 1. flat out -------------------------------------------------------------
# flat_out OUTFILE LABEL [HDRLOG ARGS...]: one burst of N, prints one line,
# sets FLAT_RATE. PERF_DATA set: record a profile of hdrlog meanwhile.
flat_out() {
	_out=$1; _label=$2; shift 2
	rm_out "$_out"
	start_hdrlog "$WORK/flat.err" "$HDRLOG_CPU" -o "json:$_out" -c "$N" \
		--ringbuf-size 1G "$@"
	_id=$(veth_prog_id)
	_perfpid=""
	if [ -n "${PERF_DATA:-}" ]; then
		perf record -q --call-graph dwarf,16384 -F 1999 -p "$HDRLOG_PID" \
			-o "$PERF_DATA" >/dev/null 2>&1 &
		_perfpid=$!
		BG_PIDS="$BG_PIDS $_perfpid"
		sleep 0.5
	fi
	_c0=$(cpu_ticks "$HDRLOG_PID")
	_t0=$(now)
	taskset -c "$GEN_CPU" bpftool prog run id "$_id" data_in "$FRAME" \
		repeat "$N" >/dev/null
	_tgen=$(now)
	# hdrlog exits by itself after N records (bounded wait: 300 s)
	_i=0; _c1=$_c0
	while kill -0 "$HDRLOG_PID" 2>/dev/null && [ $_i -lt 6000 ]; do
		_c=$(cpu_ticks "$HDRLOG_PID"); [ "$_c" -gt 0 ] && _c1=$_c
		sleep 0.05; _i=$((_i + 1))
	done
	_t1=$(now)
	stop_hdrlog
	if [ -n "$_perfpid" ]; then
		kill -INT "$_perfpid" 2>/dev/null || true
		wait "$_perfpid" 2>/dev/null || true
		BG_PIDS=$(echo "$BG_PIDS" | tr ' ' '\n' | grep -vx "$_perfpid" | tr '\n' ' ')
	fi
	_el=$(secs "$_t0" "$_t1")
	_w=$(summary_value "$WORK/flat.err" 'records written')
	_l=$(summary_value "$WORK/flat.err" 'records lost')
	_shape="-"
	if [ -f "$_out" ]; then
		_lines=$(wc -l <"$_out")
		_bytes=$(stat -c %s "$_out")
		_shape="$_lines lines, $((_lines ? _bytes / _lines : 0)) B/line"
	fi
	_cpu=$(awk -v c="$((_c1 - _c0))" -v hz="$(getconf CLK_TCK)" -v t="$_el" \
		'BEGIN { printf "%.0f", 100 * c / hz / t }')
	FLAT_RATE=$(rate "${_w:-0}" "$_el")
	printf '   %-22s %8s lines/s  written %s lost %s (%s) %ss, burst %ss, CPU ~%s%%\n' \
		"$_label" "$FLAT_RATE" "${_w:-?}" "${_l:-?}" "$_shape" "$_el" \
		"$(secs "$_t0" "$_tgen")" "$_cpu"
	rm_out "$_out"
}

# flat_series OUTFILE LABEL RUNS [ARGS]: RUNS runs, prints the median; sets MED
flat_series() {
	_o=$1; _lb=$2; _n=$3; shift 3
	_rs=""
	for _r in $(seq "$_n"); do
		flat_out "$_o" "$_lb" "$@"
		_rs="$_rs $FLAT_RATE"
	done
	MED=$(median $_rs)
	echo "   => $_lb: median $MED lines/s"
}

echo "-- hdrlog flat out: burst of $N frames, ring 1G, hdrlog -c $N"
flat_series "$TMPFS_DIR/hdrlog.json" "default fields, $SHM_FS" "$RUNS"
FLAT_TMPFS=$MED
flat_series "$DISK_DIR/hdrlog.json" "default fields, $DISK_FS" "$RUNS"
FLAT_DISK=$MED
flat_series /dev/null "default fields, /dev/null" 2
FLAT_NULL=$MED
flat_series "$TMPFS_DIR/hdrlog.json" "5 fields, $SHM_FS" 2 --fields "$SMALL_FIELDS"
FLAT_SMALL=$MED
echo "   (5 fields: $SMALL_FIELDS)"
echo

# --- 2. sustained, paced -------------------------------------------------------
PACER=$WORK/pacer.py
cat >"$PACER" <<'EOF'
# pacer.py PROG_ID FRAME RATE DURATION: a BPF_PROG_RUN batch every 20 ms
import subprocess, sys, time
pid, frame, rate, dur = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
tick = 0.02
k = max(1, int(rate * tick))
t0 = time.monotonic()
sent = i = 0
while time.monotonic() - t0 < dur:
    d = t0 + i * tick - time.monotonic()
    if d > 0:
        time.sleep(d)
    subprocess.run(['bpftool', 'prog', 'run', 'id', pid, 'data_in', frame,
                    'repeat', str(k)], check=True, stdout=subprocess.DEVNULL)
    sent += k
    i += 1
print(sent, time.monotonic() - t0)
EOF
echo "-- hdrlog sustained: paced BPF_PROG_RUN (batch every 20 ms) for ${DURATION}s per rate, ring 64M, default fields, $SHM_FS file"
printf '   %10s %10s %10s %10s %6s\n' "target/s" "sent/s" written lost "CPU%"
SUSTAINED=none
for r in $RATES; do
	start_hdrlog "$WORK/sus.err" "$HDRLOG_CPU" -o "json:$TMPFS_DIR/sus.json" \
		--ringbuf-size 64M
	id=$(veth_prog_id)
	c0=$(cpu_ticks "$HDRLOG_PID")
	res=$(taskset -c "$GEN_CPU" "$PY" "$PACER" "$id" "$FRAME" "$r" "$DURATION")
	c1=$(cpu_ticks "$HDRLOG_PID")
	wait_idle "$HDRLOG_PID" 120
	stop_hdrlog
	sent=${res% *}; el=${res#* }
	w=$(summary_value "$WORK/sus.err" 'records written')
	l=$(summary_value "$WORK/sus.err" 'records lost')
	cpu=$(awk -v c="$((c1 - c0))" -v hz="$(getconf CLK_TCK)" -v t="$el" \
		'BEGIN { printf "%.0f", 100 * c / hz / t }')
	printf '   %10s %10s %10s %10s %6s\n' "$r" "$(rate "$sent" "$el")" \
		"${w:-?}" "${l:-?}" "$cpu"
	rm_out "$TMPFS_DIR/sus.json"
	[ "${l:-1}" = 0 ] || break
	SUSTAINED=$(rate "$sent" "$el")
done
echo "   highest paced rate with zero loss: $SUSTAINED lines/s"
echo

echo "-- summary (lines/s)"
echo "   tcpdump -r -nn -tttt -e, $SHM_FS:        $TCPDUMP_RATE"
echo "   hdrlog flat out, $SHM_FS:                $FLAT_TMPFS"
echo "   hdrlog flat out, $DISK_FS:                 $FLAT_DISK"
echo "   hdrlog flat out, /dev/null:           $FLAT_NULL"
echo "   hdrlog flat out, 5 fields, $SHM_FS:      $FLAT_SMALL"
echo "   hdrlog paced, zero loss, $SHM_FS:        $SUSTAINED"
echo "   target:                               $TARGET"
echo

# --- 3. profile ------------------------------------------------------------------
best=$(printf '%s\n' "$FLAT_TMPFS" "$FLAT_DISK" | sort -n | tail -1)
if [ "$PROFILE" = 1 ] || { [ "$PROFILE" = auto ] && [ "$best" -lt "$TARGET" ]; }; then
	if command -v perf >/dev/null 2>&1; then
		echo "-- profile: perf record --call-graph dwarf of hdrlog, one flat-out run, default fields, $SHM_FS"
		N=1500000 PERF_DATA=$WORK/perf.data \
			flat_out "$TMPFS_DIR/hdrlog.json" "under perf"
		rep() {
			perf report -i "$WORK/perf.data" --stdio -g none "$@" 2>/dev/null |
				grep -v '^#' | grep -v '^$' | sed 's/^/   /'
		}
		echo
		echo "   by object (self):"
		rep --no-children --sort dso
		echo
		echo "   hot spots, self time (unnamed libyajl addresses are its internal string escaping/buffer code):"
		rep --no-children --sort dso,sym --percent-limit 1.5 | head -25
		echo
		echo "   hdrlog functions incl. callees:"
		rep --children --sort sym --percent-limit 2 |
			grep -E 'handle_record|json_write|json_flush|event_decode|community_id|sha1|field_text|yajl_gen|ip_text|mac_text|rfc3339|libc_write|ringbuf|ring_buffer' |
			head -25
	else
		echo "-- profile: skipped, perf not installed"
	fi
fi
