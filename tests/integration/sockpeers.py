# SPDX-License-Identifier: GPL-2.0-or-later
"""
The connection peers of the socket-event tests (test_sockets.py,
test_journal.py, test_syslog.py): a server process in namespace A and a
client process in namespace B, each started on its own through
`ip netns exec` so its pid is known, with a distinctive process name
(PR_SET_NAME) and, for the client, its own uid if asked. Each reports what
it did (its pid, tid, comm, uid, cgroup, endpoints, bytes, times) as JSON
lines, which the tests compare with hdrlog's records.
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hdrlogtest as H  # noqa: E402

PY = sys.executable or "/usr/bin/python3"
_script = {}                # the peer script's path, once written


# --------------------------------------------------------------------------
# the peer processes
# --------------------------------------------------------------------------

PEER = r'''
import ctypes, json, os, socket, struct, sys, threading, time

libc = ctypes.CDLL(None, use_errno=True)


def set_name(name):
    if libc.prctl(15, ctypes.c_char_p(name.encode("latin-1")), 0, 0, 0):
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NAME)")


def comm():
    with open("/proc/thread-self/comm", "rb") as f:
        return f.read()[:-1].decode("latin-1")


def out(**kw):
    sys.stdout.write(json.dumps(kw) + "\n")
    sys.stdout.flush()


def recv_exact(c, n):
    got = 0
    while got < n:
        d = c.recv(min(1 << 16, n - got))
        if not d:
            raise RuntimeError("EOF after %d of %d bytes" % (got, n))
        got += len(d)


def wait_eof(c):
    try:
        while True:
            d = c.recv(1 << 16)
            if not d:
                return
            raise RuntimeError("unexpected %d bytes" % len(d))
    except ConnectionResetError:
        return


def finish(c, conn, me):
    if conn["first"] == me:
        time.sleep(conn["sleep"])
        if conn.get("reset"):
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                         struct.pack("ii", 1, 0))
    else:
        wait_eof(c)
    c.close()


def addr(a):
    return [a[0], a[1]]


def cgroup():
    with open("/proc/self/cgroup") as f:
        for line in f:
            if line.startswith("0::"):
                return line[3:].rstrip("\n")
    return None


def wait_file(path, timeout=10):
    """Until path exists (the other peer's signal)."""
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise RuntimeError("no %s after %d s" % (path, timeout))
        time.sleep(0.01)


def wait_close_wait(port, timeout=10):
    """Until a connection to port, not yet accepted, has the peer's FIN
    (TCP state 08, CLOSE_WAIT, in this namespace's /proc/net/tcp*)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name in ("/proc/net/tcp", "/proc/net/tcp6"):
            with open(name) as f:
                for line in f.readlines()[1:]:
                    x = line.split()
                    if int(x[1].rsplit(":", 1)[1], 16) == port and \
                            x[3] == "08":
                        return
        time.sleep(0.01)
    raise RuntimeError("no connection to port %d in CLOSE_WAIT after %d s"
                       % (port, timeout))


def server(spec, ls):
    set_name(spec["name"])
    for conn in spec["conns"]:
        if conn.get("accept_after_close"):
            wait_close_wait(ls.getsockname()[1])
        c, peer = ls.accept()
        if conn.get("accepted_flag"):
            open(conn["accepted_flag"], "w").close()
        info = dict(pid=os.getpid(), tid=threading.get_native_id(),
                    comm=comm(), uid=os.getuid(), cgroup=cgroup(),
                    local=addr(c.getsockname()), peer=addr(peer))
        recv_exact(c, conn["c2s"])
        c.sendall(b"s" * conn["s2c"])
        finish(c, conn, "server")
        out(**info)


def client(spec):
    set_name(spec["name"])
    fam = socket.AF_INET if spec["family"] == 4 else socket.AF_INET6
    for conn in spec["conns"]:
        c = socket.socket(fam, socket.SOCK_STREAM)
        c.connect((spec["addr"], spec["port"]))
        info = dict(pid=os.getpid(), tid=threading.get_native_id(),
                    comm=comm(), uid=os.getuid(), cgroup=cgroup(),
                    local=addr(c.getsockname()), peer=addr(c.getpeername()))
        if conn.get("accepted_flag"):
            wait_file(conn["accepted_flag"])
        c.sendall(b"c" * conn["c2s"])
        recv_exact(c, conn["s2c"])
        finish(c, conn, "client")
        out(**info)


def main():
    spec = json.loads(sys.argv[1])
    try:
        if spec["role"] == "client":
            client(spec)
            return
        fam = socket.AF_INET if spec["family"] == 4 else socket.AF_INET6
        ls = socket.socket(fam, socket.SOCK_STREAM)
        if spec.get("dualstack"):
            ls.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        ls.bind((spec["addr"], 0))
        ls.listen(128)
        out(ready=ls.getsockname()[1])
        # accept in a second thread, so tid and pid differ
        err = []

        def run():
            try:
                server(spec, ls)
            except BaseException as e:
                err.append(e)
        t = threading.Thread(target=run)
        t.start()
        t.join()
        if err:
            raise err[0]
    except BaseException as e:
        out(error="%s: %s" % (type(e).__name__, e))
        sys.exit(1)


main()
'''


def peer_script():
    if "peer" not in _script:
        p = os.path.join(H.tmpdir(), "sockpeer.py")
        with open(p, "w") as f:
            f.write(PEER)
        os.chmod(p, 0o644)
        _script["peer"] = p
    return _script["peer"]


class Peer:
    """One peer process, started through `ip netns exec`."""

    def __init__(self, ns, spec, prefix=()):
        self.spec = spec
        self.cmd = H.ns_exec(ns, list(prefix) + [PY, peer_script(),
                                                 json.dumps(spec)])
        self.proc = H.track(subprocess.Popen(
            self.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True))
        self.pid = self.proc.pid      # ip netns exec and setpriv exec
        self.out = H.LineReader(self.proc.stdout)
        self.err = H.LineReader(self.proc.stderr)

    def lines(self):
        recs = [json.loads(x) for x in self.out.text().splitlines() if x]
        return [r for r in recs if "ready" not in r]

    def wait_ready(self, timeout=10):
        line = self.out.wait_for(r'"ready"|"error"', timeout)
        assert line and "ready" in line, "server did not start: %s %s" % (
            self.out.text(), self.err.text())
        return json.loads(line)["ready"]

    def finish(self, timeout=30):
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)
            raise AssertionError("%s peer did not finish: %s %s" % (
                self.spec["role"], self.out.text()[-500:],
                self.err.text()[-1000:]))
        self.out.join()
        self.err.join()
        assert rc == 0, "%s peer failed (%d): %s %s" % (
            self.spec["role"], rc, self.out.text()[-500:],
            self.err.text()[-1500:])
        infos = self.lines()
        assert len(infos) == len(self.spec["conns"]), \
            "%s peer reported %d connections of %d" % (
                self.spec["role"], len(infos), len(self.spec["conns"]))
        return infos


def conns_spec(sizes, first="client", sleep=0.2, reset=False):
    return [dict(c2s=c, s2c=s, first=first, sleep=sleep, reset=reset)
            for c, s in sizes]


def exchange(conns, family=4, client_name="hlt-client",
             server_name="hlt-server", client_uid=None, dualstack=False):
    """Run a server in A and a client in B through conns; (server infos,
    client infos, server port, server pid, client pid). dualstack: the
    server is an AF_INET6 socket on :: taking IPv4 (v4-mapped)."""
    t = H.topo()
    saddr = "198.51.100.1" if family == 4 else "2001:db8::1"
    if dualstack:
        srv = Peer(t.ns_a, dict(role="server", family=6, addr="::",
                                dualstack=True, name=server_name,
                                conns=conns))
    else:
        srv = Peer(t.ns_a, dict(role="server", family=family, addr=saddr,
                                name=server_name, conns=conns))
    port = srv.wait_ready()
    prefix = ()
    if client_uid is not None:
        prefix = ("setpriv", "--reuid=%d" % client_uid,
                  "--regid=%d" % client_uid, "--clear-groups")
    cli = Peer(t.ns_b, dict(role="client", family=family, addr=saddr,
                            port=port, name=client_name, conns=conns),
               prefix=prefix)
    cinfo = cli.finish()
    sinfo = srv.finish()
    return sinfo, cinfo, port, srv.pid, cli.pid


def of_conn(recs, client_port, server_port, kind="socket"):
    """Records of one connection, by its ports (either direction)."""
    out = []
    for r in recs:
        if r.get("event_type") != kind or r.get("ip_proto") != 6:
            continue
        p = (r.get("src_port"), r.get("dest_port"))
        if p in ((client_port, server_port), (server_port, client_port)):
            out.append(r)
    return out
