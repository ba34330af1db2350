#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""
Dynamic blocks seen and handled from outside (issue 14): hdrlog --blocks
lists a running hdrlog's blocks and --unblock takes one out (through the
--control socket), --respond-state keeps them across a restart, and
hdrlog --top --once shows the top sources. What is checked is what a user
sees: the commands' output and exit status, the unblock records read
back, and whether the source's frames are dropped. Every wait has a
deadline. The SYN flood and its policy are test_respond.py's.
"""
import os
import pty
import re
import shutil
import signal
import socket
import subprocess
import sys
import termios
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hdrlogtest as H  # noqa: E402
import test_respond as R  # noqa: E402

tap = H.Tap()


def ctl(name):
    return H.path(name + ".sock")


def cmd(args, timeout=20):
    # a client needs no namespace: the socket is a path
    return H.run_hdrlog(None, args, timeout=timeout)


def hdrlog(out, sock, args=(), ttl="120s"):
    return R.hdrlog(out, R.conf(R.SYN_BLOCK % ttl),
                    ["--control", sock] + list(args))


def blocked(out, h, src):
    return R.wait_for(out, h, lambda r: R.of(r, "block", src), "block record")


def udp_fate(out, h, src, first_id, n=20):
    """Send n UDP frames from src; the actions of their records."""
    H.topo().send([R.udp(src, ip_id=first_id + i) for i in range(n)])
    ids = set(range(first_id, first_id + n))
    recs = R.wait_for(out, h, lambda r: len([
        x for x in R.of(r, "packet", src) if x.get("ip_id") in ids and
        x.get("proto") == "UDP"]) >= n,
        "records of the UDP frames")
    return [x["action"] for x in R.of(recs, "packet", src)
            if x.get("ip_id") in ids and x.get("proto") == "UDP"]


@tap.case("hdrlog --blocks lists a SYN flood's block (address, policy, "
          "TTL); --top --once shows the attacker at the top with its "
          "packets; --unblock lifts it (unblock record: removed) and its "
          "frames pass again")
def _():
    out, sock = H.path("blocks.json"), ctl("blocks")
    attacker = "203.0.113.20"
    with hdrlog(out, sock) as h:
        # --top shows a source's last window (1 s, CLOCK_MONOTONIC as
        # time.monotonic_ns): the flood sent early in one, not split
        frames = R.flood(attacker)
        time.sleep(1 - time.monotonic_ns() % 10**9 / 1e9 + 0.01)
        H.topo().send(frames)
        blocked(out, h, attacker)
        h.hup()     # a reload keeps the block list
        r = cmd(["--blocks", "--control", sock])
        assert r.returncode == 0, H.show(r)
        m = re.search(r"^%s/32\s+syn-flood\s+(\d+)s\s+\d+$" %
                      re.escape(attacker), r.stdout, re.M)
        assert m and 100 <= int(m.group(1)) <= 120, r.stdout
        assert "1 active block" in r.stdout, r.stdout
        r = cmd(["--top", "--once", "--control", sock])
        assert r.returncode == 0, H.show(r)
        H.diag(*r.stdout.splitlines())     # what a user sees, in the log
        rows = r.stdout.split("TOP BY PACKETS")[1].splitlines()[1:]
        top = rows[0].split()
        assert top[0] == attacker + "/32" and int(top[1]) >= 100, r.stdout
        assert "\033" not in r.stdout, "--once: no screen control codes"
        assert re.search(r"^syn-flood\s+1\s+1\s+0\s+\d+$", r.stdout, re.M), \
            r.stdout
        assert udp_fate(out, h, attacker, 1) == ["drop"] * 20
        r = cmd(["--unblock", attacker, "--control", sock])
        assert r.returncode == 0, H.show(r)
        recs = R.wait_for(out, h, lambda x: R.of(x, "unblock", attacker),
                          "unblock record")
        u = R.of(recs, "unblock", attacker)[0]
        assert u["respond"]["result"] == "removed", u
        assert u["alert"]["signature"] == "syn-flood", u
        assert udp_fate(out, h, attacker, 100) == ["pass"] * 20
        r = cmd(["--blocks", "--control", sock])
        assert r.returncode == 0 and "0 active blocks" in r.stdout, \
            H.show(r)
        # not blocked (any more): a clear error, status 1
        r = cmd(["--unblock", attacker, "--control", sock])
        assert r.returncode == 1 and "not blocked" in r.stderr, H.show(r)
        r = cmd(["--unblock", attacker + "/24", "--control", sock])
        assert r.returncode == 1 and "/32" in r.stderr, H.show(r)
        assert h.stop() == 0, h.stderr()
    assert not os.path.exists(sock), "the control socket is left behind"


@tap.case("two blocked sources, one --unblock'ed: its frames pass, and "
          "the other's are still dropped (the kernel's block filter is "
          "made again from the list, never without a live block)")
def _():
    out, sock = H.path("two.json"), ctl("two")
    gone, kept = "203.0.113.27", "203.0.113.28"
    with hdrlog(out, sock) as h:
        for a in (gone, kept):
            H.topo().send(R.flood(a))
            blocked(out, h, a)
        r = cmd(["--unblock", gone, "--control", sock])
        assert r.returncode == 0, H.show(r)
        R.wait_for(out, h, lambda x: R.of(x, "unblock", gone),
                   "unblock record")
        # gone's filter bit may still be set (it is made again at most
        # once a second): a lookup finds no block, and its frames pass
        assert udp_fate(out, h, gone, 1) == ["pass"] * 20
        assert udp_fate(out, h, kept, 100) == ["drop"] * 20
        assert h.stop() == 0, h.stderr()


CLEAR = "\033[H\033[2J"     # --top's redraw: home, clear the screen
# a long window: the counts --top shows grow from view to view
TOP_CONF = """window = 60s
[policy syn-flood]
detector = syn
threshold = 5/s
action = block
ttl = 120s
"""


class Top:
    """hdrlog --top on a pseudo-terminal, its controlling terminal (setsid
    -c: ^C typed is a SIGINT, as in a shell). The screen is read in a
    thread; views() are the ones drawn whole (a redraw came after)."""

    def __init__(self, sock):
        self.master, slave = pty.openpty()
        self.proc = H.track(subprocess.Popen(
            ["setsid", "-c", H.HDRLOG, "--top", "--control", sock],
            stdin=slave, stdout=slave, stderr=subprocess.PIPE, text=True))
        self.slave = slave
        self.screen = b""
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        while True:
            try:
                b = os.read(self.master, 65536)
            except OSError:     # EIO: no process has the terminal open
                return
            if not b:
                return
            with self.lock:
                self.screen += b

    def text(self):
        with self.lock:
            # the terminal turns each \n into \r\n
            return self.screen.decode(errors="replace").replace("\r\n",
                                                                "\n")

    def views(self):
        return self.text().split(CLEAR)[1:-1]

    def key(self, b):
        os.write(self.master, b)

    def keymode(self):
        """True while the terminal is in --top's key mode (no echo, no
        line editing)."""
        lflag = termios.tcgetattr(self.slave)[3]
        return not lflag & (termios.ECHO | termios.ICANON)

    def wait_for(self, cond, what, timeout=20):
        """cond()'s first value other than None or False."""
        deadline = time.monotonic() + timeout
        while True:
            r = cond()
            if r is not None and r is not False:
                return r
            assert time.monotonic() < deadline, "%s: not within %ss; " \
                "screen:\n%s" % (what, timeout, self.text()[-3000:])
            time.sleep(0.05)

    def wait_views(self, want, what, timeout=20):
        def drawn():
            v = self.views()
            if want(v):
                return v
            assert self.proc.poll() is None, "--top exited (%s): %s" % (
                self.proc.returncode, self.proc.stderr.read())
            return None
        return self.wait_for(drawn, what, timeout)

    def stopped(self):
        with open("/proc/%d/stat" % self.proc.pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "T"

    def wait_exit(self, timeout=10):
        """The exit status; the terminal must be as it was (echo, lines)."""
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError("--top did not exit within %ss" % timeout)
        lflag = termios.tcgetattr(self.slave)[3]
        assert lflag & termios.ECHO and lflag & termios.ICANON, \
            "the terminal is left without echo or line editing"
        return rc

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        os.close(self.slave)
        self.reader.join(timeout=5)
        os.close(self.master)
        self.proc.stderr.close()


def top_rows(view, section):
    """{source: packets} of a view's TOP BY ... section, in its order."""
    rows = view.split(section)[1].split("\n\n")[0].splitlines()[1:]
    return [(r.split()[0], int(r.split()[1])) for r in rows if r.strip()]


class Traffic:
    """UDP from two sources until stopped: many frames from one, a few
    from the other, in rounds (bounded: at most 60 s of them)."""

    def __init__(self, heavy, light):
        self.stop = threading.Event()
        self.rounds = 0
        self.t = threading.Thread(target=self._run, args=(heavy, light),
                                  daemon=True)
        self.t.start()

    def _run(self, heavy, light):
        deadline = time.monotonic() + 60
        while not self.stop.is_set() and time.monotonic() < deadline:
            n = self.rounds * 10
            H.topo().send([R.udp(heavy, ip_id=(n + i) % 65536 + 1)
                           for i in range(8)] +
                          [R.udp(light, ip_id=(n + 8) % 65536 + 1)])
            self.rounds += 1
            self.stop.wait(0.05)

    def end(self):
        self.stop.set()
        self.t.join(timeout=10)


@tap.case("hdrlog --top on a terminal redraws each second (screen cleared, "
          "view drawn again) while two sources send: the busier one on top "
          "by packets, its count growing from view to view; a SYN flood's "
          "block shows up; q quits (status 0, the terminal as it was)")
def _():
    out, sock = H.path("top.json"), ctl("top")
    heavy, light, attacker = "203.0.113.40", "203.0.113.41", "203.0.113.42"
    traffic = top = None
    with R.hdrlog(out, R.conf(TOP_CONF), ["--control", sock]) as h:
        try:
            traffic = Traffic(heavy, light)
            top = Top(sock)
            views = top.wait_views(lambda v: len(v) >= 4 and all(
                {heavy, light} <= {a.split("/")[0] for a, _ in
                                   top_rows(x, "TOP BY PACKETS")}
                for x in v[-3:]), "4 views with both sources")
            counts = []
            for v in views[-3:]:
                rows = top_rows(v, "TOP BY PACKETS")
                names = [a for a, _ in rows]
                assert names.index(heavy + "/32") < names.index(
                    light + "/32"), v
                pk = dict(rows)
                assert pk[heavy + "/32"] > pk[light + "/32"], v
                counts.append(pk[heavy + "/32"])
            # a 60 s window can roll once in between: one pair may fall
            assert sum(b > a for a, b in zip(counts, counts[1:])) >= 1, \
                counts
            assert "0 active blocks" in views[-1], views[-1]
            H.topo().send(R.flood(attacker))
            blocked(out, h, attacker)
            n = len(views)
            views = top.wait_views(lambda v: len(v) > n and re.search(
                r"^%s/32\s+syn-flood\s+\d+s\s+\d+$" % re.escape(attacker),
                v[-1], re.M), "the block in a view")
            assert "1 active block" in views[-1], views[-1]
            assert re.search(r"^syn-flood\s+1\s+1\s+0\s+\d+$", views[-1],
                             re.M), views[-1]
            top.key(b"q")
            assert top.wait_exit() == 0, top.proc.stderr.read()
        finally:
            if traffic:
                traffic.end()
            if top:
                top.close()
        assert h.stop() == 0, h.stderr()


@tap.case("hdrlog --top ends cleanly on ^C and on ^\\ (SIGQUIT: it left "
          "the terminal raw) (status 0, terminal restored) and when the "
          "hdrlog it watches stops (status 1, a clear message); with "
          "stdout not a terminal it prints one view without screen codes "
          "and exits, as --once")
def _():
    out, sock = H.path("top2.json"), ctl("top2")
    with R.hdrlog(out, R.conf(TOP_CONF), ["--control", sock]) as h:
        for key in (b"\x03", b"\x1c"):    # ^C and ^\ typed
            top = Top(sock)
            try:
                top.wait_views(lambda v: len(v) >= 2, "2 views")
                top.key(key)
                assert top.wait_exit() == 0, (key, top.proc.stderr.read())
            finally:
                top.close()
        r = cmd(["--top", "--control", sock])
        assert r.returncode == 0, H.show(r)
        assert r.stdout.count("TOP BY PACKETS") == 1, r.stdout
        assert "\033" not in r.stdout, "not a terminal: no screen codes"
        top = Top(sock)
        try:
            top.wait_views(lambda v: len(v) >= 2, "2 views")
            assert h.stop() == 0, h.stderr()
            assert top.wait_exit() == 1
            # gone before the ask, or during it
            err = top.proc.stderr.read()
            assert re.search(r"(no running hdrlog answers at|the hdrlog at) "
                             + re.escape(sock), err), err
        finally:
            top.close()


def silent_socket(name, full):
    """A control socket that listens and never accepts (an hdrlog stuck),
    its listen queue filled when full (clients queued behind it)."""
    sock = ctl(name)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    H.on_cleanup(lambda: os.path.exists(sock) and os.unlink(sock))
    H.on_cleanup(srv.close)
    srv.bind(sock)
    srv.listen(0 if full else 8)
    for _ in range(64 if full else 0):
        c = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        H.on_cleanup(c.close)
        c.setblocking(False)
        try:
            c.connect(sock)
        except BlockingIOError:
            break
    else:
        assert not full, "the listen queue did not fill"
    return sock


@tap.case("--blocks and --unblock at an hdrlog whose control queue is full "
          "(listening, never accepting): 'is busy', exit status 1, at once "
          "(connect() waited for ever)")
def _():
    sock = silent_socket("full", True)
    for args in (["--blocks"], ["--unblock", "203.0.113.9"]):
        r = cmd(args + ["--control", sock])
        assert r.returncode == 1, H.show(r)
        assert "the hdrlog at %s is busy" % sock in r.stderr, H.show(r)


@tap.case("--top at an hdrlog whose control queue is full says so on the "
          "screen and asks again; q and ^C quit it (status 0, the terminal "
          "as it was); at one that takes the request and never answers, q "
          "and ^C quit at once too (status 0; they were ignored: a hang in "
          "connect(), or the 5 s wait out and status 1)")
def _():
    for full in (True, False):
        sock = silent_socket("topfull" if full else "topmute", full)
        for key in (b"q", b"\x03"):
            top = Top(sock)
            try:
                if full:
                    top.wait_views(lambda v: len(v) >= 1 and
                                   "at %s is busy" % sock in v[-1],
                                   "the busy screen")
                else:
                    top.wait_for(top.keymode, "key mode")
                top.key(key)
                rc = top.wait_exit()
                assert rc == 0, (full, key, rc, top.proc.stderr.read())
            finally:
                top.close()


@tap.case("^Z in --top puts the terminal back before it stops; after "
          "SIGCONT (fg) keys are read unechoed again, the view is redrawn "
          "and q quits")
def _():
    out, sock = H.path("tstp.json"), ctl("tstp")
    with R.hdrlog(out, R.conf(TOP_CONF), ["--control", sock]) as h:
        top = Top(sock)
        try:
            top.wait_views(lambda v: len(v) >= 1, "a view")
            assert top.keymode()
            top.key(b"\x1a")   # ^Z, typed
            top.wait_for(top.stopped, "stopped")
            assert not top.keymode(), "stopped with the terminal raw"
            n = len(top.text().split(CLEAR))
            os.kill(top.proc.pid, signal.SIGCONT)
            top.wait_for(lambda: not top.stopped() and top.keymode(),
                         "key mode again after SIGCONT")
            top.wait_for(lambda: len(top.text().split(CLEAR)) > n,
                         "a redraw after SIGCONT")
            top.key(b"q")
            assert top.wait_exit() == 0, top.proc.stderr.read()
        finally:
            top.close()
        assert h.stop() == 0, h.stderr()


def block_dropped(sock, src):
    """The DROPPED column of src's row in hdrlog --blocks."""
    r = cmd(["--blocks", "--control", sock])
    assert r.returncode == 0, H.show(r)
    m = re.search(r"^%s/32\s+\S+\s+\d+s\s+(\d+)$" % re.escape(src),
                  r.stdout, re.M)
    assert m, r.stdout
    return int(m.group(1))


@tap.case("hits per block: the frames a block drops are counted in the "
          "kernel per block; --blocks shows as many as the drop records "
          "read back (the flood's tail and 37 more), and the unblock record "
          "carries the same number")
def _():
    out, sock = H.path("hits.json"), ctl("hits")
    attacker = "203.0.113.23"
    with hdrlog(out, sock) as h:
        H.topo().send(R.flood(attacker))
        blocked(out, h, attacker)
        assert udp_fate(out, h, attacker, 1, n=37) == ["drop"] * 37

        def drops(recs):
            return len([x for x in R.of(recs, "packet", attacker)
                        if x.get("action") == "drop"])
        recs = H.read_json_lines(out)
        n = drops(recs)
        assert n >= 37, n
        # the flood's dropped tail may still be on its way to the records
        deadline = time.monotonic() + 10
        while block_dropped(sock, attacker) != n:
            assert time.monotonic() < deadline, (
                block_dropped(sock, attacker), n)
            time.sleep(0.05)
            n = drops(H.read_json_lines(out))
        r = cmd(["--unblock", attacker, "--control", sock])
        assert r.returncode == 0, H.show(r)
        recs = R.wait_for(out, h, lambda x: R.of(x, "unblock", attacker),
                          "unblock record")
        u = R.of(recs, "unblock", attacker)[0]
        assert u["respond"]["dropped"] == n == drops(recs), (u, n)
        # the kernel's per-policy count agrees: one block, one policy
        got = R.wait_policy(h, "syn-flood", 3, n)
        assert got[3] == n, (got, n)
        assert h.stop() == 0, h.stderr()


@tap.case("--respond-state: a block active at stop is back after a "
          "restart (frames dropped with no new attack); an entry that "
          "expired while stopped gives an unblock record")
def _():
    out, sock = H.path("state.json"), ctl("state")
    state = H.path("blocks.state")
    attacker, gone = "203.0.113.21", "203.0.113.22"
    with hdrlog(out, sock, ["--respond-state", state]) as h:
        H.topo().send(R.flood(attacker))
        blocked(out, h, attacker)
        assert h.stop() == 0, h.stderr()
    with open(state) as f:
        text = f.read()
    m = re.search(r"^%s/32 syn-flood (\d+)\.\d{3} syn$" % re.escape(attacker),
                  text, re.M)
    assert m and 0 < int(m.group(1)) - time.time() <= 121, text
    # one more, expired an hour ago while hdrlog was stopped
    with open(state, "a") as f:
        f.write("%s/32 syn-flood %d.000 syn\n" % (gone, time.time() - 3600))
    out2 = H.path("state2.json")
    with hdrlog(out2, sock, ["--respond-state", state]) as h:
        assert udp_fate(out2, h, attacker, 1) == ["drop"] * 20
        recs = H.read_json_lines(out2)
        assert not R.of(recs, "alert", attacker), "a new alert: not restored"
        u = R.of(recs, "unblock", gone)
        assert u and u[0]["respond"]["result"] == "expired-while-stopped", u
        r = cmd(["--blocks", "--control", sock])
        assert attacker + "/32" in r.stdout and gone not in r.stdout, \
            H.show(r)
        assert h.stop() == 0, h.stderr()
    assert "restored" in h.stderr(), h.stderr()
    with open(state) as f:
        text = f.read()
    assert gone not in text and attacker in text, text


@tap.case("--blocks with 800 blocks fits its reply: the rows that fit, "
          "'... and N more', '800 active blocks' and the drops table (the "
          "64 KiB reply was cut mid-row at about 744)")
def _():
    out, sock = H.path("many.json"), ctl("many")
    state = H.path("many.state")
    with open(state, "w") as f:
        for i in range(800):
            f.write("2001:db8:%x::/64 syn-flood %d.000 syn\n"
                    % (0x1000 + i, time.time() + 3600))
    with hdrlog(out, sock, ["--respond-state", state]) as h:
        r = cmd(["--blocks", "--control", sock])
        assert h.stop() == 0, h.stderr()
    text = r.stdout
    assert r.returncode == 0 and "800 active blocks" in text, H.show(r)
    rows = re.findall(r"^2001:db8:[0-9a-f]+::/64 +syn-flood +\d+s +\d+$",
                      text, re.M)
    more = re.search(r"^\.\.\. and (\d+) more$", text, re.M)
    assert rows and len(rows) + int(more.group(1) if more else 0) == 800, \
        (len(rows), text[-600:])
    assert re.search(r"^syn-flood +\d+ +\d+ +\d+ +\d+$", text, re.M), \
        text[-600:]


@tap.case("50,000 blocks, 1000 expiring together: one sweep takes them "
          "out (1000 unblock records), and --blocks is answered at once, "
          "49000 left (the sweep started over after each one: ~40 s of a "
          "loop that read nothing)")
def _():
    out, sock = H.path("sweep.json"), ctl("sweep")
    state = H.path("sweep.state")
    n, k = 50000, 1000
    soon = time.time() + 8      # after the start: a live block that expires
    with open(state, "w") as f:
        for i in range(n):
            f.write("2001:db8:1:%x::/64 syn-flood %.3f syn\n"
                    % (i, soon if i % (n // k) == 0 else time.time() + 3600))
    c = R.conf("max-blocks = 65536\n" + R.SYN_BLOCK % "60s")
    with R.hdrlog(out, c, ["--control", sock, "--respond-state", state]) as h:
        R.wait_for(out, h, lambda r: R.of(r, "unblock"), "an unblock record",
                   timeout=30)
        # the loop is free again at once: a generous deadline, not a time
        r = cmd(["--blocks", "--control", sock], timeout=20)
        assert r.returncode == 0, H.show(r)
        recs = R.wait_for(out, h, lambda x: len(R.of(x, "unblock")) >= k,
                          "%d unblock records" % k)
        u = R.of(recs, "unblock")
        assert len(u) == k and all(
            x["respond"]["result"] == "expired" for x in u), u[:3]
        assert "%d active blocks" % (n - k) in r.stdout, r.stdout[-400:]
        assert h.stop() == 0, h.stderr()
    assert H.parse_summary(h.stderr()).get("lost") == 0, h.stderr()


@tap.case("a saved block of a source now on a never-block list is not "
          "restored: an unblock record (protected), and its frames pass")
def _():
    out, sock = H.path("prot.json"), ctl("prot")
    state = H.path("prot.state")
    src = "203.0.113.26"
    with open(state, "w") as f:
        f.write("%s/32 syn-flood %d.000 syn\n%s/64 syn-flood %d.000 syn\n"
                % (src, time.time() + 3600, "2001:db8:9::", time.time() + 3600))
    mgmt = H.write_list("mgmt.txt", ["203.0.113.0/24", "2001:db8:9::/48"])
    c = R.conf("never-block = mgmt\n" + R.SYN_BLOCK % "60s")
    with R.hdrlog(out, c, ["--control", sock, "--respond-state", state,
                           "--taglist", "mgmt=" + mgmt]) as h:
        recs = R.wait_for(out, h, lambda r: len(R.of(r, "unblock")) >= 2,
                          "unblock records")
        for a in (src, "2001:db8:9::"):
            u = R.of(recs, "unblock", a)
            assert u and u[0]["respond"]["result"] == "protected", recs
        assert udp_fate(out, h, src, 1) == ["pass"] * 20
        r = cmd(["--blocks", "--control", sock])
        assert "0 active blocks" in r.stdout, H.show(r)
        assert h.stop() == 0, h.stderr()
    assert "now on an allow or never-block list" in h.stderr(), h.stderr()


@tap.case("a corrupt state file is warned about with FILE:LINE and "
          "ignored: hdrlog starts, blocks nothing, and rewrites it")
def _():
    out, sock = H.path("corrupt.json"), ctl("corrupt")
    state = H.path("corrupt.state")
    src = "203.0.113.23"
    with open(state, "w") as f:
        f.write("# saved\n%s/32 syn-flood %d.000 syn\n"
                "203.0.113.24/32 syn-flood soon syn\n" % (
                    src, time.time() + 3600))
    with hdrlog(out, sock, ["--respond-state", state]) as h:
        assert udp_fate(out, h, src, 1) == ["pass"] * 20
        assert h.stop() == 0, h.stderr()
    assert re.search(r"warning: %s:3: 'soon' is not a time.*ignored" %
                     re.escape(state), h.stderr()), h.stderr()
    with open(state) as f:
        assert src not in f.read()


@tap.case("--check of --respond-state: a directory that cannot take the "
          "file, or a FILE that is not a regular file, is a problem (exit 2); "
          "a missing FILE in a writable directory is fine")
def _():
    conf = R.conf(R.SYN_BLOCK % "120s")
    base = ["-i", H.dev(), "--respond", conf, "--check", "--respond-state"]
    for bad, why in ((H.path("no-such-dir") + "/x.state",
                      "its directory cannot take files"),
                     (H.tmpdir(), "not a regular file")):
        r = H.run_hdrlog(H.topo().ns_a, base + [bad])
        assert r.returncode == 2, H.show(r)
        assert "--respond-state" in r.stderr and why in r.stderr, H.show(r)
    r = H.run_hdrlog(H.topo().ns_a, base + [H.path("fresh.state")])
    assert r.returncode == 0, H.show(r)


@tap.case("--blocks and --top with no hdrlog running: a clear error, "
          "exit status 1")
def _():
    for args in (["--blocks"], ["--top", "--once"], ["--unblock", "1.2.3.4"]):
        r = cmd(args + ["--control", ctl("nobody")])
        assert r.returncode == 1, H.show(r)
        assert "no running hdrlog answers at" in r.stderr, H.show(r)
    r = cmd(["--once"])
    assert r.returncode == 2, H.show(r)


@tap.case("with one -i IF and no --control the socket is "
          "/run/hdrlog/IF.sock, 0600, and hdrlog --blocks -i IF finds it; "
          "it is gone after the stop")
def _():
    run_dir = "/run/hdrlog"
    made_dir = not os.path.isdir(run_dir)
    if made_dir:
        H.on_cleanup(lambda: os.path.isdir(run_dir) and not os.listdir(
            run_dir) and os.rmdir(run_dir))
    sock = os.path.join(run_dir, H.dev() + ".sock")
    # a killed hdrlog (a failed assertion) leaves it behind
    H.on_cleanup(lambda: os.path.exists(sock) and os.unlink(sock))
    out = H.path("default.json")
    with R.hdrlog(out, R.conf(R.SYN_BLOCK % "60s")) as h:
        assert os.stat(sock).st_mode & 0o777 == 0o600, oct(
            os.stat(sock).st_mode)
        r = cmd(["--blocks", "-i", H.dev()])
        assert r.returncode == 0 and "0 active blocks" in r.stdout, \
            H.show(r)
        assert h.stop() == 0, h.stderr()
    assert not os.path.exists(sock)
    if made_dir:
        assert not os.path.exists(run_dir), "hdrlog made it, and left it"


@tap.case("every system call of the control socket and the state file "
          "(serving --blocks, --top, --unblock; writing and renaming the "
          "state) is in the units' SystemCallFilter")
def _():
    strace = shutil.which("strace")
    if not strace or not shutil.which("systemd-analyze"):
        raise H.Skip("strace or systemd-analyze not installed")
    unit = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(
        H.HDRLOG))), "packaging", "systemd", "hdrlog.service")
    allowed = H.unit_syscall_filter(unit)
    out, sock = H.path("sc.json"), ctl("sc")
    trace, state = H.path("sc-strace.txt"), H.path("sc.state")
    attacker = "203.0.113.25"
    h = H.Hdrlog(H.topo().ns_a, [
        "-i", H.dev(), "-o", "json:" + out, "--respond",
        R.conf(R.SYN_BLOCK % "60s"), "--control", sock, "--respond-state",
        state], prefix=H.strace_prefix(trace))
    with h:
        H.topo().send(R.flood(attacker))
        blocked(out, h, attacker)
        for args in (["--blocks"], ["--top", "--once"],
                     ["--unblock", attacker]):
            r = cmd(args + ["--control", sock])
            assert r.returncode == 0, H.show(r)
        R.wait_for(out, h, lambda x: R.of(x, "unblock", attacker),
                   "unblock record")
        h.hup()
        assert h.stop(signal.SIGTERM) == 0, h.stderr()
    made = H.strace_calls(H.strace_text(trace, h.proc.pid))
    assert {"accept4", "rename", "bind"} <= made, sorted(made)
    assert made <= allowed, sorted(made - allowed)


if __name__ == "__main__":
    H.main(lambda: H.run_tap(tap))
