#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""
The syslog output against a real rsyslogd: our own instance (own config,
pid file and work directory in the scratch directory) inside namespace A,
listening on loopback there and on a unix socket in the scratch
directory. The system's /dev/log and syslog daemon are never touched.

rsyslog writes every message it gets as one JSON line: the raw message
(%rawmsg%), the fields its RFC 5424/3164 parsers found, the structured
data as mmpstrucdata parsed it and the body as mmjsonparse parsed it. The
raw messages are also parsed here, from the RFCs, and compared with the
records hdrlog wrote to a JSON file in the same run.
"""
import json
import os
import re
import signal
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hdrlogtest as H  # noqa: E402
from hdrlogtest import count_re, fresh, hdrlog  # noqa: E402
from hdrlogtest import json_lines, wait_json  # noqa: E402
import sockpeers as S  # noqa: E402  (the connection peers)

tap = H.Tap()
MAC_KIND = 0x5e              # source MACs 02:5e:... (H.new_mac)
T = {}
RSYSLOGD = H.RSYSLOGD
SD_ID = "hdrlog@32473"
FACILITY = 3            # daemon
UDP_MAX = 2048
PORT = 15514            # rsyslog's TCP and UDP ports in A (and +1 on ::1)


def udp6_frame(src_mac, src="2001:db8::2", dst="2001:db8::1", sport=4000,
               dport=5000, payload=b"x"):
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    ip6 = struct.pack("!IHBB16s16s", (6 << 28) | (3 << 20) | 0x12345,
                      len(udp), 17, 7,
                      socket.inet_pton(socket.AF_INET6, src),
                      socket.inet_pton(socket.AF_INET6, dst))
    return (H.mac_bytes("02:00:5e:00:53:01") + H.mac_bytes(src_mac) +
            b"\x86\xdd" + ip6 + udp)


def frames(n, src_ip="198.51.100.2"):
    """n frames of a few kinds, each with its own source MAC."""
    out = []
    for i in range(n):
        m = H.new_mac(MAC_KIND)
        if i % 5 == 3:
            out.append(udp6_frame(m, sport=4000 + i))
        elif i % 5 == 4:
            out.append(H.arp_frame(m))
        else:
            out.append(H.udp_frame(m, src_ip=src_ip, sport=10000 + i,
                                   dport=20000 + i, ip_id=i + 1))
    return out


# --------------------------------------------------------------------------
# rsyslogd
# --------------------------------------------------------------------------

def inputs(port=PORT):
    """rsyslogd's inputs here: unix (rs.sock), UDP and TCP on
    127.0.0.1:port, TCP on [::1]:port+1."""
    return [("imuxsock", "unix"), ("udp", "udp", "127.0.0.1", port),
            ("tcp", "tcp", "127.0.0.1", port),
            ("tcp6", "tcp", "::1", port + 1)]


class Rsyslog(H.Rsyslog):
    """Our own rsyslogd in namespace A (H.Rsyslog) with inputs(port) and
    the more given."""

    def __init__(self, name, port=PORT, more=()):
        super().__init__(name, inputs(port) + list(more))


# --------------------------------------------------------------------------
# RFC 3164 parsed here (RFC 5424: H.parse5424)
# --------------------------------------------------------------------------

HEAD3164 = re.compile(r"^<(\d{1,3})>([A-Z][a-z][a-z] [ 1-3]\d "
                      r"\d\d:\d\d:\d\d) (?:(\S+) )?hdrlog\[(\d+)\]: ")


def sd_text(v):
    """A JSON value as hdrlog's SD-PARAM text."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return ",".join(sd_text(x) for x in v)
    return str(v)


def severity(rec):
    if rec.get("action") == "drop" or rec.get("would_drop"):
        return 4
    if "src_lists" in rec or "dest_lists" in rec:
        return 5
    return 6


