#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""
What `make install` puts on a machine to run hdrlog as a service, and
whether it works as installed:

- make install DESTDIR=... stages exactly the binary, both man pages, the
  example config, both units, the logrotate snippet and /var/log/hdrlog
  (0750); a second install keeps an edited config, uninstall removes the
  rest.
- systemd-analyze verify accepts the installed units (every key known,
  the binary and man pages there), and security rates them "OK" or better.
- No key drifts: every long option of `hdrlog --help` is a key in
  hdrlog.conf(5) and in the example config, or, if hdrlog refuses it in a
  config file, named as command-line only.
- The example config starts as it is, on the default route's interface
  (the test namespace's), writing JSON lines 0640 and dropping nothing;
  --check accepts it.
- The template unit's command: the instance's own file, and records in
  /var/log/hdrlog/IFACE.json unless that file names an output.

Everything hdrlog runs here runs in the test's namespace A, whose default
route goes through the test veth; paths under /etc and /var/log are
rewritten to scratch directories.
"""
import json
import os
import re
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hdrlogtest as H  # noqa: E402

SRCDIR = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
BUILDDIR = os.path.dirname(os.path.dirname(os.path.abspath(H.HDRLOG)))
EXAMPLE_CONF = os.path.join(SRCDIR, "packaging", "hdrlog.conf")
CONF_MAN = os.path.join(SRCDIR, "man", "hdrlog.conf.5")
UNIT_DIR = os.path.join(BUILDDIR, "packaging", "systemd")
LOGDIR = "/var/log/hdrlog"

tap = H.Tap()
T = {}


def make(*args):
    """make in the build tree, apart from any make running the tests."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES",
                        "DESTDIR")}
    return subprocess.run(["make", "-s", "--no-print-directory", "-C",
                           BUILDDIR] + list(args), env=env,
                          stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=300)


def install_dirs():
    """The installation directories the build was configured with."""
    if "dirs" not in T:
        names = ("sbindir", "sysconfdir", "mandir", "systemdsystemunitdir",
                 "logrotatedir", "hdrlog_logdir")
        mk = os.path.join(H.tmpdir(), "print-dirs.mk")
        with open(mk, "w") as f:
            f.write("print-dirs:\n" + "".join(
                "\t@echo '%s=$(%s)'\n" % (n, n) for n in names))
        r = make("-f", "Makefile", "-f", mk, "print-dirs")
        assert r.returncode == 0, r.stdout
        T["dirs"] = dict(line.split("=", 1) for line in r.stdout.split("\n")
                         if "=" in line)
    return T["dirs"]


def destdir():
    """A DESTDIR with `make install` done in it (once)."""
    if "destdir" not in T:
        d = os.path.join(H.tmpdir(), "destdir")
        r = make("install", "DESTDIR=" + d)
        assert r.returncode == 0, "make install failed:\n" + r.stdout
        T["destdir"] = d
    return T["destdir"]


def staged():
    """{path under DESTDIR: mode} for every file and the log directory."""
    d = destdir()
    found = {}
    for root, dirs, files in os.walk(d):
        for name in files + [x for x in dirs
                             if os.path.join(root, x) ==
                             d + install_dirs()["hdrlog_logdir"]]:
            p = os.path.join(root, name)
            found[p[len(d):]] = stat.S_IMODE(os.lstat(p).st_mode)
    return found


def expected_files():
    v = install_dirs()
    want = {
        v["sbindir"] + "/hdrlog": 0o755,
        v["mandir"] + "/man8/hdrlog.8": 0o644,
        v["mandir"] + "/man5/hdrlog.conf.5": 0o644,
        # No secrets in it (list paths, output targets), and the units
        # read it as root: world-readable as rsyslog.conf is.
        v["sysconfdir"] + "/hdrlog/hdrlog.conf": 0o644,
        # Records name hosts and processes.
        v["hdrlog_logdir"]: 0o750,
    }
    if v.get("systemdsystemunitdir"):
        want[v["systemdsystemunitdir"] + "/hdrlog.service"] = 0o644
        want[v["systemdsystemunitdir"] + "/hdrlog@.service"] = 0o644
    if v.get("logrotatedir"):
        want[v["logrotatedir"] + "/hdrlog"] = 0o644
    return want


