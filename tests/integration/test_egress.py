#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""
Outgoing frames, through tc egress: records of a TCP connection made from
namespace A to B say direction out and out_iface, and match an independent
decoding of the bytes captured with them; pcapng marks them outbound for
tshark; a block list's :any drops a connection to a listed address (the
connect times out) or, with --monitor, marks it; an allow list leaves
outgoing frames alone; and no tc or tcx program is left behind when
hdrlog exits, however it exits.
"""
import os
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hdrlogtest as H  # noqa: E402

tap = H.Tap()
A_IP, B_IP = "198.51.100.1", "198.51.100.2"
TCX_INGRESS, TCX_EGRESS = 46, 47     # enum bpf_attach_type
_port = [20000]

# How many programs a tcx hook of an interface has: BPF_PROG_QUERY, run
# in the interface's namespace (bpftool 7.1 does not list tcx).
TCX_COUNT = r"""
import ctypes, struct, sys
attr = ctypes.create_string_buffer(struct.pack("=IIII", int(sys.argv[1]),
                                               int(sys.argv[2]), 0, 0), 64)
libc = ctypes.CDLL(None, use_errno=True)
if libc.syscall(321, 16, attr, 64):       # bpf(BPF_PROG_QUERY)
    sys.exit("BPF_PROG_QUERY: errno %d" % ctypes.get_errno())
print(struct.unpack_from("=I", attr.raw, 24)[0])
"""


def tcx_count(attach_type):
    r = H.run(H.ns_exec(H.topo().ns_a, [
        "/usr/bin/python3", "-c", TCX_COUNT, str(H.pair().a_ifindex),
        str(attach_type)]))
    return int(r.stdout)


def tc_filters(where):
    r = H.run(H.ns_exec(H.topo().ns_a, ["tc", "filter", "show", "dev",
                                        H.dev(), where]))
    return r.stdout.strip()


def server():
    """A listening TCP socket in B; its port."""
    _port[0] += 1
    s = H.ns_socket(H.topo().ns_b, socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((B_IP, _port[0]))
    s.listen(4)
    return _port[0]


def connect(port, timeout=5.0):
    """Connect from A to B:port, send a byte, close. True if connected."""
    c = H.ns_socket(H.topo().ns_a, socket.AF_INET, socket.SOCK_STREAM)
    c.settimeout(timeout)
    try:
        c.connect((B_IP, port))
    except (socket.timeout, OSError):
        return False
    c.sendall(b"x")
    c.close()
    return True


def syns(recs, port):
    return [r for r in recs if r.get("dest_port") == port and
            r.get("tcp_flags") == "02"]


def run_connection(args, port, want_connected, out):
    """hdrlog with args on A's end; one connection attempt; records."""
    with H.Hdrlog(H.topo().ns_a, ["-i", H.dev(), "-o", "json:" + out] +
                  args) as h:
        connected = connect(port, timeout=5.0 if want_connected else 2.0)
        H.wait_records(out, lambda rs: syns(rs, port), timeout=5,
                       proc=h.proc)
        rc = h.stop()
    assert rc == 0, "exit %d: %s" % (rc, h.stderr())
    assert connected == want_connected, "connected: %s, expected %s" % (
        connected, want_connected)
    return h, H.read_json_lines(out)


def pcapng_frames(p):
    """[(frame bytes, tshark's direction flag)] of a pcapng file, in order."""
    scapy = H.load_scapy()
    frames = [bytes(x) for x in scapy.rdpcap(p)]
    r = H.run(["tshark", "-r", p, "-T", "fields", "-e",
               "frame.packet_flags_direction"])
    flags = r.stdout.split()
    assert len(flags) == len(frames), "tshark read %d frames, scapy %d" % (
        len(flags), len(frames))
    return list(zip(frames, flags))


@tap.case("--direction both: a connection A->B logged leaving (out, "
          "out_iface) and arriving (in, in_iface), equal to the bytes "
          "captured, flagged outbound/inbound in pcapng for tshark")
