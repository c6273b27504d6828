"""Accounts, keys, auth, tenancy and rate limits through the real binary
(API.md sections 1 and 4).

The auth matrix is generated from the route table the server writes with
--routes-file, so a new route joins it without editing this file. Time-dependent
behaviour (rotation grace, rate-limit refill) uses --clock-offset-file: the test
moves the server's clock forward and waits until the server reports the new time,
never sleeping for the time to pass.

Accounts, projects and keys come from the operator CLI (`tally accounts|projects|
keys`) on the server's data dir or from the account routes with the bootstrap
admin key (account "default", tier enterprise, project "default").
"""

from __future__ import annotations

import base64
import datetime
import json
import os
import secrets
import shutil
import sqlite3
import subprocess
import threading
import time
import unittest
import uuid
from typing import Any, Optional

from tally_harness import (DumpLogsOnFailure, Response, ServerTestCase, TallyServer, TIME_SCALE,
                           wait_until)

ALL_SCOPES = ("metrics:write", "metrics:read", "events:write", "analytics:read",
              "account:read", "account:admin", "billing:admin")
# Scopes that grant another one (request_context.cc): a key "without account:read"
# must hold none of these either.
IMPLIED_BY = {"account:read": ("account:admin", "billing:admin")}

WHOAMI = "/v1/account/whoami"
KEYS_CREATE = "/v1/account/keys/create"
KEYS_LIST = "/v1/account/keys/list"
PROJECTS_CREATE = "/v1/account/projects/create"
REPORT = "/v1/metrics/report"
HOUR_MS = 3_600_000

ADMIN = object()  # "send the bootstrap admin key" (the harness default)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


