#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""
The journal output (-o journal), end to end: frames sent into a veth that
hdrlog watches with -o journal and -o json:FILE at once, the journal read
back with `journalctl -o json`, and every entry compared field by field
with the JSON record of the same frame (names upper-cased, arrays as
repeated fields), plus MESSAGE, PRIORITY, MESSAGE_ID and
SYSLOG_IDENTIFIER.

When no journald listens on /run/systemd/journal/socket, the test runs
/lib/systemd/systemd-journald itself as a plain process in namespace A
(where its socket queue holds 512 datagrams, as systemd's sysctl default
has it) with a drop-in (/run/systemd/journald.conf.d) that keeps the
journal in /run (volatile) and leaves the kernel log alone, and at the end stops it and removes
everything it created. Only then can it stop and restart journald under
a running hdrlog: records sent meanwhile must be counted as lost, and
hdrlog must go on and write again once journald is back.

A run's entries are told apart by hdrlog's _PID and by source addresses
and MACs chosen at random per run.
"""
import json
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hdrlogtest as H  # noqa: E402
import sockpeers as S  # noqa: E402  (the connection peers)

tap = H.Tap()
MAC_KIND = 0x1c              # source MACs 02:1c:... (H.new_mac)
T = {}
JOURNALD = "/lib/systemd/systemd-journald"
JOURNALCTL = shutil.which("journalctl") or "/usr/bin/journalctl"
SOCKET = "/run/systemd/journal/socket"
DROPIN_DIR = "/run/systemd/journald.conf.d"
DROPIN = os.path.join(DROPIN_DIR, "zz-hdrlog-test.conf")
MESSAGE_ID = "5f1e2c9b0d8a4e63a7b4c1d2e3f40516"          # packets
MESSAGE_ID_SOCKET = "82e2240771a2428692829e4a6922dc1f"   # socket events
DST_MAC = "02:00:5e:00:53:01"       # not A's: the stack ignores the frames
A4, A6 = "198.51.100.1", "2001:db8::1"
FIXED = {"SYSLOG_IDENTIFIER", "MESSAGE", "PRIORITY", "MESSAGE_ID"}
RUN_TAG = random.randrange(256)
_ip_seq = [random.randrange(0, 200)]


def new_mac():
    """A fresh source MAC; RUN_TAG keeps it apart from earlier runs' entries
    in a persistent journal."""
    return H.new_mac(MAC_KIND, RUN_TAG)


def new_ip4():
    """A fresh source address in 203.0.113.0/24 (TEST-NET-3)."""
    _ip_seq[0] = _ip_seq[0] % 254 + 1
    return "203.0.113.%d" % _ip_seq[0]


# --------------------------------------------------------------------------
# frames, byte by byte
# --------------------------------------------------------------------------

def eth(src_mac, ether_type, vlans=()):
    h = H.mac_bytes(DST_MAC) + H.mac_bytes(src_mac)
    for i, v in enumerate(vlans):
        tpid = 0x88A8 if i == 0 and len(vlans) > 1 else 0x8100
        h += struct.pack("!HH", tpid, v)
    return h + struct.pack("!H", ether_type)


def ipv4(src, proto, l4, dst=A4, ttl=64, ident=7):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), ident, 0, ttl,
                      proto, 0, socket.inet_aton(src), socket.inet_aton(dst))
    return hdr[:10] + struct.pack("!H", H._csum(hdr)) + hdr[12:] + l4


def ipv6(src, nh, l4, dst=A6, hlim=64):
    return struct.pack("!IHBB16s16s", 6 << 28 | 0x12345, len(l4), nh, hlim,
                       socket.inet_pton(socket.AF_INET6, src),
                       socket.inet_pton(socket.AF_INET6, dst)) + l4


def udp(sport, dport, payload=b"x"):
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def tcp(sport, dport, flags, seq=1000, ack=0, win=64240):
    return struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags,
                       win, 0, 0)


def icmp(type_, code):
    return struct.pack("!BBHHH", type_, code, 0, 1, 1)


def udp4_frame(mac, src, sport=40000, dport=20000, vlans=()):
    return eth(mac, 0x0800, vlans) + ipv4(src, 17, udp(sport, dport))


def udp4_frames(n):
    """n UDP/IPv4 frames, each from a fresh MAC and address."""
    return [udp4_frame(new_mac(), new_ip4()) for _ in range(n)]


# --------------------------------------------------------------------------
# journald
# --------------------------------------------------------------------------

class Journald:
    """A journald this test started (None of it when one was running), in
    namespace A: its socket takes 512 datagrams there (systemd's sysctl
    default), whatever the machine's own namespace allows (the kernel's
    default is 10, and a burst of socket events is more)."""

    def __init__(self, ns):
        self.ns = ns
        self.proc = None
        self.created = []       # paths to remove at the end, deepest last

    def start(self):
        for p in ("/run/systemd", "/run/systemd/journal", "/run/log",
                  "/run/log/journal"):
            if not os.path.exists(p) and p not in self.created:
                self.created.append(p)
        if not os.path.isdir(DROPIN_DIR):
            os.makedirs(DROPIN_DIR)
            self.created.append(DROPIN_DIR)
        with open(DROPIN, "w") as f:
            f.write("[Journal]\nStorage=volatile\nReadKMsg=no\n"
                    "ForwardToSyslog=no\nForwardToWall=no\n")
        if DROPIN not in self.created:
            self.created.append(DROPIN)
        # not H.track()ed: the topology's teardown would SIGKILL it
        # nsenter, not ip netns exec: journald wants the machine's /sys
        # (cgroups); nsenter execs it, so the pid is journald's
        self.proc = subprocess.Popen(
            ["nsenter", "--net=/run/netns/" + self.ns, JOURNALD],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True, cwd="/")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("systemd-journald exited (%s): %s" % (
                    self.proc.returncode, self.proc.stderr.read()[-1000:]))
            if self.listening():
                return
            time.sleep(0.02)
        raise RuntimeError("systemd-journald did not bind %s" % SOCKET)

    def stop(self, remove_socket=False):
        if self.proc:
            H.stop_process(self.proc, signal.SIGTERM)
        self.proc = None
        if remove_socket and os.path.exists(SOCKET):
            os.unlink(SOCKET)

    def cleanup(self):
        self.stop()
        # the directories journald made, then the drop-in: leave /run as
        # it was found
        for p in sorted(self.created, key=len, reverse=True):
            if os.path.isdir(p) and not os.path.islink(p):
                shutil.rmtree(p, ignore_errors=True)
            elif os.path.lexists(p):
                os.unlink(p)

    @staticmethod
    def listening():
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            s.connect(SOCKET)
            return True
        except OSError:
            return False
        finally:
            s.close()


def journal_entries(pid, extra=()):
    """This run's entries (journalctl -o json), as dicts."""
    r = H.run([JOURNALCTL, "-o", "json", "--no-pager", "--all",
               "SYSLOG_IDENTIFIER=hdrlog", "_PID=%d" % pid] + list(extra),
              check=False)
    if r.returncode not in (0, 1):
        raise RuntimeError("journalctl failed (%d): %s" %
                           (r.returncode, r.stderr.strip()))
    return [json.loads(x) for x in r.stdout.splitlines() if x.strip()]