def check5424(msgs, lines, pid, cee=False, where=""):
    """Every JSON line arrived once as an RFC 5424 message that says the
    same as the record, and rsyslog's parse of it agrees."""
    by_body = {}
    prefix = "@cee:" if cee else ""
    for m in msgs:
        p = H.parse5424(m["raw"])
        assert p["msg"].startswith(prefix), "%s: MSG %r" % (where,
                                                             p["msg"][:60])
        body = p["msg"][len(prefix):]
        assert body not in by_body, "%s: duplicate %s" % (where, body[:80])
        by_body[body] = (p, m)
    assert len(by_body) == len(lines), "%s: %d messages for %d records" % (
        where, len(by_body), len(lines))
    host = socket.gethostname()
    for line in lines:
        assert line in by_body, "%s: no message with body %s" % (where, line)
        p, m = by_body[line]
        # numbers as written (duration_ms 51.510), for the SD text
        rec = json.loads(line, object_pairs_hook=lambda kv: kv,
                         parse_float=str)
        d = json.loads(line)
        assert p["pri"] == FACILITY * 8 + severity(d), (where, p["pri"])
        assert (p["ts"], p["host"], p["app"], p["procid"], p["msgid"]) == \
            (d["timestamp"], host, "hdrlog", str(pid), d["event_type"]), \
            (where, p)
        assert p["sd"] and len(p["sd"]) == 1 and p["sd"][0][0] == SD_ID, \
            (where, p["sd"])
        want = [(k, sd_text(v)) for k, v in rec]
        assert p["sd"][0][1] == want, "%s: SD %s\nrecord %s" % (
            where, p["sd"][0][1], want)
        # rsyslog's own parsers
        assert (m["pri"], m["host"], m["app"], m["procid"], m["msgid"]) == \
            (str(p["pri"]), host, "hdrlog", str(pid), d["event_type"]), \
            (where, m)
        assert m["ts"].replace("+00:00", "Z") == d["timestamp"], (where, m)
        sd = m["all"]["sd"]["rfc5424-sd"][SD_ID]
        assert sd == dict(want), "%s: mmpstrucdata %s" % (where, sd)
        parsed = m["all"]["cee" if cee else "body"]
        assert parsed == d, "%s: mmjsonparse %s" % (where, parsed)


def outputs(h):
    """{target: (written, lost, cut)} from hdrlog's summary, for the lines
    that say nothing more."""
    return {k: v[:3] for k, v in H.output_summary(h.stderr()).items()
            if not v[3]}


# --------------------------------------------------------------------------
# cases
# --------------------------------------------------------------------------

@tap.case("RFC 5424 over unix, UDP, TCP and TCP/IPv6, octet counting")
def rfc5424_all_transports():
    with Rsyslog("r1") as rs:
        out = fresh("r1.json")
        targets = {"imuxsock": "unix:" + rs.sock,
                   "udp": "udp://127.0.0.1:%d" % PORT,
                   "tcp": "tcp://127.0.0.1:%d" % PORT,
                   "tcp6": "tcp://[::1]:%d" % (PORT + 1)}
        args = ["-o", "json:" + out]
        for t in targets.values():
            args += ["-o", "syslog:" + t]
        n = 25
        with hdrlog(args) as h:
            H.topo().send(frames(n))
            lines = wait_json(out, n)
            rs.wait(4 * n)
            h.stop()
        assert len(lines) == n, "%d records in the JSON output" % len(lines)
        for name in targets:
            check5424(rs.messages(name), lines, h.proc.pid, where=name)
        outs = outputs(h)
        for t in targets.values():
            assert outs.get("syslog:" + t) == (n, 0, 0), (t, outs)



@tap.case("--log flows: a flow record over RFC 5424 has MSGID flow, the "
          "JSON record as body and the flow fields in the structured data")
def flow_record_5424():
    with Rsyslog("rflow") as rs:
        out = fresh("rflow.json")
        with hdrlog(["--log", "flows", "--flow-idle-timeout", "1",
                     "-o", "json:" + out,
                     "-o", "syslog:tcp://127.0.0.1:%d" % PORT]) as h:
            H.topo().send(frames(3))       # three flows, a frame each
            lines = wait_json(out, 3)
            msgs = rs.wait(3, "tcp")
            h.stop()
    assert len(lines) == 3 and len(msgs) == 3, (lines, msgs)
    by_body = {H.parse5424(m["raw"])["msg"]: m for m in msgs}
    for line in lines:
        d = json.loads(line)
        m = by_body[line]
        p = H.parse5424(m["raw"])
        assert p["msgid"] == "flow" and m["msgid"] == "flow", (p, m)
        sd = dict(p["sd"][0][1])
        assert sd["event_type"] == "flow" and sd["flow.pkts_toserver"] == \
            str(d["flow"]["pkts_toserver"]) == "1" and \
            sd["flow.reason"] == "idle", sd


