"""Durability through the real binary (issue 3, DESIGN.md section 4): kill -9 while
clients ingest, torn WAL tails, mid-log corruption and --wal-repair, and what a
restart keeps.

The crash test runs TALLY_CRASH_ROUNDS rounds (default 20) on one data dir. Each
round starts tally, lets 4 client threads send counter batches, each with a
unique idempotency key, and sends SIGKILL after a random 50-400 ms while requests
are in flight. A request whose 2xx arrived is "acknowledged"; one that failed
with a connection error is "unknown" and is retried with the same key and the
same body in a later round. After every restart the totals must lie between the
acknowledged sums and the acknowledged-plus-unknown sums; at the end every
request has been acknowledged (some by a replayed answer: durable, but the first
answer was lost), so each counter on /metrics must equal the exact sum of the
increments sent and `tally_store_samples` the number of points sent.

TALLY_CRASH_SEED fixes the random choices (sizes, delays; thread interleaving is
not reproducible). Deadlines scale with TALLY_TEST_TIME_SCALE.
"""

from __future__ import annotations

import collections
import http.client
import json
import os
import random
import struct
import sys
import threading
import time
import unittest
import uuid
from typing import Optional

from tally_harness import TIME_SCALE, DumpLogsOnFailure, Metrics, Response, TallyServer

BATCH = "/v1/metrics/batch"
REPORT = "/v1/metrics/report"

ROUNDS = int(os.environ.get("TALLY_CRASH_ROUNDS", "20"))
CLIENTS = 4
RECORD_HEADER = 9  # [length u32][crc32c u32][type u8], then `length` payload bytes

SeriesKey = tuple  # (exposed name, ((label, value), ...)) without `project`


def log(msg: str) -> None:
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


def wal_records(path: str) -> tuple[list[tuple[int, int]], int]:
    """(offset, total length) of each well-framed record of a WAL segment (lengths
    only, no CRC check), and the offset where the framing stops."""
    with open(path, "rb") as f:
        data = f.read()
    out, pos = [], 0
    while pos + RECORD_HEADER <= len(data):
        (length,) = struct.unpack_from("<I", data, pos)
        if pos + RECORD_HEADER + length > len(data):
            break
        out.append((pos, RECORD_HEADER + length))
        pos += RECORD_HEADER + length
    return out, pos


