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

# Sum of utime+stime ticks of a pid.
cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0
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
	_i=0
	while [ $_i -lt 100 ]; do
		grep -qs 'listening on' "$_err" && return 0
		kill -0 "$HDRLOG_PID" 2>/dev/null || break
		sleep 0.1; _i=$((_i + 1))
	done
	echo "hdrlog did not start:" >&2
	cat "$_err" >&2
	return 1
}

# stop_hdrlog: SIGINT (bounded wait) then SIGKILL.
stop_hdrlog() {
	kill -INT "$HDRLOG_PID" 2>/dev/null || true
	_i=0
	while kill -0 "$HDRLOG_PID" 2>/dev/null && [ $_i -lt 300 ]; do
		sleep 0.1; _i=$((_i + 1))
	done
	kill -KILL "$HDRLOG_PID" 2>/dev/null || true
	wait "$HDRLOG_PID" 2>/dev/null || true
	BG_PIDS=$(echo "$BG_PIDS" | tr ' ' '\n' | grep -vx "$HDRLOG_PID" | tr '\n' ' ')
}

# summary_value ERRFILE 'records written' -> the number on that line
summary_value() {
	sed -n "s/^[^0-9]*\([0-9][0-9]*\) $2.*/\1/p" "$1" | tail -1
}
