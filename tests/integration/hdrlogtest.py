# SPDX-License-Identifier: GPL-2.0-or-later
"""
Shared helpers for hdrlog's integration tests.

- Tap: a tiny TAP producer. Each case is a function; an exception in a
  case is "not ok" with the traceback as "#" lines, and the run goes on.
- Topology: two network namespaces joined by veth pairs, torn down on exit
  (also on failure, SIGTERM and KeyboardInterrupt). The root namespace's
  interfaces and routes are never touched.
- Hdrlog: runs $HDRLOG inside namespace A, waits for "listening on",
  stops it and parses its exit summary.
- Rsyslog: a real rsyslogd of the test's own in namespace A (unix, UDP,
  TCP, TLS and RELP inputs), the receiver of the syslog outputs; each
  message it gets is read back as a JSON line.
- Frame sending from namespace B through an AF_PACKET socket (exact bytes,
  no scapy round trip), a reference decoder that turns a frame into the
  record hdrlog's field contract says it must produce, and a Community ID
  v1 implementation written from the corelight spec.
"""
import atexit
import base64
import ctypes
import ctypes.util
import datetime
import errno
import hashlib
import ipaddress
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback

# The binary under test: $HDRLOG (make check sets it to the build's), else
# the src/hdrlog of the tree this file is in (an in-tree build).
HERE = os.path.dirname(os.path.abspath(__file__))
HDRLOG = os.environ.get("HDRLOG") or os.path.join(
    os.path.dirname(os.path.dirname(HERE)), "src", "hdrlog")
IP = shutil.which("ip") or "/usr/sbin/ip"

# The JSON field contract, in output order.
FIELD_ORDER = [
    "timestamp", "event_type", "event", "in_iface", "out_iface", "ifindex",
    "pid", "tid",
    "comm", "uid", "cgroup_id", "netns", "src_mac", "dest_mac",
    "vlan", "ether_type", "ip_v", "src_ip", "dest_ip", "proto", "ip_proto",
    "ttl", "tos", "ip_len", "ip_id", "flow_label", "frag_offset",
    "more_fragments", "src_port", "dest_port", "direction", "tcp_state",
    "tcp_flags", "tcp_seq", "tcp_ack", "tcp_win", "icmp_type", "icmp_code",
    "pkt_len", "truncated", "duration_ms", "bytes_sent", "bytes_received",
    "community_id", "src_lists", "dest_lists", "action", "would_drop",
]

TIMESTAMP_RE = re.compile(
    r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.(\d{6})Z$")


# --------------------------------------------------------------------------
# TAP
# --------------------------------------------------------------------------

class Skip(Exception):
    """Raise in a case to report it as skipped."""


def need(prog):
    """prog's path on $PATH; if it is not installed, skip the case."""
    found = shutil.which(prog)
    if not found:
        raise Skip("%s not installed" % prog)
    return found


def diag(*lines):
    """Print diagnostic lines (each prefixed with '# ')."""
    for chunk in lines:
        for line in str(chunk).splitlines() or [""]:
            print("# " + line)
    sys.stdout.flush()


class Tap:
    def __init__(self):
        self.cases = []
        self.failed = 0

    def case(self, name=None):
        """Decorator: register fn as a case, named name or fn's name."""
        def register(fn):
            self.cases.append((name or fn.__name__.replace("_", " "), fn))
            return fn
        return register

    def add(self, name, fn):
        self.cases.append((name, fn))

    def run(self):
        print("1..%d" % len(self.cases))
        sys.stdout.flush()
        for n, (name, fn) in enumerate(self.cases, 1):
            t0 = time.monotonic()
            try:
                fn()
            except Skip as e:
                print("ok %d - %s # SKIP %s" % (n, name, e))
            except (KeyboardInterrupt, SystemExit):
                raise
            except BaseException:
                self.failed += 1
                print("not ok %d - %s" % (n, name))
                diag(traceback.format_exc().rstrip())
            else:
                print("ok %d - %s" % (n, name))
            dt = time.monotonic() - t0
            if dt > 2:
                diag("(%s took %.1f s)" % (name, dt))
            sys.stdout.flush()
        return self.failed


def main(body):
    """Run body(); any escaping exception is a TAP 'Bail out!'."""
    def on_term(signum, frame):
        raise KeyboardInterrupt("signal %d" % signum)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)
    try:
        body()
    except KeyboardInterrupt as e:
        run_cleanups()
        print("Bail out! interrupted (%s)" % (str(e) or "SIGINT"))
        sys.stdout.flush()
        sys.exit(1)
    except SystemExit:
        raise
    except BaseException as e:
        tb = traceback.format_exc().rstrip()
        run_cleanups()
        print("Bail out! %s: %s" % (type(e).__name__, e))
        diag(tb)
        sys.stdout.flush()
        sys.exit(1)
    finally:
        run_cleanups()
    sys.exit(0)


def preflight():
    """Bail out / skip the whole file when the environment can't run it."""
    if os.geteuid() != 0:
        print("1..0 # SKIP needs root (network namespaces, XDP)")
        sys.exit(0)
    if not os.access(HDRLOG, os.X_OK):
        print("Bail out! hdrlog binary not found or not executable: %s "
              "(build it, or set HDRLOG to the build's src/hdrlog)" % HDRLOG)
        sys.exit(1)
    if not os.path.exists(IP):
        print("Bail out! iproute2 'ip' not found")
        sys.exit(1)


# --------------------------------------------------------------------------
# cleanup registry
# --------------------------------------------------------------------------

_cleanups = []
_cleanup_lock = threading.Lock()


def on_cleanup(fn):
    """Register fn to run (LIFO) at exit, also after failures."""
    with _cleanup_lock:
        _cleanups.append(fn)
    return fn


def run_cleanups():
    while True:
        with _cleanup_lock:
            if not _cleanups:
                return
            fn = _cleanups.pop()
        try:
            fn()
        except Exception as e:  # keep cleaning
            sys.stderr.write("cleanup %r failed: %s\n" % (fn, e))


atexit.register(run_cleanups)

_tmpdir = None


def tmpdir():
    """A private scratch directory, removed at exit."""
    global _tmpdir
    if _tmpdir is None:
        _tmpdir = tempfile.mkdtemp(prefix="hdrlog-it-")
        os.chmod(_tmpdir, 0o755)
        d = _tmpdir
        on_cleanup(lambda: shutil.rmtree(d, ignore_errors=True))
    return _tmpdir


# --------------------------------------------------------------------------
# processes
# --------------------------------------------------------------------------

_procs = []


def track(proc):
    """Make sure proc is killed at exit."""
    _procs.append(proc)
    return proc


def _kill_all():
    for p in _procs:
        if p.poll() is None:
            try:
                p.kill()
                p.wait(timeout=5)
            except Exception:
                pass