def wait_entries(pid, n, timeout=8.0, extra=()):
    """Poll the journal until at least n entries of pid are there."""
    deadline = time.monotonic() + timeout
    while True:
        got = journal_entries(pid, extra)
        if len(got) >= n or time.monotonic() > deadline:
            return got
        time.sleep(0.1)


# --------------------------------------------------------------------------
# what an entry must hold
# --------------------------------------------------------------------------

TCP_LETTERS = ((0x02, "S"), (0x01, "F"), (0x04, "R"), (0x08, "P"),
               (0x20, "U"), (0x40, "E"), (0x80, "W"), (0x10, "."))


def expected_message(r):
    """MESSAGE as documented (formats/message.h), from the JSON record."""
    def endpoint(ip, port):
        if port not in r:
            return r[ip]
        return ("[%s]:%d" if r["ip_v"] == 6 else "%s:%d") % (r[ip], r[port])

    if r.get("event_type") == "socket":
        return expected_socket_message(r, endpoint)
    if "ip_v" in r:
        m = "%s %s -> %s" % (r["proto"], endpoint("src_ip", "src_port"),
                             endpoint("dest_ip", "dest_port"))
        if "tcp_flags" in r:
            f = int(r["tcp_flags"], 16)
            m += " [%s]" % ("".join(c for b, c in TCP_LETTERS if f & b) or
                            "none")
        if "icmp_type" in r:
            m += " type %d code %d" % (r["icmp_type"], r["icmp_code"])
        if "frag_offset" in r:
            m += " frag %d%s" % (r["frag_offset"],
                                 "+" if r.get("more_fragments") else "")
    elif "ether_type" in r:
        arp = r["ether_type"] == 0x0806
        m = "%s %s -> %s" % ("ARP" if arp else "ether", r["src_mac"],
                             r["dest_mac"])
        if not arp:
            m += " type 0x%04x" % r["ether_type"]
    else:
        m = "frame"
    if "src_lists" in r:
        m += " lists=" + ",".join(r["src_lists"])
    if "dest_lists" in r:
        m += " dest_lists=" + ",".join(r["dest_lists"])
    if r.get("truncated"):
        m += " truncated"
    if r.get("action") == "drop":
        m += " dropped"
    elif r.get("would_drop"):
        m += " would drop"
    if "in_iface" in r:
        m += " on " + r["in_iface"]
    elif "out_iface" in r:
        m += " out " + r["out_iface"]
    return m


