# SPDX-License-Identifier: GPL-2.0-or-later
# Shared helpers for tests/bench/*.sh (sourced, not run).
#
# Sets up two network namespaces joined by a veth pair (both ends in
# namespaces created here, addresses from 198.51.100.0/24 only), and
# removes everything on exit, failure or signal.

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
TOP_DIR=$(cd "$BENCH_DIR/../.." && pwd)
HDRLOG=${HDRLOG:-$TOP_DIR/src/hdrlog}
PY=${PY:-/usr/bin/python3}
[ -x "$PY" ] || PY=python3
HZ=$(getconf CLK_TCK)	# clock ticks a second (/proc/*/stat, /proc/stat)

TAG=hb$$
NS_A=$TAG-a
NS_B=$TAG-b
VETH_A=${TAG}va
VETH_B=${TAG}vb
WORK=$(mktemp -d /tmp/hdrlog-bench.XXXXXX)
BG_PIDS=""
PIN_PATHS=""
EXTRA_DIRS=""

bench_cleanup() {
	rc=$?
	trap - EXIT INT TERM
	for p in $BG_PIDS; do
		kill -INT "$p" 2>/dev/null || true
	done
	for p in $BG_PIDS; do
		# bounded: up to 5 s, then SIGKILL
		i=0
		while kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do
			sleep 0.1; i=$((i + 1))
		done
		kill -KILL "$p" 2>/dev/null || true
	done
	for f in $PIN_PATHS; do
		rm -f "$f"
	done
	ip netns del "$NS_A" 2>/dev/null || true
	ip netns del "$NS_B" 2>/dev/null || true
	rm -rf "$WORK" $EXTRA_DIRS
	exit $rc
}
trap bench_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

bench_header() {
	echo "== $1"
	echo "kernel: $(uname -r)   date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')   cpus: $(nproc)"
	echo "cpu: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
	if [ -x "$HDRLOG" ]; then
		echo "hdrlog: $HDRLOG built $(date -u -r "$HDRLOG" '+%Y-%m-%d %H:%M:%S UTC')," \
			"tree at $(git -C "$TOP_DIR" rev-parse --short HEAD 2>/dev/null || echo '?')"
	fi
	echo
}

need() {
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || {
			echo "missing command: $c" >&2; exit 1; }
	done
}

# install_missing COMMAND:PACKAGE...: each missing COMMAND's Debian PACKAGE
# installed, as packaging/install-deps.sh would; a failure is said, and
# need (or the script's own check) decides whether it matters
install_missing() {
	for _pair in "$@"; do
		command -v "${_pair%%:*}" >/dev/null 2>&1 ||
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${_pair#*:}" \
				>/dev/null 2>&1 || echo "could not install ${_pair#*:}" >&2
	done
}

# wait_ready PID FILE REGEX TENTHS: wait, at most TENTHS tenths of a
# second, until FILE has a line matching REGEX (grep -E); 1 if PID exited
# first or the time ran out
wait_ready() {
	_i=0
	while [ $_i -lt "$4" ]; do
		grep -qsE "$3" "$2" && return 0
		kill -0 "$1" 2>/dev/null || return 1
		sleep 0.1; _i=$((_i + 1))
	done
	return 1
}

# Two namespaces, one veth pair, no IPv6 chatter.
make_netns() {
	ip netns add "$NS_A"
	ip netns add "$NS_B"
	for ns in "$NS_A" "$NS_B"; do
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=1
	done
	ip link add "$VETH_A" netns "$NS_A" type veth peer name "$VETH_B" netns "$NS_B"
	ip -n "$NS_A" addr add 198.51.100.1/24 dev "$VETH_A"
	ip -n "$NS_B" addr add 198.51.100.2/24 dev "$VETH_B"
	ip -n "$NS_A" link set "$VETH_A" up
	ip -n "$NS_B" link set "$VETH_B" up
}

# The XDP program id attached to $VETH_A in $NS_A (empty if none).
veth_prog_id() {
	ip -n "$NS_A" -j link show dev "$VETH_A" | jq -r '.[0].xdp.prog.id // empty'
}

# The tc program id on $VETH_A's ingress (a tcx link, Linux 6.6 and later;
# empty if none): BPF_PROG_QUERY in $NS_A, as bpftool 7.1 lists no tcx.
veth_tc_prog_id() {
	ip netns exec "$NS_A" "$PY" - "$(ip -n "$NS_A" -j link show dev "$VETH_A" |
		jq -r '.[0].ifindex')" <<'EOF'
import ctypes, struct, sys
ids = (ctypes.c_uint32 * 8)()
attr = ctypes.create_string_buffer(64)
struct.pack_into("=IIIIQI", attr, 0, int(sys.argv[1]), 46, 0, 0,
                 ctypes.addressof(ids), 8)    # 46: BPF_TCX_INGRESS
libc = ctypes.CDLL(None, use_errno=True)
if not libc.syscall(321, 16, attr, 64):       # bpf(BPF_PROG_QUERY)
    n = struct.unpack_from("=I", attr.raw, 24)[0]
    if n:
        print(ids[n - 1])
EOF
}

