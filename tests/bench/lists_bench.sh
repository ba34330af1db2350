#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# hdrlog's CIDR lists at scale: 1,000,000 IPv4 prefixes (/16../32, in a
# Spamhaus-style and a FireHOL-style file) and 100,000 IPv6 prefixes
# (/32../128), made by gen_lists.py (seeded, so every run gets the same
# lists), plus a small tag list of addresses in the test nets.
#   1. load: hdrlog exec -> "listening on", and hdrlog's own figure on
#      its "lists in force" line ("loaded in" / "in force ... after"),
#      median of LOAD_RUNS; anchor: `ipset -exist restore` of the same 1M
#      IPv4 entries into a hash:net set in a namespace
#   2. ns per 64-byte frame via BPF_PROG_RUN (repeat REPEAT, median of
#      RUNS), in one run: a bare XDP_PASS program, xdp-filter with five
#      rules the frame misses, hdrlog without lists (--sample 1000000),
#      hdrlog with the lists and --log listed on an unlisted IPv4 frame
#      (203.0.113.7 -> 198.51.100.1) and IPv6 frame (2001:db8::7 ->
#      2001:db8::1), also with the IPv6 prefixes clustered in the frame's
#      chunk, and on a frame whose source is listed (logged: 1G
#      ring, json:/dev/null consumer, HDRLOG_REPEAT frames a run)
#   3. reload under traffic: a bounded background loop of BPF_PROG_RUN
#      batches on CPU 1, SIGHUP, time from the signal to the next "lists in
#      force" line, RELOAD_RUNS times; /proc/meminfo and hdrlog's RSS
#      sampled every 20 ms; then one more reload while polling the kernel
#      memory (bytes_memlock) of hdrlog's list maps; VmHWM.
# Prints figures; no pass/fail. Needs root, clang, bpftool, jq, xdp-tools,
# ipset (anchor only; skipped without it), python3.
#
# Environment: REPEAT (10000000), RUNS (5), LOAD_RUNS (3), RELOAD_RUNS (3),
#   HDRLOG_REPEAT (2000000), HDRLOG_RINGBUF (1G), LOAD_CPUS (0,1: hdrlog
#   is not pinned for the load figure), SEED, V4 (1000000), V6 (100000),
#   HDRLOG (the binary), SECTIONS (1 2 3: which of the three to run; 2
#   alone skips the load figures and the reload).
set -eu
. "$(dirname "$0")/common.sh"

REPEAT=${REPEAT:-10000000}
RUNS=${RUNS:-5}
LOAD_RUNS=${LOAD_RUNS:-3}
RELOAD_RUNS=${RELOAD_RUNS:-3}
HDRLOG_REPEAT=${HDRLOG_REPEAT:-2000000}
HDRLOG_RINGBUF=${HDRLOG_RINGBUF:-1G}
LOAD_CPUS=${LOAD_CPUS:-0,1}
SEED=${SEED:-20240501}
V4=${V4:-1000000}
V6=${V6:-100000}
SECTIONS=${SECTIONS:-1 2 3}
RUN_CPU=1	# BPF_PROG_RUN here
HDRLOG_CPU=0	# hdrlog's consumer here
TRAFFIC_REPEAT=1000000	# frames per background batch (~0.1 s)
TRAFFIC_MAX=900		# batches at most (~2 minutes)

TRAFFIC_PID=""
set_rc() { return "$1"; }
lists_cleanup() {
	rc=$?
	# stop the traffic loop and samplers first: they check this file
	[ -d "$WORK" ] && : >"$WORK/stop" 2>/dev/null || true
	if [ -n "$TRAFFIC_PID" ]; then
		i=0
		while kill -0 "$TRAFFIC_PID" 2>/dev/null && [ $i -lt 30 ]; do
			sleep 0.1; i=$((i + 1))
		done
	fi
	# bench_cleanup takes the exit status from $?
	if set_rc "$rc"; then bench_cleanup; else bench_cleanup; fi
}
trap lists_cleanup EXIT

bench_header "lists_bench: hdrlog CIDR lists, 1M IPv4 + 100k IPv6 prefixes"
need clang bpftool jq xdp-filter ip taskset
HAVE_IPSET=1
command -v ipset >/dev/null 2>&1 || HAVE_IPSET=0

# --- helpers (python, in $WORK) -----------------------------------------------
LB=$WORK/lb.py
cat >"$LB" <<'EOF'
import json, os, signal, socket, struct, subprocess, sys, threading, time

