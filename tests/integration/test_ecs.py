#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""
--schema ecs: JSON records with Elastic Common Schema names.

The schema is one per run, so the same frames go through two runs, one
with hdrlog's own names and one with ECS names, and every ECS record must
 - validate against the ECS types of the fields it uses (a small schema
   written here from the ECS reference: ip, long, keyword, date, the
   arrays ECS defines, the allowed values of the categorization fields),
 - equal the default record of the same frame put through the mapping the
   man page documents (ECS_MAPPING below, written from the man page, not
   from src/fields.c).
Frames: IPv4 TCP, IPv6 UDP, ICMP, ICMPv6, one and two VLAN tags, frames
from a blocked and a tagged source. Socket events (a real TCP connection)
come from two hdrlogs running at once, one per schema: both see the same
kernel events. The syslog output sends the ECS record as its body, which
a real rsyslogd's mmjsonparse reads back.
"""
import datetime
import ipaddress
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hdrlogtest as H  # noqa: E402
import test_syslog as SL  # noqa: E402  (its rsyslogd)
from sockpeers import conns_spec, exchange, of_conn  # noqa: E402

tap = H.Tap()
MAC_KIND = 0xec              # source MACs 02:ec:... (H.new_mac)
ECS_VERSION = "8.17.0"
A4, B4 = "198.51.100.1", "198.51.100.2"
A6, B6 = "2001:db8::1", "2001:db8::2"

# --------------------------------------------------------------------------
# the ECS types of the fields hdrlog uses (ECS 8.17 field reference)
# --------------------------------------------------------------------------

ECS_TYPES = {
    "@timestamp": "date",
    "ecs.version": "keyword",
    "event.kind": "keyword",
    "event.category": "keyword[]",
    "event.type": "keyword[]",
    "event.action": "keyword",
    "event.duration": "long",
    "observer.ingress.interface.name": "keyword",
    "observer.ingress.interface.id": "keyword",
    "observer.egress.interface.name": "keyword",
    "observer.egress.interface.id": "keyword",
    "process.pid": "long",
    "process.thread.id": "long",
    "process.name": "keyword",
    "user.id": "keyword",
    "source.ip": "ip",
    "source.port": "long",
    "source.mac": "keyword",
    "destination.ip": "ip",
    "destination.port": "long",
    "destination.mac": "keyword",
    "network.type": "keyword",
    "network.transport": "keyword",
    "network.iana_number": "keyword",
    "network.direction": "keyword",
    "network.bytes": "long",
    "network.community_id": "keyword",
    "network.vlan.id": "keyword",
    "network.inner.vlan.id": "keyword",
}

# allowed values ECS lists for its categorization fields
ALLOWED = {
    "event.kind": {"alert", "asset", "enrichment", "event", "metric",
                   "state", "pipeline_error", "signal"},
    "event.category": {"network"},
    "event.type": {"access", "admin", "allowed", "change", "connection",
                   "creation", "deletion", "denied", "end", "error",
                   "group", "indicator", "info", "installation", "protocol",
                   "start", "user"},
    "network.direction": {"ingress", "egress", "inbound", "outbound",
                          "internal", "external", "unknown"},
    "network.type": {"ipv4", "ipv6"},
}
MAC_RE = re.compile(r"^[0-9A-F]{2}(-[0-9A-F]{2}){5}$")
DATE_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?"
                     r"(Z|[+-]\d\d:\d\d)$")


def leaves(obj, prefix=""):
    """(dotted path, value) of every non-object value of a nested record."""
    for k, v in obj.items():
        p = prefix + k
        if isinstance(v, dict):
            assert v, "%s: an empty object" % p
            yield from leaves(v, p + ".")
        else:
            yield p, v


def type_problems(rec):
    """What in rec is not the ECS type of its field."""
    out = []
    for p, v in leaves(rec):
        if p.startswith("hdrlog."):
            continue        # hdrlog's own: compared with the default record
        t = ECS_TYPES.get(p)
        if t is None:
            out.append("%s: not an ECS field hdrlog uses" % p)
            continue
        vals = v if t.endswith("[]") else [v]
        if t.endswith("[]") and not (isinstance(v, list) and v):
            out.append("%s: not a non-empty array: %r" % (p, v))
            continue
        for x in vals:
            if t == "long" and not (isinstance(x, int) and
                                    not isinstance(x, bool) and x >= 0):
                out.append("%s: not a long: %r" % (p, x))
            elif t in ("keyword", "keyword[]", "ip", "date") and \
                    not isinstance(x, str):
                out.append("%s: not a string: %r" % (p, x))
            elif t == "ip":
                try:
                    ipaddress.ip_address(x)
                except ValueError:
                    out.append("%s: not an IP address: %r" % (p, x))
            elif t == "date":
                if not DATE_RE.match(x):
                    out.append("%s: not ISO 8601 with a zone: %r" % (p, x))
                else:
                    datetime.datetime.fromisoformat(x.replace("Z",
                                                              "+00:00"))
            if p in ALLOWED and x not in ALLOWED[p]:
                out.append("%s: %r is not an allowed value" % (p, x))
        if p.endswith(".mac") and not MAC_RE.match(v):
            out.append("%s: not RFC 7042 (02-AB-...): %r" % (p, v))
        if p.endswith(".port") and not 0 <= v <= 65535:
            out.append("%s: out of range: %r" % (p, v))
    if rec.get("ecs", {}).get("version") != ECS_VERSION:
        out.append("ecs.version missing or not %s" % ECS_VERSION)
    return out


# --------------------------------------------------------------------------
# the mapping the man page documents (section ECS FIELD NAMES)
# --------------------------------------------------------------------------

SAME = {
    "timestamp": "@timestamp", "event": "event.action",
    "action": "event.action",
    "in_iface": "observer.ingress.interface.name",
    "out_iface": "observer.egress.interface.name",
    "pid": "process.pid", "tid": "process.thread.id",
    "comm": "process.name", "src_ip": "source.ip",
    "dest_ip": "destination.ip", "src_port": "source.port",
    "dest_port": "destination.port", "pkt_len": "network.bytes",
    "community_id": "network.community_id",
}


def event_type(rec):
    t = ["connection"]
    if rec.get("event") in ("connect", "accept"):
        t.append("start")
    elif rec.get("event") == "close":
        t.append("end")
    elif "action" in rec:
        t.append("denied" if rec["action"] == "drop" else "allowed")
    return t


def to_ecs(rec):
    """The ECS record the documented mapping makes of a default one."""
    out = {}

    def put(path, v):
        *objs, leaf = path.split(".")
        d = out
        for o in objs:
            d = d.setdefault(o, {})
        assert leaf not in d, "two values for %s" % path
        d[leaf] = v
    put("ecs.version", ECS_VERSION)
    side = "egress" if rec.get("direction") == "out" else "ingress"
    for k, v in rec.items():
        if k in SAME:
            put(SAME[k], v)
        elif k == "event_type":
            put("event.kind", "event")
            put("event.category", ["network"])
            put("event.type", event_type(rec))
            put("hdrlog.event_type", v)
        elif k == "ifindex":
            put("observer.%s.interface.id" % side, str(v))
        elif k == "uid":
            put("user.id", str(v))
        elif k in ("src_mac", "dest_mac"):
            put(("source" if k == "src_mac" else "destination") + ".mac",
                v.upper().replace(":", "-"))
        elif k == "vlan":
            put("network.vlan.id", str(v[0]))
            if len(v) > 1:
                put("network.inner.vlan.id", str(v[1]))
        elif k == "ip_v":
            put("network.type", "ipv%d" % v)
        elif k == "proto":
            put("network.transport", v.lower())
        elif k == "ip_proto":
            put("network.iana_number", str(v))
        elif k == "direction":
            put("network.direction", {"in": "ingress", "out": "egress"}[v])
        elif k == "duration_ms":
            # ns in ECS; the default has ms to the microsecond
            put("event.duration", round(v * 1000) * 1000)
        else:
            put("hdrlog." + k, v)
    return out


def check_pair(ecs, default, where, skip=("@timestamp",)):
    """ecs validates and equals the mapped default record."""
    probs = type_problems(ecs)
    assert not probs, "%s: %s\n%s" % (where, probs, json.dumps(ecs))
    want = to_ecs(default)
    if "duration_ms" in default:
        # ns in ECS, to the microsecond in the default record
        d = ecs.get("event", {}).get("duration")
        assert isinstance(d, int), (where, ecs)
        want["event"]["duration"] = d
    got = {k: v for k, v in ecs.items() if k not in skip}
    want = {k: v for k, v in want.items() if k not in skip}
    assert got == want, "%s:\nECS      %s\nexpected %s\ndefault  %s" % (
        where, json.dumps(got, sort_keys=True),
        json.dumps(want, sort_keys=True), json.dumps(default))


# --------------------------------------------------------------------------
# frames, run twice
# --------------------------------------------------------------------------

def test_frames(s):
    """[(frame, source MAC)]: one of each kind the test covers."""
    out = []

    def E():
        m = H.new_mac(MAC_KIND)
        out.append(m)
        return s.Ether(src=m, dst="02:00:5e:00:53:01")
    frames = [
        E() / s.IP(src=B4, dst=A4, ttl=61, id=7) /
        s.TCP(sport=40000, dport=80, flags="S", seq=1, window=512),
        E() / s.IPv6(src=B6, dst=A6, fl=0x12345) / s.UDP(sport=5353,
                                                        dport=53),
        E() / s.IP(src=B4, dst=A4) / s.ICMP(type=8, id=1, seq=1),
        E() / s.IPv6(src=B6, dst=A6) / s.ICMPv6EchoRequest(id=1, seq=2),
        E() / s.Dot1Q(vlan=42) / s.IP(src=B4, dst=A4) /
        s.UDP(sport=1000, dport=2000),
        E() / s.Dot1AD(vlan=100, type=0x8100) / s.Dot1Q(vlan=200) /
        s.IPv6(src=B6, dst=A6) / s.TCP(sport=1, dport=2, flags="FA"),
        E() / s.IP(src=B4, dst=A4, flags="MF", frag=0) / s.UDP(sport=9,
                                                              dport=9),
    ]
    return [(bytes(f), m) for f, m in zip(frames, out)]


def capture(frames, args, name):
    """Records of one run of hdrlog in A with args over frames, by source
    MAC; each frame must have given one."""
    out = H.path(name + ".json")
    if os.path.exists(out):
        os.unlink(out)
    macs = {m for _, m in frames}
    with H.Hdrlog(H.topo().ns_a, ["-i", H.dev(), "-o", "json:" + out] +
                  list(args)) as h:
        H.topo().send([f for f, _ in frames])

        def mac_of(r):
            return r.get("src_mac") or \
                r.get("source", {}).get("mac", "").lower().replace("-", ":")
        recs = H.wait_records(out, lambda rs: macs <= {mac_of(r)
                                                       for r in rs},
                              10, h.proc)
        h.stop()
    got = {}
    for r in recs:
        m = mac_of(r)
        if m in macs:
            assert m not in got, "%s: two records of frame %s" % (name, m)
            got[m] = r
    assert set(got) == macs, "%s: no records of %s:\n%s" % (
        name, sorted(macs - set(got)), h.stderr())
    return got


def both_schemas(frames, args, name):
    default = capture(frames, args, name + "-default")
    ecs = capture(frames, list(args) + ["--schema", "ecs"], name + "-ecs")
    for _, m in frames:
        check_pair(ecs[m], default[m], "%s frame %s" % (name, m))
        assert DATE_RE.match(ecs[m]["@timestamp"])
    return default, ecs


@tap.case("packets: IPv4/IPv6, TCP/UDP/ICMP, VLAN tags, a fragment: ECS "
          "records validate and equal the default records")
def _():
    frames = test_frames(H.load_scapy())
    default, ecs = both_schemas(frames, [], "plain")
    # what the mapping must have shown, not only matched
    recs = list(ecs.values())
    assert {r["network"]["transport"] for r in recs} == \
        {"tcp", "udp", "icmp", "ipv6-icmp"}, recs
    assert {r["network"]["type"] for r in recs} == {"ipv4", "ipv6"}
    qinq = [r for r in recs if "inner" in r["network"]]
    assert len(qinq) == 1 and qinq[0]["network"]["vlan"]["id"] == "100" \
        and qinq[0]["network"]["inner"]["vlan"]["id"] == "200", qinq
    assert all(r["observer"]["ingress"]["interface"]["name"] == H.dev()
               for r in recs)
    assert all(r["event"]["type"] == ["connection"] for r in recs)
    # names and kinds as hdrlog always wrote them in the default schema
    assert all("src_ip" in r for r in default.values())


@tap.case("lists: a blocked source is event.action drop, event.type "
          "denied; a tagged one allowed, its list in hdrlog.src_lists")
def _():
    block = H.write_list("ecs-block.txt", ["198.51.100.66"])
    tag = H.write_list("ecs-tag.txt", ["198.51.100.77/32"])
    frames = []
    for src in ("198.51.100.66", "198.51.100.77", B4):
        m = H.new_mac(MAC_KIND)
        frames.append((H.udp_frame(m, src_ip=src), m))
    args = ["--blocklist", "bad=" + block, "--taglist", "tor=" + tag]
    default, ecs = both_schemas(frames, args, "lists")
    blocked, tagged, plain = (ecs[m] for _, m in frames)
    assert blocked["event"]["action"] == "drop" and \
        blocked["event"]["type"] == ["connection", "denied"] and \
        blocked["hdrlog"]["src_lists"] == ["bad"], blocked
    assert tagged["event"]["action"] == "pass" and \
        tagged["event"]["type"] == ["connection", "allowed"] and \
        tagged["hdrlog"]["src_lists"] == ["tor"], tagged
    assert "src_lists" not in plain["hdrlog"], plain


@tap.case("--fields selects by hdrlog's names with --schema ecs too; "
          "ecs.version is always there")
def _():
    m = H.new_mac(MAC_KIND)
    frames = [(H.udp_frame(m, dport=4242), m)]
    got = capture(frames, ["--schema", "ecs", "--fields",
                           "src_mac,dest_port,vlan"], "fields")
    assert got[m] == {"destination": {"port": 4242},
                      "ecs": {"version": ECS_VERSION},
                      "source": {"mac": m.upper().replace(":", "-")}}, got


@tap.case("socket events: two hdrlogs at once, one per schema, agree on "
          "every connect, accept and close (process, user, direction)")
def _():
    outs = {s: H.path("sock-%s.json" % s) for s in ("default", "ecs")}
    runs = {s: H.Hdrlog(H.topo().ns_a, ["--events", "sockets", "-o",
                                        "json:" + p] +
                        (["--schema", "ecs"] if s == "ecs" else []))
            for s, p in outs.items()}
    try:
        for h in runs.values():
            h.start(wait=False)
            assert h.err.wait_for(r"listening to", 15), h.stderr()
        sinfo, cinfo, port, spid, cpid = exchange(
            conns_spec([(3, 4)], sleep=0.05), 4, "hlt-ecs-cli",
            "hlt-ecs-srv")
        cport = cinfo[0]["local"][1]

        def conn_recs(rs):
            d = of_conn([r for r in rs if "event_type" in r], cport, port)
            e = [r for r in rs if "hdrlog" in r and
                 r["hdrlog"].get("event_type") == "socket" and
                 r.get("network", {}).get("transport") == "tcp" and
                 {r.get("source", {}).get("port"),
                  r.get("destination", {}).get("port")} == {cport, port}]
            return d + e
        recs = {}
        for s, h in runs.items():
            recs[s] = conn_recs(H.wait_records(
                outs[s], lambda rs: len(conn_recs(rs)) >= 4, 10, h.proc))
            assert h.stop() == 0, h.stderr()
    finally:
        for h in runs.values():
            h.kill()

    # one record per (event, direction, pid): connect, accept, two closes
    ecs = {(r["event"]["action"],
            {"ingress": "in", "egress": "out"}.get(
                r.get("network", {}).get("direction")),
            r.get("process", {}).get("pid")): r for r in recs["ecs"]}
    default = {(r["event"], r.get("direction"), r.get("pid")): r
               for r in recs["default"]}
    assert len(default) == 4 and set(default) == set(ecs), \
        "default %s\necs %s" % (sorted(default, key=str),
                                sorted(ecs, key=str))
    for k in default:
        check_pair(ecs[k], default[k], "socket %s" % (k,))
    starts = [r for r in ecs.values() if "start" in r["event"]["type"]]
    assert {r["process"]["pid"] for r in starts} == {spid, cpid}, starts
    assert {r["process"]["name"] for r in starts} == \
        {"hlt-ecs-cli", "hlt-ecs-srv"}
    assert all(isinstance(r["user"]["id"], str) for r in starts)


@tap.case("syslog with --schema ecs: the body is the ECS record, and "
          "rsyslog's mmjsonparse reads it (@cee:)")
def _():
    with SL.Rsyslog("ecs-rsyslog") as rs:
        out = H.path("ecs-syslog.json")
        frames = [H.udp_frame(H.new_mac(MAC_KIND), sport=3000 + i,
                              ip_id=i + 1) for i in range(5)]
        with H.Hdrlog(H.topo().ns_a, ["-i", H.dev(), "--schema", "ecs",
                                      "--syslog-cee", "-o", "json:" + out,
                                      "-o", "syslog:unix:" + rs.sock]) as h:
            H.topo().send(frames)
            lines = H.wait_json(out, len(frames))
            msgs = rs.wait(len(frames), "imuxsock")
            h.stop()
        assert len(lines) == len(frames), lines
        parsed = [m["all"].get("cee") for m in msgs]
        for line in lines:
            rec = json.loads(line)
            assert not type_problems(rec), (type_problems(rec), line)
            assert parsed.count(rec) == 1, \
                "mmjsonparse did not give %s once; it gave %s" % (
                    line, parsed)


def body():
    H.run_tap(tap, need=(SL.RSYSLOGD,), setup=lambda t: H.run(
        [H.IP, "-n", t.ns_a, "link", "set", "lo", "up"]))


if __name__ == "__main__":
    H.main(body)