def run_simple(rs, name, targets, extra, n=20, frame_list=None, iface=None):
    """hdrlog with a JSON file and syslog targets; send; (lines, h)."""
    out = fresh(name + ".json")
    args = ["-o", "json:" + out] + list(extra)
    for t in targets.values():
        args += ["-o", "syslog:" + t]
    fl = frame_list if frame_list is not None else frames(n)
    h = H.Hdrlog(H.topo().ns_a, ["-i", iface or H.dev()] + args)
    with h:
        H.topo().send(fl, dev=T.get("send_dev") if iface else None)
        lines = wait_json(out, len(fl))
        for input_name in targets:
            rs.wait(len(fl), input_name)
        h.stop()
    assert len(lines) == len(fl), "%d records for %d frames" % (len(lines),
                                                                len(fl))
    return lines, h


@tap.case("RFC 5424 with @cee: over TCP (non-transparent framing) and unix")
def rfc5424_lf_cee():
    with Rsyslog("r2") as rs:
        targets = {"imuxsock": "unix:" + rs.sock,
                   "tcp": "tcp://127.0.0.1:%d" % PORT}
        lines, h = run_simple(rs, "r2", targets,
                              ["--syslog-framing", "non-transparent",
                               "--syslog-cee"])
        for name in targets:
            check5424(rs.messages(name), lines, h.proc.pid, cee=True,
                      where=name)
        for t in targets.values():
            assert outputs(h).get("syslog:" + t) == (len(lines), 0, 0)


@tap.case("RFC 3164 with @cee: over unix, UDP and TCP")
def rfc3164():
    with Rsyslog("r3") as rs:
        targets = {"imuxsock": "unix:" + rs.sock,
                   "udp": "udp://127.0.0.1:%d" % PORT,
                   "tcp": "tcp://127.0.0.1:%d" % PORT}
        lines, h = run_simple(rs, "r3", targets,
                              ["--syslog-format", "rfc3164", "--syslog-cee"])
        short = socket.gethostname().split(".")[0]
        for name in targets:
            msgs = rs.messages(name)
            assert len(msgs) == len(lines), (name, len(msgs))
            for m, line in zip(msgs, lines):
                d = json.loads(line)
                mm = HEAD3164.match(m["raw"])
                assert mm, "%s: not RFC 3164: %r" % (name, m["raw"][:100])
                pri, ts, host, pid = mm.groups()
                assert int(pri) == FACILITY * 8 + severity(d)
                sec = H.timestamp_ns(d["timestamp"]) // 10**9
                assert ts == time.strftime("%b %e %H:%M:%S",
                                           time.localtime(sec)), (ts, d)
                # local daemons take no HOSTNAME, as from syslog(3)
                assert host == (None if name == "imuxsock" else short), host
                assert pid == str(h.proc.pid)
                assert m["raw"][mm.end():] == "@cee:" + line, name
                assert (m["app"], m["procid"]) == ("hdrlog", pid), m
                assert m["all"]["cee"] == d, (name, m["all"])