def show_modes(files):
    return "\n".join("%04o %s" % (m, p) for p, m in sorted(files.items()))


@tap.case("make install DESTDIR= stages exactly the binary, man pages, "
          "config, units, logrotate snippet and a 0750 log directory")
def _():
    got, want = staged(), expected_files()
    assert got == want, "staged:\n%s\nexpected:\n%s" % (
        show_modes(got), show_modes(want))
    logdir = destdir() + install_dirs()["hdrlog_logdir"]
    assert os.listdir(logdir) == [], os.listdir(logdir)
    with open(destdir() + install_dirs()["sysconfdir"] +
              "/hdrlog/hdrlog.conf") as f, open(EXAMPLE_CONF) as g:
        assert f.read() == g.read(), "the installed config is not the example"


@tap.case("a second make install keeps an edited config; make uninstall "
          "removes everything else")
def _():
    d = os.path.join(H.tmpdir(), "destdir2")
    conf = d + install_dirs()["sysconfdir"] + "/hdrlog/hdrlog.conf"
    r = make("install", "DESTDIR=" + d)
    assert r.returncode == 0, r.stdout
    with open(conf, "a") as f:
        f.write("sample = 10\n")
    r = make("install", "DESTDIR=" + d)
    assert r.returncode == 0, r.stdout
    with open(conf) as f:
        assert f.read().endswith("sample = 10\n"), \
            "make install overwrote an edited config"
    assert "keeping" in r.stdout, r.stdout
    r = make("uninstall", "DESTDIR=" + d)
    assert r.returncode == 0, r.stdout
    left = [os.path.join(root, x)[len(d):]
            for root, _, files in os.walk(d) for x in files]
    assert left == [conf[len(d):]], "after uninstall: %s" % left


def verify_copy(unit, name):
    """The installed unit as name in a scratch directory, its binary the
    staged one (systemd-analyze verify checks that it exists)."""
    v = install_dirs()
    with open(destdir() + v["systemdsystemunitdir"] + "/" + unit) as f:
        text = f.read()
    assert v["sbindir"] + "/hdrlog " in text, text
    text = text.replace(v["sbindir"] + "/hdrlog ",
                        destdir() + v["sbindir"] + "/hdrlog ")
    d = os.path.join(H.tmpdir(), "verify")
    os.makedirs(d, exist_ok=True)
    p = os.path.join(d, name)
    with open(p, "w") as f:
        f.write(text)
    return p


@tap.case("systemd-analyze verify accepts the installed units without a "
          "warning")
def _():
    analyze = H.need("systemd-analyze")
    if not install_dirs().get("systemdsystemunitdir"):
        raise H.Skip("configured --without-systemdsystemunitdir")
    units = [verify_copy("hdrlog.service", "hdrlog.service"),
             verify_copy("hdrlog@.service", "hdrlog@%s.service" % H.dev())]
    # Documentation= is checked with man: find the staged pages.
    env = dict(os.environ, MANPATH=destdir() + install_dirs()["mandir"])
    r = subprocess.run([analyze, "verify"] + units, env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=60)
    # verify exits 0 after an unknown key or a bad value: any word counts.
    assert r.returncode == 0 and not r.stdout.strip(), r.stdout


@tap.case("systemd-analyze security rates both units OK or better")
def _():
    analyze = H.need("systemd-analyze")
    for unit in ("hdrlog.service", "hdrlog@.service"):
        r = subprocess.run([analyze, "security", "--offline=yes",
                            os.path.join(UNIT_DIR, unit)],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=60)
        if "--offline" in r.stdout and "unrecognized" in r.stdout:
            raise H.Skip("this systemd-analyze has no --offline")
        m = re.search(r"Overall exposure level for \S+: ([\d.]+) (\S+)",
                      r.stdout)
        assert m, r.stdout
        H.diag("%s: %s %s" % (unit, m.group(1), m.group(2)))
        # systemd's bands: < 4.0 is OK, < 2.0 SAFE, < 1.0 PERFECT.
        assert m.group(2) in ("OK", "SAFE", "PERFECT"), r.stdout


