"""The browser stream, stream tokens, OFREP's eventStreams, CORS and /sdk/ff.js, over HTTP."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from ff_api import ApiSettings
from ff_api.errors import BadRequest
from ff_api.routes.browser import OFREP_TOKEN_WINDOW_S, Values, diff, token_ttl
from ff_core import tokens
from tests.api.conftest import ADMIN, SECRET, Seeded, ServerThread
from tests.api.sse import Event, open_stream

STREAM = "/api/v1/browser/stream"
PRO_IN_US = {"targetingKey": "alice", "country": "US", "plan": "pro"}
CLIENT_VISIBLE = {"banner-text", "new-checkout"}
# Words of flag definitions that must never reach a browser.
DEFINITION_WORDS = ("rules", "clauses", "na-pro", "fallthrough", "environments", "segments")


def keyed(key: str, context: dict[str, Any] | None = None, **extra: str) -> str:
    query = {"key": key, "context": json.dumps(context or {}), **extra}
    return f"{STREAM}?{urlencode(query)}"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def assert_values_only(event: Event) -> None:
    text = json.dumps(event.data)
    assert not [w for w in DEFINITION_WORDS if w in text], text
    for flag in event.data.get("flags", {}).values():
        assert set(flag) <= {"value", "variant", "reason", "error_code"}


async def key_id(seeded: Seeded, raw: str) -> str:
    listed = await seeded.services.access.list_keys("demo")
    return next(k.id for k in listed if raw.startswith(k.prefix))


async def mint(
    http: httpx.AsyncClient, key: str, body: dict[str, Any] | None = None
) -> httpx.Response:
    return await http.post("/api/v1/stream-tokens", json=body or {}, headers=bearer(key))


async def connect(
    http: httpx.AsyncClient, url: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    """Only the answer to a connect: a refusal's body, or a stream's headers (then closed)."""
    async with http.stream("GET", url, headers=headers or {}) as response:
        if response.status_code != 200:
            await response.aread()
        return response


async def applied(http: httpx.AsyncClient, seeded: Seeded, seq: int) -> None:
    """Wait until the API has applied change ``seq`` (its SDK ETag names the sequence)."""
    deadline = time.monotonic() + 10
    while True:
        response = await http.get("/api/v1/sdk/flags", headers=bearer(seeded.server_key))
        if int(response.headers["etag"].strip('"').rsplit(".", 1)[1]) >= seq:
            return
        assert time.monotonic() < deadline, f"change {seq} was never applied"
        await asyncio.sleep(0.05)


# -- pure helpers -------------------------------------------------------------------------------


def test_diff__changed_added_and_removed__only_those() -> None:
    before: Values = {"a": {"value": 1}, "b": {"value": 2}, "gone": {"value": 3}}
    after: Values = {"a": {"value": 1}, "b": {"value": 5}, "new": {"value": True}}

    assert diff(before, after) == ({"b": {"value": 5}, "new": {"value": True}}, ["gone"])


@pytest.mark.parametrize("bad", [0, -5, 3601, "60", True, [60]])
def test_token_ttl__out_of_range_or_not_a_number__names_ttl_s(bad: object) -> None:
    with pytest.raises(BadRequest) as raised:
        token_ttl(bad)

    assert raised.value.details == {"field": "ttl_s"}


# -- connecting ---------------------------------------------------------------------------------


async def test_browser_stream__client_key_in_query__client_visible_values_for_the_context(
    http: httpx.AsyncClient, seeded: Seeded
) -> None:
    async with open_stream(http, keyed(seeded.client_key, PRO_IN_US), {}) as stream:
        assert stream.response.headers["content-type"].startswith("text/event-stream")
        snapshot = await stream.next()

    assert snapshot.event == "snapshot"
    assert snapshot.id == str(snapshot.data["seq"])
    assert snapshot.data["environment"] == "production"
    flags = snapshot.data["flags"]
    assert set(flags) == CLIENT_VISIBLE  # never search.max-results, legacy-mode, ...
    assert flags["new-checkout"] == {"value": True, "variant": "on", "reason": "TARGETING_MATCH"}
    assert flags["banner-text"]["value"] == "Good to see you again!"  # alice is a target
    assert_values_only(snapshot)


async def test_stream_token__minted_by_server_key__url_streams_that_context(
    http: httpx.AsyncClient, seeded: Seeded, api_url: str
) -> None:
    before = time.time()
    minted = await mint(http, seeded.server_key, {"context": {"targetingKey": "bob"}})
    body = minted.json()
    async with open_stream(http, body["url"], {}) as stream:
        snapshot = await stream.next()
    # The browser cannot swap its targeting attributes for others.
    swapped = await connect(http, body["url"] + "&" + urlencode({"context": json.dumps(PRO_IN_US)}))

    assert minted.status_code == 200
    assert minted.headers["cache-control"] == "no-store"
    assert body["url"].startswith(f"{api_url}{STREAM}?token=")
    expires = datetime.fromisoformat(body["expires_at"]).timestamp()
    assert before + 590 <= expires <= time.time() + 610  # the default lifetime: 10 minutes
    assert set(snapshot.data["flags"]) == CLIENT_VISIBLE
    assert snapshot.data["flags"]["banner-text"]["value"] == "Good to see you again!"  # bob
    assert snapshot.data["flags"]["new-checkout"]["reason"] in {"SPLIT", "DEFAULT"}
    assert_values_only(snapshot)
    assert swapped.status_code == 400
    assert swapped.json()["field"] == "token"


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"ttl_s": 0}, 400, "ttl_s"),
        ({"ttl_s": 7200}, 400, "ttl_s"),
        ({"ttl_s": "600"}, 400, "ttl_s"),
        ({"ttl": 60}, 400, "ttl"),
        ({"context": ["not", "an", "object"]}, 400, "context"),
        ({"context": {"blob": "x" * 40_000}}, 413, None),
        ({"context": {"blob": "x" * 5_000}}, 413, None),  # fits a request, not a URL
    ],
)
async def test_stream_token__bad_request__4xx_naming_the_problem(
    http: httpx.AsyncClient, seeded: Seeded, body: dict[str, Any], status: int, field: str | None
) -> None:
    response = await mint(http, seeded.server_key, body)

    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json().get("field") == field
    assert "Traceback" not in response.text


async def test_stream_token__admin_key_or_none__refused(
    http: httpx.AsyncClient, seeded: Seeded
) -> None:
    admin = await mint(http, seeded.admin_key)
    anonymous = await http.post("/api/v1/stream-tokens", json={})

    assert admin.status_code == 403
    assert anonymous.status_code == 401


@pytest.mark.parametrize("which", ["server_key", "admin_key"])
async def test_browser_stream__secret_key_in_query__403_never_streams(
    http: httpx.AsyncClient, seeded: Seeded, which: str
) -> None:
    response = await connect(http, keyed(getattr(seeded, which)))

    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert "never be put in a URL" in response.json()["message"]


async def test_browser_stream__server_key_as_header__client_visible_values_only(
    http: httpx.AsyncClient, seeded: Seeded
) -> None:
    url = f"{STREAM}?{urlencode({'context': json.dumps(PRO_IN_US)})}"
    async with open_stream(http, url, bearer(seeded.server_key)) as stream:
        snapshot = await stream.next()

    assert set(snapshot.data["flags"]) == CLIENT_VISIBLE
    assert snapshot.data["flags"]["new-checkout"]["value"] is True


async def test_browser_stream__no_credentials__401_saying_what_to_send(
    http: httpx.AsyncClient,
) -> None:
    response = await connect(http, STREAM)

    assert response.status_code == 401
    assert "?token=" in response.json()["message"]


def expired_token() -> str:
    claims = {"prj": "demo", "env": "production", "kid": "x", "knd": "client", "ctx": {}}
    return tokens.issue(SECRET.encode(), tokens.Audience.STREAM, claims, 60, now=time.time() - 3600)


def session_token() -> str:
    return tokens.issue(SECRET.encode(), tokens.Audience.SESSION, {"email": "a@b.c"}, 60)


def tampered(token: str) -> str:
    head, payload, signature = token.split(".")
    return ".".join([head, payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB"), signature])


@pytest.mark.parametrize(
    "make",
    [
        lambda good: "not-a-token",
        lambda good: tampered(good),
        lambda good: expired_token(),
        lambda good: session_token(),
    ],
    ids=["garbage", "tampered", "expired", "other-audience"],
)
async def test_browser_stream__invalid_token__401_json(
    http: httpx.AsyncClient, seeded: Seeded, make: Any
) -> None:
    good = (await mint(http, seeded.client_key)).json()["token"]

    response = await connect(http, f"{STREAM}?{urlencode({'token': make(good)})}")

    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "unauthorized"


async def test_browser_stream__revoked_key__key_and_its_tokens_refused(
    http: httpx.AsyncClient, seeded: Seeded
) -> None:
    token = (await mint(http, seeded.client_key)).json()["token"]
    by_token_url = f"{STREAM}?{urlencode({'token': token})}"
    working = await connect(http, by_token_url)

    await seeded.services.access.revoke_key(ADMIN, "demo", await key_id(seeded, seeded.client_key))
    by_token = await connect(http, by_token_url)
    deadline = time.monotonic() + 10  # key lookups are cached for one poll interval (0.2 s)
    while (by_key := await connect(http, keyed(seeded.client_key))).status_code == 200:
        assert time.monotonic() < deadline, "the revoked key still streams"

    assert working.status_code == 200
    assert by_token.status_code == 401
    assert "revoked" in by_token.json()["message"]
    assert by_key.status_code == 401


@pytest.mark.parametrize(
    ("query", "status"),
    [({"context": "{not json"}, 400), ({"context": "[1]"}, 400)],
)
async def test_browser_stream__bad_context__400_naming_context(
    http: httpx.AsyncClient, seeded: Seeded, query: dict[str, str], status: int
) -> None:
    response = await connect(http, f"{STREAM}?{urlencode({'key': seeded.client_key, **query})}")

    assert response.status_code == status
    assert response.json()["field"] == "context"


# -- changes and resume -------------------------------------------------------------------------


async def test_browser_stream__change__value_change_then_refetch_message(
    http: httpx.AsyncClient, seeded: Seeded
) -> None:
    flags = seeded.services.flags
    async with open_stream(http, keyed(seeded.client_key, PRO_IN_US), {}) as stream:
        seq = int((await stream.next()).id or 0)
        # A flag browsers cannot see changes first: nothing is sent for it.
        await flags.set_enabled(ADMIN, "demo", "legacy-mode", "production", True)
        await applied(http, seeded, seq + 1)
        await flags.set_enabled(ADMIN, "demo", "new-checkout", "production", False)
        change = await stream.next()
        refetch = await stream.next()
        await flags.update_flag(ADMIN, "demo", "banner-text", {"client_visible": False})
        removal = await stream.next()

    assert (change.event, change.id) == ("change", str(seq + 2))
    assert change.data == {
        "seq": seq + 2,
        "flags": {"new-checkout": {"value": False, "variant": "off", "reason": "DISABLED"}},
        "removed": [],
    }
    assert (refetch.event, refetch.id) == ("message", str(seq + 2))
    assert refetch.data == {"type": "refetchEvaluation", "etag": str(seq + 2)}
    assert removal.event == "change"
    assert removal.data == {"seq": seq + 3, "flags": {}, "removed": ["banner-text"]}
    for event in (change, removal):
        assert_values_only(event)


async def test_browser_stream__resume_with_current_id__nothing_stale(
    http: httpx.AsyncClient, seeded: Seeded
) -> None:
    async with open_stream(http, keyed(seeded.client_key, PRO_IN_US), {}) as stream:
        seen = int((await stream.next()).id or 0)

    url = keyed(seeded.client_key, PRO_IN_US)
    async with open_stream(http, url, {"Last-Event-ID": str(seen)}) as stream:
        await seeded.services.flags.set_enabled(ADMIN, "demo", "new-checkout", "production", False)
        first = await stream.next()

    assert (first.event, first.id) == ("change", str(seen + 1))  # no snapshot came before it


@pytest.mark.parametrize("how", ["header", "query"])
async def test_browser_stream__resume_after_missed_changes__snapshot_of_now(
    http: httpx.AsyncClient, seeded: Seeded, how: str
) -> None:
    async with open_stream(http, keyed(seeded.client_key, PRO_IN_US), {}) as stream:
        seen = int((await stream.next()).id or 0)
    await seeded.services.flags.set_enabled(ADMIN, "demo", "new-checkout", "production", False)

    if how == "header":
        url, headers = keyed(seeded.client_key, PRO_IN_US), {"Last-Event-ID": str(seen)}
    else:
        url, headers = keyed(seeded.client_key, PRO_IN_US, last_event_id=str(seen)), {}
    deadline = time.monotonic() + 10
    while True:  # this replica applies the write within one poll interval
        async with open_stream(http, url, headers) as stream:
            first = await stream.next()
            if first.event == "snapshot":
                refetch = await stream.next()
                break
        assert time.monotonic() < deadline, "the missed change never arrived"

    assert first.id == str(seen + 1)
    assert first.data["flags"]["new-checkout"]["value"] is False
    assert refetch.data["type"] == "refetchEvaluation"


async def test_browser_stream__malformed_last_event_id__400(
    http: httpx.AsyncClient, seeded: Seeded
) -> None:
    response = await connect(http, keyed(seeded.client_key, last_event_id="abc"))

    assert response.status_code == 400


# -- OFREP ---------------------------------------------------------------------------------------


async def test_ofrep_bulk__event_streams__a_plain_get_streams_refetch_notifications(
    http: httpx.AsyncClient, seeded: Seeded, api_url: str
) -> None:
    request = {"context": PRO_IN_US}
    started = time.time()
    first = await http.post(
        "/ofrep/v1/evaluate/flags", json=request, headers=bearer(seeded.client_key)
    )
    again = await http.post(
        "/ofrep/v1/evaluate/flags", json=request, headers=bearer(seeded.client_key)
    )
    same_window = started // OFREP_TOKEN_WINDOW_S == time.time() // OFREP_TOKEN_WINDOW_S
    streams = first.json()["eventStreams"]
    # What an EventSource sends: no credentials besides the URL.
    async with open_stream(http, streams[0]["url"], {"Accept": "text/event-stream"}) as stream:
        snapshot = await stream.next()
        await seeded.services.flags.set_enabled(ADMIN, "demo", "new-checkout", "production", False)
        notification = await stream.next(wait_s=10)
        while notification.event != "message":
            notification = await stream.next(wait_s=10)
    refetched = await http.post(
        "/ofrep/v1/evaluate/flags",
        params={"flagConfigEtag": notification.data["etag"]},
        json=request,
        headers={**bearer(seeded.client_key), "If-None-Match": first.headers["etag"]},
    )

    assert streams == [{"type": "sse", "url": streams[0]["url"], "inactivityDelaySec": 120}]
    assert streams[0]["url"].startswith(f"{api_url}{STREAM}?token=")
    if same_window:  # the provider keeps its connection while the URL stays the same
        assert again.json()["eventStreams"] == streams
    assert snapshot.data["flags"]["new-checkout"]["value"] is True
    assert notification.data["type"] == "refetchEvaluation"
    assert refetched.status_code == 200
    values = {f["key"]: f["value"] for f in refetched.json()["flags"]}
    assert values["new-checkout"] is False


# -- CORS and the browser module ------------------------------------------------------------------

ORIGIN = "https://app.example"


@pytest.fixture
async def cors_http(seeded: Seeded) -> AsyncIterator[httpx.AsyncClient]:
    settings = ApiSettings(**{**seeded.settings.model_dump(), "cors_origins": [ORIGIN]})
    running = ServerThread(settings)
    url = running.start()
    try:
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            yield client
    finally:
        running.stop()


async def test_cors__allowed_origin__preflight_and_stream_without_credentials(
    cors_http: httpx.AsyncClient, seeded: Seeded
) -> None:
    preflight = await cors_http.options(
        "/api/v1/stream-tokens",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    async with open_stream(cors_http, keyed(seeded.client_key), {"Origin": ORIGIN}) as stream:
        streamed = stream.response.headers
        await stream.next()
    ofrep = await cors_http.post(
        "/ofrep/v1/evaluate/flags",
        json={"context": {}},
        headers={**bearer(seeded.client_key), "Origin": ORIGIN},
    )
    stranger = await connect(
        cors_http, keyed(seeded.client_key), {"Origin": "https://evil.example"}
    )

    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == ORIGIN
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
    for headers in (preflight.headers, streamed, ofrep.headers):
        assert "access-control-allow-credentials" not in headers
    assert streamed["access-control-allow-origin"] == ORIGIN
    assert ofrep.headers["access-control-allow-origin"] == ORIGIN
    assert "etag" in ofrep.headers["access-control-expose-headers"].lower()
    assert "access-control-allow-origin" not in stranger.headers


async def test_sdk_ff_js__served__module_with_cache_headers_and_304(
    http: httpx.AsyncClient,
) -> None:
    script = await http.get("/sdk/ff.js", headers={"Origin": "https://any.example"})
    cached = await http.get("/sdk/ff.js", headers={"If-None-Match": script.headers["etag"]})
    page = await http.get("/sdk/example")

    assert script.status_code == 200
    assert script.headers["content-type"] == "text/javascript; charset=utf-8"
    assert script.headers["cache-control"] == "public, max-age=300"
    assert script.headers["access-control-allow-origin"] == "*"
    assert "export function connect" in script.text
    assert cached.status_code == 304
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert 'from "./ff.js"' in page.text


async def test_browser_stream__resume_from_a_replica_ahead__catches_up_sends_nothing_stale(
    seeded: Seeded,
) -> None:
    # This replica would not read the change log on its own for 30 s.
    settings = seeded.settings.model_copy(update={"poll_interval_s": 30.0, "sse_ping_s": 0.3})
    running = ServerThread(settings)
    url = keyed(seeded.client_key, PRO_IN_US)
    async with httpx.AsyncClient(base_url=running.start(), timeout=10) as http:
        try:
            async with open_stream(http, url, {}) as stream:
                seen = int((await stream.next()).id or 0)
            # Another replica applied this write and told the client about it.
            await seeded.services.flags.set_enabled(
                ADMIN, "demo", "new-checkout", "production", False
            )
            async with open_stream(http, url, {"Last-Event-ID": str(seen + 1)}) as stream:
                first = await stream.next(comments=True)
            async with open_stream(http, url, {}) as stream:
                fresh = await stream.next()
        finally:
            running.stop()

    assert first.comment  # a keep-alive: no snapshot of older values came first
    assert fresh.id == str(seen + 1)
    assert fresh.data["flags"]["new-checkout"]["value"] is False
