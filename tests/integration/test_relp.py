#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""
The syslog output over RELP (syslog:relp://) against a real rsyslogd with
imrelp (Debian's rsyslog-relp): our own instance in namespace A, its own
config, pid file and work directory in the scratch directory, listening
on loopback there. imtcp on the next port takes the same stream over plain
TCP, for comparison.

rsyslogd runs its main queue in Direct mode: an input thread runs the
omfile action itself, and omfile write()s at the end of each transaction,
so a message is in the file before imrelp acknowledges it. A stop by
SIGTERM (what systemd does) lets imrelp finish the frame it is in and
answer it, and leaves the rest unread and unanswered; so after a stop and
a restart every record must be in the file exactly once. (A SIGKILL
between the write and the acknowledgement would make hdrlog send that
record again: RELP delivers at least once. That is not what this test
checks.)
"""
import collections
import json
import os
import re
import signal
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hdrlogtest as H  # noqa: E402
from hdrlogtest import count_re, fresh, hdrlog  # noqa: E402

tap = H.Tap()
MAC_KIND = 0x5f              # source MACs 02:5f:... (H.new_mac)
IMRELP = "/usr/lib/x86_64-linux-gnu/rsyslog/imrelp.so"
PORT = 16514                 # imrelp in A; +1 imrelp on ::1, +2 imtcp
WINDOW = 128                 # RELP_WINDOW (formats/relp.h)

class Rsyslog(H.Rsyslog):
    """Our own rsyslogd in namespace A (H.Rsyslog), main queue Direct:
    imrelp on 127.0.0.1:PORT (relp) and [::1]:PORT+1 (relp6), imtcp on
    127.0.0.1:PORT+2 (tcp)."""

    def __init__(self, name):
        super().__init__(name, [("relp", "relp", "127.0.0.1", PORT),
                                ("relp6", "relp", "::1", PORT + 1),
                                ("tcp", "tcp", "127.0.0.1", PORT + 2)],
                         direct=True)


def frames(n):
    return [H.udp_frame(H.new_mac(MAC_KIND), sport=10000 + i % 50000,
                        dport=20000, ip_id=i % 65536 + 1) for i in range(n)]


def outputs(h):
    return {k: v[:2] for k, v in H.output_summary(h.stderr()).items()}


# --------------------------------------------------------------------------
# cases
# --------------------------------------------------------------------------

@tap.case("RELP over IPv4 and IPv6: every record arrives once, equal to "
          "the JSON record; the summary counts them written")
def delivery():
    relp4 = "relp://127.0.0.1:%d" % PORT
    relp6 = "relp://[::1]:%d" % (PORT + 1)
    out = fresh("d.json")
    n = 300                  # more than a window: librelp waits for acks
    with Rsyslog("d") as rs:
        with hdrlog(["-o", "json:" + out, "-o", "syslog:" + relp4,
                     "-o", "syslog:" + relp6]) as h:
            H.topo().send(frames(n))
            lines = H.wait_json(out, n)
            rs.wait(n, "relp")
            rs.wait(n, "relp6")
            # while running, written counts what is surely acknowledged:
            # never more than arrived, and all but a window once librelp
            # took them all (it has heard of no acknowledgement since)
            def all_but_a_window():
                written = h.output_counts("syslog:" + relp4)[0]
                assert written <= len(rs.bodies("relp")), written
                return written == n - WINDOW
            assert h.summaries_until(all_but_a_window), (
                h.output_counts("syslog:" + relp4)[0], h.stderr())
            h.stop()
        assert len(lines) == n, "%d records in the JSON output" % len(lines)
        for name in ("relp", "relp6"):
            got = rs.bodies(name)
            assert got == lines, "%s: %d messages, %d records; first " \
                "difference %s" % (name, len(got), len(lines), next(
                    ((a, b) for a, b in zip(got, lines) if a != b), None))
    outs = outputs(h)
    for t in (relp4, relp6):
        assert outs["syslog:" + t] == (n, 0), (t, outs)
    assert not count_re(h, r"warning"), h.stderr()


def relp_msgs(rs):
    """The RELP input's messages, parsed (msgid, msg, ...)."""
    return [H.parse5424(m["raw"]) for m in rs.messages("relp")]


@tap.case("stats records (--stats-interval) go over RELP too: MSGID "
          "stats, their JSON as the body, counted written; hdrlog runs on "
          "(it crashed at the first one)")
def stats_records():
    relp4 = "relp://127.0.0.1:%d" % PORT
    with Rsyslog("st") as rs:
        with hdrlog(["-o", "syslog:" + relp4, "--stats-interval", "1"]) as h:
            deadline = time.monotonic() + 10
            while not [m for m in relp_msgs(rs)
                       if m["msgid"] == "stats"]:
                assert time.monotonic() < deadline and \
                    h.proc.poll() is None, (relp_msgs(rs), h.stderr())
                time.sleep(0.05)
            assert h.stop() == 0, h.stderr()
        got = relp_msgs(rs)
    assert got and all(m["msgid"] == "stats" for m in got), got
    for m in got:
        rec = json.loads(m["msg"])
        assert rec["event_type"] == "stats", rec
        assert "syslog:" + relp4 in rec["stats"]["outputs"], rec
    assert outputs(h)["syslog:" + relp4] == (len(got), 0), \
        (len(got), h.stderr())


def restart(name, sig):
    """rsyslogd stopped by sig while a stream flows, started again: the
    RELP and TCP bodies it wrote, the JSON records, hdrlog."""
    relp = "relp://127.0.0.1:%d" % PORT
    tcp = "tcp://127.0.0.1:%d" % (PORT + 2)
    out = fresh(name + ".json")
    rs = Rsyslog(name)
    first, during, after = frames(200), frames(4000), frames(200)
    with rs, hdrlog(["-o", "json:" + out, "-o", "syslog:" + relp,
                     "-o", "syslog:" + tcp]) as h:
        H.topo().send(first)
        assert len(rs.wait(len(first), "relp")) == len(first), h.stderr()
        assert len(rs.wait(len(first), "tcp")) == len(first), h.stderr()
        # a steady stream; the receiver goes while it flows
        sender = threading.Thread(target=H.topo().send,
                                  args=(during,), kwargs={"burst": 16})
        sender.start()
        try:
            rs.wait(len(first) + 300, "relp", 20)
            if sig == signal.SIGKILL:
                # behind first, as a busy receiver is: what the kernel
                # took for it and it never read dies with it
                rs.proc.send_signal(signal.SIGSTOP)
                H.wait_json(out, len(H.json_lines(out)) + 500, 20)
            stopped_at = len(H.json_lines(out))
            rs.stop(sig)
            assert h.err.wait_for(r"syslog %s: .*reconnecting" %
                                  re.escape(relp), 10), h.stderr()
            rs.start()
        finally:
            sender.join(60)
        assert not sender.is_alive()
        assert stopped_at < len(first) + len(during), \
            "the stream ended before the receiver stopped"
        assert h.err.wait_for(r"syslog %s: connected again; 0 records "
                              r"lost meanwhile" % re.escape(relp), 10), \
            h.stderr()
        H.topo().send(after)
        total = len(first) + len(during) + len(after)
        lines = H.wait_json(out, total, 20)
        rs.wait(total, "relp", 20)
        got = rs.bodies("relp")
        h.stop()
    assert len(lines) == total, "capture lost records: %d of %d" % (
        len(lines), total)
    assert H.parse_summary(h.stderr()).get("lost") == 0
    assert len(set(lines)) == total
    missing = len(set(lines) - set(got))
    assert not missing, "RELP: %d of %d records missing" % (missing, total)
    assert set(got) == set(lines)
    assert outputs(h)["syslog:" + relp] == (total, 0), outputs(h)
    tcp_got = rs.bodies("tcp")
    tw, tl = outputs(h)["syslog:" + tcp]
    H.diag("%s after %d records: RELP delivered %d of %d (%d twice), "
           "plain TCP %d of %d (hdrlog counted %d written, %d lost)" % (
               signal.Signals(sig).name, stopped_at, len(set(got)), total,
               len(got) - len(set(got)), len(set(tcp_got)), total, tw, tl))
    return got


@tap.case("receiver stopped (SIGTERM) and restarted mid-stream: RELP "
          "delivers every record exactly once; plain TCP in the same run "
          "shows what it loses")
def restart_term():
    got = restart("rt", signal.SIGTERM)
    # imrelp answered every frame it finished and read no further: what
    # it answered is in the file, nothing is sent twice
    assert len(got) == len(set(got)), "%d records twice" % (
        len(got) - len(set(got)))


@tap.case("receiver stalled (SIGSTOP), killed (SIGKILL) and restarted "
          "mid-stream: RELP delivers every record; only the unacknowledged "
          "window can come twice")
def restart_kill():
    got = restart("rk", signal.SIGKILL)
    # a record written and killed before its answer went out is sent
    # again: at most librelp's window, each at most twice
    twice = len(got) - len(set(got))
    assert twice <= WINDOW, "%d records twice" % twice
    assert max(collections.Counter(got).values()) <= 2


@tap.case("a receiver that stops reading (SIGSTOP): the queue fills, the "
          "overflow is counted and reported, the rest arrives once")
def stalled():
    relp = "relp://127.0.0.1:%d" % PORT
    out = fresh("s.json")
    total = 12000            # well past the 4 MiB queue
    with Rsyslog("s") as rs, hdrlog(["-o", "json:" + out,
                                     "-o", "syslog:" + relp]) as h:
        H.topo().send(frames(10))
        assert len(rs.wait(10, "relp")) == 10, h.stderr()
        rs.proc.send_signal(signal.SIGSTOP)
        try:
            H.topo().send(frames(total - 10), burst=64)
            assert h.err.wait_for(r"syslog %s: the receiver does not keep "
                                  r"up; queue full" % re.escape(relp), 20), \
                h.stderr()
        finally:
            rs.proc.send_signal(signal.SIGCONT)
        line = h.err.wait_for(r"syslog %s: the receiver caught up; \d+ "
                              r"records lost" % re.escape(relp), 30)
        assert line, h.stderr()
        lines = H.wait_json(out, total, 20)
        h.stop(timeout=30)
        got = rs.bodies("relp")
    assert len(lines) == total, "capture lost records: %d of %d" % (
        len(lines), total)
    written, lost = outputs(h)["syslog:" + relp]
    gap = int(re.search(r"(\d+) records lost", line).group(1))
    assert written + lost == total and lost == gap > 0, (written, lost, gap)
    assert set(got) <= set(lines) and len(set(got)) == written, \
        (len(got), len(set(got)), written)
    # a stop longer than librelp's timeout (10 s) would break the session
    # and resend its window: only then may a record arrive twice
    if not count_re(h, "reconnecting"):
        assert len(got) == written, (len(got), written)
    H.diag("stalled receiver: %d written, %d lost of %d" % (written, lost,
                                                             total))


@tap.case("a RELP receiver that is never there: capture goes on, the loss "
          "is counted and reported, hdrlog exits at once")
def never_there():
    relp = "relp://127.0.0.1:%d" % (PORT + 7)
    out = fresh("n.json")
    n = 500
    with hdrlog(["-o", "json:" + out, "-o", "syslog:" + relp]) as h:
        assert h.err.wait_for(r"syslog %s: .*; queueing records .* and "
                              r"reconnecting" % re.escape(relp), 10), \
            h.stderr()
        H.topo().send(frames(n))
        assert len(H.wait_json(out, n)) == n, h.stderr()
        h.stop(timeout=10)
    assert outputs(h)["syslog:" + relp] == (0, n), outputs(h)
    assert outputs(h)["json:" + out] == (n, 0), outputs(h)
    assert count_re(h, r"reconnecting") == 1, h.stderr()
    assert H.parse_summary(h.stderr()).get("lost") == 0


@tap.case("--check of relp targets: parsed and resolved, nothing connected; "
          "bad ones refused with one clear line")
def check_targets():
    # a listener that would see a connection
    srv = H.ns_socket(H.topo().ns_a, socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", PORT + 5))
    srv.listen(8)
    srv.setblocking(False)
    try:
        for t in ("relp://127.0.0.1", "relp://127.0.0.1:%d" % (PORT + 5),
                  "relp://[::1]:%d" % PORT, "relp://localhost"):
            r = H.run_hdrlog(H.topo().ns_a, ["-i", H.dev(), "--check",
                                             "-o", "syslog:" + t])
            assert r.returncode == 0, (t, r.stderr)
            assert "syslog:" + t in r.stdout + r.stderr, (t, r.stdout)
        try:
            srv.accept()
            assert False, "--check connected to the receiver"
        except BlockingIOError:
            pass
    finally:
        srv.close()
    for t in ("relp://", "relp://127.0.0.1:0", "relp://127.0.0.1:99999",
              "relp://[::1", "relp://no-such-host.invalid"):
        for extra in (["--check"], []):
            r = H.run_hdrlog(H.topo().ns_a, ["-i", H.dev(), "-o",
                                             "syslog:" + t] + extra)
            assert r.returncode != 0, (t, extra)
            errs = [x for x in r.stderr.splitlines() if x.strip()]
            assert len(errs) == 1 and errs[0].startswith("hdrlog: ") and \
                "relp://" in errs[0], (t, extra, r.stderr)


def body():
    if not os.path.exists(IMRELP):
        print("1..0 # SKIP rsyslog's imrelp (rsyslog-relp) not installed")
        return
    H.run_tap(tap, need=(H.RSYSLOGD,), setup=lambda t: H.run(
        [H.IP, "-n", t.ns_a, "link", "set", "lo", "up"]))


if __name__ == "__main__":
    H.main(body)