def _():
    port = server()
    out, cap = H.path("both.json"), H.path("both.pcapng")
    ifx = H.pair().a_ifindex
    with H.Hdrlog(H.topo().ns_a, ["-i", H.dev(), "--direction", "both",
                                  "-o", "json:" + out, "-w", cap,
                                  "-s", "0"]) as h:
        assert "(in: tcx because a virtual device (veth), out: tcx)" in \
            h.stderr(), h.stderr()
        assert connect(port)
        H.wait_records(out, lambda rs: any(
            r.get("tcp_flags", "") == "11" for r in rs), timeout=5,
            proc=h.proc)
        rc = h.stop()
    assert rc == 0, h.stderr()
    recs = H.read_json_lines(out)
    mine = [r for r in recs if r.get("src_port") == port or
            r.get("dest_port") == port]
    outs = [r for r in mine if r["direction"] == "out"]
    ins = [r for r in mine if r["direction"] == "in"]
    assert outs and ins, "out %d, in %d records: %s" % (len(outs), len(ins),
                                                        mine)
    assert all(r["src_ip"] == A_IP and r["dest_port"] == port and
               r.get("out_iface") == H.dev() and "in_iface" not in r
               for r in outs), outs
    assert all(r["src_ip"] == B_IP and r["src_port"] == port and
               r.get("in_iface") == H.dev() and "out_iface" not in r
               for r in ins), ins
    assert syns(outs, port), "no SYN leaving A: %s" % outs
    # every record against the frame captured with it, decoded apart
    frames = pcapng_frames(cap)
    assert len(frames) == len(recs), "%d frames, %d records" % (
        len(frames), len(recs))
    problems = []
    for r, (f, flag) in zip(recs, frames):
        want = H.expected_record(f, H.dev(), ifx, r["direction"])
        problems += ["%s: %s" % (f.hex(), d) for d in H.diff_record(r, want)]
        # epb_flags bits 0-1: 1 inbound, 2 outbound
        want_flag = {"out": 2, "in": 1}[r["direction"]]
        if int(flag, 0) != want_flag:
            problems.append("%s: tshark direction %s, record %s" % (
                f.hex(), flag, r["direction"]))
    assert not problems, "\n".join(problems)
    s = h.summary()
    assert s.get("seen_out", 0) >= len(outs) and \
        s.get("seen_in", 0) >= len(ins), h.stderr()


@tap.case("--socket-events: outgoing frames of a local socket name its "
          "process, exactly, from the SYN on (before any socket event)")
def _():
    port = server()
    out = H.path("owner.json")
    with open("/proc/self/comm") as f:
        comm = f.read().strip()
    with H.Hdrlog(H.topo().ns_a, ["-i", H.dev(), "--direction", "out",
                                  "--socket-events", "-o", "json:" + out]) \
            as h:
        assert connect(port)       # from this process, in namespace A
        H.wait_records(out, lambda rs: any(
            r.get("event") == "close" for r in rs), timeout=5, proc=h.proc)
        rc = h.stop()
    assert rc == 0, h.stderr()
    recs = H.read_json_lines(out)
    mine = [r for r in recs if r.get("event_type") == "packet" and
            r.get("dest_port") == port]
    assert syns(mine, port) and len(mine) >= 3, recs
    # the SYN comes before the connect event: flows.c cannot know it yet
    first = recs.index(syns(mine, port)[0])
    assert not any(r.get("event") == "connect" for r in recs[:first]), recs
    bad = [r for r in mine if r.get("pid") != os.getpid() or
           r.get("comm") != comm]
    assert not bad, "want pid %d comm %r: %s" % (os.getpid(), comm, bad)
    # frames not from a local socket (ARP) name no process
    arp = [r for r in recs if r.get("ether_type") == 0x0806]
    assert all("pid" not in r for r in arp), arp


UDP_CLIENT = r"""
import ctypes, os, socket, sys
ctypes.CDLL(None).prctl(15, b"hdrlog-udpcli", 0, 0, 0)   # PR_SET_NAME
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(3):
    s.sendto(b"x" * 20, (sys.argv[1], int(sys.argv[2])))
print(os.getpid())
"""


@tap.case("--socket-events: outgoing UDP datagrams name the process "
          "sending them, the first one too (logged before its udp_send "
          "event, so no address match could have named it)")
