#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# Records per second from the ring buffer to each output, hdrlog pinned to
# one CPU, frames generated in the kernel with BPF_PROG_RUN on the other
# (so generation costs hdrlog nothing), zero loss:
#   1. flat out: one burst of N frames into a 1G ring buffer that holds them
#      all, hdrlog -c N. Two figures:
#        drain: hdrlog is stopped (SIGSTOP) during the burst and continued
#          after it; rate = written / (SIGCONT -> hdrlog's exit). This is
#          hdrlog alone, whatever the generation costs.
#        burst->exit: as json_rate.sh, hdrlog running during the burst;
#          rate = written / (burst start -> exit). It can be no faster than
#          the generation (BPF_PROG_RUN's own ns per frame), which is printed.
#      Outputs: -w FILE.pcap, -w FILE.pcapng, -o json:FILE, each to tmpfs
#      (/dev/shm) and to disk (/var/tmp).
#   2. -o syslog:tcp://127.0.0.1:PORT to a private rsyslogd (imtcp on the
#      namespace's loopback, omfile to tmpfs), SYSLOG_N frames: what hdrlog
#      sent and what rsyslog wrote, and when; then the same over TLS
#      (-o syslog:tls://, rsyslog's gtls driver on SYSLOG_TLS_PORT,
#      certificates made here with certtool) in the same run;
#      then syslog:relp:// (imrelp on SYSLOG_PORT+2, needs rsyslog-relp):
#      written = acknowledged.
#   3. -o journal to journald (started here, volatile, when none listens),
#      JOURNAL_N frames flat out (hdrlog counts what journald refuses), then
#      paced at JOURNAL_RATES for JOURNAL_SECS each.
#   4. peers: tcpdump -r of hdrlog's own N-frame pcap -w a pcap (rewrite);
#      tcpdump -w capturing trafgen frames sent over the veth (live); xdpdump
#      --load-xdp-program -w, fed by BPF_PROG_RUN on its own XDP program.
#   5. -o kafka://BROKERS/TOPIC to librdkafka's mock cluster (the tests'
#      kafka_mock, three brokers on the namespace's loopback, on the other
#      CPU), KAFKA_N frames drained, beside -o json:FILE (tmpfs) with the same
#      count in the same run: records the brokers acknowledged per second.
# Prints figures; no pass/fail.
#
# Environment: N (2500000), RUNS (3), SYSLOG_N (1000000), JOURNAL_N
#   (20000), SYSLOG_PORT (10514), SYSLOG_TLS_PORT (10515), JOURNAL_RATES ("1000 2000 4000 8000 16000 32000"),
#   JOURNAL_SECS (2), TRAFGEN_N (2000000), XDPDUMP_N (3000000), TARGET (3000000), KAFKA_N
#   (1000000), KAFKA_MOCK (the build's tests/helpers/kafka_mock), HDRLOG.
set -eu
. "$(dirname "$0")/common.sh"

N=${N:-2500000}
RUNS=${RUNS:-3}
SYSLOG_N=${SYSLOG_N:-1000000}
JOURNAL_N=${JOURNAL_N:-20000}
JOURNAL_RATES=${JOURNAL_RATES:-"1000 2000 4000 8000 16000 32000"}
JOURNAL_SECS=${JOURNAL_SECS:-2}
TRAFGEN_N=${TRAFGEN_N:-2000000}
XDPDUMP_N=${XDPDUMP_N:-3000000}
TARGET=${TARGET:-3000000}
KAFKA_N=${KAFKA_N:-1000000}
KAFKA_MOCK=${KAFKA_MOCK:-$(dirname "$HDRLOG")/../tests/helpers/kafka_mock}
KAFKA_PID=""
SYSLOG_PORT=${SYSLOG_PORT:-10514}
SYSLOG_TLS_PORT=${SYSLOG_TLS_PORT:-10515}
HDRLOG_CPU=0
GEN_CPU=1

JOURNALD=/lib/systemd/systemd-journald
JSOCK=/run/systemd/journal/socket
JDROPIN_DIR=/run/systemd/journald.conf.d
JDROPIN=$JDROPIN_DIR/zz-hdrlog-bench-$$.conf
JOURNALD_PID=""
JCREATED=""
RSYSLOG_PID=""

out_dirs

