#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""
Header parsing, end to end: craft frames with scapy, send them into a veth
whose far end hdrlog watches, and check every field of every record
  - against a reference decoder of the field contract (hdrlogtest.py),
  - against facts spelled out per case below,
  - against tshark's dissection of the same frames,
plus Community ID spec vectors and timestamps against tcpdump's.
One hdrlog run carries all frames; each frame has its own source MAC
(02:00:00:00:CASE:FRAME), which is how records are matched to frames.
"""
import contextlib
import os
import shutil
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hdrlogtest as H  # noqa: E402

ABSENT = object()
DST_MAC = "02:00:5e:00:53:01"      # not vethA's: the stack drops the frames
A4, B4 = "198.51.100.1", "198.51.100.2"
A6, B6 = "2001:db8::1", "2001:db8::2"

# --------------------------------------------------------------------------
# cases: each builder gets scapy and E(i) (Ethernet header for frame i) and
# returns [(frame, facts)], facts being fields whose value (or ABSENT) the
# case asserts explicitly, on top of the reference decoder's full record.
# --------------------------------------------------------------------------

CASES = []


def case(name):
    def register(fn):
        CASES.append((name, fn))
        return fn
    return register


def cut(pkt, n):
    """The first n bytes of a frame: a truncated frame."""
    b = bytes(pkt)
    assert len(b) > n
    return b[:n]


@case("IPv4 TCP: SYN, SYN+ACK, all flags, seq/ack/window")
def _(s, E):
    ip = s.IP(src=B4, dst=A4, ttl=61, tos=0x10, id=0x4242)
    return [
        (E(0) / ip / s.TCP(sport=40000, dport=80, flags="S",
                           seq=0xDEADBEEF, ack=0, window=64240),
         {"proto": "TCP", "ip_proto": 6, "ip_v": 4, "ttl": 61, "tos": 16,
          "ip_id": 0x4242, "src_ip": B4, "dest_ip": A4, "src_port": 40000,
          "dest_port": 80, "tcp_flags": "02", "tcp_seq": 0xDEADBEEF,
          "tcp_ack": 0, "tcp_win": 64240, "ether_type": 2048, "ip_len": 40,
          "pkt_len": 54, "vlan": ABSENT, "frag_offset": ABSENT,
          "more_fragments": ABSENT, "flow_label": ABSENT,
          "truncated": ABSENT, "icmp_type": ABSENT}),
        (E(1) / s.IP(src=A4, dst=B4, ttl=64) /
         s.TCP(sport=80, dport=40000, flags="SA", seq=0x01020304,
               ack=0xDEADBEF0, window=65535),
         {"tcp_flags": "12", "tcp_seq": 0x01020304, "tcp_ack": 0xDEADBEF0,
          "tcp_win": 65535, "src_port": 80, "dest_port": 40000}),
        (E(2) / ip / s.TCP(sport=1, dport=2, flags=0xFF, seq=4294967295,
                           ack=4294967295, window=0),
         {"tcp_flags": "ff", "tcp_seq": 4294967295, "tcp_ack": 4294967295,
          "tcp_win": 0}),
    ]


@case("IPv4 UDP")
def _(s, E):
    return [(E(0) / s.IP(src=B4, dst=A4, ttl=1, tos=0xB8, id=0) /
             s.UDP(sport=5353, dport=53) / (b"q" * 21),
             {"proto": "UDP", "ip_proto": 17, "src_port": 5353,
              "dest_port": 53, "ttl": 1, "tos": 0xB8, "ip_id": 0,
              "ip_len": 20 + 8 + 21, "tcp_flags": ABSENT,
              "tcp_seq": ABSENT, "community_id": H.community_id(
                  B4, A4, 17, 5353, 53)})]


@case("IPv4 SCTP")
def _(s, E):
    from scapy.layers.sctp import SCTP, SCTPChunkData
    return [(E(0) / s.IP(src=B4, dst=A4) / SCTP(sport=2905, dport=2906,
                                                tag=0x11223344) /
             SCTPChunkData(data=b"m3ua"),
             {"proto": "SCTP", "ip_proto": 132, "src_port": 2905,
              "dest_port": 2906, "tcp_flags": ABSENT,
              "community_id": H.community_id(B4, A4, 132, 2905, 2906)})]


@case("IPv4 ICMP echo request/reply and unreachable")
def _(s, E):
    return [
        (E(0) / s.IP(src=B4, dst=A4) / s.ICMP(type=8, code=0, id=7, seq=1),
         {"proto": "ICMP", "ip_proto": 1, "icmp_type": 8, "icmp_code": 0,
          "src_port": ABSENT, "dest_port": ABSENT,
          "community_id": H.community_id(B4, A4, 1, 8, 0)}),
        (E(1) / s.IP(src=A4, dst=B4) / s.ICMP(type=0, code=0, id=7, seq=1),
         {"icmp_type": 0, "icmp_code": 0,
          # a reply has the request's Community ID
          "community_id": H.community_id(B4, A4, 1, 8, 0)}),
        (E(2) / s.IP(src=B4, dst=A4) / s.ICMP(type=3, code=1) /
         s.IP(src=A4, dst="192.0.2.9") / s.UDP(sport=1, dport=2),
         {"icmp_type": 3, "icmp_code": 1, "src_ip": B4,
          "community_id": H.community_id(B4, A4, 1, 3, 1)}),
    ]


@case("IPv6 ICMPv6 echo request/reply")
def _(s, E):
    return [
        (E(0) / s.IPv6(src=B6, dst=A6, hlim=255, tc=0x20, fl=0xABCDE) /
         s.ICMPv6EchoRequest(id=1, seq=2, data=b"ping"),
         {"proto": "IPv6-ICMP", "ip_proto": 58, "ip_v": 6,
          "icmp_type": 128, "icmp_code": 0, "ttl": 255, "tos": 0x20,
          "flow_label": 0xABCDE, "ip_len": 40 + 8 + 4, "ip_id": ABSENT,
          "ether_type": 34525, "src_ip": B6, "dest_ip": A6,
          "community_id": H.community_id(B6, A6, 58, 128, 0)}),
        (E(1) / s.IPv6(src=A6, dst=B6) /
         s.ICMPv6EchoReply(id=1, seq=2, data=b"ping"),
         {"icmp_type": 129,
          "community_id": H.community_id(B6, A6, 58, 128, 0)}),
    ]


@case("IPv4 GRE: proto GRE, no ports, no community_id")
def _(s, E):
    return [(E(0) / s.IP(src=B4, dst=A4) / s.GRE(proto=0x9999) /
             (b"g" * 12),
             {"proto": "GRE", "ip_proto": 47, "src_port": ABSENT,
              "dest_port": ABSENT, "community_id": ABSENT,
              "truncated": ABSENT})]


@case("unnamed IP protocol numbers (IPv4 200, IPv6 253)")
def _(s, E):
    return [
        (E(0) / s.IP(src=B4, dst=A4, proto=200) / (b"z" * 20),
         {"proto": "200", "ip_proto": 200, "src_port": ABSENT,
          "community_id": ABSENT}),
        (E(1) / s.IPv6(src=B6, dst=A6, nh=253) / (b"z" * 20),
         {"proto": "253", "ip_proto": 253, "community_id": ABSENT}),
    ]


@case("UDP-Lite: ports, no community_id")
def _(s, E):
    return [(E(0) / s.IP(src=B4, dst=A4, proto=136) /
             s.UDP(sport=7000, dport=7001) / (b"l" * 8),
             {"proto": "UDPLite", "ip_proto": 136, "src_port": 7000,
              "dest_port": 7001, "community_id": ABSENT})]


@case("802.1Q VLAN")
def _(s, E):
    return [(E(0) / s.Dot1Q(vlan=42, prio=3) / s.IP(src=B4, dst=A4) /
             s.UDP(sport=1000, dport=2000),
             {"vlan": [42], "ether_type": 2048, "src_port": 1000,
              "pkt_len": 14 + 4 + 20 + 8}),
            (E(1) / s.Dot1Q(vlan=4094, prio=7, id=1) /
             s.IPv6(src=B6, dst=A6) / s.UDP(sport=1, dport=2),
             {"vlan": [4094], "ether_type": 34525})]


@case("QinQ: 802.1ad outer + 802.1Q inner")
def _(s, E):
    return [(E(0) / s.Dot1AD(vlan=100, prio=5, type=0x8100) /
             s.Dot1Q(vlan=200, prio=1) / s.IPv6(src=B6, dst=A6) /
             s.TCP(sport=443, dport=55555, flags="PA"),
             {"vlan": [100, 200], "ether_type": 34525, "ip_v": 6,
              "tcp_flags": "18", "pkt_len": 14 + 8 + 40 + 20}),
            (E(1) / s.Dot1AD(vlan=1, type=0x8100) / s.Dot1Q(vlan=2) /
             s.ARP(op=1, psrc=B4, pdst="198.51.100.99"),
             {"vlan": [1, 2], "ether_type": 2054, "ip_v": ABSENT})]


@case("IPv4 with options (IHL > 5)")
def _(s, E):
    opts = [s.IPOption_RR(routers=["192.0.2.1", "192.0.2.2"]),
            s.IPOption_NOP()]
    p = E(0) / s.IP(src=B4, dst=A4, options=opts) / \
        s.TCP(sport=2222, dport=3333, flags="S")
    assert bytes(p[s.IP])[0] & 0x0F > 5
    return [(p, {"src_port": 2222, "dest_port": 3333, "tcp_flags": "02",
                 "ip_len": len(bytes(p[s.IP])), "truncated": ABSENT})]


@case("IPv4 fragments: first (ports, MF), middle, last (no ports)")
def _(s, E):
    return [
        (E(0) / s.IP(src=B4, dst=A4, id=777, flags="MF", frag=0) /
         s.UDP(sport=4000, dport=5000, len=3000) / (b"f" * 32),
         {"frag_offset": 0, "more_fragments": True, "src_port": 4000,
          "dest_port": 5000, "ip_id": 777,
          "community_id": H.community_id(B4, A4, 17, 4000, 5000)}),
        (E(1) / s.IP(src=B4, dst=A4, id=777, flags="MF", frag=185,
                     proto=17) / (b"f" * 32),
         {"frag_offset": 1480, "more_fragments": True, "proto": "UDP",
          "ip_proto": 17, "src_port": ABSENT, "dest_port": ABSENT,
          "community_id": ABSENT, "truncated": ABSENT}),
        (E(2) / s.IP(src=B4, dst=A4, id=777, flags=0, frag=370,
                     proto=6) / (b"f" * 32),
         {"frag_offset": 2960, "more_fragments": False, "proto": "TCP",
          "src_port": ABSENT, "tcp_flags": ABSENT, "community_id": ABSENT}),
        (E(3) / s.IP(src=B4, dst=A4, flags="DF") / s.UDP(sport=1, dport=2),
         {"frag_offset": ABSENT, "more_fragments": ABSENT}),
    ]


@case("IPv6 hop-by-hop + routing + destination options, then TCP")
def _(s, E):
    p = (E(0) / s.IPv6(src=B6, dst=A6, tc=0xFF, fl=0xFFFFF, hlim=2) /
         s.IPv6ExtHdrHopByHop(options=[s.PadN(optdata=b"\0" * 4)]) /
         s.IPv6ExtHdrRouting(addresses=["2001:db8::99"]) /
         s.IPv6ExtHdrDestOpt() /
         s.TCP(sport=12345, dport=443, flags="S", seq=42))
    return [(p, {"ip_proto": 6, "proto": "TCP", "src_port": 12345,
                 "dest_port": 443, "tcp_seq": 42, "tos": 0xFF,
                 "flow_label": 0xFFFFF, "ttl": 2, "ip_id": ABSENT,
                 "frag_offset": ABSENT, "ip_len": len(bytes(p)) - 14})]


@case("IPv6 AH then TCP")
def _(s, E):
    from scapy.layers.ipsec import AH
    # AH length is (payloadlen + 2) * 4: 12 fixed + 12 ICV = 24 bytes
    p = (E(0) / s.IPv6(src=B6, dst=A6, nh=51) /
         AH(nh=6, payloadlen=4, spi=0x100, seq=1, icv=b"\xaa" * 12) /
         s.TCP(sport=5555, dport=6666, flags="A"))
    return [(p, {"ip_proto": 6, "proto": "TCP", "src_port": 5555,
                 "dest_port": 6666, "tcp_flags": "10",
                 "community_id": H.community_id(B6, A6, 6, 5555, 6666)})]


@case("IPv6 fragments: first (ports) and non-first (no ports)")
def _(s, E):
    return [
        (E(0) / s.IPv6(src=B6, dst=A6) /
         s.IPv6ExtHdrFragment(offset=0, m=1, id=0xDEADBEEF, nh=17) /
         s.UDP(sport=53, dport=33333) / (b"a" * 16),
         {"ip_id": 0xDEADBEEF, "frag_offset": 0, "more_fragments": True,
          "ip_proto": 17, "proto": "UDP", "src_port": 53,
          "dest_port": 33333}),
        (E(1) / s.IPv6(src=B6, dst=A6) /
         s.IPv6ExtHdrFragment(offset=185, m=0, id=0xDEADBEEF, nh=6) /
         (b"a" * 16),
         {"ip_id": 0xDEADBEEF, "frag_offset": 1480, "more_fragments": False,
          "ip_proto": 6, "proto": "TCP", "src_port": ABSENT,
          "tcp_flags": ABSENT, "community_id": ABSENT,
          "truncated": ABSENT}),
        (E(2) / s.IPv6(src=B6, dst=A6) / s.IPv6ExtHdrHopByHop() /
         s.IPv6ExtHdrFragment(offset=1, m=1, id=1, nh=58) / (b"a" * 8),
         {"ip_id": 1, "frag_offset": 8, "more_fragments": True,
          "ip_proto": 58, "icmp_type": ABSENT}),
    ]


@case("IPv6 extension chain: 8 headers parsed, 9 too deep (no ports)")
def _(s, E):
    def chain(n):
        p = s.IPv6(src=B6, dst=A6)
        for _ in range(n):
            p = p / s.IPv6ExtHdrDestOpt()
        return p / s.TCP(sport=999, dport=888)
    return [
        (E(0) / chain(8), {"ip_proto": 6, "src_port": 999,
                           "truncated": ABSENT}),
        (E(1) / chain(9), {"ip_proto": 60, "proto": "IPv6-Opts",
                           "src_port": ABSENT, "dest_port": ABSENT,
                           "tcp_flags": ABSENT, "community_id": ABSENT,
                           "truncated": ABSENT}),
    ]


@case("truncated inside a VLAN tag")
def _(s, E):
    return [
        (cut(E(0) / s.Dot1Q(vlan=5) / s.IP(), 16),
         {"truncated": True, "pkt_len": 16, "vlan": ABSENT,
          "ether_type": 0x8100, "ip_v": ABSENT, "src_ip": ABSENT}),
        (cut(E(1) / s.Dot1AD(vlan=6, type=0x8100) / s.Dot1Q(vlan=7) /
             s.IP(), 20),
         {"truncated": True, "vlan": [6], "ether_type": 0x8100,
          "pkt_len": 20}),
    ]


@case("truncated inside the IPv4 header")
def _(s, E):
    return [(cut(E(0) / s.IP(src=B4, dst=A4) / s.TCP(), 14 + 12),
             {"truncated": True, "ether_type": 2048, "ip_v": ABSENT,
              "src_ip": ABSENT, "proto": ABSENT, "ttl": ABSENT,
              "pkt_len": 26})]


@case("truncated inside IPv4 options")
def _(s, E):
    opts = [s.IPOption_RR(routers=["192.0.2.1"] * 4)]   # IHL 10
    return [(cut(E(0) / s.IP(src=B4, dst=A4, ttl=9, options=opts) /
                 s.TCP(), 14 + 24),
             {"truncated": True, "ip_v": 4, "src_ip": B4, "ttl": 9,
              "ip_proto": 6, "src_port": ABSENT, "community_id": ABSENT})]


@case("truncated inside the TCP and UDP headers")
def _(s, E):
    return [
        (cut(E(0) / s.IP(src=B4, dst=A4) / s.TCP(sport=1, dport=2),
             14 + 20 + 10),
         {"truncated": True, "ip_proto": 6, "proto": "TCP",
          "src_port": ABSENT, "dest_port": ABSENT, "tcp_flags": ABSENT,
          "community_id": ABSENT}),
        (cut(E(1) / s.IPv6(src=B6, dst=A6) / s.UDP(sport=1, dport=2),
             14 + 40 + 4),
         {"truncated": True, "ip_proto": 17, "src_port": ABSENT}),
        (cut(E(2) / s.IP(src=B4, dst=A4) / s.ICMP(), 14 + 20 + 2),
         {"truncated": True, "icmp_type": ABSENT, "community_id": ABSENT}),
    ]


@case("truncated inside IPv6 header and extension headers")
def _(s, E):
    hbh = s.IPv6ExtHdrHopByHop(options=[s.PadN(optdata=b"\0" * 12)])
    full = E(1) / s.IPv6(src=B6, dst=A6) / hbh / s.TCP()
    assert bytes(full[s.IPv6ExtHdrHopByHop])[1] == 1    # 16 bytes
    frag = E(2) / s.IPv6(src=B6, dst=A6) / s.IPv6ExtHdrFragment(nh=6) / \
        s.TCP()
    return [
        (cut(E(0) / s.IPv6(src=B6, dst=A6) / s.TCP(), 14 + 30),
         {"truncated": True, "ether_type": 34525, "ip_v": ABSENT}),
        (cut(full, 14 + 40 + 8),
         {"truncated": True, "ip_v": 6, "src_ip": B6, "ip_proto": 0,
          "proto": "HOPOPT", "src_port": ABSENT}),
        (cut(frag, 14 + 40 + 4),
         {"truncated": True, "ip_proto": 44, "ip_id": ABSENT,
          "frag_offset": ABSENT}),
    ]


@case("ARP: no IP fields")
def _(s, E):
    return [(E(0, dst="ff:ff:ff:ff:ff:ff") /
             s.ARP(op=1, hwsrc="02:00:00:00:00:01", psrc=B4,
                   pdst="198.51.100.99"),
             {"ether_type": 2054, "dest_mac": "ff:ff:ff:ff:ff:ff",
              "ip_v": ABSENT, "src_ip": ABSENT, "proto": ABSENT,
              "ip_proto": ABSENT, "ttl": ABSENT, "community_id": ABSENT,
              "truncated": ABSENT})]


@case("IPv6 addresses in compressed (inet_ntop) form")
def _(s, E):
    return [(E(0) / s.IPv6(src="2001:db8:0:0:1:0:0:1",
                           dst="2001:0db8:0000:0000:0000:0000:0000:0001") /
             s.UDP(sport=1, dport=2),
             {"src_ip": "2001:db8::1:0:0:1", "dest_ip": "2001:db8::1"}),
            (E(1) / s.IPv6(src="2001:db8:1:2:3:4:5:6",
                           dst="2001:db8:0:1:0:0:0:0") /
             s.UDP(sport=1, dport=2),
             {"src_ip": "2001:db8:1:2:3:4:5:6", "dest_ip": "2001:db8:0:1::"})]


SPEC_TCP = "1:wCb3OG7yAFWelaUydu0D+125CLM="
SPEC_UDP = "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg="


@case("community_id: spec vectors, both directions")
def _(s, E):
    return [
        (E(0) / s.IP(src="1.2.3.4", dst="5.6.7.8") /
         s.TCP(sport=1122, dport=3344), {"community_id": SPEC_TCP}),
        (E(1) / s.IP(src="5.6.7.8", dst="1.2.3.4") /
         s.TCP(sport=3344, dport=1122, flags="SA"),
         {"community_id": SPEC_TCP}),
        (E(2) / s.IP(src="1.2.3.4", dst="5.6.7.8") /
         s.UDP(sport=1122, dport=3344), {"community_id": SPEC_UDP}),
        (E(3) / s.IP(src="5.6.7.8", dst="1.2.3.4") /
         s.UDP(sport=3344, dport=1122), {"community_id": SPEC_UDP}),
        (E(4) / s.IP(src="1.2.3.4", dst="5.6.7.8") / s.ICMP(type=8),
         {"community_id": "1:crodRHL2FEsHjbv3UkRrfbs4bZ0="}),
    ]


# --------------------------------------------------------------------------
# tshark
# --------------------------------------------------------------------------

TSHARK_FIELDS = [
    "frame.len", "eth.src", "eth.dst", "eth.type", "ieee8021ad.id",
    "vlan.id", "vlan.etype", "ip.version", "ip.src", "ip.dst", "ip.proto",
    "ip.ttl", "ip.dsfield", "ip.len", "ip.id", "ip.flags.mf",
    "ip.frag_offset", "ipv6.version", "ipv6.src", "ipv6.dst", "ipv6.hlim",
    "ipv6.tclass", "ipv6.flow", "ipv6.plen", "ipv6.nxt",
    "ipv6.fraghdr.ident", "ipv6.fraghdr.offset", "ipv6.fraghdr.more",
    "ipv6.fraghdr.nxt", "tcp.srcport", "tcp.dstport", "tcp.flags",
    "tcp.seq_raw", "tcp.ack_raw", "tcp.window_size_value", "udp.srcport",
    "udp.dstport", "sctp.srcport", "sctp.dstport", "icmp.type", "icmp.code",
    "icmpv6.type", "icmpv6.code", "communityid", "_ws.malformed", "arp.opcode",
]


def write_pcap(path, frames):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for i, fr in enumerate(frames):
            f.write(struct.pack("<IIII", 1000000000 + i, 0, len(fr),
                                len(fr)))
            f.write(fr)


def tshark(path):
    cmd = ["tshark", "-r", path, "-n", "--enable-protocol", "communityid",
           "-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE",
           "-T", "json"]
    for fld in TSHARK_FIELDS:
        cmd += ["-e", fld]
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError("tshark failed: " + r.stderr)
    import json
    return [p["_source"]["layers"] for p in json.loads(r.stdout)]


def hexint(v):
    return int(v, 16) if v.startswith("0x") else int(v)


def tshark_view(rec, L):
    """
    (field, record value, tshark value) for each record field tshark also
    has. The record's v4/v6 decides which tshark fields apply; only the
    first (outermost) instance of a tshark field is used.
    """
    def first(name, conv=str):
        v = L.get(name)
        return None if not v else conv(v[0])
    out = []

    def pair(key, val):
        if key in rec and val is not None:
            out.append((key, rec[key], val))
    pair("pkt_len", first("frame.len", int))
    pair("src_mac", first("eth.src"))
    pair("dest_mac", first("eth.dst"))
    vl = [int(x) for x in L.get("ieee8021ad.id", [])] + \
        [int(x) for x in L.get("vlan.id", [])]
    if vl:
        if rec.get("truncated") and len(vl) > len(rec.get("vlan", [])):
            # tshark shows the TCI of a tag whose ethertype is cut off
            vl = vl[:len(rec.get("vlan", []))]
        pair("vlan", vl or None)
    et = L.get("vlan.etype") or L.get("eth.type")
    if et and et[-1] not in ("0x8100", "0x88a8"):
        pair("ether_type", hexint(et[-1]))
    if rec.get("ip_v") == 4:
        pair("ip_v", first("ip.version", int))
        pair("src_ip", first("ip.src"))
        pair("dest_ip", first("ip.dst"))
        pair("ip_proto", first("ip.proto", int))
        pair("ttl", first("ip.ttl", int))
        pair("tos", first("ip.dsfield", hexint))
        pair("ip_len", first("ip.len", int))
        pair("ip_id", first("ip.id", hexint))
        if "frag_offset" in rec:
            pair("frag_offset", first("ip.frag_offset", lambda v: int(v) * 8))
            pair("more_fragments", first("ip.flags.mf", lambda v: v == "1"))
    elif rec.get("ip_v") == 6:
        pair("ip_v", first("ipv6.version", int))
        pair("src_ip", first("ipv6.src"))
        pair("dest_ip", first("ipv6.dst"))
        pair("ttl", first("ipv6.hlim", int))
        pair("tos", first("ipv6.tclass", hexint))
        pair("flow_label", first("ipv6.flow", hexint))
        pair("ip_len", first("ipv6.plen", lambda v: int(v) + 40))
        pair("ip_id", first("ipv6.fraghdr.ident", hexint))
        pair("frag_offset", first("ipv6.fraghdr.offset", lambda v: int(v) * 8))
        pair("more_fragments", first("ipv6.fraghdr.more", lambda v: v == "1"))
        nxt = L.get("ipv6.nxt")
        if nxt and int(nxt[0]) not in H.IPV6_EXT:
            pair("ip_proto", int(nxt[0]))
        elif L.get("ipv6.fraghdr.nxt") and "frag_offset" in rec:
            pair("ip_proto", first("ipv6.fraghdr.nxt", int))
    for proto in ("tcp", "udp", "sctp"):
        if proto + ".srcport" in L:
            pair("src_port", first(proto + ".srcport", int))
            pair("dest_port", first(proto + ".dstport", int))
            break
    pair("tcp_flags", first("tcp.flags", lambda v: "%02x" % (hexint(v) & 0xFF)))
    pair("tcp_seq", first("tcp.seq_raw", int))
    pair("tcp_ack", first("tcp.ack_raw", int))
    pair("tcp_win", first("tcp.window_size_value", int))
    if rec.get("ip_v") == 4:
        pair("icmp_type", first("icmp.type", int))
        pair("icmp_code", first("icmp.code", int))
    else:
        pair("icmp_type", first("icmpv6.type", int))
        pair("icmp_code", first("icmpv6.code", int))
    pair("community_id", first("communityid"))
    if rec.get("truncated"):
        out.append(("truncated (tshark: malformed)", True,
                    "_ws.malformed" in L))
    return out


def tshark_required(rec):
    """Record fields tshark must have dissected too (sanity of the check)."""
    req = ["pkt_len", "src_mac", "dest_mac"]
    if rec.get("truncated"):
        return req
    req += [k for k in ("vlan", "ether_type", "ip_v", "src_ip", "dest_ip",
                        "ttl", "tos", "ip_len", "flow_label", "frag_offset",
                        "more_fragments", "src_port", "dest_port",
                        "tcp_flags", "tcp_seq", "tcp_ack", "tcp_win",
                        "icmp_type", "icmp_code", "community_id")
            if k in rec]
    if rec.get("ip_v") == 4:
        req += ["ip_id", "ip_proto"]
    return req


# --------------------------------------------------------------------------
# pcap reading (tcpdump's capture, nanosecond timestamps)
# --------------------------------------------------------------------------

def read_pcap(path):
    """[(ts_ns, frame bytes)] from a classic pcap file."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 24:
        return []
    magic = struct.unpack("<I", data[:4])[0]
    if magic in (0xA1B23C4D, 0xA1B2C3D4):
        end = "<"
    else:
        end = ">"
        magic = struct.unpack(">I", data[:4])[0]
    nano = magic == 0xA1B23C4D
    off, out = 24, []
    while off + 16 <= len(data):
        sec, frac, incl, _orig = struct.unpack(end + "IIII",
                                               data[off:off + 16])
        off += 16
        ts = sec * 1000000000 + (frac if nano else frac * 1000)
        out.append((ts, data[off:off + incl]))
        off += incl
    return out