def cmd_stamp(a):
    """stamp ERR STAMPS PIDFILE CMD...: run CMD, copy its stderr to ERR and
    to STAMPS with a wall-clock time before each line."""
    err = open(a[0], 'wb', buffering=0)
    st = open(a[1], 'w', buffering=1)
    t0 = time.time()
    p = subprocess.Popen(a[3:], stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # keep the summary
    st.write('%.6f START\n' % t0)
    with open(a[2] + '.tmp', 'w') as f:
        f.write('%d\n' % p.pid)
    os.rename(a[2] + '.tmp', a[2])
    for line in p.stderr:
        t = time.time()
        err.write(line)
        st.write('%.6f %s' % (t, line.decode(errors='replace')))
    p.wait()
    st.write('%.6f EXIT %d\n' % (time.time(), p.returncode))

def csum(b):
    if len(b) % 2:
        b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    while s >> 16:
        s = (s >> 16) + (s & 0xffff)
    return ~s & 0xffff

def cmd_frame(a):
    """frame OUT SRC DST: 64-byte Ethernet/IP/UDP frame, 40000 -> 53."""
    out, src, dst = a
    if ':' in src:
        s, d = socket.inet_pton(socket.AF_INET6, src), socket.inet_pton(socket.AF_INET6, dst)
        payload = b'\0' * 2
        ulen = 8 + len(payload)
        udp = struct.pack('!HHHH', 40000, 53, ulen, 0) + payload
        c = csum(s + d + struct.pack('!IxxxB', ulen, 17) + udp) or 0xffff
        udp = udp[:6] + struct.pack('!H', c) + udp[8:]
        ip = struct.pack('!IHBB16s16s', 6 << 28, ulen, 17, 64, s, d)
        et = b'\x86\xdd'
    else:
        s, d = socket.inet_aton(src), socket.inet_aton(dst)
        payload = b'\0' * 22
        udp = struct.pack('!HHHH', 40000, 53, 8 + len(payload), 0) + payload
        ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), 1, 0, 64,
                         17, 0, s, d)
        ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
        et = b'\x08\x00'
    frame = bytes.fromhex('020000000002' '020000000001') + et + ip + udp
    assert len(frame) == 64, len(frame)
    open(out, 'wb').write(frame)

MEMF = ('MemAvailable', 'Slab', 'VmallocUsed', 'Percpu')

def meminfo():
    d = {}
    with open('/proc/meminfo') as f:
        for line in f:
            k, v = line.split(':', 1)
            if k in MEMF:
                d[k] = int(v.split()[0])
    return [d.get(k, 0) for k in MEMF]

def vm(pid, key):
    try:
        with open('/proc/%d/status' % pid) as f:
            for line in f:
                if line.startswith(key + ':'):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0

def bpftool(*args):
    r = subprocess.run(('bpftool', '-j') + args, capture_output=True, text=True)
    try:
        return json.loads(r.stdout or 'null')
    except ValueError:
        return None

def listmem(pid):
    """bytes_memlock of the maps hdrlog holds, by its fds or in its outer
    (map-in-map) maps: (list maps bytes, list maps count, ring, other),
    where other is per-CPU maps (counters, scratch) and .rodata/.bss."""
    fds = {}
    d = '/proc/%d/fdinfo' % pid
    for fd in os.listdir(d):
        try:
            text = open(os.path.join(d, fd)).read()
        except OSError:
            continue
        if 'map_id:' not in text:
            continue
        kv = {}
        for line in text.splitlines():
            k, _, v = line.partition(':')
            kv[k] = v.strip()
        fds[int(kv['map_id'])] = int(kv.get('map_type', -1))
    ids = set(fds)
    for mid, typ in fds.items():
        if typ not in (12, 13):		# array/hash of maps
            continue
        for e in bpftool('map', 'dump', 'id', str(mid)) or []:
            v = e.get('value')
            if isinstance(v, list):
                ids.add(int.from_bytes(bytes(int(x, 16) for x in v), 'little'))
            elif isinstance(v, int):
                ids.add(v)
    allm = {m['id']: m for m in bpftool('map', 'show') or []}
    lists = n = ring = other = 0
    for i in ids:
        m = allm.get(i)
        if not m:
            continue
        name, b = m.get('name', ''), m.get('bytes_memlock', 0)
        if m.get('type') == 'ringbuf':
            ring += b
        elif (m.get('type', '').startswith('percpu') or name == 'counters'
              or name.endswith(('.rodata', '.bss', '.data'))):
            other += b
        else:
            lists += b
            n += 1
    return lists, n, ring, other

