"""The OFREP fast lane (ff_api/lane.py) answers exactly as the full stack does, for the
bulk route and for one flag.

Two copies of the API run under uvicorn on the same table: the one ``create_app`` builds,
and one whose edge layer offers no lane. Every request goes to both; the answers must be
the same (status, headers but the request id and the date, body), and the lane must have answered
the ordinary ones and handed every unusual one on."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest
from starlette.applications import Starlette

from ff_api import ApiSettings
from ff_api.access import EdgeMiddleware
from ff_api.lane import OfrepLane
from tests.api.conftest import ADMIN, Seeded, ServerThread
from tests.api.test_metrics import scrape, value

PATH = "/ofrep/v1/evaluate/flags"
ONE = PATH + "/"
HOST = "api.example"  # both copies build the same stream URLs into their answers
# Each request's own id, and uvicorn's clock (the two answers may straddle a second).
UNCOMPARED = frozenset({"x-request-id", "date"})


def edge_of(app: Starlette) -> EdgeMiddleware:
    app.middleware_stack = app.build_middleware_stack()
    layer: Any = app.middleware_stack
    while not isinstance(layer, EdgeMiddleware):
        layer = layer.app
    return layer


class Pair:
    """The API with its lane (``lane``) and without one."""

    def __init__(self, settings: ApiSettings) -> None:
        self.with_lane = ServerThread(settings)
        self.without = ServerThread(settings)
        lane = edge_of(self.with_lane.server.config.app)._lane  # type: ignore[arg-type]
        assert isinstance(lane, OfrepLane)
        self.lane = lane
        edge_of(self.without.server.config.app)._lane = None  # type: ignore[arg-type]
        self.urls = (self.with_lane.start(), self.without.start())

    async def both(self, headers: dict[str, str], **request: Any) -> tuple[Any, Any, int]:
        """The two answers to one request, and how many of them the lane answered."""
        before = self.lane.answered
        path = request.pop("path", PATH)
        answers = []
        for url in self.urls:
            async with httpx.AsyncClient(base_url=url, timeout=10) as client:
                response = await client.post(path, headers={"Host": HOST, **headers}, **request)
            answers.append(
                (
                    response.status_code,
                    [(k, v) for k, v in response.headers.multi_items() if k not in UNCOMPARED],
                    response.content,
                )
            )
        return answers[0], answers[1], self.lane.answered - before

    def stop(self) -> None:
        self.with_lane.stop()
        self.without.stop()


@pytest.fixture
def pair(seeded: Seeded) -> Iterator[Pair]:
    # Keys stay cached for the poll interval: long enough that none expires mid-test.
    both = Pair(seeded.settings.model_copy(update={"poll_interval_s": 60.0}))
    yield both
    both.stop()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


CONTEXT = {"context": {"targetingKey": "user-7", "country": "US", "plan": "pro"}}


async def test_lane__ordinary_requests__answered_by_the_lane_as_the_stack_answers(
    pair: Pair, seeded: Seeded
) -> None:
    # The first request of a key reads it from the store: the full stack answers it.
    first, first_reference, answered_cold = await pair.both(bearer(seeded.server_key), json=CONTEXT)
    server, server_reference, answered_server = await pair.both(
        bearer(seeded.server_key), json=CONTEXT
    )
    etag = dict(server[1])["etag"]
    unchanged, unchanged_reference, answered_304 = await pair.both(
        {**bearer(seeded.server_key), "If-None-Match": etag}, json=CONTEXT
    )
    await pair.both({"X-API-Key": seeded.client_key}, json=CONTEXT)
    client, client_reference, answered_client = await pair.both(
        {"X-API-Key": seeded.client_key}, json=CONTEXT
    )
    empty, empty_reference, answered_empty = await pair.both(bearer(seeded.server_key))

    assert first == first_reference
    assert answered_cold == 0
    assert server == server_reference
    assert answered_server == 1
    assert server[0] == 200
    assert b'"flags":[' in server[2]
    assert unchanged == unchanged_reference
    assert answered_304 == 1
    assert unchanged[0] == 304
    assert client == client_reference
    assert answered_client == 1
    assert len(client[2]) < len(server[2])  # only client-visible flags
    assert empty == empty_reference
    assert answered_empty == 1


def flag_values(body: bytes) -> dict[str, Any]:
    return {flag["key"]: flag.get("value") for flag in orjson.loads(body)["flags"]}


async def test_lane__body_answered_before__a_change_still_answered_anew(
    pair: Pair, seeded: Seeded
) -> None:
    # The lane keeps the answer to a body it has seen (ff_api/bulk.py, ``recall``): it
    # must end with the environment it was for.
    key = bearer(seeded.server_key)
    await pair.both(key, json=CONTEXT)  # the key known to both
    before, before_reference, answered_before = await pair.both(key, json=CONTEXT)
    again, _, answered_again = await pair.both(key, json=CONTEXT)  # the same body: recalled
    await seeded.services.flags.set_enabled(ADMIN, "demo", "new-checkout", "production", False)
    # Both copies read the change log as a refetch prompted by the stream makes them (the
    # route); its context is invalid, so no answer is made for the new environment before
    # the lane is asked (as when the poller reads the change).
    refetch = PATH + "?flagConfigEtag=999999999"
    invalid, _, _ = await pair.both(key, json={"context": [1]}, path=refetch)

    after, after_reference, answered_after = await pair.both(key, json=CONTEXT)

    assert invalid[0] == 400
    assert before == before_reference
    assert again == before
    assert (answered_before, answered_again, answered_after) == (1, 1, 1)
    assert after == after_reference
    assert flag_values(before[2])["new-checkout"] is True
    assert flag_values(after[2])["new-checkout"] is False
    assert dict(after[1])["etag"] != dict(before[1])["etag"]


async def test_lane__same_body_to_another_host__its_own_stream_url(
    pair: Pair, seeded: Seeded
) -> None:
    key = bearer(seeded.server_key)
    await pair.both(key, json=CONTEXT)  # the key known to both
    here, here_reference, _ = await pair.both(key, json=CONTEXT)

    there, there_reference, answered = await pair.both(
        {**key, "Host": "other.example"}, json=CONTEXT
    )
    back, _, _ = await pair.both(key, json=CONTEXT)

    assert there == there_reference
    assert answered == 1
    [stream] = orjson.loads(there[2])["eventStreams"]
    assert stream["url"].startswith("http://other.example/")
    assert here == here_reference
    assert orjson.loads(here[2])["eventStreams"][0]["url"].startswith(f"http://{HOST}/")
    assert back == here


@pytest.mark.parametrize(
    ("headers", "request_options"),
    [
        pytest.param({}, {"content": b"{not json"}, id="invalid-json"),
        pytest.param({}, {"json": {"context": [1, 2]}}, id="context-not-an-object"),
        pytest.param({}, {"json": ["context"]}, id="body-not-an-object"),
        pytest.param({}, {"json": {"context": {"big": "x" * 40_000}}}, id="context-too-large"),
        pytest.param({}, {"json": {"context": {"big": "x" * 70_000}}}, id="body-too-large"),
        pytest.param({}, {"json": CONTEXT, "path": PATH + "?flagConfigEtag=1"}, id="refetch"),
        pytest.param({"Origin": "https://app.example"}, {"json": CONTEXT}, id="cross-origin"),
        pytest.param({"Cookie": "ff_session=x"}, {"json": CONTEXT}, id="cookie-too"),
    ],
)
async def test_lane__unusual_requests__handed_on_answered_as_the_stack_answers(
    pair: Pair, seeded: Seeded, headers: dict[str, str], request_options: dict[str, Any]
) -> None:
    await pair.both(bearer(seeded.server_key), json=CONTEXT)  # the key known to both

    ours, reference, answered = await pair.both(
        {**bearer(seeded.server_key), **headers}, **request_options
    )

    assert ours == reference
    expected = 1 if "Cookie" in headers else 0  # a cookie beside the key changes nothing
    assert answered == expected


@pytest.mark.parametrize(
    "key", ["missing", "unknown", "admin", "staging-of-other-environment"], ids=str
)
async def test_lane__keys_it_does_not_know_or_take__handed_on(
    pair: Pair, seeded: Seeded, key: str
) -> None:
    raw = {
        "missing": None,
        "unknown": "ffs_" + "x" * 43,
        "admin": seeded.admin_key,
        "staging-of-other-environment": seeded.staging_key,
    }[key]
    headers = bearer(raw) if raw else {}
    await pair.both(headers, json=CONTEXT)

    ours, reference, answered = await pair.both(headers, json=CONTEXT)

    assert ours == reference
    if key == "staging-of-other-environment":  # a server key of another environment
        assert (ours[0], answered) == (200, 1)
    else:
        assert ours[0] in (401, 403)
        assert answered == 0


@pytest.mark.parametrize(
    ("key", "flag", "status"),
    [
        ("server", "new-checkout", 200),
        ("server", "search.max-results", 200),
        ("server", "no-such-flag", 404),
        ("client", "banner-text", 200),
        ("client", "search.max-results", 404),  # not client-visible: answered as missing
    ],
)
async def test_lane__one_flag__answered_by_the_lane_as_the_stack_answers(
    pair: Pair, seeded: Seeded, key: str, flag: str, status: int
) -> None:
    headers = bearer(seeded.server_key if key == "server" else seeded.client_key)
    await pair.both(headers, json=CONTEXT, path=ONE + flag)  # the key known to both

    ours, reference, answered = await pair.both(headers, json=CONTEXT, path=ONE + flag)
    no_context, no_context_reference, answered_no_context = await pair.both(
        headers, path=ONE + flag
    )

    assert ours == reference
    assert (ours[0], answered) == (status, 1)
    assert dict(ours[1])["content-type"] == "application/json"
    assert no_context == no_context_reference
    assert answered_no_context == 1
    async with httpx.AsyncClient(base_url=pair.urls[0]) as http:
        samples = await scrape(http)
    counted = {  # by route template, not by flag key: the three requests above
        labels: count
        for (name, labels), count in samples.items()
        if name == "ff_http_requests_total" and ("route", ONE + "{key:path}") in labels
    }
    assert sum(counted.values()) == 3


@pytest.mark.parametrize(
    ("path", "request_options"),
    [
        pytest.param(ONE + "new-checkout", {"content": b"{not json"}, id="invalid-json"),
        pytest.param(
            ONE + "new-checkout", {"json": {"context": [1, 2]}}, id="context-not-an-object"
        ),
        pytest.param(ONE + "new-checkout?x=1", {"json": CONTEXT}, id="query-string"),
        pytest.param(ONE + "New-Checkout", {"json": CONTEXT}, id="not-a-flag-key"),
        # Starlette's route takes this for new-checkout (its pattern's $ matches before a
        # final newline); the lane's key check does not, so the route answers.
        pytest.param(ONE + "new-checkout%0A", {"json": CONTEXT}, id="trailing-newline"),
        pytest.param(ONE + "a/b", {"json": CONTEXT}, id="slash-in-key"),
        pytest.param(ONE, {"json": CONTEXT}, id="no-key"),
        pytest.param(PATH + "x", {"json": CONTEXT}, id="another-path"),
    ],
)
async def test_lane__one_flag_unusual_requests__handed_on_answered_as_the_stack_answers(
    pair: Pair, seeded: Seeded, path: str, request_options: dict[str, Any]
) -> None:
    await pair.both(bearer(seeded.server_key), json=CONTEXT)  # the key known to both

    ours, reference, answered = await pair.both(
        bearer(seeded.server_key), path=path, **request_options
    )

    assert ours == reference
    assert answered == 0


async def test_lane__rate_limit__one_token_a_request_and_the_stacks_429(
    seeded: Seeded,
) -> None:
    settings = seeded.settings.model_copy(
        update={"rate_limit_per_key_rps": 0.001, "rate_limit_burst": 4, "poll_interval_s": 60.0}
    )
    server = ServerThread(settings)
    lane = edge_of(server.server.config.app)._lane  # type: ignore[arg-type]
    assert isinstance(lane, OfrepLane)
    url = server.start()
    try:
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            key = bearer(seeded.server_key)
            # One token each, whoever answers: the lane charges every request it is
            # offered, and the rate-limit layer does not charge one the lane handed on.
            cold = await http.post(PATH, json=CONTEXT, headers=key)  # key not cached yet
            warm = await http.post(PATH, json=CONTEXT, headers=key)  # the lane answers
            bad = await http.post(PATH, content=b"{", headers=key)  # handed on: a 400
            last = await http.post(PATH, json=CONTEXT, headers=key)  # the 4th token
            refused_by_lane = await http.post(PATH, content=b"{", headers=key)
            # With a query the lane hands it on before charging: the layer refuses it.
            refused_by_layer = await http.post(
                PATH + "?flagConfigEtag=1", json=CONTEXT, headers=key
            )
            samples = await scrape(http)
    finally:
        server.stop()

    assert [cold.status_code, warm.status_code, bad.status_code, last.status_code] == [
        200,
        200,
        400,
        200,
    ]
    assert lane.answered == 2  # warm and last
    for refused in (refused_by_lane, refused_by_layer):
        assert refused.status_code == 429
        assert refused.headers["retry-after"].isdigit()
    assert refused_by_lane.content == refused_by_layer.content
    assert refused_by_lane.headers["vary"] == refused_by_layer.headers["vary"] == "Origin"
    route = {"route": PATH, "method": "POST"}
    assert value(samples, "ff_http_requests_total", status="200", **route) == 3
    assert value(samples, "ff_http_requests_total", status="400", **route) == 1
    assert value(samples, "ff_http_requests_total", status="429", **route) == 2
