#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""
The Kafka output against librdkafka's mock cluster (tests/helpers/
kafka_mock: three brokers speaking the Kafka protocol over TCP on
namespace A's loopback; no Kafka broker is packaged for Debian), read back
with Debian's kcat as a consumer. Every message must be the JSON output's
record of the same run, byte for byte, once, keyed by its community_id,
in order per key; a broker taken down and brought back must cost nothing,
or exactly what hdrlog's summary counts lost.
"""
import collections
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hdrlogtest as H  # noqa: E402
from hdrlogtest import hdrlog  # noqa: E402

tap = H.Tap()
MAC_KIND = 0x6b              # source MACs 02:6b:...
KCAT = shutil.which("kcat") or "/usr/bin/kcat"
TOPIC = "hdrlog"
PARTITIONS = 6
# the helper program make check builds, beside this file's build tree
MOCK = os.environ.get("KAFKA_MOCK") or os.path.join(
    os.path.dirname(os.path.dirname(H.HDRLOG)), "tests", "helpers",
    "kafka_mock")


def tcp_frame(src_mac, src_ip, dst_ip, sport, dport, seq, ip_id):
    """Ethernet/IPv4/TCP with ACK|PSH set (checksums are not checked)."""
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, 1, 5 << 4, 0x18,
                      1024, 0, 0)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), ip_id, 0, 64,
                     6, 0, socket.inet_aton(src_ip), socket.inet_aton(dst_ip))
    return (H.mac_bytes("02:00:5e:00:53:01") + H.mac_bytes(src_mac) +
            b"\x08\x00" + ip + tcp)


def flow_frames(n_flows, per_flow, first=0):
    """per_flow frames of each of n_flows UDP and TCP flows, interleaved
    (so that order per key means something), and an ARP frame per flow
    (no community_id: no key)."""
    out = []
    for k in range(per_flow):
        for f in range(n_flows):
            m = H.new_mac(MAC_KIND)
            ip_id = first + k * n_flows + f + 1
            if f % 2:
                out.append(tcp_frame(m, "198.51.100.2", "198.51.100.1",
                                     30000 + f, 443, 1000 + k, ip_id))
            else:
                out.append(H.udp_frame(m, sport=20000 + f, dport=53,
                                       ip_id=ip_id))
    out += [H.arp_frame(H.new_mac(MAC_KIND)) for _ in range(n_flows)]
    return out


class Mock:
    """The mock cluster in namespace A: .boot is its bootstrap list."""

    def __init__(self):
        self.err = open(H.path("kafka_mock.err"), "a")
        self.proc = H.track(subprocess.Popen(
            H.ns_exec(H.topo().ns_a, [MOCK, TOPIC, str(PARTITIONS)]),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.err,
            text=True))
        self.reader = H.LineReader(self.proc.stdout)
        line = self.reader.wait_for(r"^127\.0\.0\.1:\d+", 15)
        if line is None:
            self.close()
            raise RuntimeError("kafka_mock did not start")
        self.boot = line.strip()
        self.answers = 0

    def command(self, cmd):
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()
        self.answers += 1
        deadline = time.monotonic() + 10
        while True:
            lines = [x for x in self.reader.text().splitlines()
                     if x in ("ok",) or x.startswith("error")]
            if len(lines) >= self.answers:
                assert lines[self.answers - 1] == "ok", (cmd, lines)
                return
            assert time.monotonic() < deadline, "kafka_mock: no answer"
            time.sleep(0.02)

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()         # it exits when stdin closes
        H.stop_process(self.proc, None)
        self.err.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def consume(boot, timeout=30):
    """Every message of the topic: [(partition, offset, key, payload)]."""
    r = H.run(H.ns_exec(H.topo().ns_a,
                        [KCAT, "-C", "-b", boot, "-t", TOPIC, "-o",
                         "beginning", "-e", "-q", "-J"]), timeout=timeout)
    out = []
    for line in r.stdout.splitlines():
        m = json.loads(line)
        out.append((m["partition"], m["offset"], m["key"], m["payload"]))
    return out


def kafka_spec(boot):
    return "kafka://%s/%s" % (boot, TOPIC)


def kafka_counts(h, boot):
    return H.output_counts(h.stderr(), kafka_spec(boot))


def check_keyed(msgs, lines, key_of, where):
    """msgs are lines, each once; keyed by key_of(record); each key on one
    partition, in the JSON output's order."""
    got = collections.Counter(m[3] for m in msgs)
    want = collections.Counter(lines)
    assert got == want, "%s: messages differ from the JSON records: " \
        "missing %s, extra %s" % (where, list((want - got).items())[:3],
                                  list((got - want).items())[:3])
    by_key = collections.defaultdict(list)
    for part, off, key, payload in msgs:
        want_key = key_of(json.loads(payload))
        assert key == want_key, "%s: key %r, record says %r: %s" % (
            where, key, want_key, payload)
        if key is not None:
            by_key[key].append((part, off, payload))
    pos = {x: i for i, x in enumerate(lines)}
    for key, ms in by_key.items():
        assert len({p for p, _, _ in ms}) == 1, \
            "%s: key %s on partitions %s" % (where, key, ms)
        in_kafka = [x for _, _, x in sorted(ms)]
        assert in_kafka == sorted(in_kafka, key=pos.get), \
            "%s: key %s out of order" % (where, key)
    H.diag("%s: %d messages, %d keys, partitions %s" % (
        where, len(msgs), len(by_key), sorted({m[0] for m in msgs})))
    return by_key


