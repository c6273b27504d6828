#!/usr/bin/env python3
"""Turns the raw data bench/run.sh leaves in OUT_DIR into a markdown report.

Usage: summarize.py OUT_DIR   (reads machine.txt, runs.tsv, metrics_e2e.tsv,
micro.json; prints markdown to stdout).
"""
import csv
import json
import os
import statistics
import sys

SERVERS = [("tally", "tally (fsync: always, the default)"),
           ("tally-fsync-interval", "tally (fsync: interval, 1 s)"),
           ("tally-fsync-never", "tally (fsync: never)"),
           ("tally-noauth", "tally (auth.enabled: false)"),
           ("pushgateway", "Pushgateway"), ("civetweb", "bare civetweb (ceiling)")]
SCENARIOS = [
    ("report-1", "1 point per request (tally: POST /v1/metrics/report)"),
    ("batch-100", "100 points per request (tally: POST /v1/metrics/batch)"),
    ("batch-1000", "1,000 points per request (tally: POST /v1/metrics/batch)"),
]


def read_kv(path):
    out = {}
    with open(path) as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("=")
            out[k] = v
    return out


def read_tsv(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return list(csv.DictReader(f, delimiter="\t"))


def fmt_int(x):
    return f"{x:,.0f}"


def fmt_time(value, unit):
    ns = value * {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[unit]
    if ns >= 1e6:
        return f"{ns / 1e6:,.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:,.1f} us"
    return f"{ns:,.0f} ns"


def fmt_ms(us):
    return f"{us / 1000:.2f} ms"


def summarize_runs(rows, clk_tck):
    """Per (scenario, server): the median of each figure over the runs."""
    groups = {}
    for r in rows:
        groups.setdefault((r["scenario"], r["server"]), []).append(r)
    out = {}
    for key, runs in groups.items():
        per = []
        for r in runs:
            seconds = int(r["duration_us"]) / 1e6
            reqs = int(r["requests"]) / seconds
            points = reqs * int(r["points"])
            cpu = int(r["server_ticks"]) / clk_tck
            machine = int(r["machine_ticks"]) / clk_tck
            total_points = int(r["requests"]) * int(r["points"])
            per.append({
                "rps": reqs,
                "pps": points,
                "p50": int(r["p50_us"]),
                "p99": int(r["p99_us"]),
                "cpu": cpu,
                "cpu_per_m": cpu / (total_points / 1e6) if total_points else float("nan"),
                "server_cores": cpu / seconds,
                "other_cores": max(0.0, machine - cpu) / seconds,
                "errors": int(r["status_errors"]) + int(r["socket_errors"]),
                "accepted_ratio": (int(r["accepted"]) / total_points)
                if r.get("accepted") and total_points else None,
            })
        med = {k: statistics.median(p[k] for p in per) for k in
               ("rps", "pps", "p50", "p99", "cpu", "cpu_per_m", "server_cores", "other_cores")}
        med["errors"] = sum(p["errors"] for p in per)
        ratios = [p["accepted_ratio"] for p in per if p["accepted_ratio"] is not None]
        med["accepted_ratio"] = min(ratios) if ratios else None
        med["runs"] = len(per)
        med["pps_all"] = [p["pps"] for p in per]
        out[key] = med
    return out


def micro_results(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        data = json.load(f)
    return [b for b in data.get("benchmarks", []) if b.get("run_type", "iteration") == "iteration"]


def main():
    out_dir = sys.argv[1]
    m = read_kv(os.path.join(out_dir, "machine.txt"))
    clk_tck = int(m.get("clk_tck", "100"))
    res = summarize_runs(read_tsv(os.path.join(out_dir, "runs.tsv")), clk_tck)
    e2e = read_tsv(os.path.join(out_dir, "metrics_e2e.tsv"))
    micro = micro_results(os.path.join(out_dir, "micro.json"))
    p = print

    p("# tally benchmark report")
    p()
    p(f"- Date: {m.get('date')}; commit {m.get('commit')}")
    p(f"- Machine: {m.get('nproc')} CPUs, {m.get('cpu')}, {m.get('mem')} RAM, {m.get('kernel')}")
    p(f"- Load: wrk {m.get('wrk')}, `-t{m.get('threads')} -c{m.get('connections')} "
      f"-d{m.get('duration')}s --latency`, keep-alive, one {m.get('warmup')} s warm-up then "
      f"{m.get('runs')} runs per cell; each figure is the median over the runs.")
    p(f"- Peers: Prometheus Pushgateway {m.get('pushgateway')} (same metrics in the text "
      "format, `POST /metrics/job/bench`), bare civetweb (`bench/bare_civetweb.cc`, answers "
      "\"ok\" to the same request bodies tally gets: the HTTP ceiling).")
    p("- **The load generator (wrk) runs on the same CPUs as the server**: every server "
      "competes with wrk for the cores, so absolute numbers are lower than on a dedicated "
      "server. \"Rest of machine\" is the CPU used by everything but the server (wrk and any "
      "other process) during the run, in cores.")
    p("- Server CPU is utime+stime of the server process (all threads) from /proc/PID/stat "
      "over the run; CPU s per M points = that / (points completed / 10^6).")
    p()

    p("## HTTP ingest")
    p()
    for scen, title in SCENARIOS:
        p(f"### {title}")
        p()
        p("| server | req/s | points/s | p50 | p99 | server CPU (cores) | CPU s per M points "
          "| rest of machine (cores) | errors |")
        p("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for key, label in SERVERS:
            r = res.get((scen, key))
            if not r:
                continue
            p(f"| {label} | {fmt_int(r['rps'])} | {fmt_int(r['pps'])} | {fmt_ms(r['p50'])} "
              f"| {fmt_ms(r['p99'])} | {r['server_cores']:.2f} | {r['cpu_per_m']:.2f} "
              f"| {r['other_cores']:.2f} | {r['errors']} |")
        t, g, c = res.get((scen, "tally")), res.get((scen, "pushgateway")), res.get((scen, "civetweb"))
        notes = []
        if t and g:
            notes.append(f"tally / Pushgateway points/s = **{t['pps'] / g['pps']:.1f}x**")
            notes.append(f"CPU per point: Pushgateway / tally = {g['cpu_per_m'] / t['cpu_per_m']:.1f}x")
        if t and c:
            notes.append(f"tally / bare civetweb req/s = **{100 * t['rps'] / c['rps']:.0f}%**")
        if t:
            notes.append("tally points/s per run: " + ", ".join(fmt_int(x) for x in t["pps_all"]))
            if t["accepted_ratio"] is not None:
                notes.append(f"points tally counted as accepted / points wrk saw completed >= "
                             f"{t['accepted_ratio']:.3f}")
        p()
        p("; ".join(notes) + ".")
        p()

    p("## GET /metrics on a live tally")
    p()
    if e2e:
        p("Series loaded with `bench/load_series.py` (200 metrics, half counters, half gauges, "
          "3 tags each), then `curl /metrics` once (first) and 5 more times (warm; median).")
        p()
        p("| series | first GET | warm GET (median) | body | server CPU per GET (warm, median) |")
        p("|---:|---:|---:|---:|---:|")
        by_n = {}
        for r in e2e:
            by_n.setdefault(int(r["series"]), []).append(r)
        for n, rows in sorted(by_n.items()):
            first = [float(r["seconds"]) for r in rows if r["kind"] == "first"]
            warm = [float(r["seconds"]) for r in rows if r["kind"] == "warm"]
            cpu = [int(r["server_ticks"]) / clk_tck for r in rows if r["kind"] == "warm"]
            size = int(float(rows[-1]["bytes"]))
            p(f"| {fmt_int(n)} | {first[0] * 1000:.0f} ms | {statistics.median(warm) * 1000:.0f} ms "
              f"| {size / 1e6:.1f} MB | {statistics.median(cpu) * 1000:.0f} ms |")
        p()

    p("## Micro benchmarks (bench_micro, Google Benchmark)")
    p()
    if micro:
        p("| benchmark | real time | CPU time | items/s | other |")
        p("|---|---:|---:|---:|---|")
        for b in micro:
            unit = b.get("time_unit", "ns")
            extra = []
            if "bytes" in b:
                extra.append(f"body {b['bytes'] / 1e6:.2f} MB")
            if "series" in b:
                extra.append(f"series {fmt_int(b['series'])}")
            if "bytes_per_second" in b:
                extra.append(f"{b['bytes_per_second'] / 1e6:.0f} MB/s")
            ips = b.get("items_per_second")
            p(f"| {b['name']} | {fmt_time(b['real_time'], unit)} | {fmt_time(b['cpu_time'], unit)} "
              f"| {fmt_int(ips) if ips else ''} | {', '.join(extra)} |")
        p()
        p("items/s is points/s for the ingest benchmarks and series/s for the Render benchmarks. "
          "Debian's libbenchmark warns it was \"built as DEBUG\"; that affects the harness, "
          "not the code measured.")
        p()

    p("## Targets (issue 2)")
    p()
    p("| target | measured | status |")
    p("|---|---|---|")

    def status(ok):
        return "met" if ok else "**not met**"

    t = res.get(("batch-1000", "tally"))
    if t:
        p(f"| >= 1,000,000 points/s with 1,000-point batches | {fmt_int(t['pps'])} points/s "
          f"| {status(t['pps'] >= 1e6)} |")
    t, c = res.get(("report-1", "tally")), res.get(("report-1", "civetweb"))
    if t and c:
        ratio = t["rps"] / c["rps"]
        p(f"| single reports >= 50% of bare civetweb | {fmt_int(t['rps'])} vs {fmt_int(c['rps'])} "
          f"req/s = {100 * ratio:.0f}% | {status(ratio >= 0.5)} |")
    rows100k = [r for r in e2e if r["series"] == "100000" and r["kind"] == "warm"]
    if rows100k:
        ms = statistics.median(float(r["seconds"]) for r in rows100k) * 1000
        render = next((b for b in micro if b["name"].startswith("BM_RenderMetricsPage/100000")), None)
        extra = (f"; bench_micro render {fmt_time(render['real_time'], render['time_unit'])}"
                 if render else "")
        p(f"| /metrics of 100k series <= 150 ms | {ms:.0f} ms (live GET, warm median{extra}) "
          f"| {status(ms <= 150)} |")
    parts, ok = [], True
    for scen, _ in SCENARIOS:
        t, g = res.get((scen, "tally")), res.get((scen, "pushgateway"))
        if t and g:
            ratio = t["pps"] / g["pps"]
            ok = ok and ratio >= 10
            parts.append(f"{scen}: {ratio:.1f}x")
    if parts:
        p(f"| >= 10x Pushgateway's throughput | {', '.join(parts)} | {status(ok)} |")
    p()


if __name__ == "__main__":
    main()