def long_options():
    r = H.run([H.HDRLOG, "--help"])
    names = re.findall(r"^\s+(?:-\w, )?--([a-z][a-z0-9-]*)", r.stdout,
                       re.MULTILINE)
    assert len(names) > 20, r.stdout
    return names


def config_only_test(name):
    """hdrlog's verdict on name as a config key: True if it takes it,
    False if it is for the command line only. A second, unknown key makes
    every file an error, so nothing ever runs."""
    p = H.path("key-%s.conf" % name)
    with open(p, "w") as f:
        f.write("%s = 1\nno-such-key-here = 1\n" % name)
    r = H.run_hdrlog(H.topo().ns_a, ["--config", p, "-i", H.dev()])
    assert r.returncode == 2, (name, r.returncode, r.stderr)
    if "not an option for a config file" in r.stderr:
        return False
    assert re.search(r":[12]: ", r.stderr), (name, r.stderr)
    return True


def man_section(text, section):
    m = re.search(r"^\.SH %s\n(.*?)^\.SH " % section, text,
                  re.MULTILINE | re.DOTALL)
    assert m, "no section %s in %s" % (section, CONF_MAN)
    return m.group(1).replace("\\-", "-")


@tap.case("every long option of --help is a key in hdrlog.conf(5) and in "
          "the example config, or named there as command-line only")
def _():
    with open(CONF_MAN) as f:
        keys_section = man_section(f.read(), "KEYS")
    with open(EXAMPLE_CONF) as f:
        example_keys = set(re.findall(r"^#?([a-z][a-z0-9-]*) = ", f.read(),
                                      re.MULTILINE))
    cmdline_only = re.search(r"^(.*)\nact on the command only",
                             keys_section, re.MULTILINE | re.DOTALL)
    assert cmdline_only, "no command-line-only paragraph in KEYS"
    last_para = cmdline_only.group(1).split(".PP")[-1]
    problems = []
    for name in long_options():
        word = r"(?<![\w-])%s(?![\w-])" % re.escape(name)
        if config_only_test(name):
            if not re.search(word, keys_section):
                problems.append("%s: not in hdrlog.conf(5) KEYS" % name)
            if name not in example_keys:
                problems.append("%s: no '%s = ' line in %s" %
                                (name, name, EXAMPLE_CONF))
        else:
            if not re.search(word, last_para):
                problems.append("%s: command-line only, but hdrlog.conf(5) "
                                "does not say so" % name)
            if name in example_keys:
                problems.append("%s: command-line only, but a key in the "
                                "example config" % name)
    stale = example_keys - set(long_options())
    problems += ["%s: in the example config, not an option" % k
                 for k in sorted(stale)]
    assert not problems, "\n".join(problems)


def scratch_config(text, name):
    """text with /var/log/hdrlog made a scratch directory; (path, logdir)."""
    logdir = os.path.join(H.tmpdir(), "log-" + name)
    os.makedirs(logdir, mode=0o750, exist_ok=True)
    p = H.path(name + ".conf")
    with open(p, "w") as f:
        f.write(text.replace(LOGDIR + "/", logdir + "/"))
    return p, logdir


def ping_from_b(n=3):
    """Ping A from B; True when every echo was answered (nothing dropped)."""
    ip = H.pair().a_ip4.split("/")[0]
    r = subprocess.run(H.ns_exec(H.topo().ns_b, [
        "ping", "-n", "-q", "-c", str(n), "-i", "0.2", "-W", "5", ip]),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        timeout=60)
    return r.returncode == 0, r.stdout


def records(path):
    with open(path) as f:
        return [json.loads(x) for x in f if x.strip()]


@tap.case("the example config starts as it is: the default route's "
          "interface, JSON lines 0640 in the log directory, nothing dropped")
def _():
    with open(EXAMPLE_CONF) as f:
        p, logdir = scratch_config(f.read(), "example")
    out = os.path.join(logdir, "hdrlog.json")
    with H.Hdrlog(H.topo().ns_a, ["--config", p]) as h:
        assert H.dev() in h.err.text(), h.err.text()
        ok, text = ping_from_b()
        assert ok, "pings through hdrlog were lost:\n" + text
        h.wait_written(["json:" + out], 3)
        assert h.stop() == 0, h.stderr()
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o640, \
        "%o" % os.stat(out).st_mode
    recs = records(out)
    icmp = [r for r in recs if r.get("proto") == "ICMP"]
    assert len(icmp) >= 3, recs
    assert all(r["in_iface"] == H.dev() for r in recs), recs
    assert not any("action" in r or "would_drop" in r for r in recs), recs


