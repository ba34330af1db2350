#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Soak: hdrlog for DURATION seconds (the argument, default 600) on mixed
# traffic between two test namespaces, with what a long run meets:
#   - traffic: a bounded generator in B (one TCP connection every TICK,
#     UDP datagrams, and raw frames from a tagged and a blocked source)
#     towards a server in A, where hdrlog captures with socket events on;
#   - outputs: json and pcapng files and syslog over TCP to our own
#     rsyslogd in A (started as test_syslog.py starts it);
#   - every HUP_EVERY s: the files moved away (as logrotate does), the
#     lists rewritten, SIGHUP (reopen and list reload);
#   - in the warm-up and again half way: rsyslogd stopped for OUTAGE s and
#     started again.
# The warm-up (WARMUP s) has one SIGHUP and one outage, so that what they
# allocate once is in the first figures.
# Prints hdrlog's RSS, open fds and counters (SIGUSR1) after a warm-up and
# at the end, a timeline in between, and checks: RSS and fds flat, every
# SIGHUP put lists in force, the JSON files hold what the json output
# counts as written, and for every output written + lost (+ records it has
# no place for) = the records read from the ring. Prints PASS or FAIL per
# check and exits 1 if any failed. Not part of make check.
#
# Environment: TICK (0.02 s), HUP_EVERY (60), OUTAGE (5), WARMUP (60),
#   RSS_SLACK_KB (2048), HDRLOG. The warm-up is long enough for the
#   connection table of socket attribution (~5 MB, calloc, touched page by
#   page as connections hash over it) to be mostly touched.
set -eu
. "$(dirname "$0")/common.sh"

DURATION=${1:-600}
TICK=${TICK:-0.02}
HUP_EVERY=${HUP_EVERY:-60}
OUTAGE=${OUTAGE:-5}
WARMUP=${WARMUP:-60}
RSS_SLACK_KB=${RSS_SLACK_KB:-2048}
RSYSLOGD=${RSYSLOGD:-/usr/sbin/rsyslogd}
PORT=10514
FAILED=0

bench_header "soak: ${DURATION}s of mixed traffic, list reloads, SIGHUPs, a syslog receiver restart"
need ip jq "$RSYSLOGD"
[ -x "$HDRLOG" ] || { echo "no hdrlog at $HDRLOG"; exit 1; }
[ "$DURATION" -ge $((WARMUP + 30)) ] && [ "$WARMUP" -ge $((3 * OUTAGE + 3)) ] || {
	echo "need DURATION >= WARMUP + 30 and WARMUP >= 3 x OUTAGE + 3"; exit 2; }

ok() { if "$@"; then echo 0; else echo 1; fi; }	# a test's status, set -e safe
check() {	# check NAME STATUS DETAIL
	if [ "$2" = 0 ]; then
		echo "   PASS $1 ($3)"
	else
		echo "   FAIL $1 ($3)"
		FAILED=1
	fi
}

make_netns
ip -n "$NS_A" link set lo up
A_MAC=$(ip -n "$NS_A" -j link show dev "$VETH_A" | jq -r '.[0].address')
B_MAC=$(ip -n "$NS_B" -j link show dev "$VETH_B" | jq -r '.[0].address')

# --- lists, in two spellings with the same cover, swapped at each reload ---
TAGLIST=$WORK/tag.list
BLOCKLIST=$WORK/block.list
write_lists() {
	if [ $(($1 % 2)) = 0 ]; then
		printf '203.0.113.0/25\n' >"$TAGLIST"
		printf '203.0.113.128/25\n' >"$BLOCKLIST"
	else
		printf '# reload %s\n203.0.113.0/26\n203.0.113.64/26\n2001:db8:1::/48\n' \
			"$1" >"$TAGLIST"
		printf '203.0.113.128/26 ; reload %s\n203.0.113.192/26\n' "$1" >"$BLOCKLIST"
	fi
}
write_lists 0

# --- rsyslogd in A, as test_syslog.py runs it ---------------------------------
RS_DIR=$WORK/rsyslog
mkdir -p "$RS_DIR/work"
cat >"$RS_DIR/rsyslog.conf" <<EOF
global(workDirectory="$RS_DIR/work")
module(load="imtcp")
template(name="raw" type="string" string="%rawmsg%\n")
ruleset(name="in") {
  action(type="omfile" file="$RS_DIR/out.log" template="raw")
}
input(type="imtcp" address="127.0.0.1" port="$PORT" ruleset="in")
EOF
RS_PID=""
rsyslog_start() {
	rm -f "$RS_DIR/pid"
	ip netns exec "$NS_A" "$RSYSLOGD" -n -f "$RS_DIR/rsyslog.conf" \
		-i "$RS_DIR/pid" >>"$RS_DIR/stderr" 2>&1 &
	RS_PID=$!
	BG_PIDS="$BG_PIDS $RS_PID"
	_i=0
	until ip netns exec "$NS_A" bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT" 2>/dev/null; do
		_i=$((_i + 1))
		if [ $_i -gt 100 ] || ! kill -0 "$RS_PID" 2>/dev/null; then
			echo "rsyslogd did not start:"; cat "$RS_DIR/stderr"; exit 1
		fi
		sleep 0.1
	done
}
rsyslog_stop() {
	stop_pid "$RS_PID" TERM 100
}
rsyslog_outage() {
	rsyslog_stop
	sleep "$OUTAGE"
	rsyslog_start
}
rsyslog_start

