#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""
Flow records (--log flows): crafted TCP, UDP and ICMP conversations, both
ways, arrive at A's XDP; each flow's record counts the frames and IP bytes
of each way as the test counted them when it built the frames, with the
TCP flags of each way and the reason it was written (fin, rst, idle,
active, shutdown). A flow table smaller than the flows sent counts what it
could not track; --log flows writes no packet records, --log flows,listed
writes the list hits too; a real connection names its client's process.
"""
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hdrlogtest as H  # noqa: E402

tap = H.Tap()
A_IP, B_IP = "198.51.100.1", "198.51.100.2"
# addresses of neither namespace: A's kernel drops what XDP has counted
CLIENT, SERVER = "203.0.113.10", "203.0.113.20"
CLIENT6, SERVER6 = "2001:db8:99::10", "2001:db8:99::20"
_port = [30000]


def next_port(n=1):
    """The first of n port numbers that no other case uses."""
    _port[0] += n
    return _port[0] - n + 1


class Conversation:
    """Frames of one conversation, from B's end to A's; counts each way,
    made here from the frames themselves."""

    def __init__(self):
        self.scapy = H.load_scapy()
        self.frames = []
        self.pkts = {"ts": 0, "tc": 0}
        self.bytes = {"ts": 0, "tc": 0}
        self.flags = {"ts": 0, "tc": 0}

    def add(self, way, l3, vlans=()):
        """vlans: the frame's VLAN ids, outer first (802.1ad before an
        inner 802.1Q tag)"""
        s = self.scapy
        f = s.Ether(src=H.pair().b_mac, dst=H.pair().a_mac)
        for i, vid in enumerate(vlans):
            f = f / (s.Dot1AD if i < len(vlans) - 1 else s.Dot1Q)(vlan=vid)
        raw = bytes(f / l3)
        ip = s.Ether(raw).payload
        while not isinstance(ip, (s.IP, s.IPv6)):
            ip = ip.payload
        self.pkts[way] += 1
        self.bytes[way] += ip.len if ip.version == 4 else ip.plen + 40
        if ip.haslayer(s.TCP):
            self.flags[way] |= int(ip[s.TCP].flags)
        self.frames.append(raw)

    def send(self):
        H.topo().send(self.frames)

    def check(self, rec):
        problems = []
        for way, name in (("ts", "toserver"), ("tc", "toclient")):
            for what, have in (("pkts", self.pkts), ("bytes", self.bytes)):
                got = rec["flow"].get("%s_%s" % (what, name))
                if got != have[way]:
                    problems.append("flow.%s_%s %s, sent %s" % (
                        what, name, got, have[way]))
        return problems


def start(name, ports=1):
    """What most cases begin with: scapy, the output file name, an empty
    Conversation and the first of ports port numbers of their own."""
    return H.load_scapy(), H.path(name), Conversation(), next_port(ports)


def tcp_conversation(cport, sport, end="fin"):
    """Handshake, data both ways, then FIN both ways (or an RST)."""
    s = H.load_scapy()
    c = Conversation()

    def ts(flags, load=b""):
        c.add("ts", s.IP(src=CLIENT, dst=SERVER, ttl=64) /
              s.TCP(sport=cport, dport=sport, flags=flags) / load)

    def tc(flags, load=b""):
        c.add("tc", s.IP(src=SERVER, dst=CLIENT, ttl=50) /
              s.TCP(sport=sport, dport=cport, flags=flags) / load)

    ts("S")
    tc("SA")
    ts("A")
    ts("PA", b"GET / HTTP/1.0\r\n\r\n")
    tc("PA", b"x" * 300)
    tc("PA", b"y" * 200)
    ts("A")
    if end == "fin":
        ts("FA")
        tc("FA")
        ts("A")
    else:
        tc("R")
    return c


def flows_of(recs):
    return [r for r in recs if r.get("event_type") == "flow"]


def find(recs, **kw):
    return [r for r in flows_of(recs)
            if all(r.get(k) == v for k, v in kw.items())]


def hdrlog(args, out):
    return H.Hdrlog(H.topo().ns_a, ["-i", H.dev(), "-o", "json:" + out] +
                    args)


def flows_of_conversations(convs, out):
    """Send every conversation of convs (a dict of them) to hdrlog --log
    flows writing to out; once every frame is counted, stop it: its flow
    records."""
    sent = sum(len(c.frames) for c in convs.values())
    with hdrlog(["--log", "flows"], out) as h:
        for c in convs.values():
            c.send()
        H.wait_until(lambda: h.summary_now().get("seen", 0) >= sent,
                     "every frame counted")
        rc = h.stop()
    assert rc == 0, h.stderr()
    return flows_of(H.read_json_lines(out))


@tap.case("TCP with FIN, TCP with RST, UDP (IPv4 and IPv6) and ICMP echo, "
          "both ways: one record each, counts each way as sent, flags each "
          "way, reasons fin, rst, idle; no packet records with --log flows")
def _():
    s = H.load_scapy()
    out = H.path("flows.json")
    fin_port, rst_port, udp_port, udp6_port = (next_port() for _ in range(4))
    convs = {}
    convs["fin"] = tcp_conversation(fin_port, 80, "fin")
    convs["rst"] = tcp_conversation(rst_port, 80, "rst")
    u = Conversation()
    for i in range(3):
        u.add("ts", s.IP(src=CLIENT, dst=SERVER) /
              s.UDP(sport=udp_port, dport=53) / (b"q" * (10 + i)))
    for i in range(2):
        u.add("tc", s.IP(src=SERVER, dst=CLIENT) /
              s.UDP(sport=53, dport=udp_port) / (b"r" * (100 + i)))
    convs["udp"] = u
    u6 = Conversation()
    u6.add("ts", s.IPv6(src=CLIENT6, dst=SERVER6) /
           s.UDP(sport=udp6_port, dport=123) / (b"n" * 48))
    u6.add("tc", s.IPv6(src=SERVER6, dst=CLIENT6) /
           s.UDP(sport=123, dport=udp6_port) / (b"m" * 48))
    u6.add("tc", s.IPv6(src=SERVER6, dst=CLIENT6) /
           s.UDP(sport=123, dport=udp6_port) / (b"m" * 48))
    convs["udp6"] = u6
    ic = Conversation()
    for i in range(3):
        ic.add("ts", s.IP(src=CLIENT, dst=SERVER) /
               s.ICMP(type=8, id=77, seq=i) / (b"p" * 56))
        ic.add("tc", s.IP(src=SERVER, dst=CLIENT) /
               s.ICMP(type=0, id=77, seq=i) / (b"p" * 56))
    convs["icmp"] = ic

    def complete(recs):
        return (find(recs, src_port=fin_port) and
                find(recs, src_port=rst_port) and
                find(recs, src_port=udp_port) and
                find(recs, src_port=udp6_port) and
                find(recs, proto="ICMP", src_ip=CLIENT))

    with hdrlog(["--log", "flows", "--flow-idle-timeout", "2"], out) as h:
        for c in convs.values():
            c.send()
        recs = H.wait_records(out, complete, timeout=15, proc=h.proc)
        rc = h.stop()
    assert rc == 0, h.stderr()
    recs = H.read_json_lines(out)
    assert not [r for r in recs if r.get("event_type") != "flow"], recs
    problems = []
    want = {
        "fin": (find(recs, src_port=fin_port), "fin", "closed"),
        "rst": (find(recs, src_port=rst_port), "rst", "closed"),
        "udp": (find(recs, src_port=udp_port), "idle", "established"),
        "udp6": (find(recs, src_port=udp6_port), "idle", "established"),
        "icmp": (find(recs, proto="ICMP", src_ip=CLIENT), "idle",
                 "established"),
    }
    for name, (got, reason, state) in want.items():
        if len(got) != 1:
            problems.append("%s: %d records: %s" % (name, len(got), got))
            continue
        r = got[0]
        problems += ["%s: %s" % (name, p) for p in convs[name].check(r)]
        if r["flow"].get("reason") != reason:
            problems.append("%s: reason %s, want %s" % (
                name, r["flow"].get("reason"), reason))
        if r["flow"].get("state") != state:
            problems.append("%s: state %s, want %s" % (
                name, r["flow"].get("state"), state))
        if r.get("in_iface") != H.dev() or r.get("direction") != "in":
            problems.append("%s: interface %s %s" % (
                name, r.get("in_iface"), r.get("direction")))
        if name in ("fin", "rst"):
            c = convs[name]
            tcp = r.get("tcp", {})
            for key, way in (("tcp_flags_ts", "ts"), ("tcp_flags_tc", "tc")):
                if tcp.get(key) != "%02x" % c.flags[way]:
                    problems.append("%s: tcp.%s %s, sent %02x" % (
                        name, key, tcp.get(key), c.flags[way]))
            if (r["src_ip"], r["dest_ip"], r["dest_port"]) != \
                    (CLIENT, SERVER, 80):
                problems.append("%s: not client to server: %s" % (name, r))
            if r["flow"].get("min_ttl") != 50 or \
                    r["flow"].get("max_ttl") != 64:
                problems.append("%s: TTL range %s" % (name, r["flow"]))
        if not r.get("community_id", "").startswith("1:"):
            problems.append("%s: no community_id" % name)
    icmp = want["icmp"][0]
    if icmp and icmp[0].get("icmp_type") != 8:
        problems.append("icmp: type %s, want 8" % icmp[0].get("icmp_type"))
    assert not problems, "\n".join(problems) + "\n" + repr(recs)
    assert "flows exported" in h.stderr(), h.stderr()


@tap.case("VLANs key flows: one conversation's frames untagged, tagged 7, "
          "and double-tagged 7 then 100 and 7 then 200 (a provider's two "
          "customers, same addresses) are four flows, each with its VLAN "
          "ids outer first and its own counts")
def _():
    s, out, _, port = start("vlan_flows.json")
    convs = {}
    for vlans in ((), (7,), (7, 100), (7, 200)):
        c = convs[vlans] = Conversation()
        for i in range(1 + len(vlans)):
            c.add("ts", s.IP(src=CLIENT, dst=SERVER) /
                  s.UDP(sport=port, dport=53) / (b"q" * (20 + i)), vlans)
        c.add("tc", s.IP(src=SERVER, dst=CLIENT) /
              s.UDP(sport=53, dport=port) / (b"r" * 90), vlans)
    recs = [r for r in flows_of_conversations(convs, out)
            if r.get("src_port") == port]
    problems = []
    for vlans, c in convs.items():
        got = [r for r in recs if tuple(r.get("vlan", ())) == vlans]
        if len(got) != 1:
            problems.append("vlan %s: %d records" % (list(vlans), len(got)))
            continue
        problems += ["vlan %s: %s" % (list(vlans), p) for p in c.check(got[0])]
    assert len(recs) == len(convs), recs
    assert not problems, "\n".join(problems) + "\n" + repr(recs)


@tap.case("ICMP requests and their replies are one flow for every pair "
          "the Community ID pairs (ICMPv6 echo, unicast neighbor "
          "solicitation and advertisement, IPv4 router solicitation and "
          "advertisement): one record each, counts each way as sent, the "
          "request's type, the packet records' community_id")
def _():
    s, out, _, _ = start("icmp_pairs.json")
    pairs = {
        ("IPv6-ICMP", 128): [
            ("ts", s.IPv6(src=CLIENT6, dst=SERVER6) /
             s.ICMPv6EchoRequest(id=7, seq=i) / (b"e" * 24)) for i in (1, 2)
        ] + [
            ("tc", s.IPv6(src=SERVER6, dst=CLIENT6) /
             s.ICMPv6EchoReply(id=7, seq=i) / (b"e" * 24)) for i in (1, 2)
        ],
        ("IPv6-ICMP", 135): [
            ("ts", s.IPv6(src=CLIENT6, dst=SERVER6, hlim=255) /
             s.ICMPv6ND_NS(tgt=SERVER6)),
            ("tc", s.IPv6(src=SERVER6, dst=CLIENT6, hlim=255) /
             s.ICMPv6ND_NA(tgt=SERVER6, R=0, S=1, O=1)),
        ],
        ("ICMP", 10): [
            ("ts", s.IP(src=CLIENT, dst=SERVER) / s.ICMP(type=10)),
            ("tc", s.IP(src=SERVER, dst=CLIENT) / s.ICMP(type=9)),
        ],
    }
    convs = {}
    for key, frames in pairs.items():
        c = convs[key] = Conversation()
        for way, l3 in frames:
            c.add(way, l3)
    recs = flows_of_conversations(convs, out)
    problems = []
    for (proto, request), c in convs.items():
        ip6 = proto == "IPv6-ICMP"
        reply = (H.ICMP6_COUNTERPART if ip6 else
                 H.ICMP4_COUNTERPART)[request]
        got = [r for r in recs if r.get("proto") == proto and
               r.get("icmp_type") in (request, reply)]
        if len(got) != 1:
            problems.append("%s %d: %d records: %s" % (
                proto, request, len(got), got))
            continue
        r = got[0]
        problems += ["%s %d: %s" % (proto, request, p) for p in c.check(r)]
        if (r["src_ip"], r.get("icmp_type")) != \
                (CLIENT6 if ip6 else CLIENT, request):
            problems.append("%s %d: not from the client: %s" % (
                proto, request, r))
        want = H.community_id(CLIENT6 if ip6 else CLIENT,
                              SERVER6 if ip6 else SERVER,
                              58 if ip6 else 1, request, 0)
        if r.get("community_id") != want:
            problems.append("%s %d: community_id %s, not %s" % (
                proto, request, r.get("community_id"), want))
    assert not problems, "\n".join(problems) + "\n" + repr(recs)


@tap.case("a flow longer than --flow-active-timeout is reported while it "
          "runs (reason active), the reports' counts adding up to what was "
          "sent; at exit the open flow is written with reason shutdown")
def _():
    s = H.load_scapy()
    out = H.path("active.json")
    port = next_port()
    sent = 0
    with hdrlog(["--log", "flows", "--flow-active-timeout", "1",
                 "--flow-idle-timeout", "60"], out) as h:
        deadline = time.monotonic() + 15
        while not find(H.read_json_lines(out), src_port=port):
            assert time.monotonic() < deadline, "no active report: " + \
                h.stderr()
            c = Conversation()
            c.add("ts", s.IP(src=CLIENT, dst=SERVER) /
                  s.UDP(sport=port, dport=9) / b"tick")
            c.send()
            sent += 1
            time.sleep(0.1)
        c = Conversation()
        c.add("ts", s.IP(src=CLIENT, dst=SERVER) /
              s.UDP(sport=port, dport=9) / b"tick")
        c.send()
        sent += 1
        # every frame counted before the stop: B sends nothing else
        deadline = time.monotonic() + 10
        while h.summary_now().get("seen", 0) < sent:
            assert time.monotonic() < deadline, h.stderr()
            time.sleep(0.05)
        rc = h.stop()
    assert rc == 0, h.stderr()
    recs = find(H.read_json_lines(out), src_port=port)
    reasons = [r["flow"]["reason"] for r in recs]
    assert reasons[0] == "active" and reasons[-1] == "shutdown" and \
        set(reasons) <= {"active", "shutdown"}, reasons
    total = sum(r["flow"]["pkts_toserver"] for r in recs)
    assert total == sent, "reports add up to %d, sent %d: %s" % (
        total, sent, recs)
    assert all(r["flow"]["bytes_toserver"] ==
               r["flow"]["pkts_toserver"] * (20 + 8 + 4) for r in recs), recs


@tap.case("a table swept in slices (idle timeout 6: each flow judged every "
          "2 s): 3000 UDP flows each exported once, reason idle; TCP FIN "
          "and RST flows once, reason fin and rst, counts as sent; 2000 "
          "flows still open at exit each written once, reason shutdown")
def _():
    s = H.load_scapy()
    out = H.path("slices.json")
    idle, late = Conversation(), Conversation()
    base = next_port(5000)
    for i in range(3000):
        idle.add("ts", s.IP(src=CLIENT, dst=SERVER) /
                 s.UDP(sport=base + i, dport=7) / b"i")
    for i in range(3000, 5000):
        late.add("ts", s.IP(src=CLIENT, dst=SERVER) /
                 s.UDP(sport=base + i, dport=8) / b"l")
    fin_port, rst_port = next_port(), next_port()
    fin = tcp_conversation(fin_port, 443, "fin")
    rst = tcp_conversation(rst_port, 443, "rst")

    def mine(recs, dport):
        return [r for r in flows_of(recs) if r.get("dest_port") == dport and
                base <= r.get("src_port", 0) < base + 5000]

    with hdrlog(["--log", "flows", "--flow-idle-timeout", "6"], out) as h:
        idle.send()
        fin.send()
        rst.send()
        recs = H.wait_records(out, lambda rs: len(mine(rs, 7)) >= 3000 and
                              find(rs, src_port=fin_port) and
                              find(rs, src_port=rst_port),
                              timeout=40, proc=h.proc)
        late.send()
        sent = 3000 + 2000 + len(fin.frames) + len(rst.frames)
        deadline = time.monotonic() + 10
        while h.summary_now().get("seen", 0) < sent:
            assert time.monotonic() < deadline, h.stderr()
            time.sleep(0.05)
        rc = h.stop()
    assert rc == 0, h.stderr()
    recs = H.read_json_lines(out)
    got = mine(recs, 7)
    ports = [r["src_port"] for r in got]
    assert len(got) == 3000 and len(set(ports)) == 3000, \
        "%d records for 3000 idle flows" % len(got)
    assert all(r["flow"]["reason"] == "idle" and
               r["flow"]["pkts_toserver"] == 1 for r in got), \
        [r for r in got if r["flow"]["reason"] != "idle"][:3]
    got = mine(recs, 8)
    assert len(got) == 2000 and \
        len({r["src_port"] for r in got}) == 2000, \
        "%d records for 2000 open flows" % len(got)
    assert all(r["flow"]["reason"] == "shutdown" for r in got), got[:3]
    for port, conv, reason in ((fin_port, fin, "fin"), (rst_port, rst, "rst")):
        rs = find(recs, src_port=port)
        assert len(rs) == 1 and rs[0]["flow"]["reason"] == reason, rs
        assert not conv.check(rs[0]), conv.check(rs[0])


@tap.case("a flow table of 16 sent 40 flows, each frame twice (all 40 "
          "first frames, then all again): 16 written, each with both its "
          "frames; the 48 frames of the other 24 counted as not tracked in "
          "the summary")
def _():
    s, out, c, base = start("full.json", 40)
    for i in range(40):
        c.add("ts", s.IP(src=CLIENT, dst=SERVER) /
              s.UDP(sport=base + i, dport=7) / b"z")
    with hdrlog(["--log", "flows", "--flow-table", "16"], out) as h:
        c.send()
        c.send()
        deadline = time.monotonic() + 10
        while h.summary_now().get("flow_table_full", 0) < 48:
            assert time.monotonic() < deadline, h.stderr()
            time.sleep(0.05)
        rc = h.stop()
    assert rc == 0, h.stderr()
    recs = flows_of(H.read_json_lines(out))
    mine = [r for r in recs if base <= r.get("src_port", 0) < base + 40]
    assert len(mine) == 16, mine
    assert all(r["flow"]["pkts_toserver"] == 2 for r in mine), mine
    assert h.summary().get("flow_table_full") == 48, h.stderr()


@tap.case("--log flows,listed: flow records and the list hits' packet "
          "records, no others")
def _():
    s, out, c, p1 = start("listed.json", 2)
    p2 = p1 + 1
    tag = H.write_list("tagged.txt", [SERVER + "/32"])
    for i in range(3):
        c.add("ts", s.IP(src=CLIENT, dst=SERVER) /
              s.UDP(sport=p1, dport=5) / b"a")
        c.add("ts", s.IP(src=CLIENT, dst="203.0.113.30") /
              s.UDP(sport=p2, dport=5) / b"b")
    with hdrlog(["--log", "flows,listed", "--taglist", "t=" + tag,
                 "--flow-idle-timeout", "1"], out) as h:
        c.send()
        H.wait_records(out, lambda rs: find(rs, src_port=p1) and
                       find(rs, src_port=p2), timeout=10, proc=h.proc)
        rc = h.stop()
    assert rc == 0, h.stderr()
    recs = H.read_json_lines(out)
    packets = [r for r in recs if r.get("event_type") == "packet"]
    assert len(packets) == 3 and all(r.get("dest_lists") == ["t"] and
                                     r.get("src_port") == p1
                                     for r in packets), packets
    f1 = find(recs, src_port=p1)
    assert len(f1) == 1 and f1[0].get("dest_lists") == ["t"] and \
        f1[0]["flow"]["pkts_toserver"] == 3, f1
    f2 = find(recs, src_port=p2)
    assert len(f2) == 1 and "dest_lists" not in f2[0], f2


@tap.case("--socket-events: a real TCP connection from A to B gives its "
          "flow record the client process's pid and comm, src the client")
def _():
    port = next_port()
    srv = H.ns_socket(H.topo().ns_b, socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((B_IP, port))
    srv.listen(4)
    out = H.path("owner.json")
    with open("/proc/self/comm") as f:
        comm = f.read().strip()
    with hdrlog(["--log", "flows", "--direction", "both", "--socket-events",
                 "--flow-idle-timeout", "2"], out) as h:
        c = H.ns_socket(H.topo().ns_a, socket.AF_INET, socket.SOCK_STREAM)
        c.settimeout(5)
        c.connect((B_IP, port))
        conn, _ = srv.accept()
        c.sendall(b"hello")
        conn.recv(16)
        conn.sendall(b"world!")
        c.recv(16)
        c.close()
        conn.close()
        recs = H.wait_records(out, lambda rs: find(rs, dest_port=port),
                              timeout=15, proc=h.proc)
        rc = h.stop()
    srv.close()
    assert rc == 0, h.stderr()
    got = find(H.read_json_lines(out), dest_port=port)
    assert len(got) == 1, recs
    r = got[0]
    assert r["src_ip"] == A_IP and r["dest_ip"] == B_IP and \
        r["direction"] == "out", r
    assert r.get("pid") == os.getpid() and r.get("comm") == comm, r
    assert r["flow"]["reason"] == "fin", r
    assert r["tcp"]["tcp_flags_ts"] in ("1b", "1f") and \
        r["tcp"]["tcp_flags_tc"] in ("1b", "1f", "12", "13"), r


@tap.case("--schema ecs: a flow record under ECS names (event.category "
          "network, source/destination/network packets and bytes)")
def _():
    s, out, c, port = start("ecs.json")
    c.add("ts", s.IP(src=CLIENT, dst=SERVER) / s.UDP(sport=port, dport=5)
          / b"a")
    c.add("tc", s.IP(src=SERVER, dst=CLIENT) / s.UDP(sport=5, dport=port)
          / b"bb")
    with hdrlog(["--log", "flows", "--schema", "ecs",
                 "--flow-idle-timeout", "1"], out) as h:
        c.send()
        recs = H.wait_records(out, lambda rs: any(
            r.get("source", {}).get("port") == port for r in rs),
            timeout=10, proc=h.proc)
        h.stop()
    r = [x for x in recs if x.get("source", {}).get("port") == port]
    assert len(r) == 1, recs
    r = r[0]
    assert r["event"]["category"] == ["network"] and \
        r["event"]["type"] == ["connection", "end"] and \
        r["event"]["kind"] == "event", r
    assert r["source"]["packets"] == 1 and r["destination"]["packets"] == 1 \
        and r["network"]["packets"] == 2, r
    assert r["source"]["bytes"] == 29 and r["destination"]["bytes"] == 30 \
        and r["network"]["bytes"] == 59, r
    assert "start" in r["event"] and "end" in r["event"] and \
        r["event"]["reason"] == "idle", r


@tap.case("a pcap output has no place for flow records: skipped and "
          "counted; stats records and the summary count flows by reason")
def _():
    s, out, c, port = start("stats.json")
    cap = H.path("flows.pcap")
    for i in range(2):
        c.add("ts", s.IP(src=CLIENT, dst=SERVER) /
              s.UDP(sport=port, dport=5) / b"a")
    with hdrlog(["--log", "flows", "--flow-idle-timeout", "1", "-w", cap,
                 "--stats-interval", "1"], out) as h:
        c.send()
        recs = H.wait_records(out, lambda rs: any(
            r.get("stats", {}).get("flows", {}).get("idle", {})
            .get("exported") for r in rs), timeout=10, proc=h.proc)
        rc = h.stop()
    assert rc == 0, h.stderr()
    flows = find(recs, src_port=port)
    assert len(flows) == 1, recs
    st = [r for r in recs if r.get("event_type") == "stats"][-1]["stats"]
    assert st["flows"]["new"] >= 1 and st["flows"]["table_full"] == 0 and \
        st["flows"]["idle"]["exported"] >= 1, st
    assert "1 idle" in h.stderr() and "flows exported" in h.stderr(), \
        h.stderr()
    written, lost, _, rest = H.output_summary(h.stderr())["pcap:" + cap]
    assert written == 0 and lost == 0 and \
        "records this output has no place for" in rest, h.stderr()


@tap.case("--log takes a set; flow options without flows are refused")
def _():
    r = H.run_hdrlog(H.topo().ns_a, ["-i", H.dev(), "--log", "flows,bogus",
                                     "--check"])
    H.assert_refused(r, 2, mentions=("packets, flows, listed",))
    r = H.run_hdrlog(H.topo().ns_a, ["-i", H.dev(), "--flow-table", "100",
                                     "--check"])
    H.assert_refused(r, 2, mentions=("--log flows",))



@tap.case("more TCP flows end at once than the queue of ended flows holds "
          "(4096), idle timeout 60 s: each is still written, reason rst, "
          "within seconds (the slices find what the queue lost), not after "
          "the idle timeout")
def _():
    s = H.load_scapy()
    out = H.path("overflow.json")
    n = 16000   # sent within a second or two: a tick takes > 4096 at once
    base = next_port(n)
    frames = [bytes(s.Ether(src=H.pair().b_mac, dst=H.pair().a_mac) /
                    s.IP(src=CLIENT, dst=SERVER) /
                    s.TCP(sport=base + i, dport=9, flags="R"))
              for i in range(n)]

    def mine(recs):
        return [r for r in flows_of(recs) if r.get("dest_port") == 9 and
                base <= r.get("src_port", 0) < base + n]

    with hdrlog(["--log", "flows", "--flow-idle-timeout", "60"], out) as h:
        t0 = time.monotonic()
        H.topo().send(frames, burst=128)
        # half the idle timeout: the queue's overflow found by a pass
        recs = H.wait_records(out, lambda rs: len(mine(rs)) >= n,
                              timeout=30, proc=h.proc)
        waited = time.monotonic() - t0
        rc = h.stop()
    assert rc == 0, h.stderr()
    got = mine(recs)
    assert len(got) == n, "%d of %d ended flows written in %.0f s, before " \
        "the idle timeout (60 s)" % (len(got), n, waited)
    assert len({r["src_port"] for r in got}) == n
    assert all(r["flow"]["reason"] == "rst" and
               r["flow"]["pkts_toserver"] == 1 for r in got), \
        [r for r in got if r["flow"]["reason"] != "rst"][:3]


@tap.case("a full table's slots are reused: a table of 16 filled by 16 "
          "flows of 2 frames; once they are written (idle), new flows of 3 "
          "longer frames take their slots, and every frame of theirs is in "
          "a record of its own flow or counted not tracked, none in an old "
          "flow's counts; three rounds of new flows, each written before "
          "the next")
def _():
    s, out, old, base = start("reuse.json", 16)
    for i in range(16):
        for _ in range(2):
            old.add("ts", s.IP(src=CLIENT, dst=SERVER) /
                    s.UDP(sport=base + i, dport=10) / b"o")

    def of(recs, dport):
        return [r for r in flows_of(recs) if r.get("dest_port") == dport]

    with hdrlog(["--log", "flows", "--flow-table", "16",
                 "--flow-idle-timeout", "1"], out) as h:
        old.send()
        H.wait_records(out, lambda rs: len(of(rs, 10)) >= 16, timeout=20,
                       proc=h.proc)
        # new batches until one finds free slots (a tick after the old
        # flows' export); each batch accounted for whole before the next.
        # Three rounds of that: the slots given back go round the ring of
        # free slots (16) more than once, and the index entries of the
        # exported flows (tombstones) are taken again
        deadline = time.monotonic() + 60
        dport, rounds = 100, 0
        while rounds < 3:
            assert time.monotonic() < deadline, h.stderr()
            dport += 1
            new, nb = Conversation(), next_port(16)
            for i in range(16):
                for _ in range(3):
                    new.add("ts", s.IP(src=CLIENT, dst=SERVER) /
                            s.UDP(sport=nb + i, dport=dport) / (b"n" * 100))
            full0 = h.summary_now().get("flow_table_full", 0)
            new.send()

            def accounted(rs):
                got = sum(r["flow"]["pkts_toserver"] for r in of(rs, dport))
                full = h.summary_now().get("flow_table_full", 0) - full0
                return got + full == 48
            recs = H.wait_records(out, accounted, timeout=20, proc=h.proc)
            assert accounted(recs), (of(recs, dport), h.stderr())
            got = of(recs, dport)
            assert all(r["flow"]["bytes_toserver"] ==
                       r["flow"]["pkts_toserver"] * 128 and
                       r["flow"]["pkts_toclient"] == 0 for r in got), got
            if got:
                rounds += 1
        rc = h.stop()
    assert rc == 0, h.stderr()
    recs = H.read_json_lines(out)
    assert all(r["flow"]["pkts_toserver"] == 2 and
               r["flow"]["bytes_toserver"] == 2 * 29 for r in of(recs, 10)), \
        of(recs, 10)
    assert len(of(recs, 10)) == 16


FLOW_RACE = os.path.join(os.path.dirname(os.path.dirname(H.HDRLOG)), "tests",
                         "helpers", "flow_race")


def a_link():
    r = H.run([H.IP, "-j", "-n", H.topo().ns_a, "link", "show", "dev",
               H.dev()])
    return json.loads(r.stdout)[0]


def xdp_prog_id():
    return a_link()["xdp"]["prog"]["id"]


def flow_race(n, repeat):
    """FLOW_RACE on the XDP program attached to A: n flows, each run
    repeat times on each of two CPUs in step."""
    r = H.run(H.ns_exec(H.topo().ns_a, [FLOW_RACE, str(xdp_prog_id()),
                                        str(n), str(repeat)]),
              check=False, timeout=120)
    assert r.returncode == 0, r.stderr


def assert_race_flows(recs, n, frames):
    """flow_race's n flows (203.0.113.10 -> 203.0.113.30 and up, port 9)
    are all in recs, each in records that add up to frames."""
    got = {}
    for r in flows_of(recs):
        if r.get("dest_port") == 9 and r.get("src_ip") == "203.0.113.10":
            k = (r["dest_ip"], r["src_port"])
            got[k] = got.get(k, 0) + r["flow"]["pkts_toserver"]
    assert len(got) == n, "%d flows of %d" % (len(got), n)
    bad = {k: v for k, v in got.items() if v != frames}
    assert not bad, "flows whose records do not add up to %d frames: %s" % (
        frames, list(bad.items())[:5])


@tap.case("two CPUs make the same 20000 flows at once (BPF_PROG_RUN of the "
          "attached XDP program from a thread on each CPU, in step before "
          "each flow, 4 runs each): every flow's records add up to the 8 "
          "frames it got, none not tracked")
def _():
    if len(os.sched_getaffinity(0)) < 2:
        raise H.Skip("one CPU: nothing runs at once")
    out = H.path("cpus.json")
    n, repeat = 20000, 4
    with hdrlog(["--log", "flows", "--attach-ingress", "xdp",
                 "--flow-table", "65536"], out) as h:
        flow_race(n, repeat)
        rc = h.stop()
    assert rc == 0, h.stderr()
    assert not h.summary().get("flow_table_full"), h.stderr()
    assert_race_flows(H.read_json_lines(out), n, 2 * repeat)


def hdrlog_xdp(out, slots, *args):
    """hdrlog with flows counted in XDP (whose maps bpftool finds from the
    attached program), a table of slots."""
    return hdrlog(["--log", "flows", "--attach-ingress", "xdp",
                   "--flow-table", str(slots)] + list(args), out)


def map_info(name):
    """bpftool's map show (a dict) of the map of the XDP program attached
    to A whose name ends with name (".bss": the globals, whose map name
    starts with the object's)."""
    r = H.run([H.need("bpftool"), "-j", "prog", "show", "id",
               str(xdp_prog_id())])
    for m in json.loads(r.stdout)["map_ids"]:
        info = json.loads(H.run(["bpftool", "-j", "map", "show", "id",
                                 str(m)]).stdout)
        if info["name"].endswith(name):
            return info
    raise AssertionError("no %s map" % name)


def map_id(name):
    """The id of the map name of the XDP program attached to A."""
    return map_info(name)["id"]


def bss():
    """The XDP program's global variables: {name: value}."""
    r = H.run(["bpftool", "-j", "map", "dump", "id", str(map_id(".bss"))])
    out = {}
    for v in json.loads(r.stdout)[0]["formatted"]["value"][".bss"]:
        out.update(v)
    return out


def possible_cpus():
    n = 0
    with open("/sys/devices/system/cpu/possible") as f:
        for part in f.read().strip().split(","):
            lo, _, hi = part.partition("-")
            n = max(n, int(hi or lo) + 1)
    return n


def cache_bits(cpus, n):
    """src/loader.c's flow_cache_bits(): log2 of a CPU's front cache
    entries before an index of n entries (0: none), for cpus CPUs."""
    bits = 16
    if n <= 4 << bits:
        return 0
    while bits > 12 and cpus << bits > n:
        bits -= 1
    return 0 if cpus << bits > n else bits


def le(value, size):
    """bpftool's words for value's size bytes, little-endian."""
    return [str(b) for b in value.to_bytes(size, "little")]


def hex_bytes(words):
    return bytearray(int(b, 16) for b in words)


def slot_bytes(map_id, i):
    r = H.run(["bpftool", "-j", "map", "lookup", "id", str(map_id), "key"] +
              le(i, 4))
    return hex_bytes(json.loads(r.stdout)["value"])


@tap.case("one flow in two slots (the same-key insert race the design "
          "leaves) after an active report of one: the other's idle record "
          "holds its own counts, not a delta against the first's report, "
          "and the records add up to the frames")
def _():
    s = H.load_scapy()
    out = H.path("twoslots.json")
    port = next_port(2)
    other = port + 1
    sent = 0

    def tick():
        """A frame of the flow, and one of another whose slot is then
        made the flow's second (the sweep reads only slots handed out)."""
        c = Conversation()
        for p in (port, other):
            c.add("ts", s.IP(src=CLIENT, dst=SERVER) /
                  s.UDP(sport=p, dport=9) / b"tick")
        c.send()

    with hdrlog_xdp(out, 16, "--flow-active-timeout", "1",
                    "--flow-idle-timeout", "3") as h:
        deadline = time.monotonic() + 15
        while not find(H.read_json_lines(out), src_port=port):
            assert time.monotonic() < deadline, "no active report: " + \
                h.stderr()
            tick()
            sent += 1
            time.sleep(0.1)
        # the other flow's frames all counted: none while its slot changes
        deadline = time.monotonic() + 10
        while h.summary_now().get("seen", 0) < 2 * sent:
            assert time.monotonic() < deadline, h.stderr()
            time.sleep(0.05)
        m = map_id("flow_slots")
        v = o = None
        for i in range(16):
            b = slot_bytes(m, i)
            # LIVE, and the key's ports (the client's address is lower)
            if b[48] == 2 and int.from_bytes(b[40:44], "big") == \
                    port << 16 | 9:
                v = b
            if b[48] == 2 and int.from_bytes(b[40:44], "big") == \
                    other << 16 | 9:
                o, o_slot = b, i
        assert v and o, "the flows' slots not found"
        # the other flow's slot: the same key as the flow's, one frame,
        # idle for 10 s; its index entry still the other's (whose tag no
        # lookup of this key matches), made a tombstone as it is exported
        w = bytearray(v)
        first = int.from_bytes(v[120:128], "little") - 10 ** 10
        w[56:64] = first.to_bytes(8, "little")
        w[64:96] = (1).to_bytes(8, "little") + bytes(8) + \
            (32).to_bytes(8, "little") + bytes(8)
        w[120:128] = first.to_bytes(8, "little")
        w[164:168] = o[164:168]
        H.run(["bpftool", "map", "update", "id", str(m), "key"] +
              le(o_slot, 4) + ["value"] + [str(x) for x in w])
        deadline = time.monotonic() + 10
        while not any(r["flow"]["reason"] == "idle" for r in
                      find(H.read_json_lines(out), src_port=port)):
            assert time.monotonic() < deadline, "no idle record: " + \
                h.stderr()
            time.sleep(0.05)
        rc = h.stop()
    assert rc == 0, h.stderr()
    recs = find(H.read_json_lines(out), src_port=port)
    idle = [r for r in recs if r["flow"]["reason"] == "idle"]
    assert len(idle) == 1 and idle[0]["flow"]["pkts_toserver"] == 1 and \
        idle[0]["flow"]["bytes_toserver"] == 32, idle
    total = sum(r["flow"]["pkts_toserver"] for r in recs)
    assert total == sent + 1, "records add up to %d, %d frames: %s" % (
        total, sent + 1, recs)

M64 = (1 << 64) - 1
INDEX_TOMB = M64
# in use, and no key's (a key's tag is odd: flow_find() sets its low bit)
PLANTED = 2 << 32 | 0xfffffff0


def flow_hash(key):
    """bpf/flows.bpf.h's flow_hash() of a 48-byte key."""
    h = 0
    for i in range(0, 48, 8):
        h = ((h ^ int.from_bytes(key[i:i + 8], "little")) *
             0x9e3779b97f4a7c15) & M64
        h ^= h >> 29
    h ^= h >> 32
    h = (h * 0xd6e8feb86659fd93) & M64
    return h ^ (h >> 32)


def udp_key(ifindex, client, sport, server, dport):
    """struct hdrlog_flow_key of an IPv4 UDP flow whose client has the
    lower address (the key's lo end), untagged."""
    return (ifindex.to_bytes(4, "little") + bytes(2) + bytes([4, 17]) +
            socket.inet_aton(client) + bytes(12) +
            socket.inet_aton(server) + bytes(12) +
            sport.to_bytes(2, "big") + dport.to_bytes(2, "big") + bytes(4))


def udp_homes(sports, dport, n):
    """For each of sports, the home entry in an index of n and the tag (an
    entry's high 32 bits) of the UDP flow CLIENT:sport -> SERVER:dport
    arriving at A (the key's lo end is the client's, the lower address)."""
    ifindex = a_link()["ifindex"]
    homes = {}
    for sport in sports:
        h = flow_hash(udp_key(ifindex, CLIENT, sport, SERVER, dport))
        homes[sport] = (((h & 0xffffffff) * n) >> 32, (h >> 32) | 1)
    return homes


def index_entries(m):
    """flow_index (map m), read with bpftool: the entries in order."""
    e = {}
    for kv in json.loads(H.run(["bpftool", "-j", "map", "dump", "id",
                                str(m)]).stdout):
        e[int.from_bytes(hex_bytes(kv["key"]), "little")] = \
            int.from_bytes(hex_bytes(kv["value"]), "little")
    return [e[i] for i in range(len(e))]


def wait_index(m, ok, what, timeout=15):
    """Read flow_index until ok(entries); its entries then."""
    deadline = time.monotonic() + timeout
    while True:
        e = index_entries(m)
        if ok(e):
            return e
        assert time.monotonic() < deadline, "flow_index: no %s: %s" % (
            what, {i: hex(v) for i, v in enumerate(e) if v})
        time.sleep(0.1)


def udp_frames(s, *ports, dport):
    c = Conversation()
    for p in ports:
        c.add("ts", s.IP(src=CLIENT, dst=SERVER) /
              s.UDP(sport=p, dport=dport) / b"f")
    return c


@tap.case("the probe limit (64): a new flow whose home in the index starts "
          "a run of 64 entries in use (planted with bpftool), the 65th "
          "EMPTY, is not tracked: counted as not tracked in the summary, no "
          "record; one whose run is 63 takes the 64th entry and is written")
def _():
    s, out, _, base = start("probes.json", 2000)
    n = 512     # the index: twice the slots
    with hdrlog_xdp(out, 256, "--flow-idle-timeout", "60") as h:
        m = map_id("flow_index")
        homes = udp_homes(range(base, base + 2000), 12, n)

        def span(p, k):
            return {(homes[p][0] + i) % n for i in range(k)}
        known, lost, fits = base, None, None
        for p in homes:
            if lost is None and not span(p, 65) & span(known, 1):
                lost = p
            elif lost is not None and \
                    not span(p, 64) & (span(known, 1) | span(lost, 65)):
                fits = p
                break
        # the hash here is the kernel's: a flow's entry is at its home
        udp_frames(s, known, dport=12).send()
        e = wait_index(m, lambda e: e[homes[known][0]] >> 32 ==
                       homes[known][1], "entry of the first flow at its home")
        for p, k in ((lost, 64), (fits, 63)):
            at = homes[p][0]
            assert e[(at + k) % n] == 0, "entry %d in use" % ((at + k) % n)
            for i in span(p, k):
                if e[i] == 0:
                    H.run(["bpftool", "map", "update", "id", str(m), "key"] +
                          le(i, 4) + ["value"] + le(PLANTED, 8))
        udp_frames(s, lost, dport=12).send()
        deadline = time.monotonic() + 10
        while h.summary_now().get("flow_table_full", 0) < 1:
            assert time.monotonic() < deadline, h.stderr()
            time.sleep(0.05)
        udp_frames(s, fits, dport=12).send()
        at = (homes[fits][0] + 63) % n
        wait_index(m, lambda e: e[at] >> 32 == homes[fits][1],
                   "entry of the flow at the end of its run (%d)" % at)
        rc = h.stop()
    assert rc == 0, h.stderr()
    recs = H.read_json_lines(out)
    assert not find(recs, src_port=lost), find(recs, src_port=lost)
    for p in (known, fits):
        got = find(recs, src_port=p)
        assert len(got) == 1 and got[0]["flow"]["pkts_toserver"] == 1, got
    assert h.summary().get("flow_table_full") == 1, h.stderr()


@tap.case("tombstones go: three flows of one home in the index take it and "
          "the two entries after; the first two written (idle) while the "
          "third goes on: their entries stay tombstones, past which the "
          "third is found (every frame counted in it), and a new flow of "
          "that home takes the first; once all are written, no tombstone "
          "is left and none of their entries")
def _():
    s, out, _, base = start("tombs.json", 2000)
    n = 128     # the index: twice the slots
    with hdrlog_xdp(out, 64, "--flow-idle-timeout", "2") as h:
        m = map_id("flow_index")
        homes = udp_homes(range(base, base + 2000), 11, n)
        by_home = {}
        for p, (at, _) in homes.items():
            by_home.setdefault(at, []).append(p)
        home, ports = max(by_home.items(), key=lambda kv: len(kv[1]))
        a, b, c, d = ports[:4]
        tag = {p: homes[p][1] for p in (a, b, c, d)}
        at = [(home + i) % n for i in range(4)]
        sent = {a: 1, b: 1, c: 1, d: 2}
        udp_frames(s, a, b, c, dport=11).send()
        wait_index(m, lambda e: [e[i] >> 32 for i in at[:3]] ==
                   [tag[a], tag[b], tag[c]], "chain of three at %d" % home)
        deadline = time.monotonic() + 20
        while True:
            e = index_entries(m)
            if e[at[0]] == INDEX_TOMB and e[at[1]] == INDEX_TOMB:
                break
            assert time.monotonic() < deadline, \
                "no tombstones: %s" % [hex(e[i]) for i in at]
            udp_frames(s, c, dport=11).send()
            sent[c] += 1
            time.sleep(0.3)
        assert e[at[2]] >> 32 == tag[c] and e[at[3]] == 0, \
            [hex(e[i]) for i in at]
        udp_frames(s, d, c, d, dport=11).send()
        sent[c] += 1
        e = wait_index(m, lambda e: e[at[0]] >> 32 == tag[d],
                       "new flow in the first tombstone (%d)" % at[0])
        assert e[at[1]] == INDEX_TOMB, [hex(e[i]) for i in at]

        def written(recs):
            return all(sum(r["flow"]["pkts_toserver"] for r in
                           find(recs, src_port=p)) == k
                       for p, k in sent.items())
        H.wait_records(out, written, timeout=20, proc=h.proc)
        wait_index(m, lambda e: INDEX_TOMB not in e and
                   not {v >> 32 for v in e} & set(tag.values()),
                   "index without tombstones or the flows' entries")
        rc = h.stop()
    assert rc == 0, h.stderr()
    recs = H.read_json_lines(out)
    assert all(r["flow"]["reason"] == "idle"
               for p in sent for r in find(recs, src_port=p)), recs



@tap.case("a table of 131073 flows has a cache of index entries for each "
          "CPU in front of its index (65536 a CPU, fewer past 4 CPUs): "
          "50000 flows made on two CPUs at once (BPF_PROG_RUN), written "
          "when idle, and made again, three "
          "rounds: the flows come back to cache entries naming their "
          "exported slots, and by the third round to slots reused by other "
          "flows; every flow's records add up to its 6 frames, none not "
          "tracked")
def _():
    if len(os.sched_getaffinity(0)) < 2:
        raise H.Skip("one CPU: nothing runs at once")
    out = H.path("cache.json")
    n, rounds, table = 50000, 3, 131073
    # 65536 entries a CPU with up to 4 possible CPUs, fewer with more
    bits = cache_bits(possible_cpus(), 2 * table)
    if not bits:
        raise H.Skip("%d possible CPUs: no front cache before an index of "
                     "%d" % (possible_cpus(), 2 * table))
    with hdrlog_xdp(out, table, "--flow-idle-timeout", "1", "--fields",
                    "event_type,src_ip,dest_ip,src_port,dest_port,"
                    "flow.pkts_toserver") as h:
        cache = map_info("flow_cache")
        assert cache["max_entries"] == possible_cpus() << bits, cache
        for r in range(1, rounds + 1):
            flow_race(n, 1)
            # every flow of the round written, and every slot taken so far
            # given back (the exported ones and the race's orphans), so
            # that the next round's flows find the cache entries stale
            deadline = time.monotonic() + 30
            while True:
                done = h.summary_now().get("flows_exported", 0)
                g = bss()
                taken = min(g["flow_slots_fresh"], table) + \
                    g["flow_free_head"]
                if done >= r * n and g["flow_free_tail"] == taken:
                    break
                assert time.monotonic() < deadline, (r, done, g, h.stderr())
                time.sleep(0.2)
        reused = bss()["flow_free_head"]
        rc = h.stop()
    assert rc == 0, h.stderr()
    assert reused > 0, "no slot was taken from the free ring"
    assert not h.summary().get("flow_table_full"), h.stderr()
    assert_race_flows(H.read_json_lines(out), n, 2 * rounds)


@tap.case("the front cache (a table of 131073), frames run on one CPU: a "
          "flow's frames after its second (the first a walk finds) are "
          "counted through its cache entry; an entry naming a slot that holds another flow now (as "
          "after the slot's reuse), or a slot of the frame's key that is "
          "not LIVE (BUSY: an insert that may yet lose its race, never "
          "exported), is passed by: every frame is in its own flow's "
          "record, none in another's")
def _():
    table, src, dst = 131073, "203.0.113.10", "203.0.113.40"
    bits = cache_bits(possible_cpus(), 2 * table)
    if not bits:
        raise H.Skip("%d possible CPUs: no front cache before an index of "
                     "%d" % (possible_cpus(), 2 * table))
    s, out, _, base = start("cachehit.json", 3)
    cpu = min(os.sched_getaffinity(0))
    frame = H.path("cachehit.frame")
    # BPF_PROG_RUN of XDP: the frame comes in on the namespace's lo
    key = {p: udp_key(1, src, p, dst, 9) for p in range(base, base + 3)}

    def entry(p):
        """p's place in the cache of this CPU, and its tag."""
        h = flow_hash(key[p])
        return cpu << bits | (h & ((1 << bits) - 1)), ((h >> 32) | 1) << 32

    def run_on_cpu(p):
        with open(frame, "wb") as f:
            f.write(bytes(s.Ether(src="02:00:00:00:00:01",
                                  dst="02:00:00:00:00:02") /
                          s.IP(src=src, dst=dst) / s.UDP(sport=p, dport=9) /
                          bytes(18)))
        mask = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {cpu})  # this thread's, for the child
        try:
            H.run(H.ns_exec(H.topo().ns_a, ["bpftool", "prog", "run", "id",
                                             str(prog), "data_in", frame]))
        finally:
            os.sched_setaffinity(0, mask)

    def slot_of(p):
        for i in range(bss()["flow_slots_fresh"]):
            b = slot_bytes(slots, i)
            if b[48] == 2 and b[:48] == key[p]:
                return i
        raise AssertionError("no LIVE slot of port %d" % p)

    def plant(m, k, value):
        H.run(["bpftool", "map", "update", "id", str(m), "key"] + le(k, 4) +
              ["value"] + [str(b) for b in value])

    k1, k2, k3 = base, base + 1, base + 2
    with hdrlog_xdp(out, table, "--flow-idle-timeout", "60") as h:
        prog = xdp_prog_id()
        cache, slots = map_id("flow_cache"), map_id("flow_slots")
        run_on_cpu(k1)                  # new: not put in the cache
        run_on_cpu(k1)                  # found by the walk: put there
        s1 = slot_of(k1)
        at, tag = entry(k1)
        got = int.from_bytes(slot_bytes(cache, at), "little")
        assert got == tag | s1, "cache entry %d: %#x, not %#x" % (
            at, got, tag | s1)
        run_on_cpu(k1)                  # through the cache entry
        run_on_cpu(k2)
        plant(cache, at, (tag | slot_of(k2)).to_bytes(8, "little"))
        run_on_cpu(k1)                  # k2's slot: not k1's key
        # a slot never handed out, k3's key, BUSY; k3's entry names it
        x = table - 1
        plant(slots, x, key[k3] + bytes([1]) + bytes(192 - 49))
        at, tag = entry(k3)
        plant(cache, at, (tag | x).to_bytes(8, "little"))
        run_on_cpu(k3)
        rc = h.stop()
    assert rc == 0, h.stderr()
    recs = H.read_json_lines(out)
    for p, n in ((k1, 4), (k2, 1), (k3, 1)):
        got = find(recs, src_port=p, dest_ip=dst)
        assert sum(r["flow"]["pkts_toserver"] for r in got) == n, \
            "port %d: %d frames run, records %s" % (p, n, got)


if __name__ == "__main__":
    H.main(lambda: H.run_tap(tap))
