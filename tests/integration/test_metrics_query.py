"""GET /v1/metrics/query through the real binary: points with timestamps are
ingested with /v1/metrics/batch, queried, and every answer is compared with a
brute force in Python (sort and interpolate, math.fsum) over what the test
sent. Also auth (401/403), tenancy (another project or account sees nothing,
project_id with account:admin) and bad parameters (400 naming the param).
"""

from __future__ import annotations

import json
import math
import random
import time
import unittest
import urllib.parse
import uuid
from typing import Any, Optional

from tally_harness import ServerTestCase

BATCH = "/v1/metrics/batch"
QUERY = "/v1/metrics/query"
MINUTE = 60_000


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def iso(ms: int) -> str:
    t = time.gmtime(ms // 1000)
    frac = ms % 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", t) + (f".{frac:03d}" if frac else "") + "Z"


def quantile(values: list[float], q: float) -> float:
    """numpy's default (linear) percentile, as API.md writes it."""
    x = sorted(values)
    h = q * (len(x) - 1)
    lo = math.floor(h)
    if lo + 1 >= len(x):
        return x[lo]
    return x[lo] + (h - lo) * (x[lo + 1] - x[lo])


def aggregate(values: list[float], agg: str) -> float:
    if agg == "sum":
        return math.fsum(values)
    if agg == "avg":
        return math.fsum(values) / len(values)
    if agg == "count":
        return float(len(values))
    if agg == "min":
        return min(values)
    if agg == "max":
        return max(values)
    assert agg.startswith("p")
    number = agg[1:]
    if number.isdigit() and len(number) >= 3 and set(number) == {"9"}:
        number = number[:2] + "." + number[2:]
    return quantile(values, float(number) / 100)


def brute_force(points: list[dict], since: int, until: int, agg: str,
                window_ms: Optional[int], tags: dict, group_by: list[str]) -> dict:
    """{group tags as sorted tuple: [(ts_iso, value), ...]} from the sent points."""
    buckets: dict[tuple, dict[int, list[float]]] = {}
    for p in points:
        if not since <= p["timestamp"] < until:
            continue
        if any(p["tags"].get(k) != v for k, v in tags.items()):
            continue
        group = tuple(sorted((k, p["tags"][k]) for k in group_by if k in p["tags"]))
        start = p["timestamp"] // window_ms * window_ms if window_ms else since
        buckets.setdefault(group, {}).setdefault(start, []).append(p["value"])
    return {g: [(iso(ts), aggregate(v, agg)) for ts, v in sorted(b.items())]
            for g, b in buckets.items()}


class MetricsQueryTest(ServerTestCase):

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        cls.rng = random.Random(20250115)
        # Timings over the last 50 minutes: 3 hosts x 2 regions, some without a
        # region, equal values and shared timestamps.
        cls.now = int(time.time() * 1000)
        cls.lat = unique("it.query.lat")
        cls.lat_points = []
        for i in range(3000):
            host = cls.rng.choice(["a", "b", "c"])
            tags = {"host": host}
            if host != "c":
                tags["region"] = cls.rng.choice(["eu", "us"])
            if i % 7 == 0 and cls.lat_points:
                ts = cls.lat_points[-1]["timestamp"]
            else:
                ts = cls.now - cls.rng.randrange(60_000, 50 * MINUTE)
            value = (float(cls.rng.randrange(5)) if i % 3 == 0
                     else round(cls.rng.uniform(0.5, 900.0), 3))
            cls.lat_points.append({"name": cls.lat, "type": "timing", "value": value,
                                   "tags": tags, "timestamp": ts})
        cls.ingest(cls.lat_points)

    @classmethod
    def ingest(cls, points: list[dict], key: Any = None) -> None:
        headers = None if key is None else cls.server.auth(key)
        for i in range(0, len(points), 1000):
            r = cls.server.post_json(BATCH, {"points": points[i:i + 1000]}, headers)
            assert r.status == 200, r
            body = r.json()
            assert body["rejected"] == 0 and body["accepted"] == len(points[i:i + 1000]), body

    def query(self, params: dict, key: Any = None, status: int = 200) -> Any:
        headers = None if key is None else self.server.auth(key)
        r = self.server.get(QUERY + "?" + urllib.parse.urlencode(params), headers=headers)
        self.assertEqual(r.status, status, f"{params}: {r!r}")
        return r.json()

    def assert_matches(self, got: list, want: list, msg: str) -> None:
        self.assertEqual([p["ts"] for p in got], [ts for ts, _ in want], msg)
        for p, (_, v) in zip(got, want):
            self.assertTrue(math.isclose(p["value"], v, rel_tol=1e-9, abs_tol=1e-9),
                            f"{msg}: {p} != {v}")

    # -- answers ------------------------------------------------------------------

    def test_random_queries_match_the_brute_force(self):
        since_all = self.now - 51 * MINUTE
        aggs = ["p50", "p90", "p95", "p99", "p999", "p0.1", "p99.9", "p75", "sum", "avg",
                "count", "min", "max"]
        windows = [None, "1m", "5m", "7m", "1h", "90s"]
        group_bys = [[], ["host"], ["region"], ["region", "host"]]
        filters = [{}, {"host": "a"}, {"region": "eu", "host": "b"}, {"host": "zz"}]
        checked = 0
        for i in range(60):
            agg = self.rng.choice(aggs)
            window = self.rng.choice(windows)
            group_by = self.rng.choice(group_bys)
            tags = self.rng.choice(filters)
            since = self.rng.randrange(since_all, self.now - 10 * MINUTE)
            until = self.rng.randrange(since + 1, self.now + 1)
            if i % 4 == 0:
                since, until = since_all, self.now
            # Both spellings: as reported (dots) and as stored (underscores).
            params = {"name": self.lat if i % 2 else self.lat.replace(".", "_"),
                      "agg": agg, "since": since, "until": until}
            if window:
                params["window"] = window
            if group_by:
                params["group_by"] = ",".join(group_by)
            if tags:
                if i % 3 == 0:
                    for k, v in tags.items():
                        params[f"tags[{k}]"] = v
                else:
                    params["tags"] = ",".join(f"{k}:{v}" for k, v in tags.items())
            window_ms = {None: None, "1m": MINUTE, "5m": 5 * MINUTE, "7m": 7 * MINUTE,
                         "1h": 60 * MINUTE, "90s": 90_000}[window]
            want = brute_force(self.lat_points, since, until, agg, window_ms, tags, group_by)
            body = self.query(params)
            msg = json.dumps(params)
            self.assertEqual(body["name"], self.lat.replace(".", "_"), msg)
            self.assertEqual(body["agg"], agg)
            self.assertEqual(body["window"], window)
            self.assertEqual(body["since"], iso(since))
            self.assertEqual(body["until"], iso(until))
            self.assertEqual(body["tags"], tags)
            self.assertEqual(body["type"], "timing")
            if not group_by:
                self.assertNotIn("series", body)
                self.assert_matches(body["points"], want.get((), []), msg)
                checked += len(body["points"])
                continue
            self.assertEqual(body["group_by"], group_by)
            got = {tuple(sorted(s["tags"].items())): s["points"] for s in body["series"]}
            self.assertEqual(set(got), set(want), msg)
            self.assertEqual([tuple(sorted(s["tags"].items())) for s in body["series"]],
                             sorted(got), f"{msg}: series sorted by tags")
            for g in want:
                self.assert_matches(got[g], want[g], f"{msg} group {g}")
                checked += len(got[g])
        self.assertGreater(checked, 300)

    def test_counters_sum_increments_under_every_spelling(self):
        name = unique("it.jobs")
        t0 = self.now - 20 * MINUTE
        points = [{"name": name, "type": "counter", "value": v, "timestamp": t0 + 1000 * i,
                   "tags": {"queue": "q1" if i % 2 else "q2"}}
                  for i, v in enumerate([1, 2, 3, 4, 5, 0, 10])]
        self.ingest(points)
        stored = name.replace(".", "_")
        for spelling in (name, stored, stored + "_total"):
            body = self.query({"name": spelling, "agg": "sum"})
            self.assertEqual(body["points"], [{"ts": body["since"], "value": 25}], spelling)
            self.assertEqual(body["name"], stored)
            self.assertEqual(body["type"], "counter")
        body = self.query({"name": name, "agg": "count", "group_by": "queue"})
        self.assertEqual([(s["tags"], s["points"][0]["value"]) for s in body["series"]],
                         [({"queue": "q1"}, 3), ({"queue": "q2"}, 4)])

    def test_default_range_is_the_last_hour(self):
        name = unique("it.gauge")
        now = int(time.time() * 1000)
        self.ingest([{"name": name, "value": 1, "timestamp": now - 2 * 60 * MINUTE},
                     {"name": name, "value": 5, "timestamp": now - 30 * MINUTE},
                     {"name": name, "value": 9, "timestamp": now - 10 * MINUTE}])
        body = self.query({"name": name, "agg": "min"})
        self.assertEqual(len(body["points"]), 1)
        self.assertEqual(body["points"][0]["value"], 5)
        self.assertEqual(self.query({"name": name, "agg": "count", "since": "-3h"})
                         ["points"][0]["value"], 3)

    def test_unknown_metric_is_empty_not_an_error(self):
        body = self.query({"name": unique("it.never"), "agg": "p99", "window": "1m"})
        self.assertEqual(body["points"], [])
        self.assertIsNone(body["type"])

    # -- auth and tenancy ------------------------------------------------------------

    def cli_json(self, *args: str) -> Any:
        return json.loads(self.server.tally_cli(*args, "--json").stdout)

    def test_auth_needs_a_key_with_metrics_read(self):
        params = urllib.parse.urlencode({"name": self.lat, "agg": "count"})
        r = self.server.get(f"{QUERY}?{params}", headers=self.server.auth(None))
        self.assert_error(r, 401, "unauthorized")
        writer = self.cli_json("keys", "create", "--project", "default",
                               "--scopes", "metrics:write")["key_secret"]
        r = self.server.get(f"{QUERY}?{params}", headers=self.server.auth(writer))
        err = self.assert_error(r, 403, "forbidden")
        self.assertIn("metrics:read", err["message"])
        reader = self.cli_json("keys", "create", "--project", "default",
                               "--scopes", "metrics:read")["key_secret"]
        body = self.query({"name": self.lat, "agg": "count", "since": self.now - 51 * MINUTE,
                           "until": self.now}, key=reader)
        self.assertEqual(body["points"][0]["value"], len(self.lat_points))

    def test_tenancy_and_project_id(self):
        whoami = self.server.get("/v1/account/whoami").json()
        account = whoami["account_id"]
        # A sibling project of the admin's account, with data of its own.
        sibling = self.cli_json("projects", "create", unique("sib"), "--account",
                                account)["project_id"]
        sibling_key = self.cli_json("keys", "create", "--project", sibling,
                                    "--scopes", "metrics:read,metrics:write")["key_secret"]
        self.ingest([{"name": self.lat, "type": "timing", "value": 12345,
                      "timestamp": self.now - 5 * MINUTE}], key=sibling_key)
        # Another account altogether.
        other_account = self.cli_json("accounts", "create", unique("acct"), "--tier",
                                      "enterprise")["account_id"]
        other_project = self.cli_json("projects", "create", unique("proj"), "--account",
                                      other_account)["project_id"]
        other_key = self.cli_json("keys", "create", "--project", other_project)["key_secret"]

        base = {"name": self.lat, "agg": "max", "since": self.now - 51 * MINUTE,
                "until": self.now}
        mine = max(p["value"] for p in self.lat_points)
        self.assertEqual(self.query(base)["points"][0]["value"], mine)
        # Each key sees its own project only.
        self.assertEqual(self.query(base, key=sibling_key)["points"][0]["value"], 12345)
        self.assertEqual(self.query(base, key=other_key)["points"], [])
        # account:admin may name a project of its account.
        self.assertEqual(self.query({**base, "project_id": sibling})["points"][0]["value"],
                         12345)
        self.assertEqual(self.query({**base, "project_id": "default"})["points"][0]["value"],
                         mine)
        # Without account:admin, or across accounts: not found, like an unknown id.
        for key, project in ((sibling_key, "default"), (other_key, "default"),
                             (other_key, sibling), (None, other_project),
                             (None, "prj_does_not_exist")):
            with self.subTest(project=project):
                headers = None if key is None else self.server.auth(key)
                r = self.server.get(QUERY + "?" + urllib.parse.urlencode(
                    {**base, "project_id": project}), headers=headers)
                self.assert_error(r, 404, "not_found", param="project_id")
                self.assertNotIn(b"12345", r.body)

    # -- bad input --------------------------------------------------------------------

    def test_bad_parameters_name_the_parameter(self):
        name = self.lat
        cases = [
            ({"agg": "p99"}, "name"),
            ({"name": "bad name", "agg": "p99"}, "name"),
            ({"name": name}, "agg"),
            ({"name": name, "agg": "median"}, "agg"),
            ({"name": name, "agg": "p0"}, "agg"),
            ({"name": name, "agg": "p100"}, "agg"),
            ({"name": name, "agg": "p101"}, "agg"),
            ({"name": name, "agg": "p99", "tags": "host"}, "tags"),
            ({"name": name, "agg": "p99", "tags": "host:a,host:b"}, "tags"),
            ({"name": name, "agg": "p99", "window": "0s"}, "window"),
            ({"name": name, "agg": "p99", "window": "5 minutes"}, "window"),
            ({"name": name, "agg": "p99", "window": "1s", "since": "-1d"}, "window"),
            ({"name": name, "agg": "p99", "since": "yesterday"}, "since"),
            ({"name": name, "agg": "p99", "since": "now"}, "since"),
            ({"name": name, "agg": "p99", "since": "-1h", "until": "-2h"}, "since"),
            ({"name": name, "agg": "p99", "until": "2025-02-30"}, "until"),
            ({"name": name, "agg": "p99", "group_by": "host,,region"}, "group_by"),
            ({"name": name, "agg": "p99", "step": "60"}, "step"),
        ]
        for params, param in cases:
            with self.subTest(params=params):
                r = self.server.get(QUERY + "?" + urllib.parse.urlencode(params))
                err = self.assert_error(r, 400, "invalid_request", param=param)
                self.assertGreater(len(err["message"]), 10)
        self.assert_serving()


if __name__ == "__main__":
    unittest.main()