# rsyslogd and journald (only if started here) first, then common.sh's
# cleanup; /run is left as it was found
outputs_cleanup() {
	rc=$?
	trap - EXIT
	set +e
	[ -z "$HDRLOG_PID_CUR" ] || kill -CONT "$HDRLOG_PID_CUR" 2>/dev/null || true
	stop_pid "$RSYSLOG_PID" TERM 100
	stop_pid "$KAFKA_PID" TERM 100
	if [ -n "$JOURNALD_PID" ]; then
		stop_pid "$JOURNALD_PID" TERM 100
		for p in $(printf '%s\n' $JCREATED | awk '{ print length, $0 }' |
				sort -rn | cut -d' ' -f2-); do
			if [ -d "$p" ] && [ ! -L "$p" ]; then
				rm -rf "$p"
			else
				rm -f "$p"
			fi
		done
	fi
	(exit $rc)
	bench_cleanup
}
HDRLOG_PID_CUR=""
trap outputs_cleanup EXIT

bench_header "outputs_rate: ring buffer -> each output, records per second, one CPU"
need bpftool jq ip taskset tcpdump
echo "hdrlog pinned to CPU $HDRLOG_CPU, BPF_PROG_RUN on CPU $GEN_CPU"
echo "files: $TMPFS_DIR ($SHM_FS), $DISK_DIR ($DISK_FS)"
echo

if [ ! -x "$HDRLOG" ]; then
	echo "-- hdrlog: skipped, $HDRLOG not built"
	exit 0
fi

make_netns
ip -n "$NS_A" link set lo up
FRAME=$WORK/frame.bin
make_frame "$FRAME"
# BPF_PROG_RUN's context: ingress_ifindex = the veth (without it the kernel
# uses lo, which the pcapng writer, rightly, has no interface block for);
# the run must then be in the veth's namespace
IFINDEX=$(ip -n "$NS_A" -j link show dev "$VETH_A" | jq .[0].ifindex)
CTX=$WORK/ctx.bin
"$PY" -c 'import struct, sys
open(sys.argv[1], "wb").write(struct.pack("<6I", 0, 64, 0, int(sys.argv[2]), 0, 0))' \
	"$CTX" "$IFINDEX"

# burst ID COUNT: BPF_PROG_RUN COUNT times on CPU GEN_CPU; sets GEN_NS
burst() {
	GEN_NS=$(ip netns exec "$NS_A" taskset -c "$GEN_CPU" bpftool -j prog run \
		id "$1" data_in "$FRAME" ctx_in "$CTX" repeat "$2" | jq -r .duration)
}

# children_times FILE: the builtin times (this shell's own and its reaped
# children's CPU), run without a fork; children_cpu FILE: the children's
# user + sys seconds from it
children_times() { times >"$1"; }
children_cpu() {
	awk 'NR == 2 { t = 0
		for (i = 1; i <= 2; i++) { split($i, a, /[ms]/); t += a[1] * 60 + a[2] }
		printf "%.3f", t }' "$1"
}