# --------------------------------------------------------------------------
# the run
# --------------------------------------------------------------------------

def body():
    H.preflight()
    scapy = H.load_scapy()
    tap = H.Tap()
    state = {}

    # Build every frame up front (pure Python; no namespace needed).
    built = []      # (case name, [(bytes, facts)])
    for ci, (name, fn) in enumerate(CASES, 1):
        def E(fi, dst=DST_MAC, ci=ci):
            return scapy.Ether(src="02:00:00:00:%02x:%02x" % (ci, fi),
                               dst=dst)
        try:
            items = [(bytes(f), facts) for f, facts in fn(scapy, E)]
        except Exception as e:
            items = e
        built.append((name, items))
    frames = [b for _n, items in built if isinstance(items, list)
              for b, _f in items]

    topo = H.Topology().__enter__()
    dev = topo.pairs[0].a
    d = H.tmpdir()

    def run_capture():
        out = os.path.join(d, "headers.json")
        cap = os.path.join(d, "capture.pcap")
        want = {H.mac_text(f[6:12]) for f in frames}
        have_tcpdump = shutil.which("tcpdump") is not None
        with (H.Tcpdump(topo.ns_a, dev, cap) if have_tcpdump
              else contextlib.nullcontext()) as td, \
                H.Hdrlog(topo.ns_a, ["-i", dev, "--attach-ingress", "xdp",
                                     "-o", "json:" + out]) as h:
            t0 = time.time_ns()
            topo.send(frames)
            t1 = time.time_ns()
            H.wait_records(out, lambda rs: want <= {r.get("src_mac")
                                                    for r in rs},
                           timeout=10, proc=h.proc)
            # (a duplicate needs no wait: stopping drains the ring buffer,
            # so every record of the frames sent is written before exit)
            rc = h.stop()
            if td:
                td.stop()
        recs = H.read_json_lines(out)
        state.update(recs=recs, rc=rc, summary=h.summary(), t0=t0, t1=t1,
                     stderr=h.stderr(),
                     capture=read_pcap(cap) if have_tcpdump else None)
        by_mac = {}
        for r in recs:
            by_mac.setdefault(r.get("src_mac"), []).append(r)
        state["by_mac"] = by_mac
        sent = os.path.join(d, "sent.pcap")
        write_pcap(sent, frames)
        # every record is compared with tshark's dissection too (README)
        assert shutil.which("tshark"), "tshark not installed (packaging/" \
            "install-deps.sh installs it): no comparison with its dissection"
        state["tshark"] = dict(zip(frames, tshark(sent)))
        H.diag("%d frames sent, %d records, summary %s" %
               (len(frames), len(recs), state["summary"]))
        assert rc == 0, "hdrlog exit code %d after SIGINT" % rc
        missing = want - set(by_mac)
        assert not missing, "no record for %d frames: %s" % (
            len(missing), sorted(missing))
        dups = {m: len(v) for m, v in by_mac.items() if len(v) > 1}
        assert not dups, "several records for one frame: %s" % dups
        stray = set(by_mac) - want
        assert not stray, "records for frames not sent: %s" % stray

    tap.add("capture: one record per frame sent, exit 0 on SIGINT",
            run_capture)

    def same_as_native(name, args, unseen=()):
        """Every frame again with args: the records native XDP gave.
        unseen: frames this hook never sees."""
        need_state()
        out = os.path.join(d, name + ".json")
        want = {H.mac_text(f[6:12]) for f in frames} - set(unseen)
        with H.Hdrlog(topo.ns_a, ["-i", dev, "-o", "json:" + out] +
                      args) as h:
            topo.send(frames)
            H.wait_records(out, lambda rs: want <= {r.get("src_mac")
                                                    for r in rs},
                           timeout=10, proc=h.proc)
            rc = h.stop()
        assert rc == 0, "exit %d; stderr: %s" % (rc, h.stderr())
        problems = []
        got = {}
        for r in H.read_json_lines(out):
            got.setdefault(r.get("src_mac"), []).append(r)
        for mac in sorted(want):
            g, n = got.get(mac), state["by_mac"].get(mac)
            if not g or len(g) != 1:
                problems.append("%s: %d records" % (mac, len(g or [])))
            elif n:
                diffs = H.diff_record(g[0], n[0])
                if diffs:
                    problems.append("%s: %s vs native XDP: %s" %
                                    (mac, name, "; ".join(diffs)))
        assert not problems, "\n".join(problems)

    def generic_mode():
        same_as_native("generic", ["--xdp-mode", "generic"])

    def tc_ingress():
        # the same body as XDP's, from tc: the same records, frame by frame
        # Except a frame cut inside its outer VLAN tag: the receive path
        # frees it when it takes the tag out (skb_vlan_untag), before tc.
        cut_tag = [H.mac_text(f[6:12]) for f in frames
                   if len(f) < 18 and f[12:14] in (b"\x81\x00", b"\x88\xa8")]
        assert cut_tag, "TEST BUG: no frame cut inside its VLAN tag"
        cap = os.path.join(d, "tc.pcap")
        same_as_native("tc", ["--attach-ingress", "tc", "-s", "0",
                              "-w", cap], cut_tag)
        # and the bytes captured are the frame's, a tag the skb held
        # apart put back in place
        sent = {H.mac_text(f[6:12]): f for f in frames}
        bad = [H.mac_text(f[6:12]) for _ts, f in read_pcap(cap)
               if sent.get(H.mac_text(f[6:12])) != f]
        assert not bad, "captured bytes differ from those sent: %s" % bad
        assert len(read_pcap(cap)) == len(frames) - len(cut_tag)


    def need_state():
        if "by_mac" not in state:
            raise AssertionError("capture failed; see test 1")

    def make_case(name, items):
        def check():
            if isinstance(items, Exception):
                raise items
            need_state()
            problems = []
            for fi, (fr, facts) in enumerate(items):
                mac = H.mac_text(fr[6:12])
                recs = state["by_mac"].get(mac)
                label = "frame %d (%d bytes, src_mac %s)" % (fi, len(fr), mac)
                if not recs:
                    problems.append("%s: no record" % label)
                    continue
                rec = recs[0]
                want = H.expected_record(fr, dev, topo.pairs[0].a_ifindex)
                diffs = ["reference: " + x for x in H.diff_record(rec, want)]
                for k, v in facts.items():
                    if v is ABSENT:
                        if k in rec:
                            diffs.append("case: %s must be omitted, got %s"
                                         % (k, rec[k]))
                    elif k not in rec:
                        diffs.append("case: %s missing, expected %r" % (k, v))
                    elif not H._same(rec[k], v):
                        diffs.append("case: %s expected %r, got %r" %
                                     (k, v, rec[k]))
                    # keep the reference decoder honest too
                    if (v is ABSENT) != (k not in want) or \
                            (v is not ABSENT and want.get(k) != v):
                        diffs.append("TEST BUG: reference decoder says %s=%r"
                                     % (k, want.get(k, "<absent>")))
                view = tshark_view(rec, state["tshark"][fr])
                for key, mine, theirs in view:
                    if mine != theirs:
                        diffs.append("tshark: %s record %r, tshark %r" %
                                     (key, mine, theirs))
                compared = {k for k, _m, _t in view}
                for k in tshark_required(rec) if view else []:
                    if k not in compared:
                        diffs.append("tshark: has no value for %s" % k)
                if diffs:
                    problems.append("%s: %s" % (label, fr.hex()))
                    problems += ["  " + x for x in diffs]
                    problems.append("  record: " + str(dict(rec)))
            assert not problems, "\n".join(problems)
        return check

    for name, items in built:
        tap.add(name, make_case(name, items))

    def timestamps():
        need_state()
        t0, t1 = state["t0"], state["t1"]
        if state["capture"] is None:
            raise H.Skip("tcpdump not installed")
        cap = {}
        for ts, fr in state["capture"]:
            cap.setdefault(H.mac_text(fr[6:12]), ts)
        diffs, bad = [], []
        for r in state["recs"]:
            ns = H.timestamp_ns(r["timestamp"])
            if not (t0 - 50000000 <= ns <= t1 + 1000000000):
                bad.append("%s: %s outside the send window" %
                           (r.get("src_mac"), r["timestamp"]))
            c = cap.get(r.get("src_mac"))
            if c is not None:
                diffs.append((ns - c) / 1e6)
        assert diffs, "tcpdump captured none of the frames"
        adiffs = sorted(abs(x) for x in diffs)
        worst = adiffs[-1]
        H.diag("timestamp - tcpdump timestamp over %d frames: min %+.3f ms, "
               "max %+.3f ms, median |d| %.3f ms, max |d| %.3f ms" %
               (len(diffs), min(diffs), max(diffs),
                adiffs[len(adiffs) // 2], worst))
        assert not bad, "\n".join(bad)
        # Both stamps are taken in the same NAPI poll of veth A, so the
        # 1 ms bound has lots of margin (typically a few µs).
        assert worst < 1.0, "timestamps differ from tcpdump's by up to " \
            "%.3f ms" % worst

    tap.add("timestamps: RFC 3339 µs, within 1 ms of tcpdump's", timestamps)

    def summary():
        need_state()
        s, n = state["summary"], len(frames)
        assert s.get("seen") == n and s.get("written") == n and \
            s.get("lost") == 0 and s.get("sampled_out") == 0, \
            "summary %s for %d frames sent; stderr:\n%s" % (s, n,
                                                           state["stderr"])

    tap.add("exit summary counts every frame", summary)
    tap.add("--xdp-mode generic: the same records as native", generic_mode)
    tap.add("--attach-ingress tc: the same records as native XDP", tc_ingress)
    try:
        tap.run()
    finally:
        topo.destroy()


if __name__ == "__main__":
    H.main(body)