on_cleanup(_kill_all)


def stop_process(proc, sig=signal.SIGTERM, timeout=10):
    """Ask proc to exit with sig (None: the caller asked already, as by
    closing its stdin) if it runs; SIGKILL it if it has not exited within
    timeout seconds."""
    if proc.poll() is not None:
        return
    if sig is not None:
        proc.send_signal(sig)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def run(cmd, check=True, timeout=30, **kw):
    """subprocess.run with text output captured and a timeout."""
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" %
                           (" ".join(cmd), r.returncode, r.stderr.strip()))
    return r


class LineReader:
    """Collect a pipe's lines in a thread; wait for a pattern."""

    def __init__(self, pipe):
        self.lines = []
        self.cond = threading.Condition()
        self.eof = False
        self.thread = threading.Thread(target=self._run, args=(pipe,),
                                       daemon=True)
        self.thread.start()

    def _run(self, pipe):
        for line in pipe:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    def wait_for(self, regex, timeout):
        """The first line matching regex, or None at EOF/timeout."""
        rx = re.compile(regex)
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for line in self.lines:
                    if rx.search(line):
                        return line
                left = deadline - time.monotonic()
                if self.eof or left <= 0:
                    return None
                self.cond.wait(min(left, 0.2))

    def join(self, timeout=5):
        self.thread.join(timeout)

    def text(self):
        with self.cond:
            return "\n".join(self.lines)


# --------------------------------------------------------------------------
# namespaces
# --------------------------------------------------------------------------

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6",
                    use_errno=True)


def _setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        e = ctypes.get_errno()
        raise OSError(e, "setns: " + os.strerror(e))


class VethPair:
    def __init__(self, a, b, a_net4, b_net4, a_net6):
        self.a, self.b = a, b              # names in namespace A and B
        self.a_ip4, self.b_ip4, self.a_ip6 = a_net4, b_net4, a_net6
        self.a_mac = self.b_mac = None
        self.a_ifindex = None


class Topology:
    """
    Namespaces hlt-a-PID and hlt-b-PID, joined by `pairs` veth pairs
    (pair i: hl<a+2i>PID in A, hl<b+2i>PID in B). A's ends carry
    198.51.100.x and 2001:db8:i::1; B's ends carry IPv4 only with IPv6
    disabled, so B sends nothing on its own and every frame A receives
    is one the test sent.
    """

    def __init__(self, pairs=1):
        pid = os.getpid()
        self.ns_a = "hlt-a-%d" % pid
        self.ns_b = "hlt-b-%d" % pid
        self.pairs = []
        for i in range(pairs):
            a = "hl%s%d" % (chr(ord("a") + 2 * i), pid)
            b = "hl%s%d" % (chr(ord("b") + 2 * i), pid)
            base = 64 * i
            self.pairs.append(VethPair(
                a, b, "198.51.100.%d/26" % (base + 1),
                "198.51.100.%d/26" % (base + 2), "2001:db8:%x::1/64" % i))
        self._created = []

    # -- lifecycle --
    def __enter__(self):
        on_cleanup(self.destroy)
        try:
            self._create()
        except BaseException:
            self.destroy()
            raise
        return self

    def __exit__(self, *exc):
        self.destroy()
        return False

    def _create(self):
        for ns in (self.ns_a, self.ns_b):
            run([IP, "netns", "add", ns])
            self._created.append(ns)
        # No DAD, RS or IPv6 at all on B's side: keep the wire quiet.
        for key, val in (("net.ipv6.conf.default.disable_ipv6", "1"),
                         ("net.ipv6.conf.all.disable_ipv6", "1")):
            self.sysctl(self.ns_b, key, val)
        for key, val in (("net.ipv6.conf.default.accept_dad", "0"),
                         ("net.ipv6.conf.default.router_solicitations", "0"),
                         ("net.ipv6.conf.default.accept_ra", "0")):
            self.sysctl(self.ns_a, key, val)
        for p in self.pairs:
            run([IP, "link", "add", p.a, "netns", self.ns_a, "type", "veth",
                 "peer", "name", p.b, "netns", self.ns_b])
            run([IP, "-n", self.ns_a, "addr", "add", p.a_ip4, "dev", p.a])
            run([IP, "-n", self.ns_a, "addr", "add", p.a_ip6, "dev", p.a,
                 "nodad"])
            run([IP, "-n", self.ns_b, "addr", "add", p.b_ip4, "dev", p.b])
            run([IP, "-n", self.ns_a, "link", "set", p.a, "up"])
            run([IP, "-n", self.ns_b, "link", "set", p.b, "up"])
            la = self.link(self.ns_a, p.a)
            lb = self.link(self.ns_b, p.b)
            p.a_mac, p.a_ifindex = la["address"], la["ifindex"]
            p.b_mac = lb["address"]

    def destroy(self):
        _kill_all()
        for ns in reversed(self._created):
            subprocess.run([IP, "netns", "del", ns], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=30)
        self._created = []

    # -- queries --
    @staticmethod
    def sysctl(ns, key, val):
        path = "/proc/sys/" + key.replace(".", "/")
        run([IP, "netns", "exec", ns, "sh", "-c",
             "test ! -e %s || echo %s > %s" % (path, val, path)])

    @staticmethod
    def link(ns, dev):
        r = run([IP, "-j", "-n", ns, "link", "show", "dev", dev])
        return json.loads(r.stdout)[0]

    def xdp_attached(self, dev=None, ns=None):
        """(attached?, `ip link show` text) for dev in namespace A."""
        dev = dev or self.pairs[0].a
        r = run([IP, "-d", "-n", ns or self.ns_a, "link", "show", "dev", dev])
        return (re.search(r"\bxdp|prog/xdp", r.stdout) is not None, r.stdout)

    # -- sending from B --
    def sender(self, dev=None):
        """An AF_PACKET socket in namespace B bound to dev (default pair 0)."""
        s = ns_socket(self.ns_b, socket.AF_PACKET, socket.SOCK_RAW, 0)
        s.bind((dev or self.pairs[0].b, 0))
        return s

    def send(self, frames, dev=None, burst=32, pause=0.002, sock=None):
        """Send raw frames (bytes) from B's end; paced so veth won't drop.
        sock: a sender() the caller keeps open across calls (a paced
        sender's windows), else one for this call."""
        s = sock or self.sender(dev)
        try:
            for i, f in enumerate(frames):
                for attempt in range(200):      # veth ring full: back off
                    try:
                        s.send(bytes(f))
                        break
                    except (BlockingIOError, OSError) as e:
                        if e.errno not in (errno.ENOBUFS, errno.EAGAIN) \
                                or attempt == 199:
                            raise
                        time.sleep(0.001)
                if burst and (i + 1) % burst == 0:
                    time.sleep(pause)
        finally:
            if s is not sock:
                s.close()


