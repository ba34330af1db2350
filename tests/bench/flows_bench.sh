#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
#
# flows_bench.sh: flow records under a live veth flood, hdrlog next to the
# flow exporters people run (issue 13).
#
# As flood.sh: trafgen -P 1 in the second namespace sends 64-byte UDP
# frames out of its veth end to the first namespace's end, where the
# capturer runs pinned to CAP_CPU. Three traffic sets, each frame a UDP
# datagram to 198.51.100.1:53 from 198.51.100.0/24:
#   few   8 flows (source ports 1024-1031)
#   10k   10,000 flows (source ports 1024-11023)
#   1m    1,036,288 flows (source address .2-.254, 253 values, times
#         source ports 1024-5119, 4096 values: trafgen's two counters step
#         together, and 253 and 4096 share no factor, so every pair comes
#         once before any repeats); N_1M frames, about two a flow
#         (the worst case for a flow table: every flow made, and each
#         frame of a flow a million frames after the one before);
#         N_1M=8290304 gives each flow 8
# Rows: nothing; tcpdump -w; softflowd (Debian package softflowd) and
# pmacctd with its nfprobe plugin (Debian package pmacct), both exporting
# IPFIX to an nfcapd (nfdump) on the first namespace's loopback; hdrlog
# --log flows -o ipfix:// to the same nfcapd, and -o json, when the binary
# has --log flows (else the rows say so). Each exporter tracks up to
# MAX_FLOWS (2000000) flows, so none evicts at 1m; the flows still open
# when the flood ends are exported as the capturer stops (each exports
# every open flow at exit: softflowd told by softflowctl shutdown, pmacctd
# by SIGTERM, hdrlog by SIGINT), so the figures are for the whole job:
# whole-machine CPU (user + system + irq + softirq, /proc/stat) from just
# before trafgen until the capturer has exited, per frame that arrived,
# above the same flood with nothing capturing; and records out: flow
# records nfcapd received (its "Flows:" line) or hdrlog's JSON output
# wrote, and how many a second over that window. nfcapd's own CPU is in
# the figure for the three IPFIX rows alike.
#
# The runs are interleaved, since the VM's speed drifts from minute to
# minute (nothing capturing moved between 1.65 and 2.65 us/frame in one
# session): each set runs RUNS rounds, each round every row once in table
# order, nothing first. A row's extra is, per round, its us/frame minus
# that round's nothing us/frame; the table gives the median of those
# per-round extras and their min..max (for nothing: the median of its
# us/frame and their min..max), and the median records out and records/s.
# A capturer that does not get ready in a round is "did not run" for the
# set and not started again in its later rounds.
#
# Then the kernel memory of hdrlog's flow table: bpftool map show's
# bytes_memlock and max_entries of every map hdrlog holds (found through
# /proc/PID/fdinfo) whose name has "flow" in it, with HDRLOG_FLOW_ARGS
# (by default --flow-table MAX_FLOWS, when hdrlog has that option) as the
# 1m set ran it; skipped without such a map.
#
# Timed numbers: not a test, never in make check. Environment: N (300000,
# frames for few and 10k), N_1M (2100000, at most 10000000), RUNS (3
# rounds), SETS ("few 10k 1m"), QUICK=1 (N=20000, N_1M=0: the 1m set
# skipped, RUNS=1), CAP_CPU (1),
# MAX_FLOWS, NFCAPD_PORT (14739), HDRLOG, HDRLOG_FLOW_ARGS; HDRLOG_B:
# another build (main's, say), run as a json row after hdrlog's, to
# compare two builds in the same rounds; HDRLOG_PCAP=1: a row of hdrlog
# -w with no flows (a record a frame through the ring buffer, to a pcap:
# what a flow path that counted in userspace would pay before counting);
# ONLY: the rows to run (nothing always runs), of tcpdump softflowd
# pmacctd hdrlog-ipfix hdrlog-json hdrlog-b-json hdrlog-pcap.
set -eu
. "$(dirname "$0")/common.sh"

if [ "${QUICK:-0}" = 1 ]; then
	N=${N:-20000}
	N_1M=${N_1M:-0}
	RUNS=${RUNS:-1}
fi
N=${N:-300000}
N_1M=${N_1M:-2100000}
RUNS=${RUNS:-3}
SETS=${SETS:-few 10k 1m}
CAP_CPU=${CAP_CPU:-1}
MAX_FLOWS=${MAX_FLOWS:-2000000}
NFCAPD_PORT=${NFCAPD_PORT:-14739}
HDRLOG_FLOW_ARGS=${HDRLOG_FLOW_ARGS:-}
HDRLOG_B=${HDRLOG_B:-}
HDRLOG_PCAP=${HDRLOG_PCAP:-0}
ONLY=${ONLY:-}
[ -z "$HDRLOG_B" ] || [ -x "$HDRLOG_B" ] ||
	{ echo "no hdrlog at $HDRLOG_B" >&2; exit 1; }
