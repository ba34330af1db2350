#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Records per second from the ring buffer to a JSON file, hdrlog pinned to
# one CPU, frames generated in the kernel with BPF_PROG_RUN on the other
# CPU (so generation costs hdrlog nothing):
#   1. flat out: one burst of N frames into a ring buffer big enough to hold
#      them all, hdrlog -c N; rate = N / (burst start -> hdrlog exit).
#      On tmpfs (/dev/shm) and on disk.
#   2. sustained: paced generation at rising rates for DURATION s each with
#      a 64M ring buffer; lost must stay 0. Stops at the first rate that
#      loses records.
#   3. peer anchor: tcpdump -r of a 500k-frame pcap, -nn -tttt -e, to a file.
# With PROFILE=1 (or PROFILE=auto, the default, when the flat-out rate is
# below TARGET lines/s) a flat-out run is recorded with perf and the top
# userspace hot spots are printed. Prints figures; no pass/fail.
#
# Environment: N (default 4000000), DURATION (5), RATES, TARGET (2000000),
#   PROFILE (auto|1|0), PCAP_FRAMES (500000), HDRLOG.
set -eu
. "$(dirname "$0")/common.sh"

N=${N:-4000000}
DURATION=${DURATION:-5}
RATES=${RATES:-"250000 500000 1000000 1500000 2000000 3000000"}
TARGET=${TARGET:-2000000}
PROFILE=${PROFILE:-auto}
PCAP_FRAMES=${PCAP_FRAMES:-500000}
HDRLOG_CPU=0
GEN_CPU=1

TMPFS_DIR=$(mktemp -d /dev/shm/hdrlog-bench.XXXXXX)
DISK_DIR=$(mktemp -d /var/tmp/hdrlog-bench.XXXXXX)
EXTRA_DIRS="$TMPFS_DIR $DISK_DIR"
disk_fs=$(df -T --output=fstype "$DISK_DIR" | tail -1 | tr -d ' ')
shm_fs=$(df -T --output=fstype "$TMPFS_DIR" | tail -1 | tr -d ' ')

bench_header "json_rate: ring buffer -> JSON lines per second, one CPU"
need bpftool jq ip taskset tcpdump
echo "hdrlog on CPU $HDRLOG_CPU, BPF_PROG_RUN on CPU $GEN_CPU; files: $TMPFS_DIR ($shm_fs), $DISK_DIR ($disk_fs)"
echo

FRAME=$WORK/frame.bin
make_frame "$FRAME"