veth_prog_name() {
	ip -n "$NS_A" -j link show dev "$VETH_A" | jq -r '.[0].xdp.prog.name // empty'
}

# A 64-byte Ethernet/IPv4/UDP frame 198.51.100.1:40000 -> 198.51.100.2:53.
make_frame() {
	"$PY" - "$1" <<'EOF'
import struct, sys
def csum(b):
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    s += s >> 16
    return ~s & 0xffff
payload = b'\x00' * 22
udp = struct.pack('!HHHH', 40000, 53, 8 + len(payload), 0) + payload
ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0,
                 bytes([198, 51, 100, 1]), bytes([198, 51, 100, 2]))
ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
eth = bytes.fromhex('020000000002' '020000000001') + b'\x08\x00'
frame = eth + ip + udp
assert len(frame) == 64
open(sys.argv[1], 'wb').write(frame)
EOF
}

# prog_run_ns ID FRAME REPEAT [CPU]: average ns per run, from the kernel.
prog_run_ns() {
	taskset -c "${4:-1}" bpftool -j prog run id "$1" data_in "$2" repeat "$3" |
		jq -r .duration
}

# measure ID FRAME REPEAT [COMMAND...]: prog_run_ns RUNS times on RUN_CPU,
# COMMAND (if any) after each run; sets MED (the median) and RUNS_LIST
# (the runs, a/b/c)
measure() {
	_id=$1; _frame=$2; _repeat=$3; shift 3
	_vals=""
	for _r in $(seq "$RUNS"); do
		_vals="$_vals $(prog_run_ns "$_id" "$_frame" "$_repeat" "$RUN_CPU")"
		[ $# -eq 0 ] || "$@"
	done
	# shellcheck disable=SC2086,SC2034  # the caller's
	RUNS_LIST=$(echo $_vals | tr ' ' '/')
	# shellcheck disable=SC2086,SC2034
	MED=$(median $_vals)
}

# load_bare xdp|tc: build a program that only returns XDP_PASS (xdp_pass)
# or TC_ACT_OK (tc_ok) and load it with bpftool, pinned; sets BARE_ID and
# BARE_PIN (rm -f it when done: the program goes with it).
load_bare() {
	case $1 in
	xdp)	_name=xdp_pass; _ctx=xdp_md; _ret='2; /* XDP_PASS */'; _type=xdp ;;
	tc)	_name=tc_ok; _ctx=__sk_buff; _ret='0; /* TC_ACT_OK */'; _type=classifier ;;
	esac
	cat >"$WORK/$_name.c" <<EOF
#define SEC(n) __attribute__((section(n), used))
struct $_ctx;
SEC("$1") int $_name(struct $_ctx *ctx) { return $_ret }
char LICENSE[] SEC("license") = "GPL";
EOF
	clang -O2 -target bpf -c "$WORK/$_name.c" -o "$WORK/$_name.o"
	BARE_PIN=/sys/fs/bpf/hdrlog_bench_${_name}_$$
	PIN_PATHS="$PIN_PATHS $BARE_PIN"
	bpftool prog load "$WORK/$_name.o" "$BARE_PIN" type "$_type"
	# shellcheck disable=SC2034  # the caller's
	BARE_ID=$(bpftool -j prog show pinned "$BARE_PIN" | jq .id)
}

# xdp_filter_load IP IP-SRC IP6: xdp-filter (xdp-tools) on $VETH_A with
# five rules: ip IP, ip IP-SRC -m src, ip IP6, port 9999, port 12345 -p
# tcp. `ip netns exec` remounts /sys, so libxdp gets a bpffs of its own;
# the rules are added in the same shell. The program stays attached after
# the shell (and its bpffs) is gone.
xdp_filter_load() {
	ip netns exec "$NS_A" sh -ec "
	mount -t bpf bpf /sys/fs/bpf
	xdp-filter load $VETH_A
	xdp-filter ip $1
	xdp-filter ip $2 -m src
	xdp-filter ip $3
	xdp-filter port 9999
	xdp-filter port 12345 -p tcp
" >"$WORK/xdp-filter.log" 2>&1 || { cat "$WORK/xdp-filter.log" >&2; exit 1; }
}