def cmd_listmem(a):
    print('%d %d %d %d' % listmem(int(a[0])))

def cmd_memsample(a):
    """memsample OUT PID STOPFILE MAXSEC WITHMAPS: every 20 ms a line
    'm t MemAvailable Slab VmallocUsed Percpu(kB) VmRSS VmHWM(kB)'; with
    WITHMAPS=1 also, as fast as bpftool goes, 'l t lists n ring other'."""
    out, pid, stop, maxsec, withmaps = a[0], int(a[1]), a[2], float(a[3]), a[4] == '1'
    f = open(out, 'w', buffering=1)
    lock = threading.Lock()
    end = time.time() + maxsec
    stop2 = os.path.join(os.path.dirname(stop), 'stop')	# cleanup's
    def maps():
        while time.time() < end and not (os.path.exists(stop) or os.path.exists(stop2)):
            t = time.time()
            try:
                r = listmem(pid)
            except OSError:
                break
            with lock:
                f.write('l %.6f %d %d %d %d\n' % ((t,) + r))
    th = None
    if withmaps:
        th = threading.Thread(target=maps, daemon=True)
        th.start()
    nxt = time.time()
    while time.time() < end and not (os.path.exists(stop) or os.path.exists(stop2)):
        t = time.time()
        m = meminfo()
        line = 'm %.6f %d %d %d %d %d %d\n' % ((t,) + tuple(m) + (vm(pid, 'VmRSS'), vm(pid, 'VmHWM')))
        with lock:
            f.write(line)
        nxt += 0.02
        time.sleep(max(0.0, nxt - time.time()))
    if th:
        th.join(5)

def median(v):
    v = sorted(v)
    if not v:
        return float('nan')
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2

def cmd_analyze(a):
    """analyze SAMPLES TRAFFIC T_HUP T_DONE: one line of key=value."""
    samples, traffic, t0, t1 = a[0], a[1], float(a[2]), float(a[3])
    m, l = [], []
    for line in open(samples):
        p = line.split()
        if p[0] == 'm':
            m.append((float(p[1]),) + tuple(int(x) for x in p[2:]))
        elif p[0] == 'l':
            l.append((float(p[1]),) + tuple(int(x) for x in p[2:]))
    before = [s for s in m if s[0] < t0]
    during = [s for s in m if t0 <= s[0] <= t1 + 0.1]
    after = [s for s in m if s[0] > t1 + 0.5]
    r = {}
    if before and during:
        base = [sum(s[i] for s in before) / len(before) for i in range(len(before[0]))]
        r['memavail_drop_peak_MB'] = (base[1] - min(s[1] for s in during)) / 1024
        r['memavail_noise_MB'] = (max(s[1] for s in before) - min(s[1] for s in before)) / 1024
        r['slab_rise_peak_MB'] = (max(s[2] for s in during) - base[2]) / 1024
        r['vmalloc_rise_peak_MB'] = (max(s[3] for s in during) - base[3]) / 1024
        if after:
            r['vmalloc_after_MB'] = (after[-1][3] - base[3]) / 1024
            r['memavail_after_MB'] = (base[1] - after[-1][1]) / 1024
        r['rss_before_MB'] = base[5] / 1024
        r['rss_peak_MB'] = max(s[5] for s in during) / 1024
        r['vmhwm_MB'] = max(s[6] for s in m) / 1024
        r['samples'] = len(during)
    if l:
        lb = [s for s in l if s[0] < t0]
        ld = [s for s in l if t0 <= s[0] <= t1]
        la = [s for s in l if s[0] > t1]
        if lb:
            r['maps_before_MB'] = lb[-1][1] / 1e6
            r['maps_before_n'] = lb[-1][2]
        if ld:
            pk = max(ld, key=lambda s: s[1])
            r['maps_peak_MB'] = pk[1] / 1e6
            r['maps_peak_n'] = pk[2]
            r['maps_samples'] = len(ld)
        if la:
            r['maps_after_MB'] = la[-1][1] / 1e6
            r['maps_after_n'] = la[-1][2]
    tb, td = [], []
    try:
        for line in open(traffic):
            s, e, ns = line.split()
            s, e = float(s), float(e)
            if e < t0 and s > t0 - 3:
                tb.append(float(ns))
            elif s < t1 and e > t0:
                td.append(float(ns))
    except (OSError, ValueError):
        pass
    r['traffic_batches_during'] = len(td)
    r['traffic_ns_before'] = median(tb)
    r['traffic_ns_during'] = median(td)
    r['traffic_ns_during_max'] = max(td) if td else float('nan')
    print(' '.join('%s=%s' % (k, ('%.1f' % v) if isinstance(v, float) else v)
                   for k, v in r.items()))