def ns_exec(ns, cmd):
    return [IP, "netns", "exec", ns] + list(cmd)


# --------------------------------------------------------------------------
# a test file's run: its topology, scratch files and source MACs
# --------------------------------------------------------------------------

_topology = []


def run_tap(tap, pairs=1, need=(), setup=None):
    """A test file's body: preflight; skip the file when a program in need
    (a name on $PATH or a path) is missing; build the topology (topo());
    setup(topology) if given; run the cases. The number of failed cases."""
    preflight()
    for prog in need:
        if not (shutil.which(prog) or os.access(prog, os.X_OK)):
            print("1..0 # SKIP %s not installed" % prog)
            return 0
    with Topology(pairs=pairs) as t:
        _topology[:] = [t]
        if setup:
            setup(t)
        return tap.run()


def topo():
    """The running test file's Topology."""
    return _topology[0]


def pair(i=0):
    """The topology's veth pair i."""
    return topo().pairs[i]


def dev(i=0):
    """Namespace A's end of veth pair i."""
    return pair(i).a


def path(name):
    """name in the scratch directory."""
    return os.path.join(tmpdir(), name)


def fresh(name):
    """path(name), removed if a case before wrote it: what is there after
    a run is this run's."""
    p = path(name)
    if os.path.exists(p):
        os.unlink(p)
    return p


def write_list(name, lines):
    """Write a list file in the scratch directory; its path. lines: a list
    of lines (each gets a newline), or the whole text (str or bytes)."""
    if isinstance(lines, (list, tuple)):
        lines = "".join(x + "\n" for x in lines)
    p = path(name)
    with open(p, "wb" if isinstance(lines, bytes) else "w") as f:
        f.write(lines)
    return p


_mac_seq = [0]


def new_mac(kind, tag=None):
    """A fresh source MAC 02:KIND:TAG:xx:xx:xx, unique within the run:
    KIND tells the test file, TAG a case (default: the pid's low byte).
    Records are picked out by it, so no two frames of a run share one."""
    _mac_seq[0] += 1
    i = _mac_seq[0]
    if tag is None:
        tag = os.getpid() & 0xFF
    return "02:%02x:%02x:%02x:%02x:%02x" % (kind, tag, (i >> 16) & 0xFF,
                                            (i >> 8) & 0xFF, i & 0xFF)


def macs(n, kind, tag=None):
    """n fresh source MACs (new_mac)."""
    return [new_mac(kind, tag) for _ in range(n)]


def strace_prefix(trace, *args):
    """What runs hdrlog under strace, writing to trace: -D (strace traces
    from a grandchild, so hdrlog keeps the pid signals go to), -f, -q, and
    args. With detect_leaks=0: in the sanitizer build LeakSanitizer cannot
    run under ptrace, and would end hdrlog with an error of its own."""
    asan = os.environ.get("ASAN_OPTIONS", "")
    return ["env", "ASAN_OPTIONS=" + asan + (":" if asan else "") +
            "detect_leaks=0", shutil.which("strace") or "strace",
            "-D", "-f", "-q", "-o", trace] + list(args)


def strace_text(trace, pid, timeout=10):
    """The trace, once strace has written pid's exit (it writes it last)."""
    deadline = time.monotonic() + timeout
    while True:
        with open(trace) as f:
            text = f.read()
        if re.search(r"^%d\s+\+\+\+ exited" % pid, text, re.M):
            return text
        assert time.monotonic() < deadline, "strace did not see the exit"
        time.sleep(0.05)


def strace_calls(text):
    """The system calls in a strace -f text: "PID name(" and "PID <...
    name resumed>"; "+++ exited" is no call."""
    return set(re.findall(r"^\d+\s+(?:<\.\.\. )?([a-z_0-9]+)[( ]", text,
                          re.MULTILINE))


def syscall_set(names, seen=None):
    """System call names in names, groups (@...) expanded by systemd."""
    seen = set() if seen is None else seen
    calls = set()
    for n in names:
        if not n.startswith("@"):
            calls.add(n)
            continue
        if n in seen:
            continue
        seen.add(n)
        r = run([shutil.which("systemd-analyze") or "systemd-analyze",
                 "syscall-filter", n])
        sub = [x.strip() for x in r.stdout.split("\n")[1:]]
        calls |= syscall_set([x for x in sub if x and not x.startswith("#")],
                             seen)
    return calls


def unit_syscall_filter(unit):
    """The system calls the unit file allows (its allow list)."""
    names = []
    with open(unit) as f:
        for line in f:
            if line.startswith("SystemCallFilter="):
                words = line.split("=", 1)[1].split()
                assert not words[0].startswith("~"), \
                    "a deny list: extend this test for it"
                names += words
    assert names, "no SystemCallFilter= in " + unit
    return syscall_set(names)


def show(r):
    """A finished command's exit and output ends, for assertion messages."""
    return "exit %s\nstdout: %r\nstderr: %r" % (
        r.returncode, r.stdout[-1500:], r.stderr[-1500:])


def assert_refused(r, rc=None, mentions=()):
    """hdrlog's run r (finished) refused to start: exit rc (not 0 when
    None), never said "listening on", every string of mentions on stderr,
    no libbpf dump there."""
    diag("exit %s, stderr: %s" % (r.returncode, r.stderr.strip()[:300]))
    if rc is None:
        assert r.returncode != 0, "exit 0:\n" + show(r)
    else:
        assert r.returncode == rc, "expected exit %d:\n%s" % (rc, show(r))
    assert "listening on" not in r.stderr, "it started:\n" + show(r)
    for m in mentions:
        assert m in r.stderr, "stderr doesn't mention %r:\n%s" % (m, show(r))
    assert "libbpf:" not in r.stderr, "libbpf dump:\n" + show(r)


def small_fs(name, size="64k"):
    """A tmpfs of size mounted at name in the scratch directory (a disk to
    fill up), unmounted at exit; its path."""
    mnt = path(name)
    os.mkdir(mnt)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs",
                    mnt], check=True)
    on_cleanup(lambda: subprocess.run(["umount", "-l", mnt]))
    return mnt


# --------------------------------------------------------------------------
# hdrlog
# --------------------------------------------------------------------------

SUMMARY_RE = {
    "seen": re.compile(r"^\s*(\d+) frames seen\s*$"),
    "flow_table_full": re.compile(
        r"^\s*(\d+) frames not tracked \(flow table full"),
    "flows_exported": re.compile(r"^\s*(\d+) flows exported"),
    "written": re.compile(r"^\s*(\d+) records written\s*$"),
    "lost": re.compile(r"^\s*(\d+) records lost \(ring buffer full\)\s*$"),
    "sampled_out": re.compile(
        r"^\s*(\d+) frames not logged \(sampling\)\s*$"),
    "seen_in": re.compile(r"^\s*(\d+) frames seen incoming\s*$"),
    "seen_out": re.compile(r"^\s*(\d+) frames seen outgoing\s*$"),
    "out_passed": re.compile(r"^\s*(\d+) outgoing frames passed\s*$"),
    "out_dropped": re.compile(
        r"^\s*(\d+) outgoing frames dropped \(block lists\)\s*$"),
    "out_would_drop": re.compile(
        r"^\s*(\d+) outgoing frames that would have been dropped"),
}