[ "$N" -le 5000000 ] && [ "$N_1M" -le 10000000 ] ||
	{ echo "N is at most 5000000, N_1M 10000000" >&2; exit 1; }

# What the peers need, installed as flood.sh installs its tools.
install_missing trafgen:netsniff-ng tcpdump:tcpdump softflowd:softflowd \
	pmacctd:pmacct nfcapd:nfdump jq:jq
need ip jq taskset trafgen nfcapd

OUT_DIR=$(mktemp -d /dev/shm/hdrlog-flows.XXXXXX)
EXTRA_DIRS="$OUT_DIR"
bench_header "flows_bench.sh: flow records under a live flood of 64-byte UDP frames over a veth, trafgen -P 1, $RUNS rounds of every row interleaved"
[ -z "$HDRLOG_B" ] || echo "hdrlog B: $HDRLOG_B"

make_flows_netns
ip netns exec "$NS_A" sysctl -qw net.ipv4.icmp_ratelimit=1000000000

rx_packets() {
	link_packets "$NS_A" "$VETH_A" rx
}

now_ms() {
	date +%s%3N
}

# softflowd exports its flows on softflowctl's shutdown, not on a signal
# (it exits without): stop_capturer runs this when STOP_SIG names it.
softflowd_shutdown() {
	# its own counts, printed: in a 3000-frame trial softflowd 1.1.0
	# had processed 1724 of the 3000 libpcap received, seconds after
	# the flood (a part-filled block it never read, it seems); frames
	# it did not process are work, and records, it did not do
	softflowctl -c "$WORK/sf.ctl" statistics 2>/dev/null |
		grep -E 'processed|dropped|received|Ignored|active' | sed 's/^/      softflowd: /'
	softflowctl -c "$WORK/sf.ctl" shutdown >/dev/null 2>&1 || true
}
# the capturers exit when they have exported every open flow: up to 60 s
# for 1M flows before SIGKILL
STOP_TENTHS=600

# flood FRAMES: sets ARRIVED, TICKS and MS (flood start to capturer exit)
flood() {
	settle
	_rx0=$(rx_packets); _t0=$(machine_ticks); _ms0=$(now_ms)
	ip netns exec "$NS_B" trafgen -o "$VETH_B" -i "$WORK/frames.trafgen" \
		-n "$1" -P 1 >"$WORK/tg.out" 2>&1 || {
		echo "trafgen failed:" >&2; cat "$WORK/tg.out" >&2; exit 1; }
	settle
	stop_capturer
	_t1=$(machine_ticks); _ms1=$(now_ms); _rx1=$(rx_packets)
	ARRIVED=$((_rx1 - _rx0))
	TICKS=$((_t1 - _t0))
	MS=$((_ms1 - _ms0))
}

HAS_FLOWS=0
[ -x "$HDRLOG" ] && "$HDRLOG" --help 2>&1 | grep -qE -- '^ +--log .*flows' &&
	HAS_FLOWS=1
# hdrlog's table as large as the peers' (--flow-table, when it has one)
if [ -z "$HDRLOG_FLOW_ARGS" ] && [ "$HAS_FLOWS" = 1 ] &&
   "$HDRLOG" --help 2>&1 | grep -q -- '--flow-table'; then
	HDRLOG_FLOW_ARGS="--flow-table $MAX_FLOWS"
fi

ROWS=""
MEM_LINES=""

# hdrlog's flow maps: the maps it holds by an fd (/proc/PID/fdinfo, as
# lists_bench.sh reads them; this bpftool lists no pids) whose name, from
# bpftool map show, has "flow" in it: type, max_entries, bytes_memlock;
# then their total
flow_maps() {
	for _f in /proc/"$1"/fdinfo/*; do
		_id=$(sed -n 's/^map_id:[[:space:]]*//p' "$_f" 2>/dev/null)
		[ -n "$_id" ] || continue
		bpftool -j map show id "$_id" 2>/dev/null | jq -r '
			select(.name | test("flow")) |
			"\(.name) \(.type) max_entries \(.max_entries) memlock \(.bytes_memlock) bytes"'
	done | sort -u | awk '{ print; total += $(NF - 1) }
		END { if (NR) printf "total memlock %d bytes (%.0f MB)\n", total, total / 1e6 }'
}