def _():
    _port[0] += 1
    port = _port[0]
    out = H.path("udp-owner.json")
    # B's address resolved first: a datagram held for ARP leaves later,
    # from softirq, where its sender is not running (owners.bpf.h)
    H.run(H.ns_exec(H.topo().ns_a, ["ping", "-c", "1", "-W", "2", B_IP]),
          check=False)
    with H.Hdrlog(H.topo().ns_a, ["-i", H.dev(), "--direction", "out",
                                  "--socket-events", "-o", "json:" + out]) \
            as h:
        r = H.run(H.ns_exec(H.topo().ns_a, ["/usr/bin/python3", "-c",
                                            UDP_CLIENT, B_IP, str(port)]))
        pid = int(r.stdout)
        H.wait_records(out, lambda rs: len([
            x for x in rs if x.get("event_type") == "packet" and
            x.get("dest_port") == port]) >= 3, timeout=5, proc=h.proc)
        rc = h.stop()
    assert rc == 0, h.stderr()
    recs = H.read_json_lines(out)
    mine = [r for r in recs if r.get("event_type") == "packet" and
            r.get("dest_port") == port]
    assert len(mine) == 3, recs
    bad = [r for r in mine if r.get("pid") != pid or
           r.get("comm") != "hdrlog-udpcli"]
    assert not bad, "want pid %d comm hdrlog-udpcli: %s" % (pid, bad)
    sends = [i for i, r in enumerate(recs) if r.get("event") == "udp_send"
             and r.get("dest_port") == port]
    assert not sends or recs.index(mine[0]) < sends[0], recs


@tap.case("--direction out: only outgoing frames; the summary says so")
def _():
    port = server()
    h, recs = run_connection(["--direction", "out"], port, True,
                             H.path("out.json"))
    assert recs and all(r["direction"] == "out" for r in recs), recs
    assert syns(recs, port), recs
    assert h.summary().get("seen_out") == len(recs), h.stderr()


@tap.case("block list :any on egress: the connect to a listed address "
          "times out, its SYN is logged with action drop, counted")
def _():
    port = server()
    lst = H.write_list("egress-block.txt", [B_IP + "/32"])
    h, recs = run_connection(["--direction", "out", "--blocklist",
                              "dst=" + lst + ":any"], port, False,
                             H.path("block.json"))
    s = syns(recs, port)
    assert s and all(r["action"] == "drop" and r["dest_lists"] == ["dst"]
                     and r["direction"] == "out" for r in s), s
    assert not any(r.get("tcp_flags") == "10" for r in recs), \
        "an ACK left: the connection was made: %s" % recs
    assert h.summary().get("out_dropped", 0) >= len(s), h.stderr()


@tap.case("block list :any on egress with --monitor: it connects, the "
          "SYN is marked would_drop, counted")
def _():
    port = server()
    lst = H.write_list("egress-block.txt", [B_IP + "/32"])
    h, recs = run_connection(["--direction", "out", "--monitor",
                              "--blocklist", "dst=" + lst + ":any"], port,
                             True, H.path("monitor.json"))
    s = syns(recs, port)
    assert s and all(r["action"] == "pass" and r.get("would_drop") is True
                     for r in s), s
    assert h.summary().get("out_would_drop", 0) >= len(s), h.stderr()


@tap.case("an allow list judges incoming frames only: outgoing ones to an "
          "address in no allow list pass")
def _():
    port = server()
    lst = H.write_list("egress-allow.txt", ["203.0.113.0/24"])
    h, recs = run_connection(["--direction", "out", "--allowlist",
                              "ok=" + lst], port, True,
                             H.path("allow.json"))
    s = syns(recs, port)
    assert s and all(r["action"] == "pass" and "would_drop" not in r
                     for r in s), s
    assert h.summary().get("out_dropped") == 0, h.stderr()


@tap.case("no tc or tcx program is left behind: after SIGINT, and after "
          "SIGKILL (tcx links die with the process)")
