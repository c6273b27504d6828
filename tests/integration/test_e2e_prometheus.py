"""End to end with the real Prometheus 2.42 (Debian's /usr/bin/prometheus):
ingest into tally, lint /metrics with promtool, let Prometheus scrape tally and
read the values back through Prometheus' query API."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request
import uuid

from tally_harness import DumpLogsOnFailure, TIME_SCALE, TallyServer, free_port, wait_until

PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"

# promtool lint messages that are acceptable on tally's /metrics. Empty on purpose:
# every series tally exposes (self-metrics and the names this test reports) is
# lint-clean, so any output is a regression. Add an entry only with a comment
# saying why the warning cannot be fixed in tally.
ACCEPTABLE_PROMTOOL_OUTPUT: tuple[str, ...] = ()


class PrometheusEndToEnd(DumpLogsOnFailure):

    @classmethod
    def setUpClass(cls) -> None:
        if not os.path.exists(PROMETHEUS):
            raise unittest.SkipTest(f"{PROMETHEUS} is not installed "
                                    "(apt-get install --no-install-recommends prometheus)")
        cls.tally = TallyServer(name="e2e").start()
        try:
            cls.ingest()
        except BaseException:
            cls.tally.dump_log("ingest failed")
            cls.tally.kill()
            raise

    @classmethod
    def tearDownClass(cls) -> None:
        tally = cls.__dict__.get("tally")
        if tally is not None:
            tally.stop()

    @classmethod
    def ingest(cls) -> None:
        suffix = uuid.uuid4().hex[:8]
        cls.counter = f"e2e_orders_{suffix}"
        cls.gauge = f"e2e_queue_depth_{suffix}"
        cls.timing = f"e2e_checkout_duration_{suffix}"
        cls.increments = [1, 2.5, 4, 10]
        cls.gauge_values = [17, 3.5, 42, 8.25]
        cls.timings = [0.7, 3, 12, 12, 240, 1800, 7000]

        def post(path, body):
            r = cls.tally.post_json(path, body)
            assert r.status == 200, r
            return r

        for v in cls.increments:
            post("/v1/metrics/report", {"name": cls.counter, "value": v, "type": "counter",
                                        "tags": {"shop": "berlin"}})
        for v in cls.gauge_values:  # sequential reports: the last one is the current level
            post("/v1/metrics/report", {"name": cls.gauge, "value": v, "type": "gauge"})
        post("/v1/metrics/batch", {"points": [
            {"name": cls.timing, "value": v, "type": "timing"} for v in cls.timings]})

    # -- promtool ------------------------------------------------------------

    def test_promtool_check_metrics(self):
        if not os.path.exists(PROMTOOL):
            self.skipTest("promtool is not installed")
        r = self.tally.get("/metrics")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.headers["content-type"].startswith("text/plain; version=0.0.4"),
                        r.headers)
        self.assertIn(f"{self.counter}_total".encode(), r.body)
        res = subprocess.run([PROMTOOL, "check", "metrics"], input=r.body, capture_output=True,
                             timeout=60 * TIME_SCALE)
        output = (res.stdout + res.stderr).decode("utf-8", "replace")
        problems = [l for l in output.splitlines()
                    if l.strip() and not any(a in l for a in ACCEPTABLE_PROMTOOL_OUTPUT)]
        self.assertEqual(problems, [], f"promtool check metrics:\n{output}")
        self.assertEqual(res.returncode, 0, output)

    # -- a real Prometheus scraping tally -----------------------------------

    def start_prometheus(self) -> int:
        tmp = self.prom_tmp = tempfile.mkdtemp(prefix="tally-e2e-prom-")
        config = os.path.join(tmp, "prometheus.yml")
        with open(config, "w") as f:
            f.write(f"""global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: tally
    metrics_path: /metrics
    static_configs:
      - targets: ["127.0.0.1:{self.tally.port}"]