# --- the server in A and the generator in B -------------------------------------
cat >"$WORK/server.py" <<'EOF'
# server.py PORT SECONDS: read each connection to EOF, answer, close
import socket, sys, time
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("198.51.100.1", int(sys.argv[1])))
ls.listen(64)
ls.settimeout(1)
end = time.monotonic() + float(sys.argv[2])
while time.monotonic() < end:
    try:
        c, _ = ls.accept()
    except socket.timeout:
        continue
    c.settimeout(5)
    try:
        while c.recv(65536):
            pass
        c.sendall(b"ok\n")
    except OSError:
        pass
    c.close()
EOF
cat >"$WORK/gen.py" <<'EOF'
# gen.py SECONDS TICK DEV SRC_MAC DST_MAC PORT: every TICK one TCP
# connection, two UDP datagrams and two raw UDP frames, one from a tagged
# and one from a blocked source; bounded by SECONDS. Prints the counts.
import json, socket, struct, sys, time
dur, tick, dev, smac, dmac, port = (float(sys.argv[1]), float(sys.argv[2]),
                                    sys.argv[3], sys.argv[4], sys.argv[5],
                                    int(sys.argv[6]))
A = "198.51.100.1"
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    return ~(s + (s >> 16)) & 0xffff
def frame(src, i):
    udp = struct.pack("!HHHH", 40000 + i % 1000, 53, 20, 0) + b"q" * 12
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i & 0xffff, 0,
                     64, 17, 0, socket.inet_aton(src), socket.inet_aton(A))
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return (bytes.fromhex(dmac.replace(":", "")) +
            bytes.fromhex(smac.replace(":", "")) + b"\x08\x00" + ip + udp)
raw = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
raw.bind((dev, 0))
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
n = dict(tcp=0, tcp_failed=0, udp=0, raw=0)
t0 = time.monotonic()
i = 0
while time.monotonic() - t0 < dur:
    d = t0 + i * tick - time.monotonic()
    if d > 0:
        time.sleep(d)
    try:
        c = socket.create_connection((A, port), timeout=5)
        c.sendall(b"x" * (1 + i % 700))
        c.shutdown(socket.SHUT_WR)
        while c.recv(65536):
            pass
        c.close()
        n["tcp"] += 1
    except OSError:
        n["tcp_failed"] += 1
    for k in range(2):
        try:
            u.sendto(b"y" * (1 + i % 90), (A, 9000 + (i + k) % 16))
            n["udp"] += 1
        except OSError:
            pass
    raw.send(frame("203.0.113.%d" % (1 + i % 100), i))
    raw.send(frame("203.0.113.%d" % (129 + i % 100), i))
    n["raw"] += 2
    i += 1
print(json.dumps(n))
EOF

# --- hdrlog ----------------------------------------------------------------------
OUT_JSON=$WORK/soak.json
OUT_PCAPNG=$WORK/soak.pcapng
ERR=$WORK/hdrlog.err
ip netns exec "$NS_A" "$PY" "$WORK/server.py" 8080 $((DURATION + 60)) &
SERVER_PID=$!
BG_PIDS="$BG_PIDS $SERVER_PID"
start_hdrlog "$ERR" 0,1 --socket-events --taglist "tag=$TAGLIST" \
	--blocklist "bl=$BLOCKLIST" -o "json:$OUT_JSON" -o "pcapng:$OUT_PCAPNG" \
	-o "syslog:tcp://127.0.0.1:$PORT"
echo "hdrlog pid $HDRLOG_PID: $(grep 'listening on' "$ERR")"
ip netns exec "$NS_B" "$PY" "$WORK/gen.py" "$DURATION" "$TICK" "$VETH_B" \
	"$B_MAC" "$A_MAC" 8080 >"$WORK/gen.out" 2>"$WORK/gen.err" &
