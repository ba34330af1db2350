#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""
hdrlog's own metrics (issue 12): --stats-interval stats records in the
outputs, and --metrics, the Prometheus text exposition written to a file
or served over HTTP from the capture loop.

Known frames are sent from namespace B; the stats records read back from
the JSON file (and from the journal, with a journald this test starts
when none runs, as test_journal.py does) must count them; the exposition,
fetched with urllib during the run and read from the file after it, must
parse with Debian's python3-prometheus-client parser and its last figures
must be the exit summary's. A silent HTTP client must neither stall
capture nor keep its slot past the deadline; bad --metrics values are
refused at start with a clear message.
"""
import contextlib
import json
import os
import socket
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hdrlogtest as H  # noqa: E402

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:         # install-deps.sh installs python3-prometheus-client
    text_string_to_metric_families = None

tap = H.Tap()
MAC_KIND = 0x3e              # source MACs 02:3e:... (H.new_mac)
STATS_MESSAGE_ID = "c3a9d4f0e6b84f2a9e1d7b5c8a604e21"
HTTP_DEADLINE = 3            # seconds (HTTP_DEADLINE_NS in src/metrics.c)
T = {}


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

@contextlib.contextmanager
def in_ns(ns):
    """This thread in namespace ns meanwhile: sockets made there stay
    there (urllib's included)."""
    orig = os.open("/proc/self/ns/net", os.O_RDONLY)
    target = os.open("/run/netns/" + ns, os.O_RDONLY)
    try:
        H._setns(target)
        try:
            yield
        finally:
            H._setns(orig)
    finally:
        os.close(orig)
        os.close(target)


def free_port():
    """A TCP port nobody listens on in namespace A's loopback."""
    s = H.ns_socket(H.topo().ns_a, socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def fetch(port, path="/metrics", method="GET"):
    """(status, content type, body text) of an HTTP request from inside
    namespace A."""
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path),
                                 method=method)
    with in_ns(H.topo().ns_a):
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.headers["Content-Type"], \
                    r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.headers["Content-Type"], e.read().decode()


def parse_exposition(text):
    """{(sample name, sorted labels): value}, through the Prometheus
    client library's own parser; and the family types."""
    assert text_string_to_metric_families, \
        "python3-prometheus-client is not installed"
    samples, types = {}, {}
    for fam in text_string_to_metric_families(text):
        types[fam.name] = fam.type
        for s in fam.samples:
            key = (s.name, tuple(sorted(s.labels.items())))
            assert key not in samples, "sample %r twice" % (key,)
            samples[key] = s.value
    return samples, types


def value(samples, name, **labels):
    key = (name, tuple(sorted(labels.items())))
    assert key in samples, "no sample %s%r in %r" % (
        name, labels, sorted(samples)[:60])
    return int(samples[key])


def frames(n, src_ip="198.51.100.2"):
    mac = H.new_mac(MAC_KIND)
    return [H.udp_frame(mac, src_ip=src_ip, sport=30000 + i)
            for i in range(n)]


def stats_records(path):
    return [r for r in H.read_json_lines(path)
            if r.get("event_type") == "stats"]


def summary_list_hits(stderr, name):
    for line in stderr.splitlines():
        if line.startswith("list %s:" % name):
            parts = line.split()
            return int(parts[2]), int(parts[5])
    raise AssertionError("no summary line for list %s:\n%s" % (name, stderr))


def check_against_summary(samples, stderr, dev, outputs):
    """The exposition's figures are the exit summary's."""
    summ = H.parse_summary(stderr)
    seen = sum(v for (n, l), v in samples.items()
               if n == "hdrlog_frames_seen_total")
    assert seen == summ["seen"], (seen, summ)
    assert value(samples, "hdrlog_frames_seen_total", iface=dev,
                 direction="in") == summ["seen"]
    assert value(samples, "hdrlog_ring_buffer_lost_total") == summ["lost"]
    per_output = H.output_summary(stderr)
    for out in outputs:
        written, lost, cut, _ = per_output[out]
        assert value(samples, "hdrlog_records_written_total",
                     output=out) == written, (out, per_output[out])
        assert value(samples, "hdrlog_records_lost_total",
                     output=out) == lost
        assert value(samples, "hdrlog_records_cut_total", output=out) == cut
        # records = written + lost + skipped, stats records included
        assert value(samples, "hdrlog_output_records_total", output=out) \
            == written + lost + value(samples, "hdrlog_records_skipped_total",
                                      output=out)


# --------------------------------------------------------------------------
# cases
# --------------------------------------------------------------------------