def parse_summary(stderr_text):
    out = {}
    for line in stderr_text.splitlines():
        line = re.sub(r"^hdrlog:\s*", "", line)
        for key, rx in SUMMARY_RE.items():
            m = rx.match(line)
            if m:
                out[key] = int(m.group(1))
    return out


# one line per output: "output SPEC: W written, L lost[, C cut to fit]..."
OUTPUT_RE = re.compile(r"^(?:hdrlog:\s*)?output (.+?): (\d+) written, "
                       r"(\d+) lost(?:, (\d+) cut to fit)?(.*)$")
# the line every summary has, SIGUSR1's and the exit one
SUMMARY_MARK = "records lost (ring buffer full)"


def output_summary(stderr_text):
    """{output: (written, lost, cut, rest of the line)} from the summaries
    in stderr_text; a later summary (SIGUSR1 prints them too) wins."""
    out = {}
    for line in stderr_text.splitlines():
        m = OUTPUT_RE.match(line.strip())
        if m:
            out[m.group(1)] = (int(m.group(2)), int(m.group(3)),
                               int(m.group(4) or 0), m.group(5))
    return out


def output_counts(stderr_text, name):
    """(written, lost) of output name in the last summary: name is the
    output's spec as the summary prints it ("json:/p") or, when only one
    output has that kind, the kind ("journal")."""
    outs = output_summary(stderr_text)
    hits = [v for k, v in outs.items()
            if k == name or (name not in outs and k.split(":")[0] == name)]
    assert len(hits) == 1, "no (single) summary line for output %s:\n%s" % (
        name, stderr_text)
    return hits[0][:2]


def records_to_outputs(stderr_text):
    """The records every output got (several outputs), from the last
    summary."""
    m = re.findall(r"^(?:hdrlog:\s*)?(\d+) records to the outputs",
                   stderr_text, re.M)
    assert m, "no 'records to the outputs' line:\n" + stderr_text
    return int(m[-1])


class Hdrlog:
    """hdrlog running inside a namespace. Use as a context manager."""

    def __init__(self, ns, args, stdout=False, prefix=()):
        self.ns = ns
        self.cmd = ns_exec(ns, list(prefix) + [HDRLOG] + list(args))
        self.capture_stdout = stdout
        self.proc = None
        self.rc = None

    def start(self, wait=True, timeout=15):
        self.proc = track(subprocess.Popen(
            self.cmd, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if self.capture_stdout
            else subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True))
        self.err = LineReader(self.proc.stderr)
        self.out = LineReader(self.proc.stdout) if self.capture_stdout \
            else None
        if wait:
            self.wait_listening(timeout)
        return self

    def wait_listening(self, timeout=15):
        line = self.err.wait_for(r"listening on", timeout)
        if line is None:
            rc = self.proc.poll()
            self.kill()
            why = "exited with %s" % rc if rc is not None else \
                "did not say 'listening on' within %ss" % timeout
            raise RuntimeError("hdrlog %s; stderr: %s\ncommand: %s" % (
                why, self.err.text()[-2000:], " ".join(self.cmd)))
        # said once the programs are attached and the ring buffer is
        # open (src/main.c): records of frames sent from now on are kept
        return line

    def wait(self, timeout):
        """Exit code, or None if still running after timeout."""
        try:
            self.rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        self.err.join()
        if self.out:
            self.out.join()
        return self.rc

    def stop(self, sig=signal.SIGINT, timeout=10):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        rc = self.wait(timeout)
        if rc is None:
            self.kill()
            raise RuntimeError("hdrlog did not exit within %ss of signal %d"
                               % (timeout, sig))
        return rc

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.rc = self.proc.wait(timeout=10)

    def stderr(self):
        return self.err.text()

    def stdout(self):
        return self.out.text() if self.out else ""

    def summary(self):
        return parse_summary(self.stderr())

    def summary_now(self, timeout=10):
        """SIGUSR1, and wait for the summary it prints; parse_summary of
        stderr then."""
        n = self.stderr().count(SUMMARY_MARK)
        self.proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + timeout
        while self.stderr().count(SUMMARY_MARK) <= n:
            assert time.monotonic() < deadline, "no summary after " \
                "SIGUSR1:\n" + self.stderr()
            time.sleep(0.02)
        return self.summary()

    def hup(self, timeout=10):
        """SIGHUP, and wait until hdrlog acted on it: the main loop reopens
        before it prints a SIGUSR1 summary, so a summary after it is
        proof."""
        self.proc.send_signal(signal.SIGHUP)
        self.summary_now(timeout)

    def output_counts(self, name):
        return output_counts(self.stderr(), name)

    def summaries_until(self, done, timeout=10, pause=0.05):
        """SIGUSR1 summaries (summary_now) until done() is true after one,
        or timeout seconds have passed; done()'s last value."""
        deadline = time.monotonic() + timeout
        while True:
            self.summary_now(timeout)
            v = done()
            if v or time.monotonic() > deadline:
                return v
            time.sleep(pause)

    def wait_written(self, names, n, timeout=10):
        """Until each output in names has written (put on disk) n records,
        as SIGUSR1 summaries say."""
        assert self.summaries_until(
            lambda: all(self.output_counts(x)[0] >= n for x in names),
            timeout), "outputs %s did not write %d records in %ss:\n%s" % (
                names, n, timeout, self.stderr())

    def records_to_outputs(self):
        return records_to_outputs(self.stderr())

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.kill()
        return False


def hdrlog(args, **kw):
    """Hdrlog in namespace A on dev() (-i) with args; kw as Hdrlog's."""
    return Hdrlog(topo().ns_a, ["-i", dev()] + list(args), **kw)


def count_re(h, regex):
    """How many lines of h's stderr match regex (re.search)."""
    rx = re.compile(regex)
    return sum(1 for x in h.stderr().splitlines() if rx.search(x))


def wait_count_re(h, regex, n, timeout=10):
    """count_re(h, regex) once it is n or more, or what it is when timeout
    seconds have passed."""
    deadline = time.monotonic() + timeout
    while count_re(h, regex) < n and time.monotonic() < deadline:
        time.sleep(0.05)
    return count_re(h, regex)