# ---------------------------------------------------------------------------
# The key format of rest/api_key.h: tly_<8 base62>_<43 base62><6 base62 CRC-32C>.

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _crc32c_table() -> list[int]:
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC32C = _crc32c_table()


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for b in data:
        crc = _CRC32C[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def key_checksum(body: str) -> str:
    value, digits = crc32c(body.encode("ascii")), []
    for _ in range(6):
        value, d = divmod(value, 62)
        digits.append(BASE62[d])
    return "".join(reversed(digits))


def random_key() -> str:
    """A well-formed key with a valid checksum that no server issued."""
    body = ("tly_" + "".join(secrets.choice(BASE62) for _ in range(8)) + "_" +
            "".join(secrets.choice(BASE62) for _ in range(43)))
    return body + key_checksum(body)


def key_prefix(key: str) -> str:
    return key[4:12]


def with_bad_checksum(key: str) -> str:
    """`key` with one character of its secret changed (the checksum no longer matches)."""
    i = 20
    return key[:i] + ("A" if key[i] != "A" else "B") + key[i + 1:]


def scopes_without(scope: str) -> list[str]:
    """Every scope except `scope` and the scopes that imply it."""
    excluded = {scope, *IMPLIED_BY.get(scope, ())}
    return [s for s in ALL_SCOPES if s not in excluded]


def parse_iso_ms(text: str) -> int:
    return int(datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def iso(ms: int) -> str:
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


# ---------------------------------------------------------------------------


class AuthTestCase(ServerTestCase):
    """One server per class, optionally with --routes-file and --clock-offset-file,
    plus helpers for keys, the CLI and the server's clock."""

    CONFIG: Optional[str] = None
    CLOCK = False   # start with --clock-offset-file
    ROUTES = False  # start with --routes-file

    @classmethod
    def setUpClass(cls) -> None:
        super(ServerTestCase, cls).setUpClass()  # not ServerTestCase.setUpClass: own server
        server = TallyServer(cls.CONFIG, name=cls.__name__)
        cls.clock_file = os.path.join(server.tmp, "clock-offset")
        cls.routes_file = os.path.join(server.tmp, "routes.json")
        cls.offset_ms = 0
        if cls.CLOCK:
            with open(cls.clock_file, "w", encoding="ascii") as f:
                f.write("0\n")
            server.extra_args += ["--clock-offset-file", cls.clock_file]
        if cls.ROUTES:
            server.extra_args += ["--routes-file", cls.routes_file]
        cls.server = server.start()
        try:
            cls.setUpServer()
        except BaseException:
            server.dump_log(f"{cls.__name__} set-up failed")
            server.kill()
            raise

    @classmethod
    def setUpServer(cls) -> None:
        """Per-class fixtures on the running server."""

    # -- requests ---------------------------------------------------------------

    @classmethod
    def call(cls, method: str, path: str, key: Any = ADMIN, body: Any = None,
             headers: Optional[dict] = None) -> Response:
        """One request. `key`: ADMIN (the bootstrap key), None (no Authorization) or a key.
        `body`: a JSON-able object, or str/bytes sent as they are (as JSON)."""
        hdrs: dict[str, Optional[str]] = {}
        if key is not ADMIN:
            hdrs.update(cls.server.auth(key))
        data = None
        if body is not None:
            if isinstance(body, bytes):
                data = body
            elif isinstance(body, str):
                data = body.encode("utf-8")
            else:
                data = json.dumps(body).encode("utf-8")
            hdrs["Content-Type"] = "application/json"
        hdrs.update(headers or {})
        return cls.server.request(method, path, body=data, headers=hdrs)

    @classmethod
    def ok(cls, method: str, path: str, key: Any = ADMIN, body: Any = None,
           headers: Optional[dict] = None, status: int = 200) -> Any:
        r = cls.call(method, path, key, body, headers)
        if r.status != status:
            raise AssertionError(f"{method} {path}: expected {status}, got {r!r}")
        return r.json()

    # -- accounts, projects, keys -------------------------------------------------

    @classmethod
    def cli_json(cls, *args: str) -> Any:
        out = cls.server.tally_cli(*args, "--json")
        return json.loads(out.stdout)

    @classmethod
    def new_account(cls, tier: str = "enterprise", email: Optional[str] = None) -> str:
        args = ["accounts", "create", unique("acct"), "--tier", tier]
        if email:
            args += ["--admin-email", email]
        return cls.cli_json(*args)["account_id"]

    @classmethod
    def new_project(cls, account_id: str) -> str:
        return cls.cli_json("projects", "create", unique("proj"), "--account",
                            account_id)["project_id"]

    @classmethod
    def cli_key(cls, project_id: str, scopes: Optional[list[str]] = None,
                name: Optional[str] = None) -> dict:
        """{key_id, key_secret, project_id, account_id, scopes} of a key made by the CLI."""
        args = ["keys", "create", "--project", project_id]
        if scopes:
            args += ["--scopes", ",".join(scopes)]
        if name:
            args += ["--name", name]
        return cls.cli_json(*args)

    @classmethod
    def tenant(cls, tier: str = "enterprise", scopes: Optional[list[str]] = None) -> dict:
        """A fresh account with one project and one key: {account_id, project_id, key_id, key}."""
        account = cls.new_account(tier)
        project = cls.new_project(account)
        k = cls.cli_key(project, scopes)
        return {"account_id": account, "project_id": project, "key_id": k["key_id"],
                "key": k["key_secret"]}

    @classmethod
    def api_key(cls, key: Any = ADMIN, **body: Any) -> dict:
        """POST keys/create; the reply (key_id, key_secret, prefix, ...)."""
        body.setdefault("name", unique("key"))
        return cls.ok("POST", KEYS_CREATE, key, body)

    @classmethod
    def whoami(cls, key: Any) -> Response:
        return cls.call("GET", WHOAMI, key)

    # -- the server's clock -----------------------------------------------------------

    @classmethod
    def server_now_ms(cls) -> int:
        """The server's clock: bandwidth/usage ends its period at `now`."""
        doc = cls.ok("GET", "/v1/account/bandwidth/usage")
        return parse_iso_ms(doc["period"]["end"])

    @classmethod
    def advance_clock(cls, ms: int) -> None:
        """Moves the server's clock `ms` forward and waits until the server uses it."""
        assert cls.CLOCK, "the server was not started with --clock-offset-file"
        cls.offset_ms += ms
        tmp = cls.clock_file + ".tmp"
        with open(tmp, "w", encoding="ascii") as f:
            f.write(f"{cls.offset_ms}\n")
        os.replace(tmp, cls.clock_file)
        target = int(time.time() * 1000) + cls.offset_ms - 1000
        wait_until(lambda: cls.server_now_ms() >= target, 10, "the server clock to move")

    # -- assertions -------------------------------------------------------------------

    def assert_unauthorized(self, r: Response, presented: Optional[str] = None,
                            msg: str = "") -> dict:
        err = self.assert_error(r, 401, "unauthorized", msg=msg)
        self.assertTrue(r.headers.get("www-authenticate", "").startswith("Bearer"),
                        f"{msg}: 401 without WWW-Authenticate: {r!r}")
        if presented:
            self.assertNotIn(presented.encode(), r.body, f"{msg}: the error echoes the key")
            if presented.startswith("tly_") and len(presented) > 20:
                self.assertNotIn(presented[13:].encode(), r.body, f"{msg}: echoes the secret")
        return err

    def assert_rate_headers(self, r: Response, limit: Optional[int], now_ms: int,
                            msg: str = "") -> None:
        """X-RateLimit-* present and sane when `limit` is a number; absent when None."""
        h = r.headers
        if limit is None:
            for name in ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"):
                self.assertNotIn(name, h, f"{msg}: unlimited, yet {name}: {r!r}")
            return
        for name in ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"):
            self.assertIn(name, h, f"{msg}: no {name}: {r!r}")
        self.assertEqual(int(h["x-ratelimit-limit"]), limit, msg)
        self.assertTrue(0 <= int(h["x-ratelimit-remaining"]) < limit, f"{msg}: {h}")
        reset = int(h["x-ratelimit-reset"])
        self.assertTrue(now_ms // 1000 - 5 <= reset <= now_ms // 1000 + 61,
                        f"{msg}: X-RateLimit-Reset {reset} is not within a minute of now "
                        f"({now_ms // 1000})")


# ---------------------------------------------------------------------------
# 1. The auth matrix, generated from the route table.

class AuthMatrix(AuthTestCase):
    """Every route x every credential -> the documented status."""

    CLOCK = True
    ROUTES = True

    @classmethod
    def setUpServer(cls) -> None:
        with open(cls.routes_file, encoding="utf-8") as f:
            cls.routes = json.load(f)
        me = cls.ok("GET", WHOAMI)
        cls.account_a = me["account_id"]
        cls.project_a = me["project_id"]
        cls.limits_a = cls.ok("GET", "/v1/account/tier")["limits"]

        # Objects of account A / project "default" that other tenants must not reach.
        cls.target_name = unique("target-key-name")
        cls.target = cls.api_key(name=cls.target_name)
        cls.member_email = unique("target-member") + "@example.com"
        cls.member = cls.ok("POST", "/v1/account/members/invite", body={
            "email": cls.member_email, "role": "member"})
        cls.alert = cls.ok("POST", "/v1/account/bandwidth/alerts/configure",
                           body={"threshold_bytes": 987_654_321})
        cls.ids_by_kind = {"keys": cls.target["key_id"], "api-keys": cls.target["key_id"],
                           "projects": cls.project_a, "members": cls.member["member_id"],
                           "alerts": cls.alert["id"]}

        # Keys that must fail with 401.
        revoked = cls.api_key()
        cls.ok("DELETE", f"/v1/account/keys/revoke/{revoked['key_id']}")
        cls.revoked_key = revoked["key_secret"]
        rotated = cls.api_key()
        cls.ok("POST", f"/v1/account/keys/rotate/{rotated['key_id']}", body={"grace_hours": 1})
        cls.expired_key = rotated["key_secret"]
        assert cls.whoami(cls.expired_key).status == 200, "inside the grace period"
        cls.advance_clock(2 * HOUR_MS)

        # One key per route scope that lacks exactly that scope (and what implies it).
        cls.scopeless = {}
        for scope in sorted({r["scope"] for r in cls.routes if not r["public"] and r["scope"]}):
            cls.scopeless[scope] = cls.api_key(scopes=scopes_without(scope))["key_secret"]

        # Another account (all scopes) and another project of A without account:admin.
        cls.other_account = cls.tenant()
        cls.other_limits = cls.ok("GET", "/v1/account/tier", cls.other_account["key"])["limits"]
        cls.sibling_project = cls.new_project(cls.account_a)
        cls.sibling_key = cls.cli_key(cls.sibling_project,
                                      scopes_without("account:admin"))["key_secret"]

        # What must never appear in an answer to another tenant.
        cls.key_secrets_a = [cls.target["key_id"], cls.target["prefix"],
                             key_prefix(cls.target["key_secret"]), cls.target["key_secret"],
                             cls.target_name]
        cls.account_secrets_a = cls.key_secrets_a + [
            cls.member_email, cls.member["member_id"], cls.alert["id"], cls.account_a]

    # -- helpers ------------------------------------------------------------------

    @staticmethod
    def route_label(route: dict) -> str:
        return f"{route['method']} {route['pattern']}"

    def fill(self, route: dict, real: bool) -> tuple[str, bool]:
        """The route's path with its parameters filled: with an object of account A of
        the right kind when `real` and one exists, else a random id. Second value:
        whether an id of A was used."""
        segments = route["pattern"].split("/")
        used_real = False
        for i, seg in enumerate(segments):
            if not (seg.startswith("{") and seg.endswith("}")):
                continue
            value = None
            if real:
                for before in reversed(segments[:i]):
                    if before in self.ids_by_kind:
                        value = self.ids_by_kind[before]
                        break
            if value is None:
                value = "nope_" + uuid.uuid4().hex[:16]
            else:
                used_real = True
            segments[i] = value
        return "/".join(segments), used_real

    def send(self, route: dict, key: Any, path: Optional[str] = None,
             headers: Optional[dict] = None) -> Response:
        path = path or self.fill(route, real=False)[0]
        body = {} if route["method"] in ("POST", "PATCH", "PUT") else None
        return self.call(route["method"], path, key, body, headers)

    def protected_routes(self) -> list[dict]:
        return [r for r in self.routes if not r["public"]]

    def limit_for(self, route: dict, limits: dict) -> Optional[int]:
        return limits["ingest_rate_limit_rpm" if route["ingest"] else "rate_limit_rpm"]

    def assert_no_leak(self, r: Response, forbidden: list[str], msg: str) -> None:
        for s in forbidden:
            self.assertNotIn(s.encode(), r.body, f"{msg}: the answer shows {s!r}: {r!r}")

    # -- the matrix ---------------------------------------------------------------

    def test_route_table_is_complete(self):
        names = {r["name"] for r in self.routes}
        self.assertEqual(len(names), len(self.routes), "route names are unique")
        for r in self.routes:
            self.assertEqual(set(r), {"method", "pattern", "name", "scope", "public", "ingest"})
            if not r["public"]:
                self.assertIn(r["scope"], ALL_SCOPES, f"{r}: a protected route names a scope")
        self.assertGreaterEqual(len(self.protected_routes()), 20, self.routes)
        # API.md section 1: these three and no others answer without a key.
        public = {r["pattern"] for r in self.routes if r["public"]}
        self.assertEqual(public, {"/metrics", "/healthz", "/readyz"})

    def test_public_routes_answer_without_a_key(self):
        for route in [r for r in self.routes if r["public"]]:
            with self.subTest(route=self.route_label(route)):
                r = self.send(route, None)
                self.assertEqual(r.status, 200, r)
                self.assertNotIn("www-authenticate", r.headers)

    def test_unauthenticated_credentials_get_401(self):
        # The target's real prefix with another secret and a valid checksum.
        forged = random_key()
        forged = forged[:4] + key_prefix(self.target["key_secret"]) + forged[12:56]
        forged += key_checksum(forged)
        cases = {
            "no key": None,
            "malformed key": "not-a-tally-key-" + uuid.uuid4().hex,
            "truncated key": self.target["key_secret"][:-1],
            "bad checksum": with_bad_checksum(self.target["key_secret"]),
            "unknown key": random_key(),
            "forged secret": forged,
            "revoked key": self.revoked_key,
            "past rotation grace": self.expired_key,
        }
        count = 0
        for route in self.protected_routes():
            for case, key in cases.items():
                with self.subTest(route=self.route_label(route), case=case):
                    r = self.send(route, key, self.fill(route, real=True)[0])
                    self.assert_unauthorized(r, key, f"{self.route_label(route)} [{case}]")
                    self.assert_no_leak(r, self.account_secrets_a, case)
                    count += 1
        self.assertEqual(count, len(self.protected_routes()) * len(cases))
        # Only a holder of the secret learns anything about the key: a forged secret
        # for a real prefix fails exactly like a key that does not exist.
        self.assertEqual(self.whoami(forged).error(), self.whoami(random_key()).error())

    def test_key_without_the_routes_scope_gets_403(self):
        for route in self.protected_routes():
            if not route["scope"]:
                continue
            with self.subTest(route=self.route_label(route), scope=route["scope"]):
                path, _ = self.fill(route, real=True)
                r = self.send(route, self.scopeless[route["scope"]], path)
                err = self.assert_error(r, 403, "forbidden")
                self.assertIn(route["scope"], err["message"])
                self.assert_no_leak(r, self.account_secrets_a, "403")

    def test_valid_key_passes_auth_and_carries_rate_limit_headers(self):
        # Random path ids: nothing of A is touched; 2xx or 4xx but never 401/403.
        for route in self.protected_routes():
            with self.subTest(route=self.route_label(route)):
                now = int(time.time() * 1000) + self.offset_ms
                r = self.send(route, ADMIN)
                self.assertLess(r.status, 500, r)
                self.assertNotIn(r.status, (401, 403), r)
                self.assert_rate_headers(r, self.limit_for(route, self.limits_a), now,
                                         self.route_label(route))

    def test_other_account_gets_404_for_objects_of_account_a(self):
        key = self.other_account["key"]
        kinds_used = set()
        for route in self.protected_routes():
            real_path, used_real = self.fill(route, real=True)
            label = self.route_label(route)
            kinds_used |= {k for k in self.ids_by_kind
                           if used_real and f"/{k}/" in route["pattern"]}
            with self.subTest(route=label, case="other account"):
                now = int(time.time() * 1000) + self.offset_ms
                r = self.send(route, key, real_path)
                self.assertNotIn(r.status, (401, 403), r)
                self.assertLess(r.status, 500, r)
                self.assert_rate_headers(r, self.limit_for(route, self.other_limits), now, label)
                self.assert_no_leak(r, self.account_secrets_a, label)
                if used_real:
                    err = self.assert_error(r, 404, "not_found", msg=label)
                    # Indistinguishable from an id that exists nowhere.
                    unknown = self.send(route, key)
                    self.assertEqual((unknown.status, unknown.error()), (404, err), label)
        self.assertEqual(kinds_used, set(self.ids_by_kind), "every kind of object was targeted")
        self.assert_targets_intact()

    def test_other_project_without_account_admin_gets_404_or_scope_403(self):
        key = self.sibling_key
        for route in self.protected_routes():
            real_path, used_real = self.fill(route, real=True)
            label = self.route_label(route)
            with self.subTest(route=label, case="other project"):
                r = self.send(route, key, real_path)
                self.assertLess(r.status, 500, r)
                self.assertNotEqual(r.status, 401, r)
                self.assert_no_leak(r, self.key_secrets_a, label)
                holds_scope = route["scope"] != "account:admin"
                if not holds_scope:
                    self.assert_error(r, 403, "forbidden", param="scope", msg=label)
                elif used_real and "/projects/" in route["pattern"]:
                    self.assert_error(r, 404, "not_found", msg=label)
                if used_real:
                    unknown = self.send(route, key)
                    self.assertEqual((unknown.status, unknown.json()), (r.status, r.json()),
                                     f"{label}: an id of project default answers differently "
                                     f"from an id that exists nowhere")
        self.assert_targets_intact()

    def assert_targets_intact(self) -> None:
        self.assertEqual(self.whoami(self.target["key_secret"]).status, 200,
                         "the target key still works")
        keys = self.ok("GET", KEYS_LIST + "?project_id=default&limit=1000")["items"]
        target = [k for k in keys if k["key_id"] == self.target["key_id"]]
        self.assertEqual(len(target), 1)
        self.assertEqual(target[0]["status"], "active")
        self.assertEqual(target[0]["name"], self.target_name)
        self.assertEqual(self.ok("GET", f"/v1/account/projects/get/{self.project_a}")["id"],
                         self.project_a)
        members = self.ok("GET", "/v1/account/members/list")["items"]
        self.assertIn(self.member["member_id"], [m["member_id"] for m in members])
        alerts = self.ok("GET", "/v1/account/bandwidth/alerts/list")["items"]
        self.assertIn(self.alert["id"], [a["id"] for a in alerts])

    def test_body_and_query_ids_of_another_account_are_not_found(self):
        key = self.other_account["key"]
        r = self.call("POST", KEYS_CREATE, key, {"project_id": self.project_a})
        err = self.assert_error(r, 404, "not_found", param="project_id")
        r2 = self.call("POST", KEYS_CREATE, key, {"project_id": "nope_" + uuid.uuid4().hex})
        self.assertEqual(r2.error(), err)
        r = self.call("GET", f"{KEYS_LIST}?project_id={self.project_a}", key)
        self.assert_error(r, 404, "not_found", param="project_id")
        # Lists show the caller's own account only.
        for path in (KEYS_LIST, "/v1/api-keys", "/v1/account/projects/list",
                     "/v1/account/members/list", "/v1/account/bandwidth/alerts/list"):
            with self.subTest(path=path):
                r = self.call("GET", path, key)
                self.assertEqual(r.status, 200, r)
                self.assert_no_leak(r, self.account_secrets_a, path)
        mine = self.ok("GET", KEYS_LIST, key)["items"]
        self.assertEqual([k["key_id"] for k in mine], [self.other_account["key_id"]])

    def test_other_project_sees_only_its_own_keys_and_project(self):
        keys = self.ok("GET", KEYS_LIST, self.sibling_key)["items"]
        self.assertTrue(keys)
        self.assertEqual({k["project_id"] for k in keys}, {self.sibling_project})
        projects = self.ok("GET", "/v1/account/projects/list", self.sibling_key)["items"]
        self.assertEqual([p["id"] for p in projects], [self.sibling_project])
        # project_id of another project is ignored without account:admin.
        keys = self.ok("GET", f"{KEYS_LIST}?project_id={self.project_a}", self.sibling_key)
        self.assertEqual({k["project_id"] for k in keys["items"]}, {self.sibling_project})

    def test_forbidden_answers_carry_rate_limit_headers(self):
        # API.md section 1: "every authenticated response carries X-RateLimit-*".
        # A 403 for a missing scope comes from a valid key: the router checks the
        # scope after the rate limiter, so the 403 has the headers (and costs a token).
        now = int(time.time() * 1000) + self.offset_ms
        r = self.call("GET", WHOAMI, self.scopeless["account:read"])
        self.assertEqual(r.status, 403, r)
        self.assert_rate_headers(r, self.limits_a["rate_limit_rpm"], now, "403")

    def test_basic_auth_and_bare_key_are_accepted(self):
        key = self.target["key_secret"]
        basic = base64.b64encode(f"user:{key}".encode()).decode()
        self.assertEqual(self.call("GET", WHOAMI, headers={"Authorization": f"Basic {basic}"})
                         .status, 200)
        basic = base64.b64encode(f"{key}:".encode()).decode()  # curl -u key:
        self.assertEqual(self.call("GET", WHOAMI, headers={"Authorization": f"basic {basic}"})
                         .status, 200)
        bad = base64.b64encode(f"user:{with_bad_checksum(key)}".encode()).decode()
        r = self.call("GET", WHOAMI, headers={"Authorization": f"Basic {bad}"})
        self.assert_unauthorized(r, with_bad_checksum(key))
        r = self.call("GET", WHOAMI, headers={"Authorization": f"Token {key}"})
        self.assert_unauthorized(r, key, "unknown scheme")

    def test_generated_keys_follow_the_documented_format(self):
        for key in (self.server.api_key(), self.target["key_secret"]):
            self.assertEqual(len(key), 62)
            self.assertTrue(key.startswith("tly_") and key[12] == "_", key)
            self.assertEqual(key[56:], key_checksum(key[:56]), "CRC-32C checksum, base62")
        self.assertEqual(self.target["prefix"], "tly_" + key_prefix(self.target["key_secret"]))


# ---------------------------------------------------------------------------
# 2. Key lifecycle.

class KeyLifecycle(AuthTestCase):
    CLOCK = True
    KEY_CACHE_TTL_S = 0.3
    CONFIG = """
auth:
  usage_flush_interval: 100ms
  key_cache_ttl: 300ms
"""

    def key_item(self, key_id: str, project: str = "default") -> dict:
        items = self.ok("GET", f"{KEYS_LIST}?project_id={project}&limit=1000")["items"]
        found = [k for k in items if k["key_id"] == key_id]
        self.assertEqual(len(found), 1, items)
        return found[0]

    def test_secret_is_shown_once_and_never_stored(self):
        created = self.api_key(scopes=["metrics:write", "account:read"])
        secret = created["key_secret"]
        self.assertEqual(self.whoami(secret).status, 200)
        for path in (KEYS_LIST, "/v1/api-keys", f"{KEYS_LIST}?project_id=default"):
            r = self.call("GET", path)
            self.assertEqual(r.status, 200, r)
            self.assertNotIn(secret[13:].encode(), r.body, path)
            self.assertIn(created["prefix"].encode(), r.body, path)
        self.assertNotIn(secret[13:], self.server.tally_cli("keys", "list").stdout)
        self.server.stop(keep_data=True)  # checkpoints and closes tally.db
        try:
            files = [n for n in os.listdir(self.server.data_dir) if n.startswith("tally.db")]
            self.assertIn("tally.db", files)
            for name in files:
                with open(os.path.join(self.server.data_dir, name), "rb") as f:
                    data = f.read()
                self.assertNotIn(secret[13:].encode(), data, name)
                self.assertNotIn(secret[13:40].encode(), data, name)
        finally:
            self.server.start()
        self.assertEqual(self.whoami(secret).status, 200, "the key works after a restart")

    def test_last_used_at_appears_after_a_flush(self):
        created = self.api_key()
        self.assertIsNone(self.key_item(created["key_id"])["last_used_at"])
        before = self.server_now_ms()
        self.assertEqual(self.whoami(created["key_secret"]).status, 200)
        item = wait_until(lambda: (lambda k: k if k["last_used_at"] else None)(
            self.key_item(created["key_id"])), 10, "last_used_at to be written")
        used = parse_iso_ms(item["last_used_at"])
        self.assertTrue(before - 1000 <= used <= self.server_now_ms() + 1000, item)

    def test_rotation_keeps_the_old_secret_for_the_grace_period(self):
        created = self.api_key()
        old = created["key_secret"]
        self.assertEqual(self.whoami(old).status, 200)
        now = self.server_now_ms()
        rotated = self.ok("POST", f"/v1/account/keys/rotate/{created['key_id']}",
                          body={"grace_hours": 24})
        new = rotated["key_secret"]
        self.assertNotEqual(new, old)
        self.assertEqual(rotated["key_id"], created["key_id"])
        grace_end = parse_iso_ms(rotated["grace_expires_at"])
        self.assertAlmostEqual(grace_end, now + 24 * HOUR_MS, delta=60_000)
        self.assertEqual(self.whoami(old).status, 200, "old secret inside the grace period")
        self.assertEqual(self.whoami(new).status, 200)
        self.assertEqual(self.key_item(created["key_id"])["prefix"], "tly_" + key_prefix(new))

        self.advance_clock(25 * HOUR_MS)
        err = self.assert_unauthorized(self.whoami(old), old)
        self.assertIn("grace period", err["message"])
        self.assertEqual(self.whoami(new).status, 200)

    def test_default_grace_is_24_hours(self):
        created = self.api_key()
        now = self.server_now_ms()
        rotated = self.ok("POST", f"/v1/account/keys/rotate/{created['key_id']}", body={})
        self.assertAlmostEqual(parse_iso_ms(rotated["grace_expires_at"]), now + 24 * HOUR_MS,
                               delta=60_000)
        zero = self.api_key()
        rotated = self.ok("POST", f"/v1/account/keys/rotate/{zero['key_id']}",
                          body={"grace_hours": 0})
        self.assert_unauthorized(self.whoami(zero["key_secret"]), zero["key_secret"])
        self.assertEqual(self.whoami(rotated["key_secret"]).status, 200)

    def test_revoke_applies_to_the_very_next_request(self):
        created = self.api_key()
        secret = created["key_secret"]
        self.assertEqual(self.whoami(secret).status, 200)  # now cached
        r = self.ok("DELETE", f"/v1/account/keys/revoke/{created['key_id']}")
        self.assertEqual(r, {"revoked": True, "key_id": created["key_id"]})
        err = self.assert_unauthorized(self.whoami(secret), secret)
        self.assertIn("revoked", err["message"])
        self.assertEqual(self.key_item(created["key_id"])["status"], "revoked")
        r = self.call("POST", f"/v1/account/keys/rotate/{created['key_id']}", body={})
        self.assert_error(r, 409, "conflict")
        self.assert_unauthorized(self.whoami(secret), secret)

    def test_suspected_compromise_without_confirmation_keeps_the_key(self):
        created = self.api_key()
        secret = created["key_secret"]
        r = self.ok("POST", f"/v1/account/keys/suspected_compromise/{created['key_id']}",
                    body={"confirmed_leak": False})
        self.assertEqual(r["status"], "suspected_compromise")
        self.assertNotIn("key_secret", r)
        self.assertEqual(self.whoami(secret).status, 200)
        self.assertEqual(self.key_item(created["key_id"])["status"], "suspected_compromise")

        # auto_rotate: a new secret; the old one keeps working for a while.
        r = self.ok("POST", f"/v1/account/keys/suspected_compromise/{created['key_id']}",
                    body={"auto_rotate": True})
        new = r["key_secret"]
        self.assertNotEqual(new, secret)
        self.assertEqual(self.whoami(new).status, 200)
        self.assertEqual(self.whoami(secret).status, 200)
        self.assertEqual(self.key_item(created["key_id"])["status"], "suspected_compromise")
        grace_end = parse_iso_ms(r["grace_expires_at"])
        self.advance_clock(grace_end - self.server_now_ms() + 60_000)
        self.assert_unauthorized(self.whoami(secret), secret)
        self.assertEqual(self.whoami(new).status, 200)

    def test_confirmed_leak_revokes_at_once(self):
        plain = self.api_key()
        self.assertEqual(self.whoami(plain["key_secret"]).status, 200)
        r = self.ok("POST", f"/v1/account/keys/suspected_compromise/{plain['key_id']}",
                    body={"confirmed_leak": True})
        self.assertEqual(r["status"], "revoked")
        self.assertNotIn("key_secret", r)
        self.assert_unauthorized(self.whoami(plain["key_secret"]), plain["key_secret"])

        name = unique("leaky")
        leaked = self.api_key(name=name, scopes=["account:read", "metrics:write"])
        self.assertEqual(self.whoami(leaked["key_secret"]).status, 200)
        r = self.ok("POST", f"/v1/account/keys/suspected_compromise/{leaked['key_id']}",
                    body={"confirmed_leak": True, "auto_rotate": True})
        self.assertEqual(r["status"], "revoked")
        self.assert_unauthorized(self.whoami(leaked["key_secret"]), leaked["key_secret"])
        replacement = r["key_secret"]
        self.assertNotEqual(r["replacement_key_id"], leaked["key_id"])
        me = self.whoami(replacement)
        self.assertEqual(me.status, 200, me)
        self.assertEqual(me.json()["key_id"], r["replacement_key_id"])
        item = self.key_item(r["replacement_key_id"])
        self.assertEqual((item["name"], sorted(item["scopes"]), item["status"]),
                         (name, ["account:read", "metrics:write"], "active"))
        self.assertEqual(self.key_item(leaked["key_id"])["status"], "revoked")

    def test_narrowing_scopes_applies_to_the_next_request(self):
        created = self.api_key()
        secret = created["key_secret"]
        self.assertEqual(self.whoami(secret).status, 200)
        r = self.ok("PATCH", f"/v1/account/keys/update/{created['key_id']}",
                    body={"scopes": ["metrics:write"]})
        self.assertEqual(r["scopes"], ["metrics:write"])
        self.assert_error(self.whoami(secret), 403, "forbidden", param="scope")
        r = self.call("POST", REPORT, secret, {"name": unique("narrow").replace("-", "_"),
                                               "value": 1})
        self.assertEqual(r.status, 200, r)

    def test_cli_revoke_stops_the_key_within_the_cache_ttl(self):
        created = self.cli_key("default", name=unique("cli"))
        secret = created["key_secret"]
        self.assertEqual(self.whoami(secret).status, 200)  # cached in the server
        self.server.tally_cli("keys", "revoke", created["key_id"])
        revoked_at = time.monotonic()
        wait_until(lambda: self.whoami(secret).status == 401,
                   self.KEY_CACHE_TTL_S + 5, "the CLI-revoked key to fail")
        elapsed = time.monotonic() - revoked_at
        self.assertLess(elapsed, (self.KEY_CACHE_TTL_S + 2) * TIME_SCALE)
        self.assert_unauthorized(self.whoami(secret), secret)
        listed = [line for line in self.server.tally_cli("keys", "list").stdout.splitlines()
                  if line.startswith(created["key_id"] + " ")]
        self.assertEqual(len(listed), 1)
        self.assertIn(" revoked ", listed[0])

    def test_api_keys_aliases(self):
        name = unique("alias")
        r = self.call("POST", "/v1/api-keys", body={"name": name, "scopes": ["account:read"]})
        self.assertEqual(r.status, 201, r)
        created = r.json()
        secret = created["key"]
        self.assertEqual(created["prefix"], "tly_" + key_prefix(secret))
        self.assertEqual((created["name"], created["scopes"], created["project_id"]),
                         (name, ["account:read"], "default"))
        self.assertEqual(self.whoami(secret).status, 200)
        self.assert_error(self.call("POST", REPORT, secret, {"name": "x", "value": 1}),
                          403, "forbidden")

        listed = self.ok("GET", "/v1/api-keys?limit=1000")
        self.assertNotIn(secret[13:], json.dumps(listed))
        mine = [k for k in listed["data"] if k["id"] == created["id"]]
        self.assertEqual(len(mine), 1)
        item = self.key_item(created["id"])
        for field in ("name", "prefix", "status", "scopes", "project_id", "created_at"):
            self.assertEqual(mine[0][field], item[field], field)

        r = self.ok("DELETE", f"/v1/api-keys/{created['id']}")
        self.assertEqual(r, {"deleted": True})
        self.assert_unauthorized(self.whoami(secret), secret)
        self.assertEqual(self.key_item(created["id"])["status"], "revoked")
        self.assert_error(self.call("DELETE", f"/v1/api-keys/nope_{uuid.uuid4().hex}"),
                          404, "not_found")


# ---------------------------------------------------------------------------
# 3. Rate limits.

class RateLimits(AuthTestCase):
    CLOCK = True
    CONFIG = """
billing:
  tiers:
    free:
      rate_limit_rpm: 5
      ingest_rate_limit_rpm: 7
"""

    def burst(self, method: str, path: str, key: str, n: int, body: Any = None,
              limit: int = 5) -> list[Response]:
        out = []
        for _ in range(n):
            out.append(self.call(method, path, key, body))
        now = self.server_now_ms()
        for i, r in enumerate(out[:limit]):
            self.assertEqual(r.status, 200, f"request {i + 1}: {r!r}")
            self.assert_rate_headers(r, limit, now, f"request {i + 1}")
            self.assertEqual(int(r.headers["x-ratelimit-remaining"]), limit - 1 - i)
        for i, r in enumerate(out[limit:], limit):
            err = self.assert_error(r, 429, "rate_limited", msg=f"request {i + 1}")
            self.assertIn(str(limit), err["message"])
            self.assertGreaterEqual(int(r.headers["retry-after"]), 1, r)
            self.assertLessEqual(int(r.headers["retry-after"]), 60, r)
            self.assertEqual(int(r.headers["x-ratelimit-limit"]), limit)
            self.assertEqual(int(r.headers["x-ratelimit-remaining"]), 0)
            reset = int(r.headers["x-ratelimit-reset"])
            self.assertTrue(now / 1000 < reset <= now / 1000 + 61, (reset, now))
        return out

    def point(self) -> dict:
        return {"name": "rl_" + uuid.uuid4().hex[:8], "value": 1}

    def test_tier_limit_then_429_then_refill(self):
        t = self.tenant(tier="free")
        self.burst("GET", WHOAMI, t["key"], 8)
        # Ingest has its own budget: still open while the general one is empty.
        self.burst("POST", REPORT, t["key"], 9, self.point(), limit=7)
        self.assert_error(self.whoami(t["key"]), 429, "rate_limited")
        # Other projects and the admin key are not affected.
        other = self.tenant(tier="free")
        self.assertEqual(self.whoami(other["key"]).status, 200)
        r = self.whoami(ADMIN)
        self.assertEqual(r.status, 200)
        self.assertGreater(int(r.headers["x-ratelimit-limit"]), 5)

        self.advance_clock(60_000)
        r = self.whoami(t["key"])
        self.assertEqual(r.status, 200, r)
        self.assertEqual(int(r.headers["x-ratelimit-remaining"]), 4, "full again after 60 s")
        self.assertEqual(self.call("POST", REPORT, t["key"], self.point()).status, 200)
        tier = self.ok("GET", "/v1/account/tier", t["key"])
        self.assertEqual((tier["tier"], tier["limits"]["rate_limit_rpm"],
                          tier["limits"]["ingest_rate_limit_rpm"]), ("free", 5, 7))

    def test_project_rate_limit_overrides_the_tier(self):
        project = self.ok("POST", PROJECTS_CREATE, body={"name": unique("limited")})
        key = self.api_key(project_id=project["id"])["key_secret"]
        # (Not used before the PATCH: a bucket that is not full would be rescaled to
        # less than 5 tokens.)
        updated = self.ok("PATCH", f"/v1/account/projects/update/{project['id']}",
                          body={"rate_limit_rpm": 5})
        self.assertEqual(updated["rate_limit_rpm"], 5)
        self.burst("GET", WHOAMI, key, 8)
        self.assertEqual(self.whoami(ADMIN).status, 200, "the admin's project is not limited")
        self.advance_clock(60_000)
        self.assertEqual(self.whoami(key).status, 200)
        # null: back to the tier's limit (enterprise).
        self.ok("PATCH", f"/v1/account/projects/update/{project['id']}",
                body={"rate_limit_rpm": None})
        tier = self.ok("GET", "/v1/account/tier", key)
        self.assertEqual(int(self.whoami(key).headers["x-ratelimit-limit"]),
                         tier["limits"]["rate_limit_rpm"])
        self.assertGreater(tier["limits"]["rate_limit_rpm"], 5)

    def test_enterprise_ingest_is_unlimited(self):
        r = self.call("POST", REPORT, ADMIN, self.point())
        self.assertEqual(r.status, 200, r)
        self.assertNotIn("x-ratelimit-limit", r.headers)


# ---------------------------------------------------------------------------
# 4. Tenancy and the account routes.

class Tenancy(AuthTestCase):
    CONFIG = """
auth:
  usage_flush_interval: 100ms
"""

    def walk(self, path: str, key: Any = ADMIN, field: str = "items",
             id_field: str = "key_id", cursor: Optional[str] = None) -> list[str]:
        """Follows next_cursor with limit=2 (from `cursor`); the ids in order."""
        ids, pages = [], 0
        while True:
            sep = "&" if "?" in path else "?"
            url = f"{path}{sep}limit=2" + (f"&cursor={cursor}" if cursor else "")
            doc = self.ok("GET", url, key)
            self.assertLessEqual(len(doc[field]), 2, doc)
            ids += [item[id_field] for item in doc[field]]
            pages += 1
            self.assertLess(pages, 1000, "the cursor walk does not end")
            cursor = doc.get("next_cursor")
            if not cursor:
                return ids

    def test_project_crud_and_delete_revokes_its_keys(self):
        name = unique("crud")
        p = self.ok("POST", PROJECTS_CREATE, body={
            "name": name, "metadata": {"team": "search"}, "rate_limit_rpm": 100,
            "scopes": ["metrics:write", "account:read"]})
        self.assertEqual((p["name"], p["metadata"], p["rate_limit_rpm"], p["project_id"]),
                         (name, {"team": "search"}, 100, p["id"]))
        self.assertEqual(self.ok("GET", f"/v1/account/projects/get/{p['id']}"), p)
        listed = self.ok("GET", "/v1/account/projects/list?limit=1000")["items"]
        self.assertIn(p, listed)
        renamed = self.ok("PATCH", f"/v1/account/projects/update/{p['id']}",
                          body={"name": name + "-2", "metadata": {"team": "ads"}})
        self.assertEqual((renamed["name"], renamed["metadata"], renamed["rate_limit_rpm"]),
                         (name + "-2", {"team": "ads"}, 100))

        key = self.api_key(project_id=p["id"])
        self.assertEqual(self.whoami(key["key_secret"]).json()["project_id"], p["id"])
        # The project's scopes cap its keys: account:admin is not among them.
        self.assertEqual(self.call("POST", REPORT, key["key_secret"],
                                   {"name": "capped", "value": 1}).status, 200)
        self.assert_error(self.call("POST", KEYS_CREATE, key["key_secret"], {}), 403,
                          "forbidden")
        r = self.ok("DELETE", f"/v1/account/projects/delete/{p['id']}")
        self.assertEqual(r, {"deleted": True, "project_id": p["id"]})
        self.assert_error(self.call("GET", f"/v1/account/projects/get/{p['id']}"), 404,
                          "not_found")
        self.assert_unauthorized(self.whoami(key["key_secret"]), key["key_secret"])
        self.assert_error(self.call("DELETE", f"/v1/account/projects/delete/{p['id']}"), 404,
                          "not_found")

    def test_cannot_delete_the_calling_keys_own_project(self):
        err = self.assert_error(self.call("DELETE", "/v1/account/projects/delete/default"),
                                409, "conflict")
        self.assertIn("project", err["message"])
        p = self.ok("POST", PROJECTS_CREATE, body={"name": unique("own")})
        key = self.api_key(project_id=p["id"])["key_secret"]
        self.assert_error(self.call("DELETE", f"/v1/account/projects/delete/{p['id']}", key),
                          409, "conflict")
        self.assertEqual(self.whoami(key).status, 200)
        self.ok("GET", "/v1/account/projects/get/default")

    def test_members_invite_list_remove(self):
        email = unique("ops") + "@example.com"
        m = self.ok("POST", "/v1/account/members/invite",
                    body={"email": email, "role": "billing-ops"})
        self.assertEqual((m["email"], m["role"], m["status"]), (email, "billing-ops", "invited"))
        token = m["invite_token"]
        self.assertTrue(token.startswith("inv_") and len(token) > 20, token)
        r = self.call("GET", "/v1/account/members/list?limit=1000")
        self.assertNotIn(token.encode(), r.body, "the invite token is shown once")
        listed = [x for x in r.json()["items"] if x["member_id"] == m["member_id"]]
        self.assertEqual(len(listed), 1)
        self.assertNotIn("invite_token", listed[0])

        err = self.assert_error(self.call("POST", "/v1/account/members/invite", body={
            "email": unique("x") + "@example.com", "role": "owner"}), 400, "invalid_request",
            param="role")
        self.assertIn("owner", err["message"])
        self.assert_error(self.call("POST", "/v1/account/members/invite",
                                    body={"email": email, "role": "viewer"}),
                          409, "conflict", param="email")
        self.assert_error(self.call("POST", "/v1/account/members/invite",
                                    body={"email": "not-an-email", "role": "viewer"}),
                          400, "invalid_request", param="email")

        r = self.ok("DELETE", f"/v1/account/members/remove/{m['member_id']}")
        self.assertEqual(r, {"removed": True, "member_id": m["member_id"]})
        self.assert_error(self.call("DELETE", f"/v1/account/members/remove/{m['member_id']}"),
                          404, "not_found")

    def test_last_admin_cannot_be_removed(self):
        email = unique("founder") + "@example.com"
        account = self.new_account(email=email)
        key = self.cli_key(self.new_project(account))["key_secret"]
        members = self.ok("GET", "/v1/account/members/list", key)["items"]
        self.assertEqual([(m["email"], m["role"], m["status"]) for m in members],
                         [(email, "admin", "active")], "the CLI's --admin-email")
        self.assertEqual(self.ok("GET", "/v1/me", key)["email"], email)
        first = members[0]["member_id"]
        err = self.assert_error(self.call("DELETE", f"/v1/account/members/remove/{first}", key),
                                409, "conflict")
        self.assertIn("last admin", err["message"])
        # An invited admin has not accepted yet: it does not count as an admin, so the
        # active one still cannot go, and the invitation can be withdrawn.
        second = self.ok("POST", "/v1/account/members/invite", key,
                         {"email": unique("second") + "@example.com", "role": "admin"})
        self.assert_error(self.call("DELETE", f"/v1/account/members/remove/{first}", key),
                          409, "conflict")
        self.ok("DELETE", f"/v1/account/members/remove/{second['member_id']}", key)
        remaining = self.ok("GET", "/v1/account/members/list", key)["items"]
        self.assertEqual([m["member_id"] for m in remaining], [first])

    def test_tier(self):
        me = self.ok("GET", WHOAMI)
        tier = self.ok("GET", "/v1/account/tier")
        self.assertEqual(tier["tier"], me["tier"])
        self.assertEqual(tier["tier"], "enterprise")
        self.assertEqual(tier["limits"]["rate_limit_rpm"], 10000)  # config/tally.yaml
        self.assertIsNone(tier["limits"]["ingest_rate_limit_rpm"], "0 = unlimited = null")
        start = parse_iso_ms(tier["billing_period"]["start"])
        end = parse_iso_ms(tier["billing_period"]["end"])
        self.assertTrue(start <= time.time() * 1000 < end, tier)
        free = self.tenant(tier="free")
        doc = self.ok("GET", "/v1/account/tier", free["key"])
        self.assertEqual((doc["tier"], doc["limits"]["rate_limit_rpm"],
                          doc["limits"]["max_projects"]), ("free", 60, 3))
        # The tier's project limit holds (the CLI made the first project).
        for _ in range(2):
            self.ok("POST", PROJECTS_CREATE, free["key"], {"name": unique("p")})
        err = self.assert_error(self.call("POST", PROJECTS_CREATE, free["key"],
                                          {"name": unique("p")}), 403, "forbidden")
        self.assertIn("3 projects", err["message"])

    def test_usage_counts_what_was_sent(self):
        t = self.tenant()
        key = t["key"]
        sent = {"account.whoami": 3, "metrics.report": 2, "account.keys.list": 1,
                "account.tier": 1}
        for _ in range(3):
            self.assertEqual(self.whoami(key).status, 200)
        self.assertEqual(self.call("POST", REPORT, key, {"name": "u_ok", "value": 1}).status, 200)
        self.assertEqual(self.call("POST", REPORT, key, {"value": 1}).status, 400)  # counted too
        self.ok("GET", KEYS_LIST, key)
        self.ok("GET", "/v1/account/tier", key)
        # Not counted: no key, a bad key, a missing route.
        self.assertEqual(self.whoami(None).status, 401)
        self.assertEqual(self.whoami(random_key()).status, 401)
        self.assertEqual(self.call("GET", "/v1/account/nope", key).status, 404)
        # Flushed (every 100 ms) or not, reads include everything.
        for attempt in range(2):
            usage = self.ok("GET", "/v1/account/usage", key)
            expected = dict(sent)
            if attempt:
                expected["account.usage"] = 1  # the first read, counted after it answered
            self.assertEqual({k: v["requests"] for k, v in usage["by_capability"].items()},
                             expected)
            self.assertEqual(usage["requests"], sum(expected.values()))
        # Another account's usage is its own.
        other = self.tenant()
        usage = self.ok("GET", "/v1/account/usage", other["key"])
        self.assertEqual((usage["requests"], usage["by_capability"]), (0, {}))

    def test_usage_timeseries_is_zero_filled(self):
        t = self.tenant()
        key = t["key"]
        for _ in range(4):
            self.assertEqual(self.whoami(key).status, 200)
        now = int(time.time() * 1000)
        day = 86_400_000

        def expect_buckets(start_ms: int, end_ms: int, granularity: str) -> list[int]:
            def floor(ms):
                dt = datetime.datetime.fromtimestamp(ms / 1000, datetime.timezone.utc)
                if granularity == "hour":
                    return ms - ms % HOUR_MS
                if granularity == "day":
                    return ms - ms % day
                return int(dt.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
                           .timestamp() * 1000)

            def step(b):
                if granularity == "month":
                    dt = datetime.datetime.fromtimestamp(b / 1000, datetime.timezone.utc)
                    y, m = (dt.year + 1, 1) if dt.month == 12 else (dt.year, dt.month + 1)
                    return int(dt.replace(year=y, month=m).timestamp() * 1000)
                return b + (HOUR_MS if granularity == "hour" else day)
            out, b = [], floor(start_ms)
            while b <= end_ms:
                out.append(b)
                b = step(b)
            return out

        end = (now // 1000 + 2) * 1000  # sent as unix seconds
        sent = 4
        for granularity, span in (("hour", 5 * HOUR_MS), ("day", 3 * day), ("month", 70 * day)):
            with self.subTest(granularity=granularity):
                start = now - span
                doc = self.ok("GET", f"/v1/account/usage/timeseries?granularity={granularity}"
                                     f"&start={iso(start)}&end={end // 1000}", key)
                self.assertEqual(doc["granularity"], granularity)
                ts = [parse_iso_ms(p["ts"]) for p in doc["points"]]
                self.assertEqual(ts, expect_buckets(start, end, granularity))
                counts = [p["requests"] for p in doc["points"]]
                self.assertEqual(sum(counts), sent, counts)
                # Everything happened in the last bucket (or two, across a boundary).
                self.assertTrue(all(c == 0 for c in counts[:-2]), counts)
                sent += 1  # this read is counted once it has answered

        err = self.assert_error(self.call("GET", "/v1/account/usage/timeseries?granularity=week",
                                          key), 400, "invalid_request", param="granularity")
        self.assertIn("week", err["message"])
        self.assert_error(self.call("GET", "/v1/account/usage/timeseries?granularity=hour"
                                           f"&start={iso(now - 500 * day)}", key),
                          400, "invalid_request", param="granularity")
        self.assert_error(self.call("GET", f"/v1/account/usage/timeseries?start={iso(now)}"
                                           f"&end={iso(now - day)}", key),
                          400, "invalid_request", param="start")
        self.assert_error(self.call("GET", "/v1/account/usage/timeseries?start=yesterday", key),
                          400, "invalid_request", param="start")
        # Default: day buckets from the start of the month.
        doc = self.ok("GET", "/v1/account/usage/timeseries", key)
        self.assertEqual(doc["granularity"], "day")

    def test_bandwidth_counts_the_bytes_sent(self):
        t = self.tenant()
        key = t["key"]
        before = self.ok("GET", "/v1/account/bandwidth/usage", key)
        quota_before = self.ok("GET", "/v1/account/bandwidth/quota", key)
        self.assertIsNone(quota_before["limit_bytes"], "enterprise: unlimited")
        points = [{"name": "bw_bytes", "value": i, "tags": {"pad": "x" * 100}}
                  for i in range(200)]
        body = json.dumps({"points": points}).encode()
        r = self.call("POST", "/v1/metrics/batch", key, body)
        self.assertEqual(r.status, 200, r)
        after = self.ok("GET", "/v1/account/bandwidth/usage", key)
        self.assertGreaterEqual(after["ingress_bytes"] - before["ingress_bytes"], len(body))
        self.assertGreater(after["egress_bytes"], before["egress_bytes"])
        quota = self.ok("GET", "/v1/account/bandwidth/quota", key)
        self.assertGreaterEqual(quota["used_bytes"] - quota_before["used_bytes"], len(body))
        free = self.tenant(tier="free")
        quota = self.ok("GET", "/v1/account/bandwidth/quota", free["key"])
        self.assertEqual(quota["limit_bytes"], 1 << 30)  # free: 1GiB
        self.assertEqual(quota["remaining_bytes"], quota["limit_bytes"] - quota["used_bytes"])

    def test_bandwidth_alerts(self):
        t = self.tenant()
        key = t["key"]
        a = self.ok("POST", "/v1/account/bandwidth/alerts/configure", key,
                    {"threshold_bytes": 5_000_000})
        self.assertEqual((a["threshold_bytes"], a["enabled"]), (5_000_000, True))
        listed = self.ok("GET", "/v1/account/bandwidth/alerts/list", key)["items"]
        self.assertEqual(listed, [a])
        self.assertEqual(self.ok("GET", "/v1/account/bandwidth/alerts/list")["items"].count(a), 0,
                         "another account's alerts")
        self.assertEqual(self.ok("DELETE", f"/v1/account/bandwidth/alerts/delete/{a['id']}", key),
                         {"deleted": True, "alert_id": a["id"]})
        self.assertEqual(self.ok("GET", "/v1/account/bandwidth/alerts/list", key)["items"], [])
        self.assert_error(self.call("DELETE", f"/v1/account/bandwidth/alerts/delete/{a['id']}",
                                    key), 404, "not_found")
        for bad in (0, -5, "1GB", None):
            with self.subTest(threshold_bytes=bad):
                self.assert_error(self.call("POST", "/v1/account/bandwidth/alerts/configure", key,
                                            {"threshold_bytes": bad}),
                                  400, "invalid_request", param="threshold_bytes")

    def test_cursor_pagination_over_keys(self):
        p = self.ok("POST", PROJECTS_CREATE, body={"name": unique("paged")})
        created = [self.api_key(project_id=p["id"])["key_id"] for _ in range(5)]
        for path, field, id_field in ((f"{KEYS_LIST}?project_id={p['id']}", "items", "key_id"),
                                      (f"/v1/api-keys?project_id={p['id']}", "data", "id")):
            with self.subTest(path=path):
                ids = self.walk(path, field=field, id_field=id_field)
                self.assertEqual(len(ids), len(set(ids)), f"duplicates: {ids}")
                self.assertEqual(sorted(ids), sorted(created))
        # A page boundary is stable under inserts: keys created mid-walk are not
        # returned twice and nothing before the cursor is skipped.
        first = self.ok("GET", f"{KEYS_LIST}?project_id={p['id']}&limit=2")
        late = self.api_key(project_id=p["id"])["key_id"]
        rest = self.walk(f"{KEYS_LIST}?project_id={p['id']}", cursor=first["next_cursor"])
        seen = [k["key_id"] for k in first["items"]] + rest
        self.assertEqual(len(seen), len(set(seen)), seen)
        self.assertEqual(set(seen), set(created) | {late})

    def test_cursor_pagination_over_projects(self):
        for _ in range(4):
            self.ok("POST", PROJECTS_CREATE, body={"name": unique("many")})
        account = self.ok("GET", WHOAMI)["account_id"]
        cli = self.server.tally_cli("projects", "list", "--account", account).stdout
        expected = [line.split()[0] for line in cli.splitlines() if line.strip()]
        self.assertGreaterEqual(len(expected), 5)
        ids = self.walk("/v1/account/projects/list", id_field="id")
        self.assertEqual(len(ids), len(set(ids)), ids)
        self.assertEqual(sorted(ids), sorted(expected))

    def test_bad_cursor_and_limit(self):
        for path in (KEYS_LIST, "/v1/api-keys", "/v1/account/projects/list",
                     "/v1/account/members/list"):
            with self.subTest(path=path):
                for cursor in ("garbage!!", "Zm9vOmJhcg", "x" * 100):
                    self.assert_error(self.call("GET", f"{path}?cursor={cursor}"), 400,
                                      "invalid_request", param="cursor")
                for limit in ("0", "1001", "-1", "abc", "2.5"):
                    err = self.assert_error(self.call("GET", f"{path}?limit={limit}"), 400,
                                            "invalid_request", param="limit")
                    self.assertIn("1000", err["message"])
                self.assertEqual(self.call("GET", f"{path}?limit=1000").status, 200)
        # A cursor of one list is not valid for another.
        p = self.ok("POST", PROJECTS_CREATE, body={"name": unique("cur")})
        for _ in range(3):
            self.api_key(project_id=p["id"])
        cursor = self.ok("GET", f"{KEYS_LIST}?project_id={p['id']}&limit=1")["next_cursor"]
        self.assert_error(self.call("GET", f"/v1/account/projects/list?cursor={cursor}"), 400,
                          "invalid_request", param="cursor")

    def test_metric_points_are_labelled_with_the_keys_project(self):
        name = "tenant_" + uuid.uuid4().hex[:10]
        account = self.ok("GET", WHOAMI)["account_id"]
        project_b = self.new_project(account)
        key_b = self.cli_key(project_b, ["metrics:write"])["key_secret"]
        other = self.tenant()
        self.assertEqual(self.call("POST", REPORT, key_b, {"name": name, "value": 2}).status, 200)
        self.assertEqual(self.call("POST", REPORT, ADMIN, {"name": name, "value": 3}).status, 200)
        self.assertEqual(self.call("POST", "/v1/metrics/batch", other["key"],
                                   {"points": [{"name": name, "value": 5}]}).status, 200)
        m = self.server.metrics()
        series = {l["project"]: v for l, v in m.find(name)}
        self.assertEqual(series, {project_b: 2, "default": 3, other["project_id"]: 5})


# ---------------------------------------------------------------------------
# 5. Idempotency of the account routes.

class AccountIdempotency(AuthTestCase):

    def keys_of(self, project: str) -> list[dict]:
        return self.ok("GET", f"{KEYS_LIST}?project_id={project}&limit=1000")["items"]

    def test_same_key_same_body_replays_and_creates_one_key(self):
        p = self.ok("POST", PROJECTS_CREATE, body={"name": unique("idem")})["id"]
        body = {"project_id": p, "name": "idem", "scopes": ["account:read"]}
        ik = {"Idempotency-Key": unique("ik")}
        first = self.call("POST", KEYS_CREATE, body=body, headers=ik)
        self.assertEqual(first.status, 200, first)
        self.assertNotIn("idempotent-replayed", first.headers)
        second = self.call("POST", KEYS_CREATE, body=body, headers=ik)
        self.assertEqual((second.status, second.body), (200, first.body))
        self.assertEqual(second.headers.get("idempotent-replayed"), "true")
        self.assertEqual([k["key_id"] for k in self.keys_of(p)], [first.json()["key_id"]])

        r = self.call("POST", KEYS_CREATE, body={**body, "name": "changed"}, headers=ik)
        self.assert_error(r, 422, "idempotency_key_reused", param="idempotency_key")
        self.assertEqual(len(self.keys_of(p)), 1)

        # The key in the body works the same way.
        body2 = {"project_id": p, "name": "in-body", "idempotency_key": unique("ik")}
        a = self.call("POST", KEYS_CREATE, body=body2)
        b = self.call("POST", KEYS_CREATE, body=body2)
        self.assertEqual((a.status, b.status, a.body), (200, 200, b.body))
        self.assertEqual(b.headers.get("idempotent-replayed"), "true")
        self.assertEqual(len(self.keys_of(p)), 2)

    def test_other_mutating_routes_replay(self):
        ik = {"Idempotency-Key": unique("ik")}
        body = {"name": unique("proj")}
        a = self.call("POST", PROJECTS_CREATE, body=body, headers=ik)
        b = self.call("POST", PROJECTS_CREATE, body=body, headers=ik)
        self.assertEqual((a.status, b.body), (200, a.body))
        self.assertEqual(b.headers.get("idempotent-replayed"), "true")
        names = [x["name"] for x in self.ok("GET", "/v1/account/projects/list?limit=1000")["items"]]
        self.assertEqual(names.count(body["name"]), 1)
        # The same key on another route is another request.
        r = self.call("POST", "/v1/account/bandwidth/alerts/configure",
                      body={"threshold_bytes": 10}, headers=ik)
        self.assert_error(r, 422, "idempotency_key_reused")

    def test_keys_are_scoped_per_project(self):
        ik = {"Idempotency-Key": unique("ik")}
        body = {"name": "same-body"}
        mine = self.call("POST", KEYS_CREATE, body=body, headers=ik)
        self.assertEqual(mine.status, 200, mine)
        other = self.tenant()
        theirs = self.call("POST", KEYS_CREATE, other["key"], body, headers=ik)
        self.assertEqual(theirs.status, 200, theirs)
        self.assertNotIn("idempotent-replayed", theirs.headers)
        self.assertNotEqual(theirs.json()["key_id"], mine.json()["key_id"])
        self.assertNotIn(mine.json()["key_secret"].encode(), theirs.body)
        self.assertEqual(theirs.json()["project_id"], other["project_id"])

    def test_replay_survives_a_restart(self):
        ik = {"Idempotency-Key": unique("ik")}
        body = {"name": unique("durable")}
        first = self.call("POST", KEYS_CREATE, body=body, headers=ik)
        self.assertEqual(first.status, 200, first)
        secret = first.json()["key_secret"]
        self.server.stop(keep_data=True)
        # Secrets are shown once and never written to disk, idempotency records included.
        for name in os.listdir(self.server.data_dir):
            if name.startswith("tally.db"):
                with open(os.path.join(self.server.data_dir, name), "rb") as f:
                    self.assertNotIn(secret.encode(), f.read(), name)
        self.server.start()
        again = self.call("POST", KEYS_CREATE, body=body, headers=ik)
        self.assertEqual(again.status, 200, again)
        self.assertEqual(again.headers.get("idempotent-replayed"), "true")
        # After a restart the replay is the stored record: same key, secret redacted.
        replay = again.json()
        self.assertEqual(replay["key_id"], first.json()["key_id"])
        self.assertIsNone(replay["key_secret"])
        self.assertIs(replay["secret_redacted"], True)
        self.assertEqual({k: v for k, v in replay.items() if k not in ("key_secret", "secret_redacted")},
                         {k: v for k, v in first.json().items() if k != "key_secret"})
        names = [k["name"] for k in self.keys_of("default")]
        self.assertEqual(names.count(body["name"]), 1)
        self.assert_error(self.call("POST", KEYS_CREATE, body={"name": "other"}, headers=ik),
                          422, "idempotency_key_reused")


# ---------------------------------------------------------------------------
# 6. Bad input on the account routes.

class AccountBadInput(AuthTestCase):

    @classmethod
    def setUpServer(cls) -> None:
        cls.project = cls.ok("POST", PROJECTS_CREATE, body={"name": unique("bad")})["id"]
        cls.key_id = cls.api_key(project_id=cls.project)["key_id"]

    def key_count(self) -> int:
        return len(self.ok("GET", f"{KEYS_LIST}?project_id={self.project}&limit=1000")["items"])

    def test_not_json(self):
        before = self.key_count()
        for raw in (b"{oops", b"[1, 2]", b"\"name\"", b"\xff\xfe{}", b"{\"name\": \"a\",}"):
            with self.subTest(body=raw):
                r = self.call("POST", KEYS_CREATE, body=raw)
                self.assert_error(r, 400, "invalid_request", param="body")
        r = self.call("POST", KEYS_CREATE, body=b"name=x",
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assert_error(r, 415, "unsupported_media_type")
        self.assertEqual(self.key_count(), before)

    def test_wrong_types_name_the_param(self):
        kid, pid = self.key_id, self.project
        cases = [
            ("POST", KEYS_CREATE, {"project_id": pid, "name": 5}, "name"),
            ("POST", KEYS_CREATE, {"project_id": pid, "scopes": "x"}, "scopes"),
            ("POST", KEYS_CREATE, {"project_id": pid, "scopes": [1]}, "scopes[0]"),
            ("POST", KEYS_CREATE, {"project_id": 7}, "project_id"),
            ("POST", KEYS_CREATE, {"project_id": pid, "name": "x" * 129}, "name"),
            ("POST", f"/v1/account/keys/rotate/{kid}", {"grace_hours": 500}, "grace_hours"),
            ("POST", f"/v1/account/keys/rotate/{kid}", {"grace_hours": -1}, "grace_hours"),
            ("POST", f"/v1/account/keys/rotate/{kid}", {"grace_hours": "24"}, "grace_hours"),
            ("POST", f"/v1/account/keys/suspected_compromise/{kid}", {"confirmed_leak": "yes"},
             "confirmed_leak"),
            ("PATCH", f"/v1/account/keys/update/{kid}", {"scopes": {"a": 1}}, "scopes"),
            ("PATCH", f"/v1/account/projects/update/{pid}", {"rate_limit_rpm": -1},
             "rate_limit_rpm"),
            ("PATCH", f"/v1/account/projects/update/{pid}", {"rate_limit_rpm": 1.5},
             "rate_limit_rpm"),
            ("POST", PROJECTS_CREATE, {"name": "x", "metadata": []}, "metadata"),
            ("POST", PROJECTS_CREATE, {"name": ""}, "name"),
            ("POST", PROJECTS_CREATE, {}, "name"),
            ("POST", "/v1/account/members/invite", {"email": 5, "role": "admin"}, "email"),
            ("POST", "/v1/account/members/invite", {"email": "a@b.io"}, "role"),
        ]
        before = self.key_count()
        for method, path, body, param in cases:
            with self.subTest(path=path, body=body):
                r = self.call(method, path, body=body)
                err = self.assert_error(r, 400, "invalid_request", param=param)
                self.assertIn(param.split("[")[0], err["message"])
        self.assertEqual(self.key_count(), before)
        # Nothing changed on the key or the project.
        self.assertEqual(self.ok("GET", f"/v1/account/projects/get/{pid}")["rate_limit_rpm"],
                         None)

    def test_unknown_field_is_named(self):
        for path, body, field in ((KEYS_CREATE, {"nmae": "x"}, "nmae"),
                                  (PROJECTS_CREATE, {"name": "x", "color": "red"}, "color"),
                                  (f"/v1/account/keys/rotate/{self.key_id}", {"grace": 1},
                                   "grace")):
            with self.subTest(path=path):
                err = self.assert_error(self.call("POST", path, body=body), 400,
                                        "invalid_request", param=field)
                self.assertIn(field, err["message"])

    def test_unknown_scope(self):
        err = self.assert_error(self.call("POST", KEYS_CREATE, body={
            "project_id": self.project, "scopes": ["metrics:write", "metrics:delete"]}),
            400, "invalid_request", param="scopes[1]")
        self.assertIn("metrics:delete", err["message"])
        self.assert_error(self.call("POST", PROJECTS_CREATE,
                                    body={"name": "x", "scopes": ["root"]}),
                          400, "invalid_request", param="scopes[0]")
        self.assert_error(self.call("PATCH", f"/v1/account/keys/update/{self.key_id}",
                                    body={"scopes": ["everything"]}),
                          400, "invalid_request", param="scopes[0]")

    def test_granting_a_scope_the_caller_lacks_is_forbidden(self):
        limited = self.api_key(scopes=["account:admin", "metrics:read"])["key_secret"]
        before = self.key_count()
        for scopes, param in ((["metrics:write"], "scopes[0]"),
                              (["metrics:read", "billing:admin"], "scopes[1]"),
                              ([], "scopes")):
            with self.subTest(scopes=scopes):
                r = self.call("POST", KEYS_CREATE, limited,
                              {"project_id": self.project, "scopes": scopes})
                self.assert_error(r, 403, "forbidden", param=param)
        r = self.call("PATCH", f"/v1/account/keys/update/{self.key_id}", limited,
                      {"scopes": ["events:write"]})
        self.assert_error(r, 403, "forbidden", param="scopes[0]")
        self.assertEqual(self.key_count(), before)
        ok = self.call("POST", KEYS_CREATE, limited,
                       {"project_id": self.project, "scopes": ["metrics:read"]})
        self.assertEqual(ok.status, 200, ok)


    def test_a_key_cannot_take_over_a_stronger_key(self):
        # Rotating or replacing a key hands its new secret to the caller: like
        # granting scopes, that must not give the caller scopes it lacks.
        limited = self.api_key(scopes=["account:admin", "metrics:read"])["key_secret"]
        strong = self.api_key(project_id=self.project)  # all scopes
        kid = strong["key_id"]
        attempts = (("POST", f"/v1/account/keys/rotate/{kid}", {"grace_hours": 0}),
                    ("POST", f"/v1/account/keys/suspected_compromise/{kid}",
                     {"auto_rotate": True}),
                    ("POST", f"/v1/account/keys/suspected_compromise/{kid}",
                     {"confirmed_leak": True, "auto_rotate": True}))
        for method, path, body in attempts:
            with self.subTest(path=path, body=body):
                r = self.call(method, path, limited, body)
                self.assert_error(r, 403, "forbidden")
                self.assertNotIn(b"tly_", r.body)
        self.assertEqual(self.whoami(strong["key_secret"]).status, 200, "left untouched")
        items = self.ok("GET", f"{KEYS_LIST}?project_id={self.project}&limit=1000")["items"]
        item = [k for k in items if k["key_id"] == kid][0]
        self.assertEqual((item["status"], item["prefix"]), ("active", strong["prefix"]))
        # What hands out no secret, or no more than the caller holds, is allowed.
        weak = self.api_key(project_id=self.project, scopes=["metrics:read"])
        r = self.call("POST", f"/v1/account/keys/rotate/{weak['key_id']}", limited, {})
        self.assertEqual(r.status, 200, r)
        r = self.call("POST", f"/v1/account/keys/suspected_compromise/{kid}", limited, {})
        self.assertEqual((r.status, r.json()["status"]), (200, "suspected_compromise"))
        r = self.call("DELETE", f"/v1/account/keys/revoke/{kid}", limited)
        self.assertEqual(r.status, 200, r)


class LastUsedSurvivesCacheInvalidation(AuthTestCase):
    """last_used_at of a key used just before it was revoked, updated or its project
    changed: the in-memory mark must reach the database (an operator checks it
    after a leak)."""

    CONFIG = """
auth:
  usage_flush_interval: 1h
"""

    def test_marks_of_invalidated_keys_are_flushed(self):
        project = self.ok("POST", PROJECTS_CREATE, body={"name": unique("lu")})["id"]
        keys = {what: self.api_key(project_id=project)
                for what in ("revoked", "renamed", "project changed")}
        keys["untouched"] = self.api_key()  # project default: its cache entry stays
        for k in keys.values():
            self.assertEqual(self.whoami(k["key_secret"]).status, 200)
        self.ok("DELETE", f"/v1/account/keys/revoke/{keys['revoked']['key_id']}")
        self.ok("PATCH", f"/v1/account/keys/update/{keys['renamed']['key_id']}",
                body={"name": "renamed"})
        self.ok("PATCH", f"/v1/account/projects/update/{project}", body={"rate_limit_rpm": 500})
        self.server.stop(keep_data=True)  # a graceful stop flushes
        self.server.start()
        items = {k["key_id"]: k for k in self.ok("GET", f"{KEYS_LIST}?limit=1000")["items"]}
        for what, k in keys.items():
            with self.subTest(key=what):
                self.assertIsNotNone(items[k["key_id"]]["last_used_at"], items[k["key_id"]])


# ---------------------------------------------------------------------------
# 7. The control database survives kill -9.

class ControlDbCrash(DumpLogsOnFailure):

    def setUp(self) -> None:
        self.server = TallyServer(name="ControlDbCrash").start()

    def tearDown(self) -> None:
        if self.server.alive():
            self.server.stop()
        else:
            self.server.cleanup()

    def on_failure(self) -> None:
        self.server.dump_log(f"{self.id()} failed")

    def integrity_check(self, path: str) -> str:
        if shutil.which("sqlite3"):
            out = subprocess.run(["sqlite3", path, "PRAGMA integrity_check"],
                                 capture_output=True, text=True, timeout=60)
            self.assertEqual(out.returncode, 0, out.stderr)
            return out.stdout.strip()
        with sqlite3.connect(path) as db:
            return "\n".join(row[0] for row in db.execute("PRAGMA integrity_check"))

    def test_kill9_while_creating_keys(self):
        created: list[tuple[str, str]] = []
        stop = threading.Event()

        def create_loop() -> None:
            while not stop.is_set():
                try:
                    r = self.server.post_json(KEYS_CREATE, {"name": unique("crash")}, timeout=5)
                except OSError:
                    return  # the server is gone
                if r.status == 200:
                    doc = r.json()
                    created.append((doc["key_id"], doc["key_secret"]))

        threads = [threading.Thread(target=create_loop) for _ in range(3)]
        for t in threads:
            t.start()
        try:
            wait_until(lambda: len(created) >= 30, 30, "30 keys to be created")
            self.server.kill9()
        finally:
            stop.set()
            for t in threads:
                t.join(30)
        acknowledged = list(created)
        self.server.start()
        for key_id, secret in acknowledged:
            r = self.server.get(WHOAMI, headers=self.server.auth(secret))
            self.assertEqual(r.status, 200, f"{key_id}: {r!r}")
            self.assertEqual(r.json()["key_id"], key_id)
        listed = {k["key_id"] for k in self.server.get(KEYS_LIST + "?limit=1000").json()["items"]}
        self.assertLessEqual({k for k, _ in acknowledged}, listed)
        self.assertEqual(self.integrity_check(os.path.join(self.server.data_dir, "tally.db")),
                         "ok")


if __name__ == "__main__":
    unittest.main()