# one_run MODE LABEL OUTFILE COUNT HDRLOG-ARGS...: MODE drain or concurrent;
# prints one line, sets RUN_RATE, RUN_W, RUN_L, RUN_T0, RUN_T1, RUN_OL.
# hdrlog is this shell's child: its exit is taken by wait (a watchdog
# interrupts it after 60 s, e.g. when the ring did not hold all N) and its
# less what it had used before the timed part (start-up).
one_run() {
	_mode=$1; _label=$2; _out=$3; _n=$4; shift 4
	rm_out "$_out"
	start_hdrlog "$WORK/run.err" "$HDRLOG_CPU" -c "$_n" --ringbuf-size 1G "$@"
	HDRLOG_PID_CUR=$HDRLOG_PID
	_id=$(veth_prog_id)
	if [ "$_mode" = drain ]; then
		kill -STOP "$HDRLOG_PID"
		burst "$_id" "$_n"
		_c0=$(cpu_ticks "$HDRLOG_PID")
		children_times "$WORK/times0"
		RUN_T0=$(now)
		kill -CONT "$HDRLOG_PID"
	else
		_c0=$(cpu_ticks "$HDRLOG_PID")
		RUN_T0=$(now)
		burst "$_id" "$_n"
		children_times "$WORK/times0"
	fi
	# watchdog: its sleep killed early means "no need"
	( sleep 60 & echo $! >"$WORK/wd.pid"
	  wait $! && kill -INT "$HDRLOG_PID" ) >/dev/null 2>&1 &
	_wd=$!
	wait "$HDRLOG_PID" 2>/dev/null || true
	RUN_T1=$(now)
	children_times "$WORK/times1"
	_cc0=$(children_cpu "$WORK/times0")
	_cc1=$(children_cpu "$WORK/times1")
	_i=0
	while [ ! -s "$WORK/wd.pid" ] && [ $_i -lt 50 ]; do sleep 0.02; _i=$((_i + 1)); done
	kill "$(cat "$WORK/wd.pid")" 2>/dev/null || true
	wait "$_wd" 2>/dev/null || true
	rm -f "$WORK/wd.pid"
	stop_hdrlog
	HDRLOG_PID_CUR=""
	_el=$(secs "$RUN_T0" "$RUN_T1")
	RUN_W=$(summary_value "$WORK/run.err" 'records written')
	RUN_L=$(summary_value "$WORK/run.err" 'records lost (ring')
	RUN_OL=$(sed -n 's/^output [^ ]*: [0-9]* written, \([0-9]*\) lost.*/\1/p' \
		"$WORK/run.err" | head -1)
	_size="-"
	[ -f "$_out" ] && _size="$(( $(stat -c %s "$_out") / 1000000 )) MB"
	_cpu=$(awk -v a="$_cc0" -v b="$_cc1" -v c0="$_c0" -v hz="$HZ" -v t="$_el" \
		'BEGIN { printf "%.0f", 100 * (b - a - c0 / hz) / t }')
	RUN_RATE=$(rate "${RUN_W:-0}" "$_el")
	printf '   %-12s %-10s %9s rec/s  written %s lost %s/%s (%s) %ss, gen %sns/frame, CPU ~%s%%\n' \
		"$_label" "$_mode" "$RUN_RATE" "${RUN_W:-?}" "${RUN_L:-?}" \
		"${RUN_OL:-0}" "$_size" "$_el" "$GEN_NS" "$_cpu"
	if grep -q warning "$WORK/run.err"; then
		grep warning "$WORK/run.err" | head -3 | sed 's/^/      /'
	fi
}

# --- 1. files ------------------------------------------------------------------
echo "-- 1. flat out to files: burst of $N frames (64-byte UDP), ring 1G, hdrlog -c $N"
echo "   lost a/b: a = ring buffer full, b = output errors; drain = hdrlog stopped"
echo "   during the burst, timed from SIGCONT to exit (median of $RUNS);"
echo "   concurrent = burst start to exit, hdrlog running (1 run, as json_rate.sh)"
SUMMARY=""
ANCHOR_PCAP=""
for kind in pcap pcapng json; do
	for d in "$TMPFS_DIR" "$DISK_DIR"; do
		out=$d/out.$kind
		case $kind in
		json) args="-o json:$out" ;;
		*) args="-w $out" ;;
		esac
		lb="$kind $(fs_type "$d")"
		rs=""
		for r in $(seq "$RUNS"); do
			# shellcheck disable=SC2086
			one_run drain "$lb" "$out" "$N" $args
			rs="$rs $RUN_RATE"
			if [ "$kind" = pcap ] && [ "$d" = "$TMPFS_DIR" ] && [ -z "$ANCHOR_PCAP" ] &&
					[ "${RUN_W:-0}" = "$N" ]; then
				ANCHOR_PCAP=$WORK/anchor.pcap
				mv "$out" "$ANCHOR_PCAP"
			fi
			rm_out "$out"
		done
		med=$(median $rs)
		# shellcheck disable=SC2086
		one_run concurrent "$lb" "$out" "$N" $args
		rm_out "$out"
		SUMMARY="$SUMMARY$(printf '   %-14s drain median %9s rec/s (runs%s), concurrent %9s' \
			"$lb" "$med" "$rs" "$RUN_RATE")
"
	done
done
echo

# --- 2. syslog over TCP, RELP and TLS to rsyslogd ------------------------------
echo "-- 2. -o syslog:tcp://127.0.0.1:$SYSLOG_PORT, syslog:relp://127.0.0.1:$((SYSLOG_PORT + 2)), syslog:tls://127.0.0.1:$SYSLOG_TLS_PORT"
echo "   (rfc5424, octet-counting) to rsyslogd, $SYSLOG_N frames"
SYSLOG_TLS_LINE="skipped (rsyslog-gnutls or certtool, Debian's gnutls-bin, not installed)"
SYSLOG_RELP_LINE="skipped (rsyslog-relp not installed)"
if command -v rsyslogd >/dev/null 2>&1; then
	RS_DIR=$WORK/rsyslog
	mkdir -p "$RS_DIR/work"
	RS_OUT=$TMPFS_DIR/rsyslog.log
	cat >"$RS_DIR/rsyslog.conf" <<EOF
