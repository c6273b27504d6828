#!/usr/bin/env python3
"""Restart benchmark for the durable store (issue 3).

Loads SERIES series x SAMPLES samples into a fresh tally through
/v1/metrics/batch (1,000 points per request, keep-alive), then measures:
  - restart after a clean stop (SIGTERM writes a snapshot): snapshot load time;
  - restart after kill -9 with the data only in the WAL (snapshots off);
  - bytes on disk per sample (WAL and snapshot), resident memory after restart.
Usage: bench/restart.py TALLY_BIN [SERIES] [SAMPLES]   (defaults 100000 x 100)
"""
import http.client
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time


def start(tally, data, config):
    port_file = os.path.join(data, "port")
    if os.path.exists(port_file):
        os.remove(port_file)
    log = open(os.path.join(data, "log"), "ab")
    t0 = time.monotonic()
    proc = subprocess.Popen([tally, "serve", "--config", config, "--listen", "127.0.0.1:0",
                             "--port-file", port_file, "--data-dir", os.path.join(data, "d")],
                            stdout=log, stderr=log)
    while True:
        if proc.poll() is not None:
            sys.exit("tally exited early; see " + os.path.join(data, "log"))
        if os.path.exists(port_file) and open(port_file).read().strip():
            port = int(open(port_file).read())
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                c.request("GET", "/readyz")
                if c.getresponse().status == 200:
                    return proc, port, time.monotonic() - t0
            except OSError:
                pass
        time.sleep(0.01)


def metric(port, name):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    c.request("GET", "/metrics")
    body = c.getresponse().read().decode()
    m = re.search(r"^" + re.escape(name) + r" (\S+)$", body, re.M)
    return float(m.group(1)) if m else None


def rss_mb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0


def du(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            total += os.path.getsize(os.path.join(root, f))
    return total


def load(port, series, samples):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    now_ms = int(time.time() * 1000) - samples * 1000
    head = '{"points":['
    t0 = time.monotonic()
    for s in range(samples):
        ts = now_ms + s * 1000
        for start_i in range(0, series, 1000):
            pts = ",".join(
                '{"name":"bench_restart_%d","value":%d,"type":"counter","timestamp":%d,'
                '"tags":{"id":"%d"}}' % (i % 100, s, ts, i)
                for i in range(start_i, min(series, start_i + 1000)))
            c.request("POST", "/v1/metrics/batch", head + pts + "]}",
                      {"Content-Type": "application/json"})
            r = c.getresponse()
            body = r.read()
            if r.status != 200 or json.loads(body)["rejected"] != 0:
                sys.exit("load failed: %s %s" % (r.status, body[:300]))
    return time.monotonic() - t0


def main():
    tally = sys.argv[1]
    series = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    samples = int(sys.argv[3]) if len(sys.argv) > 3 else 100
    total = series * samples
    with tempfile.TemporaryDirectory() as data:
        config = os.path.join(data, "tally.yaml")
        # Snapshots only on shutdown here (interval far away), fsync interval for a fast
        # load; no API keys (this measures restart, not auth).
        with open(config, "w") as f:
            f.write("limits:\n  max_series_per_metric: 100000\nauth:\n  enabled: false\n"
                    "storage:\n  snapshot_interval: 100d\n  fsync: interval\n  max_memory: 8GiB\n")
        proc, port, _ = start(tally, data, config)
        secs = load(port, series, samples)
        print(f"loaded {total:,} samples in {series:,} series in {secs:.1f} s "
              f"({total / secs:,.0f} samples/s over one keep-alive connection, from Python)")
        wal_bytes = du(os.path.join(data, "d", "wal"))
        print(f"WAL on disk: {wal_bytes / 1e6:.1f} MB = {wal_bytes / total:.1f} bytes/sample")

        # kill -9: everything is in the WAL only.
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc, port, secs = start(tally, data, config)
        n = metric(port, "tally_store_samples")
        print(f"restart after kill -9 (WAL replay of {total:,} samples): {secs:.2f} s to ready; "
              f"samples={n:,.0f}; RSS {rss_mb(proc.pid):.0f} MB "
              f"({rss_mb(proc.pid) * 1e6 / total:.1f} bytes/sample)")
        assert n == total, (n, total)

        # Clean stop writes a snapshot; restart loads it.
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait()
        print(f"clean stop with snapshot: {time.monotonic() - t0:.2f} s")
        snap_bytes = du(os.path.join(data, "d", "snapshots"))
        print(f"snapshot on disk: {snap_bytes / 1e6:.1f} MB = {snap_bytes / total:.1f} bytes/sample; "
              f"WAL after it: {du(os.path.join(data, 'd', 'wal'))} bytes")
        proc, port, secs = start(tally, data, config)
        n = metric(port, "tally_store_samples")
        print(f"restart from the snapshot: {secs:.2f} s to ready; samples={n:,.0f}; "
              f"RSS {rss_mb(proc.pid):.0f} MB ({rss_mb(proc.pid) * 1e6 / total:.1f} bytes/sample)")
        assert n == total, (n, total)
        proc.send_signal(signal.SIGTERM)
        proc.wait()


if __name__ == "__main__":
    main()
