#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# What socket events cost a TCP connection: a bounded loop of CONNS
# loopback connections in a namespace (one C process on CPU 1: socket,
# connect, accept, close the accepted end, close the client end), timed
# (a) without hdrlog, (b) with `hdrlog --events sockets -o json:/dev/null`
# pinned to CPU 0 (the attach method it picks on this kernel is printed),
# (b') hdrlog stopped (SIGSTOP) during the loop, so only its kernel side
# runs, and beside it (c) bcc's tcplife and tcpconnect (Debian bpfcc-tools) and
# (d) a bpftrace one-liner printing every inet_sock_set_state, where they
# run. Then events lost at PACED_RATE connections per second for PACED_SECS
# (the loop paced in 1 ms batches), hdrlog's exit summary: "N socket
# events", "N records lost (ring buffer full)".
# Prints figures; no pass/fail.
#
# Environment: CONNS (100000), RUNS (3), PACED_RATE (50000), PACED_SECS
#   (2), RINGBUF (hdrlog's default when empty), STOPPED_RINGBUF (512M),
#   HDRLOG.
set -eu
. "$(dirname "$0")/common.sh"

CONNS=${CONNS:-100000}
RUNS=${RUNS:-3}
PACED_RATE=${PACED_RATE:-50000}
PACED_SECS=${PACED_SECS:-2}
RINGBUF=${RINGBUF:-}
STOPPED_RINGBUF=${STOPPED_RINGBUF:-512M}
PORT=9000
HDRLOG_CPU=0
LOOP_CPU=1

bench_header "sockets_bench: cost of socket events per TCP connection"
need gcc ip taskset
echo "hdrlog and the tracers pinned to CPU $HDRLOG_CPU, the connection loop to CPU $LOOP_CPU"
echo

make_netns
ip -n "$NS_A" link set lo up
# 100k connections in seconds: the whole port range, and room for the
# server side's TIME_WAIT sockets (the accepted end closes first, so the
# client's ports are free at once); both per namespace
ip netns exec "$NS_A" sysctl -qw net.ipv4.ip_local_port_range="1024 65535"
ip netns exec "$NS_A" sysctl -qw net.ipv4.tcp_max_tw_buckets=1048576

cat >"$WORK/conn.c" <<'EOF'
/* conn PORT N [RATE]: N loopback TCP connections, one at a time; RATE > 0:
 * paced, in batches every millisecond. Prints: N seconds us/conn conn/s
 * failures */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	int port = atoi(argv[1]);
	long n = atol(argv[2]), fails = 0, batch = 0, i;
	double rate = argc > 3 ? atof(argv[3]) : 0;
	long period_ns = 0;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct timespec next;
	int one = 1, l;
	double t0, t;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	l = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l, (struct sockaddr *)&a, sizeof(a)) || listen(l, 1024)) {
		perror("listen");
		return 1;
	}
	if (rate > 0) {
		batch = (long)(rate / 1000);
		if (batch < 1)
			batch = 1;
		period_ns = (long)(1e9 * batch / rate);
	}
	clock_gettime(CLOCK_MONOTONIC, &next);
	t0 = now();
	for (i = 0; i < n; i++) {
		int c, s;

		if (batch && i && i % batch == 0) {
			next.tv_nsec += period_ns;
			while (next.tv_nsec >= 1000000000) {
				next.tv_nsec -= 1000000000;
				next.tv_sec++;
			}
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
		}
		c = socket(AF_INET, SOCK_STREAM, 0);
		if (c < 0 || connect(c, (struct sockaddr *)&a, sizeof(a))) {
			fails++;
			if (c >= 0)
				close(c);
			continue;
		}
		s = accept(l, NULL, NULL);
		if (s >= 0)
			close(s);
		close(c);
	}
	t = now() - t0;
	printf("%ld %.6f %.3f %.0f %ld\n", n, t, t * 1e6 / n, n / t, fails);
	return 0;
}
EOF
gcc -O2 -Wall -o "$WORK/conn" "$WORK/conn.c"

# loop [RATE] [N]: sets L_N L_T L_US L_RATE L_FAIL
loop() {
	# shellcheck disable=SC2046
	set -- $(ip netns exec "$NS_A" taskset -c "$LOOP_CPU" "$WORK/conn" "$PORT" \
		"${2:-$CONNS}" "${1:-0}")
	L_N=$1; L_T=$2; L_US=$3; L_RATE=$4; L_FAIL=$5
}