# --------------------------------------------------------------------------
# cases
# --------------------------------------------------------------------------

@tap.case("every record once, the JSON output's bytes, keyed by "
          "community_id, in order per key; socket events too")
def keyed_in_order():
    out = H.path("k1.json")
    with Mock() as mock:
        fl = flow_frames(8, 6)
        with hdrlog(["--events", "packets,sockets", "-o", "json:" + out,
                     "-o", kafka_spec(mock.boot)]) as h:
            H.topo().send(fl)
            # a socket event of a process in A: a UDP datagram to nowhere
            s = H.ns_socket(H.topo().ns_a, socket.AF_INET, socket.SOCK_DGRAM)
            s.sendto(b"x", ("127.0.0.1", 9))
            H.wait_records(out, lambda rs: sum(
                r.get("event") == "udp_send" and r.get("dest_port") == 9
                for r in rs) >= 1 and sum(
                r.get("event_type") == "packet" for r in rs) >= len(fl),
                20, h.proc)
            h.stop()
        lines = H.json_lines(out)
        msgs = consume(mock.boot)
    recs = [json.loads(x) for x in lines]
    assert sum(r["event_type"] == "packet" for r in recs) == len(fl), \
        "%d packet records for %d frames" % (len(recs), len(fl))
    assert any(r.get("event") == "udp_send" and r.get("dest_port") == 9
               for r in recs), "no socket event in the JSON output"
    assert kafka_counts(h, mock.boot) == (len(lines), 0), h.stderr()
    by_key = check_keyed(msgs, lines, lambda r: r.get("community_id"),
                         "community_id")
    assert len(by_key) >= 8, "%d keys for 8 flows" % len(by_key)
    assert sum(m[2] is None for m in msgs) >= 8, "ARP records have a key"


@tap.case("--kafka-key src_port and none")
def other_keys():
    with Mock() as mock:
        for key, key_of in (("src_port", lambda r: str(r["src_port"])
                             if "src_port" in r else None),
                            ("none", lambda r: None)):
            out = H.path("k2-%s.json" % key)
            fl = flow_frames(3, 3)
            with hdrlog(["-o", "json:" + out, "-o", kafka_spec(mock.boot),
                         "--kafka-key", key]) as h:
                H.topo().send(fl)
                H.wait_json(out, len(fl), 20)
                h.stop()
            lines = H.json_lines(out)
            assert len(lines) == len(fl)
            assert kafka_counts(h, mock.boot) == (len(lines), 0), h.stderr()
            # this run's messages: those whose payload is one of its lines
            msgs = [m for m in consume(mock.boot) if m[3] in set(lines)]
            check_keyed(msgs, lines, key_of, key)


@tap.case("a broker down mid-stream and back: nothing lost or duplicated, "
          "or exactly what the summary says was lost; said once each way")
