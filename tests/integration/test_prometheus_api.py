"""The Prometheus HTTP API through the real binary: points reported with
/v1/metrics/report are queried with /api/v1/query, /api/v1/query_range and the
metadata endpoints, in Prometheus' JSON shapes (docs/api.md). Every expected
value is computed from what the test sent.
"""

from __future__ import annotations

import time
import unittest
import urllib.parse
import uuid

from tally_harness import ServerTestCase

REPORT = "/v1/metrics/report"


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


class PrometheusApiTest(ServerTestCase):
    CONFIG = """
exposition:
  histograms:
    - match: "papi_lat_*"
      buckets: [10, 100]
"""

    def report(self, point: dict) -> None:
        r = self.post(REPORT, point)
        self.assertEqual(r.status, 200, f"{point}: {r!r}")

    def api(self, path: str, params: dict, method: str = "GET", headers=None):
        query = urllib.parse.urlencode(params, doseq=True)
        if method == "GET":
            return self.server.request("GET", f"{path}?{query}", headers=headers)
        hdrs = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
        return self.server.request("POST", path, body=query.encode(), headers=hdrs)

    def data(self, r) -> object:
        self.assertEqual(r.status, 200, r)
        body = r.json()
        self.assertEqual(body["status"], "success", body)
        return body["data"]

    def test_instant_query_of_gauge_and_counter(self):
        gauge = unique("papi_temp")
        counter = unique("papi_req")
        now = int(time.time())
        for i, v in enumerate([1.5, 2.5, 4.0]):
            self.report({"name": gauge, "value": v, "type": "gauge", "tags": {"host": "a"},
                         "timestamp": now - 30 + 10 * i})
            self.report({"name": counter, "value": v, "type": "counter",
                         "timestamp": now - 30 + 10 * i})
        data = self.data(self.api("/api/v1/query", {"query": gauge, "time": now}))
        self.assertEqual(data, {"resultType": "vector", "result": [
            {"metric": {"__name__": gauge, "host": "a", "project": "default"},
             "value": [now, "4"]}]})
        data = self.data(self.api("/api/v1/query", {"query": f"{counter}_total", "time": now},
                                  method="POST"))
        self.assertEqual(data["result"][0]["value"], [now, "8"])
        data = self.data(self.api("/api/v1/query",
                                  {"query": f"sum(increase({counter}_total[1m]))", "time": now}))
        self.assertEqual(data["resultType"], "vector")
        self.assertGreater(float(data["result"][0]["value"][1]), 0)
        # The newest point equals /metrics.
        self.assertEqual(self.server.metrics().value(f"{counter}_total", project="default"), 8)

    def test_range_query_and_histogram(self):
        name = unique("papi_lat")
        now = int(time.time())
        for i, v in enumerate([5, 50, 500]):
            self.report({"name": name, "value": v, "type": "timing",
                         "timestamp": now - 30 + 10 * i})
        data = self.data(self.api("/api/v1/query_range", {
            "query": f"{name}_count", "start": now - 30, "end": now - 10, "step": "10s"}))
        self.assertEqual(data["resultType"], "matrix")
        self.assertEqual(data["result"][0]["values"],
                         [[now - 30, "1"], [now - 20, "2"], [now - 10, "3"]])
        data = self.data(self.api("/api/v1/query", {
            "query": f'{name}_bucket{{le="100"}}', "time": now}))
        self.assertEqual(data["result"][0]["value"][1], "2")
        data = self.data(self.api("/api/v1/query", {
            "query": f"quantile_over_time(0.5, {name}[1m])", "time": now}))
        self.assertEqual(data["result"][0]["value"][1], "50")
        series = self.data(self.api("/api/v1/series", {"match[]": [f"{name}_sum"]}))
        self.assertEqual(series, [{"__name__": f"{name}_sum", "project": "default"}])
        names = self.data(self.api("/api/v1/label/__name__/values", {}))
        self.assertIn(f"{name}_bucket", names)

    def test_errors_use_prometheus_envelope(self):
        r = self.api("/api/v1/query", {"query": "sum("})
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.json()["errorType"], "bad_data")
        r = self.api("/api/v1/query_range", {"query": "1", "start": 0, "end": 11001, "step": 1})
        self.assertEqual(r.status, 400, r)
        self.assertIn("exceeded maximum resolution of 11,000 points", r.json()["error"])

    def test_requires_a_key(self):
        r = self.api("/api/v1/query", {"query": "1"}, headers={"Authorization": None})
        self.assertEqual(r.status, 401, r)

    def test_buildinfo(self):
        self.assertEqual(self.data(self.api("/api/v1/status/buildinfo", {}))["version"], "2.42.0")


if __name__ == "__main__":
    unittest.main()