# Rows run interleaved: round R of a set runs every row once, nothing
# first, so each row's run can be set against the nothing run of its own
# round, minutes apart at most, not against a median of nothing runs taken
# before any capturer ran (the VM's speed drifts between runs). Each row
# keeps its figures one a line in files under RDIR (ROW.us, ROW.extra,
# ROW.out, ROW.rate; ROW.dnr once a capturer did not get ready).
# row MODE ROW SET FRAMES LABEL KIND READY COMMAND...: MODE run floods once
# with it (round ROUND), MODE report adds its table line to ROWS.
# KIND: none; tcpdump; nfcapd (records out: what nfcapd got); json
# (records out: hdrlog's "records written")
ROUND_BASE=""
row() {
	_mode=$1; _row=$2; _set=$3; _frames=$4; _label=$5; _kind=$6; _ready=$7
	shift 7
	_f="$RDIR/$_row"
	case " nothing $ONLY " in
	*" $_row "*) ;;
	*) [ -z "$ONLY" ] || return 0 ;;
	esac
	if [ "$_mode" = report ]; then
		if [ -e "$_f.dnr" ]; then
			ROWS="$ROWS$(printf '%-5s %-34s  %s' "$_set" "$_label" 'did not run')
"
			return 0
		fi
		if [ "$_kind" = none ]; then
			_extra="(base $(fmedian "$_f.us"))"; _spread=$(spread "$_f.us")
		else
			_extra=$(fmedian "$_f.extra"); _spread=$(spread "$_f.extra")
		fi
		ROWS="$ROWS$(printf '%-5s %-34s  %-13s  %-15s  %-11s  %s' "$_set" \
			"$_label" "$_extra" "$_spread" \
			"$([ -s "$_f.out" ] && fmedian "$_f.out" %s || echo -)" \
			"$([ -s "$_f.rate" ] && fmedian "$_f.rate" %.0f || echo -)")