@tap.case("hdrlog --check accepts the example config once its log "
          "directory exists, and says so when it does not")
def _():
    with open(EXAMPLE_CONF) as f:
        text = f.read()
    conf, logdir = scratch_config(text, "check")
    r = H.run_hdrlog(H.topo().ns_a, ["--config", conf, "--check"])
    assert r.returncode == 0, H.show(r)
    assert logdir + "/hdrlog.json" in r.stdout, H.show(r)
    assert not os.listdir(logdir), "--check created %s" % os.listdir(logdir)
    os.rmdir(logdir)
    r = H.run_hdrlog(H.topo().ns_a, ["--config", conf, "--check"])
    assert r.returncode == 2, H.show(r)
    assert "the directory %s: No such file" % logdir in r.stderr, H.show(r)
    assert not H.topo().xdp_attached()[0], "--check attached a program"


@tap.case("logrotate with the shipped snippet: JSON files rotated and "
          "reopened, no record lost or doubled, capture files left alone")
def _():
    logrotate = shutil.which("logrotate") or "/usr/sbin/logrotate"
    if not os.access(logrotate, os.X_OK):
        raise H.Skip("logrotate not installed")
    snippet = os.path.join(SRCDIR, "packaging", "logrotate", "hdrlog")
    with open(snippet) as f:
        text = f.read()
    # As shipped it must parse (-d: nothing is done).
    r = subprocess.run([logrotate, "-d", "-s", H.path("lr-d.state"),
                        snippet], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=60)
    assert r.returncode == 0 and "error" not in r.stdout.lower(), r.stdout
    with open(EXAMPLE_CONF) as f:
        p, logdir = scratch_config(f.read(), "rotate")
    out = os.path.join(logdir, "hdrlog.json")
    capture = os.path.join(logdir, "capture.pcap")
    with H.Hdrlog(H.topo().ns_a, ["--config", p, "-o", "json:" + out,
                                  "-w", capture]) as h:
        ok, text2 = ping_from_b()
        assert ok, text2
        h.wait_written(["json:" + out], 3)
        # The unit's reload is what postrotate runs; here, the same SIGHUP.
        script = re.sub(r"(?s)postrotate\n.*?endscript",
                        "postrotate\n\t\tkill -HUP %d\n\tendscript" %
                        h.proc.pid, text.replace(LOGDIR + "/", logdir + "/"))
        conf = H.path("logrotate.conf")
        with open(conf, "w") as f:
            f.write(script)
        r = subprocess.run([logrotate, "-f", "-s", H.path("lr.state"), conf],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=60)
        assert r.returncode == 0, r.stdout
        h.summary_now()        # after the SIGHUP: files reopened
        before = h.output_counts("json:" + out)[0]
        ok, text2 = ping_from_b()
        assert ok, text2
        h.wait_written(["json:" + out], before + 3)
        assert h.stop() == 0, h.stderr()
    written, lost = h.output_counts("json:" + out)
    old, new = records(out + ".1"), records(out)
    assert lost == 0 and len(old) + len(new) == written, \
        (written, lost, len(old), len(new))
    assert len(old) >= 3 and len([r for r in new if r.get("proto") ==
                                  "ICMP"]) >= 3, (old, new)
    assert len({json.dumps(r, sort_keys=True) for r in old + new}) == \
        written, "a record in both files"
    assert sorted(os.listdir(logdir)) == sorted([
        "hdrlog.json", "hdrlog.json.1", "capture.pcap"]), os.listdir(logdir)


def unit_setting(key, unit="hdrlog.service"):
    """The words of a [Service] setting of a built unit (lines joined)."""
    words = []
    with open(os.path.join(UNIT_DIR, unit)) as f:
        for line in f:
            if line.startswith(key + "="):
                words += line.split("=", 1)[1].split()
    return words