if __name__ == '__main__':
    globals()['cmd_' + sys.argv[1]](sys.argv[2:])
EOF

lb() { "$PY" "$LB" "$@"; }

# ms between two wall-clock seconds values
ms_between() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", (b - a) * 1000 }'; }

# --- lists ------------------------------------------------------------------------
L=$WORK/lists
t=$EPOCHREALTIME
"$PY" "$BENCH_DIR/gen_lists.py" -s "$SEED" --v4 "$V4" --v6 "$V6" "$L"
echo "generated in $(ms_between "$t" "$EPOCHREALTIME") ms, files (page cache warm):" \
	"$(cd "$L" && for f in drop.txt firehol.netset v6.netset listed.txt; do
		printf '%s %s lines %s B; ' "$f" "$(wc -l <"$f")" "$(stat -c %s "$f")"; done)"
LIST_ARGS="--blocklist spamhaus=$L/drop.txt --blocklist firehol=$L/firehol.netset
	--blocklist v6=$L/v6.netset --taglist bench=$L/listed.txt --log listed -o json:/dev/null"
echo "hdrlog list options: $(echo $LIST_ARGS | sed "s|$L/||g")"
LIST_ARGS_CLUSTER=$(echo $LIST_ARGS | sed "s|v6=$L/v6.netset|v6=$L/v6cluster.netset|")
echo

F4=$WORK/unlisted4.bin; lb frame "$F4" 203.0.113.7 198.51.100.1
F6=$WORK/unlisted6.bin; lb frame "$F6" 2001:db8::7 2001:db8::1
FL=$WORK/listed4.bin;   lb frame "$FL" 203.0.113.77 198.51.100.1

make_netns

# start_stamped CPUS ARGS...: hdrlog on $VETH_A in $NS_A under the stamping
# wrapper; waits (bounded) for "listening on". Sets HDRLOG_PID, STAMP_PID,
# ERR, STAMPS. Returns 1 if hdrlog did not start.
NSTART=0
start_stamped() {
	_cpus=$1; shift
	NSTART=$((NSTART + 1))
	ERR=$WORK/h$NSTART.err; STAMPS=$WORK/h$NSTART.stamps
	rm -f "$WORK/hdrlog.pid"
	lb stamp "$ERR" "$STAMPS" "$WORK/hdrlog.pid" \
		ip netns exec "$NS_A" taskset -c "$_cpus" "$HDRLOG" -i "$VETH_A" \
		--attach-ingress xdp "$@" \
		>/dev/null &
	STAMP_PID=$!
	BG_PIDS="$BG_PIDS $STAMP_PID"
	_i=0
	while [ ! -s "$WORK/hdrlog.pid" ] && [ $_i -lt 500 ]; do
		sleep 0.01; _i=$((_i + 1))
	done
	HDRLOG_PID=$(cat "$WORK/hdrlog.pid")
	BG_PIDS="$BG_PIDS $HDRLOG_PID"
	_i=0
	while [ $_i -lt 6000 ]; do
		grep -qs 'listening on' "$STAMPS" && return 0
		grep -qs ' EXIT ' "$STAMPS" && break
		sleep 0.01; _i=$((_i + 1))
	done
	echo "hdrlog did not start:" >&2
	cat "$ERR" >&2
	stop_stamped
	return 1
}

# stop_stamped: hdrlog, then its wrapper (which exits with it: no signal)
stop_stamped() {
	stop_hdrlog
	stop_pid "$STAMP_PID" "" 50
}

