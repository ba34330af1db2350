#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""
Automated response (--respond, issue 14), end to end: crafted floods and
scans sent from namespace B with sources in 203.0.113.0/24; what is
checked is what a user notices: the alert, block and unblock records read
back, the records of the frames after a block (action drop, or pass with
would_drop under --monitor), hdrlog's summary (per policy drops, refused
blocks) and the veth's XDP drop counter. Every wait has a deadline.
"""
import os
import re
import signal
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hdrlogtest as H  # noqa: E402

tap = H.Tap()
A4 = "198.51.100.1"
FOREIGN_MAC = "02:00:5e:00:53:01"   # not A's: the stack ignores the frames
MAC_KIND = 0x1e


def tcp_syn(src, sport, dport=80, dst=A4):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, 1000, 0, 5 << 4, 0x02,
                      1024, 0, 0)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0, 64, 6,
                     0, socket.inet_aton(src), socket.inet_aton(dst))
    return (H.mac_bytes(FOREIGN_MAC) + H.mac_bytes(H.new_mac(MAC_KIND)) +
            b"\x08\x00" + ip + tcp)


def tcp_syn6(src, sport, dport=80, dst="2001:db8::1"):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, 1000, 0, 5 << 4, 0x02,
                      1024, 0, 0)
    ip = struct.pack("!IHBB16s16s", 0x60000000, len(tcp), 6, 64,
                     socket.inet_pton(socket.AF_INET6, src),
                     socket.inet_pton(socket.AF_INET6, dst))
    return (H.mac_bytes(FOREIGN_MAC) + H.mac_bytes(H.new_mac(MAC_KIND)) +
            b"\x86\xdd" + ip + tcp)


def udp(src, dport=53, ip_id=1):
    return H.udp_frame(H.new_mac(MAC_KIND), dst_mac=FOREIGN_MAC, src_ip=src,
                       dst_ip=A4, sport=40000, dport=dport, ip_id=ip_id)


def flood(src, n=400):
    return [tcp_syn(src, 10000 + i) for i in range(n)]


def conf(text):
    p = H.path("respond-%d.conf" % time.monotonic_ns())
    with open(p, "w") as f:
        f.write(text)
    return p


SYN_BLOCK = """# a SYN flood blocks
[policy syn-flood]
detector = syn
threshold = 100/s
action = block
ttl = %s
"""


def hdrlog(out, respond, args=()):
    return H.Hdrlog(H.topo().ns_a, ["-i", H.dev(), "-o", "json:" + out,
                                    "--respond", respond] + list(args))


def of(recs, kind, src=None):
    return [r for r in recs if r.get("event_type") == kind and
            (src is None or r.get("src_ip") == src)]


def wait_for(out, h, want, what, timeout=10):
    recs = H.wait_records(out, want, timeout=timeout, proc=h.proc)
    assert want(recs), "no %s within %ss; records: %s\nstderr: %s" % (
        what, timeout, [r for r in recs if r.get("event_type") != "packet"],
        h.stderr())
    return recs


POLICY_RE = re.compile(r"^(?:hdrlog:\s*)?policy (\S+): (\d+) alerts, "
                       r"(\d+) blocks, (\d+) unblocks, (\d+) frames dropped"
                       r"(?:, (\d+) would have been dropped)?")


def policies(text):
    """{policy: (alerts, blocks, unblocks, dropped, would_drop)}, last
    summary wins."""
    out = {}
    for line in text.splitlines():
        m = POLICY_RE.match(line.strip())
        if m:
            out[m.group(1)] = tuple(int(x or 0) for x in m.groups()[1:])
    return out


def wait_policy(h, name, index, n, timeout=10):
    deadline = time.monotonic() + timeout
    while True:
        h.summary_now()
        got = policies(h.stderr()).get(name)
        if got and got[index] >= n:
            return got
        assert time.monotonic() < deadline, "policy %s: %s, not %d at " \
            "%d:\n%s" % (name, got, n, index, h.stderr())
        time.sleep(0.05)


@tap.case("a SYN flood from one source is alerted and blocked: the next "
          "frames from it are dropped in XDP, another source's pass")
def _():
    out = H.path("syn.json")
    attacker, other = "203.0.113.7", "203.0.113.8"
    prom = H.path("respond.prom")
    with hdrlog(out, conf(SYN_BLOCK % "60s"), ["--metrics", prom]) as h:
        H.topo().send(flood(attacker))
        recs = wait_for(out, h, lambda r: of(r, "block", attacker),
                        "block record")
        a = of(recs, "alert", attacker)[0]
        assert a["alert"]["signature"] == "syn-flood", a
        assert a["alert"]["action"] == "blocked", a
        assert a["respond"]["detector"] == "syn", a
        assert a["respond"]["value"] >= 100, a
        assert a["respond"]["threshold"] == 100, a
        assert a["respond"]["prefix"] == 32, a
        b = of(recs, "block", attacker)[0]
        assert b["respond"]["ttl"] == 60 and b["respond"]["result"] == \
            "blocked", b
        H.topo().send([udp(attacker, ip_id=i + 1) for i in range(50)] +
                      [udp(other, ip_id=i + 1) for i in range(50)])
        wait_policy(h, "syn-flood", 3, 50)
        recs = wait_for(out, h, lambda r: len([
            x for x in of(r, "packet", other) if x.get("proto") == "UDP"])
            >= 50, "the other source's frames")
        rc = h.stop()
    assert rc == 0, h.stderr()
    recs = H.read_json_lines(out)
    mine = [x for x in of(recs, "packet", attacker) if x["proto"] == "UDP"]
    assert len(mine) == 50 and all(x["action"] == "drop" for x in mine), \
        mine[:3]
    theirs = [x for x in of(recs, "packet", other) if x["proto"] == "UDP"]
    assert all(x["action"] == "pass" for x in theirs), theirs[:3]
    assert not of(recs, "alert", other), of(recs, "alert", other)
    # the block list goes with hdrlog: said at exit
    u = of(recs, "unblock", attacker)
    assert u and u[0]["respond"]["result"] == "shutdown", u
    # the summary's numbers in the metrics (one table: stats_walk)
    with open(prom) as f:
        text = f.read()
    m = re.search(r'^hdrlog_respond_frames_dropped_total\{policy="syn-flood"'
                  r'\} (\d+)$', text, re.M)
    assert m and int(m.group(1)) == policies(h.stderr())["syn-flood"][3], \
        text
    assert re.search(r'^hdrlog_respond_blocks_total\{policy="syn-flood"\} 1$',
                     text, re.M), text


@tap.case("a port scan (one source, many destination ports) is alerted by "
          "the port-scan policy; a log policy drops nothing")
def _():
    out = H.path("scan.json")
    c = conf("[policy scan]\ndetector = port-scan\nthreshold = 40\n"
             "action = log\n")
    src = "203.0.113.9"
    with hdrlog(out, c) as h:
        H.topo().send([udp(src, dport=1000 + i, ip_id=i + 1)
                       for i in range(150)])
        recs = wait_for(out, h, lambda r: of(r, "alert", src), "alert")
        rc = h.stop()
    assert rc == 0, h.stderr()
    a = of(recs, "alert", src)[0]
    assert a["alert"]["signature"] == "scan" and a["alert"]["action"] == \
        "allowed", a
    assert a["respond"]["detector"] == "port-scan", a
    assert a["respond"]["result"] == "logged", a
    # 128-bit sketch: 40 or more ports, within the estimate's error
    assert 40 <= a["respond"]["value"] <= 250, a
    assert not of(H.read_json_lines(out), "block"), "a log policy blocked"
    assert policies(h.stderr())["scan"][3] == 0, h.stderr()


@tap.case("a block expires after its TTL: an unblock record says so, and "
          "frames from the source pass again")
def _():
    out = H.path("expire.json")
    src = "203.0.113.12"
    with hdrlog(out, conf(SYN_BLOCK % "2s")) as h:
        H.topo().send(flood(src))
        wait_for(out, h, lambda r: of(r, "block", src), "block record")
        recs = wait_for(out, h, lambda r: of(r, "unblock", src),
                        "unblock record", timeout=15)
        u = of(recs, "unblock", src)[0]
        assert u["respond"]["result"] == "expired", u
        assert u["alert"]["signature"] == "syn-flood", u
        n0 = len(H.read_json_lines(out))
        H.topo().send([udp(src, ip_id=9000 + i) for i in range(20)])
        recs = wait_for(out, h, lambda r: len([
            x for x in of(r[n0:], "packet", src) if x["proto"] == "UDP"])
            >= 20, "frames after the unblock")
        h.stop()
    after = [x for x in of(recs[n0:], "packet", src) if x["proto"] == "UDP"]
    assert all(x["action"] == "pass" for x in after), after[:3]


@tap.case("a never-block (taglist) source and an allow-listed source "
          "flooding are alerted but never blocked")
def _():
    out = H.path("protect.json")
    mgmt, allowed = "203.0.113.20", "203.0.113.21"
    tag = H.write_list("mgmt.txt", [mgmt + "/32"])
    allow = H.write_list("ok.txt", ["203.0.113.0/24", "198.51.100.0/24"])
    c = conf("never-block = mgmt\n" + SYN_BLOCK % "60s")
    with hdrlog(out, c, ["--taglist", "mgmt=" + tag,
                         "--allowlist", "ok=" + allow]) as h:
        H.topo().send(flood(mgmt) + flood(allowed))
        recs = wait_for(out, h, lambda r: of(r, "alert", mgmt) and
                        of(r, "alert", allowed), "alerts")
        for src in (mgmt, allowed):
            a = of(recs, "alert", src)[0]
            assert a["respond"]["result"] == "protected", a
        H.topo().send([udp(mgmt, ip_id=i + 1) for i in range(10)])
        wait_for(out, h, lambda r: len([
            x for x in of(r, "packet", mgmt) if x["proto"] == "UDP"]) >= 10,
            "frames after the alert")
        rc = h.stop()
    assert rc == 0, h.stderr()
    recs = H.read_json_lines(out)
    assert not of(recs, "block"), of(recs, "block")
    assert all(x["action"] == "pass" for x in of(recs, "packet", mgmt))
    assert policies(h.stderr())["syn-flood"][1:4] == (0, 0, 0), h.stderr()


@tap.case("a dynamic list of 2 and 3 attackers: 2 blocked, the third "
          "alerted as list-full and counted in the summary")
def _():
    out = H.path("full.json")
    c = conf("max-blocks = 2\n" + SYN_BLOCK % "60s")
    srcs = ["203.0.113.31", "203.0.113.32", "203.0.113.33"]
    with hdrlog(out, c) as h:
        for s in srcs:
            H.topo().send(flood(s))
        recs = wait_for(out, h, lambda r: all(of(r, "alert", s)
                                              for s in srcs), "alerts")
        rc = h.stop()
    assert rc == 0, h.stderr()
    results = sorted(of(recs, "alert", s)[0]["respond"]["result"]
                     for s in srcs)
    assert results == ["blocked", "blocked", "list-full"], results
    m = re.search(r"(\d+) blocks refused: dynamic block list full",
                  h.stderr())
    assert m and int(m.group(1)) == 1, h.stderr()


@tap.case("--monitor drops nothing but logs the same alert and block "
          "decisions; the attacker's frames say would_drop")
def _():
    out = H.path("monitor.json")
    src = "203.0.113.40"
    with hdrlog(out, conf(SYN_BLOCK % "60s"), ["--monitor"]) as h:
        drops0 = H.xdp_drops()
        H.topo().send(flood(src))
        recs = wait_for(out, h, lambda r: of(r, "block", src), "block")
        b = of(recs, "block", src)[0]
        assert b.get("would_drop") is True, b
        H.topo().send([udp(src, ip_id=i + 1) for i in range(30)])
        wait_policy(h, "syn-flood", 4, 30)
        rc = h.stop()
    assert rc == 0, h.stderr()
    after = [x for x in of(H.read_json_lines(out), "packet", src)
             if x["proto"] == "UDP"]
    assert len(after) == 30, len(after)
    assert all(x["action"] == "pass" and x.get("would_drop") for x in
               after), after[:3]
    assert policies(h.stderr())["syn-flood"][3] == 0, h.stderr()
    if drops0 is not None:
        assert H.xdp_drops() == drops0, "XDP dropped frames under --monitor"


@tap.case("normal traffic of the same volume from many sources triggers "
          "nothing (a later flood's alert marks the end)")
def _():
    out = H.path("normal.json")
    many = ["203.0.113.%d" % (100 + i) for i in range(100)]
    marker = "203.0.113.50"
    with hdrlog(out, conf(SYN_BLOCK % "60s")) as h:
        frames = []
        for k in range(4):
            frames += [tcp_syn(s, 20000 + k) for s in many]
        H.topo().send(frames)
        H.topo().send(flood(marker))
        recs = wait_for(out, h, lambda r: of(r, "alert", marker), "alert")
        rc = h.stop()
    assert rc == 0, h.stderr()
    recs = H.read_json_lines(out)
    bad = [r for r in of(recs, "alert") + of(recs, "block")
           if r["src_ip"] != marker]
    assert not bad, bad


@tap.case("IPv6 sources count per /64: a SYN flood from 300 addresses of "
          "one /64 is one source, blocked as 2001:db8:5::/64; a host scan "
          "from one IPv4 source is alerted by host-scan")
def _():
    out = H.path("v6.json")
    c = conf(SYN_BLOCK % "60s" + "[policy sweep]\ndetector = host-scan\n"
             "threshold = 30\n")
    scanner = "203.0.113.60"
    with hdrlog(out, c) as h:
        H.topo().send([tcp_syn6("2001:db8:5::%x:%x" % (i, i * 7), 10000 + i)
                       for i in range(300)])
        H.topo().send([H.udp_frame(H.new_mac(MAC_KIND), dst_mac=FOREIGN_MAC,
                                   src_ip=scanner, dst_ip="198.51.100.%d" %
                                   (100 + i), ip_id=i + 1)
                       for i in range(100)])
        recs = wait_for(out, h, lambda r: of(r, "block", "2001:db8:5::")
                        and of(r, "alert", scanner), "block and alert")
        rc = h.stop()
    assert rc == 0, h.stderr()
    b = of(recs, "block", "2001:db8:5::")[0]
    assert b["ip_v"] == 6 and b["respond"]["prefix"] == 64, b
    assert len(of(recs, "alert")) == 2, of(recs, "alert")
    a = of(recs, "alert", scanner)[0]
    assert a["alert"]["signature"] == "sweep" and \
        a["respond"]["detector"] == "host-scan", a


@tap.case("a bad respond config is refused with FILE:LINE")
def _():
    cases = [
        ("[policy a]\ndetector = syn\nthreshold = 100\n", 3, "not a rate"),
        ("[policy a]\ndetector = nope\n", 2, "detector"),
        ("window = 5x\n[policy a]\ndetector = syn\nthreshold = 1/s\n", 1,
         "window"),
        ("[policy a]\ndetector = port-scan\nthreshold = 9999\n", 3,
         "sketch"),
        ("[policy a]\ndetector = syn\n", 1, "no threshold"),
        ("[policy a]\ndetector = syn\nthreshold = 1/s\nbogus = 1\n", 4,
         "unknown policy setting"),
        ("# nothing\n", 1, "no [policy"),
        ("never-block = nolist\n[policy a]\ndetector = syn\n"
         "threshold = 1/s\n", 1, "no list named"),
    ]
    for text, line, why in cases:
        p = conf(text)
        r = H.run_hdrlog(H.topo().ns_a, ["-i", H.dev(), "--respond", p])
        H.assert_refused(r, 2, mentions=("%s:%d:" % (p, line), why))


BASELINE = """# learned baseline, short windows so the test takes seconds
window = 100ms
[policy learned]
detector = baseline
metric = packets
history = 500ms
factor = 5
min = 100/s
"""


@tap.case("baseline: a source stepping up 10x after learning alerts; one "
          "sending the same high rate from the start does not")
def _():
    out = H.path("baseline.json")
    stepper, steady = "203.0.113.40", "203.0.113.41"
    learn, step = 20, 200           # frames per 100 ms window
    # 15 windows (3 histories) of learning, then the step: at most 30
    # windows more, until the stepper's alert is read back, then 5
    windows, ident = [], 0
    for k in range(50):
        n = learn if k < 15 else step
        frames = []
        for i in range(step):
            ident += 1
            if i < n:
                frames.append(udp(stepper, ip_id=ident & 0xffff))
            frames.append(udp(steady, ip_id=ident & 0xffff))
        windows.append(frames)
    with hdrlog(out, conf(BASELINE)) as h:
        alerts, after = NewRecords(out), []

        def until(k):
            if k >= 15 and not after and of(alerts(), "alert", stepper):
                after.append(k + 5)   # both at the same rate a while longer
            return after and k >= after[0]
        p = pace(windows, until)
        H.diag("stepper and steady: %s" % p)
        recs = H.read_json_lines(out)
        assert of(recs, "alert", stepper), "no baseline alert for the " \
            "stepper; records: %s\nstderr: %s\n%s" % (
                [r for r in recs if r.get("event_type") != "packet"],
                h.stderr(), p)
        a = of(recs, "alert", stepper)[0]
        assert a["alert"]["signature"] == "learned" and \
            a["respond"]["detector"] == "baseline", a
        # learned near 200/s: the threshold is about 5 x that, above min
        assert 100 < a["respond"]["threshold"] < 2000, (a, str(p))
        assert a["respond"]["value"] >= a["respond"]["threshold"], a
        # the steady source sent 2000/s all along, well past its warm-up
        # (500 ms), and as much as the stepper after the step
        assert not of(recs, "alert", steady), (of(recs, "alert", steady),
                                               str(p))


@tap.case("baseline: a full table of learned sources is counted, warned "
          "about and reported in the summary")
def _():
    out = H.path("basefull.json")
    # a long history: a source learned stays in the table after the
    # kernel's 16-entry LRU has forgotten it; new sources each round fill
    # the table of 16, and the next ones are not learned
    text = ("window = 100ms\nsources = 16\n[policy learned]\n"
            "detector = baseline\nhistory = 30s\n")
    with hdrlog(out, conf(text)) as h:
        for k in range(25):                   # 4 new sources a round
            if "not learned by the baseline" in h.stderr():
                break
            H.topo().send([udp("203.0.113.%d" % (100 + 4 * k + i),
                               ip_id=k + 1) for i in range(4)])
            h.summary_now()   # a round takes at least a summary's time
        else:
            assert False, "no baseline table full in the summary:\n" + \
                h.stderr()
        assert "baseline table is full" in h.stderr(), h.stderr()
        m = re.search(r"(\d+) sources not learned by the baseline",
                      h.stderr())
        assert m and int(m.group(1)) >= 1, h.stderr()


@tap.case("baseline: its settings are checked with FILE:LINE")
def _():
    cases = [
        ("[policy a]\ndetector = baseline\nthreshold = 5/s\n", 3,
         "factor and min"),
        ("[policy a]\ndetector = syn\nthreshold = 1/s\nfactor = 3\n", 1,
         "for detector = baseline"),
        ("[policy a]\ndetector = baseline\nmetric = frames\n", 3,
         "packets or bytes"),
        ("window = 2s\n[policy a]\ndetector = baseline\nhistory = 1s\n",
         2, "shorter than the window"),
        ("[policy a]\ndetector = baseline\nfactor = 1\n", 3, "2 to 1000"),
    ]
    for text, line, why in cases:
        p = conf(text)
        r = H.run_hdrlog(H.topo().ns_a, ["-i", H.dev(), "--respond", p])
        H.assert_refused(r, 2, mentions=("%s:%d:" % (p, line), why))


BASELINE_KEPT = """# a history the restart fits in, short enough to learn in seconds
window = 100ms
[policy learned]
detector = baseline
history = 4s
factor = 5
min = 100/s
"""


WINDOW_NS = 100000000     # BASELINE's and BASELINE_KEPT's window


def windows_of(src, per_window, windows):
    """The frames of a paced sender: per_window frames from src in each
    of windows windows, built before the pacing starts."""
    return [[udp(src, ip_id=(k * per_window + i) & 0xffff)
             for i in range(per_window)] for k in range(windows)]


class Pacing:
    """What pace() did. True when until() stopped it. missed: the windows
    the sender reached only after they had ended (not sent); overran:
    those whose sending ran into the next window; each with how late,
    in ms. Either means the machine stalled the sender, and hdrlog's
    baseline counts a window without frames as silent: the assertions
    about learned averages say so when they fail."""

    def __init__(self):
        self.stopped = False
        self.sent = 0
        self.missed = []
        self.overran = []

    def __bool__(self):
        return self.stopped

    def __str__(self):
        if not self.missed and not self.overran:
            return "the sender kept its pace (%d windows sent, none " \
                "late)" % self.sent
        return "the machine stalled the sender: %d windows sent; missed " \
            "(window, ms late): %s; overran into the next: %s; load " \
            "average %s" % (self.sent, self.missed, self.overran,
                            os.getloadavg())


def pace(windows, until=None):
    """Send windows[k] (frames) in the k-th kernel window from the next
    one on, through one socket. The kernel counts per CLOCK_MONOTONIC /
    window, the clock of time.monotonic_ns(), so a send a little late
    still lands in its own window. A window reached only after it has
    ended is skipped, never sent on top of the next one: that burst
    would be a rate step the test did not mean. until(k), if given, is
    asked after window k's frames; True stops. Returns a Pacing."""
    p = Pacing()
    w0 = time.monotonic_ns() // WINDOW_NS + 1
    sock = H.topo().sender()
    try:
        for k, frames in enumerate(windows):
            start = (w0 + k) * WINDOW_NS + WINDOW_NS // 20   # 5 ms in
            end = (w0 + k + 1) * WINDOW_NS
            now = time.monotonic_ns()
            if now >= end:
                p.missed.append((k, (now - start) // 1000000))
                continue
            if now < start:
                time.sleep((start - now) / 1e9)
            H.topo().send(frames, burst=64, pause=0.001, sock=sock)
            p.sent += 1
            now = time.monotonic_ns()
            if now >= end:
                p.overran.append((k, (now - end) // 1000000))
            if until and until(k):
                p.stopped = True
                break
    finally:
        sock.close()
    return p


def paced(src, per_window, windows, until=None):
    """per_window frames from src in each 100 ms window, for at most
    windows windows or until until() says so (checked each window): a
    Pacing, true if until() said so."""
    return pace(windows_of(src, per_window, windows),
                until and (lambda k: until()))


class NewRecords:
    """The records of a JSON-lines file but packet records, read a little
    at a time: each call parses only the lines written since the last.
    A paced sender asks every window; parsing the whole file took 0.4 s
    at 20000 records, and stalled the sender for windows on end."""

    def __init__(self, path):
        self.path, self.offset, self.rest, self.recs = path, 0, b"", []

    def __call__(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return self.recs
        self.offset += len(data)
        lines = (self.rest + data).split(b"\n")
        self.rest = lines.pop()         # a partial last line, or b""
        text = b"".join(x + b"\n" for x in lines
                        if b'"event_type":"packet"' not in x)
        self.recs += H.read_json_lines(text.decode(), from_text=True)
        return self.recs


@tap.case("baseline: --respond-state keeps the learned averages over a "
          "restart (FILE.baseline): a 10x surge right after it alerts "
          "against the average learned before, with no new learning; a "
          "foreign or newer file is warned about and hdrlog starts afresh")
def _():
    src = "203.0.113.42"
    c = conf(BASELINE_KEPT)
    state = H.path("learned.state")
    saved = state + ".baseline"
    # 4.5 s at 200/s: one history learned
    with hdrlog(H.path("kept1.json"), c, ["--respond-state", state]) as h:
        learned = paced(src, 20, 45)
        H.diag("learning: %s" % learned)
        assert h.stop() == 0, h.stderr()     # saved at exit
    with open(saved) as f:
        text = f.read()
    m = re.search(r"^%s/32 (\S+) (\d+)$" % re.escape(src), text, re.M)
    assert "hdrlog-baseline 1 written" in text and \
        "policy learned packets" in text and m, text
    assert 150 < float(m.group(1)) < 250 and int(m.group(2)) >= 4000, \
        "%s\n%s" % (text, learned)
    # restarted: judged at once; a fresh start would not judge src for
    # a history (40 windows), and the surge lasts at most 20
    out = H.path("kept2.json")
    # built before hdrlog starts: the restored average decays in every
    # window src is silent
    surge = windows_of(src, 200, 20)
    with hdrlog(out, c, ["--respond-state", state]) as h:
        assert "1 learned source restored" in h.stderr(), h.stderr()
        alerts = NewRecords(out)
        alerted = pace(surge, until=lambda k: of(alerts(), "alert", src))
        H.diag("surge: %s" % alerted)
        recs = H.read_json_lines(out)
        assert alerted, "no alert after the restart; records: %s\n" \
            "stderr: %s\n%s" % ([r for r in recs if r.get("event_type") !=
                                 "packet"], h.stderr(), alerted)
        a = of(recs, "alert", src)[0]
        assert a["alert"]["signature"] == "learned", a
        # factor x the saved 200/s, not the 100/s floor
        assert 800 <= a["respond"]["threshold"] <= 1300, (a, str(alerted))
        h.stop()
    for bad, why in (("garbage\n", "not an hdrlog baseline file"),
                     ("hdrlog-baseline 2 written 1.000\n",
                      "version 2; this hdrlog reads version 1")):
        with open(saved, "w") as f:
            f.write(bad)
        with hdrlog(H.path("kept3.json"), c,
                    ["--respond-state", state]) as h:
            assert "%s:1: %s" % (saved, why) in h.stderr() and \
                "start again empty" in h.stderr(), h.stderr()
            assert h.stop() == 0, h.stderr()
        with open(saved) as f:
            assert "hdrlog-baseline 1 written" in f.read()


@tap.case("baseline: hdrlog stopped for 3 s (SIGSTOP) while a source "
          "sends steadily: the windows it did not read are not learned as "
          "silent, so the source is not alerted at its usual rate after")
def _():
    src = "203.0.113.43"
    out = H.path("stall.json")
    # 200 a window: 15 windows learning (3 histories), 30 with hdrlog
    # stopped, 10 after. Counting the 30 as silent took the average to
    # ~36 a window, so 200 was above factor 5 x it and alerted.
    steady = windows_of(src, 200, 55)
    with hdrlog(out, conf(BASELINE)) as h:
        def stall(k):
            if k == 14:
                h.proc.send_signal(signal.SIGSTOP)
            elif k == 44:
                h.proc.send_signal(signal.SIGCONT)
            return False
        try:
            sent = pace(steady, until=stall)
        finally:
            h.proc.send_signal(signal.SIGCONT)
        H.diag("steady: %s" % sent)
        h.summary_now(10)       # hdrlog has judged the windows after
        recs = H.read_json_lines(out)
        assert not of(recs, "alert", src), (of(recs, "alert", src), str(sent))
        assert h.stop() == 0, h.stderr()


@tap.case("more hot sources at once than hdrlog takes (its notice ring, "
          "then its watch table, full while it was stopped): each one "
          "is alerted or counted as not judged in the summary, none "
          "silently")
def _():
    n = 2000      # past the kernel's ring (1638 notices) and WATCH_MAX 1024
    out = H.path("hotfull.json")
    # one frame crosses (a port is a sketch bit); a long window, so the
    # sources are still in theirs when hdrlog reads them
    text = ("window = 60s\n[policy any]\ndetector = port-scan\n"
            "threshold = 1\n")
    frames = [tcp_syn6("2001:db8:0:%x::1" % i, 10000) for i in range(n)]
    with hdrlog(out, conf(text)) as h:
        h.proc.send_signal(signal.SIGSTOP)
        try:
            deadline = time.monotonic() + 10
            while True:
                with open("/proc/%d/stat" % h.proc.pid) as f:
                    if f.read().rsplit(")", 1)[1].split()[0] == "T":
                        break
                assert time.monotonic() < deadline, "hdrlog did not stop"
                time.sleep(0.01)
            H.topo().send(frames)     # /64s: the kernel's key, one each
        finally:
            h.proc.send_signal(signal.SIGCONT)
        deadline = time.monotonic() + 10
        while True:
            h.summary_now()
            err = h.stderr()
            alerts = (policies(err).get("any") or (0,))[0]
            m = re.findall(r"(\d+) hot sources not judged", err)
            lost = int(m[-1]) if m else 0
            if alerts + lost >= n:
                break
            assert time.monotonic() < deadline, "%d alerted, %d counted " \
                "as not judged, of %d:\n%s" % (alerts, lost, n, err)
            time.sleep(0.05)
        H.diag("%d alerted, %d not judged" % (alerts, lost))
        assert alerts + lost == n and 0 < alerts <= 1024, (alerts, lost, err)
        assert h.stop() == 0, h.stderr()


@tap.case("baseline: a FILE.baseline holding an average decayed to a "
          "denormal (1e-320, as hdrlog once wrote) is restored, not thrown "
          "away with the other sources' averages")
def _():
    c = conf(BASELINE_KEPT)
    state = H.path("tiny.state")
    with open(state + ".baseline", "w") as f:
        f.write("hdrlog-baseline 1 written %.3f\npolicy learned packets\n"
                "203.0.113.44/32 1e-320 4000\n203.0.113.45/32 200 4000\n"
                % time.time())
    with hdrlog(H.path("tiny.json"), c, ["--respond-state", state]) as h:
        assert h.stop() == 0, h.stderr()
    assert "2 learned sources restored" in h.stderr() and \
        "ignored" not in h.stderr(), h.stderr()


@tap.case("--respond-state and --metrics files: a symbolic link planted at "
          "FILE.tmp or METRICS.tmp is removed, not written through (its "
          "target keeps its content), and said; a FIFO at "
          "FILE.baseline.tmp holds nothing up; the files are written; a "
          "directory at FILE.tmp is said to be one")
def _():
    c = conf(BASELINE_KEPT)
    state, prom = H.path("planted.state"), H.path("planted.prom")
    victims = {}
    for tmp in (state + ".tmp", prom + ".tmp"):
        victim = tmp + ".victim"
        with open(victim, "w") as f:
            f.write("precious\n")
        os.symlink(victim, tmp)
        victims[tmp] = victim
    # before, hdrlog's exit waited in opening it for a reader
    os.mkfifo(state + ".baseline.tmp")
    with hdrlog(H.path("planted.json"), c,
                ["--respond-state", state, "--metrics", prom]) as h:
        assert h.stop() == 0, h.stderr()
    for tmp, victim in victims.items():
        with open(victim) as f:
            assert f.read() == "precious\n", victim
        assert "%s was a symbolic link, which hdrlog never leaves there: " \
            "removed, not written through" % tmp in h.stderr(), h.stderr()
        assert not os.path.lexists(tmp), tmp
    assert "%s.baseline.tmp was a FIFO" % state in h.stderr(), h.stderr()
    with open(state) as f:
        assert f.read().startswith("# hdrlog --respond-state"), state
    with open(state + ".baseline") as f:
        assert "hdrlog-baseline 1 written" in f.read()
    with open(prom) as f:
        assert "hdrlog_frames_seen_total" in f.read(), prom
    # a directory there is left alone, and the warning says what it is
    os.mkdir(state + ".tmp")
    with hdrlog(H.path("planted2.json"), c, ["--respond-state", state]) as h:
        assert h.stop() == 0, h.stderr()
    assert "--respond-state %s: cannot write it: Is a directory" % state \
        in h.stderr(), h.stderr()
    os.rmdir(state + ".tmp")


if __name__ == "__main__":
    H.main(lambda: H.run_tap(tap))
