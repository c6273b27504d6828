#!/usr/bin/env python3
"""Scrape + store at scale: tally aggregator vs Prometheus 2.42 (issue 5).

Usage: bench/scrape_scale.py [--targets 1000] [--series 1000] [--interval 15]
                             [--rounds 6] [--tally BIN] [--only tally|prometheus]
                             [--perf FILE] [--port-base 21000]

Targets: one Python asyncio process (`--serve`, started by this script) listens
on --targets ports (127.0.0.1:port-base .. port-base+targets-1), so every target
has its own address and `instance` label. Each serves a text-format 0.0.4 body
of --series series (counters, a histogram, gauges; ~75 KB for 1,000), the same
body on every port, values changing every interval; HTTP/1.1 keep-alive. It
logs when each target was fetched, by scraper (User-Agent), to count missed and
late scrapes independently of the scrapers' own report.

Scrapers, started at the same time and scraping the same targets:
  tally aggregator (`tally aggregator`, auth off, storage.fsync: always, the
                    default; limits raised for 1M series)
  prometheus       (Debian's 2.42, a fresh TSDB in a temp dir)
Both get one job with every target at --interval, timeout 10 s.

Measurement: after every target of both scrapers is up (one round of series
creation, not measured), a window of --rounds intervals. Over the window:
samples stored (tally: tally_scraped_samples_total; Prometheus:
prometheus_tsdb_head_samples_appended_total), CPU seconds (utime+stime from
/proc/PID/stat) of each process, RSS at the end (VmRSS, VmHWM), and from each
one's query API: scrape_duration_seconds of every target over the window
(p50/p99/max), count_over_time(up[window]) (missed = expected - stored) and
min_over_time(up[window]). The target server's log gives the interval between
two fetches of a target by a scraper (late = more than 1 s past the interval).
Load average is printed at start and end: the machine is shared.

Writes a markdown summary to stdout; progress on stderr. Every process is
stopped by its PID.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# The target server (a child process: `scrape_scale.py --serve ...`).

HIST_BOUNDS = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10",
               "+Inf"]


def series_lines(n: int) -> list[tuple[str, str, int]]:
    """(family header or '', series text, kind) for n series; kind 0 counter, 1 gauge."""
    out: list[tuple[str, str, int]] = []
    # bench_requests_total{handler,code,method}: 20 x 4 x 2 = 160 counters.
    hdr = "# HELP bench_requests_total Requests.\n# TYPE bench_requests_total counter\n"
    for h in range(20):
        for code in ("200", "404", "500", "503"):
            for m in ("GET", "POST"):
                out.append((hdr, f'bench_requests_total{{code="{code}",handler="/api/h{h}",'
                                 f'method="{m}"}}', 0))
                hdr = ""
    # bench_request_duration_seconds histogram: 20 handlers x (12 buckets + sum + count) = 280.
    hdr = ("# HELP bench_request_duration_seconds Latency.\n"
           "# TYPE bench_request_duration_seconds histogram\n")
    for h in range(20):
        for le in HIST_BOUNDS:
            out.append((hdr, f'bench_request_duration_seconds_bucket{{handler="/api/h{h}",'
                             f'le="{le}"}}', 0))
            hdr = ""
        out.append(("", f'bench_request_duration_seconds_sum{{handler="/api/h{h}"}}', 0))
        out.append(("", f'bench_request_duration_seconds_count{{handler="/api/h{h}"}}', 0))
    # bench_cpu_seconds_total{cpu,mode}: 16 x 8 = 128 counters.
    hdr = "# HELP bench_cpu_seconds_total CPU.\n# TYPE bench_cpu_seconds_total counter\n"
    for cpu in range(16):
        for mode in ("idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"):
            out.append((hdr, f'bench_cpu_seconds_total{{cpu="{cpu}",mode="{mode}"}}', 0))
            hdr = ""
    # bench_queue_depth{queue}: 100 gauges.
    hdr = "# HELP bench_queue_depth Depth.\n# TYPE bench_queue_depth gauge\n"
    for q in range(100):
        out.append((hdr, f'bench_queue_depth{{queue="q{q}"}}', 1))
        hdr = ""
    # bench_connections{pool,state}: the rest (gauges).
    hdr = "# HELP bench_connections Connections.\n# TYPE bench_connections gauge\n"
    i = 0
    while len(out) < n:
        out.append((hdr, f'bench_connections{{pool="p{i // 10}",state="s{i % 10}"}}', 1))
        hdr = ""
        i += 1
    return out[:n]


def make_body(lines: list[tuple[str, str, int]], rnd: int) -> bytes:
    parts = []
    for j, (hdr, text, kind) in enumerate(lines):
        v = (j % 97) * 1000 + rnd * (j % 13 + 1) if kind == 0 else (j * 31 + rnd * 7) % 1000
        parts.append(f"{hdr}{text} {v}\n")
    return "".join(parts).encode()


def serve(args: argparse.Namespace) -> None:
    lines = series_lines(args.series)
    cache: dict[int, bytes] = {}
    # fetches[kind][port] = list of monotonic fetch times; kind "tally"/"prometheus"/"other".
    fetches: dict[str, dict[int, list[float]]] = {"tally": {}, "prometheus": {}, "other": {}}

    def body_for(now: float) -> bytes:
        rnd = int(time.time() // args.interval)
        b = cache.get(rnd)
        if b is None:
            cache.clear()
            b = cache[rnd] = make_body(lines, rnd)
        return b

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, port: int):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                now = time.monotonic()
                ua = b""
                for line in head.split(b"\r\n"):
                    if line[:11].lower() == b"user-agent:":
                        ua = line[11:].strip().lower()
                kind = "tally" if b"tally" in ua else "prometheus" if b"prometheus" in ua else "other"
                fetches[kind].setdefault(port, []).append(now)
                body = body_for(now)
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
                             b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    async def control(reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        try:
            await reader.readuntil(b"\r\n\r\n")
            data = json.dumps({"now": time.monotonic(), "body_bytes": len(body_for(0)),
                               "fetches": {k: {str(p): v for p, v in d.items()}
                                           for k, d in fetches.items()}}).encode()
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close"
                         b"\r\nContent-Length: " + str(len(data)).encode() + b"\r\n\r\n" + data)
            await writer.drain()
        finally:
            writer.close()

    async def main():
        servers = []
        for i in range(args.targets):
            port = args.port_base + i
            servers.append(await asyncio.start_server(
                lambda r, w, p=port: handle(r, w, p), "127.0.0.1", port, backlog=64))
        ctl = await asyncio.start_server(control, "127.0.0.1", 0)
        with open(args.ready_file + ".tmp", "w") as f:
            f.write(str(ctl.sockets[0].getsockname()[1]))
        os.rename(args.ready_file + ".tmp", args.ready_file)
        await asyncio.Event().wait()

    asyncio.run(main())


# ---------------------------------------------------------------------------
# The driver.

def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def rss_mb(pid: int) -> tuple[float, float]:
    rss = hwm = 0.0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) / 1024
            elif line.startswith("VmHWM:"):
                hwm = int(line.split()[1]) / 1024
    return rss, hwm


def loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def http_get(port: int, path: str, timeout: float = 120) -> bytes:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"GET :{port}{path}: {resp.status} {body[:300]!r}")
        return body
    finally:
        conn.close()


def query(port: int, expr: str, at: float) -> list:
    path = "/api/v1/query?" + urllib.parse.urlencode({"query": expr, "time": f"{at:.3f}"})
    return json.loads(http_get(port, path))["data"]["result"]


def metric_sum(port: int, name: str) -> float:
    total = 0.0
    for line in http_get(port, "/metrics").decode().splitlines():
        if line.startswith(name) and (line[len(name)] in " {"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p * (len(s) - 1))))]


def wait_for(pred, timeout: float, what: str, interval: float = 0.5):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    raise RuntimeError(f"timed out waiting for {what}")


class Proc:
    def __init__(self, name: str, argv: list[str], log_path: str):
        self.name = name
        self.log_path = log_path
        with open(log_path, "wb") as logf:
            self.p = subprocess.Popen(argv, stdout=logf, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL)
        self.pid = self.p.pid

    def alive(self) -> bool:
        return self.p.poll() is None

    def stop(self) -> None:
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--targets", type=int, default=1000)
    ap.add_argument("--series", type=int, default=1000)
    ap.add_argument("--interval", type=int, default=15, help="scrape interval, seconds")
    ap.add_argument("--rounds", type=int, default=6, help="measured intervals")
    ap.add_argument("--port-base", type=int, default=21000)
    ap.add_argument("--warmup-timeout", type=float, default=300,
                    help="seconds to wait (in all) for every target to be up in the scrapers; "
                         "the window is measured anyway after it")
    ap.add_argument("--tally", default=os.path.join(ROOT, "build-c", "app", "tally"))
    ap.add_argument("--only", choices=["tally", "prometheus"])
    ap.add_argument("--perf", help="perf record -g tally during the window into this file")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--ready-file", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve(args)
        return 0

    tmp = tempfile.mkdtemp(prefix="scrape-scale-")
    procs: list[Proc] = []
    try:
        return run(args, tmp, procs)
    finally:
        for p in reversed(procs):
            p.stop()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            log(f"kept {tmp}")


def run(args: argparse.Namespace, tmp: str, procs: list[Proc]) -> int:
    load_start = loadavg()
    ready = os.path.join(tmp, "targets.ready")
    server = Proc("targets", [sys.executable, os.path.abspath(__file__), "--serve",
                              "--targets", str(args.targets), "--series", str(args.series),
                              "--interval", str(args.interval), "--port-base", str(args.port_base),
                              "--ready-file", ready], os.path.join(tmp, "targets.log"))
    procs.append(server)
    wait_for(lambda: os.path.exists(ready) or not server.alive(), 60, "the target server", 0.1)
    if not server.alive():
        raise RuntimeError("target server failed:\n" + open(server.log_path).read())
    ctl_port = int(open(ready).read())
    targets = [f"127.0.0.1:{args.port_base + i}" for i in range(args.targets)]
    log(f"{args.targets} targets x {args.series} series on ports {args.port_base}.."
        f"{args.port_base + args.targets - 1}; load average {load_start}")

    scrapers: dict[str, tuple[Proc, int]] = {}
    iv = f"{args.interval}s"
    timeout = f"{min(10, args.interval)}s"
    if args.only in (None, "tally"):
        cfg = os.path.join(tmp, "tally.yaml")
        with open(cfg, "w") as f:
            f.write(f"""storage:
  max_memory: 16GiB