now() { date +%s.%N; }
rate() { awk -v n="$1" -v t="$2" 'BEGIN { printf "%.0f", (t > 0 ? n / t : 0) }'; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# --- peer anchor: tcpdump -r -----------------------------------------------
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
echo "-- peer anchor: taskset -c $HDRLOG_CPU tcpdump -r ($PCAP_FRAMES frames) -nn -tttt -e > file, 3 runs"
for d in "$TMPFS_DIR" "$DISK_DIR"; do
	ts=""
	for r in 1 2 3; do
		t0=$(now)
		taskset -c "$HDRLOG_CPU" tcpdump -r "$WORK/anchor.pcap" -nn -tttt -e \
			>"$d/tcpdump.txt" 2>/dev/null
		t1=$(now)
		ts="$ts $(secs "$t0" "$t1")"
	done
	lines=$(wc -l <"$d/tcpdump.txt")
	bytes=$(stat -c %s "$d/tcpdump.txt")
	t=$(median $ts)
	fs=$shm_fs; [ "$d" = "$DISK_DIR" ] && fs=$disk_fs
	printf '   tcpdump -> %-6s %8s lines/s  (%d lines, %d bytes/line, median %ss of%s)\n' \
		"$fs:" "$(rate "$lines" "$t")" "$lines" $((bytes / lines)) "$t" "$ts"
	rm -f "$d/tcpdump.txt"
done
echo

if [ ! -x "$HDRLOG" ]; then
	echo "-- hdrlog: skipped, $HDRLOG not built"
	exit 0
fi

make_netns

# --- 1. flat out -------------------------------------------------------------
# flat_out DIR RINGBUF [PERF_DATA]: prints one result line; sets FLAT_RATE
flat_out() {
	_dir=$1; _rb=$2; _perf=${3:-}
	_out=$_dir/hdrlog.json
	start_hdrlog "$WORK/flat.err" "$HDRLOG_CPU" -o "json:$_out" -c "$N" \
		--ringbuf-size "$_rb"
	_id=$(veth_prog_id)
	_perfpid=""
	if [ -n "$_perf" ]; then
		perf record -q -g -p "$HDRLOG_PID" -o "$_perf" >/dev/null 2>&1 &
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
	while kill -0 "$HDRLOG_PID" 2>/dev/null && [ $_i -lt 3000 ]; do
		_c=$(cpu_ticks "$HDRLOG_PID"); [ "$_c" -gt 0 ] && _c1=$_c
		sleep 0.1; _i=$((_i + 1))
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
	_lines=$(wc -l <"$_out")
	_bytes=$(stat -c %s "$_out")
	_cpu=$(awk -v c="$((_c1 - _c0))" -v hz="$(getconf CLK_TCK)" -v t="$_el" \
		'BEGIN { printf "%.0f", 100 * c / hz / t }')
	FLAT_RATE=$(rate "${_w:-0}" "$_el")
	printf '   %-6s %8s lines/s  written %s lost %s lines %s (%d bytes/line) in %ss, burst %ss, hdrlog CPU ~%s%%\n' \
		"$(df -T --output=fstype "$_dir" | tail -1 | tr -d ' '):" "$FLAT_RATE" "${_w:-?}" "${_l:-?}" "$_lines" \
		$((_lines ? _bytes / _lines : 0)) "$_el" "$(secs "$_t0" "$_tgen")" "$_cpu"
	rm -f "$_out"
}

echo "-- hdrlog flat out: burst of $N frames (BPF_PROG_RUN), ring 1G, hdrlog -c $N, 3 runs each"
best=0
for d in "$TMPFS_DIR" "$DISK_DIR"; do
	fs=$shm_fs; [ "$d" = "$DISK_DIR" ] && fs=$disk_fs
	for r in 1 2 3; do
		flat_out "$d" 1G
		[ "$FLAT_RATE" -gt "$best" ] && best=$FLAT_RATE
	done
done
echo "   best: $best lines/s (target $TARGET)"
echo

# --- 2. sustained, paced -------------------------------------------------------
PACER=$WORK/pacer.py
cat >"$PACER" <<'EOF'
# pacer.py PROG_ID FRAME RATE DURATION: BPF_PROG_RUN batches every 20 ms
import subprocess, sys, time
pid, frame, rate, dur = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
tick = 0.02
k = max(1, int(rate * tick))
t0 = time.monotonic()
sent = i = 0
while time.monotonic() - t0 < dur:
    target = t0 + i * tick
    d = target - time.monotonic()
    if d > 0:
        time.sleep(d)
    subprocess.run(['bpftool', 'prog', 'run', 'id', pid, 'data_in', frame,
                    'repeat', str(k)], check=True, stdout=subprocess.DEVNULL)
    sent += k
    i += 1
print(sent, time.monotonic() - t0)
EOF
echo "-- hdrlog sustained: paced BPF_PROG_RUN for ${DURATION}s per rate, ring 64M, $shm_fs file"
printf '   %10s %10s %10s %10s %8s %s\n' "target/s" "sent/s" written lost "CPU%" ""
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
	note=""
	[ "${l:-1}" = 0 ] && note="zero loss" && sustained=$(rate "$sent" "$el")
	printf '   %10s %10s %10s %10s %8s %s\n' "$r" "$(rate "$sent" "$el")" \
		"${w:-?}" "${l:-?}" "$cpu" "$note"
	rm -f "$TMPFS_DIR/sus.json"
	[ "${l:-1}" = 0 ] || break
done
echo "   highest sustained rate with zero loss: ${sustained:-none} lines/s"
echo

# --- 3. profile ------------------------------------------------------------------
if [ "$PROFILE" = 1 ] || { [ "$PROFILE" = auto ] && [ "$best" -lt "$TARGET" ]; }; then
	if command -v perf >/dev/null 2>&1; then
		echo "-- profile: perf record -g of hdrlog during one flat-out run ($shm_fs)"
		flat_out "$TMPFS_DIR" 1G "$WORK/perf.data"
		echo
		echo "   top symbols, self time (perf report --no-children):"
		perf report -i "$WORK/perf.data" --no-children --sort dso,sym --stdio \
			-g none --percent-limit 1 2>/dev/null | grep -v '^#' | grep -v '^$' |
			head -30 | sed 's/^/   /'
		echo
		echo "   top symbols incl. callees (perf report --children):"
		perf report -i "$WORK/perf.data" --children --sort sym --stdio \
			-g none --percent-limit 3 2>/dev/null | grep -v '^#' | grep -v '^$' |
			head -30 | sed 's/^/   /'
	else
		echo "-- profile: skipped, perf not installed"
	fi
fi
