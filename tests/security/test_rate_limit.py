"""Rate limiting per key (issue 9, point 12): 429 with an integer Retry-After and a JSON
problem body; other keys unaffected; requests pass again once the bucket refills.

The bucket's arithmetic runs against an injected clock (no sleeps) through the real
middleware; the wiring runs against the real app under uvicorn over moto's server, with
a rate so slow that nothing refills while the test runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ff_api import ApiSettings
from ff_api.auth import raw_key
from ff_api.ratelimit import RateLimiter, RateLimitMiddleware, credentials
from tests.api.conftest import ServerThread
from tests.security.conftest import Keys, World, api_settings, seed_world

OFREP = "/ofrep/v1/evaluate/flags"
BURST = 3


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


async def _ok(request: Request) -> JSONResponse:
    return JSONResponse({"ok": True})


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def _client(limiter: RateLimiter | None) -> httpx.AsyncClient:
    app = Starlette(routes=[Route("/x", _ok, methods=["GET", "POST"])])
    app.add_middleware(RateLimitMiddleware, limiter=limiter)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


# -- the bucket, through the middleware, on an injected clock -------------------------------


async def test_limit__burst_spent__429_with_integer_retry_after_and_problem_body(
    clock: FakeClock,
) -> None:
    async with _client(RateLimiter(0.5, 2, clock=clock)) as client:
        assert [(await client.get("/x", headers=_bearer("k1"))).status_code for _ in "ab"] == [
            200,
            200,
        ]
        refused = await client.get("/x", headers=_bearer("k1"))
    assert refused.status_code == 429
    # One token at 0.5 per second is 2 s away: a whole number of seconds, never "1.9".
    assert refused.headers["Retry-After"] == "2"
    assert refused.headers["content-type"] == "application/problem+json"
    body = refused.json()
    assert body["status"] == 429
    assert body["code"] == "rate_limited"
    assert "per key" in body["message"]


async def test_limit__one_key_spent__another_key_unaffected(clock: FakeClock) -> None:
    async with _client(RateLimiter(1, 1, clock=clock)) as client:
        assert (await client.get("/x", headers=_bearer("noisy"))).status_code == 200
        assert (await client.get("/x", headers=_bearer("noisy"))).status_code == 429
        assert (await client.get("/x", headers={"X-API-Key": "quiet"})).status_code == 200
        assert (await client.get("/x", headers=_bearer("noisy"))).status_code == 429


async def test_limit__after_retry_after__passes_again(clock: FakeClock) -> None:
    async with _client(RateLimiter(0.25, 1, clock=clock)) as client:
        assert (await client.get("/x", headers=_bearer("k"))).status_code == 200
        refused = await client.get("/x", headers=_bearer("k"))
        assert refused.status_code == 429
        wait_s = int(refused.headers["Retry-After"])
        assert wait_s == 4
        clock.now += wait_s - 0.5
        assert (await client.get("/x", headers=_bearer("k"))).status_code == 429
        clock.now += 0.5
        assert (await client.get("/x", headers=_bearer("k"))).status_code == 200


async def test_limit__refused_requests__take_no_tokens(clock: FakeClock) -> None:
    """A client that keeps retrying early is not locked out for longer than it waited."""
    async with _client(RateLimiter(1, 1, clock=clock)) as client:
        assert (await client.get("/x", headers=_bearer("k"))).status_code == 200
        for _ in range(5):
            clock.now += 0.1
            assert (await client.get("/x", headers=_bearer("k"))).status_code == 429
        clock.now += 0.5
        assert (await client.get("/x", headers=_bearer("k"))).status_code == 200


async def test_limit__no_credential__not_limited(clock: FakeClock) -> None:
    async with _client(RateLimiter(1, 1, clock=clock)) as client:
        statuses = {(await client.get("/x")).status_code for _ in range(5)}
    assert statuses == {200}


async def test_limit__off__never_limits() -> None:
    assert RateLimiter.from_settings(ApiSettings(rate_limit_per_key_rps=0)) is None
    async with _client(None) as client:
        statuses = {(await client.get("/x", headers=_bearer("k"))).status_code for _ in range(50)}
    assert statuses == {200}


def test_limiter__default_settings__on() -> None:
    assert RateLimiter.from_settings(ApiSettings()) is not None


def test_limiter__bucket_table_full__refilled_buckets_forgotten_busy_ones_kept(
    clock: FakeClock,
) -> None:
    limiter = RateLimiter(1, 2, clock=clock, max_buckets=3)
    limiter.acquire(1)
    limiter.acquire(1)
    limiter.acquire(2)
    limiter.acquire(3)
    clock.now += 1.5  # the idle buckets refill to 2; busy has 1.5
    limiter.acquire(4)
    assert len(limiter) == 2  # busy and new
    assert limiter.acquire(1) == 0.0
    assert limiter.acquire(1) > 0  # its spent tokens were remembered


@pytest.mark.parametrize(
    ("headers", "query", "expected"),
    [
        ([(b"authorization", b"Bearer ffs_abc")], b"", {"ffs_abc"}),
        ([(b"authorization", b"bearer  ffs_abc ")], b"", {"ffs_abc"}),
        ([(b"x-api-key", b"ffc_xyz")], b"", {"ffc_xyz"}),
        ([], b"key=ffc_q&context=%7B%7D", {"ffc_q"}),
        ([], b"token=eyJ.a.b", {"eyJ.a.b"}),
        ([(b"cookie", b"theme=dark; ff_session=eyJ.s.t; other=1")], b"", {"eyJ.s.t"}),
        # Quoted, as the auth layer's cookie parser unquotes it: the same bucket.
        ([(b"cookie", b'ff_session="eyJ.s.t"')], b"", {"eyJ.s.t"}),
        # A key wins over the cookie the browser sends along, as in ff_api/principals.py.
        ([(b"cookie", b"ff_session=s"), (b"x-api-key", b"ffa_k")], b"", {"ffa_k"}),
        ([(b"cookie", b"not_ff_session=x")], b"", set()),
        ([(b"authorization", b"Basic dXNlcg==")], b"monkey=1", set()),
        ([], b"", set()),
    ],
)
def test_credentials__request__as_auth_reads_it(
    headers: list[tuple[bytes, bytes]], query: bytes, expected: set[str]
) -> None:
    assert credentials({"type": "http", "headers": headers, "query_string": query}) == expected


TRICKY: list[tuple[list[tuple[bytes, bytes]], bytes]] = [
    ([(b"authorization", b"Bearer \xa0ffs_a\xa0")], b""),  # str.strip() drops NBSP too
    ([(b"authorization", b"BEARER ffs_a"), (b"authorization", b"Bearer ffs_b")], b""),
    ([(b"authorization", b"Bearer "), (b"x-api-key", b"ffc_a")], b""),
    ([(b"authorization", b"Token ffs_a"), (b"x-api-key", b"ffc_a"), (b"x-api-key", b"ffc_b")], b""),
    ([(b"x-api-key", b"")], b"key=&token=t1&key=k2"),
    ([], b"key=a%20b&key=c+d&monkey=1&token"),
    ([(b"cookie", b'a=1; ff_session = "s1" ; ff_session=s2'), (b"cookie", b"ff_session=s3")], b""),
    ([(b"cookie", b"ff_session=\xe9t\xe9")], b"keys=1"),
]


@pytest.mark.parametrize(("headers", "query"), TRICKY)
def test_credentials__tricky_requests__exactly_what_the_auth_layer_reads(
    headers: list[tuple[bytes, bytes]], query: bytes
) -> None:
    scope = {"type": "http", "headers": headers, "query_string": query}
    request = Request(dict(scope))
    expected = {raw_key(request), *(request.query_params.get(n) for n in ("key", "token"))}
    expected = {value for value in expected if value}
    if not expected:
        expected = {request.cookies.get("ff_session")} - {None, ""}

    assert credentials(scope) == expected


@pytest.mark.parametrize(
    ("headers", "query"),
    [
        # Routes read Authorization before X-API-Key: both are charged, whatever the order.
        ([("X-API-Key", "decoy-1"), ("Authorization", "Bearer noisy")], ""),
        # The browser stream reads ?key= and ?token= before any header.
        ([("Authorization", "Bearer decoy-2")], "?key=noisy"),
        ([("X-API-Key", "decoy-3")], "?token=noisy"),
    ],
)
async def test_limit__decoy_credential_beside_the_spent_one__still_refused(
    clock: FakeClock, headers: list[tuple[str, str]], query: str
) -> None:
    async with _client(RateLimiter(1, 1, clock=clock)) as client:
        assert (await client.get("/x", headers=_bearer("noisy"))).status_code == 200
        response = await client.get("/x" + query, headers=headers)
    assert response.status_code == 429


# -- the real app: every route family is limited per key ------------------------------------


@dataclass(frozen=True)
class Limited:
    url: str
    demo: Keys
    other: Keys
    world: World


@pytest.fixture(scope="module")
def limited(moto_endpoint: str) -> Iterator[Limited]:
    # 0.001 tokens a second: nothing refills during the test, so the burst is exact.
    settings = api_settings(moto_endpoint).model_copy(
        update={"rate_limit_per_key_rps": 0.001, "rate_limit_burst": BURST}
    )
    demo_keys, other_keys = asyncio.run(seed_world(settings))
    server = ServerThread(settings)
    url = server.start()
    try:
        yield Limited(url, demo_keys, other_keys, World(url, settings, demo_keys, other_keys))
    finally:
        server.stop()


@pytest.fixture
async def http(limited: Limited) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=limited.url, timeout=10) as client:
        yield client


def _assert_limited(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    retry_after = response.headers["Retry-After"]
    assert retry_after.isdigit()
    assert int(retry_after) >= 1
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "rate_limited"


async def test_api__ofrep_server_key__limited_and_other_keys_still_served(
    http: httpx.AsyncClient, limited: Limited
) -> None:
    noisy = _bearer(limited.demo.server)
    for _ in range(BURST):
        assert (await http.post(OFREP, json={"context": {}}, headers=noisy)).status_code == 200
    refused = await http.post(OFREP, json={"context": {}}, headers=noisy)
    _assert_limited(refused)
    # At 0.001 tokens/s the next token is ~1,000 s away.
    assert int(refused.headers["Retry-After"]) > 900
    quiet = await http.post(OFREP, json={"context": {}}, headers=_bearer(limited.other.server))
    assert quiet.status_code == 200


async def test_api__client_key_on_browser_stream_query__limited(
    http: httpx.AsyncClient, limited: Limited
) -> None:
    key = limited.demo.client
    for _ in range(BURST):
        response = await http.post(OFREP, json={"context": {}}, headers={"X-API-Key": key})
        assert response.status_code == 200
    # The same key in the browser stream's query shares its bucket.
    _assert_limited(await http.get("/api/v1/browser/stream", params={"key": key}))


async def test_api__admin_token_on_management__limited(
    http: httpx.AsyncClient, limited: Limited
) -> None:
    headers = _bearer(limited.demo.admin)
    for _ in range(BURST):
        assert (await http.get("/api/v1/projects/demo/flags", headers=headers)).status_code == 200
    _assert_limited(await http.get("/api/v1/projects/demo/flags", headers=headers))
    other = await http.get("/api/v1/projects/other/flags", headers=_bearer(limited.other.admin))
    assert other.status_code == 200


async def test_api__session_cookie_and_new_server_key__each_their_own_bucket(
    http: httpx.AsyncClient, limited: Limited
) -> None:
    session = {"Cookie": f"ff_session={limited.world.session()}"}
    created = await http.post(
        "/api/v1/projects/other/keys",
        json={"kind": "server", "name": "sdk", "environment": "production"},
        headers={**session, "Content-Type": "application/json"},
    )
    assert created.status_code == 201, created.text
    headers = _bearer(created.json()["raw_key"])
    for _ in range(BURST):
        assert (await http.get("/api/v1/sdk/flags", headers=headers)).status_code == 200
    _assert_limited(await http.get("/api/v1/sdk/flags", headers=headers))
    # The session spent one token of its own on the create.
    for _ in range(BURST - 1):
        response = await http.get("/api/v1/projects/other/keys", headers=session)
        assert response.status_code == 200
    _assert_limited(await http.get("/api/v1/projects/other/keys", headers=session))


async def test_api__health_without_credentials__not_limited(http: httpx.AsyncClient) -> None:
    statuses = {(await http.get("/healthz")).status_code for _ in range(BURST * 3)}
    assert statuses == {200}
