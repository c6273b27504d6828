"""Test harness: runs the real `tally` binary and talks to it over real HTTP.

Python 3 standard library only. The binary comes from the environment variable
TALLY_BIN (ctest sets it to $<TARGET_FILE:tally>); when it is unset, the
harness falls back to <repo>/build/app/tally so the tests can be run by hand:

    cd tests/integration && TALLY_BIN=../../build/app/tally python3 -m unittest -v

Nothing here sleeps for a fixed time: every wait polls a condition against a
deadline. Deadlines are generous (multiplied by TALLY_TEST_TIME_SCALE, default
1) so sanitizer builds, which are ~3x slower, pass too.
"""

from __future__ import annotations

import http.client
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
from typing import Any, Callable, Iterable, Mapping, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
TIME_SCALE = float(os.environ.get("TALLY_TEST_TIME_SCALE", "1"))


def tally_bin() -> str:
    path = os.environ.get("TALLY_BIN") or os.path.join(REPO_ROOT, "build", "app", "tally")
    if not os.path.isfile(path) or not os.access(path, os.X_OK):
        raise RuntimeError(
            f"tally binary not found at {path!r}: build it (cmake --build build --target tally) "
            "and/or set TALLY_BIN")
    return path


def deadline(seconds: float) -> float:
    return time.monotonic() + seconds * TIME_SCALE


def wait_until(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.02):
    """Polls `predicate` until it returns a truthy value, which is returned."""
    end = deadline(timeout)
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > end:
            raise AssertionError(f"timed out after {timeout * TIME_SCALE:.0f}s waiting for {what}")
        time.sleep(interval)


def free_port() -> int:
    """A port that was free a moment ago (for peers that cannot bind port 0 and report it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------
# Prometheus text format (0.0.4) parsing, enough to read tally's /metrics.

_SAMPLE_RE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)(?:\s+(-?\d+))?$")


def _parse_labels(text: str) -> dict[str, str]:
    """Parses `{a="x",b="y\\"z"}` with the format's escapes (\\\\, \\", \\n)."""
    labels: dict[str, str] = {}
    i, n = 1, len(text) - 1  # inside the braces
    while i < n:
        while i < n and text[i] in " ,":
            i += 1
        if i >= n:
            break
        eq = text.index("=", i)
        name = text[i:eq].strip()
        if text[eq + 1] != '"':
            raise ValueError(f"label value not quoted in {text!r}")
        j = eq + 2
        value = []
        while text[j] != '"':
            if text[j] == "\\":
                nxt = text[j + 1]
                value.append({"n": "\n", "\\": "\\", '"': '"'}.get(nxt, "\\" + nxt))
                j += 2
            else:
                value.append(text[j])
                j += 1
        if name in labels:
            raise ValueError(f"duplicate label {name!r} in {text!r}")
        labels[name] = "".join(value)
        i = j + 1
    return labels


def _parse_value(text: str) -> float:
    low = text.lower()
    if low in ("+inf", "inf"):
        return math.inf
    if low == "-inf":
        return -math.inf
    if low == "nan":
        return math.nan
    return float(text)


class Metrics:
    """Parsed /metrics: samples plus the # TYPE of each family."""

    def __init__(self, text: str):
        self.text = text
        self.samples: list[tuple[str, dict[str, str], float]] = []
        self.types: dict[str, str] = {}
        for line_no, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            if line.startswith("#"):
                parts = line.split(None, 3)
                if len(parts) >= 4 and parts[1] == "TYPE":
                    self.types[parts[2]] = parts[3].strip()
                continue
            m = _SAMPLE_RE.match(line)
            if not m:
                raise ValueError(f"/metrics line {line_no} is not a sample: {line!r}")
            labels = _parse_labels(m.group(2)) if m.group(2) else {}
            self.samples.append((m.group(1), labels, _parse_value(m.group(3))))

    def find(self, name: str, **labels: str) -> list[tuple[dict[str, str], float]]:
        """Samples named `name` whose labels include `labels`."""
        return [(l, v) for (n, l, v) in self.samples
                if n == name and all(l.get(k) == want for k, want in labels.items())]

    def value(self, name: str, **labels: str) -> Optional[float]:
        """The single sample matching name+labels, None if absent; fails if ambiguous."""
        found = self.find(name, **labels)
        if not found:
            return None
        if len(found) > 1:
            raise AssertionError(f"{len(found)} samples match {name}{labels}: {found}")
        return found[0][1]

    def names(self) -> set[str]:
        return {n for (n, _, _) in self.samples}

    def has_prefix(self, prefix: str) -> bool:
        return any(n.startswith(prefix) for (n, _, _) in self.samples)


