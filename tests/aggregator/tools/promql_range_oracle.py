#!/usr/bin/env python3
"""Record what the real Prometheus 2.42 server answers to PromQL range queries.

Usage: promql_range_oracle.py SPEC.json > CASES.json

SPEC.json: {"series": ["name{labels} values", ...], "interval": "15s",
            "queries": [{"query": ..., "start": s, "end": s, "step": s}, ...]}
(A CASES.json works as SPEC.json too: its "expected" entries are replaced, so
adding a query is: edit testdata/promql_range_oracle.json, re-run, replace.)
Series lines use the value notation of Prometheus' .test files (1 2 _ 0+5x10
_x3 NaN Inf; no `stale`: OpenMetrics cannot carry staleness markers), with
samples `interval` apart from time 0. The script writes the samples as
OpenMetrics, turns them into TSDB blocks with `promtool tsdb create-blocks-from
openmetrics`, starts a throwaway `prometheus` (Debian's package) on a free
loopback port over those blocks, asks /api/v1/query_range for every query and
prints SPEC plus an "expected" entry per query: the result matrix, or the
error type and message. The server is stopped by its PID. Nothing is downloaded.

This is how tests/aggregator/testdata/promql_range_oracle.json was produced;
tests/aggregator/promql_range_oracle_test.cc replays it against tally's engine.
"""
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

UNITS = {"ms": 1, "s": 1000, "m": 60000, "h": 3600000, "d": 86400000}


def duration_ms(text):
    total = 0
    for num, unit in re.findall(r"(\d+)(ms|s|m|h|d)", text):
        total += int(num) * UNITS[unit]
    return total


def expand(values):
    """Prometheus' series value notation -> list of float or None (omitted)."""
    out = []
    for item in values.split():
        if item == "_":
            out.append(None)
            continue
        m = re.fullmatch(r"_x(\d+)", item)
        if m:
            out.extend([None] * int(m.group(1)))
            continue
        m = re.fullmatch(r"([-+]?(?:[0-9.]+(?:e[-+]?\d+)?|Inf|NaN))(?:([-+][0-9.]+(?:e[-+]?\d+)?)?x(\d+))?",
                         item, re.I)
        if not m:
            raise SystemExit(f"unsupported value {item!r}")
        start = float(m.group(1))
        if m.group(3) is None:
            out.append(start)
            continue
        step = float(m.group(2) or 0)
        v = start
        for _ in range(int(m.group(3)) + 1):
            out.append(v)
            v += step
    return out


def om_value(v):
    if v != v:
        return "NaN"
    if v == float("inf"):
        return "+Inf"
    if v == float("-inf"):
        return "-Inf"
    return repr(v)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    spec = json.load(open(sys.argv[1]))
    interval = duration_ms(spec["interval"])
    lines = []
    for desc in spec["series"]:
        m = re.match(r"^(\S*?\{.*?\}|\S+)\s+(.*)$", desc)
        name, values = m.group(1), m.group(2)
        # OpenMetrics: no spaces inside the label set.
        name = re.sub(r'",\s+', '",', name)
        for i, v in enumerate(expand(values)):
            if v is None:
                continue
            lines.append((i * interval, f"{name} {om_value(v)} {i * interval / 1000}"))
    lines.sort(key=lambda x: x[0])
    with tempfile.TemporaryDirectory() as d:
        om = os.path.join(d, "data.om")
        with open(om, "w") as f:
            for _, l in lines:
                f.write(l + "\n")
            f.write("# EOF\n")
        data = os.path.join(d, "data")
        subprocess.run(["promtool", "tsdb", "create-blocks-from", "openmetrics", "-q", om, data],
                       check=True)
        cfg = os.path.join(d, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global: {}\n")
        port = free_port()
        proc = subprocess.Popen(
            ["prometheus", f"--config.file={cfg}", f"--storage.tsdb.path={data}",
             "--storage.tsdb.retention.time=100y", f"--web.listen-address=127.0.0.1:{port}",
             "--enable-feature=promql-at-modifier,promql-negative-offset"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(100):
                try:
                    urllib.request.urlopen(base + "/-/ready", timeout=1)
                    break
                except Exception:
                    time.sleep(0.2)
            for q in spec["queries"]:
                params = urllib.parse.urlencode({"query": q["query"], "start": q["start"],
                                                 "end": q["end"], "step": q["step"]})
                try:
                    body = urllib.request.urlopen(base + "/api/v1/query_range?" + params).read()
                except urllib.error.HTTPError as e:
                    body = e.read()
                answer = json.loads(body)
                if answer["status"] == "success":
                    q["expected"] = {"result": answer["data"]["result"]}
                else:
                    q["expected"] = {"errorType": answer["errorType"], "error": answer["error"]}
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    json.dump(spec, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