def run_hdrlog(ns, args, timeout=20, prefix=()):
    """Run hdrlog to completion; CompletedProcess (text)."""
    cmd = ns_exec(ns, list(prefix) + [HDRLOG] + list(args)) if ns \
        else list(prefix) + [HDRLOG] + list(args)
    return subprocess.run(cmd, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=timeout)


class Tcpdump:
    """tcpdump -w in a namespace, nanosecond timestamps."""

    def __init__(self, ns, dev, path, snaplen=512):
        self.cmd = ns_exec(ns, ["tcpdump", "-i", dev, "-w", path, "-U", "-n",
                                "--immediate-mode",
                                "--time-stamp-precision=nano", "-s",
                                str(snaplen),
                                "-B", "8192"])
        self.path = path

    def __enter__(self):
        self.proc = track(subprocess.Popen(
            self.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True))
        self.err = LineReader(self.proc.stderr)
        if self.err.wait_for(r"listening on", 15) is None:
            self.proc.kill()
            raise RuntimeError("tcpdump did not start: " + self.err.text())
        return self

    def stop(self):
        stop_process(self.proc, signal.SIGINT)

    def __exit__(self, *exc):
        self.stop()
        return False


def read_json_lines(path_or_text, from_text=False):
    """Parse JSON lines; complete lines only. Raises on a bad line."""
    if from_text:
        text = path_or_text
    else:
        try:
            with open(path_or_text) as f:
                text = f.read()
        except FileNotFoundError:
            return []
    recs = []
    lines = text.split("\n")
    if not text.endswith("\n"):
        lines = lines[:-1]          # partial last line
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            recs.append(json.loads(line, object_pairs_hook=_ordered_obj))
        except ValueError as e:
            raise AssertionError("line %d is not JSON (%s): %r" %
                                 (n, e, line[:300]))
    return recs


def json_lines(p):
    """The lines of a JSON-lines file as text, to compare byte for byte
    with what a receiver got (read_json_lines() parses them)."""
    with open(p) as f:
        return [x for x in f.read().split("\n") if x]


def wait_json(p, n, timeout=10):
    """json_lines(p) once it has n lines, or what it has when timeout
    seconds have passed ([] if p is not there)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(p) and len(json_lines(p)) >= n:
            break
        time.sleep(0.05)
    return json_lines(p) if os.path.exists(p) else []


class _ordered_obj(dict):
    """dict that remembers the key order and rejects duplicate keys."""

    def __init__(self, pairs):
        super().__init__()
        self.key_order = []
        for k, v in pairs:
            if k in self:
                raise ValueError("duplicate key %r" % k)
            self[k] = v
            self.key_order.append(k)


def wait_until(cond, what, timeout=15, pause=0.05):
    """cond() until it is true (its value), or fail saying what did not
    come in time: text, or a function that gives it then."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        assert time.monotonic() < deadline, "%s within %ss" % (
            what() if callable(what) else what, timeout)
        time.sleep(pause)


def wait_records(path, want, timeout=5.0, proc=None):
    """Poll a JSON-lines file until want(records) is true; last records."""
    deadline = time.monotonic() + timeout
    recs = []
    while time.monotonic() < deadline:
        recs = read_json_lines(path)
        if want(recs):
            break
        if proc is not None and proc.poll() is not None:
            break
        time.sleep(0.05)
    return recs


# --------------------------------------------------------------------------
# expected values
# --------------------------------------------------------------------------

# IANA keywords as Suricata writes them (util-proto-name.c), for the
# protocol numbers the tests use; anything else is the number as text.
PROTO_NAMES = {
    0: "HOPOPT", 1: "ICMP", 2: "IGMP", 4: "IP-in-IP", 6: "TCP", 17: "UDP",
    41: "IPv6", 43: "IPv6-Route", 44: "IPv6-Frag", 47: "GRE", 50: "ESP",
    51: "AH", 58: "IPv6-ICMP", 59: "IPv6-NoNxt", 60: "IPv6-Opts",
    132: "SCTP", 136: "UDPLite",
}


def proto_name(n):
    return PROTO_NAMES.get(n, str(n))


ICMP4_COUNTERPART = {8: 0, 0: 8, 13: 14, 14: 13, 15: 16, 16: 15, 10: 9,
                     9: 10, 17: 18, 18: 17}
ICMP6_COUNTERPART = {128: 129, 129: 128, 133: 134, 134: 133, 135: 136,
                     136: 135, 130: 131, 131: 130, 139: 140, 140: 139,
                     144: 145, 145: 144}


def community_id(saddr, daddr, proto, sport=None, dport=None, seed=0):
    """
    Community ID v1 per https://github.com/corelight/community-id-spec:
    sha1(seed16 . saddr . daddr . proto8 . pad8 . sport16 . dport16),
    endpoints ordered so the smaller (addr, port) comes first; for ICMP
    the ports are (type, counterpart type) or (type, code) one-way.
    Addresses are text; for ICMP/ICMPv6 pass type as sport, code as dport.
    """
    sa = ipaddress.ip_address(saddr).packed
    da = ipaddress.ip_address(daddr).packed
    one_way = False
    if proto in (1, 58) and sport is not None:
        table = ICMP4_COUNTERPART if proto == 1 else ICMP6_COUNTERPART
        if sport in table:
            dport = table[sport]
        else:
            one_way = True
    if not (one_way or sa < da or (sa == da and sport is not None and
                                   dport is not None and sport < dport)):
        sa, da, sport, dport = da, sa, dport, sport
    data = struct.pack("!H", seed) + sa + da + struct.pack("!BB", proto, 0)
    if sport is not None and dport is not None:
        data += struct.pack("!HH", sport, dport)
    return "1:" + base64.b64encode(hashlib.sha1(data).digest()).decode()


def mac_text(b):
    return ":".join("%02x" % x for x in b)


IPV6_EXT = (0, 43, 44, 60, 51)
MAX_VLANS = 2       # tags a record names (bpf/record.h HDRLOG_MAX_VLANS)
MAX_TAGS = 8        # tags the parser follows (HDRLOG_MAX_TAGS)
MAX_IPV6_EXT = 8