@tap.case('SD values escape ", \\ and ] (an interface named h"]\\N)')
def sd_escaping():
    ns_a, ns_b = H.topo().ns_a, H.topo().ns_b
    name_a = 'h"]\\%d' % (os.getpid() % 100000)
    name_b = "hx%d" % os.getpid()
    r = H.run([H.IP, "link", "add", name_a, "netns", ns_a, "type", "veth",
               "peer", "name", name_b, "netns", ns_b], check=False)
    if r.returncode:
        raise H.Skip("the kernel refused the name: " + r.stderr.strip())
    H.run([H.IP, "-n", ns_a, "link", "set", name_a, "up"])
    H.run([H.IP, "-n", ns_b, "link", "set", name_b, "up"])
    T["send_dev"] = name_b
    with Rsyslog("r4") as rs:
        targets = {"tcp": "tcp://127.0.0.1:%d" % PORT}
        lines, h = run_simple(rs, "r4", targets, [], n=5, iface=name_a)
        msgs = rs.messages("tcp")
        check5424(msgs, lines, h.proc.pid, where="tcp")
        for m in msgs:
            assert ' in_iface="h\\"\\]\\\\' in m["raw"], m["raw"][:300]
            sd = m["all"]["sd"]["rfc5424-sd"][SD_ID]
            assert sd["in_iface"] == name_a, sd["in_iface"]


def list_args(n_lists, name_len):
    """n_lists lists with long names; 198.51.100.3 is in all of them,
    198.51.100.4 in the first 20."""
    args = []
    for i in range(n_lists):
        name = ("l%02d-" % i).ljust(name_len, "x")
        p = H.path("list-%d.txt" % i)
        with open(p, "w") as f:
            f.write("198.51.100.3/32\n" + ("198.51.100.4/32\n" if i < 20
                                           else ""))
        args += ["--taglist", "%s=%s" % (name, p)]
    return args


@tap.case("UDP: long messages lose the SD, then get cut; counted")
def udp_cut():
    with Rsyslog("r5") as rs:
        targets = {"udp": "udp://127.0.0.1:%d" % PORT,
                   "tcp": "tcp://127.0.0.1:%d" % PORT}
        fl = (frames(3) + frames(3, src_ip="198.51.100.4") +
              frames(3, src_ip="198.51.100.3"))
        fl = [f for f in fl if f[12:14] == b"\x08\x00"]     # IPv4 only
        lines, h = run_simple(rs, "r5", targets, list_args(64, 40),
                              frame_list=fl)
        # TCP (8192 bytes) takes them all whole
        check5424(rs.messages("tcp"), lines, h.proc.pid, where="tcp")
        cut = sd_dropped = 0
        udp = rs.messages("udp")
        assert len(udp) == len(lines)
        for m, line in zip(udp, lines):
            raw = m["raw"].encode()
            assert len(raw) <= UDP_MAX, len(raw)
            p = H.parse5424(m["raw"])
            full = len(line) + 400 + len(line) < UDP_MAX
            if p["sd"] is not None:
                assert p["msg"] == line
                continue
            assert not full
            if p["msg"] == line:
                sd_dropped += 1
            else:
                assert line.startswith(p["msg"]) and len(raw) == UDP_MAX, \
                    (len(raw), p["msg"][-50:])
                cut += 1
        n_lists = [len(json.loads(x).get("src_lists", [])) for x in lines]
        assert sd_dropped == n_lists.count(20) and cut == n_lists.count(64), \
            (sd_dropped, cut, n_lists)
        outs = outputs(h)
        assert outs["syslog:" + targets["udp"]] == \
            (len(lines), 0, sd_dropped + cut), outs
        assert outs["syslog:" + targets["tcp"]] == (len(lines), 0, 0), outs


@tap.case("UDP to a closed port: each datagram counted once, as lost "
          "(IPv4 and IPv6), written + lost = records")
def udp_closed_port():
    closed = PORT + 10          # nothing listens there
    targets = ["udp://127.0.0.1:%d" % closed, "udp://[::1]:%d" % closed]
    out = fresh("udp-closed.json")
    h = hdrlog(["-o", "json:" + out] +
               [x for t in targets for x in ("-o", "syslog:" + t)])
    total = 0
    with h:
        # three bursts of 10: well inside the ICMP rate limit's burst
        for _ in range(3):
            H.topo().send(frames(10))
            total += 10
            assert len(wait_json(out, total)) == total, h.stderr()
        h.stop()
    outs = outputs(h)
    for t in targets:
        assert outs["syslog:" + t] == (0, total, 0), (t, outs, h.stderr())
        assert count_re(h, r"syslog %s: nothing listens there" %
                        re.escape(t)) == 1, h.stderr()
    assert outs["json:" + out] == (total, 0, 0), outs



