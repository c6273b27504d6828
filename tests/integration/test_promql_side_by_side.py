"""PromQL side by side with the real Prometheus 2.42 (tally issue 4).

A generated data set (counters, gauges with drops, timing histograms, many
label combinations, irregular millisecond timestamps ~15 s apart over 90 min
ending near now) is reported to tally with POST /v1/metrics/batch. The test
computes, independently of tally, the exact series tally should present for it
(docs/api.md, "What a query sees"), writes them as OpenMetrics, turns them into
TSDB blocks with `promtool tsdb create-blocks-from openmetrics` and starts a
throwaway `prometheus` over those blocks. Then:

- raw round trip: `name[2h]` of every family on both servers equals the
  generated series exactly (so Prometheus holds what tally presents);
- every query of testdata/promql_side_by_side.txt goes through both HTTP APIs
  (/api/v1/query at two times, /api/v1/query_range over the data) and the
  results must be equal: result type, label sets, timestamps, values within a
  relative error of 1e-9 (NaN equals NaN), and the order where the query sorts.

Prometheus is stopped by its PID. Skipped when /usr/bin/prometheus is missing.
TALLY_SBS_SEED picks another data set (the seed is printed).
"""

from __future__ import annotations

import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request
from typing import Iterable, Optional

from tally_harness import DumpLogsOnFailure, TIME_SCALE, TallyServer, free_port, wait_until

PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
HERE = os.path.dirname(os.path.abspath(__file__))
QUERY_FILE = os.path.join(HERE, "testdata", "promql_side_by_side.txt")
REL_TOL = 1e-9

# ---------------------------------------------------------------------------
# The data set and the series tally should present for it.
#
# Points are what an application reports; expected_series() computes what a
# query sees:
#   gauge               name{tags,project}           the reported levels
#   counter             name_total{tags,project}     cumulative total at each report
#   timing              name_bucket{tags,project,le} cumulative count per bound, +Inf
#                       name_sum, name_count         running sums at each observation
#                       name{tags,project}           the raw observations
# Points sharing a timestamp are one sample: counters and histograms add them,
# gauges and raw observations keep the last one sent. A tag named `project` is
# exposed as `exported_project`. Every value is a multiple of 1/4 and small, so
# running sums are exact in binary floating point whichever order one adds them.
# Counters are increments, so `_total` never drops: sbs_proc_bytes, a gauge that
# grows and falls back, is what exercises counter resets in rate() and friends.
# tally's exposition.default_buckets (config/tally.yaml).
DEFAULT_BUCKETS = (1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000)
PROJECT = "default"

ROUTES = ("/api/a", "/api/b", "/login", "/health", "/upload")
METHODS = ("GET", "POST")
CODES = ("200", "404", "500")
TEAMS = {"/api/a": "core", "/api/b": "core", "/login": "auth", "/health": "ops",
         "/upload": "media"}


class Point(tuple):
    """(name, type, tags (sorted tuple of pairs), t_ms, value); sorts by time."""
    __slots__ = ()

    def __new__(cls, name, mtype, tags, t_ms, value):
        return super().__new__(cls, (name, mtype, tuple(sorted(tags.items())), t_ms, value))

    name = property(lambda s: s[0])
    type = property(lambda s: s[1])
    tags = property(lambda s: s[2])
    t_ms = property(lambda s: s[3])
    value = property(lambda s: s[4])

    def json(self) -> dict:
        doc = {"name": self.name, "type": self.type, "value": self.value, "timestamp": self.t_ms}
        if self.tags:
            doc["tags"] = dict(self.tags)
        return doc


def om_safe_ms(t_ms: int) -> int:
    """A timestamp promtool reads back exactly: it parses OpenMetrics seconds as a
    float64 and truncates seconds*1000 to int64 (Python floats are float64 too)."""
    while int(float(format_seconds(t_ms)) * 1000) != t_ms:
        t_ms += 1
    return t_ms


def format_seconds(t_ms: int) -> str:
    return f"{t_ms // 1000}.{t_ms % 1000:03d}"