def read_bytes(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


class Req:
    """One ingest request: its exact body (resent byte for byte on a retry), its key and
    the counter increments it carries."""

    __slots__ = ("key", "body", "incs", "points", "state", "sends", "replayed")

    def __init__(self, key: str, points: list[dict]):
        self.key = key
        self.body = json.dumps({"points": points}).encode()
        self.points = len(points)
        self.incs: dict[SeriesKey, int] = collections.Counter()
        for p in points:
            self.incs[series_key(p["name"] + "_total", p.get("tags", {}))] += p["value"]
        self.state = "new"  # new -> acked | unknown -> ... -> acked
        self.sends = 0
        self.replayed = False


def series_key(name: str, labels: dict) -> SeriesKey:
    return (name, tuple(sorted((k, v) for k, v in labels.items() if k != "project")))


def fmt_series(key: SeriesKey) -> str:
    name, labels = key
    return name + "{" + ",".join(f'{k}="{v}"' for k, v in labels) + "}"


class Ledger:
    """Every request the clients made, and its state. Thread-safe."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self.mu = threading.Lock()
        self.reqs: list[Req] = []
        self.queue: collections.deque[Req] = collections.deque()  # to (re)send this round
        self.seq = 0
        self.unexpected: list[str] = []  # failures that are not the crash
        self.unknown_events = 0

    def next(self, rng: random.Random, metrics: list[str], tagsets: list[dict]) -> Req:
        with self.mu:
            if self.queue:
                return self.queue.popleft()
            self.seq += 1
            key = f"{self.prefix}-{self.seq}"
        points = []
        for _ in range(rng.randint(1, 200)):
            p = {"name": rng.choice(metrics), "value": rng.randint(1, 1000), "type": "counter"}
            tags = rng.choice(tagsets)
            if tags:
                p["tags"] = tags
            points.append(p)
        req = Req(key, points)
        with self.mu:
            self.reqs.append(req)
        return req

    def requeue_unknown(self) -> int:
        with self.mu:
            self.queue = collections.deque(r for r in self.reqs if r.state == "unknown")
            return len(self.queue)

    def bounds(self) -> tuple[dict, dict, int, int]:
        """Per series (acknowledged sum, acknowledged + unknown sum), and the same for points."""
        lo: dict[SeriesKey, int] = collections.Counter()
        hi: dict[SeriesKey, int] = collections.Counter()
        lo_pts = hi_pts = 0
        with self.mu:
            for r in self.reqs:
                if r.state == "acked":
                    lo.update(r.incs)
                    lo_pts += r.points
                if r.state in ("acked", "unknown"):
                    hi.update(r.incs)
                    hi_pts += r.points
        return lo, hi, lo_pts, hi_pts

    def stats(self) -> str:
        with self.mu:
            n = len(self.reqs)
            acked = sum(r.state == "acked" for r in self.reqs)
            unknown = sum(r.state == "unknown" for r in self.reqs)
            retried = sum(r.sends > 1 for r in self.reqs)
            replayed = sum(r.replayed for r in self.reqs)
            pts = sum(r.points for r in self.reqs)
        return (f"{n} requests ({pts} points): {acked} acknowledged, {unknown} unknown; "
                f"{self.unknown_events} answers lost to a crash, {retried} requests retried, "
                f"{replayed} answered by a replay (durable, answer lost), "
                f"{retried - replayed} stored by the retry")


def counter_totals(m: Metrics, names: set[str]) -> dict[SeriesKey, float]:
    out = {}
    for name, labels, value in m.samples:
        if name in names:
            assert labels.get("project") == "default", (name, labels)
            out[series_key(name, labels)] = value
    return out


def post_batch(server: TallyServer, req: Req, conn=None) -> Response:
    req.sends += 1
    return server.request("POST", BATCH, body=req.body, conn=conn, timeout=30,
                          headers={"Content-Type": "application/json",
                                   "Idempotency-Key": req.key})


class CrashTestCase(DumpLogsOnFailure):
    server: Optional[TallyServer] = None

    def setUp(self) -> None:
        self.server = None

    def run(self, result=None):
        before = None if result is None else len(result.failures) + len(result.errors)
        try:
            return super().run(result)
        finally:
            if self.server is not None:
                self.server.kill()
                if result is None or len(result.failures) + len(result.errors) == before:
                    self.server.cleanup()
                else:
                    log(f"(data dir kept for inspection: {self.server.data_dir})")
                self.server = None

    def on_failure(self) -> None:
        if self.server is not None:
            self.server.dump_log(f"{self.id()} failed", tail=12000)

    def new_server(self) -> TallyServer:
        self.server = TallyServer(name=type(self).__name__)
        return self.server

    def send_ok(self, req: Req, replayed: Optional[bool] = None) -> Response:
        r = post_batch(self.server, req)
        self.assertEqual(r.status, 200, f"{req.key}: {r!r}")
        self.assertEqual(r.json(), {"accepted": req.points, "rejected": 0, "errors": []}, req.key)
        if replayed is not None:
            self.assertEqual(r.headers.get("idempotent-replayed") == "true", replayed,
                             f"{req.key}: Idempotent-Replayed expected {replayed}: {r!r}")
        req.state = "acked"
        return r

    def assert_totals(self, reqs: list[Req], names: set[str], what: str) -> None:
        """/metrics counters of `names` equal the sums of `reqs`, exactly, and
        tally_store_samples their point count."""
        want: dict[SeriesKey, int] = collections.Counter()
        for r in reqs:
            want.update(r.incs)
        m = self.server.metrics()
        got = counter_totals(m, names)
        bad = [f"  {fmt_series(k)}: got {got.get(k)}, want {want.get(k, 0)}"
               for k in sorted(set(want) | set(got)) if got.get(k, 0) != want.get(k, 0)]
        if bad:
            self.fail(f"{what}: {len(bad)} series differ:\n" + "\n".join(bad))
        self.assertEqual(m.value("tally_store_samples"), sum(r.points for r in reqs),
                         f"{what}: tally_store_samples")


class CrashTest(CrashTestCase):
    """kill -9 under concurrent ingest, TALLY_CRASH_ROUNDS times; exactly once at the end."""

    METRICS = [f"crash_c{i}" for i in range(3)]
    TAGSETS = [{}, {"region": "eu", "kind": "a"}, {"region": "eu", "kind": "b"},
               {"region": "us", "kind": "a"}, {"region": "us", "kind": "b"}]

    def test_kill9_under_concurrent_ingest_is_exactly_once(self):
        seed = int(os.environ.get("TALLY_CRASH_SEED", str(random.randrange(1 << 30))))
        log(f"\ncrash test: {ROUNDS} rounds, seed {seed} (TALLY_CRASH_SEED={seed} to repeat)")
        rng = random.Random(seed)
        self.ledger = ledger = Ledger(f"crash-{seed}-{uuid.uuid4().hex[:6]}")
        self.names = {m + "_total" for m in self.METRICS}
        server = self.new_server()
        t0 = time.monotonic()

        for rnd in range(1, ROUNDS + 1):
            server.start(wait_ready=True)
            self.check_bounds(f"after restart {rnd}")
            ledger.requeue_unknown()
            self.run_round(rnd, rng.uniform(0.05, 0.4), seed)
        log(f"crash test: {ROUNDS} rounds in {time.monotonic() - t0:.1f}s; {ledger.stats()}")

        # Final restart: retry every request whose answer was lost, then compare exactly.
        server.start(wait_ready=True)
        self.check_bounds("after the final restart")
        pending = ledger.requeue_unknown()
        for req in list(ledger.queue):
            r = post_batch(server, req)
            self.assertEqual(r.status, 200, f"final retry of {req.key}: {r!r}")
            self.assertEqual(r.json()["accepted"], req.points, f"{req.key}: {r!r}")
            req.replayed = req.replayed or r.headers.get("idempotent-replayed") == "true"
            req.state = "acked"
        log(f"crash test: final retry of {pending} requests; {ledger.stats()}")
        self.assertTrue(all(r.state == "acked" for r in ledger.reqs))
        self.assert_totals(ledger.reqs, self.names, "after every request was acknowledged")
        self.assertGreater(ledger.unknown_events, 0,
                           "no request was ever in flight at a kill: the test did not test")

        # Retries of acknowledged requests are replays; a clean restart keeps everything.
        for req in rng.sample(ledger.reqs, min(20, len(ledger.reqs))):
            self.send_ok(req, replayed=True)
        server.stop(keep_data=True)
        server.start(wait_ready=True)
        self.assert_totals(ledger.reqs, self.names, "after a clean restart")
        for req in rng.sample(ledger.reqs, min(20, len(ledger.reqs))):
            self.send_ok(req, replayed=True)
        self.assert_totals(ledger.reqs, self.names, "after retries after a clean restart")
        server.stop()
        self.server = None

    def run_round(self, rnd: int, delay: float, seed: int) -> None:
        server, ledger = self.server, self.ledger
        killed = threading.Event()
        sent = [0] * CLIENTS

        def client(tid: int) -> None:
            rng = random.Random(seed * 1000 + rnd * 10 + tid)
            conn = None
            while True:
                req = ledger.next(rng, self.METRICS, self.TAGSETS)
                try:
                    if conn is None:
                        conn = server.connection(timeout=30)
                    r = post_batch(server, req, conn)
                except (OSError, http.client.HTTPException) as e:
                    req.state = "unknown"
                    if conn is not None:
                        conn.close()
                    with ledger.mu:
                        ledger.unknown_events += 1
                        if not killed.is_set():
                            ledger.unexpected.append(
                                f"round {rnd} client {tid}: {req.key} failed before the kill: "
                                f"{e!r}")
                    return
                sent[tid] += 1
                if r.status == 200:
                    doc = r.json()
                    if doc != {"accepted": req.points, "rejected": 0, "errors": []}:
                        with ledger.mu:
                            ledger.unexpected.append(f"{req.key}: unexpected answer {r!r}")
                    req.replayed = req.replayed or r.headers.get("idempotent-replayed") == "true"
                    req.state = "acked"
                elif r.status == 503:  # not stored; try again (this round)
                    req.state = "unknown"
                    with ledger.mu:
                        ledger.queue.append(req)
                    time.sleep(0.02)
                else:
                    req.state = "unknown"
                    with ledger.mu:
                        ledger.unexpected.append(f"round {rnd}: {req.key} answered {r!r}")
                    return

        threads = [threading.Thread(target=client, args=(t,), daemon=True)
                   for t in range(CLIENTS)]
        for t in threads:
            t.start()
        time.sleep(delay)
        alive_before = server.alive()
        killed.set()  # before the signal: every error seen after this may be the crash
        if alive_before:
            server.kill9()
        for t in threads:
            t.join(60 * TIME_SCALE)
        self.assertFalse(any(t.is_alive() for t in threads), f"round {rnd}: a client hangs")
        self.assertTrue(alive_before, f"round {rnd}: tally died before the kill")
        self.assertEqual(ledger.unexpected, [], f"round {rnd}")
        if os.environ.get("TALLY_CRASH_VERBOSE"):
            log(f"round {rnd}: killed after {delay * 1000:.0f} ms, {sum(sent)} answers; "
                f"{ledger.stats()}")

    def check_bounds(self, what: str) -> None:
        """acknowledged <= stored <= acknowledged + unknown, per series and in samples."""
        lo, hi, lo_pts, hi_pts = self.ledger.bounds()
        m = self.server.metrics()
        got = counter_totals(m, self.names)
        bad = []
        for k in sorted(set(lo) | set(hi) | set(got)):
            g = got.get(k, 0)
            if not lo.get(k, 0) <= g <= hi.get(k, 0):
                bad.append(f"  {fmt_series(k)}: got {g}, acknowledged {lo.get(k, 0)}, "
                           f"acknowledged + unknown {hi.get(k, 0)}")
        if bad:
            self.fail(f"{what}: {len(bad)} series out of bounds ({self.ledger.stats()}):\n"
                      + "\n".join(bad))
        samples = m.value("tally_store_samples")
        self.assertTrue(lo_pts <= samples <= hi_pts,
                        f"{what}: tally_store_samples {samples} not in [{lo_pts}, {hi_pts}] "
                        f"({self.ledger.stats()})")


class DamagedWal(CrashTestCase):
    """Torn tails in the last segment and damage earlier in the log."""

    NAME = "wal_c"

    def batches(self, n: int, seed: int) -> list[Req]:
        rng = random.Random(seed)
        prefix = uuid.uuid4().hex[:8]
        out = []
        for i in range(n):
            points = [{"name": self.NAME, "value": rng.randint(1, 100), "type": "counter",
                       "tags": {"shard": str(rng.randrange(4))}}
                      for _ in range(rng.randint(1, 50))]
            out.append(Req(f"{prefix}-{seed}-{i}", points))
        return out

    def newest_segment(self) -> str:
        segs = self.server.wal_segments()
        self.assertTrue(segs, f"no WAL segment in {self.server.wal_dir}")
        return segs[-1]

    def log_since_last_launch(self) -> str:
        text = self.server.log()
        marker = text.rfind("----- launch ")
        return text[marker:] if marker >= 0 else text

    def torn_tail(self, damage: str) -> None:
        server = self.new_server().start(wait_ready=True)
        reqs = self.batches(6, seed=len(damage))
        for r in reqs:
            self.send_ok(r, replayed=False)
        server.kill9()
        seg = self.newest_segment()
        records, end = wal_records(seg)
        size = os.path.getsize(seg)
        self.assertEqual((len(records), end), (len(reqs), size),
                         f"{seg}: one complete record per acknowledged request expected")
        if damage == "cut":  # the last record loses its second half: as if never written
            off, length = records[-1]
            keep_to = off + length // 2
            with open(seg, "r+b") as f:
                f.truncate(keep_to)
            want_size, cut, present = off, keep_to - off, reqs[:-1]
        else:
            tail = (bytes(4096) if damage == "zeros"
                    else bytes(random.Random(7).randrange(256) for _ in range(37)))
            with open(seg, "ab") as f:
                f.write(tail)
            want_size, cut, present = size, len(tail), reqs

        server.start(wait_ready=True)
        text = self.log_since_last_launch()
        self.assertRegex(text, r"truncated \d+ bytes", "no truncation logged")
        self.assertIn(os.path.basename(seg), text, "the truncation log names no file")
        self.assertEqual(os.path.getsize(seg), want_size, "damaged tail not cut at the record")
        m = server.metrics()
        self.assertEqual(m.value("tally_wal_truncated_bytes"), cut, "tally_wal_truncated_bytes")
        self.assert_totals(present, {self.NAME + "_total"}, f"after a {damage} tail")
        # Retries: stored requests are replays; the cut one was never durable, it is new now.
        for r in reqs:
            self.send_ok(r, replayed=r in present)
        self.assert_totals(reqs, {self.NAME + "_total"}, "after the retries")
        server.kill9()
        server.start(wait_ready=True)  # and the repaired log replays cleanly
        self.assert_totals(reqs, {self.NAME + "_total"}, "after one more kill -9")
        self.assertEqual(server.metrics().value("tally_wal_truncated_bytes"), 0)

    def test_torn_tail_cut_mid_record(self):
        self.torn_tail("cut")

    def test_torn_tail_garbage_appended(self):
        self.torn_tail("garbage")

    def test_torn_tail_zero_filled(self):
        self.torn_tail("zeros")

    def test_mid_log_corruption_stops_start_until_wal_repair(self):
        server = self.new_server().start(wait_ready=True)
        first = self.batches(4, seed=1)
        second = self.batches(3, seed=2)
        for r in first:
            self.send_ok(r)
        server.kill9()
        server.start(wait_ready=True)  # a restart opens a new segment
        for r in second:
            self.send_ok(r)
        server.kill9()
        segs = server.wal_segments()
        self.assertGreaterEqual(len(segs), 2, f"segments: {segs}")
        seg = segs[0]
        records, end = wal_records(seg)
        self.assertEqual((len(records), end), (len(first), os.path.getsize(seg)), seg)
        off, length = records[1]  # damage the second record's payload
        with open(seg, "r+b") as f:
            f.seek(off + RECORD_HEADER + (length - RECORD_HEADER) // 2)
            b = f.read(1)
            f.seek(-1, os.SEEK_CUR)
            f.write(bytes([b[0] ^ 0x40]))
        before = {p: read_bytes(p) for p in server.wal_segments()}

        proc = server.launch()
        code = server.wait_exit(30)
        text = self.log_since_last_launch()
        self.assertNotEqual(code, 0, "tally started on a WAL corrupt before its last segment")
        self.assertIn(os.path.basename(seg), text, "the error does not name the file")
        self.assertRegex(text, rf"offset {off}\b", "the error does not name the offset")
        self.assertIn("--wal-repair", text, "the error does not mention --wal-repair")
        after = {p: read_bytes(p) for p in server.wal_segments()}
        self.assertEqual(after, before, "a failed start changed the WAL")
        self.assertIsNotNone(proc)

        server.start(extra_args=["--wal-repair"], wait_ready=True)
        text = self.log_since_last_launch()
        self.assertIn("repair", text.lower())
        self.assertIn(os.path.basename(seg), text, "the repair log does not name the file")
        m = server.metrics()
        self.assertGreater(m.value("tally_wal_truncated_bytes") or 0, 0,
                           "tally_wal_truncated_bytes after a repair")
        self.assert_totals(first[:1], {self.NAME + "_total"}, "after --wal-repair")
        self.assertEqual(os.path.getsize(seg), off, "repaired segment not cut at the damage")
        for p in segs[1:]:  # removed (a new segment may reuse the number, empty so far)
            self.assertFalse(os.path.exists(p) and os.path.getsize(p) > 0,
                             f"{p}, after the damage, was kept")
        # Dropped requests were never replayed, so retrying them stores them once.
        for r in first + second:
            self.send_ok(r, replayed=r is first[0])
        self.assert_totals(first + second, {self.NAME + "_total"}, "after the retries")
        server.kill9()
        server.start(wait_ready=True)  # without --wal-repair: the log is healthy again
        self.assert_totals(first + second, {self.NAME + "_total"}, "after a restart")


class RestartKeepsState(CrashTestCase):
    """Gauges keep their last value and histograms their counts across kill -9 and a
    clean restart."""

    PREFIX = "rs_"

    def state(self) -> list:
        m = self.server.metrics()
        return sorted((n, sorted(l.items()), v) for n, l, v in m.samples
                      if n.startswith(self.PREFIX))

    def test_gauges_and_histograms_survive_restarts(self):
        server = self.new_server().start(wait_ready=True)
        now_ms = int(time.time() * 1000)
        for v in (5, -2.5, 17.25):  # separate requests: the last received wins
            r = server.post_json(REPORT, {"name": "rs_gauge", "value": v, "tags": {"k": "a"}})
            self.assertEqual(r.status, 200, r)
        points = [
            # one timestamp: ties go to the last point received
            {"name": "rs_gauge", "value": 1, "tags": {"k": "tie"}, "timestamp": now_ms - 5000},
            {"name": "rs_gauge", "value": 2, "tags": {"k": "tie"}, "timestamp": now_ms - 5000},
            {"name": "rs_gauge", "value": 3, "tags": {"k": "tie"}, "timestamp": now_ms - 5000},
            # the latest timestamp wins, not the last received
            {"name": "rs_gauge", "value": 40, "tags": {"k": "ts"}, "timestamp": now_ms - 1000},
            {"name": "rs_gauge", "value": 30, "tags": {"k": "ts"}, "timestamp": now_ms - 3000},
        ]
        timings = [0.5, 3, 7, 42, 42, 180, 999, 20000]
        points += [{"name": "rs_lat", "value": v, "type": "timing", "tags": {"route": "x"}}
                   for v in timings]
        points += [{"name": "rs_size", "value": v, "type": "distribution"} for v in (1, 2, 4096)]
        points += [{"name": "rs_jobs", "value": 3, "type": "counter"}]
        r = server.post_json(BATCH, {"points": points}, headers={"Idempotency-Key": "rs-1"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["accepted"], len(points), r)

        m = server.metrics()
        self.assertEqual(m.value("rs_gauge", k="a"), 17.25)
        self.assertEqual(m.value("rs_gauge", k="tie"), 3)
        self.assertEqual(m.value("rs_gauge", k="ts"), 40)
        self.assertEqual(m.value("rs_lat_count", route="x"), len(timings))
        self.assertEqual(m.value("rs_lat_sum", route="x"), sum(timings))
        self.assertEqual(m.value("rs_lat_bucket", route="x", le="+Inf"), len(timings))
        self.assertEqual(m.value("rs_size_count"), 3)
        self.assertEqual(m.value("rs_jobs_total"), 3)
        want = self.state()

        server.kill9()
        server.start(wait_ready=True)
        self.assertEqual(self.state(), want, "after kill -9")
        server.stop(keep_data=True)
        server.start(wait_ready=True)
        self.assertEqual(self.state(), want, "after a clean restart")
        r = server.post_json(BATCH, {"points": points}, headers={"Idempotency-Key": "rs-1"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.headers.get("idempotent-replayed"), "true", r)
        self.assertEqual(self.state(), want, "after a retry")
        server.stop()
        self.server = None


if __name__ == "__main__":
    unittest.main()
