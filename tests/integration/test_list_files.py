#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""
List files that are not lists: a FIFO, /dev/zero, a directory, a symlink
to /dev/zero, a line that never ends, a NUL after an address; bytes that
must not reach a terminal raw (ESC in a list line, a path, an interface
name); the same files swapped in before a SIGHUP reload; and SIGTERM while
a large list is being read at start-up.

Each refusal is checked as a user sees it: hdrlog exits (bounded by a
timeout: a FIFO used to hang start-up for good) with status 1, the man
page's run-time error, one "hdrlog:" line naming the file, and nothing
left attached. A refused reload must leave capture running: records of
frames sent after it are read back.
"""
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hdrlogtest as H  # noqa: E402

tap = H.Tap()
LIST_FILE_ERROR = 1         # hdrlog(8): 1 on a run-time error
START_TIMEOUT = 20          # a hang is the failure; this only bounds it


def start_refused(args, mentions):
    """hdrlog with args exits at start with a list-file error mentioning
    every string of mentions; returns its stderr."""
    try:
        r = H.run_hdrlog(H.topo().ns_a, ["-i", H.dev(), "-o", "json:-", "-c",
                                         "1"] + args, timeout=START_TIMEOUT)
    except subprocess.TimeoutExpired:
        raise AssertionError("hdrlog %s did not exit within %d s" %
                             (" ".join(args), START_TIMEOUT))
    H.assert_refused(r, LIST_FILE_ERROR, mentions)
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert lines and all(x.startswith("hdrlog:") for x in lines), \
        "unprefixed lines:\n" + H.show(r)
    assert "\x1b" not in r.stderr and "\0" not in r.stderr, \
        "raw ESC or NUL on stderr:\n" + H.show(r)
    attached, text = H.topo().xdp_attached(H.dev())
    assert not attached, "XDP program left attached:\n" + text
    return r.stderr


@tap.case("a FIFO as a list is refused at start, at once")
def _():
    p = H.path("fifo.txt")
    os.mkfifo(p)
    start_refused(["--blocklist", p], [p + ": a FIFO, not a list file"])


@tap.case("/dev/zero, a symlink to it, a directory: refused at start")
def _():
    start_refused(["--taglist", "/dev/zero"],
                  ["/dev/zero: a character device, not a list file"])
    link = H.path("zero.txt")
    os.symlink("/dev/zero", link)
    start_refused(["--allowlist", link],
                  [link + ": a character device, not a list file"])
    d = H.path("dir.d")
    os.makedirs(d)
    start_refused(["--taglist", "d=" + d], [d + ": a directory"])


@tap.case("a line that never ends is refused with file:line")
def _():
    # 8 MiB with no newline after two good lines: memory stays bounded
    p = H.write_list("huge.txt", b"192.0.2.0/24\n198.51.100.0/24\n" +
                     b"x" * (8 << 20))
    err = start_refused(["--taglist", p],
                        ["%s:3: line longer than 4096 bytes: 'xxx" % p])
    assert len(err) < 1000, "the whole line was quoted:\n%s" % err[:2000]


@tap.case("a NUL after an address is refused, quoted as \\x00")
def _():
    p = H.write_list("nul.txt", b"192.0.2.0/24\n2001:db8::1\0garbage\n")
    start_refused(["--blocklist", p],
                  ["%s:2: NUL byte in the line: '2001:db8::1\\x00garbage'"
                   % p])


@tap.case("ESC in a list line, a list path and an interface name is "
          "printed escaped")
def _():
    p = H.write_list("esc.txt", b"\x1b[2J\x1b[31mred\n")
    start_refused(["--taglist", p], ["%s:1: " % p, "'\\x1b[2J\\x1b[31mred'"])
    q = H.path("no\x1b]0;title\x07.txt")
    start_refused(["--taglist", "n=" + q],
                  ["no\\x1b]0;title\\x07.txt: No such file or directory"])
    r = H.run_hdrlog(H.topo().ns_a, ["-i", "x\x1b[1m", "-o", "json:-"],
                     timeout=START_TIMEOUT)
    H.diag("exit %s: %s" % (r.returncode, r.stderr.strip()))
    assert r.returncode != 0, H.show(r)
    assert "\x1b" not in r.stderr, "raw ESC on stderr:\n" + H.show(r)
    assert "x\\x1b[1m" in r.stderr, H.show(r)


def wait_stderr(h, text, timeout=15):
    """Wait for a stderr line holding text; the line or None."""
    return h.err.wait_for(re.escape(text), timeout)


def records_flow(h, tag):
    """Frames sent now are logged: capture is alive."""
    mac = "02:1c:%02x:00:00:01" % tag
    frames = [H.udp_frame(mac, dst_mac=H.topo().pairs[0].a_mac)
              for _ in range(3)]
    H.topo().send(frames)
    line = h.out.wait_for(mac, 10)
    assert line is not None, "no record of a frame sent after the " \
        "refused reload; stderr:\n" + h.stderr()


@tap.case("SIGHUP with the list swapped for a FIFO or /dev/zero: reload "
          "refused, capture goes on")
def _():
    p = H.write_list("reload.txt", b"192.0.2.0/24\n")
    with H.Hdrlog(H.topo().ns_a, ["-i", H.dev(), "-o", "json:-", "--taglist",
                                    "r=" + p], stdout=True) as h:
        records_flow(h, 1)
        os.rename(p, p + ".good")
        os.mkfifo(p)
        h.proc.send_signal(signal.SIGHUP)
        assert wait_stderr(h, p + ": a FIFO, not a list file"), \
            "no refusal naming the FIFO; stderr:\n" + h.stderr()
        assert h.proc.poll() is None, "hdrlog exited:\n" + h.stderr()
        records_flow(h, 2)

        os.unlink(p)
        os.symlink("/dev/zero", p)
        h.proc.send_signal(signal.SIGHUP)
        assert wait_stderr(h, p + ": a character device, not a list file"), \
            "no refusal naming /dev/zero; stderr:\n" + h.stderr()
        assert h.proc.poll() is None, "hdrlog exited:\n" + h.stderr()
        records_flow(h, 3)
        rc = h.stop(signal.SIGTERM, timeout=START_TIMEOUT)
        assert rc == 0, "exit %s:\n%s" % (rc, h.stderr())


@tap.case("SIGTERM while a large list is read at start is honoured")
def _():
    # ~2.4 M distinct /32s, 36 MB: reading takes a while
    n = 150 * 1 << 14
    lines = ("10.%d.%d.%d/32\n" % (i >> 16, (i >> 8) & 255, i & 255)
             for i in range(n))
    p = H.write_list("big.txt", "".join(lines).encode())
    h = H.Hdrlog(H.topo().ns_a, ["-i", H.dev(), "-o", "json:-",
                                 "--taglist", p], stdout=True)
    h.start(wait=False)
    # SIGTERM once the list is open (if the read is over before this
    # sees it, the signal comes later in start-up: it must work there too)
    fd_dir = "/proc/%d/fd" % h.proc.pid
    seen_open = False
    deadline = time.monotonic() + START_TIMEOUT
    while not seen_open and time.monotonic() < deadline and \
            h.proc.poll() is None:
        try:
            seen_open = any(os.readlink(os.path.join(fd_dir, f)) == p
                            for f in os.listdir(fd_dir))
        except OSError:
            pass
        if not seen_open:
            time.sleep(0.001)
    H.diag("list %s open when signalled" % ("was" if seen_open else
                                            "was not seen"))
    h.proc.send_signal(signal.SIGTERM)
    rc = h.wait(START_TIMEOUT)
    if rc is None:
        h.kill()
        raise AssertionError("hdrlog ignored SIGTERM during start-up for "
                             "%d s; stderr:\n%s" % (START_TIMEOUT,
                                                    h.stderr()))
    H.diag("exit %s: %s" % (rc, h.stderr().strip()[:300]))
    assert rc in (0, 1), "exit %s:\n%s" % (rc, h.stderr())
    attached, text = H.topo().xdp_attached(H.dev())
    assert not attached, "XDP program left attached:\n" + text


def body():
    H.run_tap(tap)


if __name__ == "__main__":
    H.main(body)