def broker_down():
    out = H.path("k3.json")
    with Mock() as mock:
        first, second = flow_frames(6, 5), flow_frames(6, 5, first=1000)
        spec = kafka_spec(mock.boot)
        with hdrlog(["-o", "json:" + out, "-o", spec]) as h:
            H.topo().send(first)
            h.wait_written([spec], len(first), timeout=20)
            mock.command("down 1")
            H.topo().send(second)
            H.wait_json(out, len(first) + len(second), 20)
            sport = [40000]

            def trickle_until(said, timeout):
                """Records of new flows, each a key of its own, until
                hdrlog's stderr has said (at most timeout seconds)."""
                deadline = time.monotonic() + timeout
                while said not in h.stderr() and \
                        time.monotonic() < deadline:
                    H.topo().send([H.udp_frame(H.new_mac(MAC_KIND),
                                               sport=sport[0], dport=53)])
                    sport[0] += 1
                    time.sleep(0.25)

            # librdkafka notices the broker gone and queues its partitions
            # once a record is for a partition it leads. Whether these
            # flows' keys go there depends on the mock's leaders (it failed
            # 1 run in 10), and a record without a key goes only to a
            # partition whose leader is up: new keys until it is said
            trickle_until("retrying", 30)
            # broker 1 leads partitions some of these flows hash to: their
            # records wait in librdkafka's queue, acknowledged by nobody
            h.summary_now()
            w, lost = kafka_counts(h, mock.boot)
            assert w + lost < len(H.json_lines(out)), h.stderr()
            mock.command("up 1")
            # "delivering again" comes with a delivery once no broker error
            # has been reported for 15 s (formats/kafka.c): keep a trickle
            # of records going until it is said
            trickle_until("delivering again", 60)
            n = len(H.wait_json(out, 0, 20))
            h.summaries_until(lambda: sum(kafka_counts(h, mock.boot)) >= n,
                              60, pause=0.2)
            h.stop()
        lines = H.json_lines(out)
        msgs = consume(mock.boot)
    written, lost = kafka_counts(h, mock.boot)
    H.diag("broker 1 down: %d records, %d written, %d lost" % (
        len(lines), written, lost))
    assert written + lost == len(lines), h.stderr()
    payloads = collections.Counter(m[3] for m in msgs)
    assert max(payloads.values()) == 1, "duplicates: %s" % [
        k for k, v in payloads.items() if v > 1][:2]
    assert set(payloads) <= set(lines), "messages that are no record"
    assert len(msgs) == written, "%d messages, %d acknowledged" % (
        len(msgs), written)
    if not lost:
        check_keyed(msgs, lines, lambda r: r.get("community_id"), "down/up")
    err = h.stderr().splitlines()
    down = [x for x in err if "retrying" in x]
    again = [x for x in err if "delivering again" in x]
    assert len(down) == 1 and len(again) == 1, \
        "down said %d times, healed %d times:\n%s" % (
            len(down), len(again), h.stderr())
    assert again[0].endswith("; %d records lost meanwhile" % lost), again


@tap.case("a reload does not print --kafka-property values (passwords)")
def reload_hides_properties():
    conf = H.path("k5.conf")
    with Mock() as mock:
        for secret in ("Secret-One", "Secret-Two"):
            with open(conf, "w") as f:
                f.write("output = %s\nkafka-property = sasl.password=%s\n"
                        % (kafka_spec(mock.boot), secret))
            if secret == "Secret-One":
                h = hdrlog(["--config", conf]).start()
        try:
            h.hup()
            h.stop()
        finally:
            h.kill()
    err = h.stderr()
    assert "kafka-property changed" in err, err
    assert "Secret" not in err, err


@tap.case("no cluster listening: capture goes on, the queue bound "
          "(--kafka-queue) and the exit count the loss, exit in bounded time")
def unreachable():
    out = H.path("k4.json")
    spec = "kafka://127.0.0.1:9/" + TOPIC   # nothing listens in A
    fl = flow_frames(5, 6)
    with hdrlog(["-o", "json:" + out, "-o", spec, "--kafka-queue", "10"]) \
            as h:
        H.topo().send(fl)
        lines = H.wait_json(out, len(fl), 20)
        t0 = time.monotonic()
        h.stop(timeout=30)
        H.diag("stopped in %.1f s" % (time.monotonic() - t0))
    assert len(lines) == len(fl), "capture stalled: %d of %d records" % (
        len(lines), len(fl))
    assert H.output_counts(h.stderr(), spec) == (0, len(fl)), h.stderr()
    err = h.stderr()
    assert err.count("queue full") == 1, err
    assert err.count("retrying") <= 1, err
    assert "not acknowledged" in err, err