def _():
    args = ["-i", H.dev(), "--direction", "both", "--attach-ingress", "tc",
            "-o", "json:" + H.path("left.json")]
    for sig in (signal.SIGINT, signal.SIGKILL):
        h = H.Hdrlog(H.topo().ns_a, args).start()
        try:
            assert tcx_count(TCX_INGRESS) == 1 and \
                tcx_count(TCX_EGRESS) == 1, "not attached: %s" % h.stderr()
            assert not H.topo().xdp_attached()[0], "XDP with tc ingress"
        finally:
            if sig == signal.SIGINT:
                assert h.stop() == 0, h.stderr()
            else:
                h.kill()
        deadline = time.monotonic() + 5
        while (tcx_count(TCX_INGRESS) or tcx_count(TCX_EGRESS)) and \
                time.monotonic() < deadline:
            time.sleep(0.05)
        assert (tcx_count(TCX_INGRESS), tcx_count(TCX_EGRESS)) == (0, 0), \
            "tcx programs left after signal %d" % sig
        assert not tc_filters("ingress") and not tc_filters("egress"), \
            "tc filters left after signal %d" % sig


@tap.case("--attach-ingress auto: tc on a veth (no bus device), XDP when "
          "--xdp-mode asks; the start-up line and --features say which "
          "and why")
def _():
    out = H.path("auto.json")
    with H.Hdrlog(H.topo().ns_a, ["-i", H.dev(), "-o", "json:" + out]) as h:
        assert "listening on %s (tcx because a virtual device (veth))" % \
            H.dev() in h.stderr(), h.stderr()
        assert tcx_count(TCX_INGRESS) == 1, "no tcx program: " + h.stderr()
        assert not H.topo().xdp_attached()[0], "XDP on a veth by default"
        assert h.stop() == 0, h.stderr()
    r = H.run_hdrlog(H.topo().ns_a, ["--features", "-i", H.dev()])
    assert "incoming frames on %s: tc, a virtual device (veth)" % H.dev() \
        in r.stdout, H.show(r)
    with H.Hdrlog(H.topo().ns_a, ["-i", H.dev(), "--xdp-mode", "generic",
                                  "-o", "json:" + out]) as h:
        assert "(generic XDP because --xdp-mode asks for XDP)" in \
            h.stderr(), h.stderr()
        assert H.topo().xdp_attached()[0], "no XDP with --xdp-mode generic"
        assert tcx_count(TCX_INGRESS) == 0, "tc and XDP both on ingress"
        assert h.stop() == 0, h.stderr()


@tap.case("tc both ways with every kind of list and whole frames (-s 0, "
          "pcapng): the programs load (the verifier once refused them as "
          "too complex), the connection is made, its records tagged")
def _():
    port = server()
    peer = H.write_list("tc-peer.txt", [B_IP + "/32"])
    other = H.write_list("tc-other.txt", ["203.0.113.0/24"])
    cap = H.path("tc-lists.pcapng")
    h, recs = run_connection(
        ["--direction", "both", "--attach-ingress", "tc", "-s", "0",
         "-o", "pcapng:" + cap, "--taglist", "peer=" + peer,
         "--blocklist", "far=" + other + ":any",
         "--allowlist", "ok=" + peer], port, True, H.path("tc-lists.json"))
    mine = [r for r in recs if port in (r.get("src_port"), r.get("dest_port"))]
    outs = [r for r in mine if r["direction"] == "out"]
    ins = [r for r in mine if r["direction"] == "in"]
    assert syns(outs, port) and ins, mine
    assert all("peer" in r.get("dest_lists", []) for r in outs), outs
    assert all("peer" in r.get("src_lists", []) for r in ins), ins
    assert len(pcapng_frames(cap)) == len(recs), h.stderr()


@tap.case("--attach-ingress and --direction need packet capture; "
          "--xdp-mode with tc ingress is refused")
def _():
    for args, says in (
            (["--events", "sockets", "--direction", "both"], "--direction"),
            (["-i", H.dev(), "--attach-ingress", "tc", "--xdp-mode",
              "native"], "--xdp-mode"),
            (["-i", H.dev(), "--direction", "out", "--attach-ingress", "xdp"],
             "--direction out")):
        r = H.run_hdrlog(H.topo().ns_a, args)
        H.assert_refused(r, 2, mentions=(says,))


if __name__ == "__main__":
    H.main(lambda: H.run_tap(tap, need=("tshark", "tc")))
