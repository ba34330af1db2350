#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""
hdrlog's command line, end to end: -c, --fields, --sample, outputs,
several interfaces, clean detach, and the error messages. Every hdrlog
runs inside the test's namespace A with an explicit -i, so nothing here
can attach to the root namespace's interfaces.
"""
import os
import re
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hdrlogtest as H  # noqa: E402

SRCDIR = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
MAN_PAGE = os.path.join(SRCDIR, "man", "hdrlog.8")

tap = H.Tap()
MAC_KIND = 0xcc              # source MACs 02:cc:... (H.new_mac)


def hdrlog(args, **kw):
    return H.Hdrlog(H.topo().ns_a, args, **kw)


def one_shot(args, timeout=15, prefix=()):
    """Run hdrlog in namespace A to completion (killed after timeout)."""
    try:
        return H.run_hdrlog(H.topo().ns_a, args, timeout=timeout,
                            prefix=prefix)
    except Exception as e:
        raise AssertionError("hdrlog %s did not finish: %s" % (args, e))


def no_xdp(dev_name, timeout=3.0):
    """Wait until dev has no XDP program; (ok, ip link text)."""
    deadline = time.monotonic() + timeout
    while True:
        attached, text = H.topo().xdp_attached(dev_name)
        if not attached or time.monotonic() > deadline:
            return not attached, text
        time.sleep(0.1)


# --------------------------------------------------------------------------
# running cases
# --------------------------------------------------------------------------

@tap.case("-c N stops after exactly N records and exits 0")
def _():
    out = H.path("count.json")
    h = hdrlog(["-i", H.dev(), "-o", "json:" + out, "-c", "5"]).start()
    try:
        H.topo().send([H.udp_frame(m) for m in H.macs(20, MAC_KIND, 1)],
                      burst=4, pause=0.01)
        rc = h.wait(10)
        assert rc is not None, "still running 10 s after 20 frames with -c 5"
    finally:
        h.kill()
    recs = H.read_json_lines(out)
    assert rc == 0, "exit %s; stderr: %s" % (rc, h.stderr())
    assert len(recs) == 5, "%d records with -c 5" % len(recs)
    ok, text = no_xdp(H.dev())
    assert ok, "XDP program still attached after -c exit:\n" + text


@tap.case("--fields timestamp,src_ip,dest_port writes only those keys")
def _():
    out = H.path("fields.json")
    m_udp, m_arp = H.macs(2, MAC_KIND, 2)
    with hdrlog(["-i", H.dev(), "-o", "json:" + out, "-c", "2",
                 "--fields", "timestamp,src_ip,dest_port"]) as h:
        H.topo().send([H.udp_frame(m_udp, sport=1111, dport=2222),
                       H.arp_frame(m_arp)])
        rc = h.wait(10)
        assert rc == 0, "exit %s; stderr: %s" % (rc, h.stderr())
    recs = H.read_json_lines(out)
    assert len(recs) == 2, "records: %s" % recs
    udp = [r for r in recs if "src_ip" in r]
    arp = [r for r in recs if "src_ip" not in r]
    assert len(udp) == 1 and len(arp) == 1, "records: %s" % recs
    assert udp[0].key_order == ["timestamp", "src_ip", "dest_port"], \
        "UDP record keys %s" % udp[0].key_order
    assert udp[0]["src_ip"] == "198.51.100.2" and \
        udp[0]["dest_port"] == 2222, "UDP record %s" % udp[0]
    H.timestamp_ns(udp[0]["timestamp"])
    assert arp[0].key_order == ["timestamp"], \
        "ARP record keys %s (fields that don't apply are omitted)" % \
        arp[0].key_order


@tap.case("--fields help lists every field of the contract")
def _():
    r = one_shot(["--fields", "help"])
    assert r.returncode == 0, H.show(r)
    listed = re.findall(r"^\s+([a-z_]+)\s", r.stdout, re.M)
    missing = [f for f in H.FIELD_ORDER if f not in listed]
    assert not missing, "not listed: %s\n%s" % (missing, H.show(r))
    assert listed == H.FIELD_ORDER, "order/extra: %s" % listed


@tap.case("--sample 10 over 1000 frames: seen == written + sampled, ~100 logged")
def _():
    out = H.path("sample.json")
    n = 1000
    with hdrlog(["-i", H.dev(), "-o", "json:" + out, "--sample", "10"]) as h:
        H.topo().send([H.udp_frame(m) for m in H.macs(n, MAC_KIND, 3)],
                      burst=50, pause=0.003)
        # records are ~100; wait until the file stops growing
        last, stable_since = -1, time.monotonic()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            cur = len(H.read_json_lines(out))
            if cur != last:
                last, stable_since = cur, time.monotonic()
            elif time.monotonic() - stable_since > 0.5:
                break
            time.sleep(0.1)
        rc = h.stop()
    assert rc == 0, "exit %s after SIGINT; stderr: %s" % (rc, h.stderr())
    s = h.summary()
    recs = H.read_json_lines(out)
    H.diag("summary %s, %d records" % (s, len(recs)))
    for k in ("seen", "written", "lost", "sampled_out"):
        assert k in s, "summary has no '%s' line:\n%s" % (k, h.stderr())
    assert s["seen"] == s["written"] + s["lost"] + s["sampled_out"], \
        "seen != written + lost + sampled_out: %s" % s
    assert s["lost"] == 0, "records lost: %s" % s
    # veth may drop a few under load; hdrlog must not invent any
    assert 0.9 * n <= s["seen"] <= n, "seen %d, sent %d" % (s["seen"], n)
    assert s["written"] == len(recs), \
        "summary says %d written, file has %d" % (s["written"], len(recs))
    assert 90 <= len(recs) <= 110, "%d records for 1 in 10 of %d" % (
        len(recs), n)


def stdout_case(spec):
    def run():
        m1, m2 = H.macs(2, MAC_KIND, 4)
        with hdrlog(["-i", H.dev(), "-o", spec, "-c", "2"], stdout=True) as h:
            H.topo().send([H.udp_frame(m1), H.udp_frame(m2)])
            rc = h.wait(10)
            assert rc == 0, "exit %s; stderr: %s" % (rc, h.stderr())
            text = h.stdout()
        recs = H.read_json_lines(text + "\n", from_text=True)
        assert sorted(r.get("src_mac") for r in recs) == sorted([m1, m2]), \
            "stdout: %r" % text[:2000]
    return run


tap.add("-o json writes JSON lines to stdout", stdout_case("json"))
tap.add("-o json:- writes JSON lines to stdout", stdout_case("json:-"))


@tap.case("two interfaces: records carry the right in_iface and ifindex")
def _():
    out = H.path("two.json")
    p0, p1 = H.topo().pairs
    m0, m1 = H.macs(2, MAC_KIND, 5)
    with hdrlog(["-i", p0.a, "-i", p1.a, "-o", "json:" + out]) as h:
        H.topo().send([H.udp_frame(m0)], dev=p0.b)
        H.topo().send([H.udp_frame(m1, src_ip="198.51.100.66",
                                   dst_ip="198.51.100.65")], dev=p1.b)
        recs = H.wait_records(out, lambda rs: {m0, m1} <= {
            r.get("src_mac") for r in rs}, timeout=5, proc=h.proc)
        rc = h.stop()
    assert rc == 0, "exit %s; stderr: %s" % (rc, h.stderr())
    by = {r.get("src_mac"): r for r in recs}
    assert m0 in by and m1 in by, "records: %s" % recs
    for m, p in ((m0, p0), (m1, p1)):
        r = by[m]
        assert (r.get("in_iface"), r.get("ifindex")) == (p.a, p.a_ifindex), \
            "frame sent to %s (ifindex %d) logged as %s/%s" % (
                p.a, p.a_ifindex, r.get("in_iface"), r.get("ifindex"))


@tap.case("kill -9 leaves no XDP program behind (bpf_link)")
def _():
    h = hdrlog(["-i", H.dev(), "--attach-ingress", "xdp",
                "-o", "json:" + H.path("k9.json")]).start()
    try:
        attached, text = H.topo().xdp_attached(H.dev())
        assert attached, "no XDP program shown while hdrlog runs:\n" + text
        h.proc.send_signal(signal.SIGKILL)
        assert h.wait(10) is not None, "hdrlog survived SIGKILL"
    finally:
        h.kill()
    ok, text = no_xdp(H.dev())
    assert ok, "XDP program still attached after kill -9:\n" + text


@tap.case("SIGINT detaches the program and exits 0")
def _():
    h = hdrlog(["-i", H.dev(), "--attach-ingress", "xdp",
                "-o", "json:" + H.path("int.json")]).start()
    rc = h.stop(signal.SIGINT)
    assert rc == 0, "exit %s; stderr: %s" % (rc, h.stderr())
    ok, text = no_xdp(H.dev())
    assert ok, "XDP program still attached after SIGINT:\n" + text


@tap.case("a second hdrlog on the same interface fails clearly")
def _():
    # XDP has one program per interface (tcx links stack)
    with hdrlog(["-i", H.dev(), "--attach-ingress", "xdp",
                 "-o", "json:" + H.path("first.json")]) as h:
        r = one_shot(["-i", H.dev(), "--attach-ingress", "xdp",
                      "-o", "json:" + H.path("second.json"), "-c", "1"])
        still = h.proc.poll() is None
    assert r.returncode != 0, H.show(r)
    assert re.search(r"(?i)\bXDP\b", r.stderr) and \
        re.search(r"(?i)already", r.stderr), \
        "message doesn't say an XDP program is already attached:\n" + H.show(r)
    assert H.dev() in r.stderr, "message doesn't name %s:\n%s" % (H.dev(),
                                                                     H.show(r))
    assert "libbpf:" not in r.stderr, "libbpf dump:\n" + H.show(r)
    assert still, "the first hdrlog died"


# --------------------------------------------------------------------------
# errors
# --------------------------------------------------------------------------

def assert_error(r, rc=None, mentions=(), one_line=True):
    H.assert_refused(r, rc, mentions)
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    if one_line:
        assert len(lines) == 1, "%d lines on stderr:\n%s" % (len(lines),
                                                             H.show(r))
    assert lines and lines[0].startswith("hdrlog:"), \
        "message not prefixed 'hdrlog:':\n" + H.show(r)


@tap.case("unknown interface: one line naming it, non-zero exit")
def _():
    r = one_shot(["-i", "nosuchif0", "-o", "json:-", "-c", "1"])
    assert_error(r, mentions=["nosuchif0"])


def usage_case(args, mention):
    def run():
        r = one_shot(["-i", H.dev(), "-o", "json:-", "-c", "1"] + args,
                     timeout=10)
        # usage errors: the message plus a "Try 'hdrlog --help'" hint
        assert_error(r, rc=2, mentions=[mention], one_line=False)
        assert len(r.stderr.splitlines()) <= 2, H.show(r)
    return run


tap.add("unknown option --bogus: exit 2", usage_case(["--bogus"], "--bogus"))
tap.add("option missing its argument: exit 2", usage_case(["--sample"],
                                                          "--sample"))
tap.add("--sample abc: exit 2", usage_case(["--sample", "abc"], "abc"))
tap.add("--sample 0: exit 2", usage_case(["--sample", "0"], "0"))
tap.add("--sample -5: exit 2", usage_case(["--sample", "-5"], "-5"))
tap.add("-c x: exit 2", usage_case(["-c", "x"], "x"))
tap.add("unknown field in --fields: exit 2, names it",
        usage_case(["--fields", "timestamp,nosuchfield"], "nosuchfield"))
tap.add("stray argument: exit 2", usage_case(["extra"], "extra"))


@tap.case("output path that can't be opened: names the path")
def _():
    path = "/nonexistent/dir/x.json"
    r = one_shot(["-i", H.dev(), "-o", "json:" + path, "-c", "1"])
    assert_error(r, mentions=[path])
    ok, text = no_xdp(H.dev())
    assert ok, "XDP program left attached:\n" + text


@tap.case("unknown output format: exit 2, names it")
def _():
    r = one_shot(["-i", H.dev(), "-o", "yaml:" + H.path("x.yaml"), "-c", "1"])
    assert_error(r, rc=2, mentions=["yaml"], one_line=False)


@tap.case("bad syslog target: exit 2, names it")
def _():
    r = one_shot(["-i", H.dev(), "-o", "syslog:ftp://x", "-c", "1"])
    assert_error(r, rc=2, mentions=["ftp://x"], one_line=False)


def conflict_case(args, mention):
    """Options that make no sense together: refused with one reason."""
    def run():
        r = one_shot(["-c", "1"] + args, timeout=10)
        assert_error(r, rc=2, mentions=[mention], one_line=False)
        assert len(r.stderr.splitlines()) <= 2, H.show(r)
    return run


def conflicts():
    j = H.path("c.json")
    return [
        ("two outputs on stdout", ["-i", H.dev(), "-o", "json", "-w", "-"],
         "standard output"),
        ("json:- and pcap:- on stdout",
         ["-i", H.dev(), "-o", "json:-", "-o", "pcap:-"], "standard output"),
        ("the same path twice", ["-i", H.dev(), "-o", "json:" + j,
                                 "-o", "pcap:" + j], "same place"),
        ("the same output twice", ["-i", H.dev(), "-o", "json:" + j,
                                   "-o", "json:" + j], "same place"),
        ("-C without a capture file", ["-i", H.dev(), "-o", "json:" + j,
                                       "-C", "1"], "-C"),
        ("-G with a capture on stdout", ["-i", H.dev(), "-w", "-", "-G", "5"],
         "-C, -G and -W"),
        ("--monitor without lists", ["-i", H.dev(), "-o", "json:" + j,
                                     "--monitor"], "--monitor"),
        ("--too-deep without lists", ["-i", H.dev(), "-o", "json:" + j,
                                      "--too-deep", "drop"], "--too-deep"),
        ("-i with --events sockets", ["-i", H.dev(), "-o", "json:" + j,
                                      "--events", "sockets"], "-i"),
        ("--attach without socket events",
         ["-i", H.dev(), "-o", "json:" + j, "--attach", "tracepoint"],
         "--attach"),
        ("--xdp-mode with --events sockets",
         ["--events", "sockets", "-o", "json:" + j, "--xdp-mode", "native"],
         "--xdp-mode"),
    ]


@tap.case("conflicting options: each refused, exit 2, one reason, nothing runs")
def _():
    for name, args, mention in conflicts():
        H.diag(name)
        conflict_case(args, mention)()
        assert not os.path.exists(H.path("c.pcap")), name


@tap.case("'hdrlog IFACE' (a forgotten -i): exit 2 with a hint at -i")
def _():
    r = one_shot([H.dev(), "-c", "1"])
    assert_error(r, rc=2, mentions=["-i " + H.dev()], one_line=False)


@tap.case("--features without privileges says it cannot tell, not 'no'")
def _():
    r = one_shot(["--features"], prefix=["setpriv", "--reuid=65534",
                                          "--regid=65534", "--clear-groups"])
    assert r.returncode == 0, H.show(r)
    for what in ("ring buffer", "XDP", "socket events via tracepoint"):
        m = re.search(r"^%s: (.*)$" % re.escape(what), r.stdout, re.M)
        assert m and "cannot tell" in m.group(1), \
            "%s: %r\n%s" % (what, m and m.group(1), H.show(r))
    assert not re.search(r": no\b", r.stdout), H.show(r)


@tap.case("without privileges: message mentions CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN")
def _():
    r = one_shot(["-i", H.dev(), "-o", "json:-", "-c", "1"],
                 prefix=["setpriv", "--reuid=65534", "--regid=65534",
                           "--clear-groups"])
    assert_error(r, mentions=["CAP_BPF", "CAP_PERFMON", "CAP_NET_ADMIN"])


@tap.case("--version prints 'hdrlog X.Y.Z' and exits 0")
def _():
    r = one_shot(["--version"])
    assert r.returncode == 0, H.show(r)
    assert re.match(r"^hdrlog \d+\.\d+\.\d+\S*\n$", r.stdout), H.show(r)


@tap.case("--help lists every long option, exits 0")
def _():
    r = one_shot(["--help"])
    assert r.returncode == 0, H.show(r)
    listed = set(re.findall(r"--([a-z][a-z-]+)", r.stdout))
    want = {"interface", "output", "count", "fields", "sample", "version",
            "help"}
    # the man page is in the source tree (and in the tarball): its options
    # are the contract
    assert os.path.exists(MAN_PAGE), "no man page at %s" % MAN_PAGE
    with open(MAN_PAGE, errors="replace") as f:
        man = f.read().replace("\\-", "-").replace("\\fB", "")
    want |= set(re.findall(r"^\.TP\s*\n.*?--([a-z][a-z-]+)", man, re.M))
    missing = sorted(want - listed)
    assert not missing, "--help doesn't list --%s:\n%s" % (
        ", --".join(missing), r.stdout)
    # and each listed option is one getopt knows: an option that takes an
    # argument, given none, is a usage error that names it (nothing runs);
    # a flag followed by --help just prints the help.
    takes_arg = dict(re.findall(r"--([a-z][a-z-]+)(?:[ =]([A-Z\[]))?",
                                r.stdout))
    for opt in sorted(listed):
        args = ["--" + opt] if takes_arg.get(opt) else ["--" + opt, "--help"]
        rr = one_shot(args, timeout=10)
        assert "unknown option" not in rr.stderr and \
            "unrecognized" not in rr.stderr and \
            "listening on" not in rr.stderr, \
            "--%s is in --help but not accepted:\n%s" % (opt, H.show(rr))


@tap.case("--config: options from 'name = value' lines, comments, repeated "
          "keys, flags; the command line wins")
def _():
    out, other = H.path("conf.json"), H.path("conf-cmdline.json")
    tags = H.write_list("conf-tags.txt", ["198.51.100.0/24"])
    conf = H.write_list("hdrlog.conf", "\n".join([
        "# hdrlog.conf: every key is a long option",
        "interface = " + H.dev(),
        "   output = json:" + out + "   ",
        "",
        "fields = timestamp,src_ip,src_lists",
        "taglist = a=" + tags,
        "taglist = b=" + tags,          # a repeatable option repeats
        "sample = 1",
        "quiet = no",
        "syslog-cee",                   # a flag may stand alone
        "count = 1000",
    ]) + "\n")
    m = H.macs(3, MAC_KIND, 11)
    with hdrlog(["--config", conf, "-c", "2"]) as h:
        H.topo().send([H.udp_frame(x) for x in m[:2]])
        rc = h.wait(10)
        assert rc == 0, "exit %s; stderr: %s" % (rc, h.stderr())
    recs = H.read_json_lines(out)
    assert len(recs) == 2, "-c 2 from the command line beats count: %s" % recs
    for r in recs:
        assert r.key_order == ["timestamp", "src_ip", "src_lists"], r
        assert r["src_lists"] == ["a", "b"], r
    # -o on the command line replaces the file's outputs (-w would too)
    with hdrlog(["--config", conf, "-o", "json:" + other, "-c", "1"]) as h:
        H.topo().send([H.udp_frame(m[2])])
        assert h.wait(10) == 0, h.stderr()
    assert len(H.read_json_lines(out)) == 2, "the file's output was used"
    assert [r.get("src_ip") for r in H.read_json_lines(other)] == \
        ["198.51.100.2"]


@tap.case("--config errors: FILE:LINE and the key, exit 2, nothing runs")
def _():
    cases = [
        ("sample = abc\n", ":1: sample needs a number", "abc"),
        ("\n# c\nbogus = 1\n", ":3: unknown option 'bogus'", None),
        ("config = /etc/x\n", ":1: not an option for a config file", None),
        ("help\n", ":1: not an option for a config file", None),
        ("monitor = maybe\n", ":1: monitor takes yes or no", None),
        ("xdp-mode = fast\n", ":1: xdp-mode is auto, native or generic",
         None),
        ("output =\n", ":1: output needs a value", None),
        ("fields = help\n", ":1: fields = help", None),
        ("interface = lo\0x\n", ":1: a NUL byte", None),
        ("taglist = " + "x" * 5000 + "\n", ":1: line longer than 4096",
         None),
    ]
    for i, (text, mention, extra) in enumerate(cases):
        conf = H.write_list("bad%d.conf" % i, text)
        r = one_shot(["--config", conf, "-i", H.dev(), "-c", "1"])
        assert_error(r, rc=2, mentions=[conf + mention] +
                     ([extra] if extra else []), one_line=False)
    # a config path with ESC in it is printed escaped
    conf = H.write_list("e\x1b[1m.conf", "bogus = 1\n")
    r = one_shot(["--config", conf, "-i", H.dev()])
    assert_error(r, rc=2, mentions=["e\\x1b[1m.conf:1: unknown option"],
                 one_line=False)
    assert "\x1b" not in r.stderr, H.show(r)
    r = one_shot(["--config", H.path("none.conf"), "-i", H.dev()])
    assert_error(r, rc=2, mentions=["none.conf", "No such file"],
                 one_line=False)
    r = one_shot(["--config", H.path(""), "-i", H.dev()])
    assert_error(r, rc=2, mentions=["not a regular file"], one_line=False)


@tap.case("the captured interface is deleted: hdrlog says so and exits 1")
def _():
    ns = H.topo().ns_a
    a, b = "hlx%d" % os.getpid(), "hly%d" % os.getpid()
    H.run([H.IP, "-n", ns, "link", "add", a, "type", "veth", "peer", "name",
           b])
    H.on_cleanup(lambda: H.run([H.IP, "-n", ns, "link", "del", a],
                               check=False))
    H.run([H.IP, "-n", ns, "link", "set", a, "up"])
    H.run([H.IP, "-n", ns, "link", "set", b, "up"])
    h = hdrlog(["-i", a, "-o", "json:" + H.path("gone.json")]).start()
    try:
        H.run([H.IP, "-n", ns, "link", "del", a])
        rc = h.wait(10)
        assert rc is not None, "still running 10 s after %s was deleted" % a
    finally:
        h.kill()
    assert rc == 1, "exit %s; stderr: %s" % (rc, h.stderr())
    assert re.search(r"interface %s is gone" % a, h.stderr()), h.stderr()
    assert "frames seen" in h.stderr(), "no summary:\n" + h.stderr()


@tap.case("stopped under traffic: every frame seen is written or counted lost")
def _():
    import threading
    for attempt in range(5):
        out = H.path("drain%d.json" % attempt)
        stop = threading.Event()
        h = hdrlog(["-i", H.dev(), "-o", "json:" + out]).start()
        frames = [H.udp_frame(m) for m in H.macs(64, MAC_KIND, 9)]

        def flood():
            s = H.topo().sender()
            for _ in range(20000):         # bounded: ~1-2 s of traffic
                if stop.is_set():
                    return
                for f in frames:
                    try:
                        s.send(f)
                    except OSError:
                        pass
        t = threading.Thread(target=flood)
        t.start()
        try:
            H.wait_records(out, lambda rs: len(rs) >= 200, timeout=10,
                           proc=h.proc)
            rc = h.stop()           # the flood goes on meanwhile
        finally:
            stop.set()
            t.join(30)
            h.kill()
        assert rc == 0, "exit %s; stderr: %s" % (rc, h.stderr())
        s = h.summary()
        recs = H.read_json_lines(out)
        H.diag("run %d: %s" % (attempt, s))
        assert s["seen"] == s["written"] + s["lost"], \
            "seen != written + lost: %s" % s
        assert s["written"] == len(recs), \
            "summary says %d written, file has %d" % (s["written"],
                                                      len(recs))


@tap.case("a SIGHUP list reload does not stall capture (small ring, big list)")
def _():
    import random
    import threading
    path = H.path("big.txt")
    rnd = random.Random(7)
    with open(path, "w") as f:      # ~1.5M lines: a reload takes ~1 s here
        for _ in range(1500):
            f.write("".join("203.%d.%d.%d\n" % (rnd.randrange(256),
                                                 rnd.randrange(256),
                                                 rnd.randrange(256))
                            for _ in range(1000)))
    out = H.path("reload.json")
    h = hdrlog(["-i", H.dev(), "-o", "json:" + out, "--taglist", "t=" + path,
                "--ringbuf-size", "64K"]).start(timeout=60)
    try:
        started = threading.Event()

        def steady():
            started.set()          # ~2000 frames/s for ~2 s
            H.topo().send([H.udp_frame(m)
                           for m in H.macs(4000, MAC_KIND, 10)],
                          burst=20, pause=0.01)
        t = threading.Thread(target=steady)
        t.start()
        started.wait(5)
        h.proc.send_signal(signal.SIGHUP)
        t.join(60)
        deadline = time.monotonic() + 60
        while len(re.findall(r"lists in force", h.stderr())) < 2:
            assert time.monotonic() < deadline, \
                "reload not done in 60 s:\n" + h.stderr()
            assert h.proc.poll() is None, "exited:\n" + h.stderr()
            time.sleep(0.1)
        rc = h.stop()
    finally:
        h.kill()
    assert rc == 0, "exit %s; stderr: %s" % (rc, h.stderr())
    s = h.summary()
    H.diag("summary %s" % s)
    assert s["lost"] == 0, "records lost during the reload: %s" % s
    assert s["seen"] == s["written"] >= 3600, s


# --------------------------------------------------------------------------
# --check and --filter
# --------------------------------------------------------------------------

def check(args, prefix=()):
    return one_shot(args + ["--check"], prefix=prefix)


def assert_nothing_attached():
    for i in (0, 1):
        attached, text = H.topo().xdp_attached(H.dev(i))
        assert not attached, "--check attached a program:\n" + text


@tap.case("--check with a good config: exit 0, prints interfaces, outputs "
          "and lists with their sizes; attaches and creates nothing")
def _():
    out = H.path("chk-new.json")
    old = H.write_list("chk-old.pcap", "not truncated\n")
    block = H.write_list("chk-block.txt", ["198.51.100.0/24",
                                           "203.0.113.7", "2001:db8::/32"])
    tags = H.write_list("chk-tags.txt", ["203.0.113.0/24"])
    conf = H.write_list("chk-good.conf", "\n".join([
        "interface = " + H.dev(0),
        "interface = " + H.dev(1),
        "output = json:" + out,
        "write = " + old,
        "blocklist = " + block,
        "taglist = t=" + tags,
        "filter = udp",
    ]) + "\n")
    r = check(["--config", conf])
    assert r.returncode == 0, H.show(r)
    o = r.stdout
    # --attach-ingress auto on veths: tc, and why, once for both
    assert "listening on %s, %s (tc because a virtual device (veth))" % (
        H.dev(0), H.dev(1)) in o, o
    assert "json:%s, pcap:%s" % (out, old) in o, o
    assert "block list chk-block: %s, 2 IPv4 and 1 IPv6 prefixes" % block \
        in o, o
    assert "tag list t: %s, 1 IPv4 and 0 IPv6 prefixes" % tags in o, o
    assert "filter expression: udp" in o, o
    assert o.rstrip().endswith("configuration OK"), o
    assert not os.path.exists(out), "--check created " + out
    with open(old) as f:
        assert f.read() == "not truncated\n", "--check truncated " + old
    assert_nothing_attached()


@tap.case("--check: a bad list, a missing output directory and an unknown "
          "interface are all reported; exit 2")
def _():
    bad = H.write_list("chk-bad.txt", ["198.51.100.0/24", "not-an-address"])
    conf = H.write_list("chk-bad.conf", "\n".join([
        "interface = " + H.dev(0),
        "interface = nosuchif9",
        "output = json:" + H.path("no-such-dir/x.json"),
        "blocklist = " + bad,
    ]) + "\n")
    r = check(["--config", conf])
    assert r.returncode == 2, H.show(r)
    e = r.stderr
    assert "no such interface: nosuchif9" in e, e
    assert "%s: the directory %s: No such file or directory" % (
        H.path("no-such-dir/x.json"), H.path("no-such-dir")) in e, e
    assert bad + ":2:" in e and "not-an-address" in e, e
    assert "3 problems found" in r.stdout, H.show(r)
    assert "configuration OK" not in r.stdout, r.stdout
    assert_nothing_attached()


@tap.case("--check without a config: the command line alone")
def _():
    r = check(["-i", H.dev(), "-o", "json:" + H.path("chk-cl.json")])
    assert r.returncode == 0, H.show(r)
    assert "listening on %s" % H.dev() in r.stdout, r.stdout
    assert "configuration OK" in r.stdout, r.stdout
    assert not os.path.exists(H.path("chk-cl.json"))
    r = check(["-i", H.dev(), "-o", "json", "udp and ("])
    assert r.returncode == 2 and "bad filter expression" in r.stderr, \
        H.show(r)


@tap.case("--check of outputs: a directory, a file that may not be written, "
          "a foreign symbolic link in a sticky directory; a syslog host "
          "that does not resolve")
def _():
    sticky = H.path("chk-sticky")
    os.makedirs(sticky, exist_ok=True)
    os.chmod(sticky, 0o1777)
    link = os.path.join(sticky, "link.json")
    if not os.path.lexists(link):
        os.symlink(H.path("chk-target.json"), link)
    os.lchown(link, 65534, 65534)
    ro = H.write_list("chk-ro.json", "")
    os.chmod(ro, 0o444)     # root without CAP_DAC_OVERRIDE may not write
    r = check(["-i", H.dev(), "-o", "json:" + H.tmpdir(),
               "-o", "json:" + link,
               "-o", "syslog:udp://nosuchhost.invalid",
               "-o", "pcap:" + ro], prefix=["setpriv", "--inh-caps=-all",
                                            "--bounding-set=-dac_override"])
    assert r.returncode == 2, H.show(r)
    assert "json:%s: it is a directory" % H.tmpdir() in r.stderr, r.stderr
    assert "refusing to follow " + link in r.stderr, r.stderr
    assert "cannot resolve nosuchhost.invalid" in r.stderr, r.stderr
    assert "pcap:%s: cannot write to it: Permission denied" % ro \
        in r.stderr, r.stderr
    assert "4 problems found" in r.stdout, H.show(r)
    assert not os.path.exists(H.path("chk-target.json"))


@tap.case("--check without privileges: a warning, exit 0")
def _():
    r = check(["-i", H.dev(), "-o", "json"],
              prefix=["setpriv", "--reuid=65534", "--regid=65534",
                      "--clear-groups"])
    assert r.returncode == 0, H.show(r)
    assert "warning" in r.stderr and "CAP_BPF" in r.stderr, H.show(r)
    assert "configuration OK (with warnings" in r.stdout, H.show(r)


RESPOND_STATE_CONF = """# a learned baseline and a blocking policy: both state files
window = 100ms
[policy learned]
detector = baseline
history = 1h
factor = 5
min = 100/s
[policy syn-flood]
detector = syn
threshold = 100/s
action = block
ttl = 60s
"""


def state_pair(name, blocks=None, baseline=None):
    """--respond-state FILE in a directory of its own, FILE and
    FILE.baseline written as given (None: not there); FILE."""
    d = H.path(name)
    os.makedirs(d, exist_ok=True)
    state = os.path.join(d, "respond.state")
    for p, text in ((state, blocks), (state + ".baseline", baseline)):
        if text is not None:
            with open(p, "w") as f:
                f.write(text)
    return state


def good_baseline(src="203.0.113.7"):
    return ("hdrlog-baseline 1 written %d.250\npolicy learned packets\n"
            "# ADDRESS/PREFIX, then for each policy: AVERAGE(per second) "
            "LEARNED(ms)\n%s/32 212.5 3600000\n" % (time.time(), src))


def check_state(state):
    conf = H.write_list("chk-respond-state.conf", RESPOND_STATE_CONF)
    return check(["-i", H.dev(), "--respond", conf, "--respond-state",
                  state])


@tap.case("--check of --respond-state reads FILE and FILE.baseline as a "
          "start would: a good pair is fine (exit 0, what a start would "
          "restore said); a bad line in either is the start's FILE:LINE "
          "warning, exit 0 'with warnings'")
def _():
    now = time.time()
    blocks = ("# ADDRESS/PREFIX POLICY EXPIRES(unix seconds) DETECTOR\n"
              "203.0.113.9/32 syn-flood %.3f syn\n"
              "198.51.100.9/32 syn-flood 1.000 syn\n" % (now + 600))
    r = check_state(state_pair("chk-state-good", blocks, good_baseline()))
    assert r.returncode == 0, H.show(r)
    assert r.stdout.rstrip().endswith("configuration OK"), H.show(r)
    assert "respond.state.baseline: 1 learned source would be restored" \
        in r.stderr, H.show(r)
    assert "respond.state: 1 saved block to restore, 1 expired" \
        in r.stderr, H.show(r)
    assert "warning" not in r.stderr, H.show(r)
    # line 4: the second source's average is not a number
    state = state_pair("chk-state-badbase", blocks,
                       good_baseline() + "203.0.113.8/32 many 1000\n")
    r = check_state(state)
    assert r.returncode == 0, H.show(r)
    assert "configuration OK (with warnings" in r.stdout, H.show(r)
    assert re.search(r"warning: %s:5: 'many' is not an average .*; the "
                     r"saved baselines are ignored \(they start again "
                     r"empty" % re.escape(state + ".baseline"),
                     r.stderr), H.show(r)
    for text, line, why in (("garbage\n", 1, "not an hdrlog baseline file"),
                            ("hdrlog-baseline 2 written 1.000\n", 1,
                             "version 2; this hdrlog reads version 1"),
                            ("", 0, "empty: not an hdrlog baseline file")):
        state = state_pair("chk-state-foreign", None, text)
        r = check_state(state)
        assert r.returncode == 0, H.show(r)
        assert "warning: %s.baseline:%d: %s" % (state, line, why) \
            in r.stderr, H.show(r)
    # and the blocks file: its line 2 names no policy of the respond file
    state = state_pair("chk-state-badblocks",
                       "203.0.113.9/32 syn-flood 1.000 syn\n"
                       "203.0.113.10/32 gone 1.000 syn\n", good_baseline())
    r = check_state(state)
    assert r.returncode == 0, H.show(r)
    assert "configuration OK (with warnings" in r.stdout, H.show(r)
    assert "warning: %s:2: no policy 'gone'" % state in r.stderr, H.show(r)
    assert "saved blocks are ignored" in r.stderr, H.show(r)


@tap.case("--check of --respond-state: a FILE.baseline (or FILE) that is "
          "a directory or a FIFO is a problem (exit 2), said at once; one "
          "that may not be read is the start's warning")
def _():
    for name, which in (("chk-state-dir", ".baseline"),
                        ("chk-state-fifo", ".baseline"),
                        ("chk-state-fifo2", "")):
        state = state_pair(name)
        odd = state + which
        if "fifo" in name:
            os.mkfifo(odd)
        else:
            os.mkdir(odd)
        r = check_state(state)      # one_shot: a hang is a failure
        assert r.returncode == 2, H.show(r)
        assert "--respond-state %s: not a regular file" % odd in r.stderr, \
            H.show(r)
        assert "1 problem found" in r.stdout, H.show(r)
    state = state_pair("chk-state-unreadable", None, good_baseline())
    os.chmod(state + ".baseline", 0)
    conf = H.write_list("chk-respond-state.conf", RESPOND_STATE_CONF)
    r = check(["-i", H.dev(), "--respond", conf, "--respond-state", state],
              prefix=["setpriv", "--inh-caps=-all", "--bounding-set="
                      "-dac_override,-dac_read_search"])
    assert r.returncode == 0, H.show(r)
    assert "warning: --respond-state %s.baseline: Permission denied; the " \
        "baselines start again empty" % state in r.stderr, H.show(r)


@tap.case("a start with a FIFO as --respond-state FILE and FILE.baseline "
          "does not wait for a writer: it warns, starts, and at exit "
          "writes regular files in their place")
def _():
    conf = H.write_list("run-respond-state.conf", RESPOND_STATE_CONF)
    state = state_pair("run-state-fifo")
    for p in (state, state + ".baseline"):
        os.mkfifo(p)
    out = H.path("run-state-fifo.json")
    h = hdrlog(["-i", H.dev(), "-o", "json:" + out, "--respond", conf,
                "--respond-state", state])
    try:
        h.start()       # 'listening on' within its deadline, or fails
        assert h.stop() == 0, h.stderr()
    finally:
        h.kill()
    e = h.stderr()
    assert "--respond-state %s.baseline: not a regular file; the " \
        "baselines start again empty" % state in e, e
    assert "--respond-state %s: not a regular file; starting without the " \
        "saved blocks" % state in e, e
    with open(state + ".baseline") as f:
        assert f.read().startswith("# hdrlog --respond-state"), state
    assert os.path.isfile(state), state


@tap.case("--filter and filter = : the command line's expression wins, "
          "--filter with a trailing expression is refused")
def _():
    conf = H.write_list("chk-filter.conf", "interface = %s\nfilter = tcp\n"
                        % H.dev())
    r = check(["--config", conf])
    assert "filter expression: tcp\n" in r.stdout, H.show(r)
    r = check(["--config", conf, "udp"])
    assert "filter expression: udp\n" in r.stdout, H.show(r)
    r = check(["--config", conf, "--filter", "icmp"])
    assert "filter expression: icmp\n" in r.stdout, H.show(r)
    r = one_shot(["-i", H.dev(), "--filter", "udp", "tcp"])
    assert_error(r, rc=2, mentions=["--filter"], one_line=False)
    bad = H.write_list("chk-filter-bad.conf", "filter = udp and (\n")
    r = check(["--config", bad, "-i", H.dev()])
    assert r.returncode == 2 and "bad filter expression" in r.stderr, \
        H.show(r)
    # and it filters: only the frame to port 20000 is written
    out = H.path("filter-key.json")
    conf = H.write_list("run-filter.conf", "filter = udp dst port 20000\n")
    m = H.macs(2, MAC_KIND, 40)
    with hdrlog(["--config", conf, "-i", H.dev(), "-o", "json:" + out,
                 "-c", "1"]) as h:
        H.topo().send([H.udp_frame(m[0], dport=30000),
                       H.udp_frame(m[1], dport=20000)])
        assert h.wait(10) == 0, h.stderr()
    assert [r["src_mac"] for r in H.read_json_lines(out)] == [m[1]]


def body():
    H.run_tap(tap, pairs=2)


if __name__ == "__main__":
    H.main(body)
