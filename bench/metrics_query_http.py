#!/usr/bin/env python3
"""Latency of GET /v1/metrics/query through HTTP on a live tally (issue 4).

Starts `tally serve` (fsync: never, so loading is quick) on an ephemeral port
with a temp data dir, loads 1,000,000 raw samples of one timing metric
(api.latency) in 100 series (host h0..h9 x route r0..r9, 10,000 samples each
over the last 24 h) with /v1/metrics/batch, then times each query case
`--runs` times (after 3 warm-up requests) over one keep-alive connection and
prints a Markdown table: median, p99 (nearest rank), max, and the size of the
answer. Every answer is checked (200, number of points/series).

Usage: bench/metrics_query_http.py [--tally build-a/app/tally] [--runs 60]
The server is stopped by its PID at the end (tally_harness.TallyServer).
"""
from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import random
import statistics
import sys
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
from tally_harness import TallyServer  # noqa: E402

CONFIG = "storage:\n  fsync: never\n"
SERIES_HOSTS = [f"h{i}" for i in range(10)]
SERIES_ROUTES = [f"r{i}" for i in range(10)]
DAY_MS = 86_400_000


def load(server: TallyServer, per_series: int, until_ms: int) -> int:
    rng = random.Random(7)
    step = DAY_MS // per_series
    conn = server.connection(timeout=120)
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {server.api_key()}"}
    total = 0
    batch: list[dict] = []

    def flush() -> None:
        nonlocal total
        conn.request("POST", "/v1/metrics/batch", json.dumps({"points": batch}), headers)
        r = conn.getresponse()
        body = r.read()
        doc = json.loads(body)
        if r.status != 200 or doc.get("rejected") != 0:
            sys.exit(f"load: HTTP {r.status}: {body[:300]!r}")
        total += doc["accepted"]
        batch.clear()

    for host in SERIES_HOSTS:
        for route in SERIES_ROUTES:
            for i in range(per_series):
                ts = until_ms - DAY_MS + i * step + rng.randrange(step)
                batch.append({"name": "api.latency", "type": "timing",
                              "value": round(math.exp(3 + rng.gauss(0, 0.6)), 3),
                              "tags": {"host": host, "route": route}, "timestamp": ts})
                if len(batch) == 10_000:
                    flush()
    if batch:
        flush()
    conn.close()
    return total


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tally", default=os.environ.get("TALLY_BIN",
                                                      os.path.join(HERE, "..", "build-a", "app",
                                                                   "tally")))
    ap.add_argument("--runs", type=int, default=60)
    ap.add_argument("--per-series", type=int, default=10_000)
    args = ap.parse_args()
    os.environ["TALLY_BIN"] = os.path.abspath(args.tally)

    server = TallyServer(CONFIG, name="bench-query").start()
    try:
        until = (int(time.time() * 1000) - 120_000) // 60_000 * 60_000
        since = until - DAY_MS
        t0 = time.perf_counter()
        n = load(server, args.per_series, until)
        load_s = time.perf_counter() - t0
        print(f"loaded {n:,} samples in {load_s:.1f} s", file=sys.stderr)

        base = {"name": "api.latency", "since": since, "until": until}
        cases = [
            ("p99, window=1m (1,440 buckets)", {"agg": "p99", "window": "1m"}, ("points", 1440)),
            ("p99, no window (1 bucket)", {"agg": "p99"}, ("points", 1)),
            ("p99, window=1m, group_by=host", {"agg": "p99", "window": "1m", "group_by": "host"},
             ("series", 10)),
            ("avg, window=1m", {"agg": "avg", "window": "1m"}, ("points", 1440)),
            ("p99, window=1m, tags=route:r3 (100k samples)",
             {"agg": "p99", "window": "1m", "tags": "route:r3"}, ("points", 1440)),
        ]
        conn = server.connection(timeout=60)
        headers = {"Authorization": f"Bearer {server.api_key()}"}
        rows = []
        for label, params, (field, count) in cases:
            path = "/v1/metrics/query?" + urllib.parse.urlencode({**base, **params})
            times = []
            size = 0
            for i in range(3 + args.runs):
                start = time.perf_counter()
                conn.request("GET", path, headers=headers)
                r = conn.getresponse()
                body = r.read()
                elapsed = (time.perf_counter() - start) * 1000
                if r.status != 200:
                    sys.exit(f"{label}: HTTP {r.status}: {body[:300]!r}")
                if i == 0:
                    doc = json.loads(body)
                    got = len(doc[field])
                    if got != count:
                        sys.exit(f"{label}: {got} {field}, expected {count}")
                size = len(body)
                if i >= 3:
                    times.append(elapsed)
            times.sort()
            p99 = times[math.ceil(0.99 * len(times)) - 1]
            rows.append((label, statistics.median(times), p99, times[-1], size))
        conn.close()
        print(f"| query (1M samples, 100 series, 24 h) | median ms | p99 ms | max ms | "
              f"body bytes |")
        print("|---|---:|---:|---:|---:|")
        for label, med, p99, mx, size in rows:
            print(f"| {label} | {med:.1f} | {p99:.1f} | {mx:.1f} | {size:,} |")
        print(f"\n{args.runs} runs per case after 3 warm-up requests, one keep-alive "
              f"connection; load took {load_s:.0f} s.")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
