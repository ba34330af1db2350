#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""
The IPFIX output (-o ipfix://) against a real collector: nfdump's nfcapd
(Debian 12: 1.7.1) listening on loopback in namespace A, its files read
back with nfdump -o raw.

Until the kernel's flow table makes flow records, they are made by hand
(tests/helpers/ipfix_send, built by make check) and go through the real
output: sink_create("ipfix://..."), sink_write(), flush, close, as the main
loop drives it. compare_flows(expected, directory) is the check a live
case (hdrlog --log flows -o ipfix://) can use as it is: give it the flows
the JSON output wrote, as dicts of the keys in FLOW_KEYS.
"""
import calendar
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hdrlogtest as H  # noqa: E402

tap = H.Tap()
MAC_KIND = 0x1f              # source MACs 02:1f:... (H.new_mac)
NFCAPD = shutil.which("nfcapd") or "/usr/bin/nfcapd"
NFDUMP = shutil.which("nfdump") or "/usr/bin/nfdump"
PORT = 14739                 # nfcapd in A; +1 nothing listens there
SEND = os.environ.get("IPFIX_SEND") or os.path.join(
    os.path.dirname(os.path.dirname(H.HDRLOG)), "tests", "helpers",
    "ipfix_send")

# What a flow is for compare_flows(): the flow record's values (the
# client is src; "ts" toserver, "tc" toclient). Keys left out of an
# expected flow are not compared.
FLOW_KEYS = ("src", "dst", "sport", "dport", "proto", "pkts_ts",
             "bytes_ts", "pkts_tc", "bytes_tc", "flags_ts", "flags_tc",
             "start_ms", "end_ms", "reason", "ifindex", "dir", "vlan",
             "icmp_type", "icmp_code")
# enum flow_end_reason's names to IPFIX's flowEndReason (formats/ipfix.c)
END_REASON = {"idle": 1, "active": 2, "fin": 3, "rst": 3, "shutdown": 4,
              "evicted": 5}


class Nfcapd:
    """nfcapd in namespace A on 127.0.0.1:port, writing into its own
    directory; stop() closes its file (nfcapd.YYYYmmddHHMM). rcvbuf: its
    -B (socket buffer bytes), None for the system's default (what a user
    who gives none gets: net.core.rmem_default)."""

    def __init__(self, name, port=PORT, rcvbuf=4194304):
        self.dir = H.path(name)
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        self.port = port
        self.rcvbuf = rcvbuf
        self.log = H.path(name + ".log")
        self.proc = None

    def _socket(self):
        """ss's line for its socket: State Recv-Q Send-Q Local Peer, or
        None."""
        r = H.run(H.ns_exec(H.topo().ns_a, ["ss", "-Hnul", "sport", "= :%d"
                                            % self.port]), check=False)
        for line in r.stdout.splitlines():
            if "127.0.0.1:%d" % self.port in line:
                return line.split()
        return None

    def _listening(self):
        return self._socket() is not None

    def __enter__(self):
        with open(self.log, "w") as log:
            self.proc = H.track(subprocess.Popen(
                H.ns_exec(H.topo().ns_a, [
                    NFCAPD, "-b", "127.0.0.1", "-p", str(self.port),
                    "-w", self.dir, "-t", "3600"] +
                    (["-B", str(self.rcvbuf)] if self.rcvbuf else [])),
                stdin=subprocess.DEVNULL, stdout=log, stderr=log))
        deadline = time.monotonic() + 10
        while not self._listening():
            assert self.proc.poll() is None, "nfcapd exited: " + self.text()
            assert time.monotonic() < deadline, "nfcapd not listening: " + \
                self.text()
            time.sleep(0.05)
        return self

    def stop(self):
        """Stop it once it has read what its socket holds (datagrams
        that came just before hdrlog exited); its log."""
        deadline = time.monotonic() + 10
        while self.proc and self.proc.poll() is None and \
                time.monotonic() < deadline:
            sock = self._socket()
            if not sock or sock[1] == "0":
                break
            time.sleep(0.05)
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=10)
        return self.text()

    def __exit__(self, *exc):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        return False

    def text(self):
        with open(self.log) as f:
            return f.read()


def read_nfdump(directory):
    """Every flow record nfcapd wrote in directory, as dicts of nfdump -o
    raw's names ("src addr", "in packets", ...) to their first word."""
    recs = []
    for f in sorted(glob.glob(os.path.join(directory, "nfcapd.2*"))):
        r = H.run([NFDUMP, "-r", f, "-o", "raw", "-q"],
                  env=dict(os.environ, TZ="UTC"))
        cur = None
        for line in r.stdout.splitlines():
            if line.startswith("Flow Record"):
                cur = {}
                recs.append(cur)
                continue
            m = re.match(r"^\s+(\S.*?)\s+=\s+(\S+)", line)
            if m and cur is not None:
                cur[m.group(1)] = m.group(2)
    return recs


def expected_records(flow):
    """The one or two unidirectional records nfdump should show for a
    flow (formats/ipfix.c: the server's half only when it answered)."""
    icmp = flow.get("proto") in (1, 58)
    out = []
    for rev in (False, True):
        pk = flow.get("pkts_tc" if rev else "pkts_ts")
        if rev and not pk:
            break
        r = {}

        def put(key, name, fn=lambda v: str(v)):
            if flow.get(key) is not None:
                r[name] = fn(flow[key])
        put("dst" if rev else "src", "src addr")
        put("src" if rev else "dst", "dst addr")
        put("proto", "proto")
        if icmp:
            if flow.get("icmp_type") is not None:
                r["ICMP"] = "%d.%d" % (flow["icmp_type"],
                                       flow.get("icmp_code", 0))
        else:
            put("dport" if rev else "sport", "src port")
            put("sport" if rev else "dport", "dst port")
        put("pkts_tc" if rev else "pkts_ts", "in packets")
        put("bytes_tc" if rev else "bytes_ts", "in bytes")
        put("flags_tc" if rev else "flags_ts", "tcp flags",
            lambda v: "0x%02x" % v)
        put("start_ms", "first")
        put("end_ms", "last")
        put("reason", "end reason", lambda v: "0x%02x" % END_REASON[v])
        put("vlan", "src vlan")
        if flow.get("ifindex") is not None:
            outbound = (flow.get("dir", "in") == "out") != rev
            r["input"] = "0" if outbound else str(flow["ifindex"])
            r["output"] = str(flow["ifindex"]) if outbound else "0"
            r["direction"] = "1" if outbound else "0"
        out.append(r)
    return out


def compare_flows(expected, directory):
    """Every flow in expected (dicts of FLOW_KEYS) is in nfcapd's files in
    directory as its one or two records, and nothing else is: the check
    for a live --log flows case too."""
    got = read_nfdump(directory)
    want = [r for f in expected for r in expected_records(f)]
    unmatched = list(got)
    missing = []
    for w in want:
        for g in unmatched:
            if all(g.get(k) == v for k, v in w.items()):
                unmatched.remove(g)
                break
        else:
            missing.append(w)
    assert not missing and not unmatched, \
        "IPFIX records nfdump shows differ from the flows sent:\n" \
        "missing: %s\nunexpected: %s" % (missing[:5], unmatched[:5])
    return got


def flow_line(f):
    """A flow as an ipfix_send input line."""
    words = ["v=6" if ":" in f["src"] else "v=4"]
    for k, v in f.items():
        key = {"src": "src", "dst": "dst"}.get(k, k)
        words.append("%s=%s" % (key, v))
    return " ".join(words)


def send(target, lines, domain=None, timeout=60, rate=None):
    """Run ipfix_send in namespace A; its counts as a dict."""
    cmd = [SEND] + (["--domain", str(domain)] if domain is not None else []) \
        + (["--rate", str(rate)] if rate is not None else []) + [target]
    r = subprocess.run(H.ns_exec(H.topo().ns_a, cmd), input="\n".join(
        lines) + "\n", stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, timeout=timeout)
    assert r.returncode == 0, r.stderr
    counts = dict((k, int(v)) for k, v in re.findall(r"(\w+)=(\d+)",
                                                     r.stdout))
    counts["stderr"] = r.stderr
    return counts


T0 = 1764580000123           # 2025-12-01T09:06:40.123Z, ms

FLOWS = [
    # a TCP conversation, closed by FIN, tagged, with a process
    dict(src="198.51.100.1", dst="203.0.113.2", sport=40000, dport=80,
         proto=6, pkts_ts=5, bytes_ts=400, pkts_tc=4, bytes_tc=3000,
         flags_ts=0x1b, flags_tc=0x1b, start_ms=T0, end_ms=T0 + 1333,
         reason="fin", ifindex=3, vlan=7, pid=4242, comm="curl",
         src_lists="a,b", cid="1:LQU9qZlK+B5F3KDmev6m5PMibrg="),
    # reset by the server, seen leaving
    dict(src="198.51.100.1", dst="203.0.113.9", sport=40001, dport=443,
         proto=6, pkts_ts=1, bytes_ts=60, pkts_tc=1, bytes_tc=40,
         flags_ts=0x02, flags_tc=0x14, start_ms=T0 + 5, end_ms=T0 + 6,
         reason="rst", ifindex=3, dir="out"),
    # UDP with no answer: one record; a long one reported on the way
    dict(src="198.51.100.7", dst="203.0.113.53", sport=5353, dport=53,
         proto=17, pkts_ts=3, bytes_ts=210, pkts_tc=0, bytes_tc=0,
         start_ms=T0, end_ms=T0 + 30000, reason="idle", ifindex=2),
    dict(src="198.51.100.7", dst="203.0.113.54", sport=5000, dport=5001,
         proto=17, pkts_ts=100000, bytes_ts=150000000, pkts_tc=2,
         bytes_tc=100, start_ms=T0, end_ms=T0 + 60000, reason="active",
         ifindex=2),
    # ICMP echo over IPv4 and IPv6; evicted and at shutdown
    dict(src="198.51.100.1", dst="203.0.113.2", proto=1, icmp_type=8,
         icmp_code=0, pkts_ts=3, bytes_ts=252, pkts_tc=3, bytes_tc=252,
         start_ms=T0, end_ms=T0 + 2000, reason="evicted", ifindex=3),
    dict(src="2001:db8::1", dst="2001:db8:1::2", proto=58, icmp_type=128,
         icmp_code=0, pkts_ts=2, bytes_ts=208, pkts_tc=2, bytes_tc=208,
         start_ms=T0, end_ms=T0 + 1000, reason="shutdown", ifindex=3),
    # TCP over IPv6 with VLAN 4094 and big counts
    dict(src="2001:db8::1", dst="2001:db8:1::2", sport=65535, dport=1,
         proto=6, pkts_ts=2**33, bytes_ts=2**40, pkts_tc=7, bytes_tc=9,
         flags_ts=0x10, flags_tc=0x12, start_ms=T0, end_ms=T0 + 1,
         reason="idle", ifindex=5, vlan=4094, dir="out"),
]


@tap.case("flows read back by nfcapd: addresses, ports, protocol, counts, "
          "flags, times, interfaces, direction, VLAN, end reason, ICMP "
          "type and code; IPv4 and IPv6; each way its own record")
def flows_to_nfcapd():
    with Nfcapd("basic") as c:
        r = send("ipfix://127.0.0.1:%d" % PORT,
                 [flow_line(f) for f in FLOWS] +
                 ["type=packet", "type=socket"])
        log = c.stop()
    assert r["records"] == len(FLOWS) + 2, r
    # packet and socket records are not flows: skipped, not lost
    assert r["written"] == len(FLOWS) and r["skipped"] == 2 and \
        r["failed"] == 0, r
    got = compare_flows(FLOWS, c.dir)
    assert len(got) == 2 * len(FLOWS) - 1, got
    assert re.search(r"Observation domain 0 from: 127\.0\.0\.1", log), log
    assert re.search(r"Sequence Errors: 0\b", log), log


@tap.case("many flows in many messages, flushed as the main loop does: "
          "all arrive, sequence numbers as nfcapd counts them, the "
          "observation domain given")
def many_messages():
    n = 3000
    lines = []
    for i in range(n):
        lines.append(flow_line(dict(
            src="198.51.100.%d" % (1 + i % 200), dst="203.0.113.%d" % (
                1 + i // 200), sport=1024 + i, dport=443, proto=6,
            pkts_ts=i + 1, bytes_ts=40 * (i + 1), pkts_tc=i % 3,
            bytes_tc=60 * (i % 3), flags_ts=0x02, flags_tc=0x12,
            start_ms=T0 + i, end_ms=T0 + 2 * i, reason="idle", ifindex=3)))
        if i % 50 == 49:     # 50 ms of flows; the collector reads meanwhile
            lines += ["flush", "sleep=2"]
    with Nfcapd("many") as c:
        r = send("ipfix://127.0.0.1:%d" % PORT, lines, domain=4000000000)
        log = c.stop()
    assert r["records"] == n and r["written"] == n and r["failed"] == 0, r
    got = read_nfdump(c.dir)
    want = n + sum(1 for i in range(n) if i % 3)
    assert len(got) == want, (len(got), want, log)
    assert sum(int(g["in packets"]) for g in got) == \
        sum(i + 1 + i % 3 for i in range(n))
    assert re.search(r"Observation domain 4000000000 from", log), log
    assert re.search(r"Sequence Errors: 0\b", log), log


@tap.case("no collector (IPv4 and IPv6): ICMP port unreachable moves the "
          "flows from written to lost, said once; a collector that starts "
          "later gets the templates again and decodes what follows")
def collector_down_then_up():
    target = "ipfix://127.0.0.1:%d" % (PORT + 1)
    lines = []
    for k in range(4):
        lines += [flow_line(dict(FLOWS[0], sport=30000 + k * 10 + j))
                  for j in range(10)]
        lines += ["flush", "sleep=100"]
    # Each message's 10 flows are found by the sequence number in what
    # came back with the ICMP error: 40 lost, not one per message.
    for t in (target, "ipfix://[::1]:%d" % (PORT + 1)):
        r = send(t, lines)
        assert r["records"] == 40 and r["written"] == 0 and \
            r["failed"] == 40, (t, r)
        said = re.findall(r"nothing listens there", r["stderr"])
        assert len(said) == 1, (t, r["stderr"])
    # Down for the first message, then up: the templates come again
    # after the refusal, not only at the next refresh (64 messages, 30 s).
    proc = H.track(subprocess.Popen(
        H.ns_exec(H.topo().ns_a, [SEND, target]), stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    out = H.LineReader(proc.stdout)
    proc.stdin.write(flow_line(dict(FLOWS[0], sport=31000)) + "\n")
    flush_until(proc, out, "failed=1")     # the refusal read at a flush
    later = [dict(FLOWS[0], sport=32000 + j) for j in range(5)]
    with Nfcapd("late", port=PORT + 1) as c:
        end_after_one_lost(proc, out, later, c)


@tap.case("no collector, more messages queued than the 1024 whose ICMP "
          "error is placed, while capture runs and at the exit's paced "
          "stop: every refused message moves all its flows to lost (they "
          "were counted 1 a message once the queue ran deeper than the "
          "ring, and at the stop the errors were read only at its end, "
          "when the socket's error queue had kept a few hundred)")
def refused_behind_deep_queue():
    # 25000 one-record flows, about 1470 messages queued at once, paced
    # out at 10000 records a second (under the kernel's 1000 ICMP errors
    # a second): with flushes as the main loop's, or as the exit's flows,
    # written over a second as a big table's sweep is (the socket's error
    # queue holds a few hundred errors).
    n = 25000
    flows = [flow_line(dict(FLOWS[2], sport=1024 + i % 60000,
                            src="198.51.100.%d" % (1 + i // 60000)))
             for i in range(n)]
    slow = [w for i in range(0, n, 500) for w in flows[i:i + 500] +
            ["sleep=20"]]
    for lines in (flows + ["flush", "sleep=10"] * 600, ["stop"] + slow):
        r = send("ipfix://127.0.0.1:%d" % (PORT + 1), lines, rate=10000)
        assert r["records"] == n and r["written"] == 0 and \
            r["failed"] == n, (lines[0], r)


@tap.case("the exit's flows that had ended (reason fin or rst) wait for "
          "the pace as those of reason shutdown do: 110000 of them, more "
          "than the queue holds, all sent, none counted lost (the wait "
          "was keyed on reason shutdown: a queue full of fin flows at "
          "the exit counted the rest lost)")
def stop_fin_flows_wait():
    n = 110000
    lines = ["stop"] + [flow_line(dict(
        FLOWS[0], sport=1024 + i % 60000,
        src="198.51.100.%d" % (1 + i // 60000))) for i in range(n)]
    with Nfcapd("stopfin") as c:
        r = send("ipfix://127.0.0.1:%d" % PORT, lines, timeout=90)
        c.stop()
    assert r["records"] == n and r["written"] == n and r["failed"] == 0, r
    assert "queued are full" not in r["stderr"], r["stderr"]


def flush_until(proc, out, counts):
    """Have ipfix_send proc (its stdout read by LineReader out) flush
    until a flush's counts have the words counts: the sender thread
    sends, and what became of it is read, at a flush after."""
    deadline = time.monotonic() + 10
    while counts not in out.text():
        assert time.monotonic() < deadline and proc.poll() is None, \
            out.text()
        n = len(out.text().splitlines())
        proc.stdin.write("sleep=10\nflush\n")
        proc.stdin.flush()
        while len(out.text().splitlines()) == n and \
                time.monotonic() < deadline:
            time.sleep(0.01)


def end_after_one_lost(proc, out, later, c):
    """ipfix_send proc, which lost one flow, sends the 5 flows later and
    ends: they are counted written, and nfcapd c decoded them (it had the
    templates)."""
    proc.stdin.write("\n".join(flow_line(f) for f in later) + "\n")
    proc.stdin.close()
    assert proc.wait(timeout=30) == 0
    c.stop()
    out.join()
    last = out.text().strip().splitlines()[-1]
    assert last.startswith("records=6 written=5 failed=1 "), out.text()
    compare_flows(later, c.dir)


@tap.case("a first message that could not go (no route: an ip rule "
          "prohibits it) had the templates: the next message has them "
          "again, and nfcapd decodes it (they were marked sent when "
          "queued, and it got data it could not read until the refresh)")
def templates_after_send_error():
    ns = H.topo().ns_a
    target = "ipfix://127.0.0.1:%d" % PORT
    later = [dict(FLOWS[0], sport=33000 + j) for j in range(5)]
    with Nfcapd("tplerr") as c:
        proc = H.track(subprocess.Popen(
            H.ns_exec(ns, [SEND, target]), stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        out = H.LineReader(proc.stdout)
        flush_until(proc, out, "records=0 ")    # the socket is connected
        # The local table after the rule, so that it applies to 127.0.0.1
        rules = [["pref", "100", "lookup", "local"],
                 ["pref", "10", "ipproto", "udp", "dport", str(PORT),
                  "prohibit"]]
        try:
            for r in rules:
                H.run([H.IP, "-n", ns, "rule", "add"] + r)
            H.run([H.IP, "-n", ns, "rule", "del", "pref", "0"])
            proc.stdin.write(flow_line(dict(FLOWS[0], sport=33999)) + "\n")
            flush_until(proc, out, "failed=1")
        finally:
            H.run([H.IP, "-n", ns, "rule", "add", "pref", "0", "lookup",
                   "local"], check=False)
            for r in rules:
                H.run([H.IP, "-n", ns, "rule", "del"] + r[:2], check=False)
        end_after_one_lost(proc, out, later, c)


def json_to_flow(rec):
    """A JSON flow record (--log flows) as compare_flows() takes it."""
    f, tcp = rec["flow"], rec.get("tcp", {})

    def ms(text):       # RFC 3339 with microseconds -> ms since the epoch
        m = H.TIMESTAMP_RE.match(text)
        y, mo, d, hh, mm, ss, us = (int(x) for x in m.groups())
        t = calendar.timegm((y, mo, d, hh, mm, ss))
        return t * 1000 + us // 1000
    d = dict(src=rec["src_ip"], dst=rec["dest_ip"], proto=rec["ip_proto"],
             pkts_ts=f["pkts_toserver"], bytes_ts=f["bytes_toserver"],
             pkts_tc=f["pkts_toclient"], bytes_tc=f["bytes_toclient"],
             start_ms=ms(f["start"]), end_ms=ms(f["end"]),
             reason=f["reason"], ifindex=rec.get("ifindex"),
             dir=rec.get("direction", "in"),
             vlan=(rec.get("vlan") or [0])[0])
    if d["proto"] in (1, 58):
        d.update(icmp_type=rec.get("icmp_type"),
                 icmp_code=rec.get("icmp_code", 0))
    else:
        d.update(sport=rec.get("src_port"), dport=rec.get("dest_port"))
    if d["proto"] == 6:
        d.update(flags_ts=int(tcp.get("tcp_flags_ts", "00"), 16),
                 flags_tc=int(tcp.get("tcp_flags_tc", "00"), 16))
    return d


def has_flows():
    r = subprocess.run([H.HDRLOG, "--help"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    return re.search(r"^ +--log .*flows", r.stdout, re.M) is not None


@tap.case("live: hdrlog --log flows -o json -o ipfix://: nfcapd gets the "
          "JSON output's flow records, each way, counts, flags, times, "
          "reasons (skipped before the flow table)")
def live_flows():
    if not has_flows():
        raise H.Skip("this hdrlog has no --log flows")
    s = H.load_scapy()
    client, server = "203.0.113.10", "203.0.113.20"
    a, b = H.pair().a_mac, H.pair().b_mac
    frames = []

    def add(l3):
        frames.append(bytes(s.Ether(src=b, dst=a) / l3))
    # TCP closed by FIN both ways; UDP with no answer; ICMP echo; IPv6 UDP
    add(s.IP(src=client, dst=server) / s.TCP(sport=41000, dport=80,
                                             flags="S"))
    add(s.IP(src=server, dst=client) / s.TCP(sport=80, dport=41000,
                                             flags="SA"))
    add(s.IP(src=client, dst=server) / s.TCP(sport=41000, dport=80,
                                             flags="PA") / (b"g" * 30))
    add(s.IP(src=server, dst=client) / s.TCP(sport=80, dport=41000,
                                             flags="PA") / (b"x" * 300))
    add(s.IP(src=client, dst=server) / s.TCP(sport=41000, dport=80,
                                             flags="FA"))
    add(s.IP(src=server, dst=client) / s.TCP(sport=80, dport=41000,
                                             flags="FA"))
    add(s.IP(src=client, dst=server) / s.TCP(sport=41000, dport=80,
                                             flags="A"))
    for i in range(3):
        add(s.IP(src=client, dst=server) / s.UDP(sport=41001, dport=53) /
            (b"q" * (10 + i)))
        add(s.IP(src=client, dst=server) / s.ICMP(type=8, id=5, seq=i) /
            (b"p" * 56))
        add(s.IP(src=server, dst=client) / s.ICMP(type=0, id=5, seq=i) /
            (b"p" * 56))
    add(s.IPv6(src="2001:db8:99::10", dst="2001:db8:99::20") /
        s.UDP(sport=41002, dport=123) / (b"n" * 48))
    out = H.path("live.json")
    with Nfcapd("live") as c:
        with H.Hdrlog(H.topo().ns_a, [
                "-i", H.dev(), "--log", "flows", "--flow-idle-timeout", "1",
                "-o", "json:" + out,
                "-o", "ipfix://127.0.0.1:%d" % PORT]) as h:
            H.topo().send(frames)
            H.wait_records(out, lambda r: len(
                [x for x in r if x.get("event_type") == "flow"]) >= 4,
                timeout=15, proc=h.proc)
            rc = h.stop()
        c.stop()
    assert rc == 0, h.stderr()
    flows = [json_to_flow(r) for r in H.read_json_lines(out)
             if r.get("event_type") == "flow"]
    assert len(flows) == 4, (flows, h.stderr())
    assert H.output_counts(h.stderr(), "ipfix") == (4, 0), h.stderr()
    compare_flows(flows, c.dir)


def udp_counter(name="RcvbufErrors"):
    """Namespace A's UDP counter name (/proc/net/snmp): RcvbufErrors,
    datagrams its kernel dropped for a full socket buffer, what nfcapd
    never saw; InDatagrams, those a socket (nfcapd's) got."""
    r = H.run(H.ns_exec(H.topo().ns_a, ["cat", "/proc/net/snmp"]))
    udp = [line.split() for line in r.stdout.splitlines()
           if line.startswith("Udp:")]
    return int(udp[1][udp[0].index(name)])


def live_run(name, frames, rcvbuf=4194304):
    """hdrlog --log flows -o json -o ipfix:// to an nfcapd (rcvbuf as
    Nfcapd's) while frames are sent, stopped once it has seen them all, so
    that their flows go at the stop: (the JSON output's flow records, the
    Hdrlog, the Nfcapd, its log, the datagrams the kernel dropped at a
    full socket buffer meanwhile)."""
    if not has_flows():
        raise H.Skip("this hdrlog has no --log flows")
    out = H.path(name + ".json")
    with Nfcapd(name, rcvbuf=rcvbuf) as c:
        dropped = udp_counter()
        with H.Hdrlog(H.topo().ns_a, [
                "-i", H.dev(), "--log", "flows", "-o", "json:" + out,
                "-o", "ipfix://127.0.0.1:%d" % PORT]) as h:
            H.topo().send(frames)
            assert h.summaries_until(
                lambda: h.summary().get("seen", 0) >= len(frames), 30), \
                h.stderr()
            rc = h.stop(timeout=60)
        dropped = udp_counter() - dropped
        log = c.stop()
    assert rc == 0, h.stderr()
    flows = [r for r in H.read_json_lines(out)
             if r.get("event_type") == "flow"]
    return flows, h, c, log, dropped


def one_frame_flows(n):
    """n UDP flows of one frame each: ([(source, source port)], frames)."""
    mac = H.new_mac(MAC_KIND)
    sent = [("198.51.100.%d" % (2 + i // 5000), 10000 + i % 5000)
            for i in range(n)]
    return sent, [H.udp_frame(mac, src_ip=ip, sport=port, dport=53)
                  for ip, port in sent]


def assert_every_flow(h, c, made, dropped, sent=None):
    """hdrlog h's summary counts every one of the made flows either
    written to the IPFIX output or lost; nfcapd c has each one written
    once (and no other: sent, the flows' (source, port)s), and the kernel
    dropped nothing at its socket (dropped): nothing is silently
    missing. (written, lost)."""
    written, lost = H.output_counts(h.stderr(), "ipfix")
    assert written + lost == made, (made, h.stderr())
    got = read_nfdump(c.dir)
    keys = [(g["src addr"], int(g["src port"])) for g in got]
    assert len(got) == written and dropped == 0, \
        "nfcapd got %d records, hdrlog counted %d written; the kernel " \
        "dropped %d datagrams at its socket\n%s" % (
            len(got), written, dropped, h.stderr())
    assert len(set(keys)) == len(keys) and \
        (sent is None or set(keys) <= set(sent)), keys[:10]
    return written, lost


def stop_twice(h, sig=signal.SIGTERM, deadline=10):
    """Once the first stop signal's exit said it waits for the pace (or,
    for a build that does not say, nfcapd has had 200 datagrams since,
    about 2 s of the pace at 1000 records a second),
    a second one; then a third as it ends. hdrlog's exit code, None if
    it still runs deadline seconds after the second."""
    got = udp_counter("InDatagrams")
    h.proc.send_signal(sig)
    H.wait_until(lambda: "a second SIGINT or SIGTERM ends the wait" in
                 h.stderr() or udp_counter("InDatagrams") - got >= 200,
                 "the stop's wait for the pace", timeout=15)
    h.proc.send_signal(sig)
    end = time.monotonic() + deadline
    # a third changes nothing (send_signal skips a process that exited)
    h.err.wait_for(r"second stop signal ended the wait", deadline)
    h.proc.send_signal(sig)
    return h.wait(max(0, end - time.monotonic()))


@tap.case("live: a second SIGTERM while the stop waits for the pace "
          "(--ipfix-rate 1000, 20000 flows: 20 s) ends the wait at once, "
          "a third changes nothing: hdrlog exits 0 with its summary, the "
          "flows not sent counted lost and said once, and nfcapd's "
          "records and those counted lost are every flow made (it waited "
          "out the pace, up to 60 s)")
def second_signal_ends_pace():
    if not has_flows():
        raise H.Skip("this hdrlog has no --log flows")
    n = 20000
    sent, frames = one_frame_flows(n)
    with Nfcapd("second") as c:
        dropped = udp_counter()
        # idle flows not exported before the stop: all go at the stop
        with H.Hdrlog(H.topo().ns_a, [
                "-i", H.dev(), "--log", "flows", "--flow-idle-timeout",
                "3600", "-o", "ipfix://127.0.0.1:%d" % PORT,
                "--ipfix-rate", "1000"]) as h:
            H.topo().send(frames)
            assert h.summaries_until(
                lambda: h.summary().get("seen", 0) >= n, 30), h.stderr()
            rc = stop_twice(h)
            assert rc is not None, "hdrlog still stopping 10 s after a " \
                "second SIGTERM (the pace needs 20 s):\n" + h.stderr()
        dropped = udp_counter() - dropped
        c.stop()
    err = h.stderr()
    assert rc == 0 and H.SUMMARY_MARK in err, err
    assert h.summary().get("flows_exported") == n, err
    written, lost = assert_every_flow(h, c, n, dropped, sent)
    assert 0 < written and 0 < lost, err
    said = re.findall(r"ipfix \S+: (\d+) flow records not sent when a "
                      r"second stop signal ended the wait", err)
    assert said == [str(lost)], err
    assert err.count("a second SIGINT or SIGTERM ends the wait") == 1, err


@tap.case("live: flows that end faster than --ipfix-rate lets out while "
          "capture runs (1000 a second, 260000 one-frame flows ended by "
          "--flow-idle-timeout 1) fill the queue of 16384 messages: those "
          "that do not fit are counted lost and said once, capture goes "
          "on; at the stop a second SIGTERM ends the wait, and nfcapd's "
          "records and those counted lost are every flow made")
def running_queue_overflow():
    if not has_flows():
        raise H.Skip("this hdrlog has no --log flows")
    n = 260000      # the queue holds about 196000; the rest are sent
    sent, frames = one_frame_flows(n)
    with Nfcapd("overflow") as c:
        dropped = udp_counter()
        with H.Hdrlog(H.topo().ns_a, [
                "-i", H.dev(), "--log", "flows", "--flow-idle-timeout", "1",
                "-o", "ipfix://127.0.0.1:%d" % PORT,
                "--ipfix-rate", "1000"]) as h:
            H.topo().send(frames)
            assert h.summaries_until(
                lambda: h.summary().get("seen", 0) >= n and
                h.summary().get("flows_exported", 0) >= n, 60, pause=0.5), \
                h.stderr()
            # lost while capture runs, not only at the stop
            assert h.output_counts("ipfix")[1] > 0, h.stderr()
            rc = stop_twice(h)
            assert rc is not None, h.stderr()
        dropped = udp_counter() - dropped
        c.stop()
    err = h.stderr()
    assert rc == 0, err
    assert h.summary().get("flows_exported") == n, err
    assert_every_flow(h, c, n, dropped, sent)
    assert err.count("queued are full") == 1, err


@tap.case("live: the stop's burst of 10000 flows reaches an nfcapd with "
          "its default socket buffer whole: paced (--ipfix-rate's "
          "default), no datagram dropped, no sequence gap (unpaced, the "
          "kernel dropped most of the burst at nfcapd's socket, unseen)")
def stop_burst_paced():
    n = 10000
    sent, frames = one_frame_flows(n)
    flows, h, c, log, dropped = live_run("burst", frames, rcvbuf=None)
    assert len(flows) == n, (len(flows), h.stderr())
    assert H.output_counts(h.stderr(), "ipfix") == (n, 0), h.stderr()
    got = read_nfdump(c.dir)
    assert len(got) == n and dropped == 0, \
        "nfcapd got %d of %d records; the kernel dropped %d datagrams at " \
        "its socket\n%s" % (len(got), n, dropped, log)
    assert re.search(r"Sequence Errors: 0\b", log), log
    assert sorted((g["src addr"], int(g["src port"])) for g in got) == \
        sorted(sent)


@tap.case("live: ICMP inside IPv6 (next header 1) and ICMPv6: nfcapd "
          "shows the ICMP type and code the JSON flow record has (IPFIX "
          "sent 0 for ICMP inside IPv6)")
def icmp_in_ipv6():
    s = H.load_scapy()
    a, b = H.pair().a_mac, H.pair().b_mac
    v6 = dict(src="2001:db8:97::10", dst="2001:db8:97::20")
    flows, h, c, log, dropped = live_run("icmp6", [
        bytes(s.Ether(src=b, dst=a) / s.IPv6(nh=1, **v6) /
              s.ICMP(type=3, code=3) / (b"u" * 28)),
        bytes(s.Ether(src=b, dst=a) / s.IPv6(nh=1, src=v6["dst"],
                                             dst="2001:db8:97::30") /
              s.ICMP(type=8, code=0, id=7, seq=1) / (b"e" * 16)),
        bytes(s.Ether(src=b, dst=a) / s.IPv6(**v6) /
              s.ICMPv6DestUnreach(code=4) / (b"w" * 48))])
    assert sorted((r["ip_proto"], r.get("icmp_type"), r.get("icmp_code"))
                  for r in flows) == [(1, 3, 3), (1, 8, 0), (58, 1, 4)], \
        flows
    got = compare_flows([json_to_flow(r) for r in flows], c.dir)
    assert sorted(g["ICMP"] for g in got) == ["1.4", "3.3", "8.0"], got


@tap.case("hdrlog -o ipfix:// without --log flows is refused; with --log "
          "packets,flows its packet records are skipped, not lost, and only "
          "the flows are sent")
def packets_skipped():
    r = H.run_hdrlog(H.topo().ns_a, ["-i", H.dev(), "-o", "ipfix://127.0.0.1"])
    H.assert_refused(r, rc=2, mentions=("--log flows",))
    n = 20
    with Nfcapd("skip") as c:
        with H.Hdrlog(H.topo().ns_a, [
                "-i", H.dev(), "-o", "ipfix://127.0.0.1:%d" % PORT,
                "--log", "packets,flows", "--ipfix-domain", "7",
                "-c", str(n)]) as h:
            H.topo().send([H.udp_frame(H.new_mac(MAC_KIND), sport=7000 + i,
                                       dport=7001) for i in range(n)])
            rc = h.wait(15)
        assert rc == 0, h.stderr()
        c.stop()
    written, lost = H.output_counts(h.stderr(), "ipfix")
    assert (written, lost) == (n, 0), h.stderr()
    assert re.search(r"output ipfix://127\.0\.0\.1:%d: %d written, 0 lost, "
                     r"%d records this output has no place for" % (PORT, n, n),
                     h.stderr()), h.stderr()
    got = read_nfdump(c.dir)
    assert sorted(int(g["src port"]) for g in got) == \
        list(range(7000, 7000 + n)), got


@tap.case("--check of ipfix targets, --ipfix-domain and --ipfix-rate: "
          "parsed and resolved, nothing sent; bad ones refused with one "
          "clear line")
def check_targets():
    for t in ("ipfix://127.0.0.1", "ipfix://127.0.0.1:%d" % PORT,
              "ipfix://[::1]:4739", "ipfix://localhost"):
        r = H.run_hdrlog(H.topo().ns_a, ["-i", H.dev(), "--check", "-o", t,
                                         "--log", "flows",
                                         "--ipfix-domain", "4294967295"])
        assert r.returncode == 0, (t, r.stderr)
    for t in ("ipfix", "ipfix:127.0.0.1", "ipfix://", "ipfix://127.0.0.1:0",
              "ipfix://127.0.0.1:65536", "ipfix://[::1",
              "ipfix://no-such-host.invalid"):
        for extra in (["--check"], []):
            r = H.run_hdrlog(H.topo().ns_a, ["-i", H.dev(), "-o", t,
                                             "--log", "flows"] + extra)
            assert r.returncode != 0, (t, extra)
            errs = [x for x in r.stderr.splitlines() if x.strip() and
                    "problem found" not in x and "listening on" not in x]
            assert len(errs) == 1 and errs[0].startswith("hdrlog: ") and \
                "ipfix" in errs[0], (t, extra, r.stderr)
    r = H.run_hdrlog(H.topo().ns_a, ["-i", H.dev(), "--check", "-o",
                                     "ipfix://127.0.0.1", "--log", "flows",
                                     "--ipfix-domain", "4294967296"])
    assert r.returncode != 0 and "ipfix-domain" in r.stderr, r.stderr
    for rate, ok in (("1000", True), ("100000000", True), ("999", False),
                     ("100000001", False), ("fast", False)):
        r = H.run_hdrlog(H.topo().ns_a, ["-i", H.dev(), "--check", "-o",
                                         "ipfix://127.0.0.1", "--log",
                                         "flows", "--ipfix-rate", rate])
        assert (r.returncode == 0) == ok and \
            (ok or "ipfix-rate" in r.stderr), (rate, r.stderr)


def body():
    if not os.access(SEND, os.X_OK):
        print("Bail out! %s not built (make check builds it)" % SEND)
        sys.exit(1)
    H.run_tap(tap, need=(NFCAPD, NFDUMP), setup=lambda t: H.run(
        [H.IP, "-n", t.ns_a, "link", "set", "lo", "up"]))


if __name__ == "__main__":
    H.main(body)