@tap.case("TCP receiver killed and restarted: queued, reconnected, counted")
def tcp_restart():
    rs = Rsyslog("r6")
    target = "tcp://127.0.0.1:%d" % PORT
    out = fresh("r6.json")
    h = hdrlog(["-o", "json:" + out, "-o", "syslog:" + target])
    with rs, h:
        first, during, after = frames(40), frames(8000), frames(40)
        H.topo().send(first)
        assert len(rs.wait(len(first), "tcp")) == len(first)
        rs.stop(signal.SIGKILL)
        assert h.err.wait_for(r"syslog %s: .*reconnecting" % re.escape(
            target), 5), h.stderr()
        H.topo().send(during, burst=64)
        wait_json(out, len(first) + len(during), 20)
        rs.start()
        line = h.err.wait_for(r"syslog %s: connected again; \d+ records "
                              r"lost meanwhile" % re.escape(target), 10)
        assert line, h.stderr()
        gap = int(re.search(r"(\d+) records lost", line).group(1))
        H.topo().send(after)
        total = len(first) + len(during) + len(after)
        lines = wait_json(out, total, 20)
        msgs = rs.wait(total - gap, "tcp", 20)
        h.stop()
    assert len(lines) == total, "capture lost records: %d of %d" % (
        len(lines), total)
    assert H.parse_summary(h.stderr()).get("lost") == 0
    written, lost, _ = outputs(h)["syslog:" + target]
    assert gap > 0, "the queue should have overflowed"
    assert lost == gap and written == total - gap, (written, lost, gap)
    bodies = [H.parse5424(m["raw"])["msg"] for m in msgs]
    assert len(bodies) == len(set(bodies)) == total - gap, \
        (len(bodies), len(set(bodies)), total - gap)
    got = set(bodies)
    idx = {x: i for i, x in enumerate(lines)}
    assert all(x in idx for x in got)
    missing = sorted(idx[x] for x in lines if x not in got)
    # what went missing is during the outage, never before or after it
    assert missing and missing[0] >= len(first) and \
        missing[-1] < len(first) + len(during), missing[:5]
    assert count_re(h, r"reconnecting") == 1, h.stderr()