global(workDirectory="$RS_DIR/work")
module(load="imtcp")
input(type="imtcp" address="127.0.0.1" port="$SYSLOG_PORT" ruleset="bench")
ruleset(name="bench") {
	action(type="omfile" file="$RS_OUT" template="RSYSLOG_FileFormat")
}
EOF
	# TLS: a CA and a certificate for 127.0.0.1 (ECDSA P-256; GnuTLS at
	# both ends negotiates TLS 1.3), the gtls driver on an input of its own
	SYSLOG_KINDS=tcp
	if ls /usr/lib/*/rsyslog/imrelp.so >/dev/null 2>&1; then
		cat >>"$RS_DIR/rsyslog.conf" <<EOF
module(load="imrelp")
input(type="imrelp" address="127.0.0.1" port="$((SYSLOG_PORT + 2))" ruleset="bench")
EOF
		SYSLOG_KINDS="tcp relp"
	fi
	if command -v certtool >/dev/null 2>&1 &&
			ls /usr/lib/*/rsyslog/lmnsd_gtls.so >/dev/null 2>&1; then
		printf 'cn = "bench CA"\nca\ncert_signing_key\nexpiration_days = 2\n' \
			>"$RS_DIR/ca.tmpl"
		printf 'cn = "127.0.0.1"\nip_address = "127.0.0.1"\ntls_www_server\nsigning_key\nexpiration_days = 2\n' \
			>"$RS_DIR/srv.tmpl"
		certtool --generate-privkey --key-type=ecdsa --outfile "$RS_DIR/ca.key" 2>/dev/null
		certtool --generate-self-signed --load-privkey "$RS_DIR/ca.key" \
			--template "$RS_DIR/ca.tmpl" --outfile "$RS_DIR/ca.pem" 2>/dev/null
		certtool --generate-privkey --key-type=ecdsa --outfile "$RS_DIR/srv.key" 2>/dev/null
		certtool --generate-certificate --load-privkey "$RS_DIR/srv.key" \
			--load-ca-certificate "$RS_DIR/ca.pem" --load-ca-privkey "$RS_DIR/ca.key" \
			--template "$RS_DIR/srv.tmpl" --outfile "$RS_DIR/srv.pem" 2>/dev/null
		cat >>"$RS_DIR/rsyslog.conf" <<EOF
input(type="imtcp" address="127.0.0.1" port="$SYSLOG_TLS_PORT" ruleset="bench"
	streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon"
	streamDriver.CAFile="$RS_DIR/ca.pem" streamDriver.CertFile="$RS_DIR/srv.pem"
	streamDriver.KeyFile="$RS_DIR/srv.key")
EOF
		SYSLOG_KINDS="$SYSLOG_KINDS tls"
	fi
	# its own config, pid file and work dir; in A's namespace, on CPU
	# GEN_CPU (idle once the burst is over)
	ip netns exec "$NS_A" taskset -c "$GEN_CPU" rsyslogd -n -f "$RS_DIR/rsyslog.conf" \
		-i "$RS_DIR/rsyslogd.pid" >"$RS_DIR/stderr" 2>&1 &
	RSYSLOG_PID=$!
	i=0
	until ip netns exec "$NS_A" ss -Hltn "sport = :$SYSLOG_PORT" | grep -q .; do
		i=$((i + 1))
		if [ $i -gt 100 ] || ! kill -0 "$RSYSLOG_PID" 2>/dev/null; then
			echo "   rsyslogd did not start:"; sed 's/^/      /' "$RS_DIR/stderr"
			RSYSLOG_PID=""; break
		fi
		sleep 0.1
	done
	echo "   $(rsyslogd -v | head -1)"