@tap.case("stats records in the JSON output count the frames sent; the "
          "metrics file, written once more at exit, is the exit summary")
def stats_records_and_file():
    t, dev = H.topo(), H.dev()
    out, pcap = H.path("stats.json"), H.path("stats.pcap")
    prom = H.path("hdrlog.prom")
    blocked = H.write_list("bad.txt", ["203.0.113.0/24"])
    n_pass, n_block = 30, 7
    args = ["-i", dev, "-o", "json:" + out, "-o", "pcap:" + pcap,
            "--stats-interval", "1", "--metrics", prom,
            "--blocklist", "bad=" + blocked]
    with H.Hdrlog(t.ns_a, args) as h:
        t.send(frames(n_pass) + frames(n_block, src_ip="203.0.113.9"))

        def counted():
            recs = stats_records(out)
            if recs and recs[-1]["stats"]["interfaces"][dev]["in"]["seen"] \
                    == n_pass + n_block:
                return recs[-1]
        rec = H.wait_until(counted, "a stats record counting every frame")
        # the textfile is replaced whole: it always parses
        samples, types = parse_exposition(
            H.wait_until(lambda: os.path.exists(prom) and
                         open(prom).read(), "the metrics file"))
        assert types["hdrlog_frames_seen"] == "counter", types
        assert types["hdrlog_ring_buffer_bytes"] == "gauge", types
        assert h.stop() == 0, h.stderr()
    st = rec["stats"]
    assert list(rec)[:3] == ["timestamp", "event_type", "stats"], rec
    assert H.TIMESTAMP_RE.match(rec["timestamp"]), rec
    assert st["interfaces"][dev]["in"] == {
        "seen": n_pass + n_block, "dropped": n_block, "sampled_out": 0}, st
    assert st["directions"]["in"]["passed"] == n_pass, st
    assert st["directions"]["in"]["dropped"] == n_block, st
    assert st["frames"]["dropped_block"] == n_block, st
    assert st["lists"]["bad"] == {"source_hits": n_block,
                                  "destination_hits": 0}, st
    assert st["records"]["frames_logged"] == n_pass + n_block, st
    assert st["ring_buffer"]["size"] == 8 << 20, st
    assert st["ring_buffer"]["lost"] == 0, st
    assert set(st["outputs"]) == {"json:" + out, "pcap:" + pcap}, st
    assert st["outputs"]["pcap:" + pcap]["stats"] == 0, st
    # each stats record counts the ones before it
    recs = stats_records(out)
    for i, r in enumerate(recs):
        assert r["stats"]["outputs"]["json:" + out]["stats"] == i, (i, r)
    data = [r for r in H.read_json_lines(out) if r["event_type"] == "packet"]
    assert len(data) == n_pass + n_block, len(data)

    # after the run: the file's last figures are the summary's
    stderr = h.stderr()
    samples, _ = parse_exposition(open(prom).read())
    H.diag("%d stats records; summary: %s" % (
        len(recs), H.output_summary(stderr)))
    check_against_summary(samples, stderr, dev, ["json:" + out,
                                                 "pcap:" + pcap])
    assert value(samples, "hdrlog_stats_records_total",
                 output="json:" + out) == len(recs)
    assert value(samples, "hdrlog_stats_records_total",
                 output="pcap:" + pcap) == 0
    # the pcap output has no place for stats records: frames only
    assert H.output_summary(stderr)["pcap:" + pcap][:2] == \
        (n_pass + n_block, 0)
    assert H.output_summary(stderr)["json:" + out][:2] == \
        (n_pass + n_block + len(recs), 0)
    assert summary_list_hits(stderr, "bad") == (n_block, 0)
    assert value(samples, "hdrlog_list_source_hits_total", list="bad") \
        == n_block
    assert not os.path.exists(prom + ".tmp")
    assert os.stat(prom).st_mode & 0o777 == 0o644, oct(os.stat(prom).st_mode)


@tap.case("the exposition served on 127.0.0.1:PORT parses (a label with a "
          "quote and a backslash too), answers 404 and 405 to anything "
          "else, and at the end equals the exit summary")
