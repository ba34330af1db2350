#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""
Socket events end to end: real TCP connections between a server process in
namespace A and a client process in namespace B, each started on its own
through `ip netns exec` so its pid is known, with a distinctive process
name (PR_SET_NAME) and, for the client, its own uid (setpriv). Every
connection's records are checked field by field against what the
processes themselves report: pid, tid, comm, uid, cgroup, namespace,
direction, state, endpoints, Community ID, duration and data bytes.

Socket events are system-wide, so other TCP traffic on the machine shows
up too: records are picked out by the test's own ports and addresses.

The syslog check uses a plain unix datagram socket in the scratch
directory as the receiver (-o syslog:unix:PATH) and parses RFC 5424 here;
test_syslog.py covers the syslog output itself against rsyslogd.
"""
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hdrlogtest as H  # noqa: E402
from sockpeers import conns_spec, exchange, of_conn  # noqa: E402

tap = H.Tap()
NOBODY = 65534
MB = 1 << 20


# --------------------------------------------------------------------------
# what the records are checked against
# --------------------------------------------------------------------------

def netns_inode(ns):
    return os.stat("/run/netns/" + ns).st_ino


def cgroup_id(path):
    """The cgroup v2 id of a cgroup path (its directory's inode), or None."""
    if path is None:
        return None
    try:
        return os.stat("/sys/fs/cgroup" + path).st_ino
    except OSError:
        return None


# --------------------------------------------------------------------------
# hdrlog
# --------------------------------------------------------------------------

SOCK_EVENTS_RE = re.compile(r"^(?:hdrlog:\s*)?(\d+) socket events\s*$")


def socket_events(stderr_text):
    for line in stderr_text.splitlines():
        m = SOCK_EVENTS_RE.match(line)
        if m:
            return int(m.group(1))
    return None


class Run:
    """hdrlog in namespace A, writing JSON to a fresh file."""

    _n = [0]

    def __init__(self, args, name="sock"):
        Run._n[0] += 1
        self.json = os.path.join(H.tmpdir(), "%s-%d.json" % (name,
                                                              Run._n[0]))
        self.h = H.Hdrlog(H.topo().ns_a, list(args) + ["-o",
                                                       "json:" + self.json])

    def __enter__(self):
        self.h.start(wait=False)
        line = self.h.err.wait_for(r"listening (on|to)", 15)
        if line is None:
            rc = self.h.proc.poll()
            self.h.kill()
            raise RuntimeError("hdrlog did not start (exit %s): %s" % (
                rc, self.h.stderr()[-2000:]))
        return self

    def __exit__(self, *exc):
        self.h.kill()
        return False

    def stop(self, want=None, timeout=5):
        """Wait until want(records) (if given), stop, return records."""
        if want:
            H.wait_records(self.json, want, timeout, self.h.proc)
        rc = self.h.stop()
        assert rc == 0, "hdrlog exited %d: %s" % (rc, self.h.stderr())
        return H.read_json_lines(self.json)


def want_conns(infos, port, n_per=4):
    """A want() for Run.stop: every connection has n_per socket records."""
    def want(recs):
        return all(len(of_conn(recs, c["local"][1], port)) >= n_per
                   for c in infos)
    return want


def show(recs):
    return "\n".join(json.dumps(r) for r in recs)


def unmap(addr):
    """An IPv4-mapped IPv6 address as the IPv4 address it is."""
    if addr.lower().startswith("::ffff:") and "." in addr:
        return addr[7:]
    return addr


def may_close_before_accept(conn):
    """Whether the client may close before the server's accept returns:
    it waits for the server's data (sent after the accept) unless s2c is
    0, and only then can it, closing first, be faster than the accept."""
    return conn["first"] == "client" and conn["s2c"] == 0


def accept_states(conn):
    """The tcp_state an accept record may carry: the state of the socket
    accept(2) returned, CLOSE_WAIT if the client's FIN came first
    (accept_after_close makes that certain)."""
    if conn.get("accept_after_close"):
        return "CLOSE_WAIT"
    if may_close_before_accept(conn) and not conn.get("reset"):
        return ("ESTABLISHED", "CLOSE_WAIT")
    return "ESTABLISHED"


def check_connection(recs, cinfo, sinfo, conn, family, client_name,
                     server_name, client_uid=0, lists=None):
    """The four records of one connection, exactly."""
    t = H.topo()
    cport = cinfo["local"][1]
    sport = sinfo["local"][1]
    assert cinfo["peer"][1] == sport and sinfo["peer"][1] == cport, \
        (cinfo, sinfo)
    assert cinfo["comm"] == client_name and sinfo["comm"] == server_name, \
        "PR_SET_NAME did not take: %r %r" % (cinfo["comm"], sinfo["comm"])
    assert sinfo["tid"] != sinfo["pid"], sinfo
    mine = of_conn(recs, cport, sport)
    cip, sip = unmap(cinfo["local"][0]), unmap(sinfo["local"][0])
    common = dict(event_type="socket", ip_v=family, src_ip=cip, dest_ip=sip,
                  proto="TCP", ip_proto=6, src_port=cport, dest_port=sport,
                  community_id=H.community_id(cip, sip, 6, cport, sport))
    if lists:
        common.update(lists)
    side = {
        "client": dict(pid=cinfo["pid"], tid=cinfo["tid"], comm=client_name,
                       uid=client_uid, netns=netns_inode(t.ns_b),
                       direction="out"),
        "server": dict(pid=sinfo["pid"], tid=sinfo["tid"], comm=server_name,
                       uid=0, netns=netns_inode(t.ns_a),
                       direction="in"),
    }
    for who, info in (("client", cinfo), ("server", sinfo)):
        cg = cgroup_id(info.get("cgroup"))
        side[who]["cgroup_id"] = cg
    sent = {"client": conn["c2s"], "server": conn["s2c"]}
    expect = {
        ("connect", "client"): dict(tcp_state="ESTABLISHED"),
        ("accept", "server"): dict(tcp_state=accept_states(conn)),
        ("close", "client"): dict(tcp_state="CLOSE",
                                  bytes_sent=sent["client"],
                                  bytes_received=sent["server"]),
        ("close", "server"): dict(tcp_state="CLOSE",
                                  bytes_sent=sent["server"],
                                  bytes_received=sent["client"]),
    }
    problems = []
    got_ts = {}
    for (event, who), extra in expect.items():
        direction = side[who]["direction"]
        found = [r for r in mine if r.get("event") == event and
                 r.get("direction") == direction]
        if len(found) != 1:
            problems.append("%s by the %s: %d records" % (event, who,
                                                          len(found)))
            continue
        r = found[0]
        want = dict(common)
        want.update(side[who])
        want.update(extra)
        if isinstance(want["tcp_state"], tuple):    # either, by timing
            if r.get("tcp_state") in want["tcp_state"]:
                want["tcp_state"] = r["tcp_state"]
            else:
                want["tcp_state"] = " or ".join(want["tcp_state"])
        want["event"] = event
        if want["cgroup_id"] is None:       # no cgroup v2 to compare with
            want["cgroup_id"] = r.get("cgroup_id")
            if not isinstance(want["cgroup_id"], int):
                want["cgroup_id"] = 0
        want = {k: want[k] for k in H.FIELD_ORDER if k in want}
        diffs = H.diff_record(r, want, skip=("timestamp", "duration_ms"))
        if event == "close":
            # since connect or accept; the sleep before the first close
            # comes after both, unless the accept may come after it
            slept = conn["sleep"]
            if who == "server" and may_close_before_accept(conn):
                slept = 0
            d = r.get("duration_ms")
            if not isinstance(d, (int, float)) or isinstance(d, bool):
                diffs.append("duration_ms: missing or not a number: %r" % d)
            elif not slept * 1000 - 1 <= d < 30000:
                diffs.append("duration_ms %r, but the connection slept "
                             "%.0f ms before closing" % (d, slept * 1000))
        elif "duration_ms" in r:
            diffs.append("duration_ms on a %s record" % event)
        got_ts[(event, who)] = H.timestamp_ns(r["timestamp"])
        if diffs:
            problems.append("%s by the %s:\n    %s\n    record %s" % (
                event, who, "\n    ".join(diffs), json.dumps(r)))
    extra_recs = [r for r in mine if (r.get("event"), r.get("direction"))
                  not in (("connect", "out"), ("accept", "in"),
                          ("close", "out"), ("close", "in"))]
    if extra_recs or len(mine) != 4:
        problems.append("%d records for the connection, want 4" % len(mine))
    if len(got_ts) == 4:
        if not got_ts[("connect", "client")] <= got_ts[("close", "client")] \
                or not got_ts[("accept", "server")] <= \
                got_ts[("close", "server")]:
            problems.append("close before connect/accept in time")
    assert not problems, "connection %s:%d -> %s:%d (%r):\n  %s\n" \
        "its records:\n%s" % (cip, cport, sip, sport, conn,
                               "\n  ".join(problems), show(mine))


def check_all(recs, sinfo, cinfo, conns, family, cname, sname, cuid=0,
              lists=None):
    assert len(cinfo) == len(sinfo) == len(conns)
    errors = []
    for ci, si, conn in zip(cinfo, sinfo, conns):
        try:
            check_connection(recs, ci, si, conn, family, cname, sname, cuid,
                             lists)
        except AssertionError as e:
            errors.append(str(e))
    assert not errors, "%d of %d connections wrong (the first %d):\n%s" % (
        len(errors), len(conns), min(3, len(errors)),
        "\n".join(errors[:3]))


def run_checked(args, conns, cname, sname, lists=None):
    """conns over IPv4 between a client cname and a server sname under
    hdrlog with args, every connection's records checked (check_all)."""
    with Run(args) as h:
        sinfo, cinfo, port, _, _ = exchange(conns, 4, cname, sname)
        recs = h.stop(want_conns(cinfo, port))
    check_all(recs, sinfo, cinfo, conns, 4, cname, sname, lists=lists)


def ipv6_on_b():
    """Enable IPv6 on B's end (2001:db8::2); undone at exit or by the
    returned function."""
    t = H.topo()
    dev = t.pairs[0].b
    for key in ("net.ipv6.conf.all.disable_ipv6",
                "net.ipv6.conf.%s.disable_ipv6" % dev):
        t.sysctl(t.ns_b, key, "0")
    for key in ("accept_dad", "router_solicitations", "accept_ra"):
        t.sysctl(t.ns_b, "net.ipv6.conf.%s.%s" % (dev, key), "0")
    H.run([H.IP, "-n", t.ns_b, "addr", "add", "2001:db8::2/64", "dev", dev,
           "nodad"])
    done = []

    def undo():
        if done:
            return
        done.append(1)
        subprocess.run([H.IP, "-n", t.ns_b, "addr", "del", "2001:db8::2/64",
                        "dev", dev], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        for key in ("net.ipv6.conf.%s.disable_ipv6" % dev,
                    "net.ipv6.conf.all.disable_ipv6"):
            t.sysctl(t.ns_b, key, "1")
    H.on_cleanup(undo)
    # wait until B can reach A over IPv6
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        r = subprocess.run(H.ns_exec(t.ns_b, ["ping", "-6", "-c1", "-W1",
                                              "2001:db8::1"]),
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        if r.returncode == 0:
            break
        time.sleep(0.1)
    return undo


# --------------------------------------------------------------------------
# cases
# --------------------------------------------------------------------------

@tap.case("--features lists fentry, kprobe and tracepoint; tracepoint "
          "will be used")
def _():
    r = H.run_hdrlog(None, ["--features"], timeout=20)
    assert r.returncode == 0, r.stderr
    text = r.stdout
    for m in ("fentry", "kprobe", "tracepoint"):
        assert re.search(r"^socket events via %s: (yes|no\b.*)$" % m, text,
                         re.M), "--features has no line for %s:\n%s" % (
                             m, text)
    assert re.search(r"^socket events via tracepoint: yes$", text, re.M), text
    for m in ("fentry", "kprobe"):
        assert re.search(r"^socket events via %s: no\b" % m, text, re.M), \
            "this kernel refuses %s, but --features says:\n%s" % (m, text)
    assert re.search(r"^hdrlog will use: tracepoint$", text, re.M), text


@tap.case("--attach fentry and --attach kprobe fail clearly here; "
          "--attach tracepoint works")
def _():
    out = os.path.join(H.tmpdir(), "attach-fail.json")
    for m in ("fentry", "kprobe"):
        r = H.run_hdrlog(H.topo().ns_a, ["--events", "sockets", "--attach", m,
                                         "-o", "json:" + out], timeout=20)
        lines = [x for x in r.stderr.splitlines() if x.strip()]
        assert r.returncode != 0, "--attach %s: exit 0: %r" % (m, r.stderr)
        assert len(lines) == 1, "--attach %s: not one line: %r" % (
            m, r.stderr)
        assert m in lines[0] and "listening" not in lines[0], lines[0]
        assert lines[0].startswith("hdrlog:"), lines[0]
        r2 = H.run_hdrlog(H.topo().ns_a, ["-i", H.topo().pairs[0].a,
                                          "--socket-events", "--attach", m,
                                          "-o", "json:" + out], timeout=20)
        assert r2.returncode != 0 and "listening" not in r2.stderr, \
            "-i --socket-events --attach %s: exit %d %r" % (
                m, r2.returncode, r2.stderr)
        attached, text = H.topo().xdp_attached()
        assert not attached, "XDP left attached after a failed start:\n" + \
            text
    with Run(["--events", "sockets", "--attach", "tracepoint"]) as h:
        err = h.h.stderr()
        assert re.search(r"^hdrlog: socket events via tracepoint$", err,
                         re.M), err
        assert re.search(r"^hdrlog: listening to socket events \(via "
                         r"tracepoint\), writing to json:", err, re.M), err
        conns = conns_spec([(5, 6)], sleep=0.05)
        sinfo, cinfo, port, _, _ = exchange(conns)
        recs = h.stop(want_conns(cinfo, port))
    check_all(recs, sinfo, cinfo, conns, 4, "hlt-client", "hlt-server")
    n = socket_events(h.h.stderr())
    assert n is not None and n >= 4, h.h.stderr()


SIZES = [(0, 0), (1, 0), (0, 1), (100, 7), (MB, 65537), (3000, MB + 5)]


def connect_accept_close(family):
    conns = []
    for i, (c, s) in enumerate(SIZES):
        first = "client" if i % 2 == 0 else "server"
        conns.append(dict(c2s=c, s2c=s, first=first,
                          sleep=0.3 if i == 3 else 0.1, reset=False))
    with Run(["--events", "sockets"]) as h:
        sinfo, cinfo, port, spid, cpid = exchange(
            conns, family, client_name="hlt-cli-%d" % family,
            server_name="hlt-srv-%d" % family, client_uid=NOBODY)
        recs = h.stop(want_conns(cinfo, port))
    assert all(c["pid"] == cpid for c in cinfo), (cpid, cinfo)
    assert all(s["pid"] == spid for s in sinfo), (spid, sinfo)
    assert all(c["uid"] == NOBODY for c in cinfo), cinfo
    check_all(recs, sinfo, cinfo, conns, family, "hlt-cli-%d" % family,
              "hlt-srv-%d" % family, NOBODY)
    summ = H.parse_summary(h.h.stderr())
    assert summ.get("lost") == 0, h.h.stderr()


@tap.case("IPv4: connect, accept and close across namespaces carry the "
          "real pids, tids, names, uids, namespaces and byte counts")
def _():
    connect_accept_close(4)


@tap.case("IPv6: connect, accept and close across namespaces")
def _():
    undo = ipv6_on_b()
    try:
        connect_accept_close(6)
    finally:
        undo()


@tap.case("close orders: client first, server first, client reset, "
          "server reset (SO_LINGER 0)")
def _():
    conns = [
        dict(c2s=10, s2c=20, first="client", sleep=0.2, reset=False),
        dict(c2s=11, s2c=21, first="server", sleep=0.2, reset=False),
        dict(c2s=12, s2c=22, first="client", sleep=0.3, reset=True),
        dict(c2s=13, s2c=23, first="server", sleep=0.3, reset=True),
    ]
    run_checked(["--events", "sockets"], conns, "hlt-closer", "hlt-closee")


@tap.case("an accept after the client has closed carries tcp_state "
          "CLOSE_WAIT")
def _():
    # the server accepts only once the client's FIN is in: what a busy
    # server sees when a short-lived client is faster than its accept
    conns = [dict(c2s=9, s2c=0, first="client", sleep=0, reset=False,
                  accept_after_close=True)]
    run_checked(["--events", "sockets"], conns, "hlt-early", "hlt-late")


@tap.case("a process name with a newline and quotes is escaped in JSON and "
          "in syslog")
def _():
    name = 'a"b\nc\\d'
    sock_path = os.path.join(H.tmpdir(), "syslog.sock")
    rx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    H.on_cleanup(rx.close)
    rx.bind(sock_path)
    rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    got = []
    stop = threading.Event()

    def drain():
        # after stop (hdrlog has exited: all it sent is queued), until
        # the socket is empty
        rx.settimeout(0.1)
        while True:
            try:
                got.append(rx.recv(65536))
            except socket.timeout:
                if stop.is_set():
                    return
            except OSError:
                return
    th = threading.Thread(target=drain, daemon=True)
    th.start()
    conns = conns_spec([(4, 5)], sleep=0.05)
    try:
        with Run(["--events", "sockets", "-o", "syslog:unix:" + sock_path]) \
                as h:
            sinfo, cinfo, port, _, _ = exchange(conns, 4, name, "hlt-plain")
            recs = h.stop(want_conns(cinfo, port))
    finally:
        stop.set()
        th.join(30)
    assert cinfo[0]["comm"] == name, cinfo
    check_all(recs, sinfo, cinfo, conns, 4, name, "hlt-plain")
    # the raw JSON lines
    with open(h.json) as f:
        lines = [x for x in f.read().split("\n") if x]
    mine = [x for x in lines
            if json.loads(x).get("comm") == name]
    assert len(mine) == 2, "want connect and close with the name: %s" % mine
    for x in mine:
        assert '"comm":"a\\"b\\nc\\\\d"' in x, x
    # syslog: the body is the JSON line; the SD value has the quote and the
    # backslash escaped and the newline (a framing hazard) replaced by '?'
    msgs = [m.decode("utf-8", "replace") for m in got]
    found = 0
    for line in mine:
        hits = [m for m in msgs if m.endswith(" " + line)]
        assert len(hits) == 1, "no syslog message with body %s;\n%d " \
            "messages, e.g. %r" % (line, len(msgs), msgs[:2])
        raw = hits[0]
        assert "\n" not in raw.rstrip("\n"), raw
        p = H.parse5424(raw)
        assert p["sd"] is not None and len(p["sd"]) == 1, raw[:200]
        assert p["msg"] == line, p["msg"][:200]
        d = dict(p["sd"][0][1])
        assert d.get("comm") == 'a"b?c\\d', "SD comm %r in %r" % (
            d.get("comm"), raw)
        assert d.get("pid") == str(cinfo[0]["pid"]), d
        found += 1
    assert found == 2


@tap.case("--taglist names the client's list in src_lists and the "
          "server's in dest_lists")
def _():
    d = H.tmpdir()
    files = {}
    for lname, text in (("clients", "198.51.100.2/32\n"),
                        ("servers", "# the server\n198.51.100.1\n"),
                        ("elsewhere", "203.0.113.0/24\n")):
        files[lname] = os.path.join(d, "tag-%s.txt" % lname)
        with open(files[lname], "w") as f:
            f.write(text)
    conns = conns_spec([(7, 8), (0, 0)], sleep=0.05)
    args = ["--events", "sockets"]
    for lname in ("clients", "servers", "elsewhere"):
        args += ["--taglist", "%s=%s" % (lname, files[lname])]
    run_checked(args, conns, "hlt-tagc", "hlt-tags",
                lists=dict(src_lists=["clients"], dest_lists=["servers"]))
    # only the client's list
    conns = conns_spec([(1, 2)], sleep=0.05)
    run_checked(["--events", "sockets", "--taglist",
                 "clients=" + files["clients"]], conns, "hlt-tagc",
                "hlt-tags", lists=dict(src_lists=["clients"]))


def attribution_problems(recs, cport, sport, spid, sname):
    """Packet records of the connection, captured on A's end: no process
    before the server's accept (not even after the client's connect, which
    is in B's namespace), the server's pid and comm from the accept until
    the server's close. A list of problems."""
    t = H.topo()
    seq = []        # (index, record) of this connection, in file order
    for i, r in enumerate(recs):
        if of_conn([r], cport, sport, "packet") or \
                of_conn([r], cport, sport, "socket"):
            seq.append((i, r))
    pk = [r for _, r in seq if r["event_type"] == "packet"]
    assert pk, "no packet records of the connection"
    assert all(r.get("in_iface") == t.pairs[0].a and
               r.get("dest_mac") == t.pairs[0].a_mac for r in pk), \
        show(pk[:3])
    idx = {}
    for i, r in seq:
        if r["event_type"] == "socket":
            idx[(r["event"], r.get("direction"))] = i
    for k in (("connect", "out"), ("accept", "in"),
              ("close", "in")):
        assert k in idx, "no %s record: %s" % (k, show([r for _, r in seq]))
    i_conn = idx[("connect", "out")]
    i_acc = idx[("accept", "in")]
    i_close = idx[("close", "in")]
    problems = []
    before = [(i, r) for i, r in seq if r["event_type"] == "packet" and
              i < i_acc]
    syn = [r for _, r in before if r.get("tcp_flags") == "02"]
    assert syn, "no SYN record before the accept: %s" % show(pk[:4])
    for i, r in before:
        if "pid" in r or "comm" in r:
            problems.append("before the accept (%s the client's connect, "
                            "which is in B's namespace): %s" % (
                                "after" if i > i_conn else "before",
                                json.dumps(r)))
    after = [(i, r) for i, r in seq if r["event_type"] == "packet" and
             i_acc < i < i_close]
    data = [r for _, r in after if r.get("ip_len", 0) > 52]
    assert data, "no data packets between accept and close:\n%s" % show(
        [r for _, r in seq])
    H.diag("%d packet records before the accept (%d of them after the "
           "client's connect), %d between the accept and the server's close"
           % (len(before), sum(1 for i, _ in before if i > i_conn),
              len(after)))
    wrong = [r for _, r in after
             if r.get("pid") != spid or r.get("comm") != sname]
    if wrong:
        problems.append("%d of %d packet records after the accept lack "
                        "pid %d comm %s, e.g. %s" % (
                            len(wrong), len(after), spid, sname,
                            json.dumps(wrong[0])))
    return problems


@tap.case("packet records of a connection carry the server's pid and comm "
          "after the accept, not before; unrelated ones don't")
def _():
    t = H.topo()
    # an unrelated connection, opened before hdrlog starts
    ls = H.ns_socket(t.ns_a, socket.AF_INET, socket.SOCK_STREAM)
    ls.bind(("198.51.100.1", 0))
    ls.listen(1)
    old_sport = ls.getsockname()[1]
    oc = H.ns_socket(t.ns_b, socket.AF_INET, socket.SOCK_STREAM)
    oc.settimeout(5)
    oc.connect(("198.51.100.1", old_sport))
    os_, _ = ls.accept()
    H.on_cleanup(os_.close)
    old_cport = oc.getsockname()[1]
    # the client sends once the accept has returned (accepted_flag)
    conns = [dict(c2s=5000, s2c=300, first="client", sleep=0.2, reset=False,
                  accepted_flag=os.path.join(H.tmpdir(), "accepted-attr"))]
    with Run(["-i", t.pairs[0].a, "--socket-events"], name="attr") as h:
        err = h.h.stderr()
        assert re.search(r"^hdrlog: listening on %s .*and to socket events"
                         % t.pairs[0].a, err, re.M), err
        for i in range(3):
            oc.sendall(b"o" * 100)
            os_.recv(1000)
            os_.sendall(b"p" * 10)
            oc.recv(100)
        sinfo, cinfo, port, spid, cpid = exchange(conns, 4, "hlt-attc",
                                                  "hlt-atts")
        oc.close()
        os_.close()
        recs = h.stop(want_conns(cinfo, port))
    check_all(recs, sinfo, cinfo, conns, 4, "hlt-attc", "hlt-atts")
    problems = attribution_problems(recs, cinfo[0]["local"][1], port, spid,
                                    "hlt-atts")
    # the connection opened before hdrlog: packets yes, process no
    old = of_conn(recs, old_cport, old_sport, "packet")
    assert old, "no packet records of the older connection"
    for r in old:
        if "pid" in r or "comm" in r:
            problems.append("older connection: %s" % json.dumps(r))
    olds = of_conn(recs, old_cport, old_sport, "socket")
    if olds:
        problems.append("socket records for a connection opened before "
                        "hdrlog started: %s" % show(olds))
    # frames that are not TCP of a known connection: no process
    for r in recs:
        if r.get("event_type") == "packet" and r.get("ip_proto") != 6 and \
                ("pid" in r or "comm" in r):
            problems.append("non-TCP packet with a process: %s" %
                            json.dumps(r))
    summ = H.parse_summary(h.h.stderr())
    if summ.get("lost") != 0:
        problems.append("records lost: %s" % h.h.stderr())
    assert not problems, "\n".join(problems[:10])


@tap.case("dual-stack server (AF_INET6 on ::, IPv4 client): records are "
          "IPv4, one Community ID, packets attributed")
def _():
    t = H.topo()
    conns = [dict(c2s=2000, s2c=30, first="server", sleep=0.2, reset=False,
                  accepted_flag=os.path.join(H.tmpdir(), "accepted-dual"))]
    with Run(["-i", t.pairs[0].a, "--socket-events"], name="dual") as h:
        sinfo, cinfo, port, spid, _ = exchange(conns, 4, "hlt-dualc",
                                               "hlt-duals", dualstack=True)
        recs = h.stop(want_conns(cinfo, port))
    assert sinfo[0]["local"][0].startswith("::ffff:"), sinfo
    problems = []
    try:
        check_all(recs, sinfo, cinfo, conns, 4, "hlt-dualc", "hlt-duals")
    except AssertionError as e:
        problems.append(str(e))
    try:
        problems += attribution_problems(recs, cinfo[0]["local"][1], port,
                                         spid, "hlt-duals")
    except AssertionError as e:
        problems.append(str(e))
    mine = of_conn(recs, cinfo[0]["local"][1], port)
    ids = set(r.get("community_id") for r in mine)
    if len(ids) != 1:
        problems.insert(0, "%d different community_ids over the "
                        "connection's socket records: %s" % (
                            len(ids), sorted(map(str, ids))))
    assert not problems, "\n".join(problems)


@tap.case("200 connections: each yields connect, accept and two closes; "
          "none lost")
def _():
    n = 200
    conns = []
    for i in range(n):
        conns.append(dict(c2s=i % 7 * 100, s2c=i % 5 * 10,
                          first="client" if i % 2 else "server",
                          sleep=0, reset=False))     # resets: case above
    with Run(["--events", "sockets"], name="loop") as h:
        t0 = time.monotonic()
        sinfo, cinfo, port, _, _ = exchange(conns, 4, "hlt-loopc",
                                            "hlt-loops")
        dt = time.monotonic() - t0
        recs = h.stop(want_conns(cinfo, port), timeout=10)
    H.diag("200 connections in %.1f s" % dt)
    ports = [c["local"][1] for c in cinfo]
    assert len(set(ports)) == n, "client ports repeat; can't tell apart"
    check_all(recs, sinfo, cinfo, conns, 4, "hlt-loopc", "hlt-loops")
    ours = [r for r in recs if r.get("event_type") == "socket" and
            r.get("dest_port") == port]
    assert len(ours) == 4 * n, "%d records, want %d" % (len(ours), 4 * n)
    err = h.h.stderr()
    summ = H.parse_summary(err)
    assert summ.get("lost") == 0, err
    ev = socket_events(err)
    assert ev is not None and ev >= 4 * n, err
    assert summ.get("written") is not None and \
        summ["written"] == len(recs), "summary says %s written, file has " \
        "%d:\n%s" % (summ.get("written"), len(recs), err)


@tap.case("udp_send: the first datagram a socket sends to each peer, with "
          "the sender's pid; repeats are not logged")
def _():
    script = (
        "import ctypes, os, socket, sys\n"
        "ctypes.CDLL(None).prctl(15, b'hlt-udp', 0, 0, 0)\n"
        "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
        "for p in (41000, 41000, 41000, 41001, 41001):\n"
        "    try:\n"
        "        s.sendto(b'x', ('198.51.100.1', p))\n"
        "    except OSError:\n"
        "        pass\n"
        "c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
        "c.connect(('198.51.100.1', 41002))\n"
        "c.send(b'y')\n"
        "try:\n"
        "    c.send(b'y')   # refused by the port unreachable: fine\n"
        "except OSError:\n"
        "    pass\n"
        "print(os.getpid(), s.getsockname()[1], c.getsockname()[1])\n")
    with Run(["--events", "sockets"], name="udp") as run:
        r = subprocess.run(H.ns_exec(H.topo().ns_b, ["/usr/bin/python3", "-c",
                                                     script]),
                           capture_output=True, text=True, timeout=20)
        assert r.returncode == 0, r.stderr
        pid, sport1, sport2 = (int(x) for x in r.stdout.split())
        recs = run.stop(lambda rs: len([x for x in rs if x.get("event") ==
                                        "udp_send" and x.get("pid") == pid])
                        >= 3)
    mine = [x for x in recs if x.get("event") == "udp_send" and
            x.get("pid") == pid]
    got = sorted((x["src_port"], x["dest_port"]) for x in mine)
    assert got == sorted([(sport1, 41000), (sport1, 41001), (sport2, 41002)]), \
        show(mine)
    for x in mine:
        assert x["comm"] == "hlt-udp" and x["proto"] == "UDP" and \
            x["src_ip"] == "198.51.100.2" and \
            x["dest_ip"] == "198.51.100.1" and \
            x["direction"] == "out" and \
            x["netns"] == netns_inode(H.topo().ns_b), show([x])
        assert "tcp_state" not in x and "community_id" in x, show([x])


def body():
    H.run_tap(tap)


if __name__ == "__main__":
    H.main(body)