def expected_socket_message(r, endpoint):
    """MESSAGE of a socket event as documented (hdrlog(8), OUTPUTS)."""
    m = "%s %s %s -> %s" % (r.get("event", "socket"),
                            r.get("proto", "IPv%d" % r["ip_v"]),
                            endpoint("src_ip", "src_port"),
                            endpoint("dest_ip", "dest_port"))
    if "tcp_state" in r:
        m += " " + r["tcp_state"]
    if "comm" in r or "pid" in r:
        m += " by " + r.get("comm", "")
        if "pid" in r:
            m += "[%d]" % r["pid"]
    if "uid" in r:
        m += " uid %d" % r["uid"]
    if "bytes_sent" in r:
        m += " sent %d" % r["bytes_sent"]
    if "bytes_received" in r:
        m += " received %d" % r["bytes_received"]
    if "duration_ms" in r:
        m += " after %s ms" % r["duration_ms"]
    if "src_lists" in r:
        m += " lists=" + ",".join(r["src_lists"])
    if "dest_lists" in r:
        m += " dest_lists=" + ",".join(r["dest_lists"])
    return m


def expected_priority(r):
    if r.get("action") == "drop" or r.get("would_drop"):
        return "4"
    if "src_lists" in r or "dest_lists" in r:
        return "5"
    return "6"