def http_exposition():
    t, dev = H.topo(), H.dev()
    # a label value to escape: the summary names it with '\\' doubled
    out = H.path('http "q" \\.json')
    name = "json:" + out.replace("\\", "\\\\")
    port = free_port()
    n = 25
    with H.Hdrlog(t.ns_a, ["-i", dev, "-o", "json:" + out, "--metrics",
                           "127.0.0.1:%d" % port]) as h:
        t.send(frames(n))
        H.wait_until(lambda: len(H.read_json_lines(out)) >= n, "records")

        def served():
            status, ctype, body = fetch(port)
            assert status == 200, (status, body)
            samples, _ = parse_exposition(body)
            if value(samples, "hdrlog_records_written_total",
                     output=name) == n:
                return ctype, samples
        ctype, samples = H.wait_until(served,
                                      "the exposition counting %d" % n)
        assert ctype == "text/plain; version=0.0.4; charset=utf-8", ctype
        assert value(samples, "hdrlog_frames_seen_total", iface=dev,
                     direction="in") == n
        assert fetch(port, "/")[0] == 404
        assert fetch(port, "/metrics", method="POST")[0] == 405
        assert h.stop() == 0, h.stderr()
    # nothing came in since the last fetch (B sends nothing of its own)
    check_against_summary(samples, h.stderr(), dev, [name])


@tap.case("silent HTTP clients in every slot stall neither capture nor, "
          "after the deadline, the exposition")
def silent_client():
    t, dev = H.topo(), H.dev()
    out = H.path("silent.json")
    port = free_port()
    with H.Hdrlog(t.ns_a, ["-i", dev, "-o", "json:" + out, "--metrics",
                           "127.0.0.1:%d" % port]) as h:
        silent = []
        for _ in range(12):       # more than the 8 slots
            s = H.ns_socket(t.ns_a, socket.AF_INET, socket.SOCK_STREAM)
            s.connect(("127.0.0.1", port))
            silent.append(s)
        t0 = time.monotonic()
        for k in range(1, 4):     # records keep arriving meanwhile
            t.send(frames(10))
            H.wait_until(lambda: len(H.read_json_lines(out)) >= 10 * k,
                         "records while silent clients hang on")
        # each is closed by hdrlog (EOF), or refused (all slots taken)
        for s in silent:
            s.settimeout(HTTP_DEADLINE + 10)
            try:
                assert s.recv(100) == b""
            except ConnectionResetError:
                pass
            s.close()
        H.diag("silent clients closed after %.1f s" %
               (time.monotonic() - t0))
        status, _, body = fetch(port)
        assert status == 200
        samples, _ = parse_exposition(body)
        assert value(samples, "hdrlog_frames_seen_total", iface=dev,
                     direction="in") == 30
        assert h.stop() == 0, h.stderr()


@tap.case("bad --metrics values are refused at start, each with a clear "
          "message; --check says so too")
def bad_values():
    t, dev = H.topo(), H.dev()
    busy = H.ns_socket(t.ns_a, socket.AF_INET, socket.SOCK_STREAM)
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    for val, rc, says in (
            ("localhost:9469", 2, "--metrics needs a file"),
            ("127.0.0.1:0", 2, "--metrics needs a file"),
            ("127.0.0.1:70000", 2, "--metrics needs a file"),
            ("::1:9469", 2, "--metrics needs a file"),
            ("metrics.txt", 2, "--metrics needs a file"),
            ("127.0.0.1:%d" % port, 1, "Address already in use"),
            ("203.0.113.77:9469", 1, "cannot listen on 203.0.113.77:9469"),
            (H.path("no/such/dir/x.prom"), 1, "cannot write")):
        r = H.run_hdrlog(t.ns_a, ["-i", dev, "-o", "json:" +
                                  H.path("bad.json"), "--metrics", val])
        H.assert_refused(r, rc=rc, mentions=(says,))
    # --check says the same, creating and binding nothing for good
    for val, says in ((H.path("no/such/dir/x.prom"), "cannot write"),
                      ("127.0.0.1:%d" % port, "Address already in use")):
        r = H.run_hdrlog(t.ns_a, ["-i", dev, "--metrics", val, "--check"])
        assert r.returncode == 2 and says in r.stderr, H.show(r)
    r = H.run_hdrlog(t.ns_a, ["-i", dev, "--metrics", H.path("ok.prom"),
                              "--check"])
    assert r.returncode == 0, H.show(r)
    assert not any(x.startswith("ok.prom") for x in os.listdir(H.tmpdir()))
    r = H.run_hdrlog(t.ns_a, ["-i", dev, "--stats-interval", "-1"])
    H.assert_refused(r, rc=2, mentions=("--stats-interval",))
    busy.close()


@tap.case("a stats record reaches the journal (EVENT_TYPE=stats, its own "
          "MESSAGE_ID, the JSON object as MESSAGE)")