GEN_PID=$!
BG_PIDS="$BG_PIDS $GEN_PID"
T0=$(date +%s)

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$HDRLOG_PID/status"; }
n_fds() { ls "/proc/$HDRLOG_PID/fd" | wc -l; }
# counters: SIGUSR1, then the block it printed (from the line count before)
counters() {
	_before=$(wc -l <"$ERR")
	kill -USR1 "$HDRLOG_PID"
	_i=0
	while [ "$(wc -l <"$ERR")" -le "$_before" ] && [ $_i -lt 50 ]; do
		sleep 0.1; _i=$((_i + 1))
	done
	sleep 0.2	# the rest of the block
	tail -n +"$((_before + 1))" "$ERR" | grep -v 'lists in force' | sed 's/^/      /'
}
json_lines() {	# lines in the current and rotated JSON files
	cat "$OUT_JSON" "$WORK"/rotated.json.* 2>/dev/null | wc -l
}
lists_in_force() { grep -c 'lists in force' "$ERR" || true; }

HUPS=0
# logrotate's way: move the files, then SIGHUP; new lists too. Waits
# (bounded) for the reload's "lists in force".
rotate_hup() {
	HUPS=$((HUPS + 1))
	mv "$OUT_JSON" "$WORK/rotated.json.$HUPS"
	mv "$OUT_PCAPNG" "$WORK/rotated.pcapng.$HUPS"
	write_lists "$HUPS"
	kill -HUP "$HDRLOG_PID"
	_i=0
	while [ "$(lists_in_force)" -lt $((HUPS + 1)) ] && [ $_i -lt 300 ]; do
		sleep 0.1; _i=$((_i + 1))
	done
	rm -f "$WORK/rotated.pcapng.$HUPS"
}

# The warm-up meets each event once, so that what it allocates for good
# (the syslog output's queue of up to 4 MiB, the list reload's thread and
# its malloc arena) is in the first figures: flat means no growth when
# they come again.
sleep $((WARMUP / 3))
rotate_hup
sleep $((WARMUP / 3))
rsyslog_outage
sleep $((WARMUP - 2 * (WARMUP / 3) - OUTAGE))
RSS0=$(rss_kb); FDS0=$(n_fds)
echo
echo "-- after ${WARMUP}s warm-up (one SIGHUP, one ${OUTAGE}s rsyslogd outage): RSS $RSS0 kB, $FDS0 open fds; counters:"
counters
echo
echo "-- timeline (s, RSS kB, fds, JSON lines so far, event)"
OUTAGE_DONE=0
next_hup=$((WARMUP + HUP_EVERY))
RSS_MAX=$RSS0; FDS_MAX=$FDS0
while kill -0 "$GEN_PID" 2>/dev/null; do
	sleep 5
	el=$(( $(date +%s) - T0 ))
	kill -0 "$HDRLOG_PID" 2>/dev/null || { echo "hdrlog died:"; tail "$ERR"; exit 1; }
	ev=""
	if [ "$el" -ge "$next_hup" ] && [ "$el" -lt $((DURATION - 10)) ]; then
		rotate_hup
		ev="SIGHUP $HUPS (files moved, lists rewritten)"
		next_hup=$((next_hup + HUP_EVERY))
	elif [ "$OUTAGE_DONE" = 0 ] && [ "$el" -ge $((DURATION / 2)) ]; then
		rsyslog_outage
		OUTAGE_DONE=1
		ev="rsyslogd stopped for ${OUTAGE}s and started again"
	fi
	r=$(rss_kb); f=$(n_fds)
	[ "$r" -gt "$RSS_MAX" ] && RSS_MAX=$r
	[ "$f" -gt "$FDS_MAX" ] && FDS_MAX=$f
	if [ -n "$ev" ] || [ $((el % 60)) -lt 5 ]; then
		printf '   %5s %8s %4s %9s %s\n' "$el" "$r" "$f" "$(json_lines)" "$ev"
	fi
	[ "$el" -lt $((DURATION + 60)) ] || { echo "generator overran"; break; }
done
wait "$GEN_PID" || true
BG_PIDS=$(echo "$BG_PIDS" | tr ' ' '\n' | grep -vx "$GEN_PID" | tr '\n' ' ')
wait_idle "$HDRLOG_PID" 10	# socket events are system-wide: may not idle

RSS1=$(rss_kb); FDS1=$(n_fds)
echo
echo "-- at the end: RSS $RSS1 kB (peak $RSS_MAX), $FDS1 open fds (peak $FDS_MAX); counters:"
counters
echo "   generator: $(cat "$WORK/gen.out")"
END_LINE=$(wc -l <"$ERR")
kill -INT "$HDRLOG_PID"
(sleep 60; kill -KILL "$HDRLOG_PID" 2>/dev/null) &
WATCHDOG=$!
rc=0; wait "$HDRLOG_PID" || rc=$?
kill "$WATCHDOG" 2>/dev/null || true
BG_PIDS=$(echo "$BG_PIDS" | tr ' ' '\n' | grep -vx "$HDRLOG_PID" | tr '\n' ' ')
echo
rsyslog_stop
kill "$SERVER_PID" 2>/dev/null || true
wait "$SERVER_PID" 2>/dev/null || true
BG_PIDS=$(echo "$BG_PIDS" | tr ' ' '\n' | grep -vx "$SERVER_PID" | tr '\n' ' ')
SUMMARY=$WORK/summary
tail -n +"$((END_LINE + 1))" "$ERR" >"$SUMMARY"
echo "-- exit summary"
sed 's/^/      /' "$SUMMARY"