@tap.case("no cluster listening: a second SIGTERM during the stop ends "
          "its wait for acknowledgements (5 s) at once; what is "
          "unacknowledged is counted lost and said once, with why, and "
          "hdrlog exits 0 (the wait went on to its bound)")
def second_signal_ends_wait():
    out = H.path("k7.json")
    spec = "kafka://127.0.0.1:9/" + TOPIC   # nothing listens in A
    fl = flow_frames(3, 2)
    # XDP (not tcx, a veth's default): its detach says the stop began
    with hdrlog(["-o", "json:" + out, "-o", spec, "--xdp-mode", "generic"]) \
            as h:
        H.topo().send(fl)
        H.wait_json(out, len(fl), 20)
        assert H.topo().xdp_attached()[0], h.stderr()
        h.proc.send_signal(signal.SIGTERM)
        # the first was taken (not merged with the second): detached
        H.wait_until(lambda: not H.topo().xdp_attached()[0],
                     "hdrlog to detach at the stop", timeout=10)
        h.proc.send_signal(signal.SIGTERM)
        rc = h.wait(10)
    err = h.stderr()
    assert rc == 0, err
    assert H.output_counts(err, spec) == (0, len(fl)), err
    said = re.findall(r"kafka:\S+: (\d+) records not acknowledged (.*); "
                      r"counted lost", err)
    assert said == [(str(len(fl)),
                     "when a second stop signal ended the wait")], err


@tap.case("records librdkafka gives up (message.timeout.ms) are counted "
          "lost while it runs, and said once")
def given_up():
    out = H.path("k6.json")
    spec = "kafka://127.0.0.1:9/" + TOPIC   # nothing listens in A
    fl = flow_frames(4, 3)
    with hdrlog(["-o", "json:" + out, "-o", spec, "--kafka-property",
                 "message.timeout.ms=500"]) as h:
        H.topo().send(fl)
        H.wait_json(out, len(fl), 20)
        h.summaries_until(lambda: h.output_counts(spec)[1] >= len(fl), 20,
                          pause=0.2)
        assert H.output_counts(h.stderr(), spec) == (0, len(fl)), h.stderr()
        h.stop()
    err = h.stderr()
    assert err.count("gave records up") == 1, err
    assert "not acknowledged" not in err, err
    assert H.output_counts(err, spec) == (0, len(fl)), err


@tap.case("bad Kafka options: a clear error naming them, exit 2, "
          "--check too; a good one --checks without connecting")
def bad_options():
    ns = H.topo().ns_a
    spec = "kafka://127.0.0.1:9/" + TOPIC
    base = ["-i", H.dev(), "-o", spec]
    for extra, mention in (
            (["--kafka-property", "no.such.property=1"],
             "no.such.property"),
            (["--kafka-property", "compression.codec=bogus"],
             "compression.codec"),
            (["--kafka-property", "security.protocol=carrier-pigeon"],
             "security.protocol"),
            (["--kafka-property", "acks"], "KEY=VALUE"),
            (["--kafka-property", "security.protocol=ssl",
              "--kafka-property", "ssl.ca.location=/nonexistent/ca.pem"],
             "ssl.ca.location"),
            (["--kafka-property", "bootstrap.servers=x:1"], "-o kafka"),
            (["--kafka-key", "src_lists"], "--kafka-key"),
            (["--kafka-key", "nosuchfield"], "nosuchfield")):
        for check in ([], ["--check"]):
            r = H.run_hdrlog(ns, base + extra + check)
            H.assert_refused(r, rc=2, mentions=(mention,))
    for bad in ("kafka:127.0.0.1:9/t", "kafka://127.0.0.1:9",
                "kafka:///t", "kafka://h:1/a/b", "kafka://h:1/"):
        r = H.run_hdrlog(ns, ["-i", H.dev(), "-o", bad])
        H.assert_refused(r, rc=2, mentions=("kafka",))
    r = H.run_hdrlog(ns, base + ["--check", "--kafka-property",
                                 "linger.ms=20", "--kafka-key", "none"])
    assert r.returncode == 0, H.show(r)
    assert spec in r.stdout, H.show(r)


def body():
    if not os.access(MOCK, os.X_OK):
        print("Bail out! %s not built (make check builds it)" % MOCK)
        sys.exit(1)
    H.run_tap(tap, need=(KCAT,), setup=lambda t: H.run(
        [H.IP, "-n", t.ns_a, "link", "set", "lo", "up"]))


if __name__ == "__main__":
    H.main(body)
