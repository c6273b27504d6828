"""Ingest through the real binary: POST /v1/metrics/report and /v1/metrics/batch,
then what /metrics shows. Covers the contract of API.md sections 1-2.

Every expected value is computed from what the test sent. Bad inputs check the
status, the error code, `param`, that the store did not change (tally_store_*
gauges and the metric name on /metrics) and that the server still answers.
"""

from __future__ import annotations

import datetime
import json
import socket
import http.client
import time
import unittest
import uuid

from tally_harness import Metrics, Response, ServerTestCase, TIME_SCALE

REPORT = "/v1/metrics/report"
BATCH = "/v1/metrics/batch"
STORE_GAUGES = ("tally_store_samples", "tally_store_series", "tally_store_metrics",
                "tally_ingest_points_accepted_total")


def unique(prefix: str = "m") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def iso(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def raw_exchange(port: int, head: bytes, body_chunks=(), timeout: float = 60.0) -> Response:
    """Sends a hand-made request (for bodies http.client cannot send: huge, chunked,
    truncated) and reads the response even if the server stopped reading early."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout * TIME_SCALE)
    try:
        try:
            sock.sendall(head)
            for chunk in body_chunks:
                sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered early and closed; its answer is still readable
        resp = http.client.HTTPResponse(sock, method="POST")
        resp.begin()
        return Response(resp.status, dict(resp.getheaders()), resp.read())
    finally:
        sock.close()


class MetricsAssertions:
    """Helpers shared by the ingest test classes (mixed into ServerTestCase)."""

    def ok_report(self, point: dict, headers=None) -> Response:
        r = self.post(REPORT, point, headers)
        self.assertEqual(r.status, 200, f"{point}: {r!r}")
        self.assertEqual(r.json(), {"ok": True})
        return r

    def ok_batch(self, points: list, headers=None, **extra) -> dict:
        r = self.post(BATCH, {"points": points, **extra}, headers)
        self.assertEqual(r.status, 200, r)
        doc = r.json()
        self.assertEqual(doc, {"accepted": len(points), "rejected": 0, "errors": []})
        return doc

    def assert_histogram(self, m: Metrics, name: str, labels: dict, values: list[float]) -> None:
        self.assertEqual(m.types.get(name), "histogram", f"# TYPE of {name}")
        self.assertEqual(m.value(f"{name}_count", **labels), len(values))
        self.assertAlmostEqual(m.value(f"{name}_sum", **labels), sum(values), places=9)
        buckets = m.find(f"{name}_bucket", **labels)
        self.assertGreaterEqual(len(buckets), 2, f"{name}_bucket: {buckets}")
        les = [float(l["le"]) for l, _ in buckets]
        self.assertEqual(les, sorted(les), "buckets in increasing le order")
        self.assertEqual(les[-1], float("inf"), "the last bucket is +Inf")
        for l, v in buckets:
            le = float(l["le"])
            self.assertEqual(v, sum(1 for x in values if x <= le), f"{name}_bucket le={l['le']}")


class IngestGoodPaths(MetricsAssertions, ServerTestCase):
    # One histogram rule so configured buckets are exercised next to the defaults.
    CONFIG = """
exposition:
  histograms:
    - match: "custom_*"
      buckets: [-5, 0, 10, 100]
"""

    def test_counter_is_cumulative_total(self):
        name = unique("hits")
        increments = [1.5, 2, 3.25, 0, 10]
        for v in increments:
            self.ok_report({"name": name, "value": v, "type": "counter", "tags": {"env": "prod"}})
        m = self.server.metrics()
        self.assertEqual(m.types.get(f"{name}_total"), "counter")
        self.assertEqual(m.value(f"{name}_total", env="prod", project="default"), sum(increments))
        self.assertNotIn(name, m.names(), "a counter is exposed only as <name>_total")

    def test_counter_already_named_total_is_not_suffixed_twice(self):
        base = unique("req")
        self.ok_report({"name": f"{base}_total", "value": 4, "type": "counter"})
        self.ok_report({"name": f"{base}_total", "value": 5, "type": "counter"})
        m = self.server.metrics()
        self.assertEqual(m.value(f"{base}_total", project="default"), 9)
        self.assertNotIn(f"{base}_total_total", m.names())

    def test_gauge_keeps_last_value_by_timestamp(self):
        name = unique("queue_depth")
        now = time.time()
        # Sent out of timestamp order, in the three timestamp forms.
        sent = [(now - 30, 5.0, int(now - 30)),                  # unix seconds
                (now - 10, 7.25, int((now - 10) * 1000)),       # unix milliseconds
                (now - 20, 6.0, iso(now - 20))]                 # ISO 8601
        for _, value, ts in sent:
            self.ok_report({"name": name, "value": value, "type": "gauge", "timestamp": ts})
        latest = max(sent, key=lambda s: s[0])[1]
        m = self.server.metrics()
        self.assertEqual(m.types.get(name), "gauge")
        self.assertEqual(m.value(name, project="default"), latest)

    def test_gauge_is_the_default_type_and_without_timestamp_the_last_report_wins(self):
        name = unique("temperature")
        values = [21.5, -3.0, 18.75]
        for v in values:
            self.ok_report({"name": name, "value": v})
        m = self.server.metrics()
        self.assertEqual(m.types.get(name), "gauge")
        self.assertEqual(m.value(name, project="default"), values[-1])

    def test_timing_is_a_histogram(self):
        name = unique("render_time")
        values = [0.5, 3, 7, 7, 120, 999.5, 20000]
        for v in values:
            self.ok_report({"name": name, "value": v, "type": "timing", "tags": {"page": "home"}})
        self.assert_histogram(self.server.metrics(), name, {"page": "home", "project": "default"},
                              values)

    def test_distribution_uses_configured_buckets_and_allows_negative_values(self):
        name = unique("custom_delta")
        values = [-7, -5, 0, 0.25, 10, 99, 1000]
        self.ok_batch([{"name": name, "value": v, "type": "distribution"} for v in values])
        m = self.server.metrics()
        self.assert_histogram(m, name, {"project": "default"}, values)
        les = [l["le"] for l, _ in m.find(f"{name}_bucket", project="default")]
        self.assertEqual([float(x) for x in les], [-5, 0, 10, 100, float("inf")],
                         "buckets come from exposition.histograms for custom_*")

    def test_name_normalisation(self):
        base = unique("api")
        self.ok_report({"name": f"{base}.latency", "value": 12, "type": "timing"})
        # Every spelling of one name is the same metric and the same series.
        spellings = {f"{base}.hits": 2, f"{base}-hits": 3, f"{base}/hits": 4, f"{base}_hits": 5}
        for n, v in spellings.items():
            self.ok_report({"name": n, "value": v, "type": "counter", "tags": {"z": "1"}})
        m = self.server.metrics()
        self.assert_histogram(m, f"{base}_latency", {"project": "default"}, [12])
        self.assertEqual(m.find(f"{base}_hits_total"), [({"z": "1", "project": "default"},
                                                         sum(spellings.values()))])

    def test_tags_become_labels_next_to_project(self):
        name = unique("jobs")
        tricky = {"path": 'a"b\\c\nd', "lang": "日本語 ✓", "Mixed_Case9": "x"}
        self.ok_report({"name": name, "value": 1, "type": "counter", "tags": tricky})
        # Same tags in another order: the same series.
        self.ok_report({"name": name, "value": 2, "type": "counter",
                        "tags": dict(reversed(list(tricky.items())))})
        self.ok_report({"name": name, "value": 4, "type": "counter", "tags": {"path": "other"}})
        self.ok_report({"name": name, "value": 8, "type": "counter"})
        m = self.server.metrics()
        series = {tuple(sorted(l.items())): v for l, v in m.find(f"{name}_total")}
        self.assertEqual(series, {
            tuple(sorted({**tricky, "project": "default"}.items())): 3,
            (("path", "other"), ("project", "default")): 4,
            (("project", "default"),): 8,
        })

    def test_boundaries_are_accepted(self):
        name = (unique("b") + "_").ljust(200, "n")  # 200 characters
        tags = {f"t{i}": "v" for i in range(31)}
        tags["k" * 100] = "é" * 512  # a 100-character key and a 1024-byte value
        self.assertEqual(len(tags), 32)
        self.ok_report({"name": name, "value": 1, "tags": tags})
        m = self.server.metrics()
        (labels, value), = m.find(name)
        self.assertEqual(value, 1)
        self.assertEqual(labels["k" * 100], "é" * 512)
        self.assertEqual(len(labels), 33)  # 32 tags + project

    def test_timestamp_a_few_minutes_ahead_is_accepted(self):
        name = unique("skew")
        self.ok_report({"name": name, "value": 3, "timestamp": int(time.time()) + 300})
        self.assertEqual(self.server.metrics().value(name), 3)

    def test_batch_of_mixed_types(self):
        c, g, t = unique("bc"), unique("bg"), unique("bt")
        points = [
            {"name": c, "value": 1, "type": "counter", "tags": {"shard": "a"}},
            {"name": g, "value": 10, "type": "gauge"},
            {"name": c, "value": 2, "type": "counter", "tags": {"shard": "b"}},
            {"name": t, "value": 42, "type": "timing"},
            {"name": c, "value": 3, "type": "counter", "tags": {"shard": "a"}},
            {"name": g, "value": 11, "type": "gauge"},
            {"name": t, "value": 4, "type": "timing"},
        ]
        self.ok_batch(points)
        m = self.server.metrics()
        self.assertEqual(m.value(f"{c}_total", shard="a"), 4)
        self.assertEqual(m.value(f"{c}_total", shard="b"), 2)
        self.assertEqual(m.value(g), 11)
        self.assert_histogram(m, t, {"project": "default"}, [42, 4])

    def test_batch_of_10000_points_is_accepted(self):
        name = unique("big")
        points = [{"name": name, "value": i % 7, "type": "counter", "tags": {"k": str(i % 10)}}
                  for i in range(10_000)]
        self.ok_batch(points)
        m = self.server.metrics()
        for k in range(10):
            want = sum(i % 7 for i in range(10_000) if i % 10 == k)
            self.assertEqual(m.value(f"{name}_total", k=str(k)), want, f"k={k}")

    # -- idempotency -------------------------------------------------------

    def test_idempotency_key_in_body_replays_and_does_not_double_count(self):
        name = unique("paid")
        key = unique("key")
        point = {"name": name, "value": 5, "type": "counter", "idempotency_key": key}
        first = self.post(REPORT, point)
        self.assertEqual(first.status, 200, first)
        self.assertNotIn("idempotent-replayed", first.headers)
        again = self.post(REPORT, point)
        self.assertEqual(again.status, 200, again)
        self.assertEqual(again.headers.get("idempotent-replayed"), "true")
        self.assertEqual(again.body, first.body)
        self.assertEqual(self.server.metrics().value(f"{name}_total"), 5)

        other = dict(point, value=6)
        r = self.post(REPORT, other)
        self.assert_error(r, 422, "idempotency_key_reused", "idempotency_key")
        self.assertEqual(self.server.metrics().value(f"{name}_total"), 5)

    def test_idempotency_key_header_on_batch(self):
        name = unique("hdr")
        key = unique("key")
        body = {"points": [{"name": name, "value": 2, "type": "counter"},
                           {"name": name, "value": 3, "type": "counter"},
                           {"name": name, "value": -1, "type": "counter"}]}
        first = self.post(BATCH, body, {"Idempotency-Key": key})
        self.assertEqual(first.status, 200, first)
        self.assertEqual(first.json()["accepted"], 2)
        self.assertNotIn("idempotent-replayed", first.headers)
        again = self.post(BATCH, body, {"Idempotency-Key": key})
        self.assertEqual(again.status, 200, again)
        self.assertEqual(again.headers.get("idempotent-replayed"), "true")
        self.assertEqual(again.json(), first.json(), "the first response, rejects included")
        self.assertEqual(self.server.metrics().value(f"{name}_total"), 5)

        body["points"][0]["value"] = 20
        r = self.post(BATCH, body, {"Idempotency-Key": key})
        self.assert_error(r, 422, "idempotency_key_reused", ("idempotency_key", "Idempotency-Key"))
        # Without the key the same body is a new write.
        self.assertEqual(self.post(BATCH, body).status, 200)
        self.assertEqual(self.server.metrics().value(f"{name}_total"), 5 + 23)

    def test_body_key_and_header_key_are_the_same_key(self):
        name = unique("both")
        key = unique("key")
        point = {"name": name, "value": 7, "type": "counter", "idempotency_key": key}
        self.assertEqual(self.post(REPORT, point).status, 200)
        again = self.post(REPORT, point, {"Idempotency-Key": key})
        self.assertEqual(again.status, 200, again)
        self.assertEqual(again.headers.get("idempotent-replayed"), "true")
        # A header-only request with the same key but a different body is a reuse.
        r = self.post(REPORT, {"name": name, "value": 7, "type": "counter"},
                      {"Idempotency-Key": key})
        self.assert_error(r, 422, "idempotency_key_reused", ("idempotency_key", "Idempotency-Key"))
        self.assertEqual(self.server.metrics().value(f"{name}_total"), 7)

    def test_conflicting_or_invalid_keys_are_rejected(self):
        name = unique("conf")
        r = self.post(REPORT, {"name": name, "value": 1, "idempotency_key": "a"},
                      {"Idempotency-Key": "b"})
        self.assert_error(r, 400, "invalid_request", ("idempotency_key", "Idempotency-Key"))
        r = self.post(REPORT, {"name": name, "value": 1}, {"Idempotency-Key": "k" * 256})
        self.assert_error(r, 400, "invalid_request", ("idempotency_key", "Idempotency-Key"))
        r = self.post(REPORT, {"name": name, "value": 1, "idempotency_key": 12})
        self.assert_error(r, 400, "invalid_request", "idempotency_key")
        self.assertFalse(self.server.metrics().has_prefix(name))


class IngestBadInputs(MetricsAssertions, ServerTestCase):
    """Every rejected input: documented status/code/param, no store change, still serving."""

    def reject(self, body, status=400, code="invalid_request", param=..., path=REPORT,
               headers=None, absent=()) -> dict:
        before = self.server.metrics()
        r = self.post(path, body, headers)
        err = self.assert_error(r, status, code, param, msg=f"body {str(body)[:200]}")
        after = self.server.metrics()
        for g in STORE_GAUGES:
            self.assertEqual(after.value(g), before.value(g), f"{g} changed: something was stored")
        for name in absent:
            self.assertFalse(after.has_prefix(name), f"{name} appeared on /metrics")
        self.assert_serving()
        return err

    def assert_store_unchanged_by(self, fn):
        before = self.server.metrics()
        result = fn()
        after = self.server.metrics()
        for g in STORE_GAUGES:
            self.assertEqual(after.value(g), before.value(g), f"{g} changed")
        self.assert_serving()
        return result

    def test_malformed_json(self):
        n = unique("mal")
        for raw in [f'{{"name": "{n}", "value": }}', f'{{name: "{n}", value: 1}}', "not json",
                    f'{{"name": "{n}", "value": 1}} trailing', f'{{"name": "{n}", "value": 1}}{{}}',
                    f"['{n}', 1]", f'{{"name": "{n}", "value": 1,}}', ""]:
            with self.subTest(raw=raw):
                self.reject(raw.encode(), param=None, absent=[n])
                if raw:
                    self.reject(f'{{"points": [{raw}]}}'.encode(), param=None, path=BATCH,
                                absent=[n])

    def test_truncated_body(self):
        n = unique("trunc")
        full = json.dumps({"name": n, "value": 1, "type": "counter", "tags": {"a": "b"}})
        for cut in (1, 5, len(full) // 2, len(full) - 1):
            with self.subTest(cut=cut):
                self.reject(full[:cut].encode(), param=None, absent=[n])
        # Content-Length promises more than arrives; the client then half-closes.
        head = (f"POST {REPORT} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {self.server.api_key()}\r\n"
                f"Content-Type: application/json\r\n"
                f"Content-Length: {len(full)}\r\n\r\n").encode()
        before = self.server.metrics()
        sock = socket.create_connection(("127.0.0.1", self.server.port), timeout=30 * TIME_SCALE)
        try:
            sock.sendall(head + full[: len(full) // 2].encode())
            sock.shutdown(socket.SHUT_WR)
            resp = http.client.HTTPResponse(sock, method="POST")
            resp.begin()
            r = Response(resp.status, dict(resp.getheaders()), resp.read())
        finally:
            sock.close()
        self.assert_error(r, 400, "invalid_request", None)
        after = self.server.metrics()
        for g in STORE_GAUGES:
            self.assertEqual(after.value(g), before.value(g), g)
        self.assert_serving()

    def test_wrong_types(self):
        n = unique("types")
        cases = [
            ({"name": 5, "value": 1}, "name"),
            ({"name": None, "value": 1}, "name"),
            ({"name": [n], "value": 1}, "name"),
            ({"name": n, "value": "1"}, "value"),
            ({"name": n, "value": True}, "value"),
            ({"name": n, "value": None}, "value"),
            ({"name": n, "value": [1]}, "value"),
            ({"name": n, "value": {"v": 1}}, "value"),
            ({"name": n, "value": "NaN"}, "value"),
            ({"name": n, "value": 1, "type": 1}, "type"),
            ({"name": n, "value": 1, "type": "histogram"}, "type"),
            ({"name": n, "value": 1, "type": "Counter"}, "type"),
            ({"name": n, "value": 1, "tags": ["a", "b"]}, "tags"),
            ({"name": n, "value": 1, "tags": "a:b"}, "tags"),
            ({"name": n, "value": 1, "tags": {"k": 1}}, "tags.k"),
            ({"name": n, "value": 1, "tags": {"k": None}}, "tags.k"),
            ({"name": n, "value": 1, "tags": {"k": {"x": "y"}}}, "tags.k"),
            ({"name": n, "value": 1, "timestamp": True}, "timestamp"),
            ({"name": n, "value": 1, "timestamp": "yesterday-ish"}, "timestamp"),
            ({"name": n, "value": 1, "timestamp": [1]}, "timestamp"),
            ({"value": 1}, "name"),
            ({"name": n}, "value"),
        ]
        for body, param in cases:
            with self.subTest(body=body):
                self.reject(body, param=param, absent=[n])
        self.reject([{"name": n, "value": 1}], param=None, absent=[n])
        self.reject(42, param=None, absent=[n])
        # Batch-level shapes.
        self.reject({"points": {"name": n, "value": 1}}, param="points", path=BATCH, absent=[n])
        self.reject({"points": []}, param="points", path=BATCH, absent=[n])
        self.reject({}, param="points", path=BATCH, absent=[n])
        self.reject([{"name": n, "value": 1}], param=None, path=BATCH, absent=[n])

    def test_empty_name(self):
        self.reject({"name": "", "value": 1}, param="name")
        # A batch whose only point is bad is 200 with that point rejected.
        r = self.assert_store_unchanged_by(
            lambda: self.post(BATCH, {"points": [{"name": "", "value": 1}]}))
        self.assertEqual(r.status, 200, r)
        doc = r.json()
        self.assertEqual((doc["accepted"], doc["rejected"]), (0, 1))
        self.assertEqual([(e["index"], e["code"], e["param"]) for e in doc["errors"]],
                         [(0, "invalid_request", "points[0].name")])

    def test_illegal_characters_in_names(self):
        n = unique("ill")
        for bad in [f"{n} space", f"1{n}", f"{n};drop", f"{n}é", f"{n}\u0000", f"{n}{{x}}",
                    f"{n}\"", f".{n}", f"-{n}", f"/{n}", "x" * 201]:
            with self.subTest(name=bad):
                self.reject({"name": bad, "value": 1}, param="name", absent=[n])

    def test_illegal_tag_keys(self):
        n = unique("tagkey")
        for key in ["bad-key", "1abc", "has space", "dotted.key", "", "é", "__reserved",
                    "__name__", "k" * 101, "colon:key"]:
            with self.subTest(key=key):
                err = self.reject({"name": n, "value": 1, "tags": {"ok": "v", key: "v"}},
                                  absent=[n])
                self.assertTrue(err.get("param") in ("tags", f"tags.{key}") or
                                (len(key) > 100 and err.get("param", "").startswith("tags.k")),
                                f"param {err.get('param')!r} should name the tag {key!r}")

    def test_too_many_tags(self):
        n = unique("tags33")
        self.reject({"name": n, "value": 1, "tags": {f"t{i}": "v" for i in range(33)}},
                    param="tags", absent=[n])

    def test_tag_value_too_long(self):
        n = unique("tagval")
        self.reject({"name": n, "value": 1, "tags": {"k": "v" * 2048}}, param="tags.k", absent=[n])
        # The limit is in bytes, not characters: 513 two-byte characters = 1026 bytes.
        self.reject({"name": n, "value": 1, "tags": {"k": "é" * 513}}, param="tags.k", absent=[n])

    def test_invalid_utf8(self):
        n = unique("utf")
        for bad in [b"\xff", b"\xc3", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80"]:
            for where in ("tag", "name"):
                body = (b'{"name":"' + n.encode() + (bad if where == "name" else b"") +
                        b'","value":1,"tags":{"k":"a' + (bad if where == "tag" else b"") + b'"}}')
                with self.subTest(bad=bad, where=where):
                    self.reject(body, param=(None, "name" if where == "name" else "tags.k"),
                                absent=[n])
        # A JSON escape of a lone surrogate is not valid Unicode either.
        self.reject(('{"name":"%s","value":1,"tags":{"k":"\\ud800"}}' % n).encode(),
                    param=(None, "tags.k"), absent=[n])

    def test_nan_and_infinity(self):
        n = unique("nan")
        for token in ["NaN", "nan", "Infinity", "-Infinity", "inf", "1e999", "-1e999"]:
            with self.subTest(token=token):
                raw = f'{{"name":"{n}","value":{token},"type":"gauge"}}'.encode()
                self.reject(raw, param=(None, "value"), absent=[n])
                raw = f'{{"points":[{{"name":"{n}","value":{token}}}]}}'.encode()
                self.reject(raw, path=BATCH, param=(None, "points[0].value"), absent=[n])

    def test_negative_counter_and_timing(self):
        n = unique("neg")
        self.reject({"name": n, "value": -1, "type": "counter"}, param="value", absent=[n])
        self.reject({"name": n, "value": -0.001, "type": "counter"}, param="value", absent=[n])
        self.reject({"name": n, "value": -5, "type": "timing"}, param="value", absent=[n])

    def test_batch_over_10000_points(self):
        n = unique("toobig")
        points = [{"name": n, "value": 1, "type": "counter"} for _ in range(10_001)]
        self.reject({"points": points}, path=BATCH, param="points", absent=[n])

    def test_body_over_16_mib_is_413(self):
        n = unique("huge")
        # A valid batch of one point, padded with JSON whitespace to 17 MiB.
        prefix = json.dumps({"points": [{"name": n, "value": 1, "type": "counter"}]})[:-1].encode()
        size = 17 << 20
        pad = size - len(prefix) - 1
        before = self.server.metrics()
        head = (f"POST {BATCH} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {self.server.api_key()}\r\n"
                f"Content-Type: application/json\r\n"
                f"Content-Length: {size}\r\n\r\n").encode()
        chunk = b" " * (1 << 20)
        body = [prefix] + [chunk] * (pad // len(chunk)) + [b" " * (pad % len(chunk)), b"}"]
        self.assertEqual(sum(map(len, body)), size)
        r = raw_exchange(self.server.port, head, body)
        self.assert_error(r, 413, "payload_too_large")

        # The same with chunked transfer encoding (no Content-Length to check up front).
        head = (f"POST {BATCH} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {self.server.api_key()}\r\n"
                f"Content-Type: application/json\r\n"
                f"Transfer-Encoding: chunked\r\n\r\n").encode()
        chunks = [b"%x\r\n%s\r\n" % (len(c), c) for c in body if c] + [b"0\r\n\r\n"]
        r = raw_exchange(self.server.port, head, chunks)
        self.assert_error(r, 413, "payload_too_large")

        after = self.server.metrics()
        for g in STORE_GAUGES:
            self.assertEqual(after.value(g), before.value(g), g)
        self.assertFalse(after.has_prefix(n))
        self.assert_serving()

    def test_non_json_content_type_is_415(self):
        n = unique("ctype")
        for ct in ["text/plain", "application/x-www-form-urlencoded",
                   "multipart/form-data; boundary=x", "application/jsonx", None]:
            with self.subTest(content_type=ct):
                self.reject({"name": n, "value": 1}, 415, "unsupported_media_type",
                            ("Content-Type", "content-type"), headers={"Content-Type": ct},
                            absent=[n])
        # Control: JSON media types with parameters or another case are fine.
        for i, ct in enumerate(["application/json; charset=utf-8", "Application/JSON"]):
            r = self.post(REPORT, {"name": f"{n}_{i}", "value": 1}, {"Content-Type": ct})
            self.assertEqual(r.status, 200, f"{ct}: {r!r}")

    def test_unknown_route_is_404(self):
        for method, path in [("GET", "/v1/nope"), ("POST", "/v1/metrics/reportx"),
                             ("POST", "/v1/metrics/report/extra"), ("GET", "/")]:
            with self.subTest(path=path):
                r = self.assert_store_unchanged_by(
                    lambda: self.server.request(method, path, b"{}",
                                                {"Content-Type": "application/json"}))
                self.assert_error(r, 404, "not_found")

    def test_wrong_method_is_405_with_allow(self):
        n = unique("meth")
        body = json.dumps({"name": n, "value": 1}).encode()
        for method, path, allowed in [("GET", REPORT, "POST"), ("PUT", REPORT, "POST"),
                                      ("DELETE", BATCH, "POST"), ("PATCH", BATCH, "POST"),
                                      ("POST", "/healthz", "GET"), ("POST", "/metrics", "GET")]:
            with self.subTest(method=method, path=path):
                r = self.assert_store_unchanged_by(
                    lambda: self.server.request(method, path, body,
                                                {"Content-Type": "application/json"}))
                self.assert_error(r, 405, "method_not_allowed")
                allow = [m.strip() for m in r.headers.get("allow", "").split(",")]
                self.assertIn(allowed, allow, r.headers)
                self.assertNotIn(method, allow)
        self.assertFalse(self.server.metrics().has_prefix(n))

    def test_timestamp_too_far_ahead_or_too_old(self):
        n = unique("when")
        now = time.time()
        year = 365 * 86400
        for ts in [int(now + year), int((now + year) * 1000), iso(now + year),
                   int(now + 11 * 60), int(now - 16 * 86400)]:
            with self.subTest(ts=ts):
                self.reject({"name": n, "value": 1, "timestamp": ts}, param="timestamp",
                            absent=[n])

    def test_type_change_is_409(self):
        n = unique("typed")
        self.ok_report({"name": f"{n}.a", "value": 1, "type": "counter"})
        for other in ("gauge", "timing", "distribution"):
            with self.subTest(type=other):
                # The other spelling is the same metric.
                self.reject({"name": f"{n}_a", "value": 1, "type": other}, 409, "type_mismatch",
                            "type")
        self.assertEqual(self.server.metrics().value(f"{n}_a_total"), 1)

    def test_partial_batch(self):
        ctr, gauge, timing = unique("pc"), unique("pg"), unique("pt")
        bad = unique("pbad")
        now = int(time.time())
        points = [
            {"name": ctr, "value": 2, "type": "counter"},                      # 0 ok
            {"name": bad, "value": "x"},                                       # 1 value type
            {"name": gauge, "value": 7, "type": "gauge"},                      # 2 ok
            {"name": "", "value": 1},                                          # 3 empty name
            {"name": ctr, "value": -1, "type": "counter"},                     # 4 negative
            {"name": ctr, "value": 3, "type": "counter"},                      # 5 ok
            {"name": bad, "value": 1, "tags": {"bad-key": "v"}},               # 6 tag key
            {"name": ctr, "value": 1, "type": "gauge"},                        # 7 type change
            42,                                                                # 8 not an object
            {"name": bad, "value": 1, "timestamp": now + 365 * 86400},         # 9 future
            {"name": timing, "value": 12, "type": "timing"},                   # 10 ok
            {"name": bad, "value": 1, "type": "sometimes"},                    # 11 enum
            {"name": bad, "value": 1, "tags": {f"t{i}": "v" for i in range(33)}},  # 12 tags
        ]
        expected_errors = [
            (1, "invalid_request", ("points[1].value",)),
            (3, "invalid_request", ("points[3].name",)),
            (4, "invalid_request", ("points[4].value",)),
            (6, "invalid_request", ("points[6].tags", "points[6].tags.bad-key")),
            (7, "type_mismatch", ("points[7].type",)),
            (8, "invalid_request", ("points[8]",)),
            (9, "invalid_request", ("points[9].timestamp",)),
            (11, "invalid_request", ("points[11].type",)),
            (12, "invalid_request", ("points[12].tags",)),
        ]
        before = self.server.metrics()
        r = self.post(BATCH, {"points": points})
        self.assertEqual(r.status, 200, r)
        doc = r.json()
        self.assertEqual(doc["accepted"], len(points) - len(expected_errors))
        self.assertEqual(doc["rejected"], len(expected_errors))
        self.assertEqual([e["index"] for e in doc["errors"]], [e[0] for e in expected_errors])
        for got, (index, code, params) in zip(doc["errors"], expected_errors):
            self.assertEqual(got["code"], code, got)
            self.assertIn(got["param"], params, got)
            self.assertTrue(got["message"].strip(), got)
        after = self.server.metrics()
        self.assertEqual(after.value("tally_store_samples") - before.value("tally_store_samples"),
                         doc["accepted"], "exactly the accepted points were stored")
        self.assertEqual(after.value(f"{ctr}_total"), 5)
        self.assertEqual(after.value(gauge), 7)
        self.assert_histogram(after, timing, {"project": "default"}, [12])
        self.assertFalse(after.has_prefix(bad))
        self.assert_serving()


class Cardinality(ServerTestCase):
    CONFIG = "limits:\n  max_series_per_metric: 5\n"

    def test_sixth_tag_combination_is_rejected(self):
        name = unique("card")
        other = unique("card_other")
        for i in range(5):
            r = self.post(REPORT, {"name": name, "value": 1, "type": "counter",
                                   "tags": {"host": f"h{i}"}})
            self.assertEqual(r.status, 200, r)
        before = self.server.metrics()
        r = self.post(REPORT, {"name": name, "value": 1, "type": "counter",
                               "tags": {"host": "h5"}})
        self.assert_error(r, 400, "cardinality_limit", ("tags", "tags.host"))
        # Existing combinations still take points; other metrics have their own budget.
        r = self.post(REPORT, {"name": name, "value": 10, "type": "counter",
                               "tags": {"host": "h0"}})
        self.assertEqual(r.status, 200, r)
        r = self.post(BATCH, {"points": [
            {"name": name, "value": 1, "type": "counter", "tags": {"host": "h1"}},
            {"name": name, "value": 1, "type": "counter", "tags": {"host": "h6"}},
            {"name": other, "value": 1, "type": "counter", "tags": {"host": "h6"}}]})
        self.assertEqual(r.status, 200, r)
        doc = r.json()
        self.assertEqual((doc["accepted"], doc["rejected"]), (2, 1))
        self.assertEqual([(e["index"], e["code"]) for e in doc["errors"]],
                         [(1, "cardinality_limit")])
        self.assertIn(doc["errors"][0]["param"], ("points[1].tags", "points[1].tags.host"))

        m = self.server.metrics()
        series = {l["host"]: v for l, v in m.find(f"{name}_total")}
        self.assertEqual(series, {"h0": 11, "h1": 2, "h2": 1, "h3": 1, "h4": 1})
        self.assertEqual(m.value(f"{other}_total", host="h6"), 1)
        self.assertEqual(m.value("tally_store_series") - before.value("tally_store_series"), 1,
                         "only the other metric's series was added")
        self.assert_serving()


class MemoryCeiling(ServerTestCase):
    CONFIG = "storage:\n  max_memory: 1MiB\n"

    def test_ingest_answers_503_at_the_ceiling_and_the_server_keeps_serving(self):
        name = unique("mem")
        accepted = 0
        last = None
        for batch_no in range(2000):
            points = [{"name": name, "value": 1, "type": "counter",
                       "tags": {"b": str(batch_no), "i": str(i)}} for i in range(25)]
            r = self.post(BATCH, {"points": points})
            if r.status == 503:
                last = (batch_no, r)
                break
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()["accepted"], len(points))
            accepted += len(points)
        self.assertIsNotNone(last, "no 503 after 50,000 new series with max_memory 1MiB")
        batch_no, r = last
        err = self.assert_error(r, 503, "unavailable")
        self.assertIn("memory", err["message"])

        self.assertEqual(self.get("/healthz").status, 200)
        m = self.server.metrics()
        self.assertEqual(m.value("tally_store_samples"), accepted,
                         "every acknowledged point, and nothing from the refused batch")
        self.assertEqual(m.find(f"{name}_total", b=str(batch_no)), [])
        self.assertGreaterEqual(m.value("tally_store_memory_bytes"), 1 << 20)
        self.assertEqual(sum(v for _, v in m.find(f"{name}_total")), accepted)
        # Still refusing, still answering.
        r = self.post(REPORT, {"name": name, "value": 1, "type": "counter", "tags": {"b": "0",
                                                                                   "i": "0"}})
        self.assert_error(r, 503, "unavailable")
        self.assert_serving()


if __name__ == "__main__":
    unittest.main()