limits:
  max_series_per_metric: 10000000
auth:
  enabled: false
global:
  scrape_interval: {iv}
  scrape_timeout: {timeout}
scrape_configs:
  - job_name: bench
    static_configs:
      - targets: {json.dumps(targets)}
""")
        port_file = os.path.join(tmp, "tally.port")
        t = Proc("tally", [args.tally, "aggregator", "--config", cfg, "--listen", "127.0.0.1:0",
                           "--data-dir", os.path.join(tmp, "tally-data"), "--port-file", port_file],
                 os.path.join(tmp, "tally.log"))
        procs.append(t)
        wait_for(lambda: os.path.exists(port_file) and open(port_file).read().strip()
                 or not t.alive(), 60, "tally", 0.1)
        if not t.alive():
            raise RuntimeError("tally failed:\n" + open(t.log_path).read())
        scrapers["tally"] = (t, int(open(port_file).read()))
    if args.only in (None, "prometheus"):
        cfg = os.path.join(tmp, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write(f"""global:
  scrape_interval: {iv}
  scrape_timeout: {timeout}
scrape_configs:
  - job_name: bench
    static_configs:
      - targets: {json.dumps(targets)}
""")
        port = free_port()
        p = Proc("prometheus", [PROMETHEUS, f"--config.file={cfg}",
                                f"--storage.tsdb.path={os.path.join(tmp, 'tsdb')}",
                                f"--web.listen-address=127.0.0.1:{port}"],
                 os.path.join(tmp, "prometheus.log"))
        procs.append(p)
        scrapers["prometheus"] = (p, port)

    # Warm-up: every target up in both (the first scrape of each creates its series).
    def up_count(port: int) -> int:
        try:
            r = query(port, "count(up == 1)", time.time())
            return int(float(r[0]["value"][1])) if r else 0
        except (OSError, RuntimeError, KeyError, ValueError, http.client.HTTPException):
            return -1

    def all_up(port: int) -> bool:
        return up_count(port) == args.targets

    t0 = time.monotonic()
    warmup = {}
    for name, (proc, port) in scrapers.items():
        left = args.warmup_timeout - (time.monotonic() - t0)
        try:
            wait_for(lambda port=port: all_up(port), max(left, 1), f"{name}: all targets up", 2)
            warmup[name] = f"all {args.targets} targets up after {time.monotonic() - t0:.0f} s"
        except RuntimeError:
            # Measure anyway: a scraper that cannot keep up is a result too.
            warmup[name] = (f"not all targets up after {args.warmup_timeout:.0f} s "
                            f"(count(up == 1) = {up_count(port)})")
        log(f"{name}: {warmup[name]}")
    # One more full round so the window holds steady-state scrapes only.
    time.sleep(args.interval)

    window = args.rounds * args.interval
    start = {}
    for name, (proc, port) in scrapers.items():
        samples_metric = ("tally_scraped_samples_total" if name == "tally"
                          else "prometheus_tsdb_head_samples_appended_total")
        start[name] = (time.time(), time.monotonic(), cpu_seconds(proc.pid),
                       metric_sum(port, samples_metric), samples_metric)
    server_cpu0 = cpu_seconds(server.pid)
    perf = None
    if args.perf and "tally" in scrapers:
        perf = subprocess.Popen(["perf", "record", "-g", "-F", "199", "-o", args.perf, "-p",
                                 str(scrapers["tally"][0].pid)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log(f"measuring {args.rounds} rounds ({window} s)")
    time.sleep(window)
    if perf is not None:
        perf.send_signal(signal.SIGINT)
        perf.wait()
    results = {}
    for name, (proc, port) in scrapers.items():
        wall0, mono0, cpu0, samples0, samples_metric = start[name]
        cpu = cpu_seconds(proc.pid) - cpu0
        samples = metric_sum(port, samples_metric) - samples0
        elapsed = time.monotonic() - mono0
        rss, hwm = rss_mb(proc.pid)
        results[name] = {"cpu": cpu, "samples": samples, "elapsed": elapsed, "rss": rss,
                         "hwm": hwm, "port": port}
    server_cpu = cpu_seconds(server.pid) - server_cpu0
    load_end = loadavg()
    # The window in the scrapers' data: (end - window, end].
    end_ts = time.time()
    stats = json.loads(http_get(ctl_port, "/"))
    for name, r in results.items():
        port = r["port"]
        w = f"{window}s"
        durations = [float(v[1]) for s in query(port, f"scrape_duration_seconds[{w}]", end_ts)
                     for v in s["values"]]
        counts = [int(float(s["value"][1])) for s in query(port, f"count_over_time(up[{w}])", end_ts)]
        min_up = min((float(s["value"][1])
                      for s in query(port, f"min_over_time(up[{w}])", end_ts)), default=float("nan"))
        # Server-side: gaps between consecutive fetches of a target by this scraper in the window.
        fetch_times = stats["fetches"].get(name, {})
        lo = stats["now"] - (time.time() - end_ts) - window
        gaps = []
        fetched = 0
        for times in fetch_times.values():
            ts = [t for t in times if t > lo - args.interval]
            fetched += sum(1 for t in ts if t > lo)
            gaps += [b - a for a, b in zip(ts, ts[1:]) if b > lo]
        late = sum(1 for g in gaps if g > args.interval + 1)
        r["up_end"] = up_count(port)
        r["warmup"] = warmup[name]
        r.update({"dur_p50": pct(durations, 0.5), "dur_p99": pct(durations, 0.99),
                  "dur_max": max(durations) if durations else float("nan"),
                  "dur_n": len(durations), "expected": args.targets * args.rounds,
                  "stored_scrapes": sum(counts), "series_with_up": len(counts), "min_up": min_up,
                  "fetched": fetched, "late": late,
                  "gap_max": max(gaps) if gaps else float("nan"),
                  "gap_dev_p99": pct([abs(g - args.interval) for g in gaps], 0.99)})

    body_kb = stats["body_bytes"] / 1024
    print(f"\n### {args.targets} targets x {args.series} series every {args.interval} s "
          f"({time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})\n")
    print(f"Window {window} s ({args.rounds} rounds) after warm-up; body {body_kb:.0f} KB; "
          f"load average {load_start} at start, {load_end} at end; target server CPU "
          f"{server_cpu:.1f} s ({server_cpu / window * 100:.0f}% of a core) over the window.\n")
    print("| scraper | samples/s stored | CPU s (window) | CPU cores | CPU s per 1M samples | "
          "RSS MB (peak) | scrape_duration p50 / p99 / max | scrapes stored / expected | "
          "fetched (server log) | late > 1 s | max gap | min(up) |")
    print("|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|")
    for name, r in results.items():
        sps = r["samples"] / r["elapsed"]
        print(f"| {name} | {sps:,.0f} | {r['cpu']:.1f} | {r['cpu'] / r['elapsed']:.2f} | "
              f"{r['cpu'] / (r['samples'] / 1e6):.2f} | {r['rss']:,.0f} ({r['hwm']:,.0f}) | "
              f"{r['dur_p50'] * 1000:.1f} / {r['dur_p99'] * 1000:.1f} / {r['dur_max'] * 1000:.0f} ms"
              f" | {r['stored_scrapes']} / {r['expected']} | {r['fetched']} | {r['late']} | "
              f"{r['gap_max']:.2f} s | {r['min_up']:g} |")
    for name, r in results.items():
        print(f"\n{name}: warm-up: {r['warmup']}; count(up == 1) at the end: {r['up_end']}; "
              f"scrapes stored in the window: {r['stored_scrapes']} of {r['expected']} "
              f"({r['series_with_up']} targets with an `up` sample)")
    if len(results) == 2:
        t, p = results["tally"], results["prometheus"]
        cpm = (t["cpu"] / t["samples"]) / (p["cpu"] / p["samples"])
        print(f"\ntally / Prometheus: CPU per sample {cpm:.2f}, RSS {t['rss'] / p['rss']:.2f}")
    print(json.dumps({k: {kk: vv for kk, vv in v.items() if kk != "port"}
                      for k, v in results.items()}), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