fi
if [ -n "$RSYSLOG_PID" ]; then
	for kind in $SYSLOG_KINDS; do
		if [ "$kind" = tls ]; then
			target="syslog:tls://127.0.0.1:$SYSLOG_TLS_PORT --tls-ca $RS_DIR/ca.pem"
		elif [ "$kind" = relp ]; then
			target="syslog:relp://127.0.0.1:$((SYSLOG_PORT + 2))"
		else
			target="syslog:tcp://127.0.0.1:$SYSLOG_PORT"
		fi
		for mode in drain concurrent; do
			: >"$RS_OUT"
			rc0=$(cpu_ticks "$RSYSLOG_PID")
			# shellcheck disable=SC2086
			one_run "$mode" "syslog-$kind" - "$SYSLOG_N" -o $target
			sent=$RUN_W; t0=$RUN_T0
			# rsyslogd done: its file has not grown for 1 s (at most 120 s)
			last=-1; tl=$(now); i=0
			while [ $i -lt 1200 ]; do
				s=$(stat -c %s "$RS_OUT")
				if [ "$s" != "$last" ]; then last=$s; tl=$(now); fi
				awk -v a="$tl" -v b="$(now)" 'BEGIN { exit !(b - a > 1) }' && break
				sleep 0.1; i=$((i + 1))
			done
			rc1=$(cpu_ticks "$RSYSLOG_PID")
			got=$(wc -l <"$RS_OUT")
			el=$(secs "$t0" "$tl")
			rcpu=$(cpu_pct "$((rc1 - rc0))" "$el")
			printf '   rsyslogd   %-10s %9s rec/s  received %s of %s sent, last line %ss after %s, %s B/line, its CPU ~%s%%\n' \
				"$mode" "$(rate "$got" "$el")" "$got" "$sent" "$el" \
				"$([ "$mode" = drain ] && echo SIGCONT || echo 'burst start')" \
				"$((got ? $(stat -c %s "$RS_OUT") / got : 0))" "$rcpu"
			line=$(printf 'hdrlog sent %s rec/s (%s of %s written), rsyslogd wrote %s rec/s (%s lines)' \
				"$RUN_RATE" "$sent" "$SYSLOG_N" "$(rate "$got" "$el")" "$got")
			if [ "$mode" = drain ]; then
				case $kind in
				tls) SYSLOG_TLS_LINE=$line ;;
				relp) SYSLOG_RELP_LINE=$line ;;
				*) SYSLOG_LINE=$line ;;
				esac
			fi
		done
	done
	sed -n 1p "$RS_OUT" | cut -c1-200 | sed 's/^/   first line: /'
	stop_pid "$RSYSLOG_PID" TERM 100; RSYSLOG_PID=""
	rm_out "$RS_OUT"
	echo "   (rsyslogd: default main queue, one imtcp session, omfile on $SHM_FS, pinned"
	echo "   to CPU $GEN_CPU, all its threads; hdrlog's CPU includes loopback TCP delivery,"
	echo "   which runs in softirq on the sender's CPU. 'lost' = records hdrlog dropped"
	echo "   because rsyslogd's socket and hdrlog's queue were full: rsyslogd did not"
	echo "   keep up; hdrlog's json rate above is what it can format)"
else
	echo "   skipped: rsyslogd not installed (Debian package rsyslog)"
	SYSLOG_LINE="skipped"
fi
echo

