"""POST /v1/events/reprice through the real binary (issue 6): events of a model
missing from the price table are stored as unknown_model at cost 0; the table is
reloaded (POST /-/reload) with the model's price; a reprice gives every such
event the price of its time, and /v1/analytics/costs, /v1/analytics/models,
GET /v1/events and /metrics agree with the test's own computation from the
prices. Reported costs are never touched. The new costs survive kill -9 (WAL
replay, with the old table back in the file to show the record, not the table,
decides) and a clean restart (snapshot). Bad input: 400 naming the field, 403
without account:admin. Also: the built-in price table when pricing.file is unset.
"""

from __future__ import annotations

import os
import random
import time
import unittest
import uuid
from collections import defaultdict

from tally_harness import DumpLogsOnFailure, TallyServer

MODEL = "acme-large"          # missing from the first table
KNOWN = "acme-small"          # in both tables, same price
PROVIDER = "acme"
# USD per 1M tokens in micro-USD (= pico-USD per token), as the table below.
PRICE_LARGE = {"input": 3_000_000, "output": 15_000_000, "cache_read": 300_000}
PRICE_SMALL = {"input": 250_000, "output": 1_250_000, "cache_read": 250_000}

TABLE_OLD = """
providers:
  acme:
    source: https://example.com/pricing
    models:
      - {model: acme-small, valid_from: 2020-01-01, input: 0.25, output: 1.25}
"""
TABLE_NEW = TABLE_OLD + """      - {model: acme-large, valid_from: 2020-01-01, input: 3.00, output: 15.00, cache_read: 0.30}
"""
DAY_MS = 86_400_000


def nano(price: dict, e: dict) -> int:
    """The exact cost in nano-USD: pico-USD summed, rounded once half to even."""
    pico = (e["input_tokens"] * price["input"] + e["output_tokens"] * price["output"]
            + e.get("cache_read_tokens", 0) * price["cache_read"])
    q, r = divmod(pico, 1000)
    if r > 500 or (r == 500 and q % 2 == 1):
        q += 1
    return q


def day(ms: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(ms / 1000))