@tap.case("as the units run it (root with only their capability bounding "
          "set, ambient capabilities, no new privileges, umask 0027): "
          "packets and socket events are logged, files 0640")
def _():
    setpriv = shutil.which("setpriv") or "/usr/bin/setpriv"
    bounding = unit_setting("CapabilityBoundingSet")
    assert sorted(bounding) == sorted(unit_setting("AmbientCapabilities")) \
        == ["CAP_BPF", "CAP_NET_ADMIN", "CAP_PERFMON"], bounding
    assert unit_setting("UMask") == ["0027"], unit_setting("UMask")
    caps = ",".join("+" + c[len("CAP_"):].lower() for c in bounding)
    with open(EXAMPLE_CONF) as f:
        p, logdir = scratch_config(f.read(), "caps")
    out = os.path.join(logdir, "hdrlog.json")
    prefix = [setpriv, "--bounding-set=-all," + caps, "--inh-caps=-all," +
              caps, "--ambient-caps=-all," + caps, "--no-new-privs",
              "/bin/sh", "-c", 'umask 0027 && exec "$0" "$@"']
    with H.Hdrlog(H.topo().ns_a, ["--config", p, "--socket-events"],
                  prefix=prefix) as h:
        ok, text = ping_from_b()
        assert ok, text
        h.wait_written(["json:" + out], 3)
        # A UDP send from namespace A: a socket event (udp_send).
        u = H.ns_socket(H.topo().ns_a, socket.AF_INET, socket.SOCK_DGRAM)
        u.sendto(b"hdrlog", (H.pair().b_ip4.split("/")[0], 9))
        u.close()
        assert h.stop(signal.SIGTERM) == 0, h.stderr()
    # A stop drains every record the kernel took (hdrlog(8) EXIT STATUS).
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o640
    recs = records(out)
    assert [r for r in recs if r.get("proto") == "ICMP"], recs
    assert [r for r in recs if r["event_type"] == "socket" and
            r.get("dest_port") == 9], recs


@tap.case("every system call hdrlog makes (packets, flows, socket events, "
          "every output, SIGHUP, SIGUSR1, stop) is in the units' "
          "SystemCallFilter")
def _():
    H.need("systemd-analyze")
    H.need("strace")
    allowed = H.unit_syscall_filter(os.path.join(UNIT_DIR, "hdrlog.service"))
    assert {"bpf", "read", "openat"} <= allowed, sorted(allowed)
    trace = H.path("strace.txt")
    b4 = H.pair().b_ip4.split("/")[0]
    args = ["-i", H.dev(), "--socket-events", "--log", "packets,flows",
            "-o", "json:" + H.path("sc.json"),
            "-o", "pcapng:" + H.path("sc.pcapng"), "-o", "journal",
            "-o", "syslog:udp://%s:514" % b4,
            "-o", "kafka://%s:9092/t" % b4,     # librdkafka's threads too
            "-o", "syslog:relp://%s:2514" % b4,    # its thread, librelp
            "-o", "ipfix://%s:4739" % b4,      # its sender thread, at exit
            "--taglist", "t=" + H.write_list("sc-tag.txt", [b4 + "/32"])]
    with H.Hdrlog(H.topo().ns_a, args, prefix=H.strace_prefix(trace)) as h:
        ok, text = ping_from_b()
        assert ok, text
        h.wait_written(["json:" + H.path("sc.json")], 3)
        h.hup()
        # The Kafka output waits up to 5 s at exit for a broker that is not
        # there, and strace slows every call: more than stop's usual 10 s
        # on a loaded machine.
        t0 = time.monotonic()
        assert h.stop(signal.SIGTERM, timeout=60) == 0, h.stderr()
        H.diag("stopped in %.1f s" % (time.monotonic() - t0))
    made = H.strace_calls(H.strace_text(trace, h.proc.pid))
    assert {"bpf", "openat"} <= made, sorted(made)
    # the metrics (issue 12): stats records, the file, a loopback listener
    H.run([H.IP, "-n", H.topo().ns_a, "link", "set", "lo", "up"])
    port = 19469 + os.getpid() % 1000
    for where in (H.path("sc.prom"), "127.0.0.1:%d" % port):
        trace = H.path("strace-metrics.txt")
        out = H.path("sc-metrics.json")
        with H.Hdrlog(H.topo().ns_a, ["-i", H.dev(), "-o", "json:" + out,
                                      "--stats-interval", "1",
                                      "--metrics", where],
                      prefix=H.strace_prefix(trace)) as h:
            H.wait_until(lambda: any(r["event_type"] == "stats"
                                     for r in H.read_json_lines(out)),
                         "a stats record", 15)
            if ":" in where:
                c = H.ns_socket(H.topo().ns_a, socket.AF_INET,
                                socket.SOCK_STREAM)
                c.settimeout(10)
                c.connect(("127.0.0.1", port))
                c.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
                assert c.recv(12) == b"HTTP/1.1 200", where
                c.close()
            assert h.stop(signal.SIGTERM) == 0, h.stderr()
        made |= set(re.findall(r"^\d+\s+(?:<\.\.\. )?([a-z_0-9]+)[( ]",
                               H.strace_text(trace, h.proc.pid), re.MULTILINE))
    assert {"listen", "accept4", "rename"} <= made, sorted(made)
    H.diag("hdrlog made %d distinct system calls" % len(made))
    # execve starts hdrlog itself, before systemd's filter would apply.
    missing = sorted(made - allowed - {"execve"})
    assert not missing, "hdrlog calls what the unit forbids: %s" % missing