def expected_record(frame, in_iface, ifindex, direction="in"):
    """
    The record the field contract asks for, decoded from the frame's bytes
    independently of hdrlog (timestamp excluded). Keys in contract order.
    in_iface names the interface; with direction "out" it is out_iface.
    """
    f = bytes(frame)
    n = len(f)
    e = {"event_type": "packet",
         ("out_iface" if direction == "out" else "in_iface"): in_iface,
         "ifindex": ifindex, "direction": direction}
    trunc = False
    l4 = None
    ipv = None
    if n < 14:
        trunc = True
    else:
        e["src_mac"] = mac_text(f[6:12])
        e["dest_mac"] = mac_text(f[0:6])
        et = struct.unpack("!H", f[12:14])[0]
        off = 14
        vlans = []
        for i in range(MAX_TAGS):
            if et not in (0x8100, 0x88A8):
                break
            if off + 4 > n:
                trunc = True
                break
            tci, et = struct.unpack("!HH", f[off:off + 4])
            if i < MAX_VLANS:
                vlans.append(tci & 0x0FFF)
            off += 4
        if vlans:
            e["vlan"] = vlans
        # the last EtherType read: a TPID when cut inside a VLAN tag
        e["ether_type"] = et
        if not trunc:
            if et == 0x0800:
                if off + 20 > n:
                    trunc = True
                else:
                    (vihl, tos, tot, ident, fo, ttl, proto, _csum) = \
                        struct.unpack("!BBHHHBBH", f[off:off + 12])
                    ipv = 4
                    e.update(ip_v=4,
                             src_ip=socket.inet_ntop(socket.AF_INET,
                                                     f[off + 12:off + 16]),
                             dest_ip=socket.inet_ntop(socket.AF_INET,
                                                      f[off + 16:off + 20]),
                             proto=proto_name(proto), ip_proto=proto,
                             ttl=ttl, tos=tos, ip_len=tot, ip_id=ident)
                    if fo & 0x3FFF:
                        e["frag_offset"] = (fo & 0x1FFF) * 8
                        e["more_fragments"] = bool(fo & 0x2000)
                    hlen = (vihl & 0x0F) * 4
                    if hlen < 20 or off + hlen > n:
                        trunc = True
                    else:
                        off += hlen
                        if not (fo & 0x1FFF) and proto != 0:
                            l4 = proto
            elif et == 0x86DD:
                if off + 40 > n:
                    trunc = True
                else:
                    w0, plen, nh, hlim = struct.unpack("!IHBB",
                                                       f[off:off + 8])
                    ipv = 6
                    e.update(ip_v=6,
                             src_ip=socket.inet_ntop(socket.AF_INET6,
                                                     f[off + 8:off + 24]),
                             dest_ip=socket.inet_ntop(socket.AF_INET6,
                                                      f[off + 24:off + 40]),
                             ttl=hlim, tos=(w0 >> 20) & 0xFF,
                             ip_len=plen + 40, flow_label=w0 & 0xFFFFF)
                    off += 40
                    ip_proto = nh
                    # l4 is set where the chain reaches one (here, or in
                    # the else after MAX_IPV6_EXT headers); any other
                    # break (cut short, a non-first fragment) leaves it
                    # None: no L4 fields
                    for _ in range(MAX_IPV6_EXT):
                        if nh not in IPV6_EXT:
                            l4 = nh
                            break
                        if nh == 44:
                            if off + 8 > n:
                                trunc = True
                                break
                            nh, _r, fo, ident = struct.unpack(
                                "!BBHI", f[off:off + 8])
                            ip_proto = nh
                            e["ip_id"] = ident
                            e["frag_offset"] = (fo >> 3) * 8
                            e["more_fragments"] = bool(fo & 1)
                            off += 8
                            if fo >> 3:
                                break   # non-first fragment: no L4
                            continue
                        if off + 2 > n:
                            trunc = True
                            break
                        hl = f[off + 1]
                        ln = (hl + 2) * 4 if nh == 51 else (hl + 1) * 8
                        if off + ln > n:
                            trunc = True
                            break
                        nh = f[off]
                        ip_proto = nh
                        off += ln
                    else:
                        if nh not in IPV6_EXT:
                            l4 = nh
                    e["proto"] = proto_name(ip_proto)
                    e["ip_proto"] = ip_proto
            if l4 is not None and not trunc:
                need = {6: 20, 17: 8, 136: 8, 132: 12, 1: 4, 58: 4}.get(l4)
                if need is not None and off + need > n:
                    trunc = True
                elif l4 == 6:
                    sp, dp, seq, ack, _o, flags, win = struct.unpack(
                        "!HHIIBBH", f[off:off + 16])
                    e.update(src_port=sp, dest_port=dp,
                             tcp_flags="%02x" % flags, tcp_seq=seq,
                             tcp_ack=ack, tcp_win=win)
                elif l4 in (17, 136, 132):
                    sp, dp = struct.unpack("!HH", f[off:off + 4])
                    e.update(src_port=sp, dest_port=dp)
                elif l4 in (1, 58):
                    e.update(icmp_type=f[off], icmp_code=f[off + 1])
    e["pkt_len"] = n
    if trunc:
        e["truncated"] = True
    if ipv and "ip_proto" in e:
        p = e["ip_proto"]
        if p in (6, 17, 132) and "src_port" in e:
            e["community_id"] = community_id(e["src_ip"], e["dest_ip"], p,
                                             e["src_port"], e["dest_port"])
        elif p in (1, 58) and "icmp_type" in e:
            e["community_id"] = community_id(e["src_ip"], e["dest_ip"], p,
                                             e["icmp_type"], e["icmp_code"])
    return {k: e[k] for k in FIELD_ORDER if k in e}