@tap.case("a receiver that never comes back, or never reads, blocks nothing")
def tcp_dead_receivers():
    # nobody listens
    target = "tcp://127.0.0.1:%d" % (PORT + 7)
    out = fresh("r7.json")
    h = hdrlog(["-o", "json:" + out, "-o", "syslog:" + target])
    with h:
        assert re.search(r"syslog %s: Connection refused; queueing" %
                         re.escape(target), h.stderr()), h.stderr()
        fl = frames(200)
        H.topo().send(fl)
        assert len(wait_json(out, len(fl))) == len(fl)
        # the dead receiver holds nothing up: the stop ends hdrlog, exit
        # 0, within the usual deadline, every record in the JSON output
        assert h.stop() == 0, h.stderr()
    assert len(H.read_json_lines(out)) == len(fl)
    assert outputs(h)["syslog:" + target][0] == 0
    assert count_re(h, r"Connection refused") == 1, h.stderr()
    # a listener that accepts nothing and reads nothing: socket buffers
    # and then the queue fill up, records are counted lost, capture goes on
    srv = H.ns_socket(H.topo().ns_a, socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    srv.bind(("127.0.0.1", PORT + 8))
    srv.listen(1)
    target = "tcp://127.0.0.1:%d" % (PORT + 8)
    out = fresh("r8.json")
    h = hdrlog(["-o", "json:" + out, "-o", "syslog:" + target])
    with h:
        fl = frames(12000)
        H.topo().send(fl, burst=64)
        assert len(wait_json(out, len(fl), 20)) == len(fl)
        assert h.err.wait_for(r"does not keep up", 5), h.stderr()
        # the dead receiver holds nothing up: the stop ends hdrlog, exit
        # 0, within the usual deadline, every record in the JSON output
        assert h.stop() == 0, h.stderr()
    assert len(H.read_json_lines(out)) == len(fl)
    srv.close()
    written, lost, _ = outputs(h)["syslog:" + target]
    assert lost > 0 and written + lost <= len(fl), (written, lost)
    assert H.parse_summary(h.stderr()).get("lost") == 0


@tap.case("a missing unix socket: counted, one warning, picked up later")
def unix_missing():
    rs = Rsyslog("r9")
    target = "unix:" + rs.sock
    out = fresh("r9.json")
    h = hdrlog(["-o", "json:" + out, "-o", "syslog:" + target])
    with h:
        fl = frames(30)
        H.topo().send(fl)
        wait_json(out, len(fl))
        with rs:
            deadline = time.monotonic() + 8
            while time.monotonic() < deadline and not rs.messages():
                H.topo().send(frames(1))
                time.sleep(0.2)
            assert rs.messages(), h.stderr()
            assert h.err.wait_for(r"syslog %s: connected again; \d+ records"
                                  % re.escape(target), 2), h.stderr()
            h.stop()
    assert count_re(h, r"No such file or directory") == 1, h.stderr()
    written, lost, _ = outputs(h)["syslog:" + target]
    assert lost >= len(fl) and written == len(rs.messages()), (written, lost)


@tap.case("SIGHUP reconnects TCP at a message boundary; unix restarts")
def reconnects():
    with Rsyslog("r10") as rs:
        targets = {"tcp": "tcp://127.0.0.1:%d" % PORT,
                   "imuxsock": "unix:" + rs.sock}
        out = fresh("r10.json")
        args = ["-o", "json:" + out]
        for t in targets.values():
            args += ["-o", "syslog:" + t]
        h = hdrlog(args)
        with h:
            a, b, c = frames(300), frames(300), frames(20)
            H.topo().send(a, burst=0)
            h.proc.send_signal(signal.SIGHUP)
            H.topo().send(b, burst=0)
            rs.wait(len(a) + len(b), "tcp")
            rs.wait(len(a) + len(b), "imuxsock")
            # the unix receiver restarts: its new socket is found at once
            rs.stop()
            rs.start()
            H.topo().send(c)
            lines = wait_json(out, len(a) + len(b) + len(c))
            n = len(a) + len(b) + len(c)
            rs.wait(n, "tcp")
            rs.wait(n, "imuxsock")
            h.stop()
        assert len(lines) == len(a) + len(b) + len(c)
        outs = outputs(h)
        # TCP: nothing torn, nothing twice
        tcp = rs.messages("tcp")
        bodies = [H.parse5424(m["raw"])["msg"] for m in tcp]
        assert sorted(bodies) == sorted(lines), (len(bodies), len(lines))
        assert outs["syslog:" + targets["tcp"]] == (len(lines), 0, 0), outs
        unix = rs.messages("imuxsock")
        assert len(unix) == len(lines), (len(unix), outs)
        assert outs["syslog:" + targets["imuxsock"]] == (len(lines), 0, 0)
        # rsyslog's restart closed the TCP connection too; unix said nothing
        assert not re.search(r"warning: syslog unix:", h.stderr()), \
            h.stderr()


@tap.case("a unix stream socket: found by EPROTOTYPE, NUL-terminated")
def unix_stream():
    sock = fresh("stream.sock")
    srv = H.ns_socket(H.topo().ns_a, socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(sock)
    srv.listen(1)
    got = []

    def reader():
        c, _ = srv.accept()
        while True:
            d = c.recv(65536)
            if not d:
                break
            got.append(d)
        c.close()
    th = threading.Thread(target=reader, daemon=True)
    th.start()
    out = fresh("r11.json")
    h = hdrlog(["-o", "json:" + out, "-o", "syslog:unix:" + sock])
    with h:
        H.topo().send(frames(10))
        lines = wait_json(out, 10)
        h.stop()
    th.join(5)
    srv.close()
    data = b"".join(got)
    assert data.endswith(b"\0"), data[-50:]
    msgs = [H.parse5424(x.decode())["msg"] for x in data[:-1].split(b"\0")]
    assert msgs == lines, (len(msgs), len(lines))
    assert outputs(h)["syslog:unix:" + sock] == (10, 0, 0)


@tap.case("bad syslog targets are refused at start with one clear line")
def bad_targets():
    for t in ("http://x", "udp://", "udp://[::1", "tcp://127.0.0.1:0",
              "tcp://127.0.0.1:99999", "tcp://127.0.0.1:x", "unix:",
              "udp://no-such-host.invalid:514", "tcp://2001:db8::1:x"):
        r = H.run_hdrlog(H.topo().ns_a, ["-i", H.dev(), "-o", "syslog:" + t])
        assert r.returncode != 0, t
        errs = [x for x in r.stderr.splitlines() if x.strip()]
        assert len(errs) == 1 and errs[0].startswith("hdrlog: ") and \
            "syslog" in errs[0], (t, r.stderr)


def untimed(lines):
    """JSON records without what two hdrlogs time apart (timestamp,
    duration_ms), comparable as a set."""
    return {json.dumps({k: v for k, v in json.loads(x).items()
                        if k not in ("timestamp", "duration_ms")},
                       sort_keys=True)
            for x in lines}


def bodies3164(msgs):
    """{MSG: message} of RFC 3164 messages."""
    out = {}
    for m in msgs:
        mm = HEAD3164.match(m["raw"])
        assert mm, "not RFC 3164 (%s): %r" % (m["input"], m["raw"][:100])
        out[m["raw"][mm.end():]] = m
    return out


@tap.case("socket events: MSGID socket over TCP (RFC 5424), the socket "
          "record as the body of RFC 3164 over unix; packets keep 'packet'")
def socket_events():
    with Rsyslog("r11") as rs:
        out = fresh("r11.json")
        tcp, unix = "tcp://127.0.0.1:%d" % PORT, "unix:" + rs.sock
        conns = S.conns_spec([(3, 4)], sleep=0.05)
        # a second hdrlog, socket events only (the interface has one XDP
        # program already)
        h3164 = H.Hdrlog(H.topo().ns_a, ["--events", "sockets",
                                         "--syslog-format", "rfc3164",
                                         "-o", "syslog:" + unix])
        h3164.start(wait=False)     # killed at the end (H.track)
        assert h3164.err.wait_for(r"listening", 15), h3164.stderr()
        with hdrlog(["--socket-events", "-o", "json:" + out,
                     "-o", "syslog:" + tcp]) as h5424:
            sinfo, cinfo, port, _, _ = S.exchange(conns, 4, "hlt-scli",
                                                  "hlt-ssrv")
            cport = cinfo[0]["local"][1]
            H.wait_records(out, lambda rs_: len(S.of_conn(rs_, cport,
                                                          port)) >= 4,
                           10, h5424.proc)
            lines = json_lines(out)
            recs = [json.loads(x) for x in lines]
            conn = {id(r) for r in S.of_conn(recs, cport, port)}
            socks = [x for x, r in zip(lines, recs) if id(r) in conn]
            deadline = time.monotonic() + 10
            while not untimed(socks) <= untimed(bodies3164(
                    rs.messages("imuxsock"))) and \
                    time.monotonic() < deadline:
                time.sleep(0.05)
            h5424.stop()
            h3164.stop()
        lines = json_lines(out)
        rs.wait(len(lines), "tcp")
        assert len(socks) == 4, "socket records of the connection: %s" % (
            socks,)
        check5424(rs.messages("tcp"), lines, h5424.proc.pid, where="tcp")
        msgids = {H.parse5424(m["raw"])["msgid"] for m in rs.messages("tcp")}
        assert msgids == {"socket", "packet"}, msgids
        # RFC 3164 has no MSGID: the body is the socket event's record (as
        # the other hdrlog saw it: the same but for the time)
        bodies = untimed(bodies3164(rs.messages("imuxsock")))
        for line in socks:
            assert untimed([line]) <= bodies, \
                "no RFC 3164 message with %s" % line
            assert json.loads(line)["event_type"] == "socket"


def body():
    H.run_tap(tap, need=(RSYSLOGD,), setup=lambda t: H.run(
        [H.IP, "-n", t.ns_a, "link", "set", "lo", "up"]))


if __name__ == "__main__":
    H.main(body)
