#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""
What every output shares: the trailing filter expression, several outputs
at once, SIGHUP reopening files for logrotate, and a write error on a full
disk that is reported once, counted, and healed.
"""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hdrlogtest as H  # noqa: E402

tap = H.Tap()
T = {}
_seq = [0]


def mac():
    _seq[0] += 1
    i = _seq[0]
    return "02:dd:%02x:%02x:%02x:%02x" % (os.getpid() & 0xFF, (i >> 16) & 0xFF,
                                          (i >> 8) & 0xFF, i & 0xFF)


def topo():
    return T["topo"]


def dev():
    return topo().pairs[0].a


def path(name):
    return os.path.join(H.tmpdir(), name)


def udp(dport, n=1, **kw):
    return [H.udp_frame(mac(), dport=dport, ip_id=i + 1, **kw)
            for i in range(n)]


def run_and_send(args, frames, expect_records, timeout=10):
    """hdrlog with args in A; send frames from B; stop; the Hdrlog."""
    h = H.Hdrlog(topo().ns_a, ["-i", dev()] + args)
    h.start()
    topo().send(frames)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s = parse_now(h)
        if s >= expect_records:
            break
        time.sleep(0.05)
    h.stop()
    return h


def parse_now(h):
    """Records seen so far, from SIGUSR1's summary."""
    h.proc.send_signal(signal.SIGUSR1)
    time.sleep(0.1)
    seen = [int(x) for x in
            __import__("re").findall(r"(\d+) frames seen", h.stderr())]
    return seen[-1] if seen else 0


@tap.case("a filter expression keeps only matching records, the rest counted")
def _():
    out = path("filter.json")
    frames = udp(53, 5) + udp(80, 7) + udp(53, 3, src_ip="198.51.100.3")
    h = run_and_send(["-o", "json:" + out, "udp", "dst", "port", "53",
                      "and", "src", "host", "198.51.100.2"], frames, 15)
    recs = H.read_json_lines(out)
    s = h.summary()
    assert len(recs) == 5, "%d records, want 5: %s" % (len(recs), recs[:2])
    assert all(r["dest_port"] == 53 and r["src_ip"] == "198.51.100.2"
               for r in recs), recs
    assert "records not written (filter expression)" in h.stderr(), \
        h.stderr()
    import re
    # the last summary: the one printed at exit (SIGUSR1 printed others)
    m = re.findall(r"(\d+) records not written \(filter expression\)",
                   h.stderr())
    assert m and int(m[-1]) == s["seen"] - 5, (m, s)


@tap.case("a bad filter expression is a usage error naming it")
def _():
    r = H.run_hdrlog(topo().ns_a, ["-i", dev(), "port", "notaport"])
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and "port notaport" in lines[0], r.stderr
    assert "listening" not in r.stderr


@tap.case("several outputs at once get every record")
def _():
    a, b = path("multi-a.json"), path("multi-b.json")
    frames = udp(1000, 20)
    h = run_and_send(["-o", "json:" + a, "-o", "json:" + b,
                      "--fields", "src_mac,dest_port,ip_id"], frames, 20)
    ra, rb = H.read_json_lines(a), H.read_json_lines(b)
    assert len(ra) == 20 and ra == rb, (len(ra), len(rb))
    assert "output json:%s: 20 written, 0 lost" % a in h.stderr(), \
        h.stderr()


@tap.case("SIGHUP reopens output files (logrotate's postrotate)")
def _():
    out = path("rotate.json")
    h = H.Hdrlog(topo().ns_a, ["-i", dev(), "-o", "json:" + out])
    h.start()
    topo().send(udp(2000, 10))
    H.wait_records(out, lambda r: len(r) >= 10)
    os.rename(out, out + ".1")
    h.proc.send_signal(signal.SIGHUP)
    time.sleep(0.3)
    topo().send(udp(2001, 6))
    H.wait_records(out, lambda r: len(r) >= 6)
    h.stop()
    old, new = H.read_json_lines(out + ".1"), H.read_json_lines(out)
    assert [r["dest_port"] for r in old] == [2000] * 10, old
    assert [r["dest_port"] for r in new] == [2001] * 6, new


@tap.case("a full disk: reported once, counted, other outputs go on, healed")
def _():
    mnt = path("tiny")
    os.mkdir(mnt)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", mnt],
                   check=True)
    H.on_cleanup(lambda: subprocess.run(["umount", "-l", mnt]))
    filler = os.path.join(mnt, "filler")
    with open(filler, "wb") as f:
        try:
            f.write(b"x" * 40960)
        except OSError:
            pass
    small, safe = os.path.join(mnt, "out.json"), path("safe.json")
    h = H.Hdrlog(topo().ns_a, ["-i", dev(), "-o", "json:" + small,
                               "-o", "json:" + safe])
    h.start()
    # ~300 bytes a record: 200 records cannot fit in what is left
    for i in range(4):
        topo().send(udp(3000 + i, 50))
        time.sleep(0.3)
    assert H.wait_records(safe, lambda r: len(r) >= 200), "safe output short"
    err = h.stderr()
    assert err.count("writing %s failed" % small) == 1, err
    os.unlink(filler)
    time.sleep(1.2)     # "works again" is said after a second without errors
    topo().send(udp(4000, 20))
    H.wait_records(safe, lambda r: len(r) >= 220)
    time.sleep(0.5)
    h.stop()
    err = h.stderr()
    assert "writing %s works again" % small in err, err
    recs = H.read_json_lines(small)      # whole lines only, even after ENOSPC
    ports = [r["dest_port"] for r in recs]
    assert ports.count(4000) == 20, ports[-25:]
    import re
    m = re.search(r"output json:%s: (\d+) written, (\d+) lost" % re.escape(
        small), err)
    assert m, err
    written, lost = int(m.group(1)), int(m.group(2))
    assert written == len(recs) and lost > 0 and written + lost == 220, \
        (written, lost, len(recs))
    assert len(H.read_json_lines(safe)) == 220


def body():
    H.preflight()
    with H.Topology() as t:
        T["topo"] = t
        tap.run()


if __name__ == "__main__":
    H.main(body)