def journal_stats():
    if "journald" not in T and not TJ.Journald.listening():
        raise H.Skip("no journald")
    t, dev = H.topo(), H.dev()
    n = 9
    with H.Hdrlog(t.ns_a, ["-i", dev, "-o", "journal", "--stats-interval",
                           "1"]) as h:
        t.send(frames(n))

        def counted():
            got = TJ.journal_entries(h.proc.pid,
                                     ["MESSAGE_ID=" + STATS_MESSAGE_ID])
            for e in got:
                st = json.loads(e["MESSAGE"])["stats"]
                if st["interfaces"][dev]["in"]["seen"] == n:
                    return e
        e = H.wait_until(counted, "a stats entry counting %d frames" % n)
        assert h.stop() == 0, h.stderr()
    assert e["EVENT_TYPE"] == "stats", e
    assert e["PRIORITY"] == "6", e
    rec = json.loads(e["MESSAGE"])
    assert rec["event_type"] == "stats", rec
    assert rec["stats"]["records"]["frames_logged"] == n, rec


@tap.case("a stats record goes to syslog with MSGID stats and its JSON as "
          "the body; --direction both counts each way per interface")
def syslog_and_both_ways():
    t, dev = H.topo(), H.dev()
    rx = H.ns_socket(t.ns_a, socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(15)
    n = 4
    a4 = H.pair().a_ip4.split("/")[0]
    with H.Hdrlog(t.ns_a, ["-i", dev, "--direction", "both", "-o",
                           "syslog:udp://127.0.0.1:%d" % rx.getsockname()[1],
                           "--stats-interval", "1"]) as h:
        r = H.run(H.ns_exec(t.ns_b, ["ping", "-n", "-q", "-c", str(n), "-i",
                                     "0.2", "-W", "5", a4]), check=False)
        assert r.returncode == 0, r.stdout + r.stderr
        deadline = time.monotonic() + 15
        while True:
            m = H.parse5424(rx.recv(65536).decode())
            if m["msgid"] == "stats":
                st = json.loads(m["msg"])["stats"]
                ways = st["interfaces"][dev]
                # echo requests in, replies out (and maybe ARP both ways)
                if ways["in"]["seen"] >= n and ways["out"]["seen"] >= n:
                    break
            assert time.monotonic() < deadline, "no stats message counting " \
                "%d frames each way" % n
        assert h.stop() == 0, h.stderr()
    assert m["app"] == "hdrlog", m
    summ = h.summary()
    assert summ["seen_in"] >= ways["in"]["seen"], (summ, ways)
    assert summ["seen_out"] >= ways["out"]["seen"], (summ, ways)
    assert ways["in"]["dropped"] == ways["out"]["dropped"] == 0, ways
    written, lost, cut, rest = H.output_summary(h.stderr())[
        "syslog:udp://127.0.0.1:%d" % rx.getsockname()[1]]
    assert lost == 0 and "stats records" in rest, (written, lost, rest)


@tap.case("--schema ecs: a stats record is an ECS metric event, the "
          "counters under hdrlog.stats, equal to the default schema's names")
def ecs_stats_record():
    t, dev = H.topo(), H.dev()
    out = H.path("ecs-stats.json")
    n = 5
    with H.Hdrlog(t.ns_a, ["-i", dev, "--schema", "ecs", "-o", "json:" + out,
                           "--stats-interval", "1"]) as h:
        t.send(frames(n))

        def counted():
            for r in H.read_json_lines(out):
                st = r.get("hdrlog", {}).get("stats")
                if st and st["interfaces"].get(dev, {}).get(
                        "in", {}).get("seen", 0) >= n:
                    return r
            return None
        rec = H.wait_until(counted,
                           "an ECS stats record counting %d frames" % n)
        assert h.stop() == 0, h.stderr()
    assert rec["event"] == {"kind": "metric", "dataset": "hdrlog.stats"}, rec
    assert rec["ecs"]["version"], rec
    assert "T" in rec["@timestamp"] and "timestamp" not in rec, rec
    assert "event_type" not in rec and "stats" not in rec, rec
    st = rec["hdrlog"]["stats"]
    assert st["interfaces"][dev]["in"]["seen"] == n, st


# --------------------------------------------------------------------------

import test_journal as TJ  # noqa: E402  (its journald, started if none runs)


def setup(t):
    # loopback in A: the HTTP cases listen there
    H.run([H.IP, "-n", t.ns_a, "link", "set", "lo", "up"])
    if os.access(TJ.JOURNALD, os.X_OK) and not TJ.Journald.listening():
        TJ.start_journald(t)
        T["journald"] = TJ.T.get("journald")


def body():
    if H.run_tap(tap, setup=setup):
        sys.exit(1)


if __name__ == "__main__":
    H.main(body)