# xdp_filter_unload: xdp-filter off $VETH_A again
xdp_filter_unload() {
	ip -n "$NS_A" link set dev "$VETH_A" xdp off 2>/dev/null || true
	ip netns exec "$NS_A" sh -c "mount -t bpf bpf /sys/fs/bpf; xdp-filter unload $VETH_A" \
		>/dev/null 2>&1 || true
	ip -n "$NS_A" link set dev "$VETH_A" xdp off 2>/dev/null || true
}

# median of the arguments (numbers)
median() {
	printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 }
		END { if (NR % 2) print v[(NR + 1) / 2];
		      else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# filesystem type of a path: tmpfs, ext4, ...
fs_type() {
	df --output=fstype "$1" | tail -1 | tr -d ' '
}

# --- output rates (json_rate.sh, outputs_rate.sh) -----------------------------
# out_dirs: TMPFS_DIR (/dev/shm) and DISK_DIR (/var/tmp) for the outputs,
# removed on exit, and their filesystem types SHM_FS and DISK_FS
out_dirs() {
	TMPFS_DIR=$(mktemp -d /dev/shm/hdrlog-bench.XXXXXX)
	EXTRA_DIRS="$EXTRA_DIRS $TMPFS_DIR"
	DISK_DIR=$(mktemp -d /var/tmp/hdrlog-bench.XXXXXX)
	EXTRA_DIRS="$EXTRA_DIRS $DISK_DIR"
	# shellcheck disable=SC2034  # the caller's
	SHM_FS=$(fs_type "$TMPFS_DIR")
	# shellcheck disable=SC2034
	DISK_FS=$(fs_type "$DISK_DIR")
}

# only ever remove our own output files
rm_out() {
	case "$1" in
	"$TMPFS_DIR"/*|"$DISK_DIR"/*) rm -f "$1" ;;
	esac
}

now() { date +%s.%N; }
rate() { awk -v n="$1" -v t="$2" 'BEGIN { printf "%.0f", (t > 0 ? n / t : 0) }'; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# write_pacer: writes $PACER, a python script:
#   PACER PROG_ID FRAME RATE SECONDS [CTX]: a BPF_PROG_RUN batch (with
#   ctx_in CTX, if given) every 20 ms for SECONDS, RATE frames a second;
#   prints the frames sent and the seconds it took
write_pacer() {
	PACER=$WORK/pacer.py
	cat >"$PACER" <<'EOF'
import subprocess, sys, time
pid, frame = sys.argv[1], sys.argv[2]
rate, dur = float(sys.argv[3]), float(sys.argv[4])
ctx = ['ctx_in', sys.argv[5]] if len(sys.argv) > 5 else []
tick = 0.02
k = max(1, int(rate * tick))
t0 = time.monotonic()
sent = i = 0
while time.monotonic() - t0 < dur:
    d = t0 + i * tick - time.monotonic()
    if d > 0:
        time.sleep(d)
    subprocess.run(['bpftool', 'prog', 'run', 'id', pid, 'data_in', frame]
                   + ctx + ['repeat', str(k)], check=True,
                   stdout=subprocess.DEVNULL)
    sent += k
    i += 1
print(sent, time.monotonic() - t0)
EOF
}

# Sum of utime+stime ticks of a pid.
cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0
}

# cpu_pct TICKS SECONDS: TICKS of CPU over SECONDS, in percent of one CPU
cpu_pct() {
	awk -v c="$1" -v hz="$HZ" -v t="$2" 'BEGIN { printf "%.0f", 100 * c / hz / t }'
}

# wait_idle PID: wait (at most $2 s, default 120) until PID has used no CPU
# for 0.3 s, i.e. the consumer has drained the ring buffer.
wait_idle() {
	_pid=$1; _max=$(( ${2:-120} * 10 )); _i=0; _same=0
	_last=$(cpu_ticks "$_pid")
	while [ $_i -lt $_max ] && kill -0 "$_pid" 2>/dev/null; do
		sleep 0.1; _i=$((_i + 1))
		_now=$(cpu_ticks "$_pid")
		if [ "$_now" = "$_last" ]; then
			_same=$((_same + 1))
			[ $_same -ge 3 ] && return 0
		else
			_same=0
		fi
		_last=$_now
	done
	return 0
}

# start_hdrlog ERRFILE CPU ARGS...: run hdrlog on $VETH_A in $NS_A, pinned
# to CPU, through XDP unless ARGS say --attach-ingress, wait (bounded) for
# "listening on"; sets HDRLOG_PID.
start_hdrlog() {
	_err=$1; _cpu=$2; shift 2
	: >"$_err"
	# XDP unless told: on a veth --attach-ingress auto takes tc, and the
	# scripts run the XDP program (veth_prog_id) with BPF_PROG_RUN
	case " $* " in
	*" --attach-ingress "*|*" --direction out "*) ;;
	*) set -- --attach-ingress xdp "$@" ;;
	esac
	ip netns exec "$NS_A" taskset -c "$_cpu" "$HDRLOG" -i "$VETH_A" "$@" \
		2>"$_err" &
	HDRLOG_PID=$!
	BG_PIDS="$BG_PIDS $HDRLOG_PID"
	wait_ready "$HDRLOG_PID" "$_err" 'listening on' 100 && return 0
	echo "hdrlog did not start:" >&2
	cat "$_err" >&2
	return 1
}

# stop_pid PID [SIGNAL [TENTHS]]: send SIGNAL (default INT; "" sends
# none, for a process already asked to stop its own way), wait at most
# TENTHS tenths of a second (default 300) for PID to exit, then SIGKILL;
# reaps it and takes it off BG_PIDS. An empty PID is a no-op.
stop_pid() {
	[ -n "$1" ] || return 0
	[ -z "${2-INT}" ] || kill -"${2:-INT}" "$1" 2>/dev/null || true
	_i=0
	while kill -0 "$1" 2>/dev/null && [ $_i -lt "${3:-300}" ]; do
		sleep 0.1; _i=$((_i + 1))
	done
	kill -KILL "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
	BG_PIDS=$(echo "$BG_PIDS" | tr ' ' '\n' | grep -vx "$1" | tr '\n' ' ')
}

# stop_hdrlog: SIGINT (bounded wait) then SIGKILL.
stop_hdrlog() {
	stop_pid "$HDRLOG_PID" INT 300
}

# --- live floods (flood.sh, flows_bench.sh) -----------------------------------
# A capturer (tcpdump, an exporter, hdrlog) in CAP_NS (default $NS_A)
# pinned to CAP_CPU (default 1), and the whole machine's CPU over a flood.

# user + system + irq + softirq ticks of the whole machine (nice left out)
machine_ticks() {
	awk '$1 == "cpu" { print $2 + $4 + $7 + $8 }' /proc/stat
}

# us_per_frame TICKS FRAMES: machine CPU per frame, in microseconds
us_per_frame() {
	awk -v t="$1" -v n="$2" -v hz="$HZ" \
		'BEGIN { printf "%.3f", (n > 0 ? t / hz / n * 1e6 : 0) }'
}

# above_base KIND FORMAT US...: the median of the runs' us_per_frame
# figures. With nothing capturing (KIND none) it is the new BASE_US and
# EXTRA says "(base MEDIAN)"; else EXTRA is MEDIAN - BASE_US in FORMAT.
BASE_US=""
# shellcheck disable=SC2034  # EXTRA is the caller's
above_base() {
	_bkind=$1; _bfmt=$2; shift 2
	_bmed=$(median "$@")
	if [ "$_bkind" = none ]; then
		BASE_US=$_bmed
		EXTRA="(base $_bmed)"
	else
		EXTRA=$(awk -v a="$_bmed" -v b="$BASE_US" -v f="$_bfmt" \
			'BEGIN { printf f, a - b }')
	fi
}

# link_packets NS DEV rx|tx: the packets DEV in NS has received or sent
link_packets() {
	ip -n "$1" -j -s link show dev "$2" | jq -r ".[0].stats64.$3.packets"
}

# start_capturer LOG READY-REGEX COMMAND...: COMMAND in CAP_NS pinned to
# CAP_CPU, output to LOG; waits (at most 15 s) for a line matching
# READY-REGEX. Sets CAP_PID (the command's: ip netns exec and taskset
# exec it). Returns 1, the capturer stopped, if it did not get ready.
CAP_PID=""
start_capturer() {
	_log=$1; _ready=$2; shift 2
	: >"$_log"
	ip netns exec "${CAP_NS:-$NS_A}" taskset -c "${CAP_CPU:-1}" "$@" \
		>"$_log" 2>&1 &
	CAP_PID=$!
	BG_PIDS="$BG_PIDS $CAP_PID"
	wait_ready "$CAP_PID" "$_log" "$_ready" 150 && return 0
	echo "   capturer did not start: $*" >&2
	sed 's/^/      /' "$_log" >&2
	stop_capturer
	return 1
}

# stop_capturer: stop_pid CAP_PID with STOP_SIG and STOP_TENTHS. STOP_SIG
# is a signal name (default INT) or a shell function that asks the
# capturer to stop its own way (flows_bench.sh: softflowctl shutdown).
STOP_SIG=INT
STOP_TENTHS=300
stop_capturer() {
	[ -n "$CAP_PID" ] || return 0
	case $STOP_SIG in
	[A-Z]*)	stop_pid "$CAP_PID" "$STOP_SIG" "$STOP_TENTHS" ;;
	*)	"$STOP_SIG"; stop_pid "$CAP_PID" "" "$STOP_TENTHS" ;;
	esac
	CAP_PID=""
}

# settle [window]: after a flood, wait until the capturer's CPU ticks have
# not changed for 0.3 s, watched for at least 1.2 s (tcpdump's TPACKET_V3
# hands over a part-filled block after its 1 s timeout), at most 10 s:
# what the flood gave it is handled. With "window", SETTLED is the
# machine's ticks at the last sample where the capturer still ran, so that
# a CPU window ending there leaves the waiting out (with no capturer: now).
# shellcheck disable=SC2034  # SETTLED is the caller's
settle() {
	[ "${1:-}" = window ] && SETTLED=$(machine_ticks)
	[ -n "$CAP_PID" ] || return 0
	_i=0; _same=0; _last=$(cpu_ticks "$CAP_PID")
	while [ $_i -lt 200 ] && kill -0 "$CAP_PID" 2>/dev/null; do
		sleep 0.05; _i=$((_i + 1))
		_now=$(cpu_ticks "$CAP_PID")
		if [ "$_now" = "$_last" ]; then
			_same=$((_same + 1))
			[ $_same -ge 6 ] && [ $_i -ge 24 ] && return 0
		else
			_same=0
			[ "${1:-}" = window ] && SETTLED=$(machine_ticks)
		fi
		_last=$_now
	done
	return 0
}

# --- flow sets (flows_bench.sh, flows_export.sh) ---------------------------
# trafgen_conf SET: the frames of flows_bench.sh's set few, 10k or 1m
# (its header says what each holds), 64 bytes, checksums by trafgen
trafgen_conf() {
	case $1 in
	few)	_sa="198.51.100.2"; _sp="dinc(1024, 1031)" ;;
	10k)	_sa="198.51.100.2"; _sp="dinc(1024, 11023)" ;;
	1m)	_sa="198.51.100.2, saddr[3]=dinc(2, 254)"; _sp="dinc(1024, 5119)" ;;
	esac
	cat <<EOF
{ eth(da=02:00:00:00:00:02, sa=02:00:00:00:00:01),
  ipv4(saddr=$_sa, daddr=198.51.100.1, ttl=64),
  udp(sport=$_sp, dport=53),
  fill(0x00, 22) }
EOF
}

# make_flows_netns: make_netns, the first end's MAC the one the sets'
# frames are sent to, and the first namespace's loopback up (nfcapd)
make_flows_netns() {
	make_netns
	ip -n "$NS_A" link set dev "$VETH_A" address 02:00:00:00:00:02
	ip -n "$NS_A" link set lo up
}

# start_nfcapd: nfcapd in the first namespace, on its loopback port
# NFCAPD_PORT, into $OUT_DIR/nf (the caller's directory); log in WORK
NFCAPD_PID=""
start_nfcapd() {
	rm -rf "$OUT_DIR/nf"; mkdir -p "$OUT_DIR/nf"
	ip netns exec "$NS_A" nfcapd -b 127.0.0.1 -p "$NFCAPD_PORT" \
		-w "$OUT_DIR/nf" -t 3600 -B 4194304 >"$WORK/nfcapd.log" 2>&1 &
	NFCAPD_PID=$!
	BG_PIDS="$BG_PIDS $NFCAPD_PID"
	_i=0
	while [ $_i -lt 100 ]; do
		ip netns exec "$NS_A" ss -Hnul "sport = :$NFCAPD_PORT" |
			grep -q . && return 0
		sleep 0.1; _i=$((_i + 1))
	done
	echo "nfcapd did not start:" >&2; cat "$WORK/nfcapd.log" >&2
	return 1
}

# stop nfcapd; NF_FLOWS: the flow records it received
stop_nfcapd() {
	stop_pid "$NFCAPD_PID" TERM 300
	NF_FLOWS=$(sed -n 's/.*Flows: \([0-9]*\),.*/\1/p' "$WORK/nfcapd.log" | tail -1)
	NF_FLOWS=${NF_FLOWS:-0}
}

# summary_value ERRFILE 'records written' -> the number on that line
summary_value() {
	sed -n "s/^[^0-9]*\([0-9][0-9]*\) $2.*/\1/p" "$1" | tail -1
}
