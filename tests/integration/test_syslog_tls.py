#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""
The syslog output over TLS (RFC 5425) against a real rsyslogd with its
GnuTLS driver (rsyslog-gnutls: imtcp with StreamDriver gtls, mode 1):
test_syslog.py's own rsyslogd in namespace A, with TLS inputs added on
loopback there. certtool makes the certificates in the scratch directory:
a CA, the receiver's certificate (for syslog.test and 127.0.0.1, not
::1), a client certificate from the same CA, and a second CA that signed
nothing hdrlog meets.

Records read back are compared with the JSON records of the same run
(test_syslog.check5424), hdrlog's counts with what arrived, and what
crossed loopback (tcpdump, read by tshark) with the records: TLS traffic
never carries them in clear, while the plain TCP output beside it does
(so the search would find them).
"""
import glob
import os
import re
import shutil
import signal
import socket
import ssl
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hdrlogtest as H  # noqa: E402
from hdrlogtest import count_re, fresh, hdrlog  # noqa: E402
import test_syslog as TS  # noqa: E402  (its rsyslogd and checks)

tap = H.Tap()
T = {}
CERTTOOL = shutil.which("certtool") or "/usr/bin/certtool"
TSHARK = shutil.which("tshark") or "/usr/bin/tshark"
TLS_PORT = 6514         # RFC 5425's, hdrlog's default: "anon" inputs
X509_PORT = 6515        # asks for a client certificate from the CA
NAME_PORT = 6516        # and checks its name: one hdrlog's has not
TCP_PORT = 16514        # plain TCP (test_syslog's inputs), for comparison
LO4 = "127.0.0.1"
# rsyslog's GnuTLS driver (Debian's rsyslog-gnutls)
GTLS = (glob.glob("/usr/lib/*/rsyslog/lmnsd_gtls.so") +
        glob.glob("/usr/lib*/rsyslog/lmnsd_gtls.so") + [None])[0]

# --------------------------------------------------------------------------
# certificates
# --------------------------------------------------------------------------

def certtool(*args):
    H.run([CERTTOOL] + list(args))


def template(name, text):
    p = H.path(name + ".tmpl")
    with open(p, "w") as f:
        f.write(text + "expiration_days = 2\n")
    return p


def make_ca(name):
    key, pem = H.path(name + ".key"), H.path(name + ".pem")
    certtool("--generate-privkey", "--key-type=ecdsa", "--outfile", key)
    certtool("--generate-self-signed", "--load-privkey", key, "--template",
             template(name, 'cn = "hdrlog test %s"\nca\ncert_signing_key\n'
                      % name), "--outfile", pem)
    return key, pem


def make_cert(name, ca, text):
    key, pem = H.path(name + ".key"), H.path(name + ".pem")
    certtool("--generate-privkey", "--key-type=ecdsa", "--outfile", key)
    certtool("--generate-certificate", "--load-privkey", key,
             "--load-ca-certificate", ca[1], "--load-ca-privkey", ca[0],
             "--template", template(name, text), "--outfile", pem)
    return key, pem


def certs():
    """{ca, ca2, server, server_key, client, client_key}: paths."""
    if not T.get("certs"):
        ca, ca2 = make_ca("ca"), make_ca("ca2")
        srv = make_cert("server", ca, 'cn = "syslog.test"\n'
                        'dns_name = "syslog.test"\nip_address = "127.0.0.1"\n'
                        "tls_www_server\nsigning_key\nencryption_key\n")
        cli = make_cert("client", ca, 'cn = "hdrlog.test"\n'
                        'dns_name = "hdrlog.test"\ntls_www_client\n'
                        "signing_key\n")
        T["certs"] = {"ca": ca[1], "ca2": ca2[1], "server": srv[1],
                      "server_key": srv[0], "client": cli[1],
                      "client_key": cli[0]}
    return T["certs"]


# --------------------------------------------------------------------------
# the receiver
# --------------------------------------------------------------------------

class TlsRsyslog(TS.Rsyslog):
    """test_syslog's rsyslogd (plain TCP on TCP_PORT) with TLS inputs: tls
    and tls6 (server certificate only), x509 (a client's too), x509name
    (and a name hdrlog's certificate does not have)."""

    def __init__(self, name):
        c = certs()

        def tls(auth, peers=()):
            return H.rsyslog_tls(c["ca"], c["server"], c["server_key"],
                                 auth, peers)

        super().__init__(name, port=TCP_PORT, more=[
            ("tls", "tcp", LO4, TLS_PORT, tls("anon")),
            ("tls6", "tcp", "::1", TLS_PORT, tls("anon")),
            ("x509", "tcp", LO4, X509_PORT, tls("x509/certvalid")),
            ("x509name", "tcp", LO4, NAME_PORT,
             tls("x509/name", ["nobody.test"]))])


def tls_args(*extra, ca="ca"):
    return ["--tls-ca", certs()[ca]] + list(extra)


def outputs_args(out, targets):
    args = ["-o", "json:" + out]
    for t in targets:
        args += ["-o", "syslog:" + t]
    return args


# --------------------------------------------------------------------------
# the wire
# --------------------------------------------------------------------------

def capture(pcap):
    """tcpdump on A's loopback, whole segments (records are found in any
    part of them)."""
    return H.Tcpdump(H.topo().ns_a, "lo", pcap, snaplen=0)


def payloads(pcap, port):
    """The TCP payload bytes to or from port in pcap, one per segment."""
    r = H.run([TSHARK, "-r", pcap, "-Y", "tcp.port == %d && tcp.len > 0"
               % port, "-T", "fields", "-e", "tcp.payload"], timeout=60)
    return [bytes.fromhex(x.replace(":", "")) for x in r.stdout.split()]


def connection_attempts(pcap, port):
    r = H.run([TSHARK, "-r", pcap, "-Y", "tcp.dstport == %d && "
               "tcp.flags.syn == 1 && tcp.flags.ack == 0" % port,
               "-T", "fields", "-e", "frame.number"], timeout=60)
    return len(r.stdout.split())


# What any record's message has in clear: its SD-ID and JSON keys.
CLEAR_MARKS = (TS.SD_ID.encode(), b'"event_type"', b'"src_mac"')


def clear(segments):
    return [m for m in CLEAR_MARKS if any(m in s for s in segments)]


def assert_encrypted(pcap, tls_port, tcp_port=None):
    """TLS's segments carry no record in clear; the plain TCP output's
    (tcp_port), in the same capture, show the search finds them."""
    tls = payloads(pcap, tls_port)
    assert not clear(tls), "in clear on port %d: %s" % (tls_port, clear(tls))
    if tcp_port:
        plain = payloads(pcap, tcp_port)
        assert clear(plain) == list(CLEAR_MARKS), \
            "the plain TCP output's records were not found in the capture"
    return tls


# --------------------------------------------------------------------------
# cases
# --------------------------------------------------------------------------

@tap.case("records over TLS (default port 6514) arrive whole and equal the "
          "JSON records; on the wire none is in clear (plain TCP beside "
          "it: in clear)")
def tls_records():
    pcap = H.path("t1.pcap")
    with TlsRsyslog("t1") as rs, capture(pcap) as td:
        targets = {"tls": "tls://" + LO4,
                   "tcp": "tcp://%s:%d" % (LO4, TCP_PORT)}
        lines, h = TS.run_simple(rs, "t1", targets, tls_args(), n=25)
        td.stop()
    for name in targets:
        TS.check5424(rs.messages(name), lines, h.proc.pid, where=name)
    outs = TS.outputs(h)
    for t in targets.values():
        assert outs["syslog:" + t] == (len(lines), 0, 0), (t, outs)
    tls = assert_encrypted(pcap, TLS_PORT, TCP_PORT)
    assert sum(map(len, tls)) > sum(map(len, lines)), \
        "less TLS traffic than the records' bytes"
    assert not re.search(r"warning|error", h.stderr()), h.stderr()


def refused_run(name, target, extra, n=10, pcap=None):
    """hdrlog to a TLS target that refuses it, plain TCP beside it; n
    frames. (h, stderr warning lines about target)."""
    out = fresh(name + ".json")
    tcp = "tcp://%s:%d" % (LO4, TCP_PORT)
    h = hdrlog(outputs_args(out, [target, tcp]) + list(extra))
    with h:
        assert h.err.wait_for(r"syslog %s: TLS" % re.escape(target), 10), \
            h.stderr()
        H.topo().send(TS.frames(n))
        assert len(H.wait_json(out, n)) == n
        if pcap:
            # retried with back-off: a few attempts, each refused
            H.wait_until(lambda: connection_attempts(pcap, TLS_PORT) >= 3,
                         lambda: "3 attempts; stderr:\n" + h.stderr(), 10,
                         pause=0.2)
        h.stop()
    outs = TS.outputs(h)
    assert outs["syslog:" + target] == (0, n, 0), (outs, h.stderr())
    assert outs["syslog:" + tcp] == (n, 0, 0), outs
    said = [x for x in h.stderr().splitlines()
            if "syslog %s:" % target in x]
    return h, said


@tap.case("a certificate from another CA is refused, saying why; retried "
          "with back-off; the records are counted lost and nothing is "
          "sent, in clear or at all")
def wrong_ca():
    pcap = H.path("t2.pcap")
    target = "tls://" + LO4
    with TlsRsyslog("t2") as rs, capture(pcap) as td:
        h, said = refused_run("t2", target, tls_args(ca="ca2"), pcap=pcap)
        td.stop()
        assert rs.wait(10, "tcp")
    assert len(said) == 1, said             # once, not once per attempt
    assert "fails verification: The certificate is NOT trusted. The " \
        "certificate issuer is unknown.; queueing" in said[0], said
    assert not rs.messages("tls"), rs.messages("tls")
    assert connection_attempts(pcap, TLS_PORT) >= 3
    assert_encrypted(pcap, TLS_PORT, TCP_PORT)


@tap.case("the receiver's name is verified: an address its certificate "
          "lacks (::1) is refused, naming the mismatch; --tls-server-name "
          "connects by address to the named certificate")
def server_name():
    target = "tls://[::1]"
    with TlsRsyslog("t3") as rs:
        h, said = refused_run("t3", target, tls_args())
        assert len(said) == 1 and "for '::1' fails verification: The " \
            "certificate is NOT trusted. The name in the certificate does " \
            "not match the expected." in said[0], said
        h, said = refused_run("t3b", target,
                              tls_args("--tls-server-name", "hdrlog.test"))
        assert len(said) == 1 and "for 'hdrlog.test' fails" in said[0], said
        assert not rs.messages("tls6")
        lines, h = TS.run_simple(rs, "t3c", {"tls6": target}, tls_args(
            "--tls-server-name", "syslog.test"), n=10)
    TS.check5424(rs.messages("tls6"), lines, h.proc.pid, where="tls6")
    assert TS.outputs(h)["syslog:" + target] == (10, 0, 0)


@tap.case("a receiver that asks for a client certificate (x509/certvalid) "
          "refuses hdrlog without --tls-cert and takes records with it; one "
          "that refuses the certificate's name (x509/name) too: said, "
          "counted lost, nothing sent")
def client_cert():
    target = "tls://%s:%d" % (LO4, X509_PORT)
    c = certs()
    with TlsRsyslog("t4") as rs:
        out = fresh("t4.json")
        with hdrlog(outputs_args(out, [target]) + tls_args()) as h:
            H.topo().send(TS.frames(10))
            H.wait_json(out, 10)
            assert h.err.wait_for(r"syslog %s: TLS" % re.escape(target),
                                  10), h.stderr()
            h.stop()
        written, lost, _ = TS.outputs(h)["syslog:" + target]
        H.diag("without a client certificate: %d written, %d lost: %s" % (
            written, lost, [x for x in h.stderr().splitlines()
                            if "TLS" in x]))
        assert (written, lost) == (0, 10)
        assert "it wants a client certificate (--tls-cert)" in h.stderr()
        assert not rs.messages("x509")
        cert = tls_args("--tls-cert", c["client"], "--tls-key",
                        c["client_key"])
        lines, h = TS.run_simple(rs, "t4b", {"x509": target}, cert, n=10)
        TS.check5424(rs.messages("x509"), lines, h.proc.pid, where="x509")
        assert TS.outputs(h)["syslog:" + target] == (10, 0, 0)
        # rsyslog checks the name after the handshake, and closes
        named = "tls://%s:%d" % (LO4, NAME_PORT)
        h, said = refused_run("t4c", named, cert)
        assert len(said) == 1 and "closed the connection after the " \
            "handshake: it did not take the client certificate" in said[0], \
            said
        assert not rs.messages("x509name")


@tap.case("SIGHUP reads the TLS files again: the right CA put in place of "
          "the wrong one, the queued records arrive")
def hup_renews():
    target = "tls://" + LO4
    ca = H.path("t5-ca.pem")
    shutil.copy(certs()["ca2"], ca)
    with TlsRsyslog("t5") as rs:
        out = fresh("t5.json")
        with hdrlog(outputs_args(out, [target]) + ["--tls-ca", ca]) as h:
            H.topo().send(TS.frames(10))
            H.wait_json(out, 10)
            assert h.err.wait_for(r"issuer is unknown", 10), h.stderr()
            shutil.copy(certs()["ca"], ca)
            h.hup()
            assert h.err.wait_for(r"syslog %s: connected again; 0 records "
                                  r"lost" % re.escape(target), 10), \
                h.stderr()
            H.topo().send(TS.frames(5))
            lines = H.wait_json(out, 15)
            rs.wait(15, "tls")
            h.stop()
    TS.check5424(rs.messages("tls"), lines, h.proc.pid, where="tls")
    assert TS.outputs(h)["syslog:" + target] == (15, 0, 0)


def restart_gaps(h, targets):
    """{target: records lost meanwhile} from the "connected again" lines."""
    gaps = {}
    for t in targets:
        line = h.err.wait_for(r"syslog %s: connected again; \d+ records "
                              r"lost meanwhile" % re.escape(t), 15)
        assert line, h.stderr()
        gaps[t] = int(re.search(r"(\d+) records lost", line).group(1))
    return gaps


def arrived(msgs, lines):
    """(bodies of whole messages, their raw messages, torn pieces) of
    msgs: a piece is what a broken connection cut off a message."""
    whole, raws, torn = [], [], []
    records = set(lines)
    for m in msgs:
        try:
            body = H.parse5424(m["raw"])["msg"]
        except Exception:
            body = None
        if body in records:
            whole.append(body)
            raws.append(m["raw"])
        else:
            torn.append(m["raw"])
    return whole, raws, torn


@tap.case("receiver killed while idle and restarted: TLS as TCP, the queue "
          "overflows, records after the reconnect arrive, and what is "
          "missing is exactly what hdrlog reported lost")
def restart_idle():
    rs = TlsRsyslog("t6")
    targets = {"tls": "tls://" + LO4, "tcp": "tcp://%s:%d" % (LO4, TCP_PORT)}
    out = fresh("t6.json")
    h = hdrlog(outputs_args(out, targets.values()) + tls_args())
    with rs, h:
        first, during, after = (TS.frames(40), TS.frames(8000),
                                TS.frames(40))
        H.topo().send(first)
        for name in targets:
            assert len(rs.wait(len(first), name)) == len(first)
        rs.stop(signal.SIGKILL)
        for t in targets.values():
            assert h.err.wait_for(r"syslog %s: .*reconnecting" %
                                  re.escape(t), 5), h.stderr()
        H.topo().send(during, burst=64)
        H.wait_json(out, len(first) + len(during), 20)
        rs.start()
        gaps = restart_gaps(h, targets.values())
        H.topo().send(after)
        total = len(first) + len(during) + len(after)
        lines = H.wait_json(out, total, 20)
        for name, t in targets.items():
            rs.wait(total - gaps[t], name, 20)
        h.stop()
    assert len(lines) == total
    idx = {x: i for i, x in enumerate(lines)}
    for name, t in targets.items():
        written, lost, _ = TS.outputs(h)["syslog:" + t]
        gap = gaps[t]
        assert gap > 0, "%s: the queue should have overflowed" % name
        assert lost == gap and written == total - gap, (name, written,
                                                         lost, gap)
        whole, _, torn = arrived(rs.messages(name), lines)
        assert not torn, (name, torn[:2])
        assert len(whole) == len(set(whole)) == total - gap, \
            (name, len(whole), len(set(whole)), total - gap)
        missing = sorted(idx[x] for x in lines if x not in set(whole))
        assert missing[0] >= len(first) and \
            missing[-1] < len(first) + len(during), (name, missing[:5])
    H.diag("lost while the receiver was down: %s" % gaps)


@tap.case("receiver killed while records flow: each output says it once and "
          "reconnects; records after the reconnect all arrive, none twice, "
          "a torn one again whole; what is missing beyond the reported "
          "losses was sent before the receiver died (in flight, as TCP's)")
def restart_flowing():
    rs = TlsRsyslog("t7")
    targets = {"tls": "tls://" + LO4, "tcp": "tcp://%s:%d" % (LO4, TCP_PORT)}
    out = fresh("t7.json")
    h = hdrlog(outputs_args(out, targets.values()) + tls_args())
    with rs, h:
        before, after = [], TS.frames(40)
        # bounded: 60 bursts of 50; the receiver dies after the 21st
        for i in range(60):
            fl = TS.frames(50)
            before += fl
            H.topo().send(fl, burst=0)
            if i == 20:
                # reaped: its sockets are closed, hdrlog's got FIN or RST
                rs.stop(signal.SIGKILL)
                killed_at = len(before)
        H.wait_json(out, len(before), 20)
        rs.start()
        gaps = restart_gaps(h, targets.values())
        H.topo().send(after)
        total = len(before) + len(after)
        lines = H.wait_json(out, total, 20)
        for name in targets:
            # everything after the reconnect: wait for the last of them
            H.wait_until(
                lambda: lines[-1] in arrived(rs.messages(name), lines)[0],
                lambda: "%s: the last record; stderr:\n%s" % (
                    name, h.stderr()), 20)
        h.stop()
    assert len(lines) == total
    idx = {x: i for i, x in enumerate(lines)}
    for name, t in targets.items():
        written, lost, _ = TS.outputs(h)["syslog:" + t]
        assert written + lost == total and lost == gaps[t], (name, written,
                                                             lost, gaps)
        assert count_re(h, r"syslog %s: .*reconnecting" %
                           re.escape(t)) == 1, h.stderr()
        whole, raws, torn = arrived(rs.messages(name), lines)
        got = set(whole)
        assert len(whole) == len(got), "%s: a record twice" % name
        assert len(got) <= written, (name, len(got), written)
        for piece in torn:      # cut by the kill: sent again, whole
            assert any(x.startswith(piece) for x in raws), \
                (name, piece[:200])
        assert all(x in got for x in lines[len(before):]), name
        missing = sorted(idx[x] for x in lines if x not in got)
        # captured after the kill: only what the queue could not hold
        late = [i for i in missing if i >= killed_at]
        assert len(late) <= lost, (name, late[:5], lost)
        H.diag("%s: %d written, %d lost (reported), %d more lost in "
               "flight (records before the kill), %d torn" % (
                   name, written, lost, len(missing) - lost, len(torn)))


@tap.case("a receiver that never answers the handshake, or never reads, "
          "blocks nothing: the handshake's deadline is said, the queue fills "
          "and is counted, the stop ends hdrlog (exit 0) as usual")
def dead_receivers():
    port = TCP_PORT + 7
    target = "tls://%s:%d" % (LO4, port)
    # a listener nobody accepts from: the kernel takes the connection,
    # nothing answers the ClientHello
    srv = H.ns_socket(H.topo().ns_a, socket.AF_INET, socket.SOCK_STREAM)
    srv.bind((LO4, port))
    srv.listen(4)
    out = fresh("t8.json")
    h = hdrlog(outputs_args(out, [target]) + tls_args())
    with h:
        fl = TS.frames(50)
        H.topo().send(fl)
        assert len(H.wait_json(out, len(fl))) == len(fl)
        assert h.err.wait_for(r"syslog %s: TLS handshake: the receiver did "
                              r"not finish it in time" % re.escape(target),
                              15), h.stderr()
        # the dead receiver holds nothing up: the stop ends hdrlog, exit
        # 0, within the usual deadline, every record in the JSON output
        assert h.stop() == 0, h.stderr()
    assert len(H.read_json_lines(out)) == len(fl)
    srv.close()
    assert TS.outputs(h)["syslog:" + target] == (0, len(fl), 0)
    # a receiver that completes the handshake (Python's ssl: OpenSSL) and
    # reads nothing: socket buffers, then the queue fill up
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certs()["server"], certs()["server_key"])
    srv = H.ns_socket(H.topo().ns_a, socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    srv.bind((LO4, port))
    srv.listen(1)
    srv.settimeout(20)
    held, done = [], threading.Event()

    def handshake_only():
        try:
            c, _ = srv.accept()
            c.settimeout(10)
            held.append(ctx.wrap_socket(c, server_side=True))
        except OSError as e:
            held.append(e)
        done.wait(60)
    th = threading.Thread(target=handshake_only, daemon=True)
    th.start()
    out = fresh("t8b.json")
    h = hdrlog(outputs_args(out, [target]) + tls_args())
    with h:
        fl = TS.frames(12000)
        H.topo().send(fl, burst=64)
        assert len(H.wait_json(out, len(fl), 20)) == len(fl)
        assert h.err.wait_for(r"does not keep up", 5), (held, h.stderr())
        # the dead receiver holds nothing up: the stop ends hdrlog, exit
        # 0, within the usual deadline, every record in the JSON output
        assert h.stop() == 0, h.stderr()
    assert len(H.read_json_lines(out)) == len(fl)
    done.set()
    th.join(5)
    srv.close()
    assert held and isinstance(held[0], ssl.SSLSocket), held
    written, lost, _ = TS.outputs(h)["syslog:" + target]
    assert lost > 0 and written + lost == len(fl), (written, lost)
    assert H.parse_summary(h.stderr()).get("lost") == 0


@tap.case("TLS files that cannot be read or parsed stop the start and "
          "--check with one clear line; options that need another are "
          "usage errors")
def bad_files():
    c = certs()
    garbage = H.path("garbage.pem")
    with open(garbage, "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\nnot base64 at all\n")
    target = "syslog:tls://" + LO4
    missing = H.path("no-such-ca.pem")
    cases = [
        (["--tls-ca", missing], "--tls-ca %s: No such file or directory"
         % missing),
        (["--tls-ca", garbage], "--tls-ca %s: " % garbage),
        (["--tls-ca", c["ca"], "--tls-cert", c["client"]],
         "--tls-cert %s with its key in %s (--tls-key names another file)"
         % (c["client"], c["client"])),
        (["--tls-ca", c["ca"], "--tls-cert", c["client"], "--tls-key",
          c["server_key"]], "do not match"),
        (["--tls-ca", c["ca"], "--tls-cert", c["client"], "--tls-key",
          missing], "--tls-key %s: No such file" % missing),
    ]
    for extra, says in cases:
        for check in ([], ["--check"]):
            r = H.run_hdrlog(H.topo().ns_a, ["-i", H.dev(), "-o", target] +
                             extra + check)
            errs = [x for x in r.stderr.splitlines()
                    if x.startswith("hdrlog: ") and "problem" not in x]
            assert r.returncode == 2, (extra, check, H.show(r))
            assert len(errs) == 1 and says in errs[0] and \
                ("syslog tls://%s: " % LO4) in errs[0], (extra, check, errs)
            if not check:
                H.assert_refused(r, 2)
    # good files: --check passes
    r = H.run_hdrlog(H.topo().ns_a, ["-i", H.dev(), "-o", target, "--check"]
                     + tls_args("--tls-cert", c["client"], "--tls-key",
                                c["client_key"]))
    assert r.returncode == 0, H.show(r)
    for extra, says in (
            (["-o", target, "--tls-key", c["client_key"]],
             "--tls-key is the key of a client certificate"),
            (["-o", "syslog:tcp://%s:%d" % (LO4, TCP_PORT), "--tls-ca",
              c["ca"]], "are for syslog:tls:// outputs: there is none"),
            (["-o", target, "--tls-server-name", ""], "needs a name")):
        r = H.run_hdrlog(H.topo().ns_a, ["-i", H.dev()] + extra)
        H.assert_refused(r, 2, mentions=(says,))


def unit_syscalls():
    """What hdrlog.service (as built) allows."""
    H.need("systemd-analyze")
    H.need("strace")
    build = os.path.dirname(os.path.dirname(os.path.abspath(H.HDRLOG)))
    return H.unit_syscall_filter(os.path.join(build, "packaging", "systemd",
                                              "hdrlog.service"))


def traced(trace, h):
    """(system calls made, {file opened: its open flags}) in hdrlog's
    trace."""
    text = H.strace_text(trace, h.proc.pid)
    return (H.strace_calls(text),
            dict(re.findall(r'open(?:at)?\([^"]*"([^"]+)", ([A-Z_|]+)',
                            text)))


@tap.case("every system call of the TLS path (CA file or the system store, "
          "client certificate, handshake, sending, SIGHUP, close) is in the "
          "units' SystemCallFilter; the CA files are opened read-only")
def syscall_filter():
    allowed = unit_syscalls()
    c = certs()
    runs = [("x509", "tls://%s:%d" % (LO4, X509_PORT),
             tls_args("--tls-cert", c["client"], "--tls-key",
                      c["client_key"])),
            # the system's store: the test CA is not in it, so refused
            ("tls", "tls://" + LO4, [])]
    with TlsRsyslog("t9") as rs:
        for name, target, extra in runs:
            trace = H.path("t9-%s.strace" % name)
            out = fresh("t9-%s.json" % name)
            with hdrlog(outputs_args(out, [target]) + extra,
                        prefix=H.strace_prefix(trace)) as h:
                H.topo().send(TS.frames(5))
                H.wait_json(out, 5)
                if extra:
                    rs.wait(5, name)
                else:
                    assert h.err.wait_for(r"issuer is unknown", 10), \
                        h.stderr()
                h.hup()
                assert h.stop(signal.SIGTERM) == 0, h.stderr()
            made, opened = traced(trace, h)
            missing = sorted(made - allowed - {"execve"})
            assert not missing, "%s: hdrlog calls what the unit forbids: " \
                "%s" % (name, missing)
            want = {c["ca"], c["client"], c["client_key"]} if extra else \
                {"/etc/ssl/certs/ca-certificates.crt"}
            assert want <= set(opened), (name, sorted(opened))
            for f in want:
                assert opened[f].startswith("O_RDONLY"), (f, opened[f])
            H.diag("%s: %d system calls; opened %s" % (
                name, len(made), sorted(x for x in opened
                                        if not x.startswith(("/sys", "/proc"))
                                        and ".so" not in x)))
        assert len(rs.messages("x509")) == 5


def body():
    if not GTLS:
        print("1..0 # SKIP rsyslog's GnuTLS driver (rsyslog-gnutls) "
              "not installed")
        return 0
    H.run_tap(tap, need=(H.RSYSLOGD, CERTTOOL, TSHARK),
              setup=lambda t: H.run(
                  [H.IP, "-n", t.ns_a, "link", "set", "lo", "up"]))


if __name__ == "__main__":
    H.main(body)
