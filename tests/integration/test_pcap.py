#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""
The pcap and pcapng outputs, read back with tshark: one frame per record
(as many as the summary and a JSON output beside them say), the bytes
sent cut at -s with the wire length kept, timestamps equal to JSON's,
and in pcapng the interface names, list comments, XDP verdicts and the
inbound flag; both to standard output through a pipe into tshark; file
rotation (-C, -G, -W), SIGHUP keeping what the files hold (appending,
a new pcapng section, a new file after logrotate moved one away, a
refusal for a file of another kind) and a full disk.

Every frame sent has its own IPv4 id, which is how frames, records and
packets read back are matched.
"""
import glob
import io
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import time
from decimal import Decimal

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hdrlogtest as H  # noqa: E402

tap = H.Tap()
MAC_KIND = 0x7c              # source MACs 02:7c:... (H.new_mac)
SENT = {}                   # ip id -> frame
BY_MAC = {}                 # source MAC text -> frame
_ip_id = [0]                # the last ip id sent

FIELDS = ["frame.time_epoch", "frame.len", "frame.cap_len",
          "frame.interface_id", "frame.interface_name", "frame.comment",
          "frame.verdict.ebpf_xdp", "frame.packet_flags_direction"]
TSHARK_BAD = re.compile(r"cut short|damaged|corrupt|isn't a capture file|"
                        r"unknown file format|Less data was read",
                        re.IGNORECASE)
NAME_RE = r"-\d{8}T\d{6}Z-\d{6}"


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

def frames(n, size=100, **kw):
    """n UDP frames of `size` bytes (at least 42), each with a fresh ip id,
    remembered in SENT."""
    out = []
    for _ in range(n):
        _ip_id[0] = _ip_id[0] % 65535 + 1
        f = H.udp_frame(H.new_mac(MAC_KIND), ip_id=_ip_id[0],
                        payload=b"\xa5" * (size - 42), **kw)
        SENT[_ip_id[0]] = f
        BY_MAC[H.mac_text(f[6:12])] = f
        out.append(f)
    return out


def ip_id(frame):
    return int.from_bytes(frame[18:20], "big")


def check_tshark(r, what):
    err = r.stderr.decode(errors="replace") if isinstance(r.stderr, bytes) \
        else r.stderr
    assert r.returncode == 0 and not TSHARK_BAD.search(err), \
        "tshark on %s: exit %d, %s" % (what, r.returncode, err.strip())


_tshark_memo = {}


def tshark(p=None, data=None):
    """Packets of a capture file (or of data, through tshark -r -) as
    [{field: text, "raw": bytes}]."""
    if p:
        st = os.stat(p)
        key = (p, st.st_ino, st.st_size, st.st_mtime_ns)
        if key not in _tshark_memo:
            _tshark_memo[key] = _tshark(p, None)
        return _tshark_memo[key]
    return _tshark(None, data)


def _tshark(p, data):
    base = ["tshark", "-n", "-r", p or "-"]
    r = subprocess.run(base + ["-T", "fields", "-E", "separator=/t",
                               "-E", "occurrence=f"] +
                       [x for f in FIELDS for x in ("-e", f)],
                       input=data, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    check_tshark(r, p or "stdin")
    rows = [dict(zip(FIELDS, line.split("\t")))
            for line in r.stdout.decode().splitlines()]
    # The bytes as tshark shows them: one "0000  aa bb ..." dump a frame.
    r = subprocess.run(base + ["-x"], input=data, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    check_tshark(r, p or "stdin")
    raws = parse_hexdumps(r.stdout.decode())
    assert len(raws) == len(rows), (len(raws), len(rows))
    for row, raw in zip(rows, raws):
        row["raw"] = raw
    return rows


def parse_hexdumps(text):
    """Frames of `tshark -x` output: a summary line, then 'OFFS  hex..'
    lines, a blank line between frames."""
    out, cur = [], None
    for line in text.splitlines():
        m = re.match(r"^([0-9a-f]{4})  ((?:[0-9a-f]{2} ){1,16})", line)
        if m:
            if cur is None:
                cur = bytearray()
            assert int(m.group(1), 16) == len(cur), line
            cur += bytes.fromhex(m.group(2).replace(" ", ""))
        elif cur is not None and not line.strip():
            out.append(bytes(cur))
            cur = None
    if cur is not None:
        out.append(bytes(cur))
    return out


def ts_ns(row):
    return int(Decimal(row["frame.time_epoch"]) * 1000000000)


def run_capture(args, send, want, timeout=15, devs=(0,)):
    """hdrlog with args and a JSON output beside; send() sends; wait for
    `want` JSON records; stop. (Hdrlog, JSON records). Through XDP:
    the cases read XDP verdicts (auto takes tc on a veth)."""
    js = H.path("run%d.json" % len(SENT))
    ifs = [x for i in devs for x in ("-i", H.dev(i))]
    h = H.Hdrlog(H.topo().ns_a, ifs + ["--attach-ingress", "xdp",
                                       "-o", "json:" + js] + args)
    h.start()
    send(h)
    recs = H.wait_records(js, lambda r: len(r) >= want, timeout,
                          proc=h.proc)
    h.stop()                    # drains the ring, flushes every output
    recs = H.read_json_lines(js)
    assert len(recs) == want, "%d JSON records, want %d; stderr: %s" % (
        len(recs), want, h.stderr()[-1500:])
    return h, recs


def json_of(h):
    """The JSON output run_capture gave h."""
    return [a.split(":", 1)[1] for a in h.cmd if a.startswith("json:")][0]


def logrotate_run(pc, png, rotate):
    """run_capture with a pcap output at pc and a pcapng one at png: 10
    frames; once their records are in, rotate(h) (what logrotate does),
    then SIGHUP and 6 frames more. (Hdrlog, the 16 JSON records)."""
    first, second = frames(10, 120), frames(6, 130)

    def send(h):
        H.topo().send(first)
        H.wait_records(json_of(h), lambda r: len(r) >= 10, 10)
        rotate(h)
        h.hup()
        H.topo().send(second)

    return run_capture(["-o", "pcap:" + pc, "-o", "pcapng:" + png], send, 16)


def assert_same_frames(rows, recs, snaplen, what):
    """Packets read back are the records' frames, in order, cut at
    snaplen, wire length kept; timestamps equal JSON's to the µs."""
    ids = [ip_id(r["raw"]) for r in rows]
    want_ids = [ip_id(BY_MAC[x["src_mac"]]) for x in recs]
    assert ids == want_ids, "%s: ip ids %s, want %s" % (what, ids[:20],
                                                       want_ids[:20])
    for row, rec in zip(rows, recs):
        f = SENT[ip_id(row["raw"])]
        assert row["raw"] == f[:snaplen], "%s: bytes of id %d differ" % (
            what, ip_id(f))
        assert int(row["frame.len"]) == len(f), (what, row, len(f))
        assert int(row["frame.cap_len"]) == min(len(f), snaplen), (what, row)
        assert ts_ns(row) // 1000 == H.timestamp_ns(rec["timestamp"]) // 1000, \
            "%s: time %s, JSON %s" % (what, row["frame.time_epoch"],
                                      rec["timestamp"])