def _times(rng: random.Random, start_ms: int, end_ms: int, every_ms: int = 15000,
           jitter_ms: int = 4000, keep: float = 1.0) -> list[int]:
    """Irregular timestamps ~every_ms apart with +-jitter_ms, a random phase; each
    kept with probability `keep`."""
    out = []
    t = start_ms + rng.randrange(every_ms)
    while t < end_ms:
        ts = om_safe_ms(t + rng.randint(-jitter_ms, jitter_ms))
        if start_ms <= ts <= end_ms and (not out or ts > out[-1]) and rng.random() < keep:
            out.append(ts)
        t += every_ms
    return out


def quarter(x: float) -> float:
    return round(x * 4) / 4


def generate(start_ms: int, end_ms: int, seed: int) -> list[Point]:
    """Reported points in [start_ms, end_ms], in the order they are to be sent
    (by time; points sharing a timestamp stay in generation order)."""
    rng = random.Random(seed)
    pts: list[Point] = []
    span = end_ms - start_ms

    # Counter: 30 label combinations; the 500s are sparse, some series start
    # late or stop early (gaps longer than the 5 m lookback), a few reports
    # share a timestamp (tally adds them).
    for route in ROUTES:
        for method in METHODS:
            for code in CODES:
                tags = {"route": route, "method": method, "code": code}
                lo, hi = start_ms, end_ms
                if rng.random() < 0.2:
                    lo = start_ms + rng.randrange(span // 2)
                if rng.random() < 0.2:
                    hi = end_ms - rng.randrange(span // 3)
                keep = 0.3 if code == "500" else 1.0
                rate = {"200": 12, "404": 3, "500": 2}[code]
                for t in _times(rng, lo, hi, keep=keep):
                    inc = rng.randint(0, rate) + (0.5 if rng.random() < 0.1 else 0)
                    pts.append(Point("sbs_http_requests", "counter", tags, t, inc))
                    if rng.random() < 0.03:
                        pts.append(Point("sbs_http_requests", "counter", tags, t,
                                         rng.randint(1, 5)))
    # A second counter per route, for one-to-one and group_left matching.
    for route in ROUTES:
        for t in _times(rng, start_ms, end_ms, keep=0.8):
            pts.append(Point("sbs_http_errors", "counter", {"route": route}, t,
                             rng.randint(0, 4)))
    # Gauges: levels with drops, duplicates at one timestamp (the last one wins).
    for host in ("h1", "h2", "h3"):
        for pool in ("a", "b"):
            tags = {"host": host, "pool": pool}
            level = rng.randint(0, 50)
            for t in _times(rng, start_ms, end_ms):
                level = max(0, level + rng.randint(-8, 9))
                if rng.random() < 0.05:
                    level = 0
                pts.append(Point("sbs_queue_depth", "gauge", tags, t, level))
                if rng.random() < 0.03:
                    pts.append(Point("sbs_queue_depth", "gauge", tags, t, level + 100))
    # A gauge that behaves like a counter with resets (a process restarting):
    # exercises rate/increase/resets on drops.
    for host in ("h1", "h2", "h3"):
        total = float(rng.randint(0, 1000))
        for t in _times(rng, start_ms, end_ms):
            total += rng.randint(0, 400) + quarter(rng.random())
            if rng.random() < 0.04:
                total = float(rng.randint(0, 20))
            pts.append(Point("sbs_proc_bytes", "gauge", {"host": host}, t, total))
    # A gauge with negative and fractional levels (abs, ceil, round, clamp, sgn).
    for sensor in ("s1", "s2", "s3", "s4"):
        temp = quarter(rng.uniform(-10, 10))
        for t in _times(rng, start_ms, end_ms, every_ms=20000, jitter_ms=6000):
            temp = quarter(temp + rng.uniform(-2.5, 2.5))
            pts.append(Point("sbs_temp", "gauge", {"sensor": sensor}, t, temp))
    # An info-style gauge (value 1) to join team onto routes with group_left.
    for route in ROUTES:
        for t in _times(rng, start_ms, end_ms, every_ms=60000, jitter_ms=10000):
            pts.append(Point("sbs_route_info", "gauge", {"route": route, "team": TEAMS[route]},
                             t, 1))
    # Escapes and unicode in label values; a `project` tag (-> exported_project).
    odd = [{"path": 'a"b\\c', "project": "x"}, {"path": "caf\u00e9 \u2603", "project": "y"},
           {"path": "line\nbreak", "project": "x"}]
    for tags in odd:
        for t in _times(rng, start_ms, end_ms, every_ms=30000, jitter_ms=9000):
            pts.append(Point("sbs_odd", "gauge", tags, t, rng.randint(-3, 3)))
    # Timings: 10 series of latencies in ms, multiples of 1/4, some exactly on a
    # bucket bound (le is inclusive); a few observations share a timestamp.
    for route in ROUTES:
        for method in METHODS:
            tags = {"route": route, "method": method}
            scale = {"/api/a": 2.5, "/api/b": 3.5, "/login": 4.5, "/health": 0.5,
                     "/upload": 6.5}[route]
            for t in _times(rng, start_ms, end_ms, every_ms=12000):
                if rng.random() < 0.08:
                    v = float(rng.choice(DEFAULT_BUCKETS))
                else:
                    v = min(20000.0, quarter(rng.lognormvariate(scale, 1.1)))
                pts.append(Point("sbs_latency", "timing", tags, t, v))
                if rng.random() < 0.04:
                    pts.append(Point("sbs_latency", "timing", tags, t,
                                     quarter(rng.lognormvariate(scale, 1.1))))
    pts.sort(key=lambda p: p.t_ms)  # stable: duplicates keep their order
    return pts


def format_bound(b: float) -> str:
    if math.isinf(b):
        return "+Inf"
    text = repr(float(b))
    return text[:-2] if text.endswith(".0") else text


def exposed_labels(name: str, tags: Iterable[tuple[str, str]], histogram: bool = False,
                   le: str | None = None) -> tuple[tuple[str, str], ...]:
    """The exposed label set (sorted, with __name__)."""
    tags = list(tags)
    present = {k for k, _ in tags}
    labels = {"__name__": name, "project": PROJECT}
    for k, v in tags:
        if k == "project" or (histogram and k == "le"):
            renamed = "exported_" + k
            while renamed in present:
                renamed = "exported_" + renamed
            k = renamed
        labels[k] = v
    if le is not None:
        labels["le"] = le
    return tuple(sorted(labels.items()))


def expected_series(points: list[Point]) -> dict[tuple, list[tuple[int, float]]]:
    """Exposed label set -> [(t_ms, value)] sorted by time."""
    by_series: dict[tuple, list[Point]] = {}
    for p in points:
        by_series.setdefault((p.name, p.type, p.tags), []).append(p)
    out: dict[tuple, list[tuple[int, float]]] = {}
    for (name, mtype, tags), pts in by_series.items():
        groups: list[tuple[int, list[float]]] = []  # (t, values in send order)
        for p in pts:
            if groups and groups[-1][0] == p.t_ms:
                groups[-1][1].append(p.value)
            else:
                assert not groups or p.t_ms > groups[-1][0], "points must be sent in time order"
                groups.append((p.t_ms, [p.value]))
        if mtype == "gauge":
            out[exposed_labels(name, tags)] = [(t, vs[-1]) for t, vs in groups]
        elif mtype == "counter":
            total, series = 0.0, []
            for t, vs in groups:
                total += sum(vs)
                series.append((t, total))
            out[exposed_labels(name + "_total", tags)] = series
        else:
            out[exposed_labels(name, tags, True)] = [(t, vs[-1]) for t, vs in groups]
            bounds = list(DEFAULT_BUCKETS) + [math.inf]
            counts = [0] * len(bounds)
            s, n = 0.0, 0
            buckets = [[] for _ in bounds]
            sums, ns = [], []
            for t, vs in groups:
                for v in vs:
                    for i, b in enumerate(bounds):
                        counts[i] += v <= b
                    s += v
                    n += 1
                for i in range(len(bounds)):
                    buckets[i].append((t, float(counts[i])))
                sums.append((t, s))
                ns.append((t, float(n)))
            for i, b in enumerate(bounds):
                out[exposed_labels(name + "_bucket", tags, True, format_bound(b))] = buckets[i]
            out[exposed_labels(name + "_sum", tags, True)] = sums
            out[exposed_labels(name + "_count", tags, True)] = ns
    return out


def _om_escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def format_om_value(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return repr(float(v))


def openmetrics(series: dict[tuple, list[tuple[int, float]]]) -> str:
    """The series as OpenMetrics text (untyped families, samples in time order)."""
    lines = []
    for labels, samples in series.items():
        d = dict(labels)
        name = d.pop("__name__")
        text = ",".join(f'{k}="{_om_escape(v)}"' for k, v in sorted(d.items()))
        head = f"{name}{{{text}}} "
        for t, v in samples:
            lines.append((t, f"{head}{format_om_value(v)} {format_seconds(t)}"))
    lines.sort(key=lambda x: x[0])
    return "".join(l + "\n" for _, l in lines) + "# EOF\n"


# ---------------------------------------------------------------------------
# The query list and result comparison.


def load_queries(path: str = QUERY_FILE) -> list[tuple[str, str]]:
    """[(mode, query)] with mode 'i', 'r', 'b' or 'e' (see the file's header)."""
    out = []
    with open(path, encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            mode, _, query = line.partition(" ")
            if mode not in ("i", "r", "b", "e") or not query.strip():
                raise ValueError(f"{path}:{line_no}: expected 'i|r|b|e QUERY', got {line!r}")
            out.append((mode, query.strip()))
    return out


def parse_value(text: str) -> float:
    return float(text)  # Python reads "NaN", "+Inf", "-Inf" like Go writes them


def values_equal(a: float, b: float) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=0.0)


def _points_equal(a: list, b: list) -> Optional[str]:
    if len(a) != len(b):
        return f"{len(a)} points vs {len(b)}"
    for (ta, va), (tb, vb) in zip(a, b):
        if float(ta) != float(tb):
            return f"timestamp {ta} vs {tb}"
        if not values_equal(parse_value(va), parse_value(vb)):
            return f"at {ta}: {va} vs {vb}"
    return None


def compare(tally: dict, prom: dict, ordered: bool) -> Optional[str]:
    """None if two Prometheus API answers are equal, else what differs."""
    if tally.get("status") != prom.get("status"):
        return (f"status {tally.get('status')} vs {prom.get('status')}: "
                f"{tally.get('error')!r} / {prom.get('error')!r}")
    if tally["status"] != "success":
        if tally.get("errorType") != prom.get("errorType"):
            return f"errorType {tally.get('errorType')} vs {prom.get('errorType')}"
        return None
    dt, dp = tally["data"], prom["data"]
    if dt["resultType"] != dp["resultType"]:
        return f"resultType {dt['resultType']} vs {dp['resultType']}"
    kind = dt["resultType"]
    if kind in ("scalar", "string"):
        if kind == "string":
            return None if dt["result"] == dp["result"] else f"{dt['result']} vs {dp['result']}"
        return _points_equal([dt["result"]], [dp["result"]])
    key = "value" if kind == "vector" else "values"

    def by_labels(result):
        out = {}
        for item in result:
            labels = tuple(sorted(item["metric"].items()))
            if labels in out:
                return None
            out[labels] = [item[key]] if kind == "vector" else item[key]
        return out

    rt, rp = by_labels(dt["result"]), by_labels(dp["result"])
    if rt is None or rp is None:
        return "duplicate label sets in a result"
    if rt.keys() != rp.keys():
        only_t = sorted(rt.keys() - rp.keys())[:3]
        only_p = sorted(rp.keys() - rt.keys())[:3]
        return (f"{len(rt)} vs {len(rp)} series; only in tally: {only_t}; "
                f"only in Prometheus: {only_p}")
    for labels in rt:
        diff = _points_equal(rt[labels], rp[labels])
        if diff:
            return f"{dict(labels)}: {diff}"
    if ordered:
        order_t = [tuple(sorted(i["metric"].items())) for i in dt["result"]]
        order_p = [tuple(sorted(i["metric"].items())) for i in dp["result"]]
        if order_t != order_p:
            # Equal values may come in any order (Go's sort is not stable).
            vt = [parse_value(i[key][1]) for i in dt["result"]]
            if [parse_value(rt[l][0][1]) for l in order_p] != vt and not any(map(math.isnan, vt)):
                return f"order differs: {order_t[:5]} vs {order_p[:5]}"
    return None


# ---------------------------------------------------------------------------


def http_json(url: str, params: dict, headers: Optional[dict] = None,
              timeout: float = 30.0) -> dict:
    """POSTs form params and returns the JSON answer (also on 4xx/5xx)."""
    body = urllib.parse.urlencode(params).encode()
    hdrs = {"Content-Type": "application/x-www-form-urlencoded", **(headers or {})}
    req = urllib.request.Request(url, data=body, headers=hdrs, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout * TIME_SCALE) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        text = e.read()
        try:
            return json.loads(text)
        except ValueError:
            return {"status": "error", "errorType": f"http {e.code}", "error": text[:300]}


class PrometheusPeer:
    """A throwaway `prometheus` over TSDB blocks built from OpenMetrics text."""

    def __init__(self, tmp: str):
        self.tmp = tmp
        self.proc: Optional[subprocess.Popen] = None
        self.port: Optional[int] = None
        self.log_path = os.path.join(tmp, "prometheus.log")

    def start(self, om_text: str, timeout: float = 60.0) -> None:
        om = os.path.join(self.tmp, "data.om")
        with open(om, "w", encoding="utf-8") as f:
            f.write(om_text)
        data = os.path.join(self.tmp, "tsdb")
        res = subprocess.run([PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", om, data],
                             capture_output=True, text=True, timeout=120 * TIME_SCALE)
        if res.returncode != 0:
            raise AssertionError(f"promtool create-blocks-from failed:\n{res.stdout}{res.stderr}")
        cfg = os.path.join(self.tmp, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global: {}\n")  # no scrapes: the blocks are the only data
        for attempt in range(3):  # free_port() can race with another process
            self.port = free_port()
            log = open(self.log_path, "ab")
            # Retention far beyond the data, so no block is dropped at start.
            self.proc = subprocess.Popen(
                [PROMETHEUS, f"--config.file={cfg}", f"--storage.tsdb.path={data}",
                 "--storage.tsdb.retention.time=10y", f"--web.listen-address=127.0.0.1:{self.port}",
                 "--enable-feature=promql-negative-offset"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            log.close()

            def ready():
                if self.proc.poll() is not None:
                    return "exited"
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/-/ready",
                                                timeout=2) as r:
                        return "ready" if r.status == 200 else None
                except (urllib.error.URLError, OSError):
                    return None

            if wait_until(ready, timeout, "Prometheus to become ready", interval=0.1) == "ready":
                return
        raise AssertionError(f"Prometheus did not start:\n{self.log()}")

    def query_url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # by PID: the process this test started
            try:
                self.proc.wait(timeout=20 * TIME_SCALE)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def log(self) -> str:
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")[-10000:]
        except FileNotFoundError:
            return ""


class PromqlSideBySide(DumpLogsOnFailure):

    @classmethod
    def setUpClass(cls) -> None:
        if not os.path.exists(PROMETHEUS):
            raise unittest.SkipTest(f"{PROMETHEUS} is not installed "
                                    "(apt-get install --no-install-recommends prometheus)")
        cls.seed = int(os.environ.get("TALLY_SBS_SEED", "4242"))
        now_ms = int(time.time() * 1000)
        # 90 min ending a minute ago (well inside tally's retention and future skew).
        cls.end_ms = now_ms - 60_000
        cls.start_ms = cls.end_ms - 90 * 60_000
        cls.points = generate(cls.start_ms, cls.end_ms, cls.seed)
        cls.expected = expected_series(cls.points)
        sys.stderr.write(f"\nside by side: seed {cls.seed}, {len(cls.points)} points, "
                         f"{len(cls.expected)} series, "
                         f"{sum(len(s) for s in cls.expected.values())} samples\n")
        cls.tmp = tempfile.mkdtemp(prefix="tally-sbs-")
        cls.prom = PrometheusPeer(cls.tmp)
        cls.tally = TallyServer(name="sbs").start()
        try:
            cls.ingest()
            cls.prom.start(openmetrics(cls.expected))
        except BaseException:
            cls.tally.dump_log("set-up failed")
            sys.stderr.write(f"\n----- prometheus log -----\n{cls.prom.log()}\n-----\n")
            cls.tally.kill()
            cls.prom.stop()
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls) -> None:
        cls.prom.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)
        cls.tally.stop()

    @classmethod
    def ingest(cls) -> None:
        batch = 10_000
        for i in range(0, len(cls.points), batch):
            chunk = [p.json() for p in cls.points[i:i + batch]]
            r = cls.tally.post_json("/v1/metrics/batch", {"points": chunk})
            assert r.status == 200, r
            doc = r.json()
            assert doc["accepted"] == len(chunk) and doc["rejected"] == 0, doc["errors"][:5]

    def on_failure(self) -> None:
        sys.stderr.write(f"\n----- prometheus log -----\n{self.prom.log()}\n-----\n")
        self.tally.dump_log(f"{self.id()} failed")

    def ask(self, path: str, params: dict) -> tuple[dict, dict]:
        tally = http_json(f"http://127.0.0.1:{self.tally.port}{path}", params,
                          {"Authorization": f"Bearer {self.tally.api_key()}"})
        prom = http_json(self.prom.query_url(path), params)
        return tally, prom

    # -- the store/exposition round trip ----------------------------------

    def test_raw_samples_round_trip(self):
        """`name[2h]` of every family: both servers hold exactly the generated series."""
        t = (self.end_ms + 30_000) / 1000
        families = sorted({dict(labels)["__name__"] for labels in self.expected})
        self.assertGreaterEqual(len(families), 10, families)
        seen = 0
        for family in families:
            with self.subTest(family=family):
                tally, prom = self.ask("/api/v1/query", {"query": f"{family}[2h]", "time": t})
                for who, answer in (("tally", tally), ("Prometheus", prom)):
                    self.assertEqual(answer.get("status"), "success", f"{who}: {answer}")
                    self.assertEqual(answer["data"]["resultType"], "matrix")
                    got = {tuple(sorted(s["metric"].items())):
                           [(round(float(ts) * 1000), float(v)) for ts, v in s["values"]]
                           for s in answer["data"]["result"]}
                    want = {l: s for l, s in self.expected.items()
                            if dict(l)["__name__"] == family}
                    self.assertEqual(got.keys(), want.keys(), f"{who}: label sets of {family}")
                    for labels, samples in want.items():
                        # Exact: the values are multiples of 1/4.
                        self.assertEqual(got[labels], samples, f"{who}: {dict(labels)}")
                    seen += sum(len(s) for s in got.values()) if who == "tally" else 0
        self.assertEqual(seen, sum(len(s) for s in self.expected.values()))

    # -- the query list -----------------------------------------------------

    def test_queries_equal(self):
        queries = load_queries()
        self.assertGreaterEqual(len(queries), 100)
        mid_s = (self.start_ms + self.end_ms) // 2 // 1000 + 0.25
        # Instant queries: shortly after the last sample, and mid-data at an
        # odd millisecond. Range: from before the first sample to beyond the
        # end plus the lookback (series vanish), at a step that is no divisor
        # of the sample spacing.
        instant_times = [(self.end_ms + 17_345) / 1000, mid_s - 123.457]
        range_params = {"start": self.start_ms // 1000 - 100, "end": self.end_ms / 1000 + 400,
                        "step": "37s"}
        results = []  # (description, difference or None)
        for mode, template in queries:
            query = template.replace("{MID}", f"{mid_s:.3f}")
            ordered = query.startswith(("sort(", "sort_desc("))
            if mode in ("i", "b", "e"):
                for t in instant_times:
                    tally, prom = self.ask("/api/v1/query", {"query": query, "time": t})
                    diff = compare(tally, prom, ordered)
                    if diff is None and (mode == "e") != (tally["status"] == "error"):
                        diff = f"expected {'an error' if mode == 'e' else 'success'} on both"
                    results.append((f"instant @{t}: {query}", diff, tally, prom))
            if mode in ("r", "b"):
                tally, prom = self.ask("/api/v1/query_range", {"query": query, **range_params})
                results.append((f"range: {query}", compare(tally, prom, False), tally, prom))
        equal = sum(1 for _, diff, _, _ in results if diff is None)
        nonempty = sum(1 for _, diff, t, _ in results
                       if diff is None and t["status"] == "success" and
                       t["data"]["resultType"] in ("vector", "matrix") and t["data"]["result"])
        sys.stderr.write(f"\nPromQL side by side: {len(results)} queries, {equal} equal "
                         f"({nonempty} with a non-empty vector/matrix)\n")
        failures = [(what, diff, t, p) for what, diff, t, p in results if diff is not None]
        for what, diff, t, p in failures[:20]:
            sys.stderr.write(f"DIFF {what}\n  {diff}\n  tally: {json.dumps(t)[:600]}\n"
                             f"  prometheus: {json.dumps(p)[:600]}\n")
        self.assertEqual(len(failures), 0, "\n".join(f"{w}: {d}" for w, d, _, _ in failures))
        # Most results hold data (the queries hit the generated series).
        self.assertGreater(nonempty, 0.8 * len(results))
        self.assertGreater(len(results) - nonempty, 0)  # and some are empty, scalar, errors



class CompareTest(unittest.TestCase):
    """compare() itself: what counts as equal (no servers needed)."""

    @staticmethod
    def vec(*items, kind="vector"):
        key = "value" if kind == "vector" else "values"
        return {"status": "success", "data": {"resultType": kind, "result": [
            {"metric": m, key: v} for m, v in items]}}

    def test_equal_answers(self):
        a = self.vec(({"a": "1"}, [10, "1.5"]), ({"a": "2"}, [10, "NaN"]))
        b = self.vec(({"a": "2"}, [10, "NaN"]), ({"a": "1"}, [10, "1.5000000000001"]))
        self.assertIsNone(compare(a, b, ordered=False))
        err = {"status": "error", "errorType": "bad_data", "error": "x"}
        self.assertIsNone(compare(err, {**err, "error": "y"}, ordered=False))

    def test_differences(self):
        a = self.vec(({"a": "1"}, [10, "1.5"]), ({"a": "2"}, [10, "2"]))
        cases = [
            self.vec(({"a": "1"}, [10, "1.5001"]), ({"a": "2"}, [10, "2"])),  # value
            self.vec(({"a": "1"}, [11, "1.5"]), ({"a": "2"}, [10, "2"])),  # timestamp
            self.vec(({"a": "1"}, [10, "1.5"])),  # a series missing
            self.vec(({"a": "1"}, [10, "1.5"]), ({"a": "3"}, [10, "2"])),  # labels
            self.vec(({"a": "1"}, [10, "NaN"]), ({"a": "2"}, [10, "2"])),  # NaN vs number
            self.vec(({"a": "1"}, [[10, "1.5"]]), ({"a": "2"}, [[10, "2"]]), kind="matrix"),
            {"status": "error", "errorType": "execution", "error": "x"},
        ]
        for other in cases:
            with self.subTest(other=other):
                self.assertIsNotNone(compare(a, other, ordered=False))
        swapped = self.vec(({"a": "2"}, [10, "2"]), ({"a": "1"}, [10, "1.5"]))
        self.assertIsNone(compare(a, swapped, ordered=False))
        self.assertIsNotNone(compare(a, swapped, ordered=True))

    def test_expected_series(self):
        pts = [Point("c", "counter", {"k": "v"}, 1000, 2), Point("c", "counter", {"k": "v"}, 1000, 3),
               Point("c", "counter", {"k": "v"}, 2000, 0.5),
               Point("g", "gauge", {"project": "p"}, 1000, 7), Point("g", "gauge", {"project": "p"}, 1000, 8),
               Point("h", "timing", {}, 1000, 5), Point("h", "timing", {}, 1000, 5.25)]
        got = expected_series(pts)
        self.assertEqual(got[exposed_labels("c_total", [("k", "v")])], [(1000, 5.0), (2000, 5.5)])
        self.assertEqual(got[(("__name__", "g"), ("exported_project", "p"), ("project", "default"))],
                         [(1000, 8)])
        self.assertEqual(got[exposed_labels("h_bucket", [], True, "5")], [(1000, 1.0)])
        self.assertEqual(got[exposed_labels("h_bucket", [], True, "10")], [(1000, 2.0)])
        self.assertEqual(got[exposed_labels("h_bucket", [], True, "+Inf")], [(1000, 2.0)])
        self.assertEqual(got[exposed_labels("h_sum", [], True)], [(1000, 10.25)])
        self.assertEqual(got[exposed_labels("h", [], True)], [(1000, 5.25)])
        self.assertEqual(len(got), 1 + 1 + 14 + 3)


if __name__ == "__main__":
    unittest.main()
