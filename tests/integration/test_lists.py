#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""
Named CIDR lists, end to end: --blocklist, --taglist, --allowlist,
--monitor, --log listed, --sample with lists, --too-deep, SIGHUP reloads
(also under traffic, also refused ones), SIGUSR1, 64 lists, and the
start-up errors of list files.

What is checked is what a user notices: the records read back (src_lists,
dest_lists, action, would_drop), datagrams counted by a UDP receiver bound
in namespace A, the veth's own XDP drop counter (ethtool -S, read through
the SIOCETHTOOL ioctl), real ping/ping -6 and neighbour tables, and
hdrlog's summary. Frames are built byte by byte here (no scapy); each one
of a case has its own source MAC (02:1b:CASE:..), which is how records
are matched to frames.
"""
import collections
import errno
import ipaddress
import os
import re
import select
import signal
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hdrlogtest as H  # noqa: E402

tap = H.Tap()
MAC_KIND = 0x1b              # source MACs 02:1b:... (H.new_mac)
A4, B4 = "198.51.100.1", "198.51.100.2"
A6, B6 = "2001:db8::1", "2001:db8::2"
FOREIGN_MAC = "02:00:5e:00:53:01"   # not A's: the stack ignores the frame
RPORT = 33999                       # the receiver's UDP port in A


# --------------------------------------------------------------------------
# small helpers
# --------------------------------------------------------------------------

SUM_RE = [
    ("seen", r"(\d+) frames seen"),
    ("written", r"(\d+) records written"),
    ("lost", r"(\d+) records lost \(ring buffer full\)"),
    ("sampled_out", r"(\d+) frames not logged \(sampling\)"),
    ("not_listed", r"(\d+) frames not logged \(--log listed\)"),
    ("too_deep", r"(\d+) frames with headers deeper than parsed"),
    ("passed", r"(\d+) frames passed"),
    ("dropped_block", r"(\d+) frames dropped \(block lists\)"),
    ("dropped_allow", r"(\d+) frames dropped \(in no allow list\)"),
    ("dropped_deep", r"(\d+) frames dropped \(headers deeper than parsed\)"),
    ("would_drop",
     r"(\d+) frames that would have been dropped \(--monitor\)"),
]


def parse_summary(text):
    """Summary lines of text (the last value of each wins); list hits
    under 'lists' as {name: (source hits, destination hits)}."""
    out = {"lists": {}}
    for line in text.splitlines():
        line = re.sub(r"^hdrlog:\s*", "", line.strip())
        for key, rx in SUM_RE:
            m = re.match("^" + rx + "$", line)
            if m:
                out[key] = int(m.group(1))
        m = re.match(r"^list (\S+): (\d+) source hits, (\d+) destination "
                     r"hits$", line)
        if m:
            out["lists"][m.group(1)] = (int(m.group(2)), int(m.group(3)))
    return out


def settle(out, n_min=0, timeout=6.0, quiet=0.5):
    """Records of out once at least n_min are there and the file has
    stopped growing for `quiet` seconds (bounded by timeout)."""
    deadline = time.monotonic() + timeout
    last, since = -1, time.monotonic()
    recs = []
    while time.monotonic() < deadline:
        recs = H.read_json_lines(out)
        if len(recs) != last:
            last, since = len(recs), time.monotonic()
        elif len(recs) >= n_min and time.monotonic() - since >= quiet:
            break
        time.sleep(0.05)
    return recs


class Run:
    """hdrlog in A with lists; records in a fresh file. Through XDP unless
    extra says --attach-ingress: these cases count the veth's XDP drops,
    and on a veth auto would take tc."""

    def __init__(self, name, list_args, extra=()):
        self.out = H.path(name + ".json")
        if os.path.exists(self.out):
            os.unlink(self.out)
        hook = [] if "--attach-ingress" in extra else \
            ["--attach-ingress", "xdp"]
        self.h = H.Hdrlog(H.topo().ns_a, ["-i", H.dev(), "-o", "json:" +
                                          self.out] + hook + list(extra) +
                          list(list_args))

    def __enter__(self):
        self.drops0 = H.xdp_drops()
        self.h.start()
        return self

    def __exit__(self, *exc):
        self.h.kill()
        return False

    def records(self, n_min=0, timeout=6.0):
        return settle(self.out, n_min, timeout)

    def stop(self):
        rc = self.h.stop()
        assert rc == 0, "hdrlog exit %s; stderr:\n%s" % (rc, self.h.stderr())
        self.summary = parse_summary(self.h.stderr())
        d = H.xdp_drops()
        self.xdp_dropped = None if d is None or self.drops0 is None \
            else d - self.drops0
        return self.summary


def by_mac(recs):
    out = collections.defaultdict(list)
    for r in recs:
        out[r.get("src_mac")].append(r)
    return out


def check_accounting(s, recs=None):
    """Every frame seen was either passed or dropped for one reason; with
    every frame logged, the counters match the records' actions."""
    total = s.get("passed", 0) + s.get("dropped_block", 0) + \
        s.get("dropped_allow", 0) + s.get("dropped_deep", 0)
    why = ""
    if recs is not None and s.get("written") == s.get("seen") == len(recs):
        acts = collections.Counter(r.get("action") for r in recs)
        un = collections.Counter(
            "ARP" if r.get("ether_type") == 2054 else
            "ICMPv6 %s" % r.get("icmp_type") for r in recs
            if r.get("action") == "pass" and (
                r.get("ether_type") == 2054 or 133 <= (r.get(
                    "icmp_type") or 0) <= 137 and r.get("ip_v") == 6))
        why = "; records: %d with action pass (of them ARP/ND: %s), %d " \
            "with action drop" % (acts["pass"], dict(un), acts["drop"])
        assert acts["pass"] == s.get("passed"), \
            "summary says %s frames passed%s" % (s.get("passed"), why)
    assert total == s.get("seen"), \
        "passed + dropped (block, allow, deep) = %d, frames seen %s%s" \
        % (total, s.get("seen"), why)


def check_xdp_drops(run, want):
    # veth reports its XDP drops (ethtool -S: rx_queue_N_xdp_drops) on the
    # kernels the tests run on (this one, check-vm's 6.1)
    assert run.xdp_dropped is not None, \
        "veth XDP drop counter unreadable: the kernel's count of drops " \
        "cannot be checked"
    assert run.xdp_dropped == want, \
        "veth counted %d XDP drops, expected %d" % (run.xdp_dropped, want)


# --------------------------------------------------------------------------
# frames, byte by byte
# --------------------------------------------------------------------------

def mac_b(m):
    return H.mac_bytes(m)


def eth(src_mac, payload, et, dst_mac=None, vlans=()):
    """Ethernet frame; vlans = [(tpid, vid), ...] outer first."""
    out = mac_b(dst_mac or FOREIGN_MAC) + mac_b(src_mac)
    for tpid, vid in vlans:
        out += struct.pack("!HH", tpid, vid)
    return out + struct.pack("!H", et) + payload


def ip4(src, dst, proto, payload, ident=1, options=b"", frag=0, mf=False,
        ttl=64):
    assert len(options) % 4 == 0
    ihl = 5 + len(options) // 4
    fo = (frag // 8) | (0x2000 if mf else 0)
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0,
                      ihl * 4 + len(payload), ident, fo, ttl, proto, 0,
                      socket.inet_aton(src), socket.inet_aton(dst)) + options
    hdr = hdr[:10] + struct.pack("!H", H._csum(hdr)) + hdr[12:]
    return hdr + payload


def ip6(src, dst, nh, payload, hlim=64, fl=0):
    return struct.pack("!IHBB16s16s", 0x60000000 | fl, len(payload), nh,
                       hlim, socket.inet_pton(socket.AF_INET6, src),
                       socket.inet_pton(socket.AF_INET6, dst)) + payload


def _pseudo(src, dst, proto, length):
    if ":" in src:
        return (socket.inet_pton(socket.AF_INET6, src) +
                socket.inet_pton(socket.AF_INET6, dst) +
                struct.pack("!I3xB", length, proto))
    return (socket.inet_aton(src) + socket.inet_aton(dst) +
            struct.pack("!xBH", proto, length))


def udp(src, dst, sport=40000, dport=RPORT, payload=b"x"):
    """UDP header+payload with a correct checksum for src/dst."""
    n = 8 + len(payload)
    u = struct.pack("!HHHH", sport, dport, n, 0) + payload
    c = H._csum(_pseudo(src, dst, 17, n) + u) or 0xFFFF
    return u[:6] + struct.pack("!H", c) + u[8:]


def icmp6(src, dst, typ, code, body):
    m = struct.pack("!BBH", typ, code, 0) + body
    c = H._csum(_pseudo(src, dst, 58, len(m)) + m)
    return m[:2] + struct.pack("!H", c) + m[4:]


def icmp4_echo(ident=1, seq=1):
    m = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + b"ping"
    return m[:2] + struct.pack("!H", H._csum(m)) + m[4:]


def udp4_frame(mac, src, dst=A4, dst_mac=None, sport=40000, dport=RPORT,
               vlans=(), ident=1):
    return eth(mac, ip4(src, dst, 17, udp(src, dst, sport, dport),
                        ident=ident), 0x0800, dst_mac, vlans)


def udp6_frame(mac, src, dst=A6, dst_mac=None, sport=40000, dport=RPORT,
               vlans=(), fl=0):
    return eth(mac, ip6(src, dst, 17, udp(src, dst, sport, dport), fl=fl),
               0x86DD, dst_mac, vlans)


def udp_frame(mac, src, dst=None, **kw):
    if ":" in src:
        return udp6_frame(mac, src, dst or A6, **kw)
    return udp4_frame(mac, src, dst or A4, **kw)


def x_opts(nh):
    """Hop-by-hop / destination options header: PadN, 8 bytes."""
    return bytes([nh, 0, 1, 4, 0, 0, 0, 0])


def x_route(nh):
    """Routing header type 0, one address, segments left 0 (24 bytes)."""
    return bytes([nh, 2, 0, 0, 0, 0, 0, 0]) + \
        socket.inet_pton(socket.AF_INET6, "2001:db8::99")


def x_ah(nh):
    """AH, 12 fixed bytes + 12 ICV bytes (payload len 4)."""
    return bytes([nh, 4, 0, 0]) + struct.pack("!II", 0x100, 1) + \
        b"\xaa" * 12