# startup_ms STAMPS -> ms from exec to "listening on"
startup_ms() {
	awk '$2 == "START" { s = $1 } /listening on/ && !d { d = $1 }
		END { printf "%.1f", (d - s) * 1000 }' "$1"
}
# hdrlog's own figure on a "lists in force" line: "loaded in X ms" or, in
# newer builds, "in force X ms after reading began"; "-" if neither.
line_loaded() {
	_v=$(echo "$1" | sed -n 's/.*loaded in \([0-9.]*\) ms.*/\1/p
		s/.*in force \([0-9.]*\) ms after.*/\1/p' | head -1)
	echo "${_v:--}"
}
# "old tables freed after X ms" on that line (newer builds), or "-"
line_freed() {
	_v=$(echo "$1" | sed -n 's/.*freed after \([0-9.]*\) ms.*/\1/p' | head -1)
	echo "${_v:--}"
}
# loaded_ms STAMPS [N] -> line_loaded of the Nth "lists in force" line
loaded_ms() {
	line_loaded "$(grep 'lists in force' "$1" | sed -n "${2:-1}p")"
}
# median of the arguments that are numbers, or "-"
median_of() {
	_n=$(printf '%s\n' "$@" | grep -E '^[0-9.]+$' || true)
	if [ -n "$_n" ]; then median $_n; else echo -; fi
}

section() { case " $SECTIONS " in *" $1 "*) return 0;; esac; return 1; }

# --- 1. load ------------------------------------------------------------------
echo "== 1. load: $V4 IPv4 + $V6 IPv6 prefixes"
LOAD_OK=0
if ! section 1; then
	echo "skipped (SECTIONS=$SECTIONS)"
	LOAD_OK=1
	HAVE_IPSET=0
elif [ ! -x "$HDRLOG" ]; then
	echo "hdrlog: skipped, $HDRLOG not built"
else
	st=""; li=""
	for r in $(seq "$LOAD_RUNS"); do
		if ! start_stamped "$LOAD_CPUS" $LIST_ARGS; then
			st=""; break
		fi
		st="$st $(startup_ms "$STAMPS")"
		li="$li $(loaded_ms "$STAMPS")"
		[ "$r" = 1 ] && sed -n 's/^[0-9.]* hdrlog: lists in force/hdrlog: lists in force/p' "$STAMPS"
		[ "$r" = 1 ] && echo "  hdrlog VmHWM after start: $(awk '/VmHWM/ { printf "%.1f MB", $2 / 1024 }' /proc/$HDRLOG_PID/status)"
		stop_stamped
	done
	if [ -n "$st" ]; then
		LOAD_OK=1
		printf '  %-44s median %8.1f ms  (runs %s)\n' "hdrlog exec -> 'listening on' (CPUs $LOAD_CPUS)" \
			"$(median $st)" "$(echo $st | tr ' ' '/')"
		printf '  %-44s median %8s ms  (runs %s)\n' "hdrlog's own figure (read, merge, tables)" \
			"$(median_of $li)" "$(echo $li | tr ' ' '/')"
	else
		echo "  hdrlog: lists did not load (see above)"
	fi
fi
if ! section 1; then
	:
elif [ $HAVE_IPSET = 1 ]; then
	printf 'create bench hash:net family inet hashsize %d maxelem %d\n' \
		1048576 $((V4 * 2)) >"$WORK/ipset.create"
	iv=""
	for r in $(seq "$LOAD_RUNS"); do
		t=$EPOCHREALTIME
		cat "$WORK/ipset.create" "$L/ipset.restore" |
			ip netns exec "$NS_B" ipset -exist restore
		iv="$iv $(ms_between "$t" "$EPOCHREALTIME")"
		info=$(ip netns exec "$NS_B" ipset list bench -t)
		ip netns exec "$NS_B" ipset destroy bench
	done
	printf '  %-44s median %8.1f ms  (runs %s)\n' "anchor: ipset -exist restore, hash:net" \
		"$(median $iv)" "$(echo $iv | tr ' ' '/')"
	echo "  ipset: $(echo "$info" | sed -n 's/^Number of entries: /entries /p;s/^Size in memory: /size in memory /p;s/^Header: //p' | tr '\n' ';' | sed 's/;$//;s/;/; /g')"
else
	echo "  anchor: skipped, ipset missing (apt-get install ipset)"
fi
echo

# --- 2. per-frame cost ------------------------------------------------------------
ROWS=$WORK/rows
: >"$ROWS"
row() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$ROWS"; }

# (a) bare XDP_PASS
load_bare xdp
measure "$BARE_ID" "$F4" "$REPEAT"
row "(a) XDP_PASS (bpftool prog load)" "$MED" "$RUNS_LIST" "unlisted v4 frame"
rm -f "$BARE_PIN"

# (b) xdp-filter, rules the frame misses (as in xdp_cost.sh)
xdp_filter_load 192.0.2.7 192.0.2.8 2001:db8:ffff::7
XF_ID=$(veth_prog_id)
measure "$XF_ID" "$F4" "$REPEAT"
row "(b) xdp-filter, 5 rules, no match" "$MED" "$RUNS_LIST" "unlisted v4 frame, prog $(veth_prog_name) id $XF_ID"
xdp_filter_unload

