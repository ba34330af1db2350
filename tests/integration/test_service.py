#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""
hdrlog as a service: the sd_notify(3) protocol as systemd's manager sees
it (a datagram socket bound at $NOTIFY_SOCKET), SIGHUP re-reading the
config file, and the umask. Every hdrlog runs in namespace A on the test's
veth, with an explicit interface.
"""
import contextlib
import os
import re
import signal
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hdrlogtest as H  # noqa: E402

tap = H.Tap()
MAC_KIND = 0x5d              # source MACs 02:5d:... (H.new_mac)
_seq = [0]


class Notify:
    """What systemd's manager listens on: an AF_UNIX datagram socket.
    Each message is kept as a dict of its KEY=VALUE lines."""

    def __init__(self):
        _seq[0] += 1
        self.path = H.path("notify-%d.sock" % _seq[0])
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.msgs = []
        self.cond = threading.Condition()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        H.on_cleanup(self.close)

    def _run(self):
        while True:
            try:
                data = self.sock.recv(65536)
            except OSError:
                return
            if not data:
                return
            msg = dict(line.split("=", 1) for line in
                       data.decode().split("\n") if "=" in line)
            with self.cond:
                self.msgs.append(msg)
                self.cond.notify_all()

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

    def wait(self, key, value=None, start=0, timeout=15):
        """Index of the first message from start with key (=value if given:
        a regex, or a function of the value); AssertionError after
        timeout."""
        match = value if callable(value) else \
            (lambda v: value is None or re.search(value, v))
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for i in range(start, len(self.msgs)):
                    m = self.msgs[i]
                    if key in m and match(m[key]):
                        return i
                left = deadline - time.monotonic()
                assert left > 0, "no %s%s in %ss; got %s" % (
                    key, "=" + value if value else "", timeout, self.msgs)
                self.cond.wait(left)

    def env(self, watchdog_usec=None):
        """The prefix that runs hdrlog with this socket as NOTIFY_SOCKET."""
        env = ["env", "NOTIFY_SOCKET=" + self.path]
        if watchdog_usec:
            env.append("WATCHDOG_USEC=%d" % watchdog_usec)
        return env


def service(args, notify, watchdog_usec=None, umask=None):
    prefix = notify.env(watchdog_usec) if notify else []
    if umask is not None:
        # exec keeps the pid: /proc/PID is hdrlog's
        prefix = prefix + ["sh", "-c", 'umask %s; exec "$0" "$@"' % umask]
    return H.Hdrlog(H.topo().ns_a, args, prefix=prefix)


@contextlib.contextmanager
def ready(args, **kw):
    """hdrlog with args (service(), kw as its) under a Notify of its own,
    once that has READY (no wait for 'listening on': the notification is
    what these cases wait for); (Hdrlog, Notify). Killed at the end."""
    n = Notify()
    h = service(args, n, **kw).start(wait=False)
    try:
        n.wait("READY")
        yield h, n
    finally:
        h.kill()


def send_udp(n, tag, **kw):
    m = H.macs(n, MAC_KIND, tag)
    H.topo().send([H.udp_frame(x, **kw) for x in m])
    return set(m)


def wait_macs(out, macs, h, timeout=10):
    """The records of out whose src_mac is one of macs, once all are
    there (AssertionError otherwise)."""
    recs = H.wait_records(
        out, lambda rs: macs <= {r.get("src_mac") for r in rs},
        timeout=timeout, proc=h.proc)
    got = [r for r in recs if r.get("src_mac") in macs]
    assert {r["src_mac"] for r in got} == macs, \
        "%d of %d records; stderr:\n%s" % (len(got), len(macs), h.stderr())
    return got


def write_conf(name, lines):
    return H.write_list(name, "\n".join(lines) + "\n")


# --------------------------------------------------------------------------

@tap.case("READY=1 only once the XDP program is attached and the output "
          "is open; every frame sent after it is logged")
def _():
    n = Notify()
    out = H.path("ready.json")
    # XDP asked for: ip link shows it (auto would take tc on a veth)
    h = service(["-i", H.dev(), "--attach-ingress", "xdp",
                 "-o", "json:" + out], n).start(wait=False)
    try:
        i = n.wait("READY", "^1$")
        attached, text = H.topo().xdp_attached()
        assert attached, "READY=1 before XDP was attached:\n" + text
        assert os.path.exists(out), "READY=1 before %s was opened" % out
        assert re.search(r"\d+ records written, \d+ lost",
                         n.msgs[i].get("STATUS", "")), n.msgs[i]
        macs = send_udp(50, 1)
        wait_macs(out, macs, h)
    finally:
        h.kill()


@tap.case("SIGHUP: RELOADING=1, then READY=1 once a changed list file is "
          "in force")
def _():
    out = H.path("hup.json")
    lst = H.write_list("hup-tags.txt", ["203.0.113.0/24"])
    with ready(["-i", H.dev(), "-o", "json:" + out, "--taglist",
                "t=" + lst]) as (h, n):
        before = send_udp(5, 2)
        recs = wait_macs(out, before, h)
        assert all(r.get("src_lists", []) == [] for r in recs), recs
        H.write_list("hup-tags.txt", ["198.51.100.0/24"])
        start = len(n.msgs)
        h.proc.send_signal(signal.SIGHUP)
        r = n.wait("RELOADING", "^1$", start)
        assert "MONOTONIC_USEC" in n.msgs[r], n.msgs[r]
        n.wait("READY", "^1$", r + 1)
        after = send_udp(5, 3)
        recs = wait_macs(out, after, h)
        assert all(r["src_lists"] == ["t"] for r in recs), recs


@tap.case("signals every 10 ms (SIGUSR1) do not hold records back: a socket "
          "event and the frames after it are written while hdrlog runs")
def _():
    out = H.path("usr1.json")
    h = service(["-i", H.dev(), "-o", "json:" + out, "--socket-events"],
                None).start()
    stop = threading.Event()

    def pester():
        # bounded: 1,000 signals at most, or until the case is over
        for _ in range(1000):
            if stop.wait(0.01) or h.proc.poll() is not None:
                return
            h.proc.send_signal(signal.SIGUSR1)
    t = threading.Thread(target=pester, daemon=True)
    t.start()
    try:
        # A socket event wakes nobody (ring_flags()), and no record after
        # it wakes anybody until it is read: each interrupted poll used to
        # skip the read, and the records waited for hdrlog's exit.
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.sendto(b"x", ("127.0.0.1", 9))
        macs = send_udp(20, 9)
        wait_macs(out, macs, h, timeout=5)
    finally:
        stop.set()
        t.join()
        h.kill()


@tap.case("WATCHDOG_USEC=500000: WATCHDOG=1 keeps coming with no traffic")
def _():
    with ready(["-i", H.dev(), "-o", "json:" + H.path("wd.json")],
               watchdog_usec=500000) as (h, n):
        i = n.wait("READY")      # its index
        for _ in range(5):
            i = n.wait("WATCHDOG", "^1$", i + 1, timeout=10)
        assert h.proc.poll() is None, h.stderr()


@tap.case("no WATCHDOG_USEC: no WATCHDOG=1 messages")
def _():
    with ready(["-i", H.dev(), "-o",
                "json:" + H.path("nowd.json")]) as (h, n):
        # a reload round trip: the loop has turned many times by then
        start = len(n.msgs)
        h.proc.send_signal(signal.SIGHUP)
        n.wait("READY", "^1$", n.wait("RELOADING", None, start) + 1)
        assert not any("WATCHDOG" in m for m in n.msgs), n.msgs


@tap.case("STATUS= carries the counters of records written")
def _():
    out = H.path("status.json")
    with ready(["-i", H.dev(), "-o", "json:" + out]) as (h, n):
        macs = send_udp(20, 4)
        wait_macs(out, macs, h)
        # refreshed every few seconds with no help (the namespace's own
        # frames, if any, are records too)
        def counts(v):
            m = re.match(r"^(\d+) records written, 0 lost, 0 frames "
                         r"dropped$", v)
            return m and int(m.group(1)) >= 20
        n.wait("STATUS", counts, timeout=20)


@tap.case("SIGTERM: STOPPING=1, exit 0, no program left attached")
def _():
    with ready(["-i", H.dev(), "--attach-ingress", "xdp",
                "-o", "json:" + H.path("stop.json")]) as (h, n):
        rc = h.stop(signal.SIGTERM)
        n.wait("STOPPING", "^1$")
        assert rc == 0, h.stderr()
        attached, text = H.topo().xdp_attached()
        assert not attached, text


@tap.case("without NOTIFY_SOCKET hdrlog runs as before (no notification)")
def _():
    out = H.path("plain.json")
    with service(["-i", H.dev(), "-o", "json:" + out], None) as h:
        macs = send_udp(5, 5)
        wait_macs(out, macs, h)
        assert h.stop() == 0, h.stderr()


# --- SIGHUP and the config file ------------------------------------------

def err_has(h, text, count=1, timeout=10):
    """hdrlog's stderr once text is in it count times. A thread reads the
    pipe: a line hdrlog wrote before its READY=1 may not be read yet."""
    H.wait_until(lambda: h.stderr().count(text) >= count,
                 lambda: "%r (x%d) in stderr:\n%s" % (text, count,
                                                     h.stderr()), timeout)
    return h.stderr()


def reload(h, n):
    """SIGHUP and wait for the READY=1 that ends the reload."""
    start = len(n.msgs)
    h.proc.send_signal(signal.SIGHUP)
    n.wait("READY", "^1$", n.wait("RELOADING", "^1$", start) + 1)


@tap.case("SIGHUP re-reads --config: a changed list path applies, a changed "
          "interface is reported and ignored")
def _():
    out = H.path("conf-hup.json")
    a = H.write_list("conf-a.txt", ["203.0.113.0/24"])
    b = H.write_list("conf-b.txt", ["198.51.100.0/24"])
    conf = H.path("hup.conf")
    write_conf("hup.conf", ["interface = " + H.dev(),
                            "output = json:" + out,
                            "taglist = a=" + a])
    with ready(["--config", conf]) as (h, n):
        write_conf("hup.conf", ["interface = " + H.dev(1),
                                "output = json:" + out,
                                "taglist = b=" + b])
        reload(h, n)
        err = err_has(h, "config %s: interface changed; restart hdrlog to "
                      "apply it (keeping %s)" % (conf, H.dev()))
        assert "taglist changed" not in err, err
        recs = wait_macs(out, send_udp(5, 6), h)     # still on dev(0)
        assert all(r["src_lists"] == ["b"] and r["in_iface"] == H.dev()
                   for r in recs), recs
        attached, text = H.topo().xdp_attached(H.dev(1))
        assert not attached, "attached to the new interface:\n" + text
        # the next reload compares with the running (first) interface again
        reload(h, n)
        err_has(h, "interface changed", count=2)


@tap.case("SIGHUP with a config that no longer parses: FILE:LINE reported, "
          "nothing changes, records keep flowing")
def _():
    out = H.path("conf-broken.json")
    lst = H.write_list("conf-broken.txt", ["198.51.100.0/24"])
    conf = write_conf("broken.conf", ["interface = " + H.dev(),
                                      "output = json:" + out,
                                      "taglist = k=" + lst])
    with ready(["--config", conf]) as (h, n):
        write_conf("broken.conf", ["interface = " + H.dev(),
                                   "bogus-key = 1",
                                   "sample = many"])
        reload(h, n)
        err = err_has(h, "not reloaded")
        assert conf + ":2: unknown option 'bogus-key'" in err, err
        assert conf + ":3: sample needs a number" in err, err
        assert "not reloaded" in err, err
        assert h.proc.poll() is None, err
        recs = wait_macs(out, send_udp(5, 7), h)
        assert all(r["src_lists"] == ["k"] for r in recs), recs


@tap.case("SIGHUP applies a changed filter expression (records carry frame "
          "bytes) and -c")
def _():
    out = H.path("conf-filter.json")
    conf = write_conf("filter.conf", ["interface = " + H.dev(),
                                      "output = json:" + out,
                                      "filter = udp dst port 20000"])
    with ready(["--config", conf]) as (h, n):
        send_udp(3, 8, dport=30000)
        wait_macs(out, send_udp(3, 8, dport=20000), h)
        assert all(r["dest_port"] == 20000 for r in H.read_json_lines(out))
        # a filter that does not compile: the file is not taken at all
        write_conf("filter.conf", ["interface = " + H.dev(),
                                   "output = json:" + out,
                                   "filter = udp and (",
                                   "count = 1"])
        reload(h, n)
        err = err_has(h, "not reloaded")
        assert "bad filter expression" in err, err
        wait_macs(out, send_udp(1, 8, dport=20000), h)
        assert h.proc.poll() is None, "count = 1 was taken:\n" + h.stderr()
        write_conf("filter.conf", ["interface = " + H.dev(),
                                   "output = json:" + out,
                                   "filter = udp dst port 30000",
                                   "count = 8"])
        reload(h, n)
        assert "changed; restart" not in h.stderr(), h.stderr()
        send_udp(3, 9, dport=20000)
        wait_macs(out, send_udp(2, 9, dport=30000), h)
        assert [r["dest_port"] for r in H.read_json_lines(out)] == \
            [20000] * 4 + [30000] * 2, H.read_json_lines(out)
        # count = 8: 4 + 2 written, 2 more and it stops by itself
        send_udp(2, 10, dport=30000)
        assert h.wait(10) == 0, h.stderr()
        assert len(H.read_json_lines(out)) == 8


@tap.case("umask 027 added to the caller's: output files 0640, a stricter "
          "umask kept")
def _():
    for given, want in (("000", 0o027), ("022", 0o027), ("077", 0o077)):
        out = H.path("umask-%s.json" % given)
        with service(["-i", H.dev(), "-o", "json:" + out], None,
                     umask=given) as h:
            with open("/proc/%d/status" % h.proc.pid) as f:
                m = re.search(r"^Umask:\s*([0-7]+)", f.read(), re.M)
            assert m and int(m.group(1), 8) == want, \
                "umask %s: hdrlog runs with %s" % (given, m and m.group(1))
            mode = os.stat(out).st_mode & 0o777
            assert mode == 0o640 & ~want, "umask %s: %s is %o" % (
                given, out, mode)
            assert h.stop() == 0, h.stderr()


def body():
    H.run_tap(tap, pairs=2)


if __name__ == "__main__":
    H.main(body)
