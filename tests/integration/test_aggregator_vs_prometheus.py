"""e2e (issue 5): the real Prometheus 2.42 (Debian's /usr/bin/prometheus) and
tally scrape the same local target with the same rule file; their recorded
series and alerts agree (same label sets, values within 1e-9). The target's
body is constant, so values do not depend on when each side scraped or
evaluated. Skips when prometheus is not installed."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import tempfile
import threading
import unittest
import urllib.error
import urllib.parse
import urllib.request

from tally_harness import TIME_SCALE, DumpLogsOnFailure, TallyServer, free_port, wait_until

PROMETHEUS = "/usr/bin/prometheus"

BODY = """# TYPE demo_requests_total counter
demo_requests_total{env="prod",code="200"} 1027
demo_requests_total{env="prod",code="500"} 13
demo_requests_total{env="dev",code="200"} 400.5
# TYPE demo_temperature gauge
demo_temperature{env="prod",room="a"} 21.25
demo_temperature{env="prod",room="b"} 19.5
demo_temperature{env="dev",room="a"} 30
# TYPE demo_latency_seconds histogram
demo_latency_seconds_bucket{le="0.1"} 5
demo_latency_seconds_bucket{le="0.5"} 12
demo_latency_seconds_bucket{le="1"} 20
demo_latency_seconds_bucket{le="+Inf"} 22
demo_latency_seconds_sum 9.75
demo_latency_seconds_count 22
"""

RULES = """groups:
  - name: demo
    interval: 1s
    rules:
      - record: env:demo_requests:sum
        expr: sum by (env) (demo_requests_total)
      - record: env:demo_error_ratio
        expr: sum by (env) (demo_requests_total{code="500"}) / sum by (env) (demo_requests_total)
      - record: env:demo_temperature:max
        expr: max by (env) (demo_temperature)
      - record: demo_latency:p90
        expr: histogram_quantile(0.9, demo_latency_seconds_bucket)
      - record: demo_temperature:offset
        expr: demo_temperature - on(env) group_left env:demo_temperature:max
        labels:
          source: rule
      - alert: HotRoom
        expr: demo_temperature > 20
        labels:
          severity: warn
        annotations:
          summary: "room {{ $labels.room }} is {{ $value }}"
"""

RECORDED = ["env:demo_requests:sum", "env:demo_error_ratio", "env:demo_temperature:max",
            "demo_latency:p90", "demo_temperature:offset", 'ALERTS{alertname="HotRoom"}']


class Target:
    def __init__(self):
        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                data = BODY.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def query(port: int, expr: str, headers=None) -> list:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    req = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(req, timeout=10) as r:
        doc = json.load(r)
    assert doc["status"] == "success", doc
    return doc["data"]["result"]


def by_labels(result: list) -> dict:
    return {tuple(sorted(s["metric"].items())): float(s["value"][1]) for s in result}


class AggregatorVsPrometheusTest(DumpLogsOnFailure):
    def setUp(self):
        if not os.path.exists(PROMETHEUS):
            self.skipTest("prometheus is not installed "
                          "(apt-get install --no-install-recommends prometheus)")
        self.target = Target()
        self.addCleanup(self.target.close)
        self.tmp = tempfile.mkdtemp(prefix="tally-agg-e2e-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        with open(os.path.join(self.tmp, "rules.yml"), "w") as f:
            f.write(RULES)
        self.scrape = (f"scrape_configs:\n  - job_name: demo\n    static_configs:\n"
                       f"      - targets: ['127.0.0.1:{self.target.port}']\n")
        globals_ = ("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "  evaluation_interval: 1s\n")
        rule_files = f"rule_files:\n  - {os.path.join(self.tmp, 'rules.yml')}\n"
        self.tally = TallyServer("auth:\n  enabled: false\n" + globals_ + rule_files + self.scrape,
                                 name="agg-e2e")
        self.tally.start()
        self.addCleanup(self.tally.kill)
        prom_config = os.path.join(self.tmp, "prometheus.yml")
        with open(prom_config, "w") as f:
            f.write(globals_ + rule_files + self.scrape)
        self.prom_port = self.start_prometheus(prom_config)

    def start_prometheus(self, config: str) -> int:
        for attempt in range(3):  # free_port() can race with another process
            port = free_port()
            log = open(os.path.join(self.tmp, f"prometheus-{attempt}.log"), "wb")
            self.addCleanup(log.close)
            proc = subprocess.Popen(
                [PROMETHEUS, f"--config.file={config}", f"--web.listen-address=127.0.0.1:{port}",
                 f"--storage.tsdb.path={os.path.join(self.tmp, f'tsdb-{attempt}')}"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            self.addCleanup(self.stop_process, proc)

            def ready():
                if proc.poll() is not None:
                    return "exited"
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=2) as r:
                        return "ready" if r.status == 200 else None
                except (urllib.error.URLError, OSError):
                    return None

            if wait_until(ready, 30, "Prometheus to become ready", interval=0.1) == "ready":
                return port
        self.fail("Prometheus did not start")

    @staticmethod
    def stop_process(proc):
        if proc.poll() is None:
            proc.terminate()  # by PID: the process this test started
            try:
                proc.wait(timeout=20 * TIME_SCALE)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def test_recorded_series_and_alerts_agree(self):
        for expr in RECORDED:
            want = wait_until(lambda: query(self.prom_port, expr), 30, f"Prometheus: {expr}")
            got = wait_until(lambda: query(self.tally.port, expr), 30, f"tally: {expr}")
            want, got = by_labels(want), by_labels(got)
            self.assertEqual(sorted(got), sorted(want), expr)
            for labels, value in want.items():
                self.assertAlmostEqual(got[labels], value, delta=1e-9, msg=f"{expr} {labels}")
        # The alerts themselves (labels, annotations, state) through both APIs.
        def alerts(port):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/alerts", timeout=10) as r:
                doc = json.load(r)
            return sorted(((tuple(sorted(a["labels"].items())),
                            tuple(sorted(a["annotations"].items())), a["state"], a["value"])
                           for a in doc["data"]["alerts"]))
        want = wait_until(lambda: alerts(self.prom_port), 30, "Prometheus alerts")
        self.assertEqual(alerts(self.tally.port), want)
        self.assertEqual(len(want), 2)  # rooms a (prod) and a (dev) are over 20
        self.tally.stop()


if __name__ == "__main__":
    unittest.main()
