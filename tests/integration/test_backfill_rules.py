"""`tally backfill-rules` and POST /api/v1/admin/backfill through the real binary
(issue 5): raw points reported with explicit timestamps over the past hours, a
recording rule added afterwards and backfilled, then checked via
/api/v1/query_range against the same expression queried directly
(/api/v1/query?time=) at every step; bad input answered with 4xx naming the
field; the output survives kill -9 (WAL replay) and a clean restart (snapshot).
Every wait polls with a deadline."""

from __future__ import annotations

import json
import os
import subprocess
import time
import unittest
import urllib.parse

from tally_harness import TIME_SCALE, DumpLogsOnFailure, TallyServer, tally_bin, wait_until

MIN = 60

RULES = """groups:
  - name: latency
    interval: 1m
    rules:
      - record: route:api_latency:p90_5m
        expr: quantile_over_time(0.9, api_latency[5m])
      - record: kind:jobs:rate5m
        expr: sum by (kind) (rate(jobs_total[5m]))
      # Reads the rule above in the same evaluation.
      - record: jobs:rate5m
        expr: sum(kind:jobs:rate5m)
  - name: alerts
    interval: 2m
    rules:
      - alert: SlowRoute
        expr: route:api_latency:p90_5m > 150
        for: 4m
        labels: {severity: page}
"""

# Backfilled with the form encoding and a server-side file path.
OTHER_RULES = """groups:
  - name: maxima
    interval: 5m
    rules:
      - record: route:api_latency:max10m
        expr: max_over_time(api_latency[10m])
"""


