"""API keys: never stored or logged raw, shown once, revoked everywhere, client keys see little.

- Keys are made through the API and through the CLI (``ff keys create``, a real process),
  then used on every kind of route; the raw DynamoDB table is scanned afterwards and no
  item holds any raw key, nor the secret part after its displayed prefix. All log output
  of the API while this happens (ff's formatter on the root logger at DEBUG, with
  uvicorn's own access log switched on as well) and of the CLI is captured: no raw key.
- A key's raw value is in its creation response only: lists, revocation and the CLI's
  list never show it again.
- A key revoked through one replica is refused by both replicas within the poll interval,
  though both had it cached. (tests/api/test_browser_stream.py: tokens minted by a
  revoked key are refused too.)
- A client key gets evaluated values of ``client_visible`` flags and nothing else: no
  rule, target, segment, salt or other flag on any route that takes it. (Every server and
  management route refusing it: tests/security/test_isolation.py.)
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator

import boto3
import httpx
import pytest

from ff_api import create_app
from ff_core import logs
from tests.api.conftest import SECRET, AppThread, ServerThread
from tests.api.sse import open_stream
from tests.security.conftest import World

P = "/api/v1/projects/demo"
CLIENT_VISIBLE = {"new-checkout", "banner-text"}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


class LoggedServer:
    """The API under uvicorn with ff's log formatter on the root logger, uvicorn's access
    log switched on, everything at DEBUG (botocore kept at WARNING, as ``ff api`` does:
    its DEBUG lines are request dumps, and keys never reach the store raw anyway)."""

    def __init__(self, world: World) -> None:
        self.output = io.StringIO()
        self.handler = logging.StreamHandler(self.output)
        self.handler.setFormatter(logs.JsonFormatter())
        self.served = AppThread(
            create_app(world.settings), log_config=None, log_level="debug", access_log=True
        )

    def __enter__(self) -> str:
        root = logging.getLogger()
        self.levels = {n: logging.getLogger(n).level for n in ("", "botocore", "aiobotocore")}
        root.addHandler(self.handler)
        # uvicorn's access logger does not propagate (its own config): give it ours too.
        logging.getLogger("uvicorn.access").addHandler(self.handler)
        root.setLevel(logging.DEBUG)
        logging.getLogger("botocore").setLevel(logging.WARNING)
        logging.getLogger("aiobotocore").setLevel(logging.WARNING)
        return self.served.start()

    def __exit__(self, *exc: object) -> None:
        self.served.stop()
        logging.getLogger().removeHandler(self.handler)
        for name, level in self.levels.items():
            logging.getLogger(name).setLevel(level)
        logging.getLogger("uvicorn.access").removeHandler(self.handler)


def cli(world: World, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "FF_DYNAMODB_ENDPOINT": world.settings.dynamodb_endpoint or "",
        "FF_TABLE": world.settings.table,
        "FF_KEY_SECRET": SECRET,
        "FF_DEFAULT_PROJECT": "demo",
        "FF_LOG_LEVEL": "DEBUG",
        "FF_ACTOR": "security-test",
    }
    done = subprocess.run(
        [sys.executable, "-m", "ff_core", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done


def scan(world: World) -> list[str]:
    """Every item of the table, each as its JSON text."""
    client = boto3.client(
        "dynamodb",
        endpoint_url=world.settings.dynamodb_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    items: list[str] = []
    for page in client.get_paginator("scan").paginate(TableName=world.settings.table):
        items += [json.dumps(item) for item in page["Items"]]
    return items


def leaks(raw: str, texts: list[str]) -> list[str]:
    """The texts holding the raw key, or the secret part that follows its displayed prefix."""
    secret = raw[12:]
    return [t[:200] for t in texts if raw in t or secret in t]


@pytest.fixture
async def client(world: World) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=world.url, timeout=10) as plain:
        yield plain


@pytest.fixture
def logged(world: World) -> Iterator[tuple[str, LoggedServer]]:
    server = LoggedServer(world)
    with server as url:
        yield url, server


async def use_everywhere(http: httpx.AsyncClient, raw: dict[str, str]) -> None:
    """Each key on the routes it takes, and on some it does not (refusals get logged too)."""
    context = {"context": {"targetingKey": "u1"}}
    for key in (raw["server"], raw["client"]):
        assert (await http.post("/api/v1/evaluate", json=context, headers=bearer(key))).is_success
        ofrep = await http.post("/ofrep/v1/evaluate/flags", json=context, headers=bearer(key))
        assert ofrep.is_success
        token = await http.post("/api/v1/stream-tokens", json=context, headers=bearer(key))
        async with open_stream(http, token.json()["url"], {}) as stream:
            await stream.next()
    assert (await http.get("/api/v1/sdk/flags", headers=bearer(raw["server"]))).is_success
    async with open_stream(http, f"/api/v1/browser/stream?key={raw['client']}", {}) as stream:
        await stream.next()
    assert (await http.get(f"{P}/flags", headers=bearer(raw["admin"]))).is_success
    for key in raw.values():  # refused: wrong kind, or a management route
        await http.get(f"{P}/keys", headers={"X-API-Key": key})
        await http.get("/api/v1/sdk/flags", params={"key": key}, headers=bearer(key + "x"))


async def test_keys__made_by_api_and_cli_and_used__never_stored_or_logged_raw(
    client: httpx.AsyncClient, world: World, logged: tuple[str, LoggedServer]
) -> None:
    url, server = logged
    owner = bearer(world.demo.admin)
    made: dict[str, str] = {}
    async with httpx.AsyncClient(base_url=url, timeout=10) as http:
        for kind, extra in (
            ("server", {"environment": "production"}),
            ("client", {"environment": "production"}),
            ("admin", {"role": "editor"}),
        ):
            body = {"kind": kind, "name": f"api-{kind}", **extra}
            created = await http.post(f"{P}/keys", json=body, headers=owner)
            assert created.status_code == 201, created.text
            made[kind] = created.json()["raw_key"]
        by_cli = await asyncio.to_thread(
            cli,
            world,
            "keys",
            "create",
            "--kind",
            "server",
            "--name",
            "cli",
            "-e",
            "production",
            "--json",
        )
        cli_raw = json.loads(by_cli.stdout)["key"]
        await use_everywhere(http, made)
        await use_everywhere(http, {**made, "server": cli_raw})
    logged_text = server.output.getvalue()
    everyone = [*made.values(), cli_raw, world.demo.server, world.demo.client, world.demo.admin]
    items = scan(world)

    assert '"logger":"ff.access"' in logged_text  # both access logs were captured
    assert '"logger":"uvicorn.access"' in logged_text
    assert len(items) > 20
    for raw in everyone:
        assert leaks(raw, items) == [], "a raw key is stored"
        assert leaks(raw, logged_text.splitlines()) == [], "a raw key is logged"
        assert leaks(raw, by_cli.stderr.splitlines()) == [], "the CLI logged a raw key"


async def test_keys__raw_key_shown_once__never_in_a_later_read(
    client: httpx.AsyncClient, world: World
) -> None:
    owner = bearer(world.demo.admin)
    created = await client.post(
        f"{P}/keys",
        json={"kind": "server", "name": "once", "environment": "staging"},
        headers=owner,
    )
    raw, key_id = created.json()["raw_key"], created.json()["key"]["id"]

    reads = [
        await client.get(f"{P}/keys", headers=owner),
        await client.delete(f"{P}/keys/{key_id}", headers=owner),
        await client.get(f"{P}/keys", headers=owner),
    ]
    listed = await asyncio.to_thread(cli, world, "keys", "list", "--json")

    assert created.status_code == 201
    assert created.headers.get("cache-control") in (None, "no-store")
    assert [r.status_code for r in reads] == [200, 200, 200]
    for text in [r.text for r in reads] + [listed.stdout]:
        assert leaks(raw, [text]) == []
        assert raw[:12] in text  # the prefix identifies it


async def test_keys__revoked_through_one_replica__refused_by_both_within_poll_interval(
    world: World,
) -> None:
    a, b = ServerThread(world.settings), ServerThread(world.settings)
    urls = [a.start(), b.start()]
    try:
        async with httpx.AsyncClient(timeout=10) as http:
            created = await http.post(
                f"{urls[0]}{P}/keys",
                json={"kind": "client", "name": "doomed", "environment": "production"},
                headers=bearer(world.demo.admin),
            )
            raw, key_id = created.json()["raw_key"], created.json()["key"]["id"]

            async def status(url: str) -> int:
                response = await http.post(f"{url}/api/v1/evaluate", json={}, headers=bearer(raw))
                return response.status_code

            before = [await status(u) for u in urls]  # both now hold it in their cache
            revoked = await http.delete(
                f"{urls[0]}{P}/keys/{key_id}", headers=bearer(world.demo.admin)
            )
            deadline = time.monotonic() + world.settings.poll_interval_s + 1
            after = [await status(u) for u in urls]
            while after != [401, 401] and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
                after = [await status(u) for u in urls]
    finally:
        a.stop()
        b.stop()

    assert before == [200, 200]
    assert revoked.status_code == 200
    assert after == [401, 401]


# -- client keys: evaluated values of client-visible flags, nothing else -----------------------

# What definitions hold and evaluations must not: rule and clause fields, the salt, target
# and segment members of the seeded flags, and the other environments' names.
DEFINITION_MARKERS = ('"rules"', '"clauses"', '"salt"', '"targets"', "alice", "carol", "staging")


async def test_client_key__every_route_it_takes__only_evaluated_client_visible_values(
    client: httpx.AsyncClient, world: World
) -> None:
    key = bearer(world.demo.client)
    context = {"context": {"targetingKey": "dave", "email": "dave@example.com"}}

    bulk = await client.post("/api/v1/evaluate", json=context, headers=key)
    asked = await client.post(
        "/api/v1/evaluate", json={**context, "flags": ["legacy-mode", "new-checkout"]}, headers=key
    )
    ofrep = await client.post("/ofrep/v1/evaluate/flags", json=context, headers=key)
    hidden_ofrep = await client.post(
        "/ofrep/v1/evaluate/flags/legacy-mode", json=context, headers=key
    )
    missing_ofrep = await client.post("/ofrep/v1/evaluate/flags/no-such", json=context, headers=key)
    hidden_one = await client.get("/api/v1/flags/legacy-mode/evaluate", headers=key)
    async with open_stream(client, f"/api/v1/browser/stream?key={world.demo.client}", {}) as s:
        snapshot = await s.next()

    assert set(bulk.json()["flags"]) == CLIENT_VISIBLE
    assert asked.json()["flags"]["legacy-mode"]["error_code"] == "FLAG_NOT_FOUND"
    assert {f["key"] for f in ofrep.json()["flags"]} == CLIENT_VISIBLE
    # A hidden flag answers exactly as a missing one.
    assert hidden_ofrep.status_code == missing_ofrep.status_code == 404
    assert hidden_ofrep.json()["errorCode"] == missing_ofrep.json()["errorCode"]
    assert hidden_one.status_code == 404
    assert set(snapshot.data["flags"]) == CLIENT_VISIBLE
    for values in snapshot.data["flags"].values():
        assert set(values) <= {"value", "variant", "reason", "error_code"}
    for response in (bulk, asked, ofrep, hidden_ofrep, hidden_one):
        for marker in DEFINITION_MARKERS:
            assert marker not in response.text, (marker, response.text[:300])
    assert not any(m in json.dumps(snapshot.data) for m in DEFINITION_MARKERS)