def files(pattern):
    return sorted(glob.glob(pattern))


# --------------------------------------------------------------------------
# one capture on two interfaces with lists, checked from several sides
# --------------------------------------------------------------------------

MAIN = {}
SNAP = 128


def main_run():
    """pcap, pcapng and JSON at once, -s 128, two interfaces, a tag list
    for sources, one for A's address on the second pair, a block list."""
    if MAIN:
        return MAIN
    tag = H.write_list("tag.txt", ["203.0.113.0/24"])
    local = H.write_list("local.txt", ["198.51.100.65/32"])
    block = H.write_list("block.txt", ["192.0.2.0/24"])
    pc, png = H.path("main.pcap"), H.path("main.pcapng")
    p1 = H.topo().pairs[1]
    sizes = [60, 64, 100, 127, 128, 129, 200, 400, 1000, 1514]
    plain = [f for s in sizes for f in frames(1, s)]
    tagged = frames(5, 150, src_ip="203.0.113.7")
    blocked = frames(4, 90, src_ip="192.0.2.9")
    to_local = frames(6, 300, src_ip="198.51.100.66", dst_ip="198.51.100.65")
    both = frames(3, 70, src_ip="203.0.113.8", dst_ip="198.51.100.65")

    def send(h):
        first = plain + tagged + blocked
        H.topo().send(first)
        H.wait_records(json_of(h), lambda r: len(r) >= len(first), 10,
                       h.proc)
        H.topo().send(to_local + both, dev=p1.b)

    n = len(plain + tagged + blocked + to_local + both)
    h, recs = run_capture(["-s", str(SNAP), "-o", "pcap:" + pc,
                           "-o", "pcapng:" + png,
                           "--taglist", "tagged=" + tag,
                           "--taglist", "local=" + local,
                           "--blocklist", "blocked=" + block],
                          send, n, devs=(0, 1))
    MAIN.update(h=h, recs=recs, pcap=tshark(pc), pcapng=tshark(png),
                pc=pc, png=png, n=n)
    return MAIN


