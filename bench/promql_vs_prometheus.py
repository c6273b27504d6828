#!/usr/bin/env python3
"""PromQL range queries: tally vs Prometheus 2.42 over the same samples (issue 4).

Usage: bench/promql_vs_prometheus.py [--series N] [--runs R] [--tally BIN]

Data (1 h of 15 s samples ending a minute ago, 240 samples per series; every
timestamp has a per-series phase that is a multiple of 125 ms, so it is exact
in OpenMetrics' float seconds):
  bench_req       counter, tags x (10 values) and shard: N series
                  -> bench_req_total{x,shard,project}
  bench_depth     gauge, tags x and shard: N series
  bench_lat       timing (tally's default 13 buckets), tag shard: N/17 series,
                  exposed as 14 bucket series + _sum + _count + the raw
                  observations = about N series
tally gets the points through POST /v1/metrics/batch (10,000 points per
request, one keep-alive connection). Prometheus gets the series tally presents
(running counter totals, cumulative buckets, ...) as OpenMetrics text turned
into TSDB blocks by `promtool tsdb create-blocks-from openmetrics`, i.e. the
same samples. Both start fresh on 127.0.0.1 and are stopped by their PIDs.

Queries (range queries over the hour at a 60 s step, through both HTTP APIs):
  sum by (x) (rate(bench_req_total[5m]))
  histogram_quantile(0.99, sum by (le) (rate(bench_lat_bucket[5m])))
  quantile_over_time(0.99, bench_depth[5m])
For each: one warm-up per server, then R runs alternating tally/Prometheus;
median wall-clock latency (request sent to body read, keep-alive connection),
the ratio tally/Prometheus, and each server's CPU seconds over its R runs
(utime+stime from /proc/PID/stat). Results of both servers are compared
(tests/integration/test_promql_side_by_side.py's compare()).

Writes a markdown table to stdout; progress to stderr. The load generator runs
on the same machine as both servers.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from tally_harness import TallyServer  # noqa: E402
from test_promql_side_by_side import (DEFAULT_BUCKETS, PrometheusPeer, compare,  # noqa: E402
                                      format_bound)

STEP_MS = 15_000
SAMPLES = 240
XS = 10
QUERIES = [
    ("counter rate", "sum by (x) (rate(bench_req_total[5m]))"),
    ("histogram p99", "histogram_quantile(0.99, sum by (le) (rate(bench_lat_bucket[5m])))"),
    ("gauge p99 over time", "quantile_over_time(0.99, bench_depth[5m])"),
]
CONFIG = """
storage:
  fsync: never
limits:
  max_series_per_metric: 100000