# --- 3. journal ------------------------------------------------------------------
jlistening() {
	"$PY" -c 'import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
try:
    s.connect(sys.argv[1])
except OSError:
    sys.exit(1)' "$JSOCK"
}
jcount() {
	journalctl -q --no-pager -o cat "_PID=$1" SYSLOG_IDENTIFIER=hdrlog 2>/dev/null |
		wc -l
}
# jwait PID: until journald's count for PID stops changing (1 s, max 60 s);
# sets JCOUNT and JLAST, the time the count was last seen to grow
jwait() {
	_last=-1; _same=0; _i=0; JLAST=$(now)
	while [ $_i -lt 300 ]; do
		_c=$(jcount "$1")
		if [ "$_c" = "$_last" ]; then
			_same=$((_same + 1)); [ $_same -ge 5 ] && break
		else
			_same=0; _last=$_c; JLAST=$(now)
		fi
		sleep 0.2; _i=$((_i + 1))
	done
	JCOUNT=$_last
}
echo "-- 3. -o journal, $JOURNAL_N frames flat out, then paced"
JOURNAL_LINE=skipped
if [ -x "$JOURNALD" ] && command -v journalctl >/dev/null 2>&1; then
	if jlistening; then
		echo "   a journald is already listening on $JSOCK: using it as it is"
		echo "   (its rate limits apply)"
	else
		for p in /run/systemd /run/systemd/journal /run/log /run/log/journal \
				"$JDROPIN_DIR"; do
			[ -e "$p" ] || JCREATED="$JCREATED $p"
		done
		mkdir -p "$JDROPIN_DIR"
		JCREATED="$JCREATED $JDROPIN"
		printf '[Journal]\nStorage=volatile\nReadKMsg=no\nForwardToSyslog=no\nForwardToWall=no\nRateLimitIntervalSec=0\n' \
			>"$JDROPIN"
		# in A's namespace, where its sockets get net.unix.max_dgram_qlen
		# 512, what systemd sets at boot (sysctl.d/50-default.conf), not
		# the kernel's 10 that this machine, booted without systemd, has
		ip netns exec "$NS_A" sysctl -qw net.unix.max_dgram_qlen=512
		# (nsenter, not ip netns exec, which remounts /sys without the
		# cgroup tree journald needs)
		(cd / && exec nsenter --net="/run/netns/$NS_A" taskset -c "$GEN_CPU" \
			"$JOURNALD" </dev/null >/dev/null 2>"$WORK/journald.err") &
		JOURNALD_PID=$!
		i=0
		until jlistening; do
			i=$((i + 1))
			if [ $i -gt 100 ] || ! kill -0 "$JOURNALD_PID" 2>/dev/null; then
				echo "   journald did not start:"; sed 's/^/      /' "$WORK/journald.err"
				break
			fi
			sleep 0.1
		done
		echo "   started $JOURNALD (volatile in /run/log/journal, no rate limit, in A's namespace"
		echo "   with net.unix.max_dgram_qlen 512, pid $JOURNALD_PID, CPU $GEN_CPU); $(journalctl --version | head -1)"
	fi