"
		return 0
	fi
	# a row that did not get ready once is out of this set's table
	[ -e "$_f.dnr" ] && return 0
	rm -rf "${OUT_DIR:?}"/*
	[ "$_kind" = nfcapd ] && start_nfcapd
	if [ "$_kind" != none ]; then
		start_capturer "$WORK/cap.log" "$_ready" "$@" || {
			[ "$_kind" = nfcapd ] && stop_nfcapd
			: >"$_f.dnr"
			return 0; }
	fi
	case $_label in
	hdrlog*)
		[ "$_set" = 1m ] && [ -z "$MEM_LINES" ] &&
			MEM_LINES=$(flow_maps "$CAP_PID") ;;
	esac
	flood "$_frames"
	_out=""
	case $_kind in
	nfcapd)	stop_nfcapd; _out=$NF_FLOWS ;;
	json)	_out=$(summary_value "$WORK/cap.log" 'records written') ;;
	esac
	_us=$(us_per_frame "$TICKS" "$ARRIVED")
	echo "$_us" >>"$_f.us"
	if [ "$_kind" = none ]; then
		ROUND_BASE=$_us; _x="(base)"
	else
		_x=$(awk -v a="$_us" -v b="$ROUND_BASE" 'BEGIN { printf "%.3f", a - b }')
		echo "$_x" >>"$_f.extra"
	fi
	if [ -n "$_out" ]; then
		echo "$_out" >>"$_f.out"
		awk -v o="$_out" -v ms="$MS" \
			'BEGIN { printf "%.0f\n", (ms ? o * 1000 / ms : 0) }' >>"$_f.rate"
	fi
	printf '   %-5s %-34s run %d: arrived %d of %d, %d ticks, %s us/frame, extra %s, records out %s in %d ms\n' \
		"$_set" "$_label" "$ROUND" "$ARRIVED" "$_frames" "$TICKS" \
		"$_us" "$_x" "${_out:--}" "$MS"
}

# fmedian FILE [FORMAT]: the median of the numbers in FILE, one a line,
# in FORMAT (%.3f)
fmedian() {
	# shellcheck disable=SC2046
	awk -v m="$(median $(cat "$1"))" -v f="${2:-%.3f}" 'BEGIN { printf f, m }'
}

# spread FILE: min..max of the numbers in FILE
spread() {
	sort -n "$1" | awk 'NR == 1 { lo = $1 } { hi = $1 }
		END { printf "%.3f..%.3f", lo, hi }'
}

PMACCT_CONF="$WORK/pmacctd.conf"
cat >"$PMACCT_CONF" <<EOF
daemonize: false
pcap_interface: $VETH_A
aggregate: src_host, dst_host, src_port, dst_port, proto
plugins: nfprobe
nfprobe_receiver: 127.0.0.1:$NFCAPD_PORT
nfprobe_version: 10
nfprobe_maxflows: $MAX_FLOWS
EOF

# rows MODE SET FRAMES: row MODE for every row of the set, in order
rows() {
	_m=$1; _s=$2; _n=$3
	STOP_SIG=INT
	row "$_m" nothing "$_s" "$_n" "nothing" none ''
	row "$_m" tcpdump "$_s" "$_n" "tcpdump -w" tcpdump 'listening on' \
		tcpdump -i "$VETH_A" -nn -w "$OUT_DIR/t.pcap"
	STOP_SIG=softflowd_shutdown
	if command -v softflowd >/dev/null 2>&1; then
		row "$_m" softflowd "$_s" "$_n" "softflowd -v 10 (IPFIX)" nfcapd \
			'starting data collection' \
			softflowd -d -i "$VETH_A" -v 10 -m "$MAX_FLOWS" \
			-n "127.0.0.1:$NFCAPD_PORT" -p "$WORK/sf.pid" \
			-c "$WORK/sf.ctl"
	fi
	STOP_SIG=TERM
	if command -v pmacctd >/dev/null 2>&1; then
		row "$_m" pmacctd "$_s" "$_n" "pmacctd nfprobe (IPFIX)" nfcapd \
			'Exporting flows to' pmacctd -f "$PMACCT_CONF"
	fi
	STOP_SIG=INT
	if [ "$HAS_FLOWS" = 1 ]; then
		# shellcheck disable=SC2086
		row "$_m" hdrlog-ipfix "$_s" "$_n" "hdrlog --log flows -o ipfix" \
			nfcapd 'listening on' "$HDRLOG" -i "$VETH_A" --log flows \
			$HDRLOG_FLOW_ARGS -o "ipfix://127.0.0.1:$NFCAPD_PORT"
		# shellcheck disable=SC2086
		row "$_m" hdrlog-json "$_s" "$_n" "hdrlog --log flows -o json" \
			json 'listening on' "$HDRLOG" -i "$VETH_A" --log flows \
			$HDRLOG_FLOW_ARGS -o "json:$OUT_DIR/f.json"
		# another build's json row beside it, when HDRLOG_B names one
		# shellcheck disable=SC2086
		[ -z "$HDRLOG_B" ] || row "$_m" hdrlog-b-json "$_s" "$_n" \
			"hdrlog B --log flows -o json" json 'listening on' \
			"$HDRLOG_B" -i "$VETH_A" --log flows $HDRLOG_FLOW_ARGS \
			-o "json:$OUT_DIR/f.json"
		[ "$HDRLOG_PCAP" != 1 ] || row "$_m" hdrlog-pcap "$_s" "$_n" \
			"hdrlog -w (no flows)" json 'listening on' \
			"$HDRLOG" -i "$VETH_A" -w "$OUT_DIR/h.pcap"
	elif [ "$_m" = report ]; then
		ROWS="$ROWS$(printf '%-5s %-34s  %s' "$_s" "hdrlog --log flows" \
			"skipped: $HDRLOG has no --log flows")
"
	fi
}

echo "-- runs (CPU: whole machine, user+system+irq+softirq, flood start to the capturer's exit; extra: above this round's nothing run)"
for set in $SETS; do
	frames=$N
	[ "$set" = 1m ] && frames=$N_1M
	[ "$frames" -gt 0 ] || { echo "   $set: skipped (no frames)"; continue; }
	trafgen_conf "$set" >"$WORK/frames.trafgen"
	RDIR="$WORK/rows.$set"
	rm -rf "$RDIR"; mkdir -p "$RDIR"
	ROUND=0
	while [ $ROUND -lt "$RUNS" ]; do
		ROUND=$((ROUND + 1))
		rows run "$set" "$frames"
	done
	rows report "$set" "$frames"
done

echo
echo "-- table: median of $RUNS rounds; extra CPU per frame above the same round's nothing capturing (median, min..max); records out"
printf '%-5s %-34s  %-13s  %-15s  %-11s  %s\n' set capturer 'extra us/fr' 'extra min..max' 'records out' 'records/s'
printf '%s' "$ROWS"
echo
echo "-- kernel memory of hdrlog's flow table (1m set${HDRLOG_FLOW_ARGS:+, $HDRLOG_FLOW_ARGS})"
if [ -n "$MEM_LINES" ]; then
	printf '%s\n' "$MEM_LINES" | sed 's/^/   /'
else
	echo "   skipped: no hdrlog map named *flow* seen (no --log flows, or the 1m set not run)"
fi