def rfc3339(t: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


class BackfillRulesTest(DumpLogsOnFailure):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = TallyServer(name="backfill").start()
        wait_until(cls.server.api_key, 10 * TIME_SCALE, "the bootstrap admin key")
        now = time.time()
        # Whole minutes, so the expected steps are easy to list.
        cls.t0 = int(now // 3600 * 3600) - 3 * 3600
        cls.end_data = int(now) - 60
        cls.report_points()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        super().tearDownClass()

    def on_failure(self):
        self.server.dump_log(f"{self.id()} failed")

    @classmethod
    def report_points(cls):
        """Timings on two routes every 20 s (route b slow for a while) and a counter,
        with explicit timestamps, from t0 to a minute ago."""
        s = cls.server
        points = []
        i = 0
        for t in range(cls.t0, cls.end_data, 20):
            slow = (t - cls.t0) // 1800 % 2 == 1
            points.append({"name": "api.latency", "type": "timing", "timestamp": t,
                           "value": 20 + (i * 37) % 60, "tags": {"route": "a"}})
            points.append({"name": "api.latency", "type": "timing", "timestamp": t,
                           "value": (200 if slow else 40) + (i * 13) % 50, "tags": {"route": "b"}})
            points.append({"name": "jobs", "type": "counter", "timestamp": t,
                           "value": 1 + i % 4, "tags": {"kind": "x" if i % 3 else "y"}})
            i += 1
        for k in range(0, len(points), 5000):
            r = s.post_json("/v1/metrics/batch", {"points": points[k:k + 5000]})
            assert r.status == 200 and r.json()["rejected"] == 0, r
        # A few through /v1/metrics/report too (the single-point path).
        for t in range(cls.end_data - 40, cls.end_data, 20):
            r = s.post_json("/v1/metrics/report", {"name": "jobs", "type": "counter",
                                                   "value": 2, "timestamp": t,
                                                   "tags": {"kind": "x"}})
            assert r.status == 200, r

    # -- helpers --------------------------------------------------------------

    def query(self, expr: str, t: int) -> dict:
        q = urllib.parse.urlencode({"query": expr, "time": t})
        r = self.server.get(f"/api/v1/query?{q}")
        self.assertEqual(r.status, 200, r)
        return {json.dumps(s["metric"], sort_keys=True): float(s["value"][1])
                for s in r.json()["data"]["result"]}

    def query_range(self, expr: str, start: int, end: int, step: int) -> dict:
        q = urllib.parse.urlencode({"query": expr, "start": start, "end": end, "step": step})
        r = self.server.get(f"/api/v1/query_range?{q}")
        self.assertEqual(r.status, 200, r)
        out = {}
        for s in r.json()["data"]["result"]:
            out[json.dumps(s["metric"], sort_keys=True)] = {int(t): float(v) for t, v in s["values"]}
        return out

    def backfill(self, body, headers=None):
        return self.server.post_json("/api/v1/admin/backfill", body, headers=headers,
                                     timeout=120)

    def assert_error(self, r, status, param, code=None, contains=None):
        self.assertEqual(r.status, status, r)
        err = r.json()["error"]
        self.assertEqual(err.get("param"), param, err)
        if code is not None:
            self.assertEqual(err["code"], code, err)
        if contains is not None:
            self.assertIn(contains, err["message"])
        return err

    def check_recorded(self, start: int, end: int):
        """Every step of the recorded series equals the expression queried directly."""
        rec = self.query_range("route:api_latency:p90_5m", start, end, MIN)
        rate = self.query_range("kind:jobs:rate5m", start, end, MIN)
        self.assertEqual(len(rec), 2, rec.keys())
        self.assertEqual(len(rate), 2, rate.keys())
        steps = list(range(start, end + 1, MIN))
        for series in list(rec.values()) + list(rate.values()):
            self.assertEqual(sorted(series), steps)
        for t in steps:
            for expr, record, recorded in (
                    ("quantile_over_time(0.9, api_latency[5m])", "route:api_latency:p90_5m", rec),
                    ("sum by (kind) (rate(jobs_total[5m]))", "kind:jobs:rate5m", rate)):
                want = {}
                for k, v in self.query(expr, t).items():
                    labels = json.loads(k)
                    labels["__name__"] = record
                    want[json.dumps(labels, sort_keys=True)] = v
                got = {k: v[t] for k, v in recorded.items()}
                self.assertEqual(got, want, f"{record} at {t}")
        total = self.query_range("jobs:rate5m", start, end, MIN)
        self.assertEqual(len(total), 1)
        for t, v in next(iter(total.values())).items():
            self.assertAlmostEqual(v, sum(s[t] for s in rate.values()), places=9)

    # -- tests ----------------------------------------------------------------

    def test_1_backfill_with_the_cli_then_survives_restarts(self):
        s = self.server
        start, end = self.t0 + 3600, self.t0 + 2 * 3600
        rules = os.path.join(s.tmp, "rules.yml")
        with open(rules, "w", encoding="utf-8") as f:
            f.write(RULES)
        # Nothing recorded before.
        self.assertEqual(self.query_range("route:api_latency:p90_5m", start, end, MIN), {})
        began = time.monotonic()
        out = subprocess.run(
            [tally_bin(), "backfill-rules", "--url", f"http://127.0.0.1:{s.port}",
             "--key", s.api_key(), "--start", rfc3339(start - 30), "--end", str(end + 30), rules],
            capture_output=True, text=True, timeout=120 * TIME_SCALE)
        seconds = time.monotonic() - began
        self.assertEqual(out.returncode, 0, out.stderr + out.stdout)
        self.assertIn("61 steps", out.stdout)  # start-30s aligns up to start
        self.assertIn("group latency: 61 steps", out.stdout)
        self.assertIn("group alerts: 31 steps", out.stdout)
        print(f"\nbackfill-rules: {out.stdout.strip()} (wall {seconds:.2f} s)")
        self.check_recorded(start, end)

        # Alert history: ALERTS for route b only (slow half of the time), nothing live.
        alerts = self.query_range('ALERTS{alertname="SlowRoute"}', start, end, 2 * MIN)
        self.assertTrue(alerts)
        for k in alerts:
            self.assertEqual(json.loads(k)["route"], "b")
        states = {json.loads(k)["alertstate"] for k in alerts}
        self.assertEqual(states, {"pending", "firing"})
        self.assertEqual(s.get("/api/v1/alerts").json()["data"]["alerts"], [])

        # The same range again: refused, naming the first stored timestamp.
        r = self.backfill({"start": start, "end": end, "rules": RULES})
        err = self.assert_error(r, 409, "end", "conflict", rfc3339(start))
        self.assertIn("route:api_latency:p90_5m", err["message"])

        # kill -9: the output comes back from the WAL.
        s.kill9()
        s.start(wait_ready=True)
        self.check_recorded(start, end)
        # A clean stop writes a snapshot; start from it.
        s.stop(keep_data=True)
        s.start(wait_ready=True)
        self.check_recorded(start, end)
        self.assertEqual(len(self.query_range('ALERTS{alertname="SlowRoute"}', start, end,
                                              2 * MIN)), len(alerts))

    def test_2_form_request_with_a_server_file_and_a_group(self):
        s = self.server
        path = os.path.join(s.tmp, "other.yml")
        with open(path, "w", encoding="utf-8") as f:
            f.write(OTHER_RULES)
        start, end = self.t0 + 1800, self.t0 + 2 * 3600 + 1800
        form = urllib.parse.urlencode({"start": rfc3339(start), "end": end, "file": path,
                                       "group": "maxima"})
        r = s.request("POST", "/api/v1/admin/backfill", body=form.encode(),
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(r.status, 200, r)
        d = r.json()["data"]
        self.assertEqual(d["steps"], 25)
        self.assertEqual([g["name"] for g in d["groups"]], ["maxima"])
        self.assertEqual(d["groups"][0]["file"], path)
        self.assertEqual(d["samplesWritten"], 50)  # 25 steps x 2 routes
        self.assertEqual(d["samplesRejected"], 0)
        got = self.query_range("route:api_latency:max10m", start, end, 5 * MIN)
        self.assertEqual(len(got), 2)
        for t in range(start, end + 1, 5 * MIN):
            for k, v in self.query("max_over_time(api_latency[10m])", t).items():
                labels = json.loads(k)
                labels["__name__"] = "route:api_latency:max10m"
                self.assertEqual(got[json.dumps(labels, sort_keys=True)][t], v)

    def test_3_bad_input_names_the_field(self):
        s = self.server
        now = int(time.time())
        base = {"start": now - 3600, "end": now - 1800, "rules": RULES}
        cases = [
            ({**base, "start": now - 600}, 400, "end", "before start"),
            ({k: v for k, v in base.items() if k != "start"}, 400, "start", "required"),
            ({**base, "start": "yesterday-ish"}, 400, "start", None),
            ({**base, "end": now + 3600}, 400, "end", "in the future"),
            ({**base, "start": now - 40 * 86400}, 400, "start", "retention"),
            ({**base, "groups": ["latency", "nope"]}, 400, "group", '"nope"'),
            ({**base, "rules": "groups: [unclosed"}, 400, "rules[0]", None),
            ({**base, "rules": [RULES, "groups:\n  - name: x\n    rules:\n      - record: 'a b'\n"
                                       "        expr: up\n"]}, 400, "rules[1]",
             "invalid recording rule name"),
            ({**base, "rules": [{"name": "mine.yml", "yaml": "groups:\n  - name: g\n    rules:\n"
                                 "      - record: x\n        expr: sum(\n"}]},
             400, "rules[0]", "mine.yml: 5:"),
            ({**base, "rules": [42]}, 400, "rules[0]", None),
            ({"start": now - 3600, "end": now - 1800}, 400, "rules", None),
            ({**base, "files": ["/nonexistent/rules.yml"], "rules": []}, 400, "files[0]",
             "/nonexistent/rules.yml"),
            ({**base, "bogus": 1}, 400, "bogus", "unknown field"),
        ]
        for body, status, param, contains in cases:
            with self.subTest(body={k: v for k, v in body.items() if k != "rules"}, param=param):
                self.assert_error(self.backfill(body), status, param, contains=contains)
        # Too much work: a 1s group over 14 days is 1.2M evaluations.
        fast = "groups:\n  - name: fast\n    interval: 1s\n    rules:\n      - record: f\n        expr: vector(1)\n"
        r = self.backfill({"start": now - 14 * 86400, "end": now - 60, "rules": fast})
        self.assert_error(r, 422, "end", "execution", "limit of 1000000")
        r = s.request("POST", "/api/v1/admin/backfill", body=b"start=1",
                      headers={"Content-Type": "text/plain"})
        self.assertEqual(r.status, 415, r)
        # Auth: no key 401; a key without account:admin 403.
        self.assertEqual(self.backfill(base, headers=s.auth(None)).status, 401)
        reader = json.loads(s.tally_cli("keys", "create", "--project", "default", "--scopes",
                                        "metrics:read", "--json").stdout)["key_secret"]
        self.assertEqual(self.backfill(base, headers=s.auth(reader)).status, 403)
        # Nothing was written by any refused request.
        self.assertEqual(self.query_range("f", now - 3600, now, MIN), {})
        # The CLI reports a local file error without calling the server, and the
        # server's refusal with its field.
        bad = os.path.join(s.tmp, "bad.yml")
        with open(bad, "w", encoding="utf-8") as f:
            f.write("groups:\n  - name: g\n    rules:\n      - record: x\n")
        out = subprocess.run([tally_bin(), "backfill-rules", "--url", f"http://127.0.0.1:{s.port}",
                              "--key", s.api_key(), "--start=-1h", bad],
                             capture_output=True, text=True, timeout=60 * TIME_SCALE)
        self.assertEqual(out.returncode, 1)
        self.assertIn(f"{bad}: ", out.stderr)
        good = os.path.join(s.tmp, "good.yml")
        with open(good, "w", encoding="utf-8") as f:
            f.write(RULES)
        out = subprocess.run([tally_bin(), "backfill-rules", "--url", f"http://127.0.0.1:{s.port}",
                              "--key", s.api_key(), "--start=-1h", "--group", "nope", good],
                             capture_output=True, text=True, timeout=60 * TIME_SCALE)
        self.assertEqual(out.returncode, 1, out.stdout)
        self.assertIn("HTTP 400 (group)", out.stderr)
        out = subprocess.run([tally_bin(), "backfill-rules", "--url", "http://127.0.0.1:1",
                              "--start=-1h", good],
                             capture_output=True, text=True, timeout=60 * TIME_SCALE)
        self.assertEqual(out.returncode, 2, out.stderr)


if __name__ == "__main__":
    unittest.main()