# ---------------------------------------------------------------------------


class Response:
    """(status, headers, body) that also unpacks as a tuple."""

    def __init__(self, status: int, headers: Mapping[str, str], body: bytes):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers.items()}
        self.body = body

    def __iter__(self):
        return iter((self.status, self.headers, self.body))

    def json(self) -> Any:
        return json.loads(self.body)

    def error(self) -> dict:
        """The `error` object of an error response (asserts the shape)."""
        doc = self.json()
        assert isinstance(doc, dict) and isinstance(doc.get("error"), dict), \
            f"not an error body: {self.body[:500]!r}"
        err = doc["error"]
        assert isinstance(err.get("code"), str) and isinstance(err.get("message"), str), err
        assert err["message"].strip(), f"empty error message: {err}"
        return err

    def __repr__(self) -> str:
        return f"Response({self.status}, {self.headers}, {self.body[:300]!r})"


class TallyServer:
    """One `tally serve` process on 127.0.0.1 with an ephemeral port and a temp data dir."""

    def __init__(self, config_text: Optional[str] = None, extra_args: Iterable[str] = (),
                 name: str = "tally"):
        self.config_text = config_text
        self.extra_args = list(extra_args)
        self.name = name
        self.tmp = tempfile.mkdtemp(prefix=f"{name}-it-")
        self.data_dir = os.path.join(self.tmp, "data")
        self.port_file = os.path.join(self.tmp, "port")
        self.log_path = os.path.join(self.tmp, "server.log")
        self.proc: Optional[subprocess.Popen] = None
        self.port: Optional[int] = None
        self._log_file = None
        self.launches = 0

    # -- lifecycle ----------------------------------------------------------

    def launch(self, extra_args: Optional[Iterable[str]] = None) -> subprocess.Popen:
        """Starts the process without waiting for it (see start()). Every launch uses the
        same data dir, so a launch after kill9() or stop(keep_data=True) is a restart; the
        log of every launch goes to the same file, separated by a marker line.
        `extra_args` replaces the constructor's for this launch only."""
        args = [tally_bin(), "serve", "--listen", "127.0.0.1:0", "--port-file", self.port_file,
                "--data-dir", self.data_dir]
        if self.config_text is not None:
            cfg = os.path.join(self.tmp, "tally.yaml")
            with open(cfg, "w", encoding="utf-8") as f:
                f.write(self.config_text)
            args += ["--config", cfg]
        args += self.extra_args if extra_args is None else list(extra_args)
        try:
            os.unlink(self.port_file)  # left by the previous launch
        except FileNotFoundError:
            pass
        self.port = None
        self._close_log()
        self.launches += 1
        self._log_file = open(self.log_path, "ab" if self.launches > 1 else "wb")
        if self.launches > 1:
            self._log_file.write(f"----- launch {self.launches}: {' '.join(args[1:])} -----\n"
                                 .encode())
            self._log_file.flush()
        self.proc = subprocess.Popen(args, stdout=self._log_file, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=self.tmp)
        return self.proc

    def start(self, timeout: float = 20.0, extra_args: Optional[Iterable[str]] = None,
              wait_ready: bool = False) -> "TallyServer":
        """launch(), then waits for the port file and /healthz (and /readyz with
        `wait_ready`)."""
        self.launch(extra_args)
        try:
            self.port = wait_until(self._read_port, timeout, "the port file")
            wait_until(self._healthy, timeout, "/healthz to answer 200")
            if wait_ready:
                self.wait_ready(timeout)
        except BaseException:
            self.dump_log("startup failed")
            self.kill()
            raise
        return self

    def wait_ready(self, timeout: float = 20.0) -> None:
        def ready() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"tally exited with {self.proc.returncode} before ready")
            try:
                return self.get("/readyz", timeout=2).status == 200
            except OSError:
                return False
        wait_until(ready, timeout, "/readyz to answer 200")

    def _read_port(self) -> Optional[int]:
        if self.proc.poll() is not None:
            raise AssertionError(f"tally exited with {self.proc.returncode} during startup")
        try:
            with open(self.port_file, encoding="ascii") as f:
                text = f.read()
        except FileNotFoundError:
            return None
        if not text.endswith("\n"):  # still being written
            return None
        port = int(text)
        assert 0 < port < 65536, text
        return port

    def _healthy(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"tally exited with {self.proc.returncode} during startup")
        try:
            return self.get("/healthz", timeout=2).status == 200
        except OSError:
            return False

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig: int = signal.SIGTERM) -> None:
        self.proc.send_signal(sig)

    def wait_exit(self, timeout: float = 30.0) -> int:
        try:
            return self.proc.wait(timeout=timeout * TIME_SCALE)
        except subprocess.TimeoutExpired:
            self.dump_log("did not exit in time")
            self.kill()
            raise AssertionError(f"tally did not exit within {timeout * TIME_SCALE:.0f}s")

    def stop(self, expect_code: int = 0, timeout: float = 30.0, keep_data: bool = False) -> int:
        """SIGTERM, wait, assert the exit code (0: graceful). Removes the temp dir on success
        unless `keep_data` (to start again on the same data dir)."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            self.signal(signal.SIGTERM)
        code = self.wait_exit(timeout)
        self._close_log()
        if code != expect_code:
            self.dump_log(f"exit code {code}")
            raise AssertionError(f"tally exited with {code}, expected {expect_code}")
        if not keep_data:
            self.cleanup()
        return code

    def cleanup(self) -> None:
        """Removes the temp dir (data dir and logs)."""
        shutil.rmtree(self.tmp, ignore_errors=True)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()  # by PID: only the process this harness started
            self.proc.wait()
        self._close_log()

    def kill9(self) -> None:
        """SIGKILL (a crash: no shutdown code runs) and reap; the data dir stays for a
        restart. Fails if the process had already exited."""
        if self.proc is None or self.proc.poll() is not None:
            code = None if self.proc is None else self.proc.returncode
            self.dump_log(f"exited ({code}) before kill -9")
            raise AssertionError(f"tally was not running at kill -9 (exit code {code})")
        os.kill(self.proc.pid, signal.SIGKILL)  # by PID: only the process this harness started
        self.proc.wait()
        self._close_log()

    @property
    def wal_dir(self) -> str:
        return os.path.join(self.data_dir, "wal")

    def wal_segments(self) -> list[str]:
        """Paths of the WAL segment files, oldest first."""
        try:
            names = os.listdir(self.wal_dir)
        except FileNotFoundError:
            return []
        return [os.path.join(self.wal_dir, n) for n in sorted(names)
                if re.fullmatch(r"\d{8}\.wal", n)]

    def _close_log(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def log(self) -> str:
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def dump_log(self, why: str = "", tail: int = 20000) -> None:
        text = self.log()
        if len(text) > tail:
            text = "...\n" + text[-tail:]
        sys.stderr.write(f"\n----- {self.name} server log ({why}; {self.log_path}) -----\n"
                         f"{text}\n----- end of server log -----\n")
        sys.stderr.flush()

    # -- auth ----------------------------------------------------------------

    def api_key(self) -> Optional[str]:
        """The admin key the first start wrote to <data>/admin.key (None before it
        exists, or with auth off). Sent on every request unless the caller passes
        its own Authorization header (None: send none)."""
        if getattr(self, "_api_key", None) is None:
            try:
                with open(os.path.join(self.data_dir, "admin.key"), encoding="ascii") as f:
                    self._api_key = f.read().strip() or None
            except FileNotFoundError:
                return None
        return self._api_key

    def auth(self, key: Optional[str]) -> dict[str, Optional[str]]:
        """Headers that send `key` instead of the admin key (None: no key at all)."""
        return {"Authorization": None if key is None else f"Bearer {key}"}

    def tally_cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Runs the operator CLI (`tally accounts|projects|keys ...`) on this data dir."""
        cmd = [tally_bin(), *args, "--data-dir", self.data_dir]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60 * TIME_SCALE)
        if check and out.returncode != 0:
            raise AssertionError(f"{' '.join(cmd)} exited {out.returncode}: {out.stderr}")
        return out

    # -- HTTP ----------------------------------------------------------------

    def connection(self, timeout: float = 30.0) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout * TIME_SCALE)

    def request(self, method: str, path: str, body: Optional[bytes] = None,
                headers: Optional[Mapping[str, Optional[str]]] = None,
                conn: Optional[http.client.HTTPConnection] = None,
                timeout: float = 30.0) -> Response:
        """One request. With `conn`, reuses that keep-alive connection; else a fresh one.
        A header value of None removes that header."""
        own = conn is None
        c = self.connection(timeout) if own else conn
        given = dict(headers or {})
        if not any(k.lower() == "authorization" for k in given):
            key = self.api_key()
            if key:
                given["Authorization"] = f"Bearer {key}"
        hdrs = {k: v for k, v in given.items() if v is not None}
        try:
            c.request(method, path, body=body, headers=hdrs)
            r = c.getresponse()
            data = r.read()
            return Response(r.status, dict(r.getheaders()), data)
        finally:
            if own:
                c.close()

    def get(self, path: str, headers=None, conn=None, timeout: float = 30.0) -> Response:
        return self.request("GET", path, headers=headers, conn=conn, timeout=timeout)

    def post_json(self, path: str, obj_or_raw: Any, headers=None, conn=None,
                  timeout: float = 60.0) -> Response:
        """POSTs a JSON document (dumped from `obj_or_raw`) or raw bytes/str as-is.
        Content-Type defaults to application/json; pass {"Content-Type": None} to omit it."""
        if isinstance(obj_or_raw, (bytes, bytearray)):
            body = bytes(obj_or_raw)
        elif isinstance(obj_or_raw, str):
            body = obj_or_raw.encode("utf-8")
        else:
            body = json.dumps(obj_or_raw, allow_nan=False).encode("utf-8")
        hdrs: dict[str, Optional[str]] = {"Content-Type": "application/json"}
        for k, v in (headers or {}).items():
            for existing in [e for e in hdrs if e.lower() == k.lower()]:
                del hdrs[existing]
            hdrs[k] = v
        return self.request("POST", path, body=body, headers=hdrs, conn=conn, timeout=timeout)

    def metrics(self) -> Metrics:
        r = self.get("/metrics")
        assert r.status == 200, r
        return Metrics(r.body.decode("utf-8"))

    # -- context manager -----------------------------------------------------

    def __enter__(self) -> "TallyServer":
        return self.start()

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.dump_log(f"{exc_type.__name__} in test")
            self.kill()
        else:
            self.stop()