# --- checks ------------------------------------------------------------------------
# The summary, parsed by keyword so that its layout may change: totals
# from "N frames seen" / "N socket events" / "N records lost (ring buffer
# full)", and per output the numbers on its "output NAME...:" line before
# "written", "lost" and "not for this output".
total() { sed -n "s/^\(hdrlog: \)\{0,1\}\([0-9][0-9]*\) $1.*/\2/p" "$SUMMARY" | tail -1; }
SEEN=$(total 'frames seen'); SEEN=${SEEN:-0}
SOCK=$(total 'socket events'); SOCK=${SOCK:-0}
RING_LOST=$(total 'records lost (ring buffer full)'); RING_LOST=${RING_LOST:-0}
FILTERED=$(total 'records not written'); FILTERED=${FILTERED:-0}
UNDEC=$(total 'records lost (unknown'); UNDEC=${UNDEC:-0}
READ=$((SEEN + SOCK - RING_LOST))
TO_OUTPUTS=$(total 'records to the outputs')	# newer summaries
echo
echo "-- checks"
check "hdrlog exit status" "$rc" "exit $rc"
growth=$((RSS1 - RSS0))
allowed=$((RSS_SLACK_KB + RSS0 / 20))
check "RSS flat" "$(ok [ "$growth" -le "$allowed" ])" \
	"$RSS0 -> $RSS1 kB, growth $growth kB, allowed $allowed"
check "fds flat" "$(ok [ "$FDS1" -le "$FDS0" ])" "$FDS0 -> $FDS1"
check "every SIGHUP put lists in force" \
	"$(ok [ "$(lists_in_force)" -eq $((HUPS + 1)) ])" \
	"$HUPS SIGHUPs, $(lists_in_force) 'lists in force' lines"
grep -E '^(hdrlog: )?output ' "$SUMMARY" >"$WORK/outputs" || true
check "per-output lines in the summary" "$(ok [ -s "$WORK/outputs" ])" \
	"$(wc -l <"$WORK/outputs") lines"
echo "   records read from the ring: $READ = $SEEN frames seen + $SOCK socket events - $RING_LOST lost at the ring"
if [ -n "$TO_OUTPUTS" ]; then
	check "records to the outputs = records read" \
		"$(ok [ "$TO_OUTPUTS" -eq $((READ - FILTERED - UNDEC)) ])" \
		"$TO_OUTPUTS to the outputs, $READ read, $FILTERED filtered, $UNDEC undecodable"
fi
while IFS= read -r l; do
	name=$(echo "$l" | sed -n 's/^\(hdrlog: \)\{0,1\}output \(.*\): [0-9][0-9]* written.*/\2/p')
	num() { echo "$l" | grep -oE "[0-9]+ $1" | head -1 | cut -d' ' -f1; }
	w=$(num written); w=${w:-0}
	lo=$(num lost); lo=${lo:-0}
	# "N records this output has no place for" (older builds: "N
	# socket events [and flows] not for this output")
	sk=$(num '(records this output has no|socket events (and flows )?not)')
	sk=${sk:-0}
	sum=$((w + lo + sk + FILTERED + UNDEC))
	# socket records lost at the ring are counted in both "socket events"
	# and "lost at the ring": exact only when the ring lost nothing
	if [ "$RING_LOST" = 0 ]; then
		st=$(ok [ "$sum" -eq "$READ" ])
	else
		st=$(ok [ "$sum" -ge "$READ" -a "$sum" -le $((READ + RING_LOST)) ])
	fi
	check "$name: written + lost = records" "$st" \
		"$w written + $lo lost + $sk not for it + $FILTERED filtered + $UNDEC undecodable = $sum, read $READ"
	case $name in
	json*)
		lines=$(json_lines)
		check "json: the files hold what it wrote" "$(ok [ "$lines" -eq "$w" ])" \
			"$lines lines in $((HUPS + 1)) files, $w written"
		;;
	syslog*)
		got=$(wc -l <"$RS_DIR/out.log")
		check "syslog: rsyslogd received no more than written" \
			"$(ok [ "$got" -le "$w" -a "$got" -gt 0 ])" \
			"$got received, $w written, $lo lost (outage ${OUTAGE}s)"
		;;
	esac
done <"$WORK/outputs"
echo
if [ "$FAILED" = 0 ]; then echo "soak: PASS"; else echo "soak: FAIL"; fi
exit "$FAILED"