summary_line() {	# ERRFILE -> counters of the last summary
	echo "seen=$(summary_value "$1" 'frames seen')" \
	     "written=$(summary_value "$1" 'records written')" \
	     "lost=$(summary_value "$1" 'records lost')" \
	     "not_listed=$(summary_value "$1" 'frames not logged (--log')"
}

if [ ! -x "$HDRLOG" ]; then
	row "(c..e) hdrlog" "-" "-" "skipped: $HDRLOG not built"
else
	# (c) hdrlog without lists, nearly nothing logged
	if start_hdrlog "$WORK/c.err" "$HDRLOG_CPU" -o json:/dev/null --sample 1000000; then
		id=$(veth_prog_id)
		measure "$id" "$F4" "$REPEAT"
		row "(c) hdrlog, no lists, --sample 1000000" "$MED" "$RUNS_LIST" "unlisted v4 frame"
		measure "$id" "$F6" "$REPEAT"
		stop_hdrlog
		row "(c6) hdrlog, no lists, --sample 1000000" "$MED" "$RUNS_LIST" "unlisted v6 frame"
	else
		stop_hdrlog
		row "(c) hdrlog, no lists" "-" "-" "skipped: hdrlog did not start"
	fi
	# (c') one tiny list: the cost of the lookups apart from table size
	start_hdrlog "$WORK/c2.err" "$HDRLOG_CPU" --taglist "bench=$L/listed.txt" \
		--log listed -o json:/dev/null || true
	if grep -qs 'listening on' "$WORK/c2.err"; then
		id=$(veth_prog_id)
		measure "$id" "$F4" "$REPEAT"
		stop_hdrlog
		row "(c') hdrlog, one 5-entry list, --log listed" "$MED" "$RUNS_LIST" "unlisted v4 frame"
	else
		stop_hdrlog
		row "(c') hdrlog, one 5-entry list" "-" "-" "skipped: lists did not load"
	fi
fi

HAVE_LISTS=0
if [ -x "$HDRLOG" ] && [ $LOAD_OK = 1 ] &&
   start_stamped "$HDRLOG_CPU" $LIST_ARGS --ringbuf-size "$HDRLOG_RINGBUF"; then
	HAVE_LISTS=1
	LERR=$ERR; LSTAMPS=$STAMPS
	LOAD_1G="hdrlog with lists for (d..e), pinned to CPU $HDRLOG_CPU, ring $HDRLOG_RINGBUF:"
	LOAD_1G="$LOAD_1G exec -> listening $(startup_ms "$STAMPS") ms, loaded $(loaded_ms "$STAMPS") ms"
	id=$(veth_prog_id)
	measure "$id" "$F4" "$REPEAT"
	row "(d) hdrlog, lists, --log listed" "$MED" "$RUNS_LIST" "unlisted v4 203.0.113.7 -> 198.51.100.1"
	measure "$id" "$F6" "$REPEAT"
	row "(d6) hdrlog, lists, --log listed" "$MED" "$RUNS_LIST" "unlisted v6 2001:db8::7 -> 2001:db8::1, v6 prefixes spread out"
	vals=""
	for r in $(seq "$RUNS"); do
		vals="$vals $(prog_run_ns "$id" "$FL" "$HDRLOG_REPEAT" "$RUN_CPU")"
		wait_idle "$HDRLOG_PID" 120
	done
	stop_stamped
	row "(e) hdrlog, lists, listed source, logged" "$(median $vals)" "$(echo $vals | tr ' ' '/')" \
		"203.0.113.77 -> ..., repeat $HDRLOG_REPEAT, ring $HDRLOG_RINGBUF, json:/dev/null; $(summary_line "$LERR")"
elif [ -x "$HDRLOG" ]; then
	row "(d..e) hdrlog with lists" "-" "-" "skipped: lists did not load"
fi
# (d6c) the IPv6 prefixes clustered in the one chunk the frame looks up
if [ $HAVE_LISTS = 1 ] && start_stamped "$HDRLOG_CPU" $LIST_ARGS_CLUSTER; then
	id=$(veth_prog_id)
	measure "$id" "$F6" "$REPEAT"
	stop_stamped
	row "(d6c) hdrlog, lists, --log listed" "$MED" "$RUNS_LIST" "unlisted v6 frame, $V6 v6 prefixes clustered in its chunk (2001::/20)"
