"""The server process and its HTTP layer: graceful shutdown, concurrency, probes,
check-config, a busy port, HEAD, keep-alive."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import threading
import unittest
import uuid

from tally_harness import (REPO_ROOT, TIME_SCALE, Response, ServerTestCase, TallyServer,
                           tally_bin)

REPORT = "/v1/metrics/report"
BATCH = "/v1/metrics/batch"


def unique(prefix: str = "m") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def read_response(sock: socket.socket, method: str = "POST") -> Response:
    resp = http.client.HTTPResponse(sock, method=method)
    resp.begin()
    return Response(resp.status, dict(resp.getheaders()), resp.read())


class GracefulShutdown(unittest.TestCase):
    """SIGTERM while a large batch is in flight: the request completes, exit code 0."""

    def big_batch(self, name: str) -> bytes:
        points = [{"name": name, "value": 1, "type": "counter",
                   "tags": {"shard": str(i % 100), "pad": "p" * 40}} for i in range(10_000)]
        return json.dumps({"points": points}).encode()

    def run_shutdown(self, split: bool) -> None:
        server = TallyServer(name="shutdown").start()
        try:
            name = unique("inflight")
            body = self.big_batch(name)
            head = (f"POST {BATCH} HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {server.api_key()}\r\n"
                    f"Content-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\n\r\n").encode()
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=60 * TIME_SCALE)
            # One request first, so a server worker owns this keep-alive connection.
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            self.assertEqual(read_response(sock, "GET").status, 200)

            sent = threading.Event()
            result: dict = {}

            def client():
                try:
                    if split:  # half the body, then wait for the signal, then the rest
                        half = len(body) // 2
                        sock.sendall(head + body[:half])
                        sent.set()
                        result["signalled"] = signalled.wait(30 * TIME_SCALE)
                        sock.sendall(body[half:])
                    else:
                        sock.sendall(head + body)
                        sent.set()
                    result["response"] = read_response(sock)
                except Exception as e:  # reported by the main thread
                    result["error"] = e
                    sent.set()

            signalled = threading.Event()
            t = threading.Thread(target=client, daemon=True)
            t.start()
            self.assertTrue(sent.wait(30 * TIME_SCALE), "the client could not send")
            server.signal(signal.SIGTERM)
            signalled.set()
            t.join(60 * TIME_SCALE)
            self.assertFalse(t.is_alive(), "no response within 60s")
            sock.close()
            self.assertNotIn("error", result, f"the in-flight request failed: {result.get('error')!r}")
            r = result["response"]
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json(), {"accepted": 10_000, "rejected": 0, "errors": []})
            code = server.wait_exit(30)
            self.assertEqual(code, 0, "exit code after SIGTERM")
        except BaseException:
            server.dump_log("graceful shutdown test failed")
            server.kill()
            raise
        server.stop()  # already exited: checks the code again and cleans up

    def test_sigterm_right_after_a_large_batch_was_sent(self):
        self.run_shutdown(split=False)

    def test_sigterm_while_a_large_batch_is_being_uploaded(self):
        self.run_shutdown(split=True)


class ServerBasics(ServerTestCase):

    def test_healthz_and_readyz(self):
        r = self.get("/healthz")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.headers["content-type"].startswith("application/json"))
        doc = r.json()
        self.assertEqual(doc["status"], "ok")
        version = subprocess.run([tally_bin(), "version"], capture_output=True, text=True,
                                 timeout=30 * TIME_SCALE)
        self.assertEqual(version.returncode, 0)
        self.assertEqual(version.stdout.strip(), f"tally {doc['version']}")
        r = self.get("/readyz")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["status"], "ready")

    def test_concurrent_ingest_gives_exact_totals(self):
        name = unique("conc")
        threads, per_thread = 8, 60
        errors: list = []
        scrapes: list[float] = []
        done = threading.Event()

        def worker(t: int):
            conn = self.server.connection()
            try:
                for i in range(per_thread):
                    if i % 3 == 2:  # every third request is a small batch
                        body = {"points": [
                            {"name": name, "value": t + 1, "type": "counter",
                             "tags": {"thread": str(t)}},
                            {"name": name, "value": 1, "type": "counter",
                             "tags": {"thread": "shared"}}]}
                        r = self.server.post_json(BATCH, body, conn=conn)
                        ok = r.status == 200 and r.json()["accepted"] == 2
                    else:
                        r = self.server.post_json(
                            REPORT, {"name": name, "value": t + 1, "type": "counter",
                                     "tags": {"thread": str(t)}}, conn=conn)
                        r2 = self.server.post_json(
                            REPORT, {"name": name, "value": 1, "type": "counter",
                                     "tags": {"thread": "shared"}}, conn=conn)
                        ok = r.status == 200 and r2.status == 200
                    if not ok:
                        errors.append((t, i, r))
                        return
            except Exception as e:
                errors.append((t, "exception", repr(e)))
            finally:
                conn.close()

        def scraper():
            # /metrics while ingesting: always parses, the shared counter never goes down.
            try:
                while not done.is_set():
                    v = self.server.metrics().value(f"{name}_total", thread="shared")
                    scrapes.append(v or 0.0)
            except Exception as e:
                errors.append(("scraper", repr(e)))

        workers = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
        s = threading.Thread(target=scraper)
        s.start()
        for w in workers:
            w.start()
        for w in workers:
            w.join(120 * TIME_SCALE)
        done.set()
        s.join(60 * TIME_SCALE)
        self.assertEqual(errors, [])
        self.assertEqual(scrapes, sorted(scrapes), "a counter went backwards on /metrics")

        m = self.server.metrics()
        for t in range(threads):
            self.assertEqual(m.value(f"{name}_total", thread=str(t)), (t + 1) * per_thread, t)
        self.assertEqual(m.value(f"{name}_total", thread="shared"), threads * per_thread)
        self.assertEqual(len(m.find(f"{name}_total")), threads + 1)

    def test_head_requests(self):
        conn = self.server.connection()
        try:
            for path in ("/healthz", "/readyz", "/metrics"):
                with self.subTest(path=path):
                    head = self.server.request("HEAD", path, conn=conn)
                    self.assertEqual(head.status, 200, head)
                    self.assertEqual(head.body, b"")
                    self.assertGreater(int(head.headers["content-length"]), 0)
                    get = self.server.get(path, conn=conn)  # same connection: nothing leaked
                    self.assertEqual(get.status, 200, get)
                    self.assertEqual(head.headers["content-type"], get.headers["content-type"])
                    if path != "/metrics":  # /metrics changes between two calls
                        self.assertEqual(int(head.headers["content-length"]), len(get.body))
            head = self.server.request("HEAD", REPORT, conn=conn)
            self.assertEqual(head.status, 405, head)
            self.assertIn("POST", head.headers.get("allow", ""))
            self.assertEqual(head.body, b"")
            self.assertEqual(self.server.get("/healthz", conn=conn).status, 200)
        finally:
            conn.close()

    def test_keep_alive_reuses_one_connection(self):
        name = unique("ka")
        conn = self.server.connection()
        try:
            self.assertEqual(self.server.get("/healthz", conn=conn).status, 200)
            sock = conn.sock
            local = sock.getsockname()
            total = 0
            for i in range(120):
                kind = i % 6
                if kind == 0:
                    r = self.server.post_json(REPORT, {"name": name, "value": i, "type": "counter"},
                                              conn=conn)
                    total += i
                    expect = 200
                elif kind == 1:
                    r, expect = self.server.get("/healthz", conn=conn), 200
                elif kind == 2:
                    r, expect = self.server.get("/metrics", conn=conn), 200
                elif kind == 3:
                    r, expect = self.server.get("/no/such/route", conn=conn), 404
                elif kind == 4:
                    r, expect = self.server.post_json(REPORT, b"{broken", conn=conn), 400
                else:
                    r = self.server.post_json(BATCH, {"points": [
                        {"name": name, "value": 1, "type": "counter"}]}, conn=conn)
                    total += 1
                    expect = 200
                self.assertEqual(r.status, expect, f"request {i}: {r!r}")
                self.assertNotEqual(r.headers.get("connection", "").lower(), "close", r)
                self.assertIs(conn.sock, sock, f"request {i} needed a new connection")
            self.assertEqual(conn.sock.getsockname(), local)
            self.assertEqual(self.server.metrics().value(f"{name}_total"), total)
        finally:
            conn.close()


class CheckConfig(unittest.TestCase):

    def run_tally(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([tally_bin(), *args], capture_output=True, text=True,
                              timeout=60 * TIME_SCALE)

    def write(self, text: str) -> str:
        fd, path = tempfile.mkstemp(suffix=".yaml", prefix="tally-check-")
        with os.fdopen(fd, "w") as f:
            f.write(text)
        self.addCleanup(os.unlink, path)
        return path

    def test_good_file(self):
        path = self.write("server:\n  listen: 127.0.0.1:9999\n  num_threads: 8\n"
                          "storage:\n  retention: 7d\n  max_memory: 64MiB\n"
                          "limits:\n  max_series_per_metric: 100\n")
        r = self.run_tally("check-config", path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("ok", r.stdout)
        self.assertEqual(r.stderr.strip(), "")

    def test_shipped_default_config_is_valid(self):
        r = self.run_tally("check-config", os.path.join(REPO_ROOT, "config", "tally.yaml"))
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_bad_file(self):
        lines = ["server:",
                 "  listen: 127.0.0.1:9999",
                 "  colour: blue",            # line 3: unknown key
                 "limits:",
                 "  max_batch_points: many",  # line 5: wrong type
                 ]
        path = self.write("\n".join(lines) + "\n")
        r = self.run_tally("check-config", path)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        errors = [l for l in r.stderr.splitlines() if l.strip()]
        pattern = re.compile(re.escape(path) + r":(\d+):(\d+): (\S+): (.+)$")
        parsed = []
        for l in errors:
            m = pattern.match(l)
            self.assertIsNotNone(m, f"not file:line:col: key: message: {l!r}")
            parsed.append((int(m.group(1)), m.group(3)))
        self.assertEqual(len(parsed), 2, r.stderr)
        self.assertEqual(parsed[0][0], 3)
        self.assertIn("colour", parsed[0][1])
        self.assertEqual(parsed[1][0], 5)
        self.assertIn("max_batch_points", parsed[1][1])
        self.assertNotIn("ok", r.stdout)

    def test_missing_file(self):
        r = self.run_tally("check-config", "/nonexistent/tally.yaml")
        self.assertEqual(r.returncode, 1)
        self.assertIn("/nonexistent/tally.yaml", r.stderr)

    def test_serve_refuses_a_bad_config(self):
        path = self.write("limits:\n  max_batch_points: -3\n")
        with tempfile.TemporaryDirectory() as tmp:
            port_file = os.path.join(tmp, "port")
            r = self.run_tally("serve", "--config", path, "--listen", "127.0.0.1:0",
                               "--port-file", port_file, "--data-dir", os.path.join(tmp, "d"))
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
            self.assertIn("max_batch_points", r.stdout + r.stderr)
            self.assertFalse(os.path.exists(port_file))


class BusyPort(unittest.TestCase):

    def test_busy_port_is_a_clear_error_and_exit_1(self):
        blocker = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        port = blocker.getsockname()[1]
        try:
            with tempfile.TemporaryDirectory() as tmp:
                port_file = os.path.join(tmp, "port")
                r = subprocess.run(
                    [tally_bin(), "serve", "--listen", f"127.0.0.1:{port}", "--port-file",
                     port_file, "--data-dir", os.path.join(tmp, "data")],
                    capture_output=True, text=True, timeout=60 * TIME_SCALE)
                self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
                out = r.stdout + r.stderr
                self.assertIn(str(port), out)
                self.assertRegex(out.lower(), r"listen|bind|in use")
                self.assertFalse(os.path.exists(port_file), "port file written although not listening")
        finally:
            blocker.close()


if __name__ == "__main__":
    unittest.main()