class DumpLogsOnFailure(unittest.TestCase):
    """Prints the logs of the processes a test used (see on_failure) right after a
    test fails or errors."""

    def run(self, result=None):
        if result is None:
            return super().run(result)
        before = len(result.failures) + len(result.errors)
        out = super().run(result)
        if len(result.failures) + len(result.errors) > before:
            self.on_failure()
        return out

    def on_failure(self) -> None:
        pass


class ServerTestCase(DumpLogsOnFailure):
    """Base class: one shared server per test class (setUpClass), its log printed
    when a test fails, and a graceful stop (exit code 0 asserted) at the end."""

    CONFIG: Optional[str] = None
    server: TallyServer

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        cls.server = TallyServer(cls.CONFIG, name=cls.__name__).start()

    @classmethod
    def tearDownClass(cls) -> None:
        server = cls.__dict__.get("server")
        if server is not None:
            server.stop()  # asserts exit code 0, prints the log if not
        super().tearDownClass()

    def on_failure(self) -> None:
        server = type(self).__dict__.get("server")
        if server is not None:
            server.dump_log(f"{self.id()} failed")

    # Convenience wrappers over the shared server.
    def post(self, path: str, obj_or_raw: Any, headers=None) -> Response:
        return self.server.post_json(path, obj_or_raw, headers)

    def get(self, path: str, headers=None) -> Response:
        return self.server.get(path, headers)

    def assert_error(self, r: Response, status: int, code: str, param: Any = ...,
                     msg: str = "") -> dict:
        """Asserts an error response. `param`: the expected param, None for 'absent',
        a tuple for 'one of', or ... to not check it."""
        self.assertEqual(r.status, status, f"{msg} {r!r}")
        self.assertTrue(r.headers.get("content-type", "").startswith("application/json"), r)
        err = r.error()
        self.assertEqual(err["code"], code, f"{msg} {err}")
        if param is not ...:
            got = err.get("param")
            if isinstance(param, tuple):
                self.assertIn(got, param, f"{msg} param of {err}")
            else:
                self.assertEqual(got, param, f"{msg} param of {err}")
        return err

    def assert_serving(self) -> None:
        self.assertTrue(self.server.alive(), "tally exited")
        r = self.get("/healthz")
        self.assertEqual(r.status, 200, r)