def as_text(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def repeated(v):
    """A repeated field as journald keeps it: a set. journald stores an
    entry's items sorted by where their data sits in the journal file and
    drops duplicates (journal_file_append_entry), so neither the order nor
    the count of equal values survives; the JSON record checks both.
    journalctl -o json shows a repeated field as an array, a single one as
    a string."""
    if isinstance(v, str):
        return {v}
    if isinstance(v, list):
        return set(v)
    return v


def check_entry(entry, rec, message=True):
    """Differences between a journal entry and the JSON record; MESSAGE
    and PRIORITY too unless message is false."""
    bad = []
    user = {k: v for k, v in entry.items() if not k.startswith("_")}
    for k, v in rec.items():
        key = k.upper()
        want = [as_text(x) for x in v] if isinstance(v, list) \
            else as_text(v)
        got = user.get(key)
        if isinstance(v, list):
            same = repeated(got) == repeated(want)
        else:
            same = got == want
        if not same:
            bad.append("%s: journal %s, JSON %s" % (key, json.dumps(got),
                                                    json.dumps(v)))
    extra = set(user) - FIXED - {k.upper() for k in rec}
    if extra:
        bad.append("fields not in the JSON record: %s" %
                   ", ".join(sorted(extra)))
    fixed = [("SYSLOG_IDENTIFIER", "hdrlog"),
             ("MESSAGE_ID", MESSAGE_ID_SOCKET
              if rec.get("event_type") == "socket" else MESSAGE_ID)]
    if message:
        fixed += [("PRIORITY", expected_priority(rec)),
                  ("MESSAGE", expected_message(rec))]
    for k, want in fixed:
        if user.get(k) != want:
            bad.append("%s: %r, expected %r" % (k, user.get(k), want))
    return bad


def by_mac(items, key):
    out = {}
    for x in items:
        out.setdefault(x.get(key), []).append(x)
    return out


def compare_run(entries, recs, message=True):
    """Every JSON record has exactly one equal journal entry, and no
    entry is left over."""
    ents = by_mac(entries, "SRC_MAC")
    problems = []
    for r in recs:
        mac = r.get("src_mac")
        e = ents.pop(mac, [])
        if len(e) != 1:
            problems.append("%s: %d journal entries" % (mac, len(e)))
            continue
        for b in check_entry(e[0], r, message):
            problems.append("%s: %s" % (mac, b))
    for mac, e in ents.items():
        problems.append("%s: %d journal entries without a JSON record" %
                        (mac, len(e)))
    assert not problems, "\n".join(problems)


class Run:
    """hdrlog with -o journal and -o json:FILE."""

    def __init__(self, name, extra=()):
        self.out = H.path(name + ".json")
        self.h = H.Hdrlog(H.topo().ns_a, ["-i", H.dev(), "-o", "journal", "-o",
                                          "json:" + self.out] + list(extra))

    def __enter__(self):
        self.h.start()
        return self

    def __exit__(self, *exc):
        self.h.kill()
        return False

    @property
    def pid(self):
        return self.h.proc.pid

    def send(self, frames):
        H.topo().send(frames)

    def records(self, n, timeout=6.0):
        recs = H.wait_records(self.out, lambda rs: len(rs) >= n, timeout,
                              self.h.proc)
        assert len(recs) >= n, "%d JSON records, expected %d; stderr:\n%s" \
            % (len(recs), n, self.h.stderr())
        return recs

    def stop(self):
        rc = self.h.stop()
        assert rc == 0, "hdrlog exit %s; stderr:\n%s" % (rc, self.h.stderr())
        return self.h.stderr()


def check_no_loss(stderr):
    assert "records lost (output write errors" not in stderr, stderr
    # several outputs: each says its own losses
    assert not re.search(r"^(?:hdrlog: )?output .*: \d+ written, [1-9]",
                         stderr, re.M), stderr
    assert not re.search(r"^hdrlog: warning: .*journal", stderr, re.M), \
        stderr


# --------------------------------------------------------------------------
# cases
# --------------------------------------------------------------------------

@tap.case("-o journal:TARGET is refused; the journal takes no target")
def _():
    r = H.run_hdrlog(H.topo().ns_a, ["-i", H.dev(), "-o", "journal:/tmp/x",
                                     "-c", "1"], timeout=20)
    assert r.returncode != 0, "exit 0; stderr: %r" % r.stderr
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert any(re.match(r"^hdrlog: .*journal.*no target", x) for x in lines), \
        "no 'hdrlog: ... no target' line: %r" % r.stderr


@tap.case("every field of every entry equals the JSON record's "
          "(IPv4 UDP/TCP/ICMP, IPv6, VLANs, ARP, truncated)")
def _():
    ifname = H.dev()
    frames = []
    facts = {}          # mac -> literal MESSAGE expected

    def add(frame, message=None):
        frames.append(frame)
        if message:
            facts[H.mac_text(frame[6:12])] = message

    src = new_ip4()
    add(eth(new_mac(), 0x0800) + ipv4(src, 6, tcp(51514, 22, 0x02)),
        "TCP %s:51514 -> %s:22 [S] on %s" % (src, A4, ifname))
    add(eth(new_mac(), 0x0800) + ipv4(new_ip4(), 6, tcp(443, 50000, 0x12,
                                                        ack=77)))
    add(eth(new_mac(), 0x0800) + ipv4(new_ip4(), 6, tcp(443, 50001, 0x00)))
    src = new_ip4()
    add(eth(new_mac(), 0x0800) + ipv4(src, 1, icmp(8, 0)),
        "ICMP %s -> %s type 8 code 0 on %s" % (src, A4, ifname))
    add(udp4_frame(new_mac(), new_ip4(), 5353, 53))
    add(udp4_frame(new_mac(), new_ip4(), vlans=(100,)))
    add(udp4_frame(new_mac(), new_ip4(), vlans=(10, 20)))
    src6 = "2001:db8:%x::7" % random.randrange(1, 0xffff)
    add(eth(new_mac(), 0x86DD) + ipv6(src6, 17, udp(4000, 53)),
        "UDP [%s]:4000 -> [%s]:53 on %s" % (src6, A6, ifname))
    add(eth(new_mac(), 0x86DD) + ipv6(src6, 58, icmp(128, 0)))
    mac = new_mac()
    add(H.arp_frame(mac, psrc=new_ip4()),
        "ARP %s -> ff:ff:ff:ff:ff:ff on %s" % (mac, ifname))
    add(eth(new_mac(), 0x0800) + ipv4(new_ip4(), 6, tcp(1, 2, 0x02))[:30])
    with Run("fields") as run:
        run.send(frames)
        recs = run.records(len(frames))
        entries = wait_entries(run.pid, len(frames))
        pid = run.pid
        err = run.stop()
    assert len(recs) == len(frames), "%d records for %d frames" % (
        len(recs), len(frames))
    assert any(r.get("vlan") == [10, 20] for r in recs), recs
    assert any(r.get("truncated") for r in recs), recs
    compare_run(entries, recs)
    # the documented way to look a source up
    one = recs[0]["src_ip"]
    r = H.run([JOURNALCTL, "-o", "json", "--no-pager",
               "SYSLOG_IDENTIFIER=hdrlog", "SRC_IP=" + one,
               "_PID=%d" % pid])
    assert [json.loads(x)["SRC_IP"] for x in r.stdout.splitlines()] == \
        [one], r.stdout
    got = {e["SRC_MAC"]: e["MESSAGE"] for e in entries}
    for mac, want in facts.items():
        assert got.get(mac) == want, "MESSAGE %r, expected %r" % (
            got.get(mac), want)
    vl = [e for e in entries if isinstance(e.get("VLAN"), list)]
    assert len(vl) == 1 and repeated(vl[0]["VLAN"]) == {"10", "20"}, \
        "VLAN of the double-tagged frame: %r" % [e.get("VLAN") for e in vl]
    check_no_loss(err)
    assert H.output_counts(err, "journal") == (len(frames), 0), err


@tap.case("outgoing frames (--direction out): DIRECTION=out, OUT_IFACE, "
          "every field equal to the JSON record's")
def _():
    macs = [new_mac() for _ in range(4)]
    frames = [udp4_frame(m, A4, 40000 + i, 53) for i, m in enumerate(macs)]
    # sent from A's end through AF_PACKET: out through its tc egress
    s = H.ns_socket(H.topo().ns_a, socket.AF_PACKET, socket.SOCK_RAW, 0)
    s.bind((H.dev(), 0))
    # A's own stack sends too (IPv6 router solicitations, MLD reports from
    # its veth's MAC), and those leave through the same egress hook:
    # compare only the frames sent here.
    ours = set(macs)
    with Run("egress", ["--direction", "out"]) as run:
        for f in frames:
            s.send(f)
        recs = H.wait_records(
            run.out, lambda rs: ours <= {r.get("src_mac") for r in rs},
            6.0, run.h.proc)
        recs = [r for r in recs if r.get("src_mac") in ours]
        deadline = time.monotonic() + 8.0
        while True:
            entries = [e for e in journal_entries(run.pid, ())
                       if e.get("SRC_MAC") in ours]
            if len(entries) >= len(frames) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        err = run.stop()
    s.close()
    assert len(recs) == len(frames), recs
    assert all(r["direction"] == "out" and r["out_iface"] == H.dev()
               for r in recs), recs
    compare_run(entries, recs)
    assert all(e.get("DIRECTION") == "out" and
               e.get("OUT_IFACE") == H.dev() and "IN_IFACE" not in e and
               e["MESSAGE"].endswith(" out " + H.dev())
               for e in entries), entries
    check_no_loss(err)


@tap.case("PRIORITY 6 plain, 5 list hit (--taglist), 4 dropped "
          "(--blocklist); list names as repeated SRC_LISTS")
def _():
    tagged, both, blocked, plain = (new_ip4() for _ in range(4))
    t1 = H.path("tag1.list")
    t2 = H.path("tag2.list")
    bl = H.path("block.list")
    with open(t1, "w") as f:
        f.write("%s\n%s\n" % (tagged, both))
    with open(t2, "w") as f:
        f.write("%s\n" % both)
    with open(bl, "w") as f:
        f.write("%s/32\n" % blocked)
    macs = {name: new_mac() for name in ("tagged", "both", "blocked",
                                         "plain")}
    frames = [udp4_frame(macs["tagged"], tagged),
              udp4_frame(macs["both"], both),
              eth(macs["blocked"], 0x0800) + ipv4(blocked, 6,
                                                  tcp(51514, 22, 0x02)),
              udp4_frame(macs["plain"], plain)]
    with Run("lists", ["--taglist", "spamhaus=" + t1, "--taglist",
                       "tor=" + t2, "--blocklist", "bad=" + bl]) as run:
        run.send(frames)
        recs = run.records(len(frames))
        entries = wait_entries(run.pid, len(frames))
        err = run.stop()
    compare_run(entries, recs)
    e = {x["SRC_MAC"]: x for x in entries}
    want = {"tagged": ("5", {"spamhaus"}), "both": ("5", {"spamhaus", "tor"}),
            "blocked": ("4", {"bad"}), "plain": ("6", None)}
    for name, (prio, lists) in want.items():
        x = e[macs[name]]
        assert x["PRIORITY"] == prio, "%s: PRIORITY %s, expected %s" % (
            name, x["PRIORITY"], prio)
        # one SRC_LISTS item per list, in whatever order journald keeps
        assert repeated(x.get("SRC_LISTS")) == lists, "%s: SRC_LISTS %r, " \
            "expected %r" % (name, x.get("SRC_LISTS"), lists)
    m = e[macs["blocked"]]["MESSAGE"]
    assert m == "TCP %s:51514 -> %s:22 [S] lists=bad dropped on %s" % (
        blocked, A4, H.dev()), m
    assert e[macs["both"]]["MESSAGE"].endswith(
        " lists=spamhaus,tor on %s" % H.dev()), e[macs["both"]]["MESSAGE"]
    assert e[macs["plain"]]["ACTION"] == "pass", e[macs["plain"]]
    check_no_loss(err)


@tap.case("--fields: only the chosen fields, plus the four fixed ones")
def _():
    frames = udp4_frames(3)
    with Run("some", ["--fields", "src_mac,src_ip,dest_port"]) as run:
        run.send(frames)
        recs = run.records(len(frames))
        entries = wait_entries(run.pid, len(frames))
        run.stop()
    # MESSAGE shows only the fields chosen (no leak of what --fields
    # leaves out); PRIORITY is made from the whole record
    compare_run(entries, recs, message=False)
    for x in entries:
        user = {k for k in x if not k.startswith("_")}
        assert user == FIXED | {"SRC_MAC", "SRC_IP", "DEST_PORT"}, user
        assert x["PRIORITY"] == "6", x
        assert re.match(r"^IPv4 203\.0\.113\.\d+ -> \?$", x["MESSAGE"]), \
            x["MESSAGE"]


def journal_text(v):
    """A journalctl -o json value as text: a value it cannot show as a
    string comes as an array of byte values (a repeated one as an array
    of those)."""
    if isinstance(v, list) and v and all(isinstance(x, int) for x in v):
        return bytes(v).decode("utf-8", "replace")
    if isinstance(v, list):
        return [journal_text(x) for x in v]
    return v


def socket_run(name, client_name, server_name="hlt-jsrv"):
    """A connect, accept and close between the test namespaces (client in
    B, server in A) under hdrlog -o journal --socket-events: the
    connection's JSON records, its journal entries, the client's and the
    server's own reports and hdrlog's pid."""
    conns = S.conns_spec([(3, 4)], sleep=0.05)
    with Run(name, ["--socket-events"]) as run:
        sinfo, cinfo, port, _, _ = S.exchange(conns, 4, client_name,
                                              server_name)
        cport = cinfo[0]["local"][1]
        # connect and close of the client, accept and close of the server
        recs = H.wait_records(
            run.out, lambda rs: len(S.of_conn(rs, cport, port)) >= 4, 8,
            run.h.proc)
        # numbers as written (duration_ms 51.660), as the journal has them
        with open(run.out) as f:
            recs = [json.loads(x, parse_float=str) for x in f if x.strip()]
        mine = S.of_conn(recs, cport, port)
        entries = wait_entries(run.pid, len(mine), extra=["EVENT_TYPE=socket"])
        pid = run.pid
        err = run.stop()
    check_no_loss(err)
    entries = [{k: journal_text(v) for k, v in x.items()} for x in entries]
    return mine, entries, cinfo[0], sinfo[0], pid


def socket_entry(entries, rec):
    """The journal entry of a socket event record."""
    key = ("EVENT", "SRC_PORT", "DEST_PORT", "PID")
    want = tuple(as_text(rec.get(k.lower())) if k.lower() in rec else None
                 for k in key)
    hits = [x for x in entries if tuple(x.get(k) for k in key) == want]
    assert len(hits) == 1, "%d journal entries for %s among %s" % (
        len(hits), json.dumps(rec), json.dumps(entries)[:3000])
    return hits[0]


@tap.case("a process name with a newline (socket events): sent in the "
          "binary-safe form, read back exactly")
def _():
    name = 'j"nl\\x\ny z'
    mine, entries, cinfo, _, _ = socket_run("newline", name)
    assert cinfo["comm"] == name, cinfo
    named = [r for r in mine if r.get("comm") == name]
    assert {r["event"] for r in named} == {"connect", "close"}, mine
    for r in mine:
        x = socket_entry(entries, r)
        bad = check_entry(x, r)
        assert not bad, "%s\nentry %s\nrecord %s" % (
            "\n".join(bad), json.dumps(x), json.dumps(r))
    for r in named:
        assert socket_entry(entries, r)["COMM"] == name


@tap.case("socket events: their own MESSAGE (what the process did) and "
          "MESSAGE_ID; packet entries of the same run keep the packet's")
def _():
    mine, entries, cinfo, sinfo, pid = socket_run("sockmsg", "hlt-jcli")
    assert sorted(r["event"] for r in mine) == \
        ["accept", "close", "close", "connect"], mine
    port = sinfo["local"][1]
    for r in mine:
        x = socket_entry(entries, r)
        bad = check_entry(x, r)
        assert not bad, "%s\nentry %s\nrecord %s" % (
            "\n".join(bad), json.dumps(x), json.dumps(r))
        assert x["MESSAGE_ID"] == MESSAGE_ID_SOCKET, x
        assert x["PRIORITY"] == "6", x
    # one spelled out: the client's close, from B to the server in A
    close = [r for r in mine if r["event"] == "close" and
             r["comm"] == "hlt-jcli"][0]
    m = socket_entry(entries, close)["MESSAGE"]
    want = r"^close TCP 198\.51\.100\.2:%d -> 198\.51\.100\.1:%d \S+ " \
        r"by hlt-jcli\[%d\] uid 0 sent 3 received 4 after \d+\.\d{3} ms$" \
        % (close["src_port"], port, cinfo["pid"])
    assert re.match(want, m), m
    # the connection's packets crossed the captured veth: packet entries
    pkts = journal_entries(pid, ["EVENT_TYPE=packet",
                                        "DEST_PORT=%d" % port])
    assert pkts, "no packet entries of the connection"
    assert {x["MESSAGE_ID"] for x in pkts} == {MESSAGE_ID}, pkts[0]
    assert all(x["MESSAGE"].startswith("TCP ") for x in pkts), pkts[0]


def journald_queue(jd):
    """Bytes of the next datagram waiting in the socket of journald jd (ss's
    Recv-Q: 0 when the queue is empty), or None when ss does not list it."""
    r = H.run(H.ns_exec(jd.ns, ["ss", "-xanH"]), check=False)
    for line in r.stdout.splitlines():
        f = line.split()
        if len(f) > 4 and f[4] == SOCKET:
            return int(f[2])
    return None


def wait_journald_drained(jd, timeout=10.0):
    deadline = time.monotonic() + timeout
    while journald_queue(jd) != 0:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def own_journald():
    """The journald this test started, or skip the case: one that was
    running already is not stopped."""
    jd = T.get("journald")
    if jd is None:
        raise H.Skip("journald was running already; only one this test "
                     "started is stopped")
    return jd


def outage(run, jd, n_before, remove_socket, warn_rx):
    """Stop journald under a running hdrlog (and remove its socket), send,
    restart it, send. Returns the frames sent while it was away and
    after."""
    h = run.h
    warned = H.count_re(h, warn_rx)
    jd.stop(remove_socket=remove_socket)
    # hdrlog does not watch the socket path: the first record sent meets
    # the error (ECONNREFUSED, or ENOENT without the socket) and warns
    away = udp4_frames(7)
    run.send(away)
    run.records(n_before + len(away))
    assert H.wait_count_re(h, warn_rx, warned + 1) == warned + 1, \
        "expected one more warning matching %r; stderr:\n%s" % (
            warn_rx, h.stderr())
    assert h.proc.poll() is None, "hdrlog exited: " + h.stderr()
    # (start() returns once journald listens: long past hdrlog's 1 ms
    # retry delay after a refusal)
    jd.start()
    back = udp4_frames(5)
    run.send(back)
    run.records(n_before + len(away) + len(back))
    return away, back


@tap.case("journald stopped mid-run: records counted as lost, one warning, "
          "hdrlog goes on and writes again when journald is back")
def _():
    jd = own_journald()
    first = udp4_frames(5)
    info_rx = r"^hdrlog: journald takes records again; (\d+) lost"
    with Run("outage") as run:
        run.send(first)
        run.records(len(first))
        assert len(wait_entries(run.pid, len(first))) == len(first)

        # 1: journald gone, its socket left behind: ECONNREFUSED
        away1, back1 = outage(run, jd, len(first), False,
                              r"^hdrlog: warning: journald is not running")
        # that it works again is said after a calm second
        assert H.wait_count_re(run.h, info_rx, 1) == 1, \
            "no 'takes records again' message; stderr:\n" + run.h.stderr()

        # 2: the socket removed too: ENOENT, which libsystemd would have
        # reported as success
        n = len(first) + len(away1) + len(back1)
        away2, back2 = outage(run, jd, n, True,
                              r"^hdrlog: warning: .*socket is missing")
        assert H.wait_count_re(run.h, info_rx, 2) == 2, \
            "no second 'takes records again' message; stderr:\n" + \
            run.h.stderr()
        got = wait_entries(run.pid, len(first) + len(back1) + len(back2))
        err = run.stop()
    macs = {e["SRC_MAC"] for e in got}
    sent = lambda fs: {H.mac_text(f[6:12]) for f in fs}  # noqa: E731
    assert sent(first + back1 + back2) <= macs, \
        "missing from the journal: %s" % sorted(
            sent(first + back1 + back2) - macs)
    assert not sent(away1 + away2) & macs, "in the journal while it was away"
    lost = len(away1) + len(away2)
    written = len(first) + len(back1) + len(back2)
    assert H.output_counts(err, "journal") == (written, lost), err
    assert H.output_counts(err, "json") == (written + lost, 0), err
    infos = [int(x) for x in re.findall(info_rx, err, re.M)]
    assert infos == [len(away1), len(away2)], \
        "'works again' counts %s; stderr:\n%s" % (infos, err)


@tap.case("journald stalled (SIGSTOP): hdrlog does not wait for it; the "
          "records it refuses are counted, the JSON output has them all")
def _():
    jd = own_journald()
    first = udp4_frames(5)
    # more than the socket queue holds (net.unix.max_dgram_qlen, 512 here)
    flood = udp4_frames(2000)
    last = udp4_frames(5)
    full_rx = r"^hdrlog: warning: journald's queue is full"
    info_rx = r"^hdrlog: journald takes records again; (\d+) lost"
    with Run("stall") as run:
        run.send(first)
        run.records(len(first))
        assert len(wait_entries(run.pid, len(first))) == len(first)
        os.kill(jd.proc.pid, signal.SIGSTOP)
        try:
            run.send(flood)
            # a blocked hdrlog would stop writing JSON too
            run.records(len(first) + len(flood), timeout=10)
            assert H.wait_count_re(run.h, full_rx, 1) == 1, run.h.stderr()
        finally:
            os.kill(jd.proc.pid, signal.SIGCONT)
        # the records after the stall need room in journald's queue
        assert wait_journald_drained(jd), "journald's queue still holds " \
            "datagrams 10 s after SIGCONT"
        run.send(last)
        run.records(len(first) + len(flood) + len(last))
        assert H.wait_count_re(run.h, info_rx, 1) == 1, run.h.stderr()
        err = run.stop()
    written, lost = H.output_counts(err, "journal")
    total = len(first) + len(flood) + len(last)
    assert written + lost == total and lost > 0, err
    assert H.output_counts(err, "json") == (total, 0), err
    assert H.count_re(run.h, full_rx) == 1, err
    n = int(re.search(info_rx, err, re.M).group(1))
    assert n == lost, "'takes records again; %d lost', summary %d" % (n, lost)
    got = wait_entries(run.pid, written)
    assert len(got) == written, "%d entries, %d written" % (len(got),
                                                          written)
    macs = {e["SRC_MAC"] for e in got}
    assert {H.mac_text(f[6:12]) for f in first + last} <= macs, \
        "records before or after the stall missing"
    H.diag("stall: %d of %d records refused" % (lost, len(flood)))


@tap.case("started while journald is away: a warning, records counted as "
          "lost, written once journald is there")
def _():
    jd = own_journald()
    jd.stop(remove_socket=True)
    before = udp4_frames(4)
    after = udp4_frames(3)
    try:
        with Run("late") as run:
            assert re.search(r"^hdrlog: warning: %s is missing" %
                             re.escape(SOCKET), run.h.stderr(), re.M), \
                run.h.stderr()
            run.send(before)
            run.records(len(before))
            jd.start()
            run.send(after)
            run.records(len(before) + len(after))
            got = wait_entries(run.pid, len(after))
            err = run.stop()
    finally:
        if jd.proc is None:
            jd.start()
    assert H.output_counts(err, "journal") == (len(after), len(before)), err
    assert re.search(r"^hdrlog: journald takes records again; %d lost" %
                     len(before), err, re.M), err
    assert {e["SRC_MAC"] for e in got} == \
        {H.mac_text(f[6:12]) for f in after}, got


@tap.case("--log flows: a flow record in the journal, MESSAGE_ID of flows, "
          "a one-line MESSAGE, FLOW_* fields equal to the JSON record's")
def _():
    src = new_ip4()
    mac = new_mac()
    frames = [udp4_frame(mac, src, 40404, 53) for _ in range(3)]
    with Run("flow", ["--log", "flows", "--flow-idle-timeout", "1"]) as run:
        run.send(frames)
        recs = run.records(1, timeout=10)
        got = wait_entries(run.pid, 1, extra=(
            "MESSAGE_ID=4b7e0f3a9c2d4e1f8a6b5c7d9e0f1a2b",))
        run.stop()
    assert len(recs) == 1 and recs[0]["event_type"] == "flow", recs
    r = recs[0]
    assert len(got) == 1, got
    e = got[0]
    assert e["EVENT_TYPE"] == "flow" and e["SRC_IP"] == src, e
    for k, v in r["flow"].items():
        assert e.get("FLOW_" + k.upper()) == as_text(v), (k, e, r)
    assert e["MESSAGE"].startswith("flow UDP %s:40404 -> %s:53 idle 3/" % (
        src, A4)), e["MESSAGE"]
    assert e["MESSAGE"].endswith(" on %s" % H.dev()), e["MESSAGE"]


# --------------------------------------------------------------------------

def start_journald(t):
    if not Journald.listening():
        # (a socket file nobody reads is a leftover: journald replaces it)
        H.Topology.sysctl(t.ns_a, "net.unix.max_dgram_qlen", "512")
        jd = Journald(t.ns_a)
        H.on_cleanup(jd.cleanup)
        jd.start()
        T["journald"] = jd
        H.diag("started %s (volatile, pid %d)" % (JOURNALD, jd.proc.pid))


def body():
    if H.run_tap(tap, need=(JOURNALD, JOURNALCTL), setup=start_journald):
        sys.exit(1)


if __name__ == "__main__":
    H.main(body)