def x_frag(nh, off, more, ident=0x1234):
    return struct.pack("!BBHI", nh, 0, (off // 8) << 3 | int(more), ident)


# --------------------------------------------------------------------------
# a UDP receiver in namespace A
# --------------------------------------------------------------------------

class Receiver:
    """UDP sockets in A on port RPORT (IPv4 and IPv6); counts datagrams
    by source address."""

    def __init__(self):
        ns = H.topo().ns_a
        self.s4 = H.ns_socket(ns, socket.AF_INET, socket.SOCK_DGRAM)
        self.s4.bind(("0.0.0.0", RPORT))
        self.s6 = H.ns_socket(ns, socket.AF_INET6, socket.SOCK_DGRAM)
        self.s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        self.s6.bind(("::", RPORT))
        for s in (self.s4, self.s6):
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
            s.setblocking(False)
        self.count = collections.Counter()

    def drain(self, quiet=0.3, timeout=5.0):
        """Read until nothing came for `quiet` seconds; the counts."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r, _, _ = select.select([self.s4, self.s6], [], [], quiet)
            if not r:
                break
            for s in r:
                while True:
                    try:
                        _, addr = s.recvfrom(2048)
                    except BlockingIOError:
                        break
                    self.count[ipaddress.ip_address(
                        addr[0].split("%")[0]).compressed] += 1
        return self.count

    def close(self):
        self.s4.close()
        self.s6.close()


# --------------------------------------------------------------------------
# cases
# --------------------------------------------------------------------------

@tap.case("overlapping lists: every covering list named, sorted; "
          "unlisted records have action only")
def _():
    # nest: zeta /16 > alpha /24 > mid /32 (names sort the other way);
    # edge is the /24 next to alpha's. Spamhaus/FireHOL style comments.
    zeta = H.write_list("zeta.txt", ["; Spamhaus DROP style", "",
                                     "10.20.0.0/16 ; SBL1",
                                     "10.20.30.0/25",  # nested in its own /16
                                     "2001:db8:100::/48 ; SBL2"])
    alpha = H.write_list("alpha.netset", ["# FireHOL style", "10.20.30.0/24",
                                          "2001:db8:100:200::/64"])
    mid = H.write_list("mid.txt", ["10.20.30.40",
                                   "  2001:db8:100:200::40/128  ", "# end"])
    edge = H.write_list("edge.list", ["10.20.31.0/24"])
    cases = [  # (src, dst, src_lists, dest_lists)
        ("10.20.30.40", A4, ["alpha", "mid", "zeta"], None),
        ("10.20.30.41", A4, ["alpha", "zeta"], None),
        ("10.20.30.0", A4, ["alpha", "zeta"], None),
        ("10.20.30.255", A4, ["alpha", "zeta"], None),
        ("10.20.31.0", A4, ["edge", "zeta"], None),
        ("10.20.29.255", A4, ["zeta"], None),
        ("10.20.255.255", A4, ["zeta"], None),
        ("10.20.0.0", A4, ["zeta"], None),
        ("10.19.255.255", A4, None, None),
        ("10.21.0.0", A4, None, None),
        (B4, "10.20.30.40", None, ["alpha", "mid", "zeta"]),
        ("10.20.30.40", "10.20.31.7", ["alpha", "mid", "zeta"],
         ["edge", "zeta"]),
        ("2001:db8:100:200::40", A6, ["alpha", "mid", "zeta"], None),
        ("2001:db8:100:200::41", A6, ["alpha", "zeta"], None),
        ("2001:db8:100:200:ffff:ffff:ffff:ffff", A6, ["alpha", "zeta"],
         None),
        ("2001:db8:100:201::", A6, ["zeta"], None),
        ("2001:db8:100:ffff::1", A6, ["zeta"], None),
        ("2001:db8:101::", A6, None, None),
        ("2001:db8:ff:ffff:ffff:ffff:ffff:ffff", A6, None, None),
        (A6, "2001:db8:100:200::40", None, ["alpha", "mid", "zeta"]),
        # IPv4-mapped addresses in IPv6 frames match the IPv4 entries
        ("::ffff:10.20.30.40", "::ffff:10.20.31.1", ["alpha", "mid", "zeta"],
         ["edge", "zeta"]),
        ("::ffff:10.21.0.1", A6, None, None),
    ]
    ms = H.macs(len(cases), MAC_KIND, 1)
    frames = [udp_frame(m, s, d) for m, (s, d, _, _) in zip(ms, cases)]
    args = ["--taglist", zeta, "--taglist", alpha, "--taglist", mid,
            "--taglist", edge]
    with Run("tags", args) as run:
        H.topo().send(frames)
        recs = run.records(len(frames))
        s = run.stop()
    got = by_mac(recs)
    bad = []
    for m, f, (src, dst, sl, dl) in zip(ms, frames, cases):
        rs = got.get(m, [])
        if len(rs) != 1:
            bad.append("%s -> %s: %d records" % (src, dst, len(rs)))
            continue
        want = H.expected_record(f, H.dev(), H.pair().a_ifindex)
        if sl:
            want["src_lists"] = sl
        if dl:
            want["dest_lists"] = dl
        want["action"] = "pass"
        d = H.diff_record(rs[0], want)
        if d:
            bad.append("%s -> %s: %s" % (src, dst, "; ".join(d)))
    assert not bad, "\n".join(bad)
    hits = {n: [0, 0] for n in ("zeta", "alpha", "mid", "edge")}
    for _, _, sl, dl in cases:
        for n in sl or ():
            hits[n][0] += 1
        for n in dl or ():
            hits[n][1] += 1
    for n, (sh, dh) in hits.items():
        assert s["lists"].get(n) == (sh, dh), \
            "list %s: summary %s, expected %d source, %d destination hits" \
            % (n, s["lists"].get(n), sh, dh)


def lists_holding(addr, lists):
    """Sorted names of the lists (name: [prefix text]) covering addr."""
    a = ipaddress.ip_address(addr)
    return sorted(n for n, nets in lists.items()
                  if any(a.version == ipaddress.ip_network(x, False).version
                         and a in ipaddress.ip_network(x, False)
                         for x in nets)) or None


@tap.case("range-table edges: /0, ends of the address space, bucket "
          "boundaries, dense /32s and /128s")
def _():
    lists = {
        "world": ["0.0.0.0/0", "::/0"],
        "top": ["255.255.255.255/32",
                "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128"],
        "bottom": ["0.0.0.0/32", "::/128"],
        "wide": ["8.0.0.0/7", "2001:db8::/32"],
        "bkt": ["172.16.16.0/20", "172.16.40.0/21", "2001:db8:5::/48"],
        "dense": ["192.168.1.%d/32" % i for i in range(0, 256, 2)] +
                 ["2001:db8:d::%x/128" % i for i in range(0, 128, 2)],
    }
    args = []
    for n, nets in lists.items():
        args += ["--taglist", "%s=%s" % (n, H.write_list("edge-%s.txt" % n,
                                                         nets))]
    srcs = ["0.0.0.0", "255.255.255.255", "255.255.255.254", "7.255.255.255",
            "8.0.0.0", "9.255.255.255", "10.0.0.0", "172.16.15.255",
            "172.16.16.0", "172.16.31.255", "172.16.32.0", "172.16.39.255",
            "172.16.40.0", "172.16.47.255", "172.16.48.0", "192.168.0.255",
            "192.168.2.0"] + ["192.168.1.%d" % i for i in
                              (0, 1, 2, 3, 63, 64, 127, 128, 200, 253, 254,
                               255)] + \
        ["::", "::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
         "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe",
         "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", "2001:db8::",
         "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", "2001:db9::",
         "2001:db8:4:ffff:ffff:ffff:ffff:ffff", "2001:db8:5::",
         "2001:db8:5:ffff:ffff:ffff:ffff:ffff", "2001:db8:6::"] + \
        ["2001:db8:d::%x" % i for i in (0, 1, 2, 0x3f, 0x40, 0x7e, 0x7f,
                                         0x80)]
    plan = []
    for src in srcs:
        m = H.macs(1, MAC_KIND, 15)[0]
        plan.append((m, src, udp_frame(m, src)))
    m_bc = H.macs(1, MAC_KIND, 15)[0]
    plan.append((m_bc, B4, udp4_frame(m_bc, B4, dst="255.255.255.255")))
    with Run("edges", args) as run:
        H.topo().send([f for _, _, f in plan])
        recs = run.records(len(plan))
        run.stop()
    g = by_mac(recs)
    bad = []
    for m, src, f in plan:
        rs = g.get(m, [])
        dst = "255.255.255.255" if m == m_bc else (A6 if ":" in src else A4)
        want = (lists_holding(src, lists), lists_holding(dst, lists), "pass")
        if len(rs) != 1:
            bad.append("%s: %d records" % (src, len(rs)))
            continue
        got = (rs[0].get("src_lists"), rs[0].get("dest_lists"),
               rs[0].get("action"))
        if got != want:
            bad.append("%s -> %s: got src_lists %s dest_lists %s action %s, "
                       "expected %s %s %s" % ((src, dst) + got + want))
    assert not bad, "\n".join(bad)


def _merged(nets):
    """Sorted, merged [lo, hi] integer ranges of prefixes of one family."""
    rs = sorted((int(n.network_address), int(n.broadcast_address))
                for n in nets)
    out = []
    for lo, hi in rs:
        if out and lo <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return out


def _in(ranges, x):
    import bisect
    i = bisect.bisect_right(ranges, [x, float("inf")]) - 1
    return i >= 0 and ranges[i][0] <= x <= ranges[i][1]


def probe_lists(name, args, plan):
    """Send plan's frames ((mac, address, frame, lists wanted) each) to a
    hdrlog with args: each frame's one record names exactly the lists
    wanted as its source's."""
    with Run(name, args) as run:
        H.topo().send([f for _, _, f, _ in plan])
        recs = run.records(len(plan), timeout=10)
        run.stop()
    g = by_mac(recs)
    bad = []
    for m, a, f, want in plan:
        rs = g.get(m, [])
        if len(rs) != 1 or rs[0].get("src_lists") != want:
            bad.append("%s: expected %s, got %s" % (
                a, want, [r.get("src_lists") for r in rs]))
    H.diag("%d probes, %d listed" % (len(plan), sum(1 for p in plan
                                                     if p[3])))
    assert not bad, "%d of %d wrong:\n%s" % (len(bad), len(plan),
                                            "\n".join(bad[:15]))


@tap.case("many random prefixes (3 lists, 12000 entries): lookups agree "
          "with a reference at boundaries and random addresses")
def _():
    import random
    rng = random.Random(20261126)
    names = ["ra", "rb", "rc"]
    nets = {n: [] for n in names}
    for n in names:
        for _ in range(3000):
            ln = rng.choice([8, 12, 16, 19, 20, 21, 22, 24, 24, 24, 28, 30,
                             31, 32, 32, 32])
            a = rng.getrandbits(32)
            nets[n].append(ipaddress.ip_network((a >> (32 - ln) <<
                                                 (32 - ln), ln)))
        for _ in range(1000):
            ln = rng.choice([16, 29, 32, 44, 48, 48, 56, 64, 64, 96, 127, 128])
            hi = 0x20010db8 if rng.random() < 0.7 else rng.getrandbits(32)
            a = hi << 96 | rng.getrandbits(96)
            if ln <= 32:
                a = rng.getrandbits(128)
            nets[n].append(ipaddress.ip_network((a >> (128 - ln) <<
                                                 (128 - ln), ln)))
    ranges = {(n, v): _merged([x for x in nets[n] if x.version == v])
              for n in names for v in (4, 6)}
    args = []
    for n in names:
        p = H.write_list("rand-%s.txt" % n, [str(x) for x in nets[n]])
        args += ["--taglist", "%s=%s" % (n, p)]
    probes = set()
    for _ in range(120):
        x = rng.choice(nets[rng.choice(names)])
        top = (1 << x.max_prefixlen) - 1
        for a in (int(x.network_address) - 1, int(x.network_address),
                  int(x.broadcast_address), int(x.broadcast_address) + 1):
            if 0 <= a <= top:
                probes.add(ipaddress.ip_address(a) if x.version == 6 or
                           a > 0xFFFFFFFF else ipaddress.IPv4Address(a))
    for _ in range(60):
        probes.add(ipaddress.IPv4Address(rng.getrandbits(32)))
        probes.add(ipaddress.IPv6Address(0x20010db8 << 96 |
                                         rng.getrandbits(96)))
    probes = sorted(probes, key=lambda a: (a.version, int(a)))
    plan = []
    for a in probes:
        m = H.macs(1, MAC_KIND, 16)[0]
        want = [n for n in names if _in(ranges[(n, a.version)], int(a))]
        plan.append((m, str(a), udp_frame(m, str(a)), want or None))
    probe_lists("random", args, plan)


@tap.case("a four-level search: 150,000 IPv6 prefixes in one /20 chunk, "
          "lookups agree with a reference at boundaries and random addresses")
def _():
    # About 300,000 ranges in the chunk of 2001:db8::, more than 64^3: the
    # kernel's search goes down four nodes of the tree (record.h), which
    # the random case above, with a few thousand, does not reach.
    import random
    rng = random.Random(20261201)
    names = ["da", "db"]
    nets = {n: set() for n in names}
    for i in range(150000):
        ln = 48 + rng.getrandbits(7) % 81
        a = (0x20010db8 << 96 | rng.getrandbits(96)) >> (128 - ln) << (128 - ln)
        nets[names[i % 2]].add((a, ln))
    ranges = {n: _merged([ipaddress.ip_network(x) for x in nets[n]])
              for n in names}
    args = []
    for n in names:
        p = H.write_list("deep-%s.txt" % n, ["%s/%d" % (
            ipaddress.IPv6Address(a), ln) for a, ln in sorted(nets[n])])
        args += ["--taglist", "%s=%s" % (n, p)]
    probes = set()
    for _ in range(150):
        a, ln = rng.choice(sorted(nets[rng.choice(names)]))
        end = a | ((1 << (128 - ln)) - 1)
        probes.update((a - 1, a, end, end + 1))
    for _ in range(100):
        probes.add(0x20010db8 << 96 | rng.getrandbits(96))
    plan = []
    for a in sorted(probes):
        m = H.macs(1, MAC_KIND, 17)[0]
        want = [n for n in names if _in(ranges[n], a)]
        s = str(ipaddress.IPv6Address(a))
        plan.append((m, s, udp_frame(m, s), want or None))
    probe_lists("deep", args, plan)


@tap.case("block list: a receiver in A gets allowed sources only; "
          "XDP drop counter and summary agree")
def _():
    bl = H.write_list("bad.txt", ["203.0.113.0/24", "2001:db8:bad::/48"])
    n = 20
    srcs = {"192.0.2.10": False, "203.0.113.10": True,
            "2001:db8:900::10": False, "2001:db8:bad::10": True}
    rx = Receiver()
    try:
        with Run("block", ["--blocklist", bl]) as run:
            frames = []
            tag = {}
            for i in range(n):
                for src in srcs:
                    m = H.macs(1, MAC_KIND, 2)[0]
                    tag[m] = src
                    frames.append(udp_frame(m, src, dst_mac=H.pair().a_mac))
            H.topo().send(frames)
            count = rx.drain()
            recs = run.records(len(frames))
            s = run.stop()
    finally:
        rx.close()
    H.diag("receiver: %s; summary %s; xdp drops %s" % (
        dict(count), s, run.xdp_dropped))
    for src, blocked in srcs.items():
        want = 0 if blocked else n
        assert count[src] == want, \
            "receiver got %d datagrams from %s, expected %d" % (
                count[src], src, want)
    bad = []
    for r in recs:
        src = tag.get(r.get("src_mac"))
        if src is None:
            continue
        blocked = srcs[src]
        w = ("drop", ["bad"]) if blocked else ("pass", None)
        if (r.get("action"), r.get("src_lists")) != w:
            bad.append("%s: action %s src_lists %s, expected %s" % (
                src, r.get("action"), r.get("src_lists"), w))
    assert not bad, "\n".join(bad[:10])
    assert len([r for r in recs if r.get("src_mac") in tag]) == len(frames)
    assert s.get("dropped_block") == 2 * n, "summary: %s" % s
    assert s.get("dropped_allow") == 0, "summary: %s" % s
    assert s.get("passed") == s["seen"] - 2 * n, "summary: %s" % s
    assert s["lists"].get("bad") == (2 * n, 0), "summary: %s" % s
    check_accounting(s, recs)
    check_xdp_drops(run, 2 * n)


@tap.case(":any also drops on destination; a plain block list does not")
def _():
    # plain: A's IPv4 address (destination of everything below)
    plain = H.write_list("plain.txt", [A4 + "/32"])
    # any: A's IPv6 address, and a source range
    anyl = H.write_list("any.txt", [A6 + "/128", "203.0.113.0/24"])
    n = 10
    rx = Receiver()
    try:
        with Run("any", ["--blocklist", plain,
                         "--blocklist", "anyl=" + anyl + ":any"]) as run:
            m4, m6, mb = H.macs(3, MAC_KIND, 3)
            frames = []
            for _ in range(n):
                frames += [udp4_frame(m4, "192.0.2.7", dst_mac=H.pair().a_mac),
                           udp6_frame(m6, "2001:db8:900::7",
                                      dst_mac=H.pair().a_mac),
                           udp4_frame(mb, "203.0.113.7",
                                      dst_mac=H.pair().a_mac)]
            H.topo().send(frames)
            count = rx.drain()
            recs = run.records(len(frames))
            s = run.stop()
    finally:
        rx.close()
    H.diag("receiver: %s; summary %s" % (dict(count), s))
    assert count["192.0.2.7"] == n, \
        "destination in a plain block list: receiver got %d of %d" % (
            count["192.0.2.7"], n)
    assert count["2001:db8:900::7"] == 0, \
        "destination in an :any block list: receiver got %d (expected 0)" \
        % count["2001:db8:900::7"]
    assert count["203.0.113.7"] == 0, \
        "source in an :any block list: receiver got %d" % count["203.0.113.7"]
    g = by_mac(recs)
    want = {m4: ("pass", None, ["plain"]), m6: ("drop", None, ["anyl"]),
            mb: ("drop", ["anyl"], ["plain"])}
    for m, w in want.items():
        assert len(g[m]) == n, "%s: %d records" % (w, len(g[m]))
        for r in g[m]:
            got = (r.get("action"), r.get("src_lists"), r.get("dest_lists"))
            assert got == w, "record %s: got %s, expected %s" % (
                r.get("src_ip"), got, w)
    assert s.get("dropped_block") == 2 * n, "summary %s" % s
    assert s["lists"].get("plain") == (0, 2 * n), "summary %s" % s
    assert s["lists"].get("anyl") == (n, n), "summary %s" % s
    check_xdp_drops(run, 2 * n)


def neigh(ns, dev_, family):
    r = H.run([H.IP, "-%d" % family, "-n", ns, "neigh", "show", "dev", dev_])
    return r.stdout


@tap.case("allow list: ping and ping -6 work, ARP/ND pass unlisted, "
          "unlisted sources dropped")
def _():
    t = H.topo()
    p = H.pair()
    allow = H.write_list("lan.txt", [B4, B6, "192.0.2.0/24"])
    deny = H.write_list("deny.txt", ["192.0.2.66"])
    # B gets IPv6 for ping -6 for this case only
    t.sysctl(t.ns_b, "net.ipv6.conf.%s.disable_ipv6" % p.b, "0")
    try:
        H.run([H.IP, "-n", t.ns_b, "addr", "add", B6 + "/64", "dev", p.b,
               "nodad"])
        for ns, d in ((t.ns_a, p.a), (t.ns_b, p.b)):
            H.run([H.IP, "-n", ns, "neigh", "flush", "dev", d], check=False)
        rx = Receiver()
        try:
            with Run("allow", ["--allowlist", allow,
                               "--blocklist", deny]) as run:
                pings = []
                for cmd in (["ping", "-c", "3", "-i", "0.2", "-W", "2", A4],
                            ["ping", "-6", "-c", "3", "-i", "0.2", "-W", "2",
                             A6]):
                    pings.append(H.run(H.ns_exec(t.ns_b, cmd), check=False,
                                       timeout=20))
                # unlisted ARP and ND from B's MAC: A must answer/learn
                mb = p.b_mac
                arp = H.arp_frame(mb, psrc="198.51.100.50", pdst=A4)
                lla = "fe80::bad:1"
                nd_src = "2001:db8::77"
                slla = b"\x01\x01" + mac_b(mb)
                tgt = socket.inet_pton(socket.AF_INET6, A6)
                snm = "ff02::1:ff00:1"
                nd = {
                    133: (lla, "ff02::2", b"\0" * 4 + slla),
                    134: (lla, "ff02::1", struct.pack("!BBHII", 64, 0, 0, 0,
                                                      0)),
                    135: (nd_src, snm, b"\0" * 4 + tgt + slla),
                    136: (lla, "ff02::1", struct.pack("!I", 0x20000000) +
                          socket.inet_pton(socket.AF_INET6, "fe80::bad:9") +
                          b"\x02\x01" + mac_b(mb)),
                    137: (lla, A6, b"\0" * 4 + tgt + tgt),
                }
                nd_macs = H.macs(len(nd), MAC_KIND, 4)
                frames = [arp]
                for m, (typ, (s6, d6, body)) in zip(nd_macs, nd.items()):
                    dm = "33:33:" + ":".join("%02x" % x for x in
                                             socket.inet_pton(
                                                 socket.AF_INET6, d6)[-4:])
                    if d6 == A6:
                        dm = p.a_mac
                    frames.append(eth(m, ip6(s6, d6, 58,
                                             icmp6(s6, d6, typ, 0, body),
                                             hlim=255), 0x86DD, dm))
                # not exempt: echo from an unlisted link-local, and a
                # non-first fragment whose payload looks like an NS
                m_echo, m_frag, m_un, m_ok, m_deny = H.macs(5, MAC_KIND, 4)
                frames.append(eth(m_echo, ip6(lla, A6, 58, icmp6(
                    lla, A6, 128, 0, b"\0\1\0\1")), 0x86DD, p.a_mac))
                frames.append(eth(m_frag, ip6(lla, A6, 44, x_frag(
                    58, 8, False) + bytes([135, 0, 0, 0]) + b"\0" * 20),
                    0x86DD, p.a_mac))
                # more that must be dropped: ICMP-looking-like-NS over
                # IPv4 (proto 58), and an unlisted source behind a VLAN tag;
                # and what must pass: ND behind a VLAN tag, a non-IP frame
                m_p58, m_vl, m_vnd, m_nonip = H.macs(4, MAC_KIND, 4)
                frames.append(eth(m_p58, ip4("203.0.113.9", A4, 58, bytes(
                    [135, 0, 0, 0]) + b"\0" * 20), 0x0800, p.a_mac))
                frames.append(udp4_frame(m_vl, "203.0.113.9", dst_mac=p.a_mac,
                                         vlans=[(0x8100, 9)]))
                frames.append(eth(m_vnd, ip6(lla, snm, 58, icmp6(
                    lla, snm, 135, 0, b"\0" * 4 + tgt + slla), hlim=255),
                    0x86DD, "33:33:ff:00:00:01", vlans=[(0x8100, 9)]))
                frames.append(eth(m_nonip, b"\0" * 46, 0x88B5, p.a_mac))
                n = 10
                for _ in range(n):
                    frames += [udp4_frame(m_un, "203.0.113.9",
                                          dst_mac=p.a_mac),
                               udp4_frame(m_ok, "192.0.2.65",
                                          dst_mac=p.a_mac),
                               udp4_frame(m_deny, "192.0.2.66",
                                          dst_mac=p.a_mac)]
                t.send(frames)
                count = rx.drain()
                # what A learned from the unlisted ARP request and NS
                deadline = time.monotonic() + 5
                while True:
                    n4 = neigh(t.ns_a, p.a, 4)
                    n6 = neigh(t.ns_a, p.a, 6)
                    if "198.51.100.50" in n4 and nd_src in n6 or \
                            time.monotonic() > deadline:
                        break
                    time.sleep(0.05)
                run.records()
                # the records after the stop, which writes every frame
                # the kernel took: B's own IPv6 frames (MLD reports, an
                # NS) may come at any time, and one between a read
                # before the stop and the summary made them disagree
                s = run.stop()
                recs = H.read_json_lines(run.out)
        finally:
            rx.close()
    finally:
        t.sysctl(t.ns_b, "net.ipv6.conf.%s.disable_ipv6" % p.b, "1")
        # no later ARP/ND probes from A (their answers would be frames
        # the later cases don't expect)
        for fam in ("-4", "-6"):
            for ns, d in ((t.ns_a, p.a), (t.ns_b, p.b)):
                H.run([H.IP, fam, "-n", ns, "neigh", "flush", "dev", d],
                      check=False)
    H.diag("summary %s; receiver %s" % (s, dict(count)))
    for r, what in zip(pings, ("ping", "ping -6")):
        assert r.returncode == 0, "%s from B failed with B allow-listed:\n" \
            "%s%s" % (what, r.stdout, r.stderr)
    arp_recs = [r for r in recs if r.get("ether_type") == 2054]
    assert arp_recs, "no ARP records at all"
    assert all(r.get("action") == "pass" for r in arp_recs), \
        "ARP not passed: %s" % arp_recs
    assert "198.51.100.50" in n4, \
        "A did not learn 198.51.100.50 from an unlisted ARP request:\n" + n4
    assert nd_src in n6, \
        "A did not learn %s from an unlisted NS:\n%s" % (nd_src, n6)
    g = by_mac(recs)
    for m, typ in zip(nd_macs, nd):
        rs = g.get(m, [])
        assert len(rs) == 1 and rs[0].get("action") == "pass" and \
            rs[0].get("icmp_type") == typ, \
            "ICMPv6 type %d from an unlisted source: %s" % (typ, rs)
    for m, what in ((m_echo, "ICMPv6 echo from unlisted fe80::bad:1"),
                    (m_frag, "non-first fragment (nh 58, NS-like bytes) "
                             "from unlisted fe80::bad:1")):
        rs = g.get(m, [])
        assert len(rs) == 1 and rs[0].get("action") == "drop", \
            "%s: expected action drop, got %s" % (what, rs)
    for m, what, act in (
            (m_p58, "IPv4 protocol 58 (NS-like bytes) from unlisted "
             "203.0.113.9", "drop"),
            (m_vl, "802.1Q-tagged UDP from unlisted 203.0.113.9", "drop"),
            (m_vnd, "802.1Q-tagged NS from unlisted fe80::bad:1", "pass"),
            (m_nonip, "non-IP frame (EtherType 0x88b5)", "pass")):
        rs = g.get(m, [])
        assert len(rs) == 1 and rs[0].get("action") == act, \
            "%s: expected action %s, got %s" % (what, act, rs)
    pings_ok = [r for r in recs if r.get("icmp_type") in (8, 128)
                and r.get("src_ip") in (B4, B6)]
    assert len(pings_ok) >= 6 and all(
        r.get("action") == "pass" and r.get("src_lists") == ["lan"]
        for r in pings_ok), "echo requests from B: %s" % pings_ok
    assert count["203.0.113.9"] == 0, \
        "receiver got %d datagrams from unlisted 203.0.113.9" % \
        count["203.0.113.9"]
    assert count["192.0.2.65"] == n, \
        "receiver got %d of %d from allow-listed 192.0.2.65" % (
            count["192.0.2.65"], n)
    assert count["192.0.2.66"] == 0, \
        "block must win over allow: receiver got %d from 192.0.2.66" % \
        count["192.0.2.66"]
    assert all(r.get("action") == "drop" and "src_lists" not in r
               for r in g[m_un]), "unlisted: %s" % g[m_un][:2]
    assert all(r.get("action") == "drop" and r.get("src_lists") ==
               ["deny", "lan"] for r in g[m_deny]), \
        "block+allow: %s" % g[m_deny][:2]
    # B's own MLD reports (unlisted link-local) are dropped too: count
    # every record dropped for being in no allow list
    no_allow = [r for r in recs if r.get("action") == "drop" and
                "deny" not in (r.get("src_lists") or [])]
    assert s.get("dropped_allow") == len(no_allow), \
        "summary says %s frames dropped (in no allow list); %d records " \
        "dropped outside a block list (%d crafted)" % (
            s.get("dropped_allow"), len(no_allow), n + 4)
    assert len(no_allow) >= n + 4
    assert s.get("dropped_block") == n, "summary %s" % s
    check_accounting(s, recs)


@tap.case("--monitor: nothing dropped, would_drop true, action pass")
def _():
    bl = H.write_list("mbad.txt", ["203.0.113.0/24", "2001:db8:bad::/48"])
    al = H.write_list("mallow.txt", ["192.0.2.0/24", "203.0.113.0/24",
                                     "2001:db8::/32"])
    n = 10
    srcs = {"192.0.2.10": None, "203.0.113.10": "block",
            "198.18.0.10": "allow", "2001:db8:bad::10": "block",
            "2001:db8:900::10": None}
    rx = Receiver()
    try:
        with Run("monitor", ["--monitor", "--blocklist", "b=" + bl,
                             "--allowlist", "a=" + al]) as run:
            ms = {src: H.macs(1, MAC_KIND, 5)[0] for src in srcs}
            frames = [udp_frame(ms[src], src, dst_mac=H.pair().a_mac)
                      for _ in range(n) for src in srcs]
            H.topo().send(frames)
            count = rx.drain()
            recs = run.records(len(frames))
            s = run.stop()
    finally:
        rx.close()
    H.diag("summary %s; receiver %s" % (s, dict(count)))
    for src in srcs:
        assert count[src] == n, "receiver got %d of %d from %s in monitor " \
            "mode" % (count[src], n, src)
    g = by_mac(recs)
    for src, why in srcs.items():
        rs = g[ms[src]]
        assert len(rs) == n, "%s: %d records" % (src, len(rs))
        for r in rs:
            assert r.get("action") == "pass", "%s: %s" % (src, r)
            if why:
                assert r.get("would_drop") is True, \
                    "%s (%s) lacks would_drop true: %s" % (src, why, r)
            else:
                assert "would_drop" not in r, "%s: %s" % (src, r)
    n_would = n * sum(1 for w in srcs.values() if w)
    assert s.get("would_drop") == n_would, "summary %s" % s
    assert s.get("dropped_block") == 0 and s.get("dropped_allow") == 0, \
        "summary %s" % s
    check_xdp_drops(run, 0)


@tap.case("--log listed: only hits and drops logged, the rest counted")
def _():
    tg = H.write_list("ltag.txt", ["192.0.2.0/25", "2001:db8:7::/48"])
    bl = H.write_list("lblk.txt", ["203.0.113.0/24"])
    with Run("listed", ["--log", "listed", "--taglist", tg,
                        "--blocklist", bl]) as run:
        mu, mt, md, mb, m6 = H.macs(5, MAC_KIND, 6)
        frames = []
        for _ in range(10):
            frames += [udp4_frame(mu, "192.0.2.200"),
                       udp4_frame(mu, "198.18.0.1"),
                       udp6_frame(mu, "2001:db8:8::1"),
                       udp4_frame(mt, "192.0.2.5"),
                       udp4_frame(md, B4, dst="192.0.2.9"),
                       udp4_frame(mb, "203.0.113.5"),
                       udp6_frame(m6, "2001:db8:7::5")]
        H.topo().send(frames)
        recs = run.records(40)
        s = run.stop()
    g = by_mac(recs)
    assert not g.get(mu), "unlisted frames logged: %s" % g[mu][:3]
    for m, what in ((mt, "tagged source"), (md, "tagged destination"),
                    (mb, "dropped"), (m6, "tagged IPv6 source")):
        assert len(g.get(m, [])) == 10, "%s: %d of 10 logged" % (
            what, len(g.get(m, [])))
    assert all(r["action"] == "drop" for r in g[mb])
    assert s.get("not_listed") == 30, "summary %s" % s
    assert s.get("written") == 40, "summary %s" % s
    assert s.get("seen") == 70, "summary %s" % s
    # with --monitor: frames that would have been dropped are logged too
    al = H.write_list("lallow.txt", ["192.0.2.0/24"])
    with Run("listed-mon", ["--log", "listed", "--monitor",
                            "--allowlist", al]) as run:
        m_ok, m_would, m_arp = H.macs(3, MAC_KIND, 6)
        frames = []
        for _ in range(5):
            frames += [udp4_frame(m_ok, "192.0.2.5"),
                       udp4_frame(m_would, "198.18.0.5"),
                       H.arp_frame(m_arp, psrc="192.0.2.5")]
        H.topo().send(frames)
        recs = run.records(10)
        s = run.stop()
    g = by_mac(recs)
    assert len(g.get(m_ok, [])) == 5 and all(
        "would_drop" not in r for r in g[m_ok]), "allowed: %s" % g.get(m_ok)
    assert len(g.get(m_would, [])) == 5 and all(
        r.get("would_drop") is True and r.get("action") == "pass"
        for r in g[m_would]), \
        "would-drop frames with --log listed --monitor: %s" % g.get(m_would)
    assert not g.get(m_arp), "ARP (no list hit, not dropped) logged"
    assert s.get("not_listed") == 5 and s.get("would_drop") == 5, \
        "summary %s" % s


@tap.case("--sample with lists: every listed frame logged, unlisted "
          "ones sampled")
def _():
    tg = H.write_list("stag.txt", ["192.0.2.0/24"])
    bl = H.write_list("sblk.txt", ["203.0.113.0/24"])
    with Run("sample", ["--sample", "10", "--taglist", tg,
                        "--blocklist", bl]) as run:
        mu, mt, mb = H.macs(3, MAC_KIND, 7)
        frames = []
        for i in range(40):
            frames += [udp4_frame(mu, "198.18.0.1", sport=1000 + i)
                       for _ in range(5)]
            frames += [udp4_frame(mt, "192.0.2.5", sport=1000 + i),
                       udp4_frame(mb, "203.0.113.5", sport=1000 + i)]
        H.topo().send(frames)
        recs = run.records(80)
        s = run.stop()
    g = by_mac(recs)
    H.diag("unlisted logged %d of 200; summary %s" % (len(g.get(mu, [])),
                                                       s))
    assert len(g.get(mt, [])) == 40, \
        "tagged: %d of 40 logged with --sample 10" % len(g.get(mt, []))
    assert len(g.get(mb, [])) == 40, \
        "dropped: %d of 40 logged with --sample 10" % len(g.get(mb, []))
    nu = len(g.get(mu, []))
    assert 10 <= nu <= 30, "unlisted: %d of 200 logged with --sample 10" % nu
    assert s.get("written") == 80 + nu, "summary %s" % s
    # seen counts every frame A received; sampling skipped the rest
    assert s.get("sampled_out") == s.get("seen", 0) - s["written"] and \
        s["seen"] >= 280, "summary %s" % s


BYPASS_V4 = "203.0.113.7"
BYPASS_V6 = "2001:db8:bad::7"


def bypass_variants(src4, src6):
    """[(name, frame builder(mac))] carrying source src4/src6."""
    D4, D6 = "192.0.2.99", "2001:db8:99::1"
    u4 = lambda: udp(src4, D4)          # noqa: E731
    u6 = lambda s=src6: udp(s, D6)      # noqa: E731
    rr = bytes([7, 11, 4]) + socket.inet_aton("192.0.2.1") + \
        socket.inet_aton("192.0.2.2") + b"\0"
    return [
        ("plain IPv4", lambda m: eth(m, ip4(src4, D4, 17, u4()), 0x0800)),
        ("802.1Q IPv4", lambda m: eth(m, ip4(src4, D4, 17, u4()), 0x0800,
                                      vlans=[(0x8100, 42)])),
        ("QinQ IPv4", lambda m: eth(m, ip4(src4, D4, 17, u4()), 0x0800,
                                    vlans=[(0x88A8, 100), (0x8100, 200)])),
        ("IPv4 with options", lambda m: eth(m, ip4(src4, D4, 17, u4(),
                                                   options=rr), 0x0800)),
        ("IPv4 first fragment", lambda m: eth(m, ip4(
            src4, D4, 17, u4() + b"f" * 32, ident=77, mf=True), 0x0800)),
        ("IPv4 later fragment", lambda m: eth(m, ip4(
            src4, D4, 17, b"f" * 32, ident=77, frag=1480), 0x0800)),
        ("plain IPv6", lambda m: eth(m, ip6(src6, D6, 17, u6()), 0x86DD)),
        ("802.1Q IPv6", lambda m: eth(m, ip6(src6, D6, 17, u6()), 0x86DD,
                                      vlans=[(0x8100, 7)])),
        ("QinQ IPv6", lambda m: eth(m, ip6(src6, D6, 17, u6()), 0x86DD,
                                    vlans=[(0x88A8, 1), (0x8100, 2)])),
        ("IPv6 hop-by-hop+routing+dest-opts", lambda m: eth(m, ip6(
            src6, D6, 0, x_opts(43) + x_route(60) + x_opts(17) + u6()),
            0x86DD)),
        ("IPv6 AH", lambda m: eth(m, ip6(src6, D6, 51, x_ah(17) + u6()),
                                  0x86DD)),
        ("IPv6 first fragment", lambda m: eth(m, ip6(
            src6, D6, 44, x_frag(17, 0, True) + u6() + b"f" * 16), 0x86DD)),
        ("IPv6 non-first fragment", lambda m: eth(m, ip6(
            src6, D6, 44, x_frag(17, 1480, False) + b"f" * 16), 0x86DD)),
        ("IPv6 hop-by-hop + fragment (non-first)", lambda m: eth(m, ip6(
            src6, D6, 0, x_opts(44) + x_frag(6, 8, True) + b"f" * 16),
            0x86DD)),
        ("802.1Q outer + 802.1ad inner, IPv6", lambda m: eth(
            m, ip6(src6, D6, 17, u6()), 0x86DD, vlans=[(0x8100, 5),
                                                        (0x88A8, 6)])),
        ("802.1Q+802.1Q IPv4", lambda m: eth(m, ip4(src4, D4, 17, u4()),
                                             0x0800, vlans=[(0x8100, 5),
                                                            (0x8100, 6)])),
        ("IPv4, UDP header cut short", lambda m: eth(m, ip4(
            src4, D4, 17, b"\x9c\x40"), 0x0800)),
        ("IPv6, hop-by-hop header cut short", lambda m: eth(m, ip6(
            src6, D6, 0, bytes([17, 5]) + b"\0" * 6), 0x86DD)),
        ("IPv4-mapped source in IPv6", lambda m: eth(m, ip6(
            "::ffff:" + src4, D6, 17, u6("::ffff:" + src4)), 0x86DD)),
    ]


@tap.case("bypass resistance: a blocked source is dropped and tagged "
          "in every encapsulation")
def _():
    # 192.0.2.128/25 given as an IPv4-mapped IPv6 prefix
    bl = H.write_list("byp.txt", ["203.0.113.0/24", "2001:db8:bad::/48",
                                  "::ffff:192.0.2.128/121"])
    blocked = bypass_variants(BYPASS_V4, BYPASS_V6)
    mapped_entry = bypass_variants("192.0.2.200", "2001:db8:bad::8")
    clean = bypass_variants("192.0.2.100", "2001:db8:900::7")
    plan = []           # (name, mac, frame, expect drop?)
    for label, vs, drop in (("blocked", blocked, True),
                            ("mapped entry", mapped_entry, True),
                            ("clean", clean, False)):
        for name, build in vs:
            m = H.macs(1, MAC_KIND, 8)[0]
            plan.append(("%s %s" % (label, name), m, build(m), drop))
    with Run("bypass", ["--blocklist", bl]) as run:
        H.topo().send([f for _, _, f, _ in plan])
        recs = run.records(len(plan))
        s = run.stop()
    g = by_mac(recs)
    bad = []
    for name, m, f, drop in plan:
        rs = g.get(m, [])
        if len(rs) != 1:
            bad.append("%s: %d records" % (name, len(rs)))
            continue
        r = rs[0]
        w = ("drop", ["byp"]) if drop else ("pass", None)
        got = (r.get("action"), r.get("src_lists"))
        if got != w:
            bad.append("%s (src %s): action %s src_lists %s, expected %s %s"
                       % (name, r.get("src_ip"), got[0], got[1], w[0], w[1]))
    n_drop = sum(1 for p in plan if p[3])
    assert not bad, "\n".join(bad)
    assert s.get("dropped_block") == n_drop, "summary %s, expected %d " \
        "dropped" % (s, n_drop)
    check_accounting(s, recs)
    check_xdp_drops(run, n_drop)


def deep_frames():
    """(name, mac, frame, drops with --too-deep drop?, too deep?)"""
    out = []

    def add(name, frame_of, deep):
        m = H.macs(1, MAC_KIND, 9)[0]
        out.append((name, m, frame_of(m), deep))
    v9 = [(0x88A8, 1)] + [(0x8100, 2 + i) for i in range(8)]
    add("9 VLAN tags, blocked IPv4 source inside",
        lambda m: eth(m, ip4(BYPASS_V4, A4, 17, udp(BYPASS_V4, A4)), 0x0800,
                      vlans=v9), True)
    add("9 VLAN tags, unlisted IPv4 source",
        lambda m: eth(m, ip4("192.0.2.1", A4, 17, udp("192.0.2.1", A4)),
                      0x0800, vlans=v9), True)
    add("8 VLAN tags, unlisted IPv4 source",
        lambda m: eth(m, ip4("192.0.2.1", A4, 17, udp("192.0.2.1", A4)),
                      0x0800, vlans=v9[1:]), False)

    def chain(n, src):
        payload = udp(src, A6)
        for i in range(n):
            payload = x_opts(17 if i == 0 else 60) + payload
        return ip6(src, A6, 60, payload)
    add("9 IPv6 extension headers, unlisted source",
        lambda m: eth(m, chain(9, "2001:db8:900::9"), 0x86DD), True)
    add("8 IPv6 extension headers, unlisted source",
        lambda m: eth(m, chain(8, "2001:db8:900::8"), 0x86DD), False)
    return out


def too_deep_case(mode):
    def run_case():
        bl = H.write_list("deep.txt", ["203.0.113.0/24", "2001:db8:bad::/48"])
        plan = deep_frames()
        # 9 headers from a blocked source: the addresses are still read
        m = H.macs(1, MAC_KIND, 9)[0]

        def chain9(m):
            payload = udp(BYPASS_V6, A6)
            for i in range(9):
                payload = x_opts(17 if i == 0 else 60) + payload
            return eth(m, ip6(BYPASS_V6, A6, 60, payload), 0x86DD)
        plan.append(("9 IPv6 extension headers, blocked source", m,
                     chain9(m), True))
        extra = [] if mode is None else ["--too-deep", mode]
        with Run("deep-%s" % mode, ["--blocklist", bl] + extra) as run:
            H.topo().send([f for _, _, f, _ in plan])
            recs = run.records(len(plan))
            s = run.stop()
        g = by_mac(recs)
        bad = []
        want_drops = 0
        for name, m, f, deep in plan:
            rs = g.get(m, [])
            if "blocked source" in name and "9 IPv6" in name:
                drop = True
            elif "VLAN" in name:
                # the IP header is never reached: dropped under a block
                # list whatever --too-deep says
                drop = deep
            else:
                drop = deep and mode == "drop"
            want_drops += drop
            if len(rs) != 1:
                bad.append("%s: %d records" % (name, len(rs)))
            elif rs[0].get("action") != ("drop" if drop else "pass"):
                bad.append("%s: action %s, expected %s" % (
                    name, rs[0].get("action"), "drop" if drop else "pass"))
        n_deep = sum(1 for p in plan if p[3])
        H.diag("summary %s" % s)
        assert not bad, "\n".join(bad)
        check_accounting(s, recs)
        if mode == "drop":
            # depth-only drops have their own line, not the block lists'
            blk_hits = s["lists"].get("deep", (0, 0))[0]
            assert s.get("dropped_block", 0) <= blk_hits, \
                "%s block-list drops but only %d block-list hits" % (
                    s.get("dropped_block"), blk_hits)
            assert s.get("dropped_deep", 0) >= 1, \
                "no frame counted as dropped for depth: %s" % s
        assert s.get("too_deep") == n_deep, \
            "summary counts %s frames deeper than parsed, expected %d" % (
                s.get("too_deep"), n_deep)
        check_xdp_drops(run, want_drops)
    return run_case


tap.add("--too-deep default (pass): 9 extension headers pass, 9 VLAN tags "
        "are dropped under a block list, both counted", too_deep_case(None))
tap.add("--too-deep drop: 9 VLAN tags / 9 extension headers dropped",
        too_deep_case("drop"))


# -- stacked VLAN tags: what the kernel would deliver -----------------------

# A second address on B's end: the blocked (or unlisted) source. Frames from
# B4 are the clean ones. Both are real hosts, so A's echo replies and TCP
# resets really come back when A's stack takes the frame.
B4_OTHER = "198.51.100.3"
CLOSED_PORT = 9                     # nothing listens: SYN gets a RST


def tcp4_syn(src, dst, sport, dport=CLOSED_PORT, seq=1000):
    h = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 5 << 4, 0x02, 1024,
                    0, 0)
    c = H._csum(_pseudo(src, dst, 6, len(h)) + h)
    return h[:16] + struct.pack("!H", c) + h[18:]


def tag_stack(n, ids=None):
    """n tags, outer first, the TPIDs alternating 802.1ad / 802.1Q; VLAN id
    0 (priority tags, which the kernel strips without any VLAN device)
    unless ids are given."""
    return [(0x88A8 if i % 2 == 0 else 0x8100, ids[i] if ids else 0)
            for i in range(n)]


class Replies:
    """Echo replies and TCP segments that A sends back, read in B through
    raw sockets; keyed ("icmp", echo id) and ("tcp", port of B)."""

    def __init__(self):
        ns = H.topo().ns_b
        self.socks = [H.ns_socket(ns, socket.AF_INET, socket.SOCK_RAW,
                                  socket.IPPROTO_ICMP),
                      H.ns_socket(ns, socket.AF_INET, socket.SOCK_RAW,
                                  socket.IPPROTO_TCP)]
        for x in self.socks:
            x.setblocking(False)
        self.got = set()

    def _read(self, sock):
        while True:
            try:
                d = sock.recv(4096)
            except BlockingIOError:
                return
            if len(d) < 20 or socket.inet_ntoa(d[12:16]) != A4:
                continue
            off = (d[0] & 0x0F) * 4
            if d[9] == 1 and len(d) >= off + 8 and d[off] == 0:
                self.got.add(("icmp", struct.unpack("!H",
                                                   d[off + 4:off + 6])[0]))
            elif d[9] == 6 and len(d) >= off + 4:
                self.got.add(("tcp", struct.unpack("!H",
                                                  d[off + 2:off + 4])[0]))

    def wait(self, want, timeout=10.0):
        """Read until every key in want came (or timeout); what came."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for x in self.socks:
                self._read(x)
            if want <= self.got:
                break
            select.select(self.socks, [], [], 0.1)
        for x in self.socks:
            self._read(x)
        return set(self.got)


def stacked_tags_case(mode):
    """mode: block, allow, tag or monitor. Frames with 0..10 stacked tags
    carry an ICMP echo and a TCP SYN from B4 (clean) and from B4_OTHER
    (the listed one); a few more have nonzero VLAN ids (records only: A
    has no VLAN device, so its stack ignores them)."""
    def run_case():
        addr = [H.IP, "-n", H.topo().ns_b, "addr", "%s", B4_OTHER + "/26",
                "dev", H.pair().b]
        H.run([x.replace("%s", "replace") for x in addr])
        try:
            check_stacked_tags(mode)
        finally:
            H.run([x.replace("%s", "del") for x in addr], check=False)
    return run_case


def check_stacked_tags(mode):
    if True:
        lst = H.write_list("tags-%s.txt" % mode, [B4_OTHER + "/32"])
        ok = H.write_list("tags-ok.txt", [B4 + "/32"])
        args = {"block": ["--blocklist", lst],
                "allow": ["--allowlist", ok],
                "tag": ["--taglist", lst],
                "monitor": ["--blocklist", lst, "--monitor"]}[mode]

        def verdict(src, n):
            """(action, would_drop, why) the policy must give."""
            listed = src == B4_OTHER
            if mode == "tag":
                return "pass", None, None
            if mode == "allow":
                why = "deep" if n > 8 else "allow" if listed else None
            else:
                why = "block" if listed and n <= 8 else \
                    "deep" if n > 8 else None
            if mode == "monitor":
                return "pass", True if why else None, None
            return ("drop" if why else "pass"), None, why

        plan = []       # (name, mac, frame, action, would_drop, why, reply)
        frame_of = {}   # reply key: name
        ident = [0x4000]

        def add(src, n, ids=None):
            for kind in ("echo", "syn"):
                m = H.macs(1, MAC_KIND, 40)[0]
                ident[0] += 1
                if kind == "echo":
                    l4, key = icmp4_echo(ident[0]), ("icmp", ident[0])
                    ip = ip4(src, A4, 1, l4, ident=ident[0])
                else:
                    l4, key = tcp4_syn(src, A4, ident[0]), ("tcp", ident[0])
                    ip = ip4(src, A4, 6, l4, ident=ident[0])
                f = eth(m, ip, 0x0800, H.pair().a_mac, tag_stack(n, ids))
                act, wd, why = verdict(src, n)
                # A's stack answers what passes, unless a tag has a
                # nonzero VLAN id (no VLAN device here: PACKET_OTHERHOST)
                reply = key if act == "pass" and not ids else None
                name = "%s %s, %d tags%s" % (kind, src, n,
                                             " ids %s" % ids if ids else "")
                frame_of[key] = name
                plan.append((name, m, f, act, wd, why, reply))
        for n in range(11):
            add(B4_OTHER, n)
            add(B4, n)
        for n in (3, 8, 9):
            add(B4_OTHER, n, ids=[5 + i for i in range(n)])
            add(B4, n, ids=[100 + i for i in range(n)])
        add(B4, 0)      # last: its replies come after all the others'

        # A's neighbour entries first, so replies leave at once and in order
        for ip_ in (B4, B4_OTHER):
            H.run(H.ns_exec(H.topo().ns_a, ["ping", "-c1", "-W2", ip_]))
        replies = Replies()
        with Run("tags-%s" % mode, args) as run:
            H.topo().send([p[2] for p in plan])
            want = {p[6] for p in plan if p[6]}
            got = replies.wait(want)
            recs = run.records(len(plan))
            s = run.stop()
        bad = []
        g = by_mac(recs)
        for name, m, f, act, wd, why, reply in plan:
            rs = g.get(m, [])
            if len(rs) != 1:
                bad.append("%s: %d records" % (name, len(rs)))
                continue
            r = rs[0]
            if r.get("action") != act or r.get("would_drop") != wd:
                bad.append("%s: action %s would_drop %s, expected %s %s" % (
                    name, r.get("action"), r.get("would_drop"), act, wd))
        missing = [p[0] for p in plan if p[6] and p[6] not in got]
        assert not missing, "no reply to: %s" % missing
        # every reply is one the plan expects: none to a dropped frame
        extra = sorted(got - want)
        assert not extra, "A answered frames it must not have taken: %s" % [
            frame_of.get(k, k) for k in extra]
        assert not bad, "\n".join(bad)
        H.diag("summary %s" % s)
        n_why = collections.Counter(p[5] for p in plan)
        for key, why in (("dropped_block", "block"),
                         ("dropped_allow", "allow"),
                         ("dropped_deep", "deep")):
            assert s.get(key, 0) == n_why[why], \
                "summary: %s %s, expected %d" % (key, s.get(key), n_why[why])
        if mode == "monitor":
            n_wd = sum(1 for p in plan if p[4])
            assert s.get("would_drop") == n_wd, "summary %s, expected %d " \
                "would_drop" % (s, n_wd)
        check_accounting(s, recs)
        check_xdp_drops(run, sum(1 for p in plan if p[3] == "drop"))


tap.add("stacked VLAN tags 0..10 under a block list: the listed source is "
        "never answered; past 8 tags nothing is", stacked_tags_case("block"))
tap.add("stacked VLAN tags 0..10 under an allow list: only the allowed "
        "source is answered, and only up to 8 tags",
        stacked_tags_case("allow"))
tap.add("stacked VLAN tags 0..10 with a tag list only: every frame passes "
        "and is answered (the kernel strips them all)",
        stacked_tags_case("tag"))
tap.add("stacked VLAN tags 0..10, --monitor: all answered, would_drop on "
        "the listed source and past 8 tags", stacked_tags_case("monitor"))


# -- link types -------------------------------------------------------------

@tap.case("a tun (layer-3) interface is refused with its name and link "
          "type, also beside a veth; the veth alone and loopback work")
def _():
    ns = H.topo().ns_a
    tun = "hlu%d" % os.getpid()
    bl = H.write_list("tun.txt", [B4 + "/32"])
    H.run([H.IP, "-n", ns, "tuntap", "add", "dev", tun, "mode", "tun"])
    try:
        H.run([H.IP, "-n", ns, "link", "set", tun, "up"])
        for ifs in ([tun], [H.dev(), tun]):
            args = [x for i in ifs for x in ("-i", i)]
            r = H.run_hdrlog(ns, args + ["--blocklist", bl, "-o",
                                         "json:" + H.path("tun.json")],
                             timeout=10)
            err = r.stderr.strip().splitlines()
            assert r.returncode == 1 and len(err) == 1 and re.search(
                r"\b%s is not an Ethernet interface \(link type 65534\b"
                % tun, err[0]), H.show(r)
            for i in ifs:
                on, text = H.topo().xdp_attached(i)
                assert not on, "XDP left on %s: %s" % (i, text)
    finally:
        H.run([H.IP, "-n", ns, "link", "del", tun], check=False)

    # the veth (Ethernet) still captures and applies the list
    m = H.macs(2, MAC_KIND, 17)
    with Run("veth-ok", ["--blocklist", bl]) as run:
        H.topo().send([udp4_frame(m[0], B4, dst_mac=H.pair().a_mac),
                     udp4_frame(m[1], "192.0.2.1", dst_mac=H.pair().a_mac)])
        recs = run.records(2)
        run.stop()
    g = by_mac(recs)
    got = [(g[x][0].get("src_ip"), g[x][0].get("action")) if len(g[x]) == 1
           else g[x] for x in m]
    assert got == [(B4, "drop"), ("192.0.2.1", "pass")], got

    # loopback: generic XDP shows lo's Ethernet header, so it is parsed
    out = H.path("lo.json")
    H.run([H.IP, "-n", ns, "link", "set", "lo", "up"])
    with H.Hdrlog(ns, ["-i", "lo", "-o", "json:" + out]) as h:
        H.run(H.ns_exec(ns, ["ping", "-c1", "-W2", "127.0.0.1"]))
        recs = H.wait_records(out, lambda rs: any(
            r.get("icmp_type") == 0 for r in rs), 10, proc=h.proc)
        h.stop()
    assert any(r.get("src_ip") == "127.0.0.1" and r.get("proto") == "ICMP"
               for r in recs), recs


# -- reload -----------------------------------------------------------------

def filler(n, seed):
    """n unrelated /24s in 100.64.0.0/10 and /64s in 2001:db8:f000::/36,
    so a table switch is not trivial; seed shifts them between files."""
    out = []
    for i in range(n):
        k = (i * 7 + seed) % (1 << 14)
        out.append("100.%d.%d.0/24" % (64 + (k >> 8), k & 0xFF))
        out.append("2001:db8:f%03x:%x::/64" % ((k >> 4) & 0xFFF, k & 0xF))
    return out


STREAM = {  # name: (address, list, in old?, in new?)
    "X4b": ("10.1.0.1", "blk", True, True),
    "Y4b": ("10.2.0.1", "blk", False, True),
    "Z4b": ("10.3.0.1", "blk", True, False),
    "X6b": ("2001:db8:a1::1", "blk", True, True),
    "Y6b": ("2001:db8:a2::1", "blk", False, True),
    "Z6b": ("2001:db8:a3::1", "blk", True, False),
    "X4t": ("10.11.0.1", "tag", True, True),
    "Y4t": ("10.12.0.1", "tag", False, True),
    "Z4t": ("10.13.0.1", "tag", True, False),
    "X6t": ("2001:db8:b1::1", "tag", True, True),
    "Y6t": ("2001:db8:b2::1", "tag", False, True),
    "Z6t": ("2001:db8:b3::1", "tag", True, False),
}


def stream_lists(new, seed):
    for lst in ("blk", "tag"):
        lines = ["# generation %d" % seed]
        for name, (addr, l_, old_in, new_in) in sorted(STREAM.items()):
            if l_ != lst or not (new_in if new else old_in):
                continue
            net = ipaddress.ip_network(addr + ("/16" if "." in addr
                                               else "/48"), strict=False)
            lines.append(str(net))
        lines += filler(1500, seed)
        if seed % 2:
            lines.reverse()
        H.write_list("stream-%s.txt" % lst, lines)


class Streamer(threading.Thread):
    """Sends a round (one UDP frame from every STREAM address, the round
    number as source port) every few ms until stopped."""

    def __init__(self, max_rounds=6000):
        super().__init__(daemon=True)
        self.stop_ev = threading.Event()
        self.rounds = 0
        self.max_rounds = max_rounds
        self.error = None
        self.mac = H.macs(1, MAC_KIND, 10)[0]

    def run(self):
        try:
            s = H.topo().sender()
            try:
                while not self.stop_ev.is_set() and \
                        self.rounds < self.max_rounds:
                    r = self.rounds
                    for name, (addr, _, _, _) in STREAM.items():
                        f = udp_frame(self.mac, addr, sport=1 + r)
                        for attempt in range(200):
                            try:
                                s.send(f)
                                break
                            except OSError as e:
                                if e.errno not in (errno.ENOBUFS,
                                                   errno.EAGAIN) or \
                                        attempt == 199:
                                    raise
                                time.sleep(0.001)
                    self.rounds += 1
                    time.sleep(0.004)
            finally:
                s.close()
        except Exception as e:
            self.error = e


@tap.case("SIGHUP reloads under traffic: no gap, one flip per address, "
          "drops follow the tags (IPv4 and IPv6)")
def _():
    stream_lists(False, 0)
    blk, tag = H.path("stream-blk.txt"), H.path("stream-tag.txt")
    lif = r"lists in force"
    with Run("stream", ["--blocklist", "blk=" + blk,
                        "--taglist", "tag=" + tag]) as run:
        h = run.h
        st = Streamer()
        st.start()

        def rounds_logged(n):
            """Until the records of n more rounds are written."""
            want = (st.rounds + n) * len(STREAM)
            H.wait_records(run.out, lambda r: len(r) >= want, 10, h.proc)
        try:
            rounds_logged(20)           # under the old lists
            for gen in (1, 2, 3):
                # gen 1 switches to the new contents; 2 and 3 rewrite
                # them in another layout (same addresses covered)
                stream_lists(True, gen)
                n0 = H.count_re(h, lif)
                h.proc.send_signal(signal.SIGHUP)
                assert H.wait_count_re(h, lif, n0 + 1, 15) >= n0 + 1, \
                    "reload %d: no new 'lists in force' line; stderr:\n%s" \
                    % (gen, h.stderr())
                rounds_logged(20)       # under the new ones
        finally:
            st.stop_ev.set()
            st.join(10)
        assert st.error is None, "sender failed: %r" % st.error
        n_frames = st.rounds * len(STREAM)
        recs = run.records(n_frames, timeout=15)
        s = run.stop()
    assert "refused" not in h.stderr(), h.stderr()
    H.diag("%d rounds, %d records, summary %s" % (st.rounds, len(recs),
                                                  {k: v for k, v in s.items()
                                                   if k != "lists"}))
    assert s.get("lost") == 0, "records lost: %s" % s
    per = collections.defaultdict(list)
    addr_name = {ipaddress.ip_address(a).compressed: n
                 for n, (a, _, _, _) in STREAM.items()}
    for r in recs:
        n = addr_name.get(r.get("src_ip"))
        if n:
            per[n].append(r)
    bad = []
    for name, (addr, lst, old_in, new_in) in sorted(STREAM.items()):
        rs = sorted(per[name], key=lambda r: r.get("src_port", 0))
        if len(rs) < st.rounds * 0.95:
            bad.append("%s %s: %d records for %d rounds" % (
                name, addr, len(rs), st.rounds))
            continue
        flags = [lst in (r.get("src_lists") or []) for r in rs]
        for r in rs:
            want = "drop" if "blk" in (r.get("src_lists") or []) else "pass"
            if r.get("action") != want:
                bad.append("%s %s (round %s): src_lists %s but action %s" % (
                    name, addr, r.get("src_port"), r.get("src_lists"),
                    r.get("action")))
                break
        flips = sum(1 for a, b in zip(flags, flags[1:]) if a != b)
        if old_in and new_in:
            if not all(flags):
                gaps = [r.get("src_port") for r, f in zip(rs, flags)
                        if not f]
                bad.append("%s %s: untagged in rounds %s (a gap during a "
                           "reload)" % (name, addr, gaps[:10]))
        else:
            first = old_in
            if flags[0] != first or flags[-1] == first or flips != 1:
                bad.append("%s %s: tagged %s -> %s with %d flips (expected "
                           "one flip %s -> %s); rounds at flips: %s" % (
                               name, addr, flags[0], flags[-1], flips,
                               first, not first,
                               [rs[i + 1].get("src_port") for i in
                                range(len(flags) - 1)
                                if flags[i] != flags[i + 1]][:10]))
    assert not bad, "\n".join(bad)
    assert H.count_re(h, lif) == 4, "expected 4 'lists in force' lines:\n" + \
        h.stderr()
    H.diag([x for x in h.stderr().splitlines() if lif in x])
    # one switch for everything: in arrival order, every record showing
    # the old contents (Y untagged, Z tagged) comes before every record
    # showing the new ones, across v4/v6 and block/tag tables
    last_old, first_new = -1, None
    for i, r in enumerate(recs):
        n = addr_name.get(r.get("src_ip"))
        if not n or n[0] == "X":
            continue
        lst = STREAM[n][1]
        tagged = lst in (r.get("src_lists") or [])
        new = tagged if n[0] == "Y" else not tagged
        if new and first_new is None:
            first_new = (i, n, r.get("src_port"))
        if not new:
            last_old = (i, n, r.get("src_port"))
    H.diag("last record with old contents %s, first with new %s" % (
        last_old, first_new))
    assert first_new is not None and last_old != -1 and \
        last_old[0] < first_new[0], \
        "old and new lists mixed: record #%d (%s, round %s) shows the old " \
        "lists after record #%d (%s, round %s) showed the new ones" % (
            last_old + first_new)


@tap.case("refused reload: file:line and text named, old lists stay in "
          "force, hdrlog keeps running; fixed file then applies")
def _():
    blk = H.write_list("rblk.txt", ["203.0.113.0/24"])
    tg = H.write_list("rtag.txt", ["192.0.2.0/24"])
    m_old, m_new, m_tag = H.macs(3, MAC_KIND, 11)
    rx = Receiver()

    def burst(n=5):
        frames = []
        a_mac = H.pair().a_mac
        for _ in range(n):
            frames += [udp4_frame(m_old, "203.0.113.5", dst_mac=a_mac),
                       udp4_frame(m_new, "198.18.0.5", dst_mac=a_mac),
                       udp4_frame(m_tag, "192.0.2.5", dst_mac=a_mac)]
        H.topo().send(frames)
        return rx.drain()

    def expect(recs, start, want, phase):
        g = by_mac(recs[start:])
        for m, w in want.items():
            rs = g.get(m, [])
            assert len(rs) == 5, "%s: %d records of 5" % (phase, len(rs))
            for r in rs:
                got = (r.get("action"), r.get("src_lists"))
                assert got == w, "%s: %s got %s, expected %s" % (
                    phase, r.get("src_ip"), got, w)
    try:
        with Run("refused", ["--blocklist", blk, "--taglist", tg]) as run:
            h = run.h
            c = burst()
            recs = run.records(15)
            expect(recs, 0, {m_old: ("drop", ["rblk"]),
                             m_new: ("pass", None),
                             m_tag: ("pass", ["rtag"])}, "before reload")
            assert (c["203.0.113.5"], c["198.18.0.5"]) == (0, 5), c
            # a bad line 3
            H.write_list("rblk.txt", ["198.18.0.0/15", "# comment",
                                      "203.0.113.0/24x"])
            h.proc.send_signal(signal.SIGHUP)
            assert H.wait_count_re(h, r"reload refused", 1, 10) >= 1, \
                "no refusal line; stderr:\n" + h.stderr()
            err = h.stderr()
            want_msg = "hdrlog: %s:3: " % blk
            lines = [x for x in err.splitlines() if x.startswith(want_msg)]
            assert lines and lines[0].endswith("'203.0.113.0/24x'"), \
                "no 'hdrlog: FILE:3: reason: 'text'' line; stderr:\n" + err
            assert "hdrlog: list reload refused; the lists loaded before " \
                "stay in force" in err, err
            h.summary_now()     # the main loop still answers a signal
            assert h.proc.poll() is None, "hdrlog exited after a refused " \
                "reload (%s):\n%s" % (h.proc.returncode, err)
            n0 = len(recs)
            rx.count.clear()
            c = burst()
            recs = run.records(n0 + 15)
            expect(recs, n0, {m_old: ("drop", ["rblk"]),
                              m_new: ("pass", None),
                              m_tag: ("pass", ["rtag"])},
                   "after refused reload")
            assert (c["203.0.113.5"], c["198.18.0.5"]) == (0, 5), c
            # a missing file is refused the same way
            H.write_list("rblk.txt", ["203.0.113.0/24"])
            os.rename(tg, tg + ".away")
            h.proc.send_signal(signal.SIGHUP)
            assert H.wait_count_re(h, r"reload refused", 2, 10) >= 2, \
                "missing file: no refusal; stderr:\n" + h.stderr()
            assert tg in h.stderr().split("reload refused")[1], \
                "missing file not named:\n" + h.stderr()
            os.rename(tg + ".away", tg)
            assert h.proc.poll() is None
            # fix it
            n_lif = H.count_re(h, r"lists in force")
            H.write_list("rblk.txt", ["198.18.0.0/15", "# comment"])
            h.proc.send_signal(signal.SIGHUP)
            assert H.wait_count_re(h, r"lists in force", n_lif + 1,
                                   10) >= n_lif + 1, \
                "fixed file: no 'lists in force'; stderr:\n" + h.stderr()
            n0 = len(recs)
            rx.count.clear()
            c = burst()
            recs = run.records(n0 + 15)
            expect(recs, n0, {m_old: ("pass", None),
                              m_new: ("drop", ["rblk"]),
                              m_tag: ("pass", ["rtag"])}, "after fixed reload")
            assert (c["203.0.113.5"], c["198.18.0.5"]) == (5, 0), c
            run.stop()
    finally:
        rx.close()


@tap.case("SIGUSR1 prints per-list hits while running; exit summary agrees")
def _():
    la = H.write_list("ua.txt", ["192.0.2.0/24", "2001:db8:1a::/48"])
    lb = H.write_list("ub.txt", ["198.18.0.0/16"])
    lc = H.write_list("uc.txt", ["192.0.0.0/8"])        # covers ua's v4
    m = H.macs(1, MAC_KIND, 12)[0]
    frames = ([udp4_frame(m, "192.0.2.1")] * 7 +             # a,c src
              [udp4_frame(m, B4, dst="198.18.1.1")] * 5 +    # b dst
              [udp4_frame(m, "192.0.2.2", dst="198.18.0.9")] * 3 +
              [udp6_frame(m, "2001:db8:1a::5", dst="2001:db8:1a::6")] * 4)
    with Run("usr1", ["--taglist", la, "--taglist", lb,
                      "--blocklist", lc]) as run:
        h = run.h
        H.topo().send(frames)
        run.records(len(frames))
        rx_list = r"^list \S+: \d+ source hits"
        n0 = H.count_re(h, rx_list)
        h.proc.send_signal(signal.SIGUSR1)
        assert H.wait_count_re(h, rx_list, n0 + 3, 10) >= n0 + 3, \
            "no summary after SIGUSR1:\n" + h.stderr()
        # (the list lines end a summary: all of it is there)
        s1 = parse_summary(h.stderr())
        assert h.proc.poll() is None, "hdrlog stopped on SIGUSR1"
        H.topo().send([udp4_frame(m, "192.0.2.1")] * 2)
        run.records(len(frames) + 2)
        s2 = run.stop()
    want1 = {"ua": (7 + 3 + 4, 4), "ub": (0, 5 + 3), "uc": (7 + 3, 0)}
    want2 = {"ua": (7 + 3 + 4 + 2, 4), "ub": (0, 8), "uc": (12, 0)}
    assert s1["lists"] == want1, "SIGUSR1 summary %s, expected %s" % (
        s1["lists"], want1)
    assert s1.get("dropped_block") == 10, "SIGUSR1 summary %s" % s1
    assert s2["lists"] == want2, "exit summary %s, expected %s" % (
        s2["lists"], want2)
    assert s2.get("dropped_block") == 12, "exit summary %s" % s2


@tap.case("64 lists at once: records name the right ones; a 65th is "
          "refused")
def _():
    args = []
    for i in range(64):
        lines = ["10.100.%d.0/24" % i, "10.100.%d.0/24" % ((i + 1) % 64),
                 "2001:db8:64:%x::/64" % i, "10.255.0.0/16",
                 "2001:db8:64ff::/48"]
        p = H.write_list("l%02d.txt" % i, lines)
        args += ["--blocklist" if i == 63 else "--taglist", p]
    plan = []
    for i in range(64):
        prev = (i - 1) % 64
        names = sorted({"l%02d" % i, "l%02d" % prev})
        m = H.macs(1, MAC_KIND, 13)[0]
        plan.append((m, udp4_frame(m, "10.100.%d.9" % i), names))
        m = H.macs(1, MAC_KIND, 13)[0]
        plan.append((m, udp6_frame(m, "2001:db8:64:%x::9" % i),
                     ["l%02d" % i]))
    every = ["l%02d" % i for i in range(64)]
    for src in ("10.255.1.2", "2001:db8:64ff::1"):
        m = H.macs(1, MAC_KIND, 13)[0]
        plan.append((m, udp_frame(m, src), every))
    with Run("l64", args) as run:
        H.topo().send([f for _, f, _ in plan])
        recs = run.records(len(plan))
        s = run.stop()
    g = by_mac(recs)
    bad = []
    for m, f, names in plan:
        rs = g.get(m, [])
        act = "drop" if "l63" in names else "pass"
        if len(rs) != 1 or rs[0].get("src_lists") != names or \
                rs[0].get("action") != act:
            bad.append("expected %s %s, got %s" % (names, act, [
                (r.get("src_ip"), r.get("src_lists"), r.get("action"))
                for r in rs]))
    assert not bad, "\n".join(bad[:10])
    assert len(s["lists"]) == 64 and all(
        v == (5, 0) for v in s["lists"].values()), "summary %s" % s["lists"]
    p65 = H.write_list("l64.txt", ["10.200.0.0/16"])
    r = H.run_hdrlog(H.topo().ns_a, ["-i", H.dev(), "-o", "json:-",
                                     "-c", "1"] +
                     args + ["--taglist", p65], timeout=20)
    H.diag("65 lists: exit %s, %s" % (r.returncode, r.stderr.strip()))
    assert r.returncode != 0, H.show(r)
    assert "listening on" not in r.stderr, H.show(r)
    assert re.search(r"64", r.stderr) and re.search(r"(?i)list", r.stderr), \
        "message doesn't say 64 lists is the limit:\n" + H.show(r)
    assert "libbpf:" not in r.stderr, H.show(r)


# -- start-up errors ---------------------------------------------------------

def start_error(list_args, mentions, rc=None):
    r = H.run_hdrlog(H.topo().ns_a, ["-i", H.dev(), "-o", "json:-",
                                     "-c", "1"] +
                     list_args, timeout=20)
    H.assert_refused(r, rc, mentions)
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert lines and all(x.startswith("hdrlog:") or x.startswith("Try ")
                         for x in lines), "unprefixed lines:\n" + H.show(r)
    attached, text = H.topo().xdp_attached(H.dev())
    assert not attached, "XDP program left attached:\n" + text
    return r


@tap.case("start-up: bad CIDR names file:line and text, exit 1")
def _():
    bad = [("10.0.0.0/33", "prefix too long"), ("300.1.2.3", "octet"),
           ("2001:db8::/129", "v6 prefix too long"), ("10.0.0.0/", "empty"),
           ("hello", "word"), ("10.0.0.0/8 garbage", "trailing text")]
    for text, why in bad:
        p = H.write_list("badcidr.txt", ["# ok", "192.0.2.0/24", text,
                                          "10.0.0.0/8"])
        r = start_error(["--taglist", p], [], rc=1)
        want = "hdrlog: %s:3: " % p
        lines = [x for x in r.stderr.splitlines() if x.startswith(want)]
        assert lines and lines[0].endswith("'%s'" % text), \
            "%s (%r): no 'hdrlog: %s:3: reason: '%s'' line:\n%s" % (
                why, text, p, text, H.show(r))


@tap.case("start-up: missing list file names the path")
def _():
    p = H.path("no-such-dir/nolist.txt")
    start_error(["--blocklist", p], [p], rc=1)


@tap.case("start-up: ':any' on a tag or allow list is refused")
def _():
    p = H.write_list("t.txt", ["192.0.2.0/24"])
    # a bad command line: exit 2 (hdrlog(8), EXIT STATUS)
    start_error(["--taglist", p + ":any"], [":any"], rc=2)
    start_error(["--allowlist", p + ":any"], [":any"], rc=2)


@tap.case("start-up: bad list names refused")
def _():
    p = H.write_list("t2.txt", ["192.0.2.0/24"])
    start_error(["--taglist", "bad name!=" + p], ["bad name!"])
    start_error(["--taglist", "=" + p], [])
    start_error(["--taglist", "x" * 200 + "=" + p], [])
    odd = H.write_list("my list.txt", ["192.0.2.0/24"])
    start_error(["--taglist", odd], ["NAME=FILE"])


@tap.case("start-up: duplicate list names refused")
def _():
    os.makedirs(H.path("d1"), exist_ok=True)
    os.makedirs(H.path("d2"), exist_ok=True)
    a = H.write_list("d1/same.txt", ["192.0.2.0/24"])
    b = H.write_list("d2/same.list", ["198.18.0.0/16"])
    start_error(["--taglist", a, "--blocklist", b], ["same"])
    c = H.write_list("other.txt", ["10.0.0.0/8"])
    start_error(["--taglist", "x=" + a, "--taglist", "x=" + c], ["'x'"])


@tap.case("start-up: host bits set: a warning naming file:line, runs, "
          "matches the masked prefix")
def _():
    p = H.write_list("hb.txt", ["192.0.2.0/24", "10.1.2.3/8",
                                "2001:db8:77::1/48", "172.16.5.5/12"])
    m = H.macs(4, MAC_KIND, 14)
    frames = [udp4_frame(m[0], "10.200.0.1"), udp4_frame(m[1], "11.0.0.1"),
              udp6_frame(m[2], "2001:db8:77:ffff::9"),
              udp4_frame(m[3], "172.31.255.255")]
    with Run("hostbits", ["--taglist", p]) as run:
        err = run.h.stderr()
        H.topo().send(frames)
        recs = run.records(4)
        run.stop()
    H.diag(err)
    warn = [x for x in err.splitlines() if ("%s:2:" % p) in x]
    assert warn and "listening on" in err, "no warning naming %s:2:\n%s" % (
        p, err)
    assert re.search(r"(?i)warn|mask|host bits", warn[0]), warn[0]
    g = by_mac(recs)
    for mac, want in zip(m, (["hb"], None, ["hb"], ["hb"])):
        rs = g.get(mac, [])
        assert len(rs) == 1 and rs[0].get("src_lists") == want, \
            "%s: expected src_lists %s, got %s" % (
                rs[0].get("src_ip") if rs else mac, want, rs)


def body():
    H.run_tap(tap)


if __name__ == "__main__":
    H.main(body)