# start a tracer on CPU HDRLOG_CPU, hdrlog in A's namespace, the peers in
# the root one (tracepoints are not per namespace, and ip netns exec's
# fresh /sys has no tracefs for them); wait (at most $2 s) until the
# output LOG matches $3; sets TR_PID
start_tracer() {
	_log=$1; _max=$(( $2 * 10 )); _rx=$3; shift 3
	: >"$_log"
	if [ "$1" = "$HDRLOG" ]; then
		set -- ip netns exec "$NS_A" "$@"
	fi
	taskset -c "$HDRLOG_CPU" "$@" >"$_log" 2>&1 &
	TR_PID=$!
	BG_PIDS="$BG_PIDS $TR_PID"
	wait_ready "$TR_PID" "$_log" "$_rx" "$_max"
}

stop_tracer() {
	stop_pid "$TR_PID" INT 100
}

HDRLOG_ARGS="--events sockets -o json:/dev/null"
[ -n "$RINGBUF" ] && HDRLOG_ARGS="$HDRLOG_ARGS --ringbuf-size $RINGBUF"
HAVE_HDRLOG=0
if [ -x "$HDRLOG" ]; then
	HAVE_HDRLOG=1
	echo "hdrlog --features: $("$HDRLOG" --features 2>&1 | grep -i 'will use' | head -1)"
fi

# warm-up (page cache, port range, TIME_WAIT table)
loop 0 20000

# --- 1. cost per connection ------------------------------------------------------
echo "-- 1. $CONNS loopback connections (connect + accept + close both ends), one process on CPU $LOOP_CPU, $RUNS runs each, alternating"
printf '   %-34s %8s %9s %9s %s\n' "" "us/conn" "conn/s" "seconds" "hdrlog: socket events / lost (ring full)"
OFF=""; ON=""
for r in $(seq "$RUNS"); do
	loop
	OFF="$OFF $L_US"
	printf '   %-34s %8s %9s %9s %s\n' "no tracer, run $r" "$L_US" "$L_RATE" "$L_T" \
		"$([ "$L_FAIL" = 0 ] || echo "($L_FAIL connects failed)")"
	if [ $HAVE_HDRLOG = 1 ]; then
		# shellcheck disable=SC2086
		start_tracer "$WORK/hdrlog.err" 10 'listening' "$HDRLOG" $HDRLOG_ARGS ||
			{ echo "hdrlog did not start:"; cat "$WORK/hdrlog.err"; exit 1; }
		[ "$r" = 1 ] && sed -n 's/^hdrlog: //p' "$WORK/hdrlog.err" | head -1 | sed 's/^/   hdrlog: /'
		loop
		wait_idle "$TR_PID" 30
		stop_tracer
		ev=$(summary_value "$WORK/hdrlog.err" 'socket events')
		lost=$(summary_value "$WORK/hdrlog.err" 'records lost (ring')
		ON="$ON $L_US"
		printf '   %-34s %8s %9s %9s %s / %s (%s per connection)\n' "hdrlog --events sockets, run $r" \
			"$L_US" "$L_RATE" "$L_T" "${ev:-?}" "${lost:-?}" \
			"$(awk -v e="${ev:-0}" -v n="$CONNS" 'BEGIN { printf "%.2f", e / n }')"
	fi
done
# where the cost lies: hdrlog stopped (SIGSTOP) during the loop, with a
# ring that holds every event, so the programs record each event but the
# consumer is never woken nor runs
if [ $HAVE_HDRLOG = 1 ]; then
	start_tracer "$WORK/hdrlog.err" 10 'listening' "$HDRLOG" --events sockets \
		-o json:/dev/null --ringbuf-size "$STOPPED_RINGBUF" ||
		{ echo "hdrlog did not start:"; cat "$WORK/hdrlog.err"; exit 1; }
	kill -STOP "$TR_PID"
	loop
	kill -CONT "$TR_PID"
	wait_idle "$TR_PID" 30
	stop_tracer
	ev=$(summary_value "$WORK/hdrlog.err" 'socket events')
	lost=$(summary_value "$WORK/hdrlog.err" 'records lost (ring')
	STOPPED=$L_US
	printf '   %-34s %8s %9s %9s %s / %s\n' "hdrlog stopped, ring $STOPPED_RINGBUF" \
		"$L_US" "$L_RATE" "$L_T" "${ev:-?}" "${lost:-?}"
	echo "   (stopped: the kernel side only, no consumer wake-ups; it is not a way to run;"
	echo "   the rest of the difference is waking hdrlog on the other CPU and its work)"
fi
M_OFF=$(median $OFF)
echo "   => without: median $M_OFF us/conn"
if [ $HAVE_HDRLOG = 1 ]; then
	M_ON=$(median $ON)
	echo "   => with hdrlog: median $M_ON us/conn, difference $(awk -v a="$M_ON" -v b="$M_OFF" \
		'BEGIN { printf "%+.3f us (%+.0f%%)", a - b, 100 * (a - b) / b }') per connection"
