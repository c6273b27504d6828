"""Oracle test for cost analytics, entities and POST /v1/calls/stats.

Generates TALLY_ORACLE_EVENTS random LLM call events (default 100,000; fixed
seed) over two projects, many models, entities, sessions, tags and times that
straddle DST changes (America/New_York and Europe/Berlin in March and
October/November), month and week edges; ingests them over HTTP with
POST /v1/events in batches, then compares every analytics route and
calls/stats (UTC and local time zones) with a brute-force computation in
Python (zoneinfo for local days), and every CSV output (parsed with the csv
module) with its JSON twin.

    cd tests/integration && TALLY_BIN=../../build/app/tally TALLY_ORACLE_EVENTS=20000 \
        python3 -m unittest -v test_analytics_oracle
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import random
import time
import unittest
import urllib.parse
from collections import defaultdict
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from tally_harness import ServerTestCase

N_EVENTS = int(os.environ.get("TALLY_ORACLE_EVENTS", "100000"))
SEED = 20250309
DAY_MS = 86_400_000
HOUR_MS = 3_600_000

MODELS = [  # (model, provider, cost per event range in nano-USD; 0 = unknown model, no cost_usd)
    ("gpt-4o", "openai", 40_000_000),
    ("gpt-4o-mini", "openai", 3_000_000),
    ("claude-3-5-sonnet", "anthropic", 60_000_000),
    ("claude-3-haiku", "anthropic", 5_000_000),
    ("mistral-large", "mistral", 20_000_000),
    ("llama-3-70b", "", 8_000_000),
    ("acme-secret-model-x", "acme", 0),
]
WINDOWS = [  # [start, end) in ms: late Feb to early April, late October to mid November 2025
    (1740355200000, 1743984000000),  # 2025-02-24 .. 2025-04-07
    (1760918400000, 1762732800000),  # 2025-10-20 .. 2025-11-10
]
EDGE_TIMES = [  # instants that sit on a boundary of some bucket
    "2025-03-01T00:00:00Z", "2025-02-28T23:59:59.999Z", "2025-03-09T07:00:00Z",
    "2025-03-09T06:59:59.999Z", "2025-03-09T05:00:00Z", "2025-03-30T01:00:00Z",
    "2025-03-29T23:00:00Z", "2025-03-30T22:00:00Z", "2025-03-31T00:00:00Z", "2025-04-01T00:00:00Z",
    "2025-10-26T00:59:59.999Z", "2025-10-26T01:00:00Z", "2025-10-25T22:00:00Z",
    "2025-10-26T23:00:00Z", "2025-11-01T00:00:00Z", "2025-11-02T04:00:00Z",
    "2025-11-02T05:00:00Z", "2025-11-02T06:00:00Z", "2025-11-03T05:00:00Z", "2025-11-03T00:00:00Z",
]


def iso_ms(text: str) -> int:
    return int(round(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000))


def fmt(ms: int) -> str:
    dt = datetime.fromtimestamp(ms // 1000, tz=timezone.utc)
    s = dt.strftime("%Y-%m-%dT%H:%M:%S")
    return s + (f".{ms % 1000:03d}Z" if ms % 1000 else "Z")


def usd(nano: int) -> float:
    return nano / 1e9


def generate(rng: random.Random, n: int):
    """Events as dicts with integer nano costs and the request JSON alongside."""
    entities = [("customer", f"cust-{i}") for i in range(1500)] + \
               [("team", f"team-{i}") for i in range(60)] + [("customer", "acme, \"inc\"")]
    sessions = {}
    events = []
    edge = [iso_ms(t) for t in EDGE_TIMES]
    for i in range(n):
        if i < len(edge) * 3:
            ts = edge[i % len(edge)]
        else:
            w0, w1 = WINDOWS[0] if rng.random() < 0.67 else WINDOWS[1]
            ts = rng.randrange(w0, w1)
        model, provider, max_cost = MODELS[rng.choices(range(len(MODELS)),
                                                       weights=[30, 30, 15, 10, 8, 6, 1])[0]]
        ent = None
        if rng.random() < 0.9:
            # Skewed: a few big entities, a long tail.
            ent = entities[min(int(rng.paretovariate(1.1)) - 1, len(entities) - 1)] \
                if rng.random() < 0.5 else rng.choice(entities)
        e = {
            "id": f"evt-{i}",
            "ts": ts,
            "model": model,
            "provider": provider,
            "input_tokens": rng.randrange(0, 20000),
            "output_tokens": rng.randrange(0, 4000),
            "cache_read_tokens": rng.randrange(0, 3000) if rng.random() < 0.2 else 0,
            "cost_nano": rng.randrange(0, max_cost) if max_cost else 0,
            "cost_source": "reported" if max_cost else "unknown_model",
            "latency": rng.randrange(40, 40000) / 4 if rng.random() < 0.85 else None,
            "success": rng.random() > 0.08,
            "entity_type": ent[0] if ent else "",
            "entity_id": ent[1] if ent else "",
            "session_id": "", "turn_id": "", "trace_id": f"tr-{rng.randrange(4000)}",
            "parent_id": f"sp-{rng.randrange(100)}" if rng.random() < 0.6 else "",
            "op_name": rng.choice(["chat", "embed", "rerank"]),
            "thread_id": f"th-{rng.randrange(300)}" if rng.random() < 0.5 else "",
            "user_id": f"u-{rng.randrange(50)}",
            "tags": {},
        }
        if rng.random() < 0.7:
            sid = f"s-{rng.randrange(6000)}"
            # A session keeps one entity (the one of its first event is reported).
            if sid not in sessions:
                sessions[sid] = (e["entity_type"], e["entity_id"])
            e["entity_type"], e["entity_id"] = sessions[sid]
            e["session_id"] = sid
            if rng.random() < 0.5 and int(sid[2:]) % 3:
                e["turn_id"] = f"t-{rng.randrange(8)}"
        if rng.random() < 0.6:
            e["tags"]["env"] = rng.choice(["prod", "staging"])
        if rng.random() < 0.5:
            e["tags"]["feature"] = rng.choice(["chat", "search", "summarize, \"v2\""])
        if rng.random() < 0.3:
            e["tags"]["run_id"] = f"run-{rng.randrange(5)}"
        if rng.random() < 0.1:
            e["tags"]["input_ref"] = f"ref-{rng.randrange(20)}"
        events.append(e)
    return events


def to_request(e: dict) -> dict:
    body = {"id": e["id"], "timestamp": fmt(e["ts"]), "model": e["model"],
            "input_tokens": e["input_tokens"], "output_tokens": e["output_tokens"],
            "success": e["success"]}
    if e["provider"]:
        body["provider"] = e["provider"]
    if e["cache_read_tokens"]:
        body["cache_read_tokens"] = e["cache_read_tokens"]
    if e["cost_source"] == "reported":
        body["cost_usd"] = float(f"{e['cost_nano'] / 1e9:.9f}")
    if e["latency"] is not None:
        body["latency_ms"] = e["latency"]
    for k in ("entity_type", "entity_id", "session_id", "turn_id", "trace_id", "parent_id",
              "op_name", "thread_id", "user_id"):
        if e[k]:
            body[k] = e[k]
    if e["tags"]:
        body["tags"] = e["tags"]
    return body


# ---------------------------------------------------------------------------
# Brute force.

def floor_interval(ms: int, interval: str) -> int:
    d = datetime.fromtimestamp(ms // 1000, tz=timezone.utc)
    if interval == "hour":
        return ms - ms % HOUR_MS
    day = datetime(d.year, d.month, d.day, tzinfo=timezone.utc)
    if interval == "week":
        day -= timedelta(days=day.weekday())
    elif interval == "month":
        day = datetime(d.year, d.month, 1, tzinfo=timezone.utc)
    return int(day.timestamp()) * 1000


def next_interval(ms: int, interval: str) -> int:
    if interval == "hour":
        return ms + HOUR_MS
    if interval == "day":
        return ms + DAY_MS
    if interval == "week":
        return ms + 7 * DAY_MS
    d = datetime.fromtimestamp(ms // 1000, tz=timezone.utc)
    y, m = (d.year + 1, 1) if d.month == 12 else (d.year, d.month + 1)
    return int(datetime(y, m, 1, tzinfo=timezone.utc).timestamp()) * 1000


def totals(es):
    lat = [e["latency"] for e in es if e["latency"] is not None]
    return {
        "total_cost": usd(sum(e["cost_nano"] for e in es)),
        "total_events": len(es),
        "total_input_tokens": sum(e["input_tokens"] for e in es),
        "total_output_tokens": sum(e["output_tokens"] for e in es),
        "avg_latency_ms": (sum(lat) / len(lat)) if lat else None,
    }


def percentile(values, p):
    v = sorted(values)
    h = p / 100 * (len(v) - 1)
    lo = math.floor(h)
    hi = min(lo + 1, len(v) - 1)
    return v[lo] + (h - lo) * (v[hi] - v[lo])


class LocalDays:
    """Local midnights of a zone as UTC ms (zoneinfo)."""

    def __init__(self, name: str):
        self.tz = None if name == "UTC" else ZoneInfo(name)

    def date_of(self, ms: int) -> date:
        if self.tz is None:
            return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).date()
        return datetime.fromtimestamp(ms / 1000, tz=self.tz).date()

    def start(self, d: date) -> int:
        tz = self.tz or timezone.utc
        return int(datetime(d.year, d.month, d.day, tzinfo=tz).timestamp()) * 1000


def day_number(d: date) -> int:
    return (d - date(1970, 1, 1)).days


def grid_buckets(start: int, end: int, g: int, days: LocalDays):
    """Bucket starts over [start, end) with granularity g aligned to local midnight."""
    out = []
    if g % 86400 == 0:
        n = g // 86400
        dn = day_number(days.date_of(start)) // n * n
        while True:
            d = date(1970, 1, 1) + timedelta(days=dn)
            b, nb = days.start(d), days.start(d + timedelta(days=n))
            if b >= end:
                break
            if nb > start:
                out.append(b)
            dn += n
        return out
    d = days.date_of(start)
    while True:
        ds, de = days.start(d), days.start(d + timedelta(days=1))
        if ds >= end:
            break
        b = ds
        while b < de:
            nb = min(b + g * 1000, de)
            if b < end and nb > start:
                out.append(b)
            b = nb
        d += timedelta(days=1)
    return out


def choose_granularity(start: int, end: int, g, days: LocalDays) -> int:
    r = end - start
    if g is None:
        g = 300 if r <= 2 * HOUR_MS else 3600 if r <= 12 * HOUR_MS else 21600 \
            if r <= 3 * DAY_MS else 43200 if r <= 14 * DAY_MS else 86400
    if g > 86400:
        g = -(-g // 86400) * 86400
    if -(-r // (g * 1000)) > 10000:
        g = -(-r // 10_000_000)
        if g > 86400:
            g = -(-g // 86400) * 86400
    while len(grid_buckets(start, end, g, days)) > 10000:
        if g < 86400:
            g = next(d for d in range(g + 1, 86401) if 86400 % d == 0)
        else:
            g = (g // 86400 + 1) * 86400
    return g


# ---------------------------------------------------------------------------

class AnalyticsOracleTest(ServerTestCase):
    maxDiff = None
    # The events are from 2025: keep them (retention) whatever today's date is.
    CONFIG = "storage:\n  retention: 3650d\n"

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        t0 = time.monotonic()
        rng = random.Random(SEED)
        events = generate(rng, N_EVENTS)
        # Project 2 gets every 10th event; the admin key's project the rest.
        cls.p1 = [e for i, e in enumerate(events) if i % 10]
        cls.p2 = [e for i, e in enumerate(events) if i % 10 == 0]
        r = cls.server.post_json("/v1/account/projects/create", {"name": "oracle-two"})
        assert r.status in (200, 201), r
        project = r.json()
        cls.project2 = project.get("project_id") or project.get("id")
        r = cls.server.post_json("/v1/account/keys/create",
                                 {"project_id": cls.project2, "name": "p2",
                                  "scopes": ["events:write", "analytics:read"]})
        assert r.status in (200, 201), r
        cls.key2 = r.json()["key_secret"]
        cls.conn = cls.server.connection(timeout=120)
        cls._ingest(cls.p1, None)
        cls._ingest(cls.p2, cls.key2)
        # A repeated id is deduplicated, not stored twice.
        cls._ingest(cls.p1[:50], None)
        cls.ingest_seconds = time.monotonic() - t0

    @classmethod
    def _ingest(cls, events, key) -> None:
        headers = cls.server.auth(key) if key else None
        for i in range(0, len(events), 5000):
            batch = [to_request(e) for e in events[i:i + 5000]]
            r = cls.server.post_json("/v1/events", {"events": batch}, headers=headers,
                                     conn=cls.conn, timeout=120)
            assert r.status == 200, r
            body = r.json()
            assert body["rejected"] == 0, body["errors"][:3]

    @classmethod
    def tearDownClass(cls) -> None:
        conn = cls.__dict__.get("conn")
        if conn is not None:
            conn.close()
        super().tearDownClass()

    # -- helpers --------------------------------------------------------------

    def query(self, path: str, params: dict, key=None):
        url = path + "?" + urllib.parse.urlencode(params)
        r = self.server.get(url, headers=self.server.auth(key) if key else None, conn=self.conn)
        self.assertEqual(r.status, 200, f"{url}: {r!r}")
        body = r.json()
        csv_r = self.server.get(url + "&format=csv", headers=self.server.auth(key) if key else None,
                                conn=self.conn)
        return body, csv_r

    def assert_csv_matches(self, csv_r, rows: list, what: str) -> None:
        """The CSV rows equal the JSON rows field by field (columns from the header)."""
        self.assertEqual(csv_r.status, 200, csv_r)
        self.assertTrue(csv_r.headers.get("content-type", "").startswith("text/csv"), csv_r)
        text = csv_r.body.decode("utf-8")
        self.assertTrue(text.endswith("\r\n") or text == "", what)
        parsed = list(csv.reader(io.StringIO(text, newline="")))
        header, body = parsed[0], parsed[1:]
        self.assertEqual(len(body), len(rows), what)
        for got, want in zip(body, rows):
            for col, field in zip(header, got):
                v = want.get(col)
                if v is None:
                    self.assertEqual(field, "", f"{what} {col}")
                elif isinstance(v, bool):
                    self.assertEqual(field, "true" if v else "false", f"{what} {col}")
                elif isinstance(v, (int, float)):
                    self.assertEqual(float(field), float(v), f"{what} {col}")
                else:
                    self.assertEqual(field, str(v), f"{what} {col}")

    def assert_close(self, got, want, what: str, rel: float = 1e-9) -> None:
        if want is None:
            self.assertIsNone(got, what)
            return
        self.assertIsNotNone(got, what)
        self.assertLessEqual(abs(got - want), rel * max(1.0, abs(want)), f"{what}: {got} != {want}")

    def assert_totals(self, row: dict, es, what: str) -> None:
        t = totals(es)
        self.assertEqual(row["total_events"], t["total_events"], what)
        self.assertEqual(row["total_input_tokens"], t["total_input_tokens"], what)
        self.assertEqual(row["total_output_tokens"], t["total_output_tokens"], what)
        self.assert_close(row["total_cost"], t["total_cost"], what + " cost")
        self.assert_close(row["avg_latency_ms"], t["avg_latency_ms"], what + " latency")

    @staticmethod
    def select(events, start: int, end: int, **filters):
        out = []
        tags = filters.pop("tags", {})
        for e in events:
            if not start <= e["ts"] < end:
                continue
            if any(e[k] != v for k, v in filters.items()):
                continue
            if any(e["tags"].get(k) != v for k, v in tags.items()):
                continue
            out.append(e)
        return out

    # -- /v1/analytics/costs ----------------------------------------------------

    def test_costs_every_group_by(self):
        start, end = iso_ms("2025-03-01T00:00:00Z"), iso_ms("2025-04-01T00:00:00Z")
        params = {"start_date": "2025-03-01", "end_date": "2025-03-31"}
        cases = [
            ({}, {}),
            ({"entity_type": "customer"}, {"entity_type": "customer"}),
            ({"model": "gpt-4o", "tags": "env:prod"}, {"model": "gpt-4o", "tags": {"env": "prod"}}),
            ({"tags": "env:prod,feature:summarize, \"v2\""},
             {"tags": {"env": "prod", "feature": "summarize"}}),  # the comma splits: no match
        ]
        for extra, flt in cases:
            sel = self.select(self.p1, start, end, **dict(flt, tags=dict(flt.get("tags", {}))))
            if extra.get("tags", "").startswith("env:prod,feature:summarize"):
                sel = []  # "feature:summarize" then " \"v2\"" (not k:v) -> rejected below
            for group_by, key_of, cols in [
                (None, lambda e: (), []),
                ("entity", lambda e: (e["entity_type"] or None, e["entity_id"] or None),
                 ["entity_type", "entity_id"]),
                ("model", lambda e: (e["model"],), ["model"]),
                ("provider", lambda e: (e["provider"] or None,), ["provider"]),
                ("day", lambda e: (fmt(floor_interval(e["ts"], "day"))[:10],), ["date"]),
                ("week", lambda e: (fmt(floor_interval(e["ts"], "week"))[:10],), ["date"]),
                ("month", lambda e: (fmt(floor_interval(e["ts"], "month"))[:10],), ["date"]),
                ("tags.feature", lambda e: ("feature", e["tags"].get("feature")),
                 ["tag_key", "tag_value"]),
            ]:
                p = dict(params, **extra)
                if group_by:
                    p["group_by"] = group_by
                what = f"costs {p}"
                url = "/v1/analytics/costs?" + urllib.parse.urlencode(p)
                r = self.server.get(url, conn=self.conn)
                if extra.get("tags", "").startswith("env:prod,feature:summarize"):
                    self.assert_error(r, 400, "invalid_request", "tags", what)
                    continue
                self.assertEqual(r.status, 200, f"{what}: {r!r}")
                body = r.json()
                self.assertEqual(body["summary"]["total_events"], len(sel), what)
                self.assert_close(body["summary"]["total_cost"], usd(sum(e["cost_nano"] for e in sel)), what)
                self.assertEqual(body["summary"]["period"], {"start": "2025-03-01", "end": "2025-03-31"})
                groups = defaultdict(list)
                for e in sel:
                    groups[key_of(e)].append(e)
                rows = body["data"]
                self.assertEqual(len(rows), len(groups) if sel else 0, what)
                for row in rows:
                    k = tuple(row[c] for c in cols)
                    self.assertIn(k, groups, what)
                    self.assert_totals(row, groups[k], f"{what} {k}")
                if group_by in ("day", "week", "month"):
                    self.assertEqual([r["date"] for r in rows], sorted(r["date"] for r in rows))
                elif rows:
                    costs = [r["total_cost"] for r in rows]
                    self.assertEqual(costs, sorted(costs, reverse=True), what)
                csv_r = self.server.get(url + "&format=csv", conn=self.conn)
                self.assert_csv_matches(csv_r, rows, what)

    def test_costs_timeseries_zero_filled(self):
        for interval, start_s, end_s, flt in [
            ("hour", "2025-03-08", "2025-03-10", {}),
            ("day", "2025-02-24", "2025-04-06", {"entity_type": "team"}),
            ("week", "2025-02-24", "2025-04-06", {"model": "claude-3-5-sonnet"}),
            ("month", "2025-01-15", "2025-11-30", {}),
            ("day", "2025-10-20T12:00:00Z", "2025-11-02T06:30:00Z", {"tags": "env:staging"}),
        ]:
            params = dict({"start_date": start_s, "end_date": end_s, "interval": interval}, **flt)
            body, csv_r = self.query("/v1/analytics/costs/timeseries", params)
            start = iso_ms(start_s + ("T00:00:00Z" if len(start_s) == 10 else ""))
            end = iso_ms(end_s + ("T00:00:00Z" if len(end_s) == 10 else "")) + \
                (DAY_MS if len(end_s) == 10 else 0)
            f = dict(flt)
            if "tags" in f:
                k, v = f.pop("tags").split(":")
                f["tags"] = {k: v}
            sel = self.select(self.p1, start, end, **f)
            buckets = []
            b = floor_interval(start, interval)
            while b < end:
                buckets.append(b)
                b = next_interval(b, interval)
            by = defaultdict(list)
            for e in sel:
                by[floor_interval(e["ts"], interval)].append(e)
            rows = body["data"]
            self.assertEqual(body["interval"], interval)
            self.assertEqual([r["timestamp"] for r in rows], [fmt(b) for b in buckets], params)
            for row, b in zip(rows, buckets):
                es = by.get(b, [])
                self.assertEqual(row["events"], len(es), f"{params} {fmt(b)}")
                self.assert_close(row["cost"], usd(sum(e["cost_nano"] for e in es)), f"{params} {fmt(b)}")
                self.assertEqual(row["input_tokens"], sum(e["input_tokens"] for e in es))
            self.assert_csv_matches(csv_r, rows, f"timeseries {params}")

    def test_models_percentages_and_unknown_models(self):
        start, end = iso_ms("2025-02-24T00:00:00Z"), iso_ms("2025-11-11T00:00:00Z")
        body, csv_r = self.query("/v1/analytics/models", {"start_date": "2025-02-24", "end_date": "2025-11-10"})
        sel = self.select(self.p1, start, end)
        groups = defaultdict(list)
        for e in sel:
            groups[(e["model"], e["provider"] or None)].append(e)
        rows = body["data"]
        self.assertEqual(len(rows), len(groups))
        total = sum(e["cost_nano"] for e in sel)
        self.assertAlmostEqual(sum(r["percentage_of_total"] for r in rows), 100.0, delta=0.1)
        for row in rows:
            es = groups[(row["model"], row["provider"])]
            self.assert_totals(row, es, row["model"])
            exact = 100 * sum(e["cost_nano"] for e in es) / total
            self.assertLess(abs(row["percentage_of_total"] - exact), 0.1 + 1e-9, row)
            sources = {e["cost_source"] for e in es}
            self.assertEqual(row["cost_source"], sources.pop() if len(sources) == 1 else "mixed")
        unknown = [r for r in rows if r["model"] == "acme-secret-model-x"]
        self.assertEqual(len(unknown), 1)
        self.assertEqual(unknown[0]["cost_source"], "unknown_model")
        self.assertEqual(unknown[0]["total_cost"], 0)
        self.assert_csv_matches(csv_r, rows, "models")

    def test_entities_top_and_other(self):
        start, end = iso_ms("2025-02-24T00:00:00Z"), iso_ms("2025-04-08T00:00:00Z")
        sel = [e for e in self.select(self.p1, start, end) if e["entity_id"]]
        cost = defaultdict(int)
        count = defaultdict(int)
        for e in sel:
            cost[(e["entity_type"], e["entity_id"])] += e["cost_nano"]
            count[(e["entity_type"], e["entity_id"])] += 1
        for order, limit, etype in [("desc", 10, None), ("asc", 7, None), ("desc", 100, "customer"),
                                    ("desc", 3, "team")]:
            params = {"start_date": "2025-02-24", "end_date": "2025-04-07", "order": order}
            if limit != 10:
                params["limit"] = limit
            if etype:
                params["entity_type"] = etype
            keys = [k for k in cost if etype is None or k[0] == etype]
            keys.sort(key=lambda k: (-cost[k] if order == "desc" else cost[k], k[0], k[1]))
            body, csv_r = self.query("/v1/analytics/entities/top", params)
            rows = body["data"]
            self.assertEqual(len(rows), min(limit, len(keys)))
            for rank, (row, k) in enumerate(zip(rows, keys), 1):
                self.assertEqual(row["rank"], rank)
                self.assertEqual((row["entity_type"], row["entity_id"]), k, params)
                self.assert_close(row["total_cost"], usd(cost[k]), str(k))
                self.assertEqual(row["total_events"], count[k])
            rest = keys[len(rows):]
            self.assertEqual(body["other"]["entity_count"], len(rest))
            self.assert_close(body["other"]["total_cost"], usd(sum(cost[k] for k in rest)), "other")
            self.assertEqual(body["other"]["total_events"], sum(count[k] for k in rest))
            self.assert_csv_matches(csv_r, rows, f"top {params}")

    def test_sessions(self):
        start, end = iso_ms("2025-03-01T00:00:00Z"), iso_ms("2025-04-01T00:00:00Z")
        sel = [e for e in self.select(self.p1, start, end) if e["session_id"]]
        sessions = defaultdict(list)
        for e in sel:
            sessions[e["session_id"]].append(e)
        body, csv_r = self.query("/v1/analytics/sessions",
                                 {"start_date": "2025-03-01", "end_date": "2025-03-31", "limit": 1000})
        want = []
        for sid, es in sessions.items():
            turns = {e["turn_id"] for e in es if e["turn_id"]}
            want.append({
                "session_id": sid, "entity_type": es[0]["entity_type"] or None,
                "entity_id": es[0]["entity_id"] or None,
                "started_at": fmt(min(e["ts"] for e in es)), "ended_at": fmt(max(e["ts"] for e in es)),
                "turn_count": len(turns) if turns else len(es),
                "total_cost": usd(sum(e["cost_nano"] for e in es)),
                "total_tokens": sum(e["input_tokens"] + e["output_tokens"] + e["cache_read_tokens"] for e in es),
                "total_events": len(es), "_first": min(e["ts"] for e in es)})
        want.sort(key=lambda s: (-s["_first"], s["session_id"]))
        summary = body["summary"]
        self.assertEqual(summary["total_sessions"], len(want))
        self.assert_close(summary["avg_turns_per_session"], sum(s["turn_count"] for s in want) / len(want), "turns")
        self.assert_close(summary["avg_cost_per_session"], sum(s["total_cost"] for s in want) / len(want), "cost")
        rows = body["data"]
        self.assertEqual(len(rows), min(1000, len(want)))
        for row, w in zip(rows, want):
            for k, v in w.items():
                if k == "_first":
                    continue
                if k == "total_cost":
                    self.assert_close(row[k], v, f"{w['session_id']} {k}")
                else:
                    self.assertEqual(row[k], v, f"{w['session_id']} {k}")
        self.assert_csv_matches(csv_r, rows, "sessions")

    def test_compare(self):
        for flt in [{}, {"entity_type": "customer", "entity_id": "cust-1"}, {"model": "nonexistent"}]:
            params = dict({"period1_start": "2025-03-16", "period1_end": "2025-03-31",
                           "period2_start": "2025-03-01", "period2_end": "2025-03-15"}, **flt)
            body, csv_r = self.query("/v1/analytics/compare", params)
            p1 = self.select(self.p1, iso_ms("2025-03-16T00:00:00Z"), iso_ms("2025-04-01T00:00:00Z"), **flt)
            p2 = self.select(self.p1, iso_ms("2025-03-01T00:00:00Z"), iso_ms("2025-03-16T00:00:00Z"), **flt)
            c1, c2 = sum(e["cost_nano"] for e in p1), sum(e["cost_nano"] for e in p2)
            self.assertEqual(body["period1"]["total_events"], len(p1))
            self.assertEqual(body["period2"]["total_events"], len(p2))
            self.assert_close(body["period1"]["total_cost"], usd(c1), "p1")
            ch = body["changes"]
            self.assert_close(ch["cost_change"], usd(c1 - c2), "cost_change")
            self.assertEqual(ch["events_change"], len(p1) - len(p2))
            if c2 == 0:
                self.assertIsNone(ch["cost_change_percent"])
            else:
                self.assertAlmostEqual(ch["cost_change_percent"], (c1 - c2) / c2 * 100, delta=0.05 + 1e-9)
                self.assertEqual(round(ch["cost_change_percent"], 1), ch["cost_change_percent"])
            if not p2:
                self.assertIsNone(ch["events_change_percent"])
            else:
                self.assertAlmostEqual(ch["events_change_percent"], (len(p1) - len(p2)) / len(p2) * 100,
                                       delta=0.05 + 1e-9)
            self.assertEqual(csv_r.status, 200)

    def test_entities_list_and_get(self):
        allent = defaultdict(list)
        for e in self.p1:
            if e["entity_id"]:
                allent[(e["entity_type"], e["entity_id"])].append(e)
        keys = sorted(allent)
        seen = []
        offset = 0
        while True:
            body, csv_r = self.query("/v1/entities", {"limit": 700, "offset": offset})
            self.assertEqual(body["pagination"]["total"], len(keys))
            rows = body["data"]
            for row in rows:
                k = (row["entity_type"], row["entity_id"])
                es = allent[k]
                self.assertEqual(row["total_events"], len(es), k)
                self.assert_close(row["total_cost"], usd(sum(e["cost_nano"] for e in es)), str(k))
                self.assertEqual(row["first_seen"], fmt(min(e["ts"] for e in es)))
                self.assertEqual(row["last_seen"], fmt(max(e["ts"] for e in es)))
                seen.append(k)
            self.assert_csv_matches(csv_r, rows, f"entities offset {offset}")
            offset += 700
            if not body["pagination"]["has_more"]:
                break
        self.assertEqual(seen, keys)
        picks = [keys[0], keys[-1]] + [k for k in keys if k[0] == "team"][:2] + \
            [k for k in keys if "," in k[1]]
        for k in picks:
            path = "/v1/entities/" + urllib.parse.quote(k[0], safe="") + "/" + urllib.parse.quote(k[1], safe="")
            r = self.server.get(path, conn=self.conn)
            self.assertEqual(r.status, 200, r)
            body = r.json()
            by_model = defaultdict(int)
            for e in allent[k]:
                by_model[e["model"]] += e["cost_nano"]
            self.assertEqual(body["total_events"], len(allent[k]))
            self.assertEqual(set(body["cost_by_model"]), set(by_model))
            for m, c in by_model.items():
                self.assert_close(body["cost_by_model"][m], usd(c), m)
        self.assertEqual(self.server.get("/v1/entities/customer/nobody", conn=self.conn).status, 404)

    def test_projects_are_isolated(self):
        params = {"start_date": "2025-01-01", "end_date": "2025-12-31"}
        body, _ = self.query("/v1/analytics/costs", params, key=self.key2)
        self.assertEqual(body["summary"]["total_events"], len(self.p2))
        self.assert_close(body["summary"]["total_cost"], usd(sum(e["cost_nano"] for e in self.p2)), "p2")
        body, _ = self.query("/v1/analytics/costs", params)
        self.assertEqual(body["summary"]["total_events"], len(self.p1))  # dedup: no doubles
        # The admin key may read project 2 by project_id; project 2's key may not read the default.
        body, _ = self.query("/v1/analytics/costs", dict(params, project_id=self.project2))
        self.assertEqual(body["summary"]["total_events"], len(self.p2))
        r = self.server.get("/v1/analytics/costs?" + urllib.parse.urlencode(dict(params, project_id="default")),
                            headers=self.server.auth(self.key2), conn=self.conn)
        self.assert_error(r, 404, "not_found", "project_id")

    # -- calls/stats ---------------------------------------------------------------

    def calls_stats(self, req: dict, key=None) -> dict:
        r = self.server.post_json("/v1/calls/stats", req,
                                  headers=self.server.auth(key) if key else None, conn=self.conn)
        self.assertEqual(r.status, 200, f"{req}: {r!r}")
        return r.json()

    def check_calls_stats(self, events, req: dict, want_granularity=None) -> None:
        start, end = iso_ms(req["start"]), iso_ms(req["end"])
        tzname = req.get("timezone", "UTC")
        days = LocalDays(tzname)
        out = self.calls_stats(req)
        g = choose_granularity(start, end, req.get("granularity"), days)
        if want_granularity:
            self.assertEqual(g, want_granularity, "oracle's own rule")
        self.assertEqual(out["granularity"], g, req)
        self.assertEqual(out["timezone"], tzname)
        self.assertEqual((out["start"], out["end"]), (fmt(start), fmt(end)))
        buckets = grid_buckets(start, end, g, days)
        flt = req.get("filter", {})

        def keep(e):
            if not start <= e["ts"] < end:
                return False
            for fk, ek in [("op_names", "op_name"), ("trace_ids", "trace_id"), ("call_ids", "id"),
                           ("parent_ids", "parent_id"), ("thread_ids", "thread_id"),
                           ("turn_ids", "turn_id"), ("wb_user_ids", "user_id")]:
                if flt.get(fk) and e[ek] not in flt[fk]:
                    return False
            for fk, tk in [("input_refs", "input_ref"), ("output_refs", "output_ref"), ("wb_run_ids", "run_id")]:
                if flt.get(fk) and e["tags"].get(tk) not in flt[fk]:
                    return False
            if flt.get("trace_roots_only") and e["parent_id"]:
                return False
            return True

        def bucket_of(ts):  # per event: local midnight + floor(elapsed / g) * g
            d = days.date_of(ts)
            if g % 86400 == 0:
                n = g // 86400
                dn = day_number(d) // n * n
                return days.start(date(1970, 1, 1) + timedelta(days=dn))
            ds = days.start(d)
            return ds + (ts - ds) // (g * 1000) * g * 1000

        sel = [e for e in events if keep(e)]
        by_bucket = defaultdict(list)
        for e in sel:
            by_bucket[bucket_of(e["ts"])].append(e)
        self.assertLessEqual(set(by_bucket), set(buckets))
        models = sorted({e["model"] for e in sel})

        def value(e, metric):
            if metric == "input_tokens":
                return e["input_tokens"]
            if metric == "output_tokens":
                return e["output_tokens"]
            if metric == "total_tokens":
                return e["input_tokens"] + e["output_tokens"] + e["cache_read_tokens"]
            if metric == "cost":
                return e["cost_nano"] / 1e9
            if metric == "latency_ms":
                return e["latency"]
            if metric == "call_count":
                return 1
            return 0 if e["success"] else 1

        def check_row(row, es, metrics, what):
            for m in metrics:
                vals = [value(e, m["metric"]) for e in es]
                vals = [v for v in vals if v is not None]
                name = m["metric"]
                for agg in m.get("aggregations", []):
                    got = row[f"{name}_{agg}"]
                    if agg == "sum":
                        want = usd(sum(e["cost_nano"] for e in es)) if name == "cost" else sum(vals)
                    elif agg == "count":
                        want = len(vals)
                    elif agg == "avg":
                        want = (usd(sum(e["cost_nano"] for e in es)) if name == "cost" else sum(vals)) / len(vals) \
                            if vals else 0
                    elif agg == "min":
                        want = min(vals) if vals else None
                    else:
                        want = max(vals) if vals else None
                    self.assert_close(got, want, f"{what} {name}_{agg}", rel=1e-9)
                for p in m.get("percentiles", []):
                    key = f"{name}_p{p:g}"
                    self.assert_close(row[key], percentile(vals, p) if vals else None, f"{what} {key}")

        usage = req.get("usage_metrics", [])
        calls = req.get("call_metrics", [])
        ub, cb = out["usage_buckets"], out["call_buckets"]
        self.assertEqual(len(cb), len(buckets) if calls else 0, req)
        self.assertEqual(len(ub), len(buckets) * len(models) if usage else 0, req)
        for i, b in enumerate(buckets):
            es = by_bucket.get(b, [])
            if calls:
                self.assertEqual(cb[i]["timestamp"], fmt(b))
                check_row(cb[i], es, calls, f"{tzname} {fmt(b)}")
            if usage:
                for j, m in enumerate(models):
                    row = ub[i * len(models) + j]
                    self.assertEqual((row["timestamp"], row["model"]), (fmt(b), m))
                    check_row(row, [e for e in es if e["model"] == m], usage, f"{tzname} {fmt(b)} {m}")

    def test_calls_stats_utc_hourly(self):
        self.check_calls_stats(self.p1, {
            "start": "2025-03-28T00:00:00Z", "end": "2025-04-02T00:00:00Z", "granularity": 3600,
            "usage_metrics": [{"metric": "cost", "aggregations": ["sum", "avg", "max"], "percentiles": [50, 99]},
                              {"metric": "total_tokens", "aggregations": ["sum", "count", "min"]}],
            "call_metrics": [{"metric": "latency_ms", "aggregations": ["avg", "min", "max", "count"],
                              "percentiles": [50, 95, 99, 99.9]},
                             {"metric": "call_count", "aggregations": ["sum"]},
                             {"metric": "error_count", "aggregations": ["sum", "avg"]}]})

    def test_calls_stats_time_zones_across_dst(self):
        metrics = {"usage_metrics": [{"metric": "input_tokens", "aggregations": ["sum"]}],
                   "call_metrics": [{"metric": "latency_ms", "aggregations": ["sum", "count"], "percentiles": [90]},
                                    {"metric": "error_count", "aggregations": ["sum"]}]}
        for tz, start, end, g in [
            ("America/New_York", "2025-03-07T05:00:00Z", "2025-03-12T04:00:00Z", 3600),
            ("America/New_York", "2025-03-01T00:00:00Z", "2025-03-20T00:00:00Z", None),
            ("America/New_York", "2025-10-28T00:00:00Z", "2025-11-06T00:00:00Z", 21600),
            ("Europe/Berlin", "2025-03-27T00:00:00Z", "2025-04-03T00:00:00Z", 7200),
            ("Europe/Berlin", "2025-10-20T00:00:00Z", "2025-11-10T00:00:00Z", 86400),
            ("Europe/Berlin", "2025-02-24T00:00:00Z", "2025-04-07T00:00:00Z", 7 * 86400),
            ("Asia/Kolkata", "2025-03-01T00:00:00Z", "2025-03-03T00:00:00Z", 5400),
        ]:
            req = dict(metrics, start=start, end=end, timezone=tz)
            if g:
                req["granularity"] = g
            with self.subTest(tz=tz, start=start, g=g):
                self.check_calls_stats(self.p1, req)

    def test_calls_stats_filters_and_default_granularity(self):
        base = {"call_metrics": [{"metric": "call_count", "aggregations": ["sum"]}],
                "usage_metrics": [{"metric": "output_tokens", "aggregations": ["sum", "max"]}]}
        ids = [e["id"] for e in self.p1[100:140]]
        for start, end, flt in [
            ("2025-03-09T00:00:00Z", "2025-03-09T02:00:00Z", {"op_names": ["chat"]}),
            ("2025-03-09T00:00:00Z", "2025-03-09T11:00:00Z", {"trace_roots_only": True}),
            ("2025-03-05T00:00:00Z", "2025-03-07T12:00:00Z", {"wb_user_ids": ["u-1", "u-2"], "thread_ids": []}),
            ("2025-03-01T00:00:00Z", "2025-03-12T00:00:00Z", {"wb_run_ids": ["run-2"], "input_refs": ["ref-3", "x"]}),
            ("2025-02-24T00:00:00Z", "2025-11-10T00:00:00Z", {"call_ids": ids}),
            ("2025-02-24T00:00:00Z", "2025-04-01T00:00:00Z", {"parent_ids": ["sp-7"], "turn_ids": ["t-1"]}),
            ("2025-02-24T00:00:00Z", "2025-04-01T00:00:00Z", {"trace_ids": ["tr-9", "tr-10", "nope"]}),
        ]:
            with self.subTest(start=start, end=end, flt=flt):
                self.check_calls_stats(self.p1, dict(base, start=start, end=end, filter=flt))
        # Project 2 through its own key and /calls/stats.
        r = self.server.post_json("/calls/stats", dict(base, start="2025-03-01T00:00:00Z",
                                                        end="2025-03-02T00:00:00Z"),
                                  headers=self.server.auth(self.key2), conn=self.conn)
        self.assertEqual(r.status, 200, r)
        n = sum(b["call_count_sum"] for b in r.json()["call_buckets"])
        self.assertEqual(n, len(self.select(self.p2, iso_ms("2025-03-01T00:00:00Z"), iso_ms("2025-03-02T00:00:00Z"))))

    def test_calls_stats_raises_granularity_past_10000_buckets(self):
        # 10,001 minutes at 60 s: raised to 61 s; 400 days at 1 s: a divisor of a day.
        self.check_calls_stats(self.p1, {"start": "2025-03-01T00:00:00Z", "end": "2025-03-07T22:41:00Z",
                                         "granularity": 60,
                                         "call_metrics": [{"metric": "call_count", "aggregations": ["sum"]}]},
                               want_granularity=61)
        out = self.calls_stats({"start": "2025-01-01T00:00:00Z", "end": "2026-02-05T00:00:00Z", "granularity": 1,
                                "timezone": "Europe/Berlin",
                                "call_metrics": [{"metric": "call_count", "aggregations": ["sum"]}]})
        self.assertLessEqual(len(out["call_buckets"]), 10000)
        self.assertEqual(sum(b["call_count_sum"] for b in out["call_buckets"]), len(self.p1))

    def test_bad_requests(self):
        cases = [
            ("/v1/analytics/costs", {"start_date": "2025-03-02", "end_date": "2025-03-01"}, "start_date"),
            ("/v1/analytics/costs", {"start_date": "2025-03-01", "end_date": "2025-03-02", "group_by": "user"},
             "group_by"),
            ("/v1/analytics/costs/timeseries", {"start_date": "2025-03-01", "end_date": "2025-03-02",
                                                "interval": "minute"}, "interval"),
            ("/v1/analytics/costs/timeseries", {"start_date": "2024-01-01T00:00:00Z",
                                                "end_date": "2025-02-20T17:00:01Z", "interval": "hour"}, "interval"),
            ("/v1/analytics/entities/top", {"start_date": "2025-03-01", "end_date": "2025-03-02", "limit": 101},
             "limit"),
            ("/v1/analytics/models", {"start_date": "2025-03-01"}, "end_date"),
        ]
        for path, params, param in cases:
            r = self.server.get(path + "?" + urllib.parse.urlencode(params), conn=self.conn)
            self.assert_error(r, 400, "invalid_request", param, f"{path} {params}")
        for body, param in [
            ({"start": "2025-03-01T00:00:00Z", "timezone": "Mars/Olympus"}, "timezone"),
            ({"start": "2025-03-01T00:00:00Z", "call_metrics": [{"metric": "latency_ms", "percentiles": [100]}]},
             "call_metrics[0].percentiles[0]"),
            ({"start": "2025-03-01T00:00:00Z", "call_metrics": [{"metric": "latency_ms", "percentiles": [0]}]},
             "call_metrics[0].percentiles[0]"),
            ({"start": "2025-03-02T00:00:00Z", "end": "2025-03-01T00:00:00Z"}, "start"),
            ({"start": "2025-03-01T00:00:00Z", "granularity": "hour"}, "granularity"),
        ]:
            r = self.server.post_json("/v1/calls/stats", body, conn=self.conn)
            self.assert_error(r, 400, "invalid_request", param, str(body))


if __name__ == "__main__":
    unittest.main()
