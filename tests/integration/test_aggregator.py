"""The aggregator through the real binary (issue 5): scraping local HTTP targets
on 127.0.0.1 (healthy, slow, failing, oversized, flapping, bearer auth), rule
evaluation (recording + alerting with `for`), /api/v1/rules, /api/v1/alerts,
/api/v1/targets, and reload (SIGHUP, POST /-/reload, invalid configs, pending
alerts surviving a reload). Every wait polls with a deadline."""

from __future__ import annotations

import http.server
import json
import os
import signal
import threading
import time
import unittest
import urllib.parse

from tally_harness import TIME_SCALE, DumpLogsOnFailure, TallyServer, wait_until


class Targets:
    """One local HTTP server holding every target, by path."""

    def __init__(self):
        self.requests = 0
        self.flap_b = True
        self.temperature = 20.0
        self.lock = threading.Lock()
        targets = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def send_text(self, status: int, body: str):
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                with targets.lock:
                    targets.requests += 1
                    n = targets.requests
                    flap_b = targets.flap_b
                    temp = targets.temperature
                path = self.path.split("?")[0]
                if path == "/healthy":
                    self.send_text(200, (
                        "# TYPE healthy_requests_total counter\n"
                        f'healthy_requests_total{{code="200"}} {n}\n'
                        f'healthy_requests_total{{code="500"}} 3\n'
                        "# TYPE healthy_temperature gauge\n"
                        f"healthy_temperature {temp}\n"))
                elif path == "/slow":
                    time.sleep(2.0)
                    self.send_text(200, "slow_metric 1\n")
                elif path == "/fail":
                    self.send_text(500, "boom\n")
                elif path == "/big":
                    self.send_text(200, "".join(f"big_metric{{i=\"{i}\"}} {i}\n"
                                                for i in range(2000)))
                elif path == "/flap":
                    body = "flap_a 1\n" + ("flap_b 2\n" if flap_b else "")
                    self.send_text(200, body)
                elif path == "/auth":
                    if self.headers.get("Authorization") != "Bearer s3cret":
                        self.send_text(401, "unauthorized\n")
                    else:
                        self.send_text(200, "auth_metric 42\n")
                else:
                    self.send_text(404, "not found\n")

        class Server(http.server.ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # the slow target's client gives up (timeout): a broken pipe

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def job(name: str, path: str, port: int, extra: str = "") -> str:
    return (f"  - job_name: {name}\n"
            f"    metrics_path: {path}\n"
            f"    static_configs:\n"
            f"      - targets: ['127.0.0.1:{port}']\n"
            f"        labels: {{team: infra}}\n" + extra)


RULES = """groups:
  - name: main
    interval: 1s
    rules:
      - record: job:healthy_requests:sum
        expr: sum by (job) (healthy_requests_total)
      - alert: TemperatureHigh
        expr: healthy_temperature > 10
        for: 3s
        labels:
          severity: page
        annotations:
          summary: "temperature is {{ $value }}"
      - alert: TemperatureHighForAnHour
        expr: healthy_temperature > 10
        for: 1h
"""

EXTRA_RULES = """groups:
  - name: extra
    interval: 1s
    rules:
      - record: job:up:count
        expr: count by (job) (up)
"""


class AggregatorTest(DumpLogsOnFailure):
    @classmethod
    def setUpClass(cls):
        cls.targets = Targets()

    @classmethod
    def tearDownClass(cls):
        cls.targets.close()

    def config(self, jobs: str, rule_files: list[str]) -> str:
        files = "".join(f"  - {f}\n" for f in rule_files)
        return ("auth:\n  enabled: false\n"
                "global:\n  scrape_interval: 1s\n  scrape_timeout: 800ms\n"
                "  evaluation_interval: 1s\n"
                f"rule_files:\n{files}"
                f"scrape_configs:\n{jobs}")

    def base_jobs(self) -> str:
        p = self.targets.port
        return (job("healthy", "/healthy", p)
                + job("slow", "/slow", p, "    scrape_timeout: 500ms\n")
                + job("failing", "/fail", p)
                + job("big", "/big", p, "    body_size_limit: 1KB\n")
                + job("flapping", "/flap", p)
                + job("authed", "/auth", p, "    authorization:\n      credentials: s3cret\n")
                + job("noauth", "/auth", p))

    def write(self, server: TallyServer, name: str, text: str):
        with open(os.path.join(server.tmp, name), "w", encoding="utf-8") as f:
            f.write(text)

    def query(self, server: TallyServer, q: str) -> list:
        r = server.get("/api/v1/query?" + urllib.parse.urlencode({"query": q}))
        self.assertEqual(r.status, 200, r)
        body = r.json()
        self.assertEqual(body["status"], "success", body)
        return body["data"]["result"]

    def value(self, server: TallyServer, q: str):
        result = self.query(server, q)
        return float(result[0]["value"][1]) if len(result) == 1 else None

    def start(self, jobs: str = None, rule_files=("rules.yml",)) -> TallyServer:
        server = TallyServer(self.config(jobs if jobs is not None else self.base_jobs(),
                                         list(rule_files)), name="aggregator")
        # The rule file sits next to the config (rule_files are relative to it).
        os.makedirs(server.tmp, exist_ok=True)
        self.write(server, "rules.yml", RULES)
        server.start()
        self.addCleanup(server.kill)
        return server

    def test_scrapes_rules_alerts_and_reload(self):
        s = self.start()
        # up per job: 1 for the healthy ones, 0 with a reason for the others.
        for name, want in [("healthy", 1), ("flapping", 1), ("authed", 1), ("slow", 0),
                           ("failing", 0), ("big", 0), ("noauth", 0)]:
            wait_until(lambda: self.value(s, f'up{{job="{name}"}}') == want, 20,
                       f"up{{job={name}}} == {want}")
        self.assertGreater(self.value(s, 'scrape_samples_scraped{job="healthy"}'), 2)
        self.assertEqual(self.value(s, 'scrape_samples_scraped{job="healthy"}'), 3)
        duration = self.value(s, 'scrape_duration_seconds{job="healthy"}')
        self.assertIsNotNone(duration)
        self.assertGreater(duration, 0)
        self.assertLess(duration, 1)
        # Target labels: job, instance, the static label; scraped labels kept.
        series = self.query(s, 'healthy_requests_total{code="500"}')
        self.assertEqual(len(series), 1, series)
        self.assertEqual(series[0]["metric"], {
            "__name__": "healthy_requests_total", "code": "500", "job": "healthy",
            "instance": f"127.0.0.1:{self.targets.port}", "team": "infra"})
        self.assertEqual(series[0]["value"][1], "3")
        self.assertEqual(self.query(s, "auth_metric")[0]["value"][1], "42")

        # /api/v1/targets: health and the reason of a failure.
        targets = {t["scrapePool"]: t for t in
                   s.get("/api/v1/targets").json()["data"]["activeTargets"]}
        self.assertEqual(set(targets), {"healthy", "slow", "failing", "big", "flapping",
                                        "authed", "noauth"})
        self.assertEqual(targets["healthy"]["health"], "up")
        self.assertEqual(targets["healthy"]["lastError"], "")
        self.assertEqual(targets["healthy"]["scrapeInterval"], "1s")
        self.assertEqual(targets["healthy"]["scrapeTimeout"], "800ms")  # global
        self.assertEqual(targets["slow"]["scrapeTimeout"], "500ms")
        self.assertEqual(targets["healthy"]["labels"]["team"], "infra")
        self.assertEqual(targets["healthy"]["scrapeUrl"],
                         f"http://127.0.0.1:{self.targets.port}/healthy")
        for name, fragment in [("failing", "500"), ("slow", "deadline exceeded"),
                               ("big", "body size limit exceeded"), ("noauth", "401")]:
            self.assertEqual(targets[name]["health"], "down", targets[name])
            self.assertIn(fragment, targets[name]["lastError"].lower(), targets[name])

        # Flapping: a series that disappears gets a staleness marker: gone from queries.
        wait_until(lambda: self.query(s, "flap_b"), 10, "flap_b scraped")
        with self.targets.lock:
            self.targets.flap_b = False
        wait_until(lambda: not self.query(s, "flap_b"), 10, "flap_b to go stale")
        self.assertEqual(len(self.query(s, "flap_a")), 1)

        # Recording rule: queryable and on /metrics.
        rec = wait_until(lambda: self.query(s, "job:healthy_requests:sum"), 20, "recorded series")
        self.assertEqual(rec[0]["metric"], {"__name__": "job:healthy_requests:sum", "job": "healthy"})
        self.assertGreater(float(rec[0]["value"][1]), 3)
        wait_until(lambda: s.metrics().find("job:healthy_requests:sum"), 10,
                   "the recorded series on /metrics")

        # Alert: pending, then firing after `for: 3s`.
        def alert_state(name):
            for a in s.get("/api/v1/alerts").json()["data"]["alerts"]:
                if a["labels"]["alertname"] == name:
                    return a
            return None
        pending = wait_until(lambda: alert_state("TemperatureHigh"), 20, "the alert to be active")
        self.assertIn(pending["state"], ("pending", "firing"))
        firing = wait_until(lambda: (alert_state("TemperatureHigh") or {}).get("state") == "firing"
                            and alert_state("TemperatureHigh"), 20, "the alert to fire")
        self.assertEqual(firing["labels"], {"alertname": "TemperatureHigh", "severity": "page",
                                            "instance": f"127.0.0.1:{self.targets.port}",
                                            "job": "healthy", "team": "infra"})
        self.assertEqual(firing["annotations"], {"summary": "temperature is 20"})
        self.assertEqual(firing["value"], "2e+01")
        self.assertTrue(firing["activeAt"].endswith("Z"))
        wait_until(lambda: self.query(s, 'ALERTS{alertname="TemperatureHigh",alertstate="firing"}'),
                   10, "ALERTS firing")
        hour = alert_state("TemperatureHighForAnHour")
        self.assertEqual(hour["state"], "pending")

        # /api/v1/rules shape.
        groups = s.get("/api/v1/rules").json()["data"]["groups"]
        self.assertEqual([g["name"] for g in groups], ["main"])
        g = groups[0]
        self.assertEqual(g["interval"], 1)
        self.assertTrue(g["file"].endswith("rules.yml"), g["file"])
        self.assertEqual([r["type"] for r in g["rules"]], ["recording", "alerting", "alerting"])
        rec_rule, alert_rule = g["rules"][0], g["rules"][1]
        self.assertEqual(rec_rule["query"], "sum by (job) (healthy_requests_total)")
        self.assertEqual(rec_rule["health"], "ok")
        self.assertEqual(alert_rule["duration"], 3)
        self.assertEqual(alert_rule["state"], "firing")
        self.assertEqual(alert_rule["labels"], {"severity": "page"})
        self.assertEqual(len(alert_rule["alerts"]), 1)
        only_alerts = s.get("/api/v1/rules?type=alert").json()["data"]["groups"][0]["rules"]
        self.assertEqual([r["type"] for r in only_alerts], ["alerting", "alerting"])
        self.assertEqual(s.get("/api/v1/rules?type=bogus").status, 400)

        # Reload by SIGHUP: a new rule file and a new target appear; the pending
        # alert of the unchanged group keeps its activeAt.
        self.write(s, "extra.yml", EXTRA_RULES)
        self.write(s, "tally.yaml", self.config(
            self.base_jobs() + job("healthy2", "/healthy", self.targets.port),
            ["rules.yml", "extra.yml"]))
        s.signal(signal.SIGHUP)
        wait_until(lambda: any(t["scrapePool"] == "healthy2" for t in
                               s.get("/api/v1/targets").json()["data"]["activeTargets"]),
                   10, "the new target after SIGHUP")
        wait_until(lambda: self.value(s, 'up{job="healthy2"}') == 1, 20, "the new target scraped")
        wait_until(lambda: [g["name"] for g in s.get("/api/v1/rules").json()["data"]["groups"]]
                   == ["main", "extra"], 10, "the new rule group")
        wait_until(lambda: self.query(s, "job:up:count"), 20, "the new recording rule's series")
        after = alert_state("TemperatureHighForAnHour")
        self.assertEqual(after["state"], "pending")
        self.assertEqual(after["activeAt"], hour["activeAt"])

        # An invalid config via POST /-/reload: 400 naming the problem; the old one runs on.
        self.write(s, "tally.yaml", self.config(
            self.base_jobs() + "  - job_name: broken\n    scrape_interval: 1s\n"
            "    scrape_timeout: 5s\n", ["rules.yml"]))
        r = s.post_json("/-/reload", {})
        self.assertEqual(r.status, 400, r)
        self.assertIn("scrape_timeout", r.body.decode())
        self.write(s, "bad_rules.yml", "groups:\n  - name: bad\n    rules:\n"
                   "      - record: x\n        expr: sum(\n")
        self.write(s, "tally.yaml", self.config(self.base_jobs(), ["rules.yml", "bad_rules.yml"]))
        r = s.post_json("/-/reload", {})
        self.assertEqual(r.status, 400, r)
        self.assertIn("bad_rules.yml", r.body.decode())
        self.assertEqual([g["name"] for g in s.get("/api/v1/rules").json()["data"]["groups"]],
                         ["main", "extra"])
        before = {t["scrapePool"]: t["lastScrape"] for t in
                  s.get("/api/v1/targets").json()["data"]["activeTargets"]}
        self.assertIn("healthy2", before)
        wait_until(lambda: {t["scrapePool"]: t["lastScrape"] for t in s.get(
            "/api/v1/targets").json()["data"]["activeTargets"]}["healthy2"] != before["healthy2"],
                   10, "the old config to keep scraping")

        # A valid POST /-/reload removes healthy2: its series go stale.
        self.write(s, "tally.yaml", self.config(self.base_jobs(), ["rules.yml"]))
        r = s.post_json("/-/reload", {})
        self.assertEqual(r.status, 200, r)
        self.assertNotIn("healthy2", [t["scrapePool"] for t in
                                      s.get("/api/v1/targets").json()["data"]["activeTargets"]])
        wait_until(lambda: not self.query(s, 'up{job="healthy2"}'), 10,
                   "the removed target's series to go stale")

        # Self-metrics.
        m = s.metrics()
        self.assertGreater(m.value("tally_scrapes_total", job="healthy", result="success") or 0, 0)
        self.assertGreater(m.value("tally_scrapes_total", job="failing", result="failure") or 0, 0)
        self.assertGreater(m.value("tally_rule_group_evaluations_total", group="main") or 0, 0)
        s.stop()

    def test_tenancy_with_auth(self):
        """With API keys: a key sees the rules, alerts and targets of its own project
        only; scraped samples go to the job's project; /-/reload needs account:admin."""
        p = self.targets.port
        jobs = (job("healthy", "/healthy", p)
                + job("other_job", "/flap", p, "    project: PROJECT_B\n"))
        cfg = self.config(jobs, ["rules.yml"]).replace("auth:\n  enabled: false\n", "")
        s = TallyServer(cfg.replace("PROJECT_B", "default"), name="aggregator-auth")
        self.write(s, "rules.yml", RULES)
        s.start()
        self.addCleanup(s.kill)
        wait_until(s.api_key, 10, "the bootstrap admin key")

        def cli_json(*args):
            return json.loads(s.tally_cli(*args, "--json").stdout)
        account = cli_json("accounts", "create", "other-co", "--tier", "enterprise")["account_id"]
        project_b = cli_json("projects", "create", "b", "--account", account)["project_id"]
        key_b = cli_json("keys", "create", "--project", project_b)["key_secret"]
        reader = cli_json("keys", "create", "--project", "default",
                          "--scopes", "metrics:read")["key_secret"]
        # Move other_job to project b by reload (POST with the admin key).
        self.write(s, "tally.yaml", cfg.replace("PROJECT_B", project_b))
        r = s.post_json("/-/reload", {})
        self.assertEqual(r.status, 200, r)
        r = s.post_json("/-/reload", {}, headers=s.auth(reader))
        self.assertEqual(r.status, 403, r)
        self.assertEqual(s.post_json("/-/reload", {}, headers=s.auth(None)).status, 401)

        def pools(key):
            r = s.get("/api/v1/targets", headers=s.auth(key))
            self.assertEqual(r.status, 200, r)
            return sorted(t["scrapePool"] for t in r.json()["data"]["activeTargets"])
        self.assertEqual(pools(s.api_key()), ["healthy"])
        self.assertEqual(pools(reader), ["healthy"])
        self.assertEqual(pools(key_b), ["other_job"])
        groups = lambda key: [g["name"] for g in
                              s.get("/api/v1/rules", headers=s.auth(key)).json()["data"]["groups"]]
        self.assertEqual(groups(reader), ["main"])
        self.assertEqual(groups(key_b), [])
        wait_until(lambda: s.get("/api/v1/alerts", headers=s.auth(reader)).json()["data"]["alerts"],
                   20, "alerts for the default project")
        self.assertEqual(s.get("/api/v1/alerts", headers=s.auth(key_b)).json()["data"]["alerts"], [])
        # Samples land in the job's project: b sees flap_a, the default project does not.
        q = "/api/v1/query?" + urllib.parse.urlencode({"query": "flap_a"})
        wait_until(lambda: s.get(q, headers=s.auth(key_b)).json()["data"]["result"], 20,
                   "flap_a in project b")
        wait_until(lambda: s.get(q, headers=s.auth(reader)).json()["data"]["result"] == [], 20,
                   "flap_a gone from the default project (the target moved: stale)")
        s.stop()

    def test_aggregator_role(self):
        """`tally aggregator`: scraping, rules and the read API; no ingest routes."""
        import subprocess
        from tally_harness import tally_bin
        s = TallyServer(name="aggregator-role")
        self.addCleanup(s.cleanup)
        self.write(s, "rules.yml", RULES)
        cfg = os.path.join(s.tmp, "tally.yaml")
        with open(cfg, "w") as f:
            f.write(self.config(job("healthy", "/healthy", self.targets.port), ["rules.yml"]))
        log = open(os.path.join(s.tmp, "server.log"), "wb")
        self.addCleanup(log.close)
        s.proc = subprocess.Popen(
            [tally_bin(), "aggregator", "--config", cfg, "--listen", "127.0.0.1:0",
             "--port-file", s.port_file, "--data-dir", s.data_dir],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=s.tmp)
        self.addCleanup(s.kill)
        s.port = wait_until(s._read_port, 20, "the port file")
        wait_until(lambda: self.value(s, 'up{job="healthy"}') == 1, 20, "the target scraped")
        wait_until(lambda: self.query(s, "job:healthy_requests:sum"), 20, "the recording rule")
        self.assertEqual(s.get("/api/v1/rules").status, 200)
        self.assertEqual(s.post_json("/-/reload", {}).status, 200)
        # No metric ingest: the route does not exist.
        r = s.post_json("/v1/metrics/report", {"name": "x", "type": "gauge", "value": 1})
        self.assertEqual(r.status, 404, r)
        s.stop()

    def test_check_config_and_bad_configs(self):
        import subprocess
        from tally_harness import tally_bin
        s = TallyServer(name="aggregator-check")
        self.addCleanup(s.cleanup)
        os.makedirs(s.tmp, exist_ok=True)
        self.write(s, "rules.yml", RULES)
        good = os.path.join(s.tmp, "good.yaml")
        with open(good, "w") as f:
            f.write(self.config(self.base_jobs(), ["rules.yml"]))
        out = subprocess.run([tally_bin(), "check-config", good], capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("7 scrape configs, 1 rule groups, 3 rules", out.stdout)
        cases = [
            ("scrape_configs:\n  - job_name: a\n    scrape_interval: 1s\n    scrape_timeout: 2s\n"
             "    static_configs: [{targets: ['x:1']}]\n", "4:", "scrape_timeout"),
            ("scrape_configs:\n  - job_name: a\n    bogus: 1\n", "3:5", "unknown key"),
            ("scrape_configs:\n  - job_name: a\n  - job_name: a\n", "3:5", "duplicate job_name"),
            ("scrape_configs:\n  - job_name: a\n    body_size_limit: 10XB\n", "3:22",
             "invalid byte size"),
            ("scrape_configs:\n  - metrics_path: /m\n", "2:5", "job_name"),
            ("rule_files: [nope.yml]\nrules: {project: ''}\n", "2:", "must not be empty"),
            ("rules:\n  for_grace_period: 10\n", "2:21", "write e.g. 10s"),
            ("rules:\n  project: p\n  for_outage_tolerance: soon\n", "3:25", "duration"),
            ("rules:\n  for_grace: 1m\n", "2:3", "unknown key"),
        ]
        for text, where, fragment in cases:
            path = os.path.join(s.tmp, "bad.yaml")
            with open(path, "w") as f:
                f.write(text)
            out = subprocess.run([tally_bin(), "check-config", path], capture_output=True, text=True)
            self.assertEqual(out.returncode, 1, text)
            self.assertIn(f"bad.yaml:{where}", out.stderr, text)
            self.assertIn(fragment, out.stderr, text)
        # A rule file with an error: check-config reports it with its line.
        self.write(s, "bad_rules.yml", "groups:\n  - name: g\n    rules:\n"
                   "      - record: x\n        expr: sum(\n")
        with open(good, "w") as f:
            f.write(self.config("", ["bad_rules.yml"]).replace("scrape_configs:\n", ""))
        out = subprocess.run([tally_bin(), "check-config", good], capture_output=True, text=True)
        self.assertEqual(out.returncode, 1)
        self.assertIn("bad_rules.yml: 5:", out.stderr)


STATE_RULES = """groups:
  - name: state
    interval: 1s
    rules:
      - record: queue:depth:max
        expr: max(queue_depth)
      - alert: QueueFiring
        expr: queue_depth > 10
        for: 2s
      - alert: QueueSlow
        expr: queue_depth > 10
        for: 10s
      - alert: QueueHour
        expr: queue_depth > 10
        for: 1h
  - name: doomed
    interval: 1s
    rules:
      - record: queue:depth:min
        expr: min(queue_depth)
"""


def rfc3339(text: str) -> float:
    """Unix seconds of Prometheus' RFC 3339 text (fraction trimmed, Z)."""
    import datetime
    base, _, frac = text.rstrip("Z").partition(".")
    t = datetime.datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").replace(
        tzinfo=datetime.timezone.utc).timestamp()
    return t + (float("0." + frac) if frac else 0.0)


class AlertStateTest(DumpLogsOnFailure):
    """Alert `for` state across a restart (restored from ALERTS_FOR_STATE), rule
    state across a reload that changes a group, staleness markers for removed
    rules and groups, per-rule evaluationTime (issue 5)."""

    def alerts(self, s: TallyServer) -> dict:
        return {a["labels"]["alertname"]: a for a in
                s.get("/api/v1/alerts").json()["data"]["alerts"]}

    def query(self, s: TallyServer, q: str, at: float = None) -> list:
        params = {"query": q}
        if at is not None:
            params["time"] = f"{at:.3f}"
        r = s.get("/api/v1/query?" + urllib.parse.urlencode(params))
        self.assertEqual(r.status, 200, r)
        return r.json()["data"]["result"]

    def rules(self, s: TallyServer) -> dict:
        return {(g["name"], r["name"]): r for g in s.get("/api/v1/rules").json()["data"]["groups"]
                for r in g["rules"]}

    def test_for_state_across_restart_and_reload(self):
        config = ("auth:\n  enabled: false\n"
                  "global:\n  evaluation_interval: 1s\n"
                  "rule_files: [state.yml]\n"
                  "rules:\n  for_grace_period: 1s\n  for_outage_tolerance: 1h\n")
        s = TallyServer(config, name="alert-state")
        os.makedirs(s.tmp, exist_ok=True)
        with open(os.path.join(s.tmp, "state.yml"), "w", encoding="utf-8") as f:
            f.write(STATE_RULES)
        s.start()
        self.addCleanup(s.cleanup)
        self.addCleanup(s.kill)
        r = s.post_json("/v1/metrics/report", {"name": "queue_depth", "value": 50})
        self.assertEqual(r.status, 200, r)

        # Before the restart: QueueFiring fires (for 2s), the others are pending.
        wait_until(lambda: self.alerts(s).get("QueueFiring", {}).get("state") == "firing", 15,
                   "QueueFiring to fire")
        before = self.alerts(s)
        self.assertEqual(before["QueueSlow"]["state"], "pending")
        self.assertEqual(before["QueueHour"]["state"], "pending")
        active0 = rfc3339(before["QueueSlow"]["activeAt"])
        self.assertEqual(before["QueueFiring"]["activeAt"], before["QueueSlow"]["activeAt"])
        # Per-rule timing is filled in (Prometheus' JSON).
        for key, rule in self.rules(s).items():
            self.assertEqual(rule["health"], "ok", key)
            self.assertGreater(rule["evaluationTime"], 0, key)
            self.assertLess(rule["evaluationTime"], 1, key)
            self.assertLess(abs(rfc3339(rule["lastEvaluation"]) - time.time()), 5 * TIME_SCALE, key)
        # Let QueueSlow be pending for 4s of its 10s (the last evaluation writes downAt).
        wait_until(lambda: rfc3339(self.rules(s)[("state", "QueueSlow")]["lastEvaluation"])
                   >= active0 + 4, 10, "QueueSlow pending for 4s")

        s.stop(keep_data=True)  # SIGTERM: a clean shutdown
        t_exit = time.time()
        s.start()
        # The restore runs after the second evaluation; until then the alerts are
        # pending since the restart. A firing alert gets its activeAt back exactly.
        wait_until(lambda: self.alerts(s).get("QueueFiring", {}).get("activeAt")
                   == before["QueueFiring"]["activeAt"], 15, "QueueFiring's activeAt restored")
        t_restored = time.time()
        wait_until(lambda: self.alerts(s)["QueueFiring"]["state"] == "firing", 5,
                   "QueueFiring to fire again")
        # A pending alert resumes where it was: activeAt moves by the downtime
        # (from its last ALERTS_FOR_STATE sample to the restore), not to the restart.
        after = self.alerts(s)
        self.assertEqual(after["QueueSlow"]["state"], "pending")
        active1 = rfc3339(after["QueueSlow"]["activeAt"])
        down_at = self.query(s, 'timestamp(ALERTS_FOR_STATE{alertname="QueueSlow"})', at=t_exit)
        self.assertEqual(len(down_at), 1, down_at)
        down_at = int(float(down_at[0]["value"][1]))  # whole seconds, like Prometheus
        restore_ts = active1 - active0 + down_at  # the evaluation time of the restore
        # An evaluation time (whole seconds) between the restart and when we saw
        # the restore. Had the alert started over at the first evaluation after
        # the restart (restore_ts - 1), this would be >= 3s later than the restore.
        self.assertEqual(restore_ts, int(restore_ts))
        self.assertGreater(down_at - active0, 3)
        self.assertGreater(restore_ts, t_exit)
        self.assertLessEqual(restore_ts, t_restored + 1)
        self.assertGreater(active1, active0)
        # ... and fires `for` after it.
        wait_until(lambda: self.alerts(s)["QueueSlow"]["state"] == "firing", 20,
                   "QueueSlow to fire")
        t_fired = time.time()
        self.assertGreaterEqual(t_fired, active1 + 10 - 0.1)
        self.assertLess(t_fired, active1 + 10 + 3 * TIME_SCALE)
        self.assertEqual(self.alerts(s)["QueueSlow"]["activeAt"], after["QueueSlow"]["activeAt"])
        hour = self.alerts(s)["QueueHour"]
        self.assertEqual(hour["state"], "pending")
        # Restored the same way (same activeAt, same downtime).
        self.assertEqual(hour["activeAt"], after["QueueSlow"]["activeAt"])

        # Reload: QueueFiring changed, the recording rule and the `doomed` group
        # removed. The unchanged alerts keep their state and health at once.
        self.assertTrue(self.query(s, "queue:depth:max"))
        self.assertTrue(self.query(s, "queue:depth:min"))
        changed = STATE_RULES.replace("expr: queue_depth > 10\n        for: 2s",
                                      "expr: queue_depth > 11\n        for: 2s")
        changed = changed.replace("      - record: queue:depth:max\n        expr: max(queue_depth)\n",
                                  "")
        changed = changed[:changed.index("  - name: doomed")]
        self.assertNotEqual(changed, STATE_RULES)
        with open(os.path.join(s.tmp, "state.yml"), "w", encoding="utf-8") as f:
            f.write(changed)
        r = s.post_json("/-/reload", {})
        self.assertEqual(r.status, 200, r)
        t_reload = time.time()
        rules = self.rules(s)
        self.assertEqual(set(rules), {("state", "QueueFiring"), ("state", "QueueSlow"),
                                      ("state", "QueueHour")})
        self.assertEqual(rules[("state", "QueueHour")]["health"], "ok")
        self.assertEqual(rules[("state", "QueueHour")]["alerts"][0]["activeAt"], hour["activeAt"])
        wait_until(lambda: rfc3339(self.rules(s)[("state", "QueueHour")]["lastEvaluation"])
                   > t_reload, 5, "an evaluation after the reload")
        now = self.alerts(s)
        self.assertEqual(now["QueueHour"]["state"], "pending")
        self.assertEqual(now["QueueHour"]["activeAt"], hour["activeAt"])
        self.assertEqual(now["QueueSlow"]["state"], "firing")
        self.assertEqual(now["QueueSlow"]["activeAt"], after["QueueSlow"]["activeAt"])
        # The changed rule keeps its alert too (matched by name and labels, like Prometheus).
        self.assertEqual(now["QueueFiring"]["activeAt"], before["QueueFiring"]["activeAt"])
        # The removed rule's and group's series get staleness markers: gone from
        # instant queries within a few intervals, not after the 5-minute lookback.
        wait_until(lambda: not self.query(s, "queue:depth:max"), 5, "queue:depth:max to go stale")
        wait_until(lambda: not self.query(s, "queue:depth:min"), 5, "queue:depth:min to go stale")
        self.assertLess(time.time() - t_reload, 8 * TIME_SCALE)
        self.assertTrue(self.query(s, "queue_depth"))  # the input is still there
        s.stop()

class LateScrapeTest(DumpLogsOnFailure):
    """When every scrape worker is busy, a late scrape's samples carry the time
    it really started (Prometheus' behaviour), not its missed slot: eight
    targets taking 0.6 s each at a 1 s interval are more work than the four
    workers do in time."""

    def test_late_scrapes_are_stamped_with_their_start(self):
        arrivals: dict[str, list[float]] = {}
        lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                with lock:
                    arrivals.setdefault(self.path, []).append(time.time())
                time.sleep(0.6)
                data = b"lazy_metric 1\n"
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        http_server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        http_server.daemon_threads = True
        threading.Thread(target=http_server.serve_forever, daemon=True).start()
        self.addCleanup(http_server.server_close)
        self.addCleanup(http_server.shutdown)
        port = http_server.server_address[1]
        jobs = "".join(f"  - job_name: lazy{i}\n    metrics_path: /lazy{i}\n"
                       f"    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
                       for i in range(8))
        s = TallyServer("auth:\n  enabled: false\n"
                        "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n"
                        f"scrape_configs:\n{jobs}", name="late-scrape")
        s.start()
        self.addCleanup(s.cleanup)
        self.addCleanup(s.kill)
        time.sleep(10 * TIME_SCALE)
        r = s.get("/api/v1/query?" + urllib.parse.urlencode({"query": "up[15s]"}))
        self.assertEqual(r.status, 200, r)
        result = r.json()["data"]["result"]
        self.assertEqual(len(result), 8, result)
        with lock:
            seen = {path: list(times) for path, times in arrivals.items()}
        checked = 0
        for series in result:
            path = "/" + series["metric"]["job"]
            for ts, value in series["values"]:
                if value != "1":
                    continue  # a timed-out scrape under load
                # The request reaches the target shortly after the scrape starts
                # (back-dated samples lagged by seconds, growing over the run).
                gaps = [a - ts for a in seen.get(path, [])]
                self.assertTrue(any(-0.05 <= g <= 1.0 * TIME_SCALE for g in gaps),
                                f"{path}: sample at {ts} has no request just after it; "
                                f"nearest gap {min(gaps, key=abs) if gaps else None}")
                checked += 1
        self.assertGreater(checked, 40)


if __name__ == "__main__":
    unittest.main()
