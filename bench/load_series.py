#!/usr/bin/env python3
"""Loads N distinct series into a running tally, for timing GET /metrics.

Usage: load_series.py PORT N
Series i: metric i % 200 (even: counter bench.load.requests_K, odd: gauge
bench.load.depth_K), tags host=web-(i // 200), region, endpoint; one point each,
posted to /v1/metrics/batch in batches of 1,000 over one keep-alive connection.
Exits non-zero if any point is rejected.
"""
import http.client
import os
import json
import sys

REGIONS = ["eu-west", "us-east", "ap-south", "sa-east"]
ENDPOINTS = ["/login", "/search", "/checkout", "/cart", "/home"]


def point(i):
    metric = i % 200
    counter = metric % 2 == 0
    return {
        "name": f"bench.load.requests_{metric}" if counter else f"bench.load.depth_{metric}",
        "type": "counter" if counter else "gauge",
        "value": 1 + i % 7,
        "tags": {"host": f"web-{i // 200}", "region": REGIONS[i % 4], "endpoint": ENDPOINTS[i % 5]},
    }


def main():
    port, n = int(sys.argv[1]), int(sys.argv[2])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for start in range(0, n, 1000):
        body = json.dumps({"points": [point(i) for i in range(start, min(n, start + 1000))]})
        headers = {"Content-Type": "application/json"}
        if os.environ.get("TALLY_API_KEY"):
            headers["Authorization"] = "Bearer " + os.environ["TALLY_API_KEY"]
        conn.request("POST", "/v1/metrics/batch", body, headers)
        resp = conn.getresponse()
        data = resp.read()
        if resp.status != 200 or json.loads(data).get("rejected", 1) != 0:
            sys.exit(f"load_series: batch at {start}: HTTP {resp.status}: {data[:300]!r}")
    conn.close()


if __name__ == "__main__":
    main()
