#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""
The privileges the man page names, and no others: hdrlog started as an
unprivileged user (nobody) whose only capabilities are ambient ones given
by setpriv, inside the test namespace, on the test veth.

- CAP_BPF + CAP_PERFMON + CAP_NET_ADMIN: starts, logs records, and a block
  list drops (lists, XDP and ring buffer all work).
- Any one of the three missing: exit 1 with the one documented line that
  names what is missing; no verifier log, nothing left attached.
- Socket events alone: CAP_BPF + CAP_PERFMON start; without CAP_PERFMON the
  socket-events line.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hdrlogtest as H  # noqa: E402

tap = H.Tap()
T = {}
SETPRIV = shutil.which("setpriv") or "/usr/bin/setpriv"
PACKETS_MSG = ("permission denied: capturing needs root, or CAP_BPF, "
               "CAP_PERFMON and CAP_NET_ADMIN (missing: %s)")
SOCKETS_MSG = ("permission denied: socket events need root, or CAP_BPF "
               "and CAP_PERFMON (missing: %s)")
# What a verifier log or a libbpf dump would show.
DUMP_RE = re.compile(r"processed \d+ insns|BEGIN PROG LOAD LOG|libbpf:|"
                     r"^R\d|verifier", re.MULTILINE)
B4 = "198.51.100.2"


def as_nobody(caps):
    """setpriv: user nobody, no groups, exactly caps (ambient)."""
    c = ",".join("+" + x for x in caps) if caps else "-all"
    return [SETPRIV, "--reuid=nobody", "--regid=nogroup", "--clear-groups",
            "--inh-caps=" + c, "--ambient-caps=" + c]


def workdir():
    """A directory nobody can read and write, holding a copy of hdrlog
    (the build tree's path may not be open to nobody)."""
    if "dir" not in T:
        d = tempfile.mkdtemp(prefix="hdrlog-priv-")
        H.on_cleanup(lambda: shutil.rmtree(d, ignore_errors=True))
        os.chmod(d, 0o777)
        shutil.copy(H.HDRLOG, os.path.join(d, "hdrlog"))
        os.chmod(os.path.join(d, "hdrlog"), 0o755)
        T["dir"] = d
    return T["dir"]


def hdrlog_cmd():
    return os.path.join(workdir(), "hdrlog")


def run_as(caps, args, timeout=15):
    cmd = H.ns_exec(H.topo().ns_a, as_nobody(caps) + [hdrlog_cmd()] + args)
    return subprocess.run(cmd, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=timeout)


def blocklist():
    p = os.path.join(workdir(), "block.txt")
    with open(p, "w") as f:
        f.write(B4 + "/32\n")
    os.chmod(p, 0o644)
    return p


@tap.case("CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN, as nobody: starts, logs "
          "records, the block list drops")
def _():
    out = os.path.join(workdir(), "ok.json")
    p = H.topo().pairs[0]
    h = H.Hdrlog(H.topo().ns_a, ["-i", p.a, "-o", "json:" + out,
                                 "--blocklist", blocklist()],
                 prefix=as_nobody(["bpf", "perfmon", "net_admin"]))
    h.cmd[h.cmd.index(H.HDRLOG)] = hdrlog_cmd()
    with h:
        frames = [H.udp_frame("02:1c:00:00:00:%02x" % i, dst_mac=p.a_mac,
                              src_ip=B4 if i % 2 else "192.0.2.1", ip_id=i)
                  for i in range(1, 11)]
        H.topo().send(frames)
        recs = H.wait_records(out, lambda r: len(r) >= 10, 10, proc=h.proc)
        rc = h.stop()
    assert rc == 0, "exit %s: %s" % (rc, h.stderr())
    acts = sorted((r.get("src_ip"), r.get("action")) for r in recs)
    assert acts == sorted([(B4, "drop")] * 5 + [("192.0.2.1", "pass")] * 5), \
        "records %s; stderr %s" % (acts, h.stderr())


def missing_case(missing):
    def run_case():
        caps = [c for c in ("bpf", "perfmon", "net_admin") if c != missing]
        dev = H.topo().pairs[0].a
        r = run_as(caps, ["-i", dev, "-o", "json:" + os.path.join(
            workdir(), "no.json"), "--blocklist", blocklist()])
        want = PACKETS_MSG % ("CAP_" + missing.upper())
        assert r.returncode == 1, H.show(r)
        assert ("hdrlog: " + want) in r.stderr.splitlines(), \
            "no line %r:\n%s" % (want, H.show(r))
        assert not DUMP_RE.search(r.stderr), H.show(r)
        on, text = H.topo().xdp_attached(dev)
        assert not on, "XDP left attached: %s" % text
    return run_case


for cap in ("bpf", "perfmon", "net_admin"):
    tap.add("without CAP_%s: exit 1 with the documented line naming it, "
            "no verifier dump" % cap.upper(), missing_case(cap))


@tap.case("socket events alone: CAP_BPF and CAP_PERFMON start; without "
          "CAP_PERFMON the documented line")
def _():
    out = os.path.join(workdir(), "sock.json")
    h = H.Hdrlog(H.topo().ns_a, ["--events", "sockets", "-o", "json:" + out],
                 prefix=as_nobody(["bpf", "perfmon"]))
    h.cmd[h.cmd.index(H.HDRLOG)] = hdrlog_cmd()
    h.start(wait=False)
    try:
        up = h.err.wait_for(r"listening to socket events", 15)
        rc = h.stop()
    finally:
        h.kill()
    assert up and rc == 0, "exit %s: %s" % (rc, h.stderr())
    r = run_as(["bpf"], ["--events", "sockets", "-o", "json:" + out])
    want = SOCKETS_MSG % "CAP_PERFMON"
    assert r.returncode == 1 and ("hdrlog: " + want) in \
        r.stderr.splitlines(), "no line %r:\n%s" % (want, H.show(r))
    assert not DUMP_RE.search(r.stderr), H.show(r)


@tap.case("bpf() refused outright (as a container's seccomp filter does): "
          "one line saying so, not 'no ring buffer', exit 1, nothing attached")
def _():
    strace = H.need("strace")
    p = H.topo().pairs[0]
    # strace's fault injection stands in for the filter: every bpf() of
    # hdrlog fails with EPERM, as systemd-nspawn's default filter makes it
    r = subprocess.run(H.ns_exec(H.topo().ns_a, [
        strace, "-f", "-qq", "-o", "/dev/null", "-e", "trace=bpf",
        "-e", "inject=bpf:error=EPERM", H.HDRLOG, "-i", p.a, "-c", "1"]),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, timeout=30)
    want = "hdrlog: the kernel refused bpf(): Operation not permitted"
    assert r.returncode == 1 and any(
        line.startswith(want) for line in r.stderr.splitlines()), H.show(r)
    assert "ring buffer" not in r.stderr, H.show(r)
    attached, text = H.topo().xdp_attached()
    assert not attached, text


def body():
    H.run_tap(tap, need=(SETPRIV,))


if __name__ == "__main__":
    H.main(body)
