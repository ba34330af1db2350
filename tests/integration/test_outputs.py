#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""
What every output shares: the trailing filter expression, several outputs
at once, SIGHUP reopening files for logrotate, a write error on a full
disk that is reported once, counted, and healed, a summary that adds up
for every output, a closed standard output ending the run, and output
paths that refuse another user's symlink in a sticky directory, and a
burst written in a few large writes.
"""
import io
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hdrlogtest as H  # noqa: E402

tap = H.Tap()
MAC_KIND = 0xdd              # source MACs 02:dd:... (H.new_mac)


def udp(dport, n=1, **kw):
    return [H.udp_frame(H.new_mac(MAC_KIND), dport=dport, ip_id=i + 1, **kw)
            for i in range(n)]


def run_and_send(args, frames, expect_records, timeout=10):
    """hdrlog with args in A; send frames from B; stop; the Hdrlog."""
    h = H.hdrlog(args)
    h.start()
    H.topo().send(frames)
    h.summaries_until(lambda: h.summary().get("seen", 0) >= expect_records,
                      timeout)
    h.stop()
    return h


@tap.case("a filter expression keeps only matching records, the rest counted")
def _():
    out = H.path("filter.json")
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
    r = H.run_hdrlog(H.topo().ns_a, ["-i", H.dev(), "port", "notaport"])
    assert r.returncode == 2, (r.returncode, r.stderr)
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and "port notaport" in lines[0], r.stderr
    assert "listening" not in r.stderr


@tap.case("several outputs at once get every record")
def _():
    a, b = H.path("multi-a.json"), H.path("multi-b.json")
    frames = udp(1000, 20)
    h = run_and_send(["-o", "json:" + a, "-o", "json:" + b,
                      "--fields", "src_mac,dest_port,ip_id"], frames, 20)
    ra, rb = H.read_json_lines(a), H.read_json_lines(b)
    assert len(ra) == 20 and ra == rb, (len(ra), len(rb))
    assert h.records_to_outputs() == 20, h.stderr()
    for p in (a, b):
        assert h.output_counts("json:" + p) == (20, 0), h.stderr()


@tap.case("SIGHUP: a JSON file moved away is replaced, one left in place "
          "keeps its lines and is appended to")
def _():
    out = H.path("rotate.json")
    h = H.Hdrlog(H.topo().ns_a, ["-i", H.dev(), "-o", "json:" + out])
    h.start()
    H.topo().send(udp(2000, 10))
    H.wait_records(out, lambda r: len(r) >= 10)
    os.rename(out, out + ".1")
    h.hup()
    H.topo().send(udp(2001, 6))
    H.wait_records(out, lambda r: len(r) >= 6)
    h.hup()                      # not moved: the file keeps what it holds
    H.topo().send(udp(2002, 4))
    H.wait_records(out, lambda r: len(r) >= 10)
    h.stop()
    old, new = H.read_json_lines(out + ".1"), H.read_json_lines(out)
    assert [r["dest_port"] for r in old] == [2000] * 10, old
    assert [r["dest_port"] for r in new] == [2001] * 6 + [2002] * 4, new


@tap.case("a full disk: reported once, counted, other outputs go on, healed")
def _():
    mnt = H.small_fs("tiny")
    filler = os.path.join(mnt, "filler")
    with open(filler, "wb") as f:
        try:
            f.write(b"x" * 40960)
        except OSError:
            pass
    small, safe = os.path.join(mnt, "out.json"), H.path("safe.json")
    h = H.Hdrlog(H.topo().ns_a, ["-i", H.dev(), "-o", "json:" + small,
                                 "-o", "json:" + safe])
    h.start()
    # ~300 bytes a record: 200 records cannot fit in what is left
    for i in range(4):
        H.topo().send(udp(3000 + i, 50))
        time.sleep(0.3)         # pacing: four separate batches, one report
    assert H.wait_records(safe, lambda r: len(r) >= 200), "safe output short"
    err = h.stderr()
    assert err.count("writing %s failed" % small) == 1, err
    os.unlink(filler)
    H.topo().send(udp(4000, 20))
    H.wait_records(safe, lambda r: len(r) >= 220)
    # "works again" is said once a write worked a second after the last
    # failure (the main loop flushes every turn)
    assert h.err.wait_for("writing %s works again" % re.escape(small), 5), \
        h.stderr()
    h.stop()
    err = h.stderr()
    assert "writing %s works again" % small in err, err
    recs = H.read_json_lines(small)      # whole lines only, even after ENOSPC
    ports = [r["dest_port"] for r in recs]
    assert ports.count(4000) == 20, ports[-25:]
    written, lost = h.output_counts("json:" + small)
    assert written == len(recs) and lost > 0 and written + lost == 220, \
        (written, lost, len(recs))
    assert h.records_to_outputs() == 220, err
    assert h.output_counts("json:" + safe) == (220, 0), err
    assert "records lost (output write errors" not in err, \
        "a run-wide loss line with several outputs: " + err
    assert len(H.read_json_lines(safe)) == 220


@tap.case("the summary adds up for each output: written + lost = records "
          "after the filter, one line per output")
def _():
    a, b = H.path("sum-a.json"), H.path("sum-b.pcap")
    frames = udp(53, 5) + udp(80, 7)
    h = run_and_send(["-o", "json:" + a, "-o", "pcap:" + b,
                      "udp", "dst", "port", "53"], frames, 12)
    s = h.summary()
    assert s.get("seen") == 12 and s.get("lost") == 0, h.stderr()
    assert s.get("written") is None, \
        "a run-wide 'written' with several outputs: " + h.stderr()
    assert h.records_to_outputs() == 5, h.stderr()
    assert h.output_counts("json:" + a) == (5, 0), h.stderr()
    assert h.output_counts("pcap:" + b) == (5, 0), h.stderr()
    assert len(H.read_json_lines(a)) == 5


def piped_run(spec, reader):
    """hdrlog -o spec with its standard output piped into reader (a
    command that stops reading early); frames are sent until hdrlog ends,
    at most 15 s. (exit code, stderr)."""
    cmd = H.ns_exec(H.topo().ns_a, [H.HDRLOG, "-i", H.dev(), "-o", spec])
    hd = H.track(subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE))
    rd = H.track(subprocess.Popen(reader, stdin=hd.stdout,
                                  stdout=subprocess.DEVNULL))
    hd.stdout.close()
    err = H.LineReader(io.TextIOWrapper(hd.stderr))
    assert err.wait_for("listening on", 15), err.text()
    deadline = time.monotonic() + 15
    while hd.poll() is None and time.monotonic() < deadline:
        H.topo().send(udp(5000, 5))
        time.sleep(0.1)         # pacing the sender; the loop is bounded
    if hd.poll() is None:
        hd.kill()
        hd.wait(10)
        raise AssertionError("hdrlog still runs with its reader gone: " +
                             err.text())
    rd.wait(10)
    err.join()
    return hd.returncode, err.text()


@tap.case("hdrlog | head: a closed standard output ends the run, the "
          "summary on stderr (json, pcap, json:/dev/stdout)")
def _():
    for spec, reader, name in (
            ("json", ["head", "-n", "5"], "json (standard output)"),
            ("pcap:-", ["head", "-c", "100"], "pcap (standard output)"),
            ("json:/dev/stdout", ["head", "-n", "5"], "json:/dev/stdout")):
        rc, err = piped_run(spec, reader)
        assert rc == 0, (spec, rc, err)
        assert "standard output was closed" in err, err
        m = re.search(r"output %s: (\d+) written, (\d+) lost" %
                      re.escape(name), err)
        assert m, err
        seen = H.parse_summary(err).get("seen")
        assert int(m.group(1)) > 0 and seen and \
            int(m.group(1)) + int(m.group(2)) <= seen, (m.group(0), seen)


@tap.case("a write error on standard output names it 'standard output'")
def _():
    with open("/dev/full", "wb") as full:
        cmd = H.ns_exec(H.topo().ns_a, [H.HDRLOG, "-i", H.dev(), "-o", "json"])
        hd = H.track(subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                      stdout=full, stderr=subprocess.PIPE))
    err = H.LineReader(io.TextIOWrapper(hd.stderr))
    try:
        assert err.wait_for("listening on", 15), err.text()
        H.topo().send(udp(5100, 5))
        assert err.wait_for(r"writing standard output failed: No space", 10),\
            err.text()
    finally:
        hd.send_signal(signal.SIGINT)
        hd.wait(10)
        err.join()
    assert re.search(r"output json \(standard output\): 0 written, 5 lost",
                     err.text()), err.text()


@tap.case("another user's symlink in a sticky world-writable directory is "
          "refused as an output; root's and the directory owner's are "
          "followed")
def _():
    d = H.path("sticky")
    os.mkdir(d)
    os.chown(d, 65534, 65534)
    os.chmod(d, 0o1777)
    victim = H.path("victim")
    with open(victim, "wb") as f:
        f.write(b"precious\n")
    for spec in ("json", "pcap", "pcapng"):
        link = os.path.join(d, "out." + spec)
        os.symlink(victim, link)
        os.lchown(link, 65533, 65533)
        r = H.run_hdrlog(H.topo().ns_a, ["-i", H.dev(), "-o",
                                         "%s:%s" % (spec, link)])
        assert r.returncode != 0, (spec, r.returncode, r.stderr)
        assert "refusing to follow %s" % link in r.stderr, r.stderr
        with open(victim, "rb") as f:
            assert f.read() == b"precious\n", spec
        os.unlink(link)
    for i, owner in enumerate((0, 65534)):
        target = H.path("followed%d.json" % owner)
        link = os.path.join(d, "ok%d.json" % owner)
        os.symlink(target, link)
        os.lchown(link, owner, owner)
        h = run_and_send(["-o", "json:" + link], udp(6000 + i, 3), 3)
        assert os.path.islink(link)
        assert [r["dest_port"] for r in H.read_json_lines(target)] == \
            [6000 + i] * 3, h.stderr()


@tap.case("a burst is read in bulk and written in a few large writes: far "
          "fewer write()s to the file than records, no lseek() per write")
def _():
    # Issue 11: a flood woke the reader every ~17 frames, and each round
    # was one write() and one lseek() on the JSON file. Now a wake-up
    # comes per 1/8 of the ring or every 50 ms, so a burst of n frames
    # goes out in a handful of writes, whatever n is.
    H.need("strace")
    out, trace = H.path("batch.json"), H.path("batch.strace")
    n = 3000
    # -y: each descriptor with its path.
    with H.Hdrlog(H.topo().ns_a, ["-i", H.dev(), "-o", "json:" + out],
                  prefix=H.strace_prefix(trace, "-y",
                                         "-e", "trace=write,lseek")) as h:
        H.topo().send(udp(7000, n))
        H.wait_until(lambda: len(H.read_json_lines(out)) >= n,
                     lambda: "%d of %d records written" % (
                         len(H.read_json_lines(out)), n), 20)
        assert h.stop() == 0, h.stderr()
    text = H.strace_text(trace, h.proc.pid)
    calls = re.findall(r"^\d+\s+(write|lseek)\(\d+<([^>]*)>", text, re.M)
    writes = sum(1 for c, f in calls if c == "write" and f.endswith(out))
    seeks = sum(1 for c, f in calls if c == "lseek" and f.endswith(out))
    H.diag("%d records in %d write()s, %d lseek()s" % (n, writes, seeks))
    assert seeks == 0, "%d lseek()s on the JSON file" % seeks
    # 131 writes before; now one per 50 ms of sending (~0.3 s) at most
    assert 0 < writes <= n // 50, \
        "%d write()s for %d records: not batched" % (writes, n)


def body():
    H.run_tap(tap)


if __name__ == "__main__":
    H.main(body)