fi

echo "== 2. ns per 64-byte frame, BPF_PROG_RUN repeat $REPEAT (e: $HDRLOG_REPEAT), median of $RUNS, CPU $RUN_CPU"
printf '  %-42s %9s  %-30s %s\n' program ns/frame "runs (ns)" note
while IFS="$(printf '\t')" read -r prog ns runs note; do
	printf '  %-42s %9s  %-30s %s\n' "$prog" "$ns" "$runs" "$note"
done <"$ROWS"
[ -z "${LOAD_1G:-}" ] || echo "  ($LOAD_1G)"
echo

# --- 3. reload under traffic ------------------------------------------------------
echo "== 3. SIGHUP reload of all lists while BPF_PROG_RUN batches run ($TRAFFIC_REPEAT frames each, CPU $RUN_CPU)"
if ! section 3; then
	echo "skipped (SECTIONS=$SECTIONS)"
	exit 0
fi
sleep 2	# let the kernel free the 1G ring of (d..e) before sampling /proc/meminfo
if [ $HAVE_LISTS = 0 ] || ! start_stamped "$HDRLOG_CPU" $LIST_ARGS; then
	echo "  skipped: no hdrlog with lists"
	exit 0
fi
# a fresh instance with the default ring, so its RSS is hdrlog's own
LERR=$ERR; LSTAMPS=$STAMPS
id=$(veth_prog_id)
echo "  hdrlog with lists, default ring, pinned to CPU $HDRLOG_CPU: exec -> listening" \
	"$(startup_ms "$STAMPS") ms, loaded $(loaded_ms "$STAMPS") ms;" \
	"VmHWM $(awk '/VmHWM/ { printf "%.1f MB", $2 / 1024 }' /proc/$HDRLOG_PID/status)," \
	"VmRSS $(awk '/VmRSS/ { printf "%.1f MB", $2 / 1024 }' /proc/$HDRLOG_PID/status)"
TLOG=$WORK/traffic.log
: >"$TLOG"
(
	taskset -cp "$RUN_CPU" $BASHPID >/dev/null	# keep CPU 0 for hdrlog
	i=0
	while [ $i -lt $TRAFFIC_MAX ] && [ ! -e "$WORK/stop" ]; do
		s=$EPOCHREALTIME
		d=$(taskset -c "$RUN_CPU" bpftool -j prog run id "$id" data_in "$F4" \
			repeat "$TRAFFIC_REPEAT" | jq -r .duration)
		echo "$s $EPOCHREALTIME $d" >>"$TLOG"
		i=$((i + 1))
	done
) &
TRAFFIC_PID=$!
BG_PIDS="$BG_PIDS $TRAFFIC_PID"
sleep 1

# reload N WITHMAPS: SIGHUP, wait for the next "lists in force" line; sets
# RL_MS (signal -> line), RL_LOADED, RL_FREED (hdrlog's figures), RL_AN
reload() {
	_n=$1; _maps=$2
	_smp=$WORK/mem$_n.txt; _stop=$WORK/mem$_n.stop
	taskset -c "$RUN_CPU" "$PY" "$LB" memsample "$_smp" "$HDRLOG_PID" "$_stop" 60 "$_maps" &
	_mp=$!
	BG_PIDS="$BG_PIDS $_mp"
	sleep 0.5
	_before=$(grep -c 'lists in force' "$LSTAMPS" || true)
	_t0=$EPOCHREALTIME
	kill -HUP "$HDRLOG_PID"
	_i=0
	while [ "$(grep -c 'lists in force\|reload refused' "$LSTAMPS" || true)" -le "$_before" ] &&
	      [ $_i -lt 6000 ]; do
		sleep 0.01; _i=$((_i + 1))
	done
	sleep 1
	: >"$_stop"
	wait "$_mp" 2>/dev/null || true
	BG_PIDS=$(echo "$BG_PIDS" | tr ' ' '\n' | grep -vx "$_mp" | tr '\n' ' ')
	_line=$(grep 'lists in force\|reload refused' "$LSTAMPS" | sed -n "$((_before + 1))p")
	if [ -z "$_line" ] || echo "$_line" | grep -q 'refused'; then
		echo "  reload $_n: no new 'lists in force' line: ${_line:-timeout}"
		RL_MS=""; return 0
	fi
	_t1=${_line%% *}
	RL_MS=$(ms_between "$_t0" "$_t1")
	RL_LOADED=$(line_loaded "$_line")
	RL_FREED=$(line_freed "$_line")
	RL_AN=$(lb analyze "$_smp" "$TLOG" "$_t0" "$_t1")
}