fi
if jlistening 2>/dev/null; then
	one_run drain journal - "$JOURNAL_N" -o journal
	jp=$HDRLOG_PID
	jol=${RUN_OL:-0}
	t0=$RUN_T0
	jwait "$jp"
	printf '   journald   drain      %s entries in the journal (hdrlog: %s written, %s refused), the last seen by %ss after SIGCONT (polled every 0.2 s)\n' \
		"$JCOUNT" "${RUN_W:-?}" "${jol:-?}" "$(secs "$t0" "$JLAST")"
	echo "   (hdrlog does not wait for journald: what its socket queue, net.unix.max_dgram_qlen"
	echo "   = $(ip netns exec "$NS_A" sysctl -n net.unix.max_dgram_qlen) here, does not hold is refused at once and counted as lost)"
	JOURNAL_LINE="flat out: hdrlog $RUN_RATE rec/s, ${RUN_W:-?} written, ${jol:-?} refused by journald, $JCOUNT in the journal"
	# paced: the pacer runs BPF_PROG_RUN batches every 20 ms
	write_pacer
	printf '   paced %ss a rate:  %9s %9s %9s %9s %9s\n' "$JOURNAL_SECS" target/s sent/s written refused "journal"
	JBEST=none
	for r in $JOURNAL_RATES; do
		start_hdrlog "$WORK/jp.err" "$HDRLOG_CPU" -o journal
		id=$(veth_prog_id)
		res=$(ip netns exec "$NS_A" taskset -c "$GEN_CPU" "$PY" "$PACER" "$id" \
			"$FRAME" "$r" "$JOURNAL_SECS" "$CTX")
		wait_idle "$HDRLOG_PID" 30
		jp=$HDRLOG_PID
		stop_hdrlog
		jwait "$jp"
		sent=${res% *}; el=${res#* }
		w=$(summary_value "$WORK/jp.err" 'records written')
		l=$(summary_value "$WORK/jp.err" 'records lost (output')
		l=${l:-0}
		printf '                      %9s %9s %9s %9s %9s\n' "$r" "$(rate "$sent" "$el")" \
			"${w:-?}" "${l:-?}" "$JCOUNT"
		[ "${l:-1}" = 0 ] && [ "$JCOUNT" = "$sent" ] || break
		JBEST=$(rate "$sent" "$el")
	done
	echo "   highest paced rate with nothing refused: $JBEST entries/s"
	JOURNAL_LINE="$JOURNAL_LINE; paced, nothing refused: up to $JBEST/s"
else
	echo "   skipped: no journald"
fi
echo

# --- 4. peers ---------------------------------------------------------------------
echo "-- 4. peers"
TD_LINE=""
if [ -n "$ANCHOR_PCAP" ]; then
	echo "   tcpdump -r (hdrlog's $N-frame pcap, tmpfs) -w FILE, pinned to CPU $HDRLOG_CPU, median of $RUNS:"
	for d in "$TMPFS_DIR" "$DISK_DIR"; do
		ts=""
		for r in $(seq "$RUNS"); do
			t0=$(now)
			taskset -c "$HDRLOG_CPU" tcpdump -r "$ANCHOR_PCAP" -w "$d/td.pcap" 2>/dev/null
			t1=$(now)
			ts="$ts $(secs "$t0" "$t1")"
			rm_out "$d/td.pcap"
		done
		t=$(median $ts)
		printf '      -> %-6s %9s frames/s  (%ss; runs%s)\n' "$(fs_type "$d")" "$(rate "$N" "$t")" "$t" "$ts"
		TD_LINE="$TD_LINE $(fs_type "$d") $(rate "$N" "$t")"
	done
	rm -f "$ANCHOR_PCAP"
fi

TG_LINE="skipped (trafgen, Debian package netsniff-ng, not installed)"
if command -v trafgen >/dev/null 2>&1; then
	# trafgen -P 1 binds itself to CPU 0, so here tcpdump takes CPU 1
	{ printf '{ '; od -An -v -tx1 "$FRAME" | tr -s ' \n' '  ' |
		sed 's/^ //; s/ $//; s/ /, 0x/g; s/^/0x/'; printf ' }\n'; } >"$WORK/frame.trafgen"
	ip netns exec "$NS_A" taskset -c "$GEN_CPU" tcpdump -i "$VETH_A" -nn \
		-w "$TMPFS_DIR/live.pcap" 2>"$WORK/td.err" &
	TDP=$!
	BG_PIDS="$BG_PIDS $TDP"
	i=0
	until grep -qs listening "$WORK/td.err" || [ $i -gt 50 ]; do sleep 0.1; i=$((i + 1)); done
	c0=$(cpu_ticks "$TDP")
	t0=$(now)
	ip netns exec "$NS_B" trafgen -o "$VETH_B" -i "$WORK/frame.trafgen" \
		-n "$TRAFGEN_N" -P 1 >"$WORK/tg.out" 2>&1 || true
	t1=$(now)
	c1=$(cpu_ticks "$TDP")
	sleep 1.5
	stop_pid "$TDP" INT 300
	el=$(secs "$t0" "$t1")
	cap=$(sed -n 's/^\([0-9]*\) packets captured.*/\1/p' "$WORK/td.err")
	drop=$(sed -n 's/^\([0-9]*\) packets dropped by kernel.*/\1/p' "$WORK/td.err")
	cpu=$(cpu_pct "$((c1 - c0))" "$el")
	percpu=$(awk -v n="${cap:-0}" -v c="$((c1 - c0))" -v hz="$HZ" \
		'BEGIN { printf "%.0f", (c > 0 ? n / (c / hz) : 0) }')
	printf '   tcpdump -i veth -w (tmpfs), trafgen over the veth: %s frames in %ss = %s frames/s sent;\n' \
		"$TRAFGEN_N" "$el" "$(rate "$TRAFGEN_N" "$el")"
	printf '      tcpdump captured %s, dropped by kernel %s, its CPU ~%s%% => ~%s frames per CPU-second\n' \
		"${cap:-?}" "${drop:-?}" "$cpu" "$percpu"
	TG_LINE="kept up with $(rate "$TRAFGEN_N" "$el")/s (trafgen's rate), captured ${cap:-?}, dropped ${drop:-?}, CPU ~$cpu%, ~$percpu frames per CPU-second"
	rm_out "$TMPFS_DIR/live.pcap"
fi

XD_LINE="skipped (xdpdump, Debian package xdp-tools, not installed)"
if command -v xdpdump >/dev/null 2>&1; then
	ip netns exec "$NS_A" taskset -c "$HDRLOG_CPU" xdpdump --load-xdp-program \
		-i "$VETH_A" -w "$TMPFS_DIR/xdpdump.pcap" >"$WORK/xd.out" 2>&1 &
	XDP_PID=$!
	BG_PIDS="$BG_PIDS $XDP_PID"
	i=0
	until grep -qs listening "$WORK/xd.out" || [ $i -gt 100 ]; do sleep 0.1; i=$((i + 1)); done
	xid=$(veth_prog_id)
	if [ -n "$xid" ] && [ "$(veth_prog_name)" = xdpdump ]; then
		c0=$(cpu_ticks "$XDP_PID")
		t0=$(now)
		burst "$xid" "$XDPDUMP_N"
		t1=$(now)
		sleep 1
		c1=$(cpu_ticks "$XDP_PID")
		stop_pid "$XDP_PID" INT 300
		el=$(secs "$t0" "$t1")
		cap=$(sed -n 's/^\([0-9]*\) packets captured.*/\1/p' "$WORK/xd.out")
		drop=$(sed -n 's/^\([0-9]*\) packets dropped by perf ring.*/\1/p' "$WORK/xd.out")
		cpu=$(cpu_pct "$((c1 - c0))" "$el")
		printf '   xdpdump --load-xdp-program -w (tmpfs), burst of %s into its program (%sns/frame, %ss):\n' \
			"$XDPDUMP_N" "$GEN_NS" "$el"
		printf '      captured %s, dropped by perf ring %s => %s frames/s captured during the burst, CPU ~%s%%\n' \
			"${cap:-?}" "${drop:-?}" "$(rate "${cap:-0}" "$el")" "$cpu"
		XD_LINE="$(rate "${cap:-0}" "$el") frames/s captured (${cap:-?} of $XDPDUMP_N, ${drop:-?} dropped by its perf ring)"
	else
		echo "   xdpdump: did not load its program:"; sed 's/^/      /' "$WORK/xd.out"
		stop_pid "$XDP_PID" INT 300
		XD_LINE="could not run"
	fi
	rm_out "$TMPFS_DIR/xdpdump.pcap"
fi
echo

# --- 5. kafka ---------------------------------------------------------------------
echo "-- 5. -o kafka to librdkafka's mock cluster, beside -o json (tmpfs), $KAFKA_N frames drained"
KAFKA_LINE="skipped ($KAFKA_MOCK not built: make check builds it)"
if [ -x "$KAFKA_MOCK" ]; then
	# its stdin a fifo held open here: it exits when the fifo closes
	mkfifo "$WORK/kafka.in"
	ip netns exec "$NS_A" taskset -c "$GEN_CPU" "$KAFKA_MOCK" bench 6 \
		<"$WORK/kafka.in" >"$WORK/kafka.out" 2>"$WORK/kafka.err" &
	KAFKA_PID=$!
	exec 8>"$WORK/kafka.in"
	i=0
	until [ -s "$WORK/kafka.out" ] || [ $i -gt 100 ]; do sleep 0.1; i=$((i + 1)); done
	BOOT=$(head -1 "$WORK/kafka.out")
	one_run drain json-shm "$TMPFS_DIR/k.json" "$KAFKA_N" -o "json:$TMPFS_DIR/k.json"
	KJSON=$RUN_RATE
	rm_out "$TMPFS_DIR/k.json"
	kc0=$(cpu_ticks "$KAFKA_PID")
	one_run drain kafka - "$KAFKA_N" -o "kafka://$BOOT/bench"
	kc1=$(cpu_ticks "$KAFKA_PID")
	echo "   (kafka: written = acknowledged by the mock brokers, lz4, idempotent; the"
	echo "   time includes waiting for the last acknowledgements; the mock cluster's"
	echo "   CPU on CPU $GEN_CPU: $(awk -v c="$((kc1 - kc0))" -v hz="$HZ" \
		'BEGIN { printf "%.1f", c / hz }') s)"
	KAFKA_LINE="$RUN_RATE rec/s acknowledged (${RUN_W:-?} written, ${RUN_OL:-0} lost), json on $SHM_FS $KJSON rec/s, $KAFKA_N records each"
	exec 8>&-
	stop_pid "$KAFKA_PID" TERM 100; KAFKA_PID=""
fi
echo

echo "-- summary (records per second, hdrlog on one CPU, zero loss unless said)"
printf '%s' "$SUMMARY"
echo "   syslog tcp:    $SYSLOG_LINE"
echo "   syslog tls:    $SYSLOG_TLS_LINE"
echo "   syslog relp:   $SYSLOG_RELP_LINE"
echo "   journal:       $JOURNAL_LINE"
echo "   kafka (mock):  $KAFKA_LINE"
echo "   tcpdump -r -w: $TD_LINE"
echo "   tcpdump live:  $TG_LINE"
echo "   xdpdump:       $XD_LINE"
echo "   target for pcap and pcapng: $TARGET"