class RepriceTest(DumpLogsOnFailure):
    @classmethod
    def setUpClass(cls):
        cls.server = TallyServer(None, name="reprice")
        cls.prices = os.path.join(cls.server.tmp, "prices.yaml")
        with open(cls.prices, "w", encoding="utf-8") as f:
            f.write(TABLE_OLD)
        cls.server.config_text = f"pricing:\n  file: {cls.prices}\nstorage:\n  snapshot_interval: 1h\n"
        cls.server.start(wait_ready=True)
        # A key of the same project without account:admin.
        r = cls.server.post_json("/v1/account/keys/create",
                                 {"name": "writer", "scopes": ["events:write", "analytics:read"]})
        assert r.status in (200, 201), r
        cls.writer_key = r.json()["key_secret"]

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.server.cleanup()

    def write_table(self, text: str) -> None:
        with open(self.prices, "w", encoding="utf-8") as f:
            f.write(text)

    def reprice(self, body, status=200, headers=None):
        r = self.server.post_json("/v1/events/reprice", body, headers=headers)
        self.assertEqual(r.status, status, r)
        return r

    def costs_by_model(self, start: str, end: str) -> dict:
        r = self.server.get(f"/v1/analytics/costs?start_date={start}&end_date={end}&group_by=model")
        self.assertEqual(r.status, 200, r)
        return {row["model"]: row for row in r.json()["data"]}

    def metric_cost(self, model: str) -> float:
        return sum(v for _, v in self.server.metrics().find("tally_llm_cost_usd_total", model=model))

    def test_reprice_after_reload_then_kill9_and_restart(self):
        self.write_table(TABLE_OLD)  # other tests may have reloaded another one
        self.assertEqual(self.server.post_json("/-/reload", {}).status, 200)
        rng = random.Random(6)
        now_ms = int(time.time() * 1000)
        run = uuid.uuid4().hex[:8]
        events = []
        for i in range(300):
            kind = "large" if i % 3 else ("small" if i % 6 else "reported")
            e = {"id": f"rp-{run}-{i}", "timestamp": now_ms - rng.randrange(0, 2 * DAY_MS),
                 "model": KNOWN if kind == "small" else MODEL, "provider": PROVIDER,
                 "input_tokens": rng.randrange(0, 50_000), "output_tokens": rng.randrange(0, 8_000),
                 "entity_type": "customer", "entity_id": f"c{i % 7}"}
            if rng.random() < 0.3:
                e["cache_read_tokens"] = rng.randrange(1, 20_000)
            if kind == "reported":
                e["cost_usd"] = rng.randrange(1, 10**6) / 1e6
            events.append((kind, e))
        r = self.server.post_json("/v1/events", {"events": [e for _, e in events]})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["accepted"], len(events), r.json())
        start, end = day(now_ms - 3 * DAY_MS), day(now_ms)
        large = [e for k, e in events if k == "large"]
        small = [e for k, e in events if k == "small"]
        reported = [e for k, e in events if k == "reported"]
        reported_nano = sum(round(e["cost_usd"] * 1e9) for e in reported)

        before = self.costs_by_model(start, end)
        self.assertAlmostEqual(before[MODEL]["total_cost"], reported_nano / 1e9, delta=1e-9)
        got = self.server.get(f"/v1/events/{large[0]['id']}").json()
        self.assertEqual((got["cost_source"], got["cost_usd"]), ("unknown_model", 0))
        metric_before = self.metric_cost(MODEL)

        # The new table, reloaded; events already stored keep their cost until re-priced.
        self.write_table(TABLE_NEW)
        r = self.server.post_json("/-/reload", {})
        self.assertEqual(r.status, 200, r)
        self.assertAlmostEqual(self.costs_by_model(start, end)[MODEL]["total_cost"],
                               reported_nano / 1e9, delta=1e-9)

        expected_large = {e["id"]: nano(PRICE_LARGE, e) for e in large}
        key = f"reprice-{run}"
        # The provider filter keeps the other tests' events out of the counts.
        body = {"start_date": start, "end_date": end, "provider": PROVIDER}
        out = self.reprice({**body, "idempotency_key": key}).json()
        # Every unknown event gets a price (even a zero-token one: cost 0, price_table).
        self.assertEqual(out["repriced"], len(large), out)
        self.assertEqual(out["unchanged"], len(small), out)
        self.assertEqual(out["still_unknown"], 0, out)
        self.assertEqual(out["skipped_reported"], len(reported), out)
        self.assertAlmostEqual(out["total_cost_delta_usd"], sum(expected_large.values()) / 1e9,
                               delta=1e-9)
        # The same key and body: the first answer, nothing re-run.
        again = self.reprice({**body, "idempotency_key": key})
        self.assertEqual(again.headers.get("idempotent-replayed"), "true")
        self.assertEqual(again.json(), out)
        # Without the key: nothing left to change.
        second = self.reprice(body).json()
        self.assertEqual(second["repriced"], 0, second)

        def check(label: str) -> None:
            rows = self.costs_by_model(start, end)
            want = (sum(expected_large.values()) + reported_nano) / 1e9
            self.assertAlmostEqual(rows[MODEL]["total_cost"], want, delta=1e-9, msg=label)
            self.assertAlmostEqual(rows[KNOWN]["total_cost"],
                                   sum(nano(PRICE_SMALL, e) for e in small) / 1e9, delta=1e-9,
                                   msg=label)
            for e in large[:20] + reported[:5]:
                got = self.server.get(f"/v1/events/{e['id']}").json()
                if e in reported:
                    self.assertEqual((got["cost_source"], got["cost_usd"]),
                                     ("reported", e["cost_usd"]), label)
                else:
                    self.assertEqual(got["cost_source"], "price_table", f"{label} {e}")
                    self.assertAlmostEqual(got["cost_usd"], expected_large[e["id"]] / 1e9,
                                           delta=1e-12, msg=label)
            models = self.server.get(f"/v1/analytics/models?start_date={start}&end_date={end}").json()
            row = [m for m in models["data"] if m["model"] == MODEL][0]
            self.assertEqual(row["cost_source"], "mixed", label)
            self.assertEqual(row["cost_sources"], {"price_table": len(large),
                                                   "reported": len(reported)}, label)
            by_entity = defaultdict(int)
            for k, e in events:
                if k == "large":
                    by_entity[e["entity_id"]] += expected_large[e["id"]]
                elif k == "small":
                    by_entity[e["entity_id"]] += nano(PRICE_SMALL, e)
                else:
                    by_entity[e["entity_id"]] += round(e["cost_usd"] * 1e9)
            r = self.server.get(f"/v1/analytics/costs?start_date={start}&end_date={end}"
                                "&group_by=entity").json()
            for row in r["data"]:
                if row["entity_id"] is None:
                    continue  # the other tests' events
                self.assertAlmostEqual(row["total_cost"], by_entity.pop(row["entity_id"]) / 1e9,
                                       delta=1e-9, msg=f"{label} {row}")
            self.assertEqual(by_entity, {}, label)

        check("after reprice")
        # The counter gained the increases (every change here is one).
        self.assertAlmostEqual(self.metric_cost(MODEL) - metric_before,
                               sum(expected_large.values()) / 1e9, delta=1e-6)

        # kill -9 with the OLD table back in the file: the WAL record decides.
        self.write_table(TABLE_OLD)
        self.server.kill9()
        self.server.start(wait_ready=True)
        check("after kill -9")
        # A clean stop writes a snapshot; the restart loads it.
        self.server.stop(keep_data=True)
        self.server.start(wait_ready=True)
        check("after a clean restart")
        self.assertIn("snapshot: loaded", self.server.log())
        self.write_table(TABLE_NEW)

    def test_filters_only_unknown_and_model(self):
        now_ms = int(time.time() * 1000)
        run = uuid.uuid4().hex[:8]
        model = f"late-model-{run}"
        ids = [f"f-{run}-{i}" for i in range(4)]
        body = {"events": [
            {"id": ids[0], "model": model, "provider": "zeta", "input_tokens": 1000, "timestamp": now_ms},
            {"id": ids[1], "model": model, "provider": "zeta", "input_tokens": 1000,
             "timestamp": now_ms - 5 * DAY_MS},
            {"id": ids[2], "model": model, "provider": "zeta", "input_tokens": 1000,
             "cost_usd": 0.5, "timestamp": now_ms},
            {"id": ids[3], "model": f"other-{run}", "provider": "zeta", "input_tokens": 1000,
             "timestamp": now_ms}]}
        self.assertEqual(self.server.post_json("/v1/events", body).json()["accepted"], 4)
        self.write_table(TABLE_NEW + f"""  zeta:
    source: https://example.com/zeta
    models:
      - {{model: {model}, valid_from: 2020-01-01, input: 2.00, output: 4.00}}
      - {{model: other-{run}, valid_from: 2020-01-01, input: 1.00, output: 1.00}}
""")
        self.assertEqual(self.server.post_json("/-/reload", {}).status, 200)
        out = self.reprice({"start_date": day(now_ms - DAY_MS), "end_date": now_ms,
                            "model": model, "provider": "ZETA", "only_unknown": True}).json()
        self.assertEqual((out["repriced"], out["skipped_reported"]), (1, 0), out)
        self.assertAlmostEqual(out["total_cost_delta_usd"], 0.002, delta=1e-12)
        get = lambda i: self.server.get(f"/v1/events/{ids[i]}").json()
        self.assertEqual(get(0)["cost_usd"], 0.002)
        self.assertEqual(get(1)["cost_source"], "unknown_model", "outside the range")
        self.assertEqual(get(2)["cost_usd"], 0.5)
        self.assertEqual(get(3)["cost_source"], "unknown_model", "another model")
        self.write_table(TABLE_NEW)
        self.assertEqual(self.server.post_json("/-/reload", {}).status, 200)

    def test_bad_input_names_the_field(self):
        cases = [
            ({}, "start_date"),
            ({"start_date": "2025-01-02"}, "end_date"),
            ({"start_date": "2025-01-02", "end_date": "2025-01-01"}, "end_date"),
            ({"start_date": "2025-01-02T00:00:01Z", "end_date": "2025-01-02T00:00:00Z"}, "end_date"),
            ({"start_date": True, "end_date": "2025-01-01"}, "start_date"),
            ({"start_date": "yesterday", "end_date": "2025-01-01"}, "start_date"),
            ({"start_date": "2025-01-01", "end_date": ["2025-01-02"]}, "end_date"),
            ({"start_date": "2025-01-01", "end_date": "2025-01-02", "only_unknown": "yes"}, "only_unknown"),
            ({"start_date": "2025-01-01", "end_date": "2025-01-02", "model": 3}, "model"),
            ({"start_date": "2025-01-01", "end_date": "2025-01-02", "model": ""}, "model"),
            ({"start_date": "2025-01-01", "end_date": "2025-01-02", "provider": {}}, "provider"),
            ({"start_date": "2025-01-01", "end_date": "2025-01-02", "colour": "red"}, "colour"),
        ]
        for body, param in cases:
            with self.subTest(body=body):
                r = self.reprice(body, status=400)
                self.assertEqual(r.error()["code"], "invalid_request", r)
                self.assertEqual(r.error()["param"], param, r)
        r = self.reprice(b"{not json", status=400)
        self.assertEqual(r.error()["code"], "invalid_request")
        r = self.reprice({"start_date": "2025-01-01", "end_date": "2025-01-02",
                          "project_id": "no-such-project"}, status=404)
        self.assertEqual(r.error()["param"], "project_id")
        # A key without account:admin: 403, and nothing re-priced.
        r = self.reprice({"start_date": "2025-01-01", "end_date": "2025-01-02"}, status=403,
                         headers=self.server.auth(self.writer_key))
        self.assertEqual(r.error()["code"], "forbidden")
        self.assertIn("account:admin", r.error()["message"])
        self.reprice({"start_date": "2025-01-01", "end_date": "2025-01-02"}, status=401,
                     headers=self.server.auth(None))


class BuiltInTableTest(DumpLogsOnFailure):
    """Without pricing.file the built-in copy of config/prices.yaml prices events."""

    def test_unset_pricing_file_uses_the_built_in_table(self):
        server = TallyServer(None, name="builtin-prices")
        try:
            server.start(wait_ready=True)
            self.assertIn("prices from built-in config/prices.yaml", server.log())
            eid = f"b-{uuid.uuid4().hex[:8]}"
            r = server.post_json("/v1/events", {"id": eid, "model": "gpt-4o", "provider": "openai",
                                                "input_tokens": 1000, "output_tokens": 250})
            self.assertEqual(r.status, 200, r)
            got = server.get(f"/v1/events/{eid}").json()
            self.assertEqual(got["cost_source"], "price_table", got)
            # gpt-4o since 2024-10-02: 1000 x $2.50/1M + 250 x $10/1M.
            self.assertAlmostEqual(got["cost_usd"], 0.005, delta=1e-12)
        finally:
            server.stop()
            server.cleanup()


if __name__ == "__main__":
    unittest.main()