kv() { echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"; }

echo "  'loaded': hdrlog's own figure on that line ('loaded in', or 'in force ... after reading began');"
echo "  'freed': its 'old tables freed after' figure, if it prints one. /proc/meminfo is machine-wide,"
echo "  so other load moves it: 'noise' is MemAvailable's spread in the 0.5 s before the signal;"
echo "  it also moves in coarse steps. VmallocUsed (the list tables are vmalloc'ed) is exact."
fmt='  %-7s %9s %8s %8s %9s %7s %9s %8s %9s %8s %8s %s\n'
printf "$fmt" reload "HUP->line" loaded freed "MemAvail" noise Vmalloc Slab "RSS peak" \
	batches ns/frame "(max)"
printf "$fmt" "" ms ms ms "drop MB" MB "rise MB" "rise MB" MB during during ""
hv=""; lv=""; fv=""
for r in $(seq "$RELOAD_RUNS"); do
	reload "$r" 0
	[ -n "$RL_MS" ] || continue
	hv="$hv $RL_MS"; lv="$lv $RL_LOADED"; fv="$fv $RL_FREED"
	printf "$fmt" "#$r" "$RL_MS" "$RL_LOADED" "$RL_FREED" \
		"$(kv memavail_drop_peak_MB "$RL_AN")" "$(kv memavail_noise_MB "$RL_AN")" \
		"$(kv vmalloc_rise_peak_MB "$RL_AN")" \
		"$(kv slab_rise_peak_MB "$RL_AN")" "$(kv rss_peak_MB "$RL_AN")" \
		"$(kv traffic_batches_during "$RL_AN")" "$(kv traffic_ns_during "$RL_AN")" \
		"($(kv traffic_ns_during_max "$RL_AN"))"
	LAST_AN=$RL_AN
done
if [ -n "$hv" ]; then
	echo "  median: SIGHUP -> 'lists in force' $(median $hv) ms, loaded $(median_of $lv) ms," \
		"freed $(median_of $fv) ms; traffic ns/frame before the last reload" \
		"$(kv traffic_ns_before "$LAST_AN"); 1 s after it: VmallocUsed" \
		"$(kv vmalloc_after_MB "$LAST_AN") MB higher, MemAvailable" \
		"$(kv memavail_after_MB "$LAST_AN") MB lower than before it"
fi
# one more reload, polling the maps' bytes_memlock (bpftool) meanwhile
reload m 1
if [ -n "$RL_MS" ]; then
	echo "  list maps (bytes_memlock, held by hdrlog's fds or its outer maps), reload #m" \
		"(${RL_MS} ms while polled, $(kv maps_samples "$RL_AN") samples during):"
	echo "    before $(kv maps_before_MB "$RL_AN") MB in $(kv maps_before_n "$RL_AN") maps," \
		"peak during $(kv maps_peak_MB "$RL_AN") MB in $(kv maps_peak_n "$RL_AN") maps," \
		"after $(kv maps_after_MB "$RL_AN") MB in $(kv maps_after_n "$RL_AN") maps;" \
		"meminfo: Vmalloc peak rise $(kv vmalloc_rise_peak_MB "$RL_AN") MB, MemAvail peak drop $(kv memavail_drop_peak_MB "$RL_AN") MB"
fi
echo "  hdrlog: VmHWM $(awk '/VmHWM/ { printf "%.1f MB", $2 / 1024 }' /proc/$HDRLOG_PID/status)," \
	"VmRSS $(awk '/VmRSS/ { printf "%.1f MB", $2 / 1024 }' /proc/$HDRLOG_PID/status) after $((RELOAD_RUNS + 1)) reloads;" \
	"ring buffer and other maps: $(lb listmem "$HDRLOG_PID" | awk '{ printf "ring %.1f MB, other %.3f MB", $3 / 1e6, $4 / 1e6 }')"
: >"$WORK/stop"
i=0
while kill -0 "$TRAFFIC_PID" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
echo "  traffic: $(wc -l <"$TLOG") batches of $TRAFFIC_REPEAT frames, median $(median $(awk '{ print $3 }' "$TLOG")) ns/frame"
stop_stamped
echo
echo "hdrlog (lists, part 3) exit summary:"
awk '/frames seen/ { n = 0 } { l[++n] = $0 } END { for (i = 1; i <= n; i++) print "  " l[i] }' "$LERR"