def _same(a, b):
    """Equal, and equal JSON types (True is not 1)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return type(a) is type(b) and a == b


def diff_record(got, want, skip=("timestamp",)):
    """Human-readable differences between a record and the expectation."""
    out = []
    for k in FIELD_ORDER:
        if k in skip:
            continue
        if k in want and k not in got:
            out.append("%s: missing, expected %s" % (k, json.dumps(want[k])))
        elif k in got and k not in want:
            out.append("%s: unexpected, got %s" % (k, json.dumps(got[k])))
        elif k in got and not _same(got[k], want[k]):
            out.append("%s: expected %s, got %s" %
                       (k, json.dumps(want[k]), json.dumps(got[k])))
    for k in got:
        if k not in FIELD_ORDER:
            out.append("%s: not a contract field, got %s" %
                       (k, json.dumps(got[k])))
    order = getattr(got, "key_order", list(got))
    known = [k for k in order if k in FIELD_ORDER]
    if known != sorted(known, key=FIELD_ORDER.index):
        out.append("field order: %s" % ",".join(order))
    for k, v in got.items():
        if v is None:
            out.append("%s: null (fields that don't apply are omitted)" % k)
    return out


def timestamp_ns(ts):
    """RFC 3339 'YYYY-MM-DDTHH:MM:SS.uuuuuuZ' to ns since the epoch."""
    m = TIMESTAMP_RE.match(ts)
    if not m:
        raise AssertionError("timestamp %r is not RFC 3339 UTC with "
                             "microseconds and Z" % ts)
    y, mo, d, h, mi, s, us = (int(x) for x in m.groups())
    dt = datetime.datetime(y, mo, d, h, mi, s, tzinfo=datetime.timezone.utc)
    return (int(dt.timestamp()) * 1000000 + us) * 1000


def load_scapy():
    """Import scapy once, quietly."""
    import logging
    logging.getLogger("scapy").setLevel(logging.ERROR)
    import scapy.all as scapy  # noqa: E402
    scapy.conf.verb = 0
    return scapy


def mac_bytes(text):
    return bytes(int(x, 16) for x in text.split(":"))


def _csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def udp_frame(src_mac, dst_mac="02:00:5e:00:53:01", src_ip="198.51.100.2",
              dst_ip="198.51.100.1", sport=10000, dport=20000, payload=b"",
              ip_id=1):
    """A well-formed Ethernet/IPv4/UDP frame, built without scapy."""
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), ip_id, 0, 64,
                      17, 0, socket.inet_aton(src_ip),
                      socket.inet_aton(dst_ip))
    hdr = hdr[:10] + struct.pack("!H", _csum(hdr)) + hdr[12:]
    return mac_bytes(dst_mac) + mac_bytes(src_mac) + b"\x08\x00" + hdr + udp


def arp_frame(src_mac, psrc="198.51.100.2", pdst="198.51.100.99"):
    body = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1,
                       mac_bytes(src_mac), socket.inet_aton(psrc),
                       b"\0" * 6, socket.inet_aton(pdst))
    return b"\xff" * 6 + mac_bytes(src_mac) + b"\x08\x06" + body


# --------------------------------------------------------------------------
# RFC 5424 syslog messages, parsed independently of hdrlog
# --------------------------------------------------------------------------

HEAD5424 = re.compile(r"^<(\d{1,3})>1 (\S+) (\S+) (\S+) (\S+) (\S+) ")


def parse_sd(s):
    """(SD elements as [(id, [(name, value)])], or None for '-'; rest)."""
    if s.startswith("-"):
        return None, s[1:]
    elems, i = [], 0
    while i < len(s) and s[i] == "[":
        j = i + 1
        while s[j] not in " ]":
            j += 1
        sd_id, params, i = s[i + 1:j], [], j
        while s[i] == " ":
            eq = s.index("=", i)
            name = s[i + 1:eq]
            assert s[eq + 1] == '"', "no quote after %s=" % name
            i, val = eq + 2, []
            while s[i] != '"':
                if s[i] == "\\" and s[i + 1] in '"\\]':
                    val.append(s[i + 1])
                    i += 2
                else:
                    assert s[i] != "]", "unescaped ] in %s" % name
                    val.append(s[i])
                    i += 1
            params.append((name, "".join(val)))
            i += 1
        assert s[i] == "]", "SD element not closed at %r" % s[i:i + 20]
        elems.append((sd_id, params))
        i += 1
    return elems, s[i:]


def parse5424(raw):
    """An RFC 5424 message: dict of pri, ts, host, app, procid, msgid, sd
    (parse_sd) and msg; asserts the framing the RFC asks for."""
    m = HEAD5424.match(raw)
    assert m, "not RFC 5424: %r" % raw[:200]
    pri, ts, host, app, procid, msgid = m.groups()
    sd, rest = parse_sd(raw[m.end():])
    assert rest.startswith(" "), "no SP before MSG: %r" % rest[:50]
    return dict(pri=int(pri), ts=ts, host=host, app=app, procid=procid,
                msgid=msgid, sd=sd, msg=rest[1:])


# --------------------------------------------------------------------------
# a real rsyslogd: the receiver of the syslog outputs
# --------------------------------------------------------------------------

RSYSLOGD = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"

# Each message rsyslogd gets is one JSON line in out: the input's name,
# the raw message (%rawmsg%), the fields its RFC 5424/3164 parsers found,
# and in "all" the structured data as mmpstrucdata parsed it (sd) and the
# body as mmjsonparse parsed it (body; cee after an @cee: cookie).
RSYSLOG_CONF = """\
global(workDirectory="{work}")
{queue}{modules}module(load="mmjsonparse")
module(load="mmpstrucdata")
template(name="parsed" type="list" option.jsonf="on") {{
  property(outname="input" name="inputname" format="jsonf")
  property(outname="pri" name="pri" format="jsonf")
  property(outname="ts" name="timereported" dateFormat="rfc3339" format="jsonf")
  property(outname="host" name="hostname" format="jsonf")
  property(outname="app" name="app-name" format="jsonf")
  property(outname="procid" name="procid" format="jsonf")
  property(outname="msgid" name="msgid" format="jsonf")
  property(outname="sd" name="structured-data" format="jsonf")
  property(outname="msg" name="msg" format="jsonf")
  property(outname="raw" name="rawmsg" format="jsonf")
  property(outname="all" name="$!" format="jsonf")
}}
ruleset(name="in") {{
  action(type="mmpstrucdata" jsonRoot="!sd")
  action(type="mmjsonparse" cookie="" container="!body")
  action(type="mmjsonparse" container="!cee")
  action(type="omfile" file="{out}" template="parsed")
}}
{inputs}"""

# an input's kind: (rsyslog's input module, its module parameters)
RSYSLOG_MODULES = {
    "unix": ("imuxsock", ' SysSock.Use="off"'),
    "udp": ("imudp", ""),
    "tcp": ("imtcp", ""),
    "relp": ("imrelp", ""),
}


def rsyslog_tls(ca, cert, key, auth="anon", peers=()):
    """The options that make an Rsyslog "tcp" input speak TLS (RFC 5425)
    with rsyslog's GnuTLS driver (Debian's rsyslog-gnutls): the CA, the
    receiver's certificate and key (files); auth "anon" (no client
    certificate), "x509/certvalid" (one from the CA) or "x509/name" (and
    one of the names in peers)."""
    opts = ('streamDriver.name="gtls" streamDriver.mode="1" '
            'streamDriver.authMode="%s" streamDriver.CAFile="%s" '
            'streamDriver.CertFile="%s" streamDriver.KeyFile="%s"'
            % (auth, ca, cert, key))
    if peers:
        opts += " streamDriver.permittedPeers=[%s]" % ",".join(
            '"%s"' % p for p in peers)
    return opts


class Rsyslog:
    """Our own rsyslogd in namespace A, with its own config, pid file and
    work directory in the scratch directory (path(name)); the system's
    /dev/log and syslog daemon are never touched.

    inputs: (name, kind, address, port, options), the last three optional:
    kind "unix" listens on self.sock (rsyslog names its messages'
    input "imuxsock"), "udp", "tcp" and "relp" on address:port; options
    is more of the input's parameters (rsyslog_tls()). direct: the main
    queue in Direct mode, so the input's own thread writes each message to
    self.out before it acknowledges it (RELP).

    start() (and with) returns once every unix socket is there and every
    stream input takes a connection, or raises with rsyslogd's stderr and
    the process killed; stop(sig) and the end of with stop it. self.out
    outlives restarts: messages(), bodies(), wait()."""

    def __init__(self, name, inputs, direct=False):
        self.dir = path(name)
        os.makedirs(os.path.join(self.dir, "work"), exist_ok=True)
        self.out = os.path.join(self.dir, "out.jsonl")
        if os.path.exists(self.out):
            os.unlink(self.out)
        self.sock = os.path.join(self.dir, "log.sock")
        self.pidfile = os.path.join(self.dir, "rsyslogd.pid")
        self.conf = os.path.join(self.dir, "rsyslog.conf")
        self.inputs = [self._input(*x) for x in inputs]
        kinds = {x[1] for x in self.inputs}
        modules = "".join('module(load="%s"%s)\n' % m for k, m in
                          RSYSLOG_MODULES.items() if k in kinds)
        text = ""
        for name_, kind, addr, port, opts in self.inputs:
            if kind == "unix":
                text += ('input(type="imuxsock" Socket="%s" ruleset="in" '
                         'UseSpecialParser="off" IgnoreTimestamp="off" '
                         'CreatePath="off")\n' % self.sock)
            else:
                text += ('input(type="%s" address="%s" port="%d" ruleset="in" '
                         'name="%s"%s)\n' % (RSYSLOG_MODULES[kind][0], addr,
                                            port, name_, " " + opts if opts
                                            else ""))
        with open(self.conf, "w") as f:
            f.write(RSYSLOG_CONF.format(
                work=os.path.join(self.dir, "work"), out=self.out,
                queue='main_queue(queue.type="Direct")\n' if direct else "",
                modules=modules, inputs=text))
        self.proc = None
        self.errf = None

    @staticmethod
    def _input(name, kind, addr=None, port=None, opts=""):
        return name, kind, addr, port, opts

    def _ready(self, inp):
        _, kind, addr, port, _ = inp
        if kind == "unix":
            return os.path.exists(self.sock)
        if kind == "udp":
            return True             # nothing answers to ask
        fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
        s = ns_socket(topo().ns_a, fam, socket.SOCK_STREAM)
        try:
            s.settimeout(1)
            s.connect((addr, port))
            return True
        except OSError:
            return False
        finally:
            s.close()

    def start(self, timeout=15):
        for p in (self.sock, self.pidfile):
            if os.path.exists(p):
                os.unlink(p)
        self.errf = open(os.path.join(self.dir, "stderr"), "a")
        self.proc = track(subprocess.Popen(
            ns_exec(topo().ns_a, [RSYSLOGD, "-n", "-f", self.conf, "-i",
                                  self.pidfile]),
            stdin=subprocess.DEVNULL, stdout=self.errf, stderr=self.errf))
        waiting = list(self.inputs)
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            waiting = [x for x in waiting if not self._ready(x)]
            if not waiting:
                return self
            time.sleep(0.05)
        self._kill()
        raise RuntimeError("rsyslogd did not start (waiting for %s): %s" % (
            [x[0] for x in waiting], self.stderr()))

    def stop(self, sig=signal.SIGTERM):
        if self.proc:
            stop_process(self.proc, sig)
        self._close()

    def _kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._close()

    def _close(self):
        if self.errf:
            self.errf.close()
            self.errf = None

    def stderr(self):
        try:
            with open(os.path.join(self.dir, "stderr")) as f:
                return f.read()[-2000:]
        except OSError:
            return ""

    def messages(self, input_name=None):
        """What arrived (from input_name), in arrival order: the JSON
        lines as dicts, "all" parsed too."""
        out = []
        try:
            with open(self.out) as f:
                text = f.read()
        except FileNotFoundError:
            return out
        for line in text.split("\n")[:-1]:
            m = json.loads(line)
            m["all"] = json.loads(m["all"]) if m["all"] else {}
            if input_name is None or m["input"] == input_name:
                out.append(m)
        return out

    def bodies(self, input_name):
        """The MSG of every RFC 5424 message from input_name, in arrival
        order."""
        return [parse5424(m["raw"])["msg"] for m in self.messages(input_name)]

    def wait(self, n, input_name=None, timeout=10):
        """messages(input_name) once there are n, or what there is when
        timeout seconds have passed."""
        deadline = time.monotonic() + timeout
        while True:
            msgs = self.messages(input_name)
            if len(msgs) >= n or time.monotonic() > deadline:
                return msgs
            time.sleep(0.05)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self._kill()
        return False


# --------------------------------------------------------------------------
# sockets and device statistics inside a namespace
# --------------------------------------------------------------------------

def ns_socket(ns, family, type_, proto=0):
    """A socket created inside namespace ns (it stays there); closed at
    exit."""
    orig = os.open("/proc/self/ns/net", os.O_RDONLY)
    target = os.open("/run/netns/" + ns, os.O_RDONLY)
    try:
        _setns(target)
        try:
            s = socket.socket(family, type_, proto)
        finally:
            _setns(orig)
    finally:
        os.close(orig)
        os.close(target)
    on_cleanup(s.close)
    return s


def ethtool_stats(ns, dev):
    """{name: value} of `ethtool -S dev` in namespace ns, read with the
    SIOCETHTOOL ioctl (no ethtool binary needed); {} if unsupported."""
    import array
    import fcntl
    SIOCETHTOOL, GDRVINFO, GSTRINGS, GSTATS, SS_STATS = \
        0x8946, 0x03, 0x1B, 0x1D, 1
    s = ns_socket(ns, socket.AF_INET, socket.SOCK_DGRAM)
    try:
        def ioctl(buf):
            addr, _ = buf.buffer_info()
            ifr = struct.pack("16sP", dev.encode(), addr)
            ifr += b"\0" * (40 - len(ifr))
            fcntl.ioctl(s.fileno(), SIOCETHTOOL, ifr)
        drv = array.array("B", struct.pack("I", GDRVINFO) + b"\0" * 192)
        try:
            ioctl(drv)
        except OSError:
            return {}
        n = struct.unpack_from("I", drv.tobytes(), 180)[0]
        if not n:
            return {}
        strs = array.array("B", struct.pack("III", GSTRINGS, SS_STATS, n) +
                           b"\0" * (32 * n))
        ioctl(strs)
        raw = strs.tobytes()[12:]
        names = [raw[32 * i:32 * i + 32].split(b"\0")[0].decode()
                 for i in range(n)]
        st = array.array("B", struct.pack("II", GSTATS, n) + b"\0" * (8 * n))
        ioctl(st)
        vals = struct.unpack_from("%dQ" % n, st.tobytes(), 8)
        return dict(zip(names, vals))
    finally:
        s.close()


def xdp_drops():
    """XDP drops of the veth's end in A (dev()), summed over its queues:
    ethtool -S rx_queue_N_xdp_drops. None when unreadable."""
    st = ethtool_stats(topo().ns_a, dev())
    keys = [k for k in st if k.endswith("xdp_drops")]
    return sum(st[k] for k in keys) if keys else None