fi
echo

# --- 2. peers ----------------------------------------------------------------------
echo "-- 2. peers (output to /dev/null)"
PEER_SUMMARY=""
peer() {
	_name=$1; _rx=$2; _max=$3; shift 3
	if ! command -v "$1" >/dev/null 2>&1; then
		printf '   %-34s not installed\n' "$_name"
		PEER_SUMMARY="$PEER_SUMMARY   $_name: not installed
"
		return 0
	fi
	# tracefs, which this machine does not mount, in a private mount
	# namespace: the tools find the tracepoints' formats there
	if start_tracer "$WORK/peer.log" "$_max" "$_rx" unshare -m sh -c \
		'mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null; exec "$@"' sh "$@"; then
		loop
		sleep 0.5
		stop_tracer
		_lines=$(grep -cvE "$_rx" "$WORK/peer.log" || true)
		printf '   %-34s %8s %9s %9s (%s lines printed)\n' "$_name" "$L_US" "$L_RATE" "$L_T" "$_lines"
		PEER_SUMMARY="$PEER_SUMMARY   $_name: $L_US us/conn
"
	else
		stop_tracer
		_why=$(grep -vE '^\s*$' "$WORK/peer.log" | grep -iE 'error|fail|unable|cannot|exception' | head -1 | tr '\n' ' ')
		printf '   %-34s does not run here: %s\n' "$_name" "${_why:-$(tail -1 "$WORK/peer.log")}"
		PEER_SUMMARY="$PEER_SUMMARY   $_name: does not run here (${_why:-see above})
"
	fi
}
# bcc's tools print a header once attached; they write to a file, not a
# terminal (so they may buffer, which only helps them)
peer "bcc tcplife-bpfcc" '^PID +COMM' 60 tcplife-bpfcc
peer "bcc tcpconnect-bpfcc" '^PID +COMM' 60 tcpconnect-bpfcc
peer "bpftrace inet_sock_set_state" '^Attaching' 60 bpftrace -e \
	'tracepoint:sock:inet_sock_set_state /args->protocol == 6/ { printf("%d %s %d %d %d %d\n", pid, comm, args->sport, args->dport, args->oldstate, args->newstate); }'
echo "   (bpftrace: one line per TCP state change, as a rough stand-in for the bcc tools)"
echo

# --- 3. paced: events lost -----------------------------------------------------
PN=$(awk -v r="$PACED_RATE" -v s="$PACED_SECS" 'BEGIN { printf "%d", r * s }')
echo "-- 3. paced: $PN connections at $PACED_RATE/s (1 ms batches), hdrlog $HDRLOG_ARGS"
if [ $HAVE_HDRLOG = 1 ]; then
	# shellcheck disable=SC2086
	start_tracer "$WORK/hdrlog.err" 10 'listening' "$HDRLOG" $HDRLOG_ARGS ||
		{ echo "hdrlog did not start:"; cat "$WORK/hdrlog.err"; exit 1; }
	c0=$(cpu_ticks "$TR_PID")
	loop "$PACED_RATE" "$PN"
	c1=$(cpu_ticks "$TR_PID")
	wait_idle "$TR_PID" 30
	stop_tracer
	ev=$(summary_value "$WORK/hdrlog.err" 'socket events')
	lost=$(summary_value "$WORK/hdrlog.err" 'records lost (ring')
	cpu=$(cpu_pct "$((c1 - c0))" "$L_T")
	echo "   achieved $L_RATE conn/s ($L_N in ${L_T}s, $L_FAIL connects failed); hdrlog CPU ~$cpu%"
	awk -v a="$L_RATE" -v r="$PACED_RATE" 'BEGIN { exit !(a < 0.95 * r) }' &&
		echo "   (below the target: one loop on one CPU does not reach it here; see 1.)"
	echo "   hdrlog: ${ev:-?} socket events, ${lost:-?} records lost (ring buffer full)"
	grep -E 'lost|socket events|written' "$WORK/hdrlog.err" | sed 's/^/      /'
	PACED_LINE="$L_RATE conn/s achieved, ${ev:-?} socket events, ${lost:-?} lost"
else
	echo "   skipped: $HDRLOG not built"
	PACED_LINE=skipped
fi
echo

echo "-- summary"
echo "   without tracer:        $M_OFF us/conn"
if [ $HAVE_HDRLOG = 1 ]; then
	echo "   hdrlog --events sockets: $M_ON us/conn"
	echo "   hdrlog stopped:        $STOPPED us/conn (kernel side only)"
fi
printf '%s' "$PEER_SUMMARY"
echo "   paced ($PACED_RATE/s):      $PACED_LINE"