"""


def log(msg: str) -> None:
    sys.stderr.write(f"[{time.strftime('%H:%M:%S')}] {msg}\n")
    sys.stderr.flush()


def ts_text(t_ms: int) -> str:
    return f"{t_ms // 1000}.{t_ms % 1000:03d}"


class Data:
    """Generates the points and the matching OpenMetrics lines."""

    def __init__(self, n: int, end_ms: int, seed: int = 7):
        self.n = n
        self.timing_series = max(1, n // 17)
        self.start_ms = end_ms - SAMPLES * STEP_MS
        self.end_ms = end_ms
        rng = random.Random(seed)
        self.phase = [rng.randrange(120) * 125 for _ in range(n)]
        self.bounds = list(DEFAULT_BUCKETS) + [float("inf")]
        self.les = [format_bound(b) for b in self.bounds]
        self.rng = rng

    def tags(self, i: int) -> tuple[str, str]:
        return f"x{i % XS}", f"s{i // XS:05d}"

    def steps(self):
        """Yields, per 15 s step k, (tally points, OpenMetrics lines) of that step."""
        rng = self.rng
        totals = [0.0] * self.n
        hist = [[0] * len(self.bounds) for _ in range(self.timing_series)]
        sums = [0.0] * self.timing_series
        for k in range(SAMPLES):
            points, lines = [], []
            base = self.start_ms + k * STEP_MS
            for i in range(self.n):
                t = base + self.phase[i]
                ts = ts_text(t)
                x, shard = self.tags(i)
                inc = rng.randint(0, 10)
                totals[i] += inc
                points.append({"name": "bench_req", "type": "counter", "value": inc,
                               "timestamp": t, "tags": {"x": x, "shard": shard}})
                lab = f'project="default",shard="{shard}",x="{x}"'
                lines.append(f"bench_req_total{{{lab}}} {totals[i]!r} {ts}")
                level = rng.randint(0, 1000)
                points.append({"name": "bench_depth", "type": "gauge", "value": level,
                               "timestamp": t, "tags": {"x": x, "shard": shard}})
                lines.append(f"bench_depth{{{lab}}} {float(level)!r} {ts}")
            for j in range(self.timing_series):
                t = base + self.phase[j]
                ts = ts_text(t)
                shard = f"s{j:05d}"
                v = min(20000.0, round(rng.lognormvariate(4, 1.2) * 4) / 4)
                points.append({"name": "bench_lat", "type": "timing", "value": v,
                               "timestamp": t, "tags": {"shard": shard}})
                h = hist[j]
                for b, bound in enumerate(self.bounds):
                    if v <= bound:
                        h[b] += 1
                sums[j] += v
                lab = f'project="default",shard="{shard}"'
                for b, le in enumerate(self.les):
                    lines.append(f'bench_lat_bucket{{le="{le}",{lab}}} {float(h[b])!r} {ts}')
                lines.append(f"bench_lat_sum{{{lab}}} {sums[j]!r} {ts}")
                lines.append(f"bench_lat_count{{{lab}}} {float(k + 1)!r} {ts}")
                lines.append(f"bench_lat{{{lab}}} {v!r} {ts}")
            yield points, lines


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Client:
    """Keep-alive HTTP client for one server's /api/v1/query_range."""

    def __init__(self, port: int, headers: dict):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        self.headers = {"Content-Type": "application/x-www-form-urlencoded", **headers}

    def query_range(self, params: dict) -> tuple[float, dict, int]:
        body = urllib.parse.urlencode(params)
        t0 = time.perf_counter()
        self.conn.request("POST", "/api/v1/query_range", body, self.headers)
        resp = self.conn.getresponse()
        data = resp.read()
        elapsed = time.perf_counter() - t0
        return elapsed, json.loads(data), len(data)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--series", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--tally", default=os.environ.get("TALLY_BIN") or
                    os.path.join(ROOT, "build-bench", "app", "tally"))
    ap.add_argument("--profile", action="store_true",
                    help="perf record -g tally during its measured runs "
                         "(bench/out/perf-<query>.data; read with perf report -i)")
    args = ap.parse_args()
    os.environ["TALLY_BIN"] = os.path.abspath(args.tally)
    end_ms = (int(time.time()) - 60) * 1000
    data = Data(args.series, end_ms)
    tmp = tempfile.mkdtemp(prefix="tally-bench-promql-")
    out_dir = os.path.join(ROOT, "bench", "out")
    os.makedirs(out_dir, exist_ok=True)
    tally = TallyServer(CONFIG, name="bench-promql")
    prom = PrometheusPeer(tmp)
    try:
        tally.start()
        key = tally.api_key()
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        conn = http.client.HTTPConnection("127.0.0.1", tally.port, timeout=600)
        om_path = os.path.join(tmp, "data.om")
        log(f"generating {args.series} counter + {args.series} gauge + "
            f"{data.timing_series} timing series x {SAMPLES} samples; ingesting into tally")
        t_ingest = 0.0
        n_points = 0
        n_lines = 0
        pending: list = []
        tally_cpu0 = cpu_seconds(tally.proc.pid)

        def flush(batch):
            nonlocal t_ingest, n_points
            body = json.dumps({"points": batch})
            t0 = time.perf_counter()
            conn.request("POST", "/v1/metrics/batch", body, headers)
            resp = conn.getresponse()
            doc = json.loads(resp.read())
            t_ingest += time.perf_counter() - t0
            if resp.status != 200 or doc.get("rejected"):
                raise SystemExit(f"ingest failed: {resp.status} {str(doc)[:500]}")
            n_points += len(batch)

        with open(om_path, "w") as om:
            for points, lines in data.steps():
                pending.extend(points)
                while len(pending) >= 10_000:
                    flush(pending[:10_000])
                    del pending[:10_000]
                om.write("\n".join(lines))
                om.write("\n")
                n_lines += len(lines)
            if pending:
                flush(pending)
            om.write("# EOF\n")
        tally_ingest_cpu = cpu_seconds(tally.proc.pid) - tally_cpu0
        log(f"tally: {n_points} points in {t_ingest:.1f} s of requests "
            f"({n_points / t_ingest:,.0f} points/s, server CPU {tally_ingest_cpu:.1f} s); "
            f"OpenMetrics: {n_lines} samples, {os.path.getsize(om_path) / 1e6:.0f} MB")
        with open(om_path) as f:
            om_text = f.read()
        t0 = time.perf_counter()
        prom.start(om_text, timeout=300)
        del om_text
        log(f"promtool create-blocks + Prometheus start: {time.perf_counter() - t0:.1f} s")
        os.unlink(om_path)

        params = {"start": data.start_ms // 1000 + 300, "end": data.end_ms // 1000, "step": "60s"}
        clients = {
            "tally": Client(tally.port, {"Authorization": f"Bearer {key}"}),
            "prometheus": Client(prom.port, {}),
        }
        pids = {"tally": tally.proc.pid, "prometheus": prom.proc.pid}
        rows = []
        for label, query in QUERIES:
            q = {"query": query, **params}
            answers = {}
            first = {}
            for who, c in clients.items():  # warm-up
                elapsed, answers[who], size = c.query_range(q)
                first[who] = elapsed
                if answers[who].get("status") != "success":
                    raise SystemExit(f"{who}: {query}: {str(answers[who])[:500]}")
                log(f"warm-up {who}: {query}: {elapsed * 1000:.0f} ms, {size / 1e6:.2f} MB")
            diff = compare(answers["tally"], answers["prometheus"], ordered=False)
            result = answers["tally"]["data"]["result"]
            n_series = len(result)
            n_points_out = sum(len(s["values"]) for s in result)
            lat = {w: [] for w in clients}
            cpu = {w: 0.0 for w in clients}
            perf = None
            if args.profile:
                perf = subprocess.Popen(
                    ["perf", "record", "-g", "-F", "499", "-p", str(tally.proc.pid), "-o",
                     os.path.join(out_dir, f"perf-{label.replace(' ', '_')}.data")],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(1)
            for _ in range(args.runs):
                for who, c in clients.items():
                    c0 = cpu_seconds(pids[who])
                    elapsed, _, _ = c.query_range(q)
                    cpu[who] += cpu_seconds(pids[who]) - c0
                    lat[who].append(elapsed)
            if perf is not None:
                perf.send_signal(2)
                perf.wait()
            med = {w: statistics.median(v) for w, v in lat.items()}
            rows.append((label, query, n_series, n_points_out, med, cpu, lat, first,
                         "equal" if diff is None else f"DIFFERENT: {diff}"))
            log(f"{label}: tally {med['tally'] * 1000:.0f} ms, prometheus "
                f"{med['prometheus'] * 1000:.0f} ms; results {rows[-1][-1]}")

        print(f"Data: {args.series} counter series + {args.series} gauge series + "
              f"{data.timing_series} timing series ({data.timing_series * 17} exposed series: "
              f"{data.timing_series * 14} buckets, _sum, _count, raw) x {SAMPLES} samples; "
              f"{n_points:,} points in tally, {n_lines:,} samples in Prometheus. "
              f"Range: {params['end'] - params['start']} s at step 60 s. "
              f"{args.runs} runs after one warm-up.\n")
        print("| query | result | tally median | Prometheus median | tally/Prometheus | "
              f"tally CPU s ({args.runs} runs) | Prometheus CPU s | first query (warm-up) "
              "tally / Prometheus | results |")
        print("|---|---|---:|---:|---:|---:|---:|---:|---|")
        for label, query, ns, npts, med, cpu, lat, first, same in rows:
            print(f"| `{query}` | {ns} series, {npts} points | {med['tally'] * 1000:.0f} ms | "
                  f"{med['prometheus'] * 1000:.0f} ms | {med['tally'] / med['prometheus']:.2f} | "
                  f"{cpu['tally']:.2f} | {cpu['prometheus']:.2f} | "
                  f"{first['tally'] * 1000:.0f} / {first['prometheus'] * 1000:.0f} ms | {same} |")
        print("\nAll runs (ms): " + "; ".join(
            f"{row[0]}: tally {[round(x * 1000) for x in row[6]['tally']]}, "
            f"prometheus {[round(x * 1000) for x in row[6]['prometheus']]}"
            for row in rows))
        return 0
    finally:
        prom.stop()
        tally.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