@tap.case("pcap and pcapng: one packet per record, as the summary counts")
def _():
    m = main_run()
    assert len(m["pcap"]) == len(m["pcapng"]) == m["n"] == \
        m["h"].records_to_outputs(), (len(m["pcap"]), len(m["pcapng"]),
                                     m["n"], m["h"].stderr())
    for spec in ("pcap:" + m["pc"], "pcapng:" + m["png"]):
        assert m["h"].output_counts(spec) == (m["n"], 0)


@tap.case("frame bytes are the bytes sent cut at -s, wire length and "
          "timestamps (µs) as in JSON")
def _():
    m = main_run()
    assert_same_frames(m["pcap"], m["recs"], SNAP, "pcap")
    assert_same_frames(m["pcapng"], m["recs"], SNAP, "pcapng")
    assert any(int(r["frame.len"]) > SNAP for r in m["pcap"])


@tap.case("pcapng keeps nanoseconds; pcap has the same microseconds")
def _():
    m = main_run()
    ng = [ts_ns(r) for r in m["pcapng"]]
    pc = [ts_ns(r) for r in m["pcap"]]
    assert [x // 1000 for x in ng] == [x // 1000 for x in pc]
    assert all(x % 1000 == 0 for x in pc)
    assert any(x % 1000 for x in ng), "no sub-microsecond digits: %s" % ng[:5]
    r = subprocess.run(["capinfos", "-M", m["png"], m["pc"]],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=30)
    assert "nanoseconds" in r.stdout and "microseconds" in r.stdout, r.stdout


@tap.case("pcapng names the interface of each frame (two interfaces)")
def _():
    m = main_run()
    names = [r["frame.interface_name"] for r in m["pcapng"]]
    assert names == [x["in_iface"] for x in m["recs"]], names
    assert set(names) == {H.dev(0), H.dev(1)}, names
    ids = [int(r["frame.interface_id"]) for r in m["pcapng"]]
    assert ids == [0 if x == H.dev(0) else 1 for x in names], ids


@tap.case("pcapng comments name the lists hit, none without hits")
def _():
    m = main_run()
    for row, rec in zip(m["pcapng"], m["recs"]):
        parts = []
        if rec.get("src_lists"):
            parts.append("src=" + ",".join(rec["src_lists"]))
        if rec.get("dest_lists"):
            parts.append("dest=" + ",".join(rec["dest_lists"]))
        want = "lists: " + " ".join(parts) if parts else ""
        assert row["frame.comment"] == want, (row["frame.comment"], rec)
    comments = {r["frame.comment"] for r in m["pcapng"]}
    assert comments == {"", "lists: src=tagged", "lists: src=blocked",
                        "lists: dest=local",
                        "lists: src=tagged dest=local"}, comments


@tap.case("pcapng verdicts: XDP_DROP (1) for blocked frames, XDP_PASS (2)")
def _():
    m = main_run()
    got = [int(r["frame.verdict.ebpf_xdp"]) for r in m["pcapng"]]
    want = [1 if x["action"] == "drop" else 2 for x in m["recs"]]
    assert got == want, (got, want)
    assert got.count(1) == 4, got


@tap.case("pcapng epb_flags: every frame inbound")
def _():
    m = main_run()
    dirs = {int(r["frame.packet_flags_direction"], 16) for r in m["pcapng"]}
    assert dirs == {1}, dirs


@tap.case("file headers: Ethernet, snap length, pcapng names hdrlog and "
          "the OS")
def _():
    m = main_run()
    r = H.run(["capinfos", "-E", "-l", "-k", "-F", m["png"]])
    assert re.search(r"Capture application:\s+hdrlog \d", r.stdout), r.stdout
    assert re.search(r"Capture oper-sys:\s+%s %s\n" % (
        re.escape(os.uname().sysname), re.escape(os.uname().release)),
        r.stdout), r.stdout
    r = H.run(["capinfos", "-E", "-l", m["pc"]])
    assert "Ethernet" in r.stdout and "%d bytes" % SNAP in r.stdout, r.stdout
    r = H.run(["capinfos", m["png"]])
    assert "Number of interfaces in file: 2" in r.stdout, r.stdout
    assert "Capture length = %d" % SNAP in r.stdout, r.stdout


def set_mtu(mtu):
    p = H.topo().pairs[0]
    for ns, d in ((H.topo().ns_a, p.a), (H.topo().ns_b, p.b)):
        H.run([H.IP, "-n", ns, "link", "set", d, "mtu", str(mtu)])


JUMBO_MTU = 65000


def whole_frames_case(snap, extra):
    """-s snap (0 or 65535): frames up to a jumbo MTU, longer than a page,
    are captured whole; the pcap's snap length is 65535."""
    def run_case():
        pc = H.path("whole-%d.pcap" % snap)
        sizes = [60, 100, 1514, 4000, JUMBO_MTU + 14]
        sent = [f for n in sizes for f in frames(1, n)]
        set_mtu(JUMBO_MTU)
        try:
            h, recs = run_capture(["-s", str(snap), "-o", "pcap:" + pc] +
                                  extra(), lambda h: H.topo().send(sent),
                                  len(sent))
        finally:
            set_mtu(1500)
        rows = tshark(pc)
        assert len(rows) == len(sent), (len(rows), len(sent))
        assert h.output_counts("pcap:" + pc) == (len(sent), 0), h.stderr()
        assert_same_frames(rows, recs, 65535, "-s %d" % snap)
        assert [r["pkt_len"] for r in recs] == sizes, [
            r["pkt_len"] for r in recs]
        r = H.run(["capinfos", "-l", pc])
        assert "65535 bytes" in r.stdout, r.stdout
    return run_case


tap.add("-s 0: frames up to a 65000-byte MTU (past a page) captured whole",
        whole_frames_case(0, lambda: []))
tap.add("-s 65535 with a list: frames up to a 65000-byte MTU captured whole",
        whole_frames_case(65535, lambda: [
            "--taglist", H.write_list("whole.txt", ["198.51.100.0/24"])]))


# --------------------------------------------------------------------------
# standard output
# --------------------------------------------------------------------------

def to_stdout(args, n=12):
    """hdrlog args writing to stdout, piped into tshark -r -."""
    js = H.path("stdout%d.json" % len(SENT))
    cmd = H.ns_exec(H.topo().ns_a, [H.HDRLOG, "-i", H.dev(), "-o",
                                    "json:" + js] + args)
    hd = H.track(subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE))
    ts = H.track(subprocess.Popen(
        ["tshark", "-n", "-r", "-", "-T", "fields", "-e", "frame.len",
         "-e", "frame.cap_len", "-e", "ip.id"], stdin=hd.stdout,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    hd.stdout.close()
    err = H.LineReader(io.TextIOWrapper(hd.stderr))
    assert err.wait_for("listening on", 15), err.text()
    sent = frames(n, 300)
    H.topo().send(sent)
    H.wait_records(js, lambda r: len(r) >= n, 10)
    hd.send_signal(signal.SIGINT)   # it drains and flushes before exit
    assert hd.wait(10) == 0, err.text()
    out, terr = ts.communicate(timeout=30)
    assert ts.returncode == 0 and not TSHARK_BAD.search(terr), terr
    rows = [x.split("\t") for x in out.splitlines()]
    assert [int(x[2], 16) for x in rows] == [ip_id(f) for f in sent], rows
    assert all(int(x[0]) == 300 and int(x[1]) == 256 for x in rows), rows
    assert len(H.read_json_lines(js)) == n


@tap.case("-w - writes pcap to standard output: | tshark -r -")
def _():
    to_stdout(["-w", "-"])


@tap.case("pcapng:- writes pcapng to standard output: | tshark -r -")
def _():
    to_stdout(["-o", "pcapng:-"])


# --------------------------------------------------------------------------
# rotation
# --------------------------------------------------------------------------

def check_series(names, recs, snaplen, limit=None):
    """Each file valid, names sorted = time order, together the records
    in order; with limit no file is bigger."""
    all_rows = []
    last = 0
    for n in names:
        rows = tshark(n)
        assert rows, "%s holds no packet" % n
        first = ts_ns(rows[0])
        assert first >= last, "%s starts before the file before ends" % n
        last = ts_ns(rows[-1])
        if limit:
            assert os.path.getsize(n) <= limit, (n, os.path.getsize(n))
        all_rows += rows
    assert_same_frames(all_rows, recs, snaplen, "series " + names[0])
    return all_rows


@tap.case("-C: new files before 1 MB, each a capture, together all records")
def _():
    d = H.path("size")
    os.mkdir(d)
    n = 2500
    h, recs = run_capture(["-s", "1500", "-C", "1",
                           "-o", "pcap:%s/c.pcap" % d,
                           "-o", "pcapng:%s/c.pcapng" % d],
                          lambda h: H.topo().send(frames(n, 1000)), n,
                          timeout=30)
    for ext in ("pcap", "pcapng"):
        names = files("%s/c-*.%s" % (d, ext))
        assert len(names) >= 3, names
        assert all(re.search(NAME_RE + r"\.%s$" % ext, x) for x in names), \
            names
        check_series(names, recs, 1500, limit=1000000)
        assert h.output_counts("%s:%s/c.%s" % (ext, d, ext)) == (n, 0)
    assert len(os.listdir(d)) == len(files(d + "/c-*")), os.listdir(d)


@tap.case("-G 1: a new file every second while frames come")
def _():
    d = H.path("time")
    os.mkdir(d)
    batches = 13

    def send(h):
        for _ in range(batches):
            H.topo().send(frames(8, 80))
            time.sleep(0.25)    # pacing: traffic across -G 1 intervals

    h, recs = run_capture(["-G", "1", "-o", "pcap:%s/t.pcap" % d,
                           "-o", "pcapng:%s/t.pcapng" % d], send, 8 * batches)
    for ext in ("pcap", "pcapng"):
        names = files("%s/t-*.%s" % (d, ext))
        assert 3 <= len(names) <= 6, names
        for n in names:
            rows = tshark(n)
            span = ts_ns(rows[-1]) - ts_ns(rows[0])
            assert span < 1.3e9, (n, span)
        check_series(names, recs, 256)


@tap.case("-W 2 keeps the 2 newest files; SIGHUP starts a new one")
def _():
    d = H.path("count")
    os.mkdir(d)
    n = 3000
    more = frames(5, 200)
    box = {}

    def send(h):
        H.topo().send(frames(n, 1000))
        H.wait_records(json_of(h), lambda r: len(r) >= n, 20)
        h.wait_written(["pcap:%s/w.pcap" % d, "pcapng:%s/w.pcapng" % d], n)
        box["before"] = {e: files("%s/w-*.%s" % (d, e))
                         for e in ("pcap", "pcapng")}
        h.hup()
        box["after_hup"] = {e: files("%s/w-*.%s" % (d, e))
                            for e in ("pcap", "pcapng")}
        H.topo().send(more)

    h, recs = run_capture(["-s", "1500", "-C", "1", "-W", "2",
                           "-o", "pcap:%s/w.pcap" % d,
                           "-o", "pcapng:%s/w.pcapng" % d], send, n + 5,
                          timeout=30)
    for ext in ("pcap", "pcapng"):
        before, after = box["before"][ext], box["after_hup"][ext]
        names = files("%s/w-*.%s" % (d, ext))
        assert len(before) == 2 and len(after) == 2 and len(names) == 2, \
            (before, after, names)
        assert after[0] == before[1] and after[1] not in before, \
            (before, after)
        assert names == after
        old, new = tshark(names[0]), tshark(names[1])
        assert [ip_id(r["raw"]) for r in new] == [ip_id(f) for f in more]
        # the older file ends with the last records before SIGHUP
        tail = recs[n - len(old):n]
        assert_same_frames(old, tail, 1500, names[0])
    assert len(os.listdir(d)) == 4, os.listdir(d)


@tap.case("SIGHUP without -C/-G/-W: a new file at the same path")
def _():
    pc, png = H.path("hup.pcap"), H.path("hup.pcapng")

    def rotate(h):
        h.wait_written(["pcap:" + pc, "pcapng:" + png], 10)
        for p in (pc, png):
            os.rename(p, p + ".1")

    h, recs = logrotate_run(pc, png, rotate)
    for p in (pc, png):
        assert_same_frames(tshark(p + ".1"), recs[:10], 256, p + ".1")
        assert_same_frames(tshark(p), recs[10:], 256, p)


def pcapng_blocks(p):
    """Block types of a pcapng file, walked by their lengths."""
    data = open(p, "rb").read()
    out, off = [], 0
    while off < len(data):
        btype, blen = struct.unpack_from("=II", data, off)
        assert blen >= 12 and off + blen <= len(data), (p, off, blen)
        out.append(btype)
        off += blen
    return out


SHB = 0x0a0d0d0a


@tap.case("SIGHUP keeps the file: 100 frames, SIGHUP, 10 more: 110 read back")
def _():
    pc, png = H.path("keep.pcap"), H.path("keep.pcapng")
    first, second = frames(100, 120), frames(10, 130)

    def send(h):
        H.topo().send(first)
        H.wait_records(json_of(h), lambda r: len(r) >= 100, 10)
        h.hup()
        H.topo().send(second)

    h, recs = run_capture(["-o", "pcap:" + pc, "-o", "pcapng:" + png],
                          send, 110)
    for p, ext in ((pc, "pcap"), (png, "pcapng")):
        assert_same_frames(tshark(p), recs, 256, p)
        assert h.output_counts("%s:%s" % (ext, p)) == (110, 0)
    assert pcapng_blocks(png).count(SHB) == 1


@tap.case("50 SIGHUPs under traffic lose nothing")
def _():
    pc, png = H.path("many.pcap"), H.path("many.pcapng")
    batches = [frames(20, 100) for _ in range(50)]

    def send(h):
        for b in batches:
            H.topo().send(b)
            h.hup()

    h, recs = run_capture(["-o", "pcap:" + pc, "-o", "pcapng:" + png],
                          send, 1000, timeout=30)
    for p, ext in ((pc, "pcap"), (png, "pcapng")):
        assert_same_frames(tshark(p), recs, 256, p)
        assert h.output_counts("%s:%s" % (ext, p)) == (1000, 0)


@tap.case("SIGHUP with a capture file put at the path: pcap goes on after "
          "its header, pcapng adds a section; tshark reads all")
def _():
    pc, png = H.path("put.pcap"), H.path("put.pcapng")

    def rotate(h):
        h.hup()                  # the first 10 are on disk now
        for p in (pc, png):     # logrotate's copy, put back
            os.rename(p, p + ".1")
            shutil.copy(p + ".1", p)

    h, recs = logrotate_run(pc, png, rotate)
    for p in (pc, png):
        assert_same_frames(tshark(p + ".1"), recs[:10], 256, p + ".1")
        assert_same_frames(tshark(p), recs, 256, p)
    assert pcapng_blocks(png).count(SHB) == 2
    r = H.run(["capinfos", png])
    assert re.search(r"Number of packets:\s+16\b", r.stdout), r.stdout


@tap.case("SIGHUP with another kind of file at the path: refused, written "
          "on to the old file, nothing lost or overwritten")
def _():
    pc, png = H.path("other.pcap"), H.path("other.pcapng")
    # a pcap header like hdrlog's but for another snap length; not pcapng
    alien = {pc: struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 1234, 1),
             png: b"not a capture file\n"}

    def rotate(h):
        for p in (pc, png):
            os.rename(p, p + ".1")
            with open(p, "wb") as f:
                f.write(alien[p])

    h, recs = logrotate_run(pc, png, rotate)
    for p, ext in ((pc, "pcap"), (png, "pcapng")):
        assert "%s now holds something this output cannot append to" % p \
            in h.stderr(), h.stderr()
        assert open(p, "rb").read() == alien[p]
        assert_same_frames(tshark(p + ".1"), recs, 256, p + ".1")
        assert h.output_counts("%s:%s" % (ext, p)) == (16, 0)


@tap.case("SIGHUP after copytruncate: the file starts again, readable")
def _():
    pc, png = H.path("trunc.pcap"), H.path("trunc.pcapng")

    def rotate(h):
        h.hup()
        for p in (pc, png):
            shutil.copy(p, p + ".1")
            os.truncate(p, 0)

    h, recs = logrotate_run(pc, png, rotate)
    for p in (pc, png):
        assert_same_frames(tshark(p + ".1"), recs[:10], 256, p + ".1")
        assert_same_frames(tshark(p), recs[10:], 256, p)


# --------------------------------------------------------------------------
# a full disk
# --------------------------------------------------------------------------

@tap.case("a full disk: reported once, counted as lost, JSON goes on, "
          "files stay readable, writing resumes")
def _():
    mnt = H.small_fs("tiny")
    pc, png = os.path.join(mnt, "out.pcap"), os.path.join(mnt, "out.pcapng")
    safe = H.path("safe.json")
    h = H.Hdrlog(H.topo().ns_a, ["-i", H.dev(), "-s", "1500",
                                 "-o", "pcap:" + pc,
                                 "-o", "pcapng:" + png, "-o", "json:" + safe])
    h.start()
    H.wait_until(lambda: all(os.path.exists(p) and os.path.getsize(p) > 0
                             for p in (pc, png)),
                 lambda: "file headers (%s)" % os.listdir(mnt), 5,
                 pause=0.02)
    filler = os.path.join(mnt, "filler")
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while os.write(fd, b"x" * 4096):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)
    for _ in range(4):
        H.topo().send(frames(30, 1000))
        time.sleep(0.3)     # pacing: four separate batches, one report
    assert H.wait_records(safe, lambda r: len(r) >= 120), "JSON short"
    h.summary_now()     # the capture files have had their turn too
    err = h.stderr()
    for p in (pc, png):
        assert err.count("writing %s failed: No space left" % p) == 1, err
    os.unlink(filler)
    last = frames(20, 1000)
    H.topo().send(last)
    H.wait_records(safe, lambda r: len(r) >= 140)
    deadline = time.monotonic() + 4
    while time.monotonic() < deadline and not all(
            "writing %s works again" % p in h.stderr() for p in (pc, png)):
        time.sleep(0.1)
    h.stop()
    err = h.stderr()
    for p, ext in ((pc, "pcap"), (png, "pcapng")):
        assert "writing %s works again" % p in err, err
        assert err.count("writing %s failed" % p) == 1, err
        rows = tshark(p)
        written, lost = h.output_counts("%s:%s" % (ext, p))
        assert written == len(rows) and lost > 0 and written + lost == 140, \
            (ext, written, lost, len(rows))
        H.diag("%s: %d written, %d lost" % (ext, written, lost))
        assert [ip_id(r["raw"]) for r in rows[-20:]] == \
            [ip_id(f) for f in last], ext
    assert h.records_to_outputs() == 140
    assert h.output_counts("json:" + safe) == (140, 0)
    assert len(H.read_json_lines(safe)) == 140


def body():
    H.run_tap(tap, pairs=2, need=("tshark", "capinfos"))


if __name__ == "__main__":
    H.main(body)