""")
        for attempt in range(3):  # free_port() can race with another process
            port = free_port()
            log_path = os.path.join(tmp, f"prometheus-{attempt}.log")
            log = open(log_path, "wb")
            proc = subprocess.Popen(
                [PROMETHEUS, f"--config.file={config}", f"--web.listen-address=127.0.0.1:{port}",
                 f"--storage.tsdb.path={os.path.join(tmp, f'tsdb-{attempt}')}"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            self.prometheus, self.prometheus_log = proc, log_path
            self.addCleanup(log.close)

            def ready():
                if proc.poll() is not None:
                    return "exited"
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=2) as r:
                        return "ready" if r.status == 200 else None
                except (urllib.error.URLError, OSError):
                    return None

            state = wait_until(ready, 30, "Prometheus to become ready", interval=0.1)
            if state == "ready":
                return port
        self.dump_prometheus_log()
        self.fail("Prometheus did not start")

    def tearDown(self) -> None:
        proc = getattr(self, "prometheus", None)
        if proc is not None and proc.poll() is None:
            proc.terminate()  # by PID: the process this test started
            try:
                proc.wait(timeout=20 * TIME_SCALE)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def run(self, result=None):
        try:
            return super().run(result)  # prints the logs on failure (on_failure)
        finally:
            if getattr(self, "prom_tmp", None):
                shutil.rmtree(self.prom_tmp, ignore_errors=True)

    def on_failure(self) -> None:
        self.dump_prometheus_log()
        self.tally.dump_log(f"{self.id()} failed")

    def dump_prometheus_log(self) -> None:
        path = getattr(self, "prometheus_log", None)
        if path and os.path.exists(path):
            with open(path, "rb") as f:
                text = f.read().decode("utf-8", "replace")[-10000:]
            sys.stderr.write(f"\n----- prometheus log ({path}) -----\n{text}\n-----\n")

    def query(self, port: int, expr: str) -> list:
        url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(url, timeout=10) as r:
            doc = json.load(r)
        assert doc["status"] == "success", doc
        return doc["data"]["result"]

    def test_prometheus_scrapes_tally(self):
        # The le of one finite bucket, spelled as tally exposes it, from the middle.
        buckets = self.tally.metrics().find(f"{self.timing}_bucket", project="default")
        finite = [l["le"] for l, _ in buckets if l["le"] != "+Inf"]
        self.assertGreater(len(finite), 2, buckets)
        le = finite[len(finite) // 2]
        sel = '{job="tally",project="default"}'
        expected = {
            f'up{{job="tally"}}': 1.0,
            f'{self.counter}_total{{job="tally",project="default",shop="berlin"}}':
                float(sum(self.increments)),
            f"{self.gauge}{sel}": float(self.gauge_values[-1]),
            f"{self.timing}_count{sel}": float(len(self.timings)),
            f"{self.timing}_sum{sel}": float(sum(self.timings)),
            f'{self.timing}_bucket{{job="tally",project="default",le="{le}"}}':
                float(sum(1 for v in self.timings if v <= float(le))),
        }
        port = self.start_prometheus()
        got: dict = {}

        def all_scraped():
            def same(a, b):
                return isinstance(a, float) and math.isclose(a, b, rel_tol=1e-12)

            for expr, want in expected.items():
                if same(got.get(expr), want):
                    continue
                result = self.query(port, expr)
                if len(result) != 1:
                    got[expr] = result
                    return False
                got[expr] = float(result[0]["value"][1])
                if not same(got[expr], want):
                    return False
            return True

        try:
            wait_until(all_scraped, 60, "Prometheus to scrape tally's values", interval=0.25)
        except AssertionError as e:
            self.fail(f"{e}\nexpected: {expected}\ngot: {got}")
        # The instance label is tally's address: the data came from the scrape.
        result = self.query(port, f"{self.gauge}{sel}")
        self.assertEqual(result[0]["metric"]["instance"], f"127.0.0.1:{self.tally.port}")


if __name__ == "__main__":
    unittest.main()