def template_command():
    """hdrlog@IFACE.service's ExecStart as argv for H.Hdrlog (prefix,
    args), with its paths moved to scratch directories."""
    with open(os.path.join(UNIT_DIR, "hdrlog@.service")) as f:
        line = [x for x in f if x.startswith("ExecStart=")]
    assert len(line) == 1, line
    etc = os.path.join(H.tmpdir(), "etc")
    os.makedirs(etc, exist_ok=True)
    v = install_dirs()
    cmd = line[0][len("ExecStart="):].strip()
    # systemd's $$ and %i; then the same quoting as sh's.
    cmd = cmd.replace("$$", "$").replace("%i", H.dev())
    argv = shlex.split(cmd)
    argv = [a.replace(v["sysconfdir"] + "/hdrlog/", etc + "/")
             .replace(LOGDIR + "/", os.path.join(H.tmpdir(), "tlog") + "/")
            for a in argv]
    hdrlog = v["sbindir"] + "/hdrlog"
    assert hdrlog in argv, argv
    i = argv.index(hdrlog)
    os.makedirs(os.path.join(H.tmpdir(), "tlog"), exist_ok=True)
    return argv[:i], argv[i + 1:], etc, os.path.join(H.tmpdir(), "tlog")


@tap.case("template unit: the instance's file without an output: records "
          "in /var/log/hdrlog/IFACE.json; with one: there, and no IFACE.json")
def _():
    prefix, args, etc, tlog = template_command()
    conf = os.path.join(etc, H.dev() + ".conf")
    default_out = os.path.join(tlog, H.dev() + ".json")
    own_out = os.path.join(tlog, "own.json")
    # An interface line of the file loses to the unit's --interface.
    for body, out in (("interface = no-such-if0\ncount = 3\n", default_out),
                      ("count = 3\noutput = json:%s\n" % own_out, own_out)):
        with open(conf, "w") as f:
            f.write(body)
        h = H.Hdrlog(H.topo().ns_a, args, prefix=prefix).start()
        try:
            ok, text = ping_from_b(4)
            assert ok, text
            assert h.wait(20) == 0, h.stderr()
        finally:
            h.kill()
        assert len(records(out)) == 3, (body, records(out))
        assert {r["in_iface"] for r in records(out)} == {H.dev()}
    assert sorted(os.listdir(tlog)) == sorted(
        [os.path.basename(default_out), "own.json"]), os.listdir(tlog)


def setup(t):
    # The example config names no interface: hdrlog takes the default
    # route's, which in namespace A is the test veth.
    H.run([H.IP, "-n", t.ns_a, "route", "add", "default", "via",
           t.pairs[0].b_ip4.split("/")[0]])


H.main(lambda: sys.exit(1 if H.run_tap(tap, setup=setup,
                                       need=("make", "ping")) else 0))
