"""/metrics: Prometheus text format, parsed with prometheus_client's own parser."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from ff_api.metrics import Metrics
from tests.api.conftest import ADMIN, Seeded, ServerThread
from tests.api.sse import open_stream

US_PRO = {"context": {"targetingKey": "u1", "country": "US", "plan": "pro"}}
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def scrape(http: httpx.AsyncClient) -> Samples:
    response = await http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


async def test_metrics__requests__counted_by_route_template_method_and_status(
    http: httpx.AsyncClient, seeded: Seeded
) -> None:
    for flag in ("new-checkout", "banner-text", "nope"):
        await http.post(
            f"/ofrep/v1/evaluate/flags/{flag}", json=US_PRO, headers=bearer(seeded.server_key)
        )
    await http.get("/no/such/path")

    samples = await scrape(http)

    route = "/ofrep/v1/evaluate/flags/{key:path}"
    ok = {"route": route, "method": "POST", "status": "200"}
    assert value(samples, "ff_http_requests_total", **ok) == 2
    assert value(samples, "ff_http_requests_total", **{**ok, "status": "404"}) == 1
    assert value(samples, "ff_http_request_duration_seconds_count", **ok) == 2
    assert value(samples, "ff_http_request_duration_seconds_bucket", **ok, le="+Inf") == 2
    unmatched = {"route": "(unmatched)", "method": "GET", "status": "404"}
    assert value(samples, "ff_http_requests_total", **unmatched) == 1
    # Raw paths never become labels: the number of series stays bounded.
    routes = {dict(labels).get("route") for _, labels in samples}
    assert not any(r and "new-checkout" in r for r in routes)


async def test_metrics__evaluations__by_flag_and_reason_unknown_flags_pooled(
    http: httpx.AsyncClient, seeded: Seeded
) -> None:
    server = bearer(seeded.server_key)
    await http.post("/ofrep/v1/evaluate/flags/new-checkout", json=US_PRO, headers=server)
    await http.post("/ofrep/v1/evaluate/flags", json=US_PRO, headers=server)
    await http.post("/api/v1/evaluate", json={"flags": ["nope", "gone"]}, headers=server)

    samples = await scrape(http)

    where = {"project": "demo", "environment": "production"}
    assert (
        value(
            samples, "ff_evaluations_total", **where, flag="new-checkout", reason="TARGETING_MATCH"
        )
        == 2
    )
    assert (
        value(samples, "ff_evaluations_total", **where, flag="legacy-mode", reason="DISABLED") == 1
    )
    assert value(samples, "ff_evaluations_total", **where, flag="(unknown)", reason="ERROR") == 2


async def test_metrics__open_sse_stream__subscriber_gauge_up_then_down(
    http: httpx.AsyncClient, seeded: Seeded
) -> None:
    before = await scrape(http)
    async with open_stream(http, "/api/v1/sdk/stream", bearer(seeded.server_key)) as stream:
        await stream.next()
        during = await scrape(http)
    deadline = time.monotonic() + 15
    while True:
        after = await scrape(http)
        if value(after, "ff_sse_subscribers") == 0 or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)

    assert value(before, "ff_sse_subscribers") == 0
    assert value(during, "ff_sse_subscribers") == 1
    assert value(after, "ff_sse_subscribers") == 0
    # A stream is counted once, when it opens.
    opened = {"route": "/api/v1/sdk/stream", "method": "GET", "status": "200"}
    assert value(during, "ff_http_requests_total", **opened) == 1


async def test_metrics__sse_change__delivered_straight_to_the_connection(
    http: httpx.AsyncClient, seeded: Seeded
) -> None:
    # The API as it runs (uvicorn, httptools): the hub writes a change to the stream's socket.
    async with open_stream(http, "/api/v1/sdk/stream", bearer(seeded.server_key)) as stream:
        await stream.next()
        before = await scrape(http)
        await seeded.services.flags.set_enabled(ADMIN, "demo", "legacy-mode", "production", True)
        upsert = await stream.next()
        after = await scrape(http)

    assert upsert.event == "upsert"
    assert value(before, "ff_sse_deliveries_total", path="direct") == 0
    assert value(after, "ff_sse_deliveries_total", path="direct") == 1
    assert value(after, "ff_sse_deliveries_total", path="queued") == 0


async def test_metrics__change_follower__lag_and_round_reported(
    http: httpx.AsyncClient, seeded: Seeded
) -> None:
    await http.post("/ofrep/v1/evaluate/flags", json=US_PRO, headers=bearer(seeded.server_key))
    await asyncio.sleep(0.5)  # a few follower rounds (poll interval 0.2 s)

    samples = await scrape(http)

    lag = value(samples, "ff_change_follower_lag_seconds")
    round_s = value(samples, "ff_change_follower_round_seconds")
    assert lag is not None
    assert 0 <= lag < 5
    assert round_s is not None
    assert round_s >= 0
    assert value(samples, "ff_usage_pending") == 6
    assert value(samples, "ff_usage_write_failures_total") == 0


async def test_metrics__token_set__bearer_required(seeded: Seeded) -> None:
    token = "metrics-token-0123456789"
    server = ServerThread(seeded.settings.model_copy(update={"metrics_token": SecretStr(token)}))
    url = server.start()
    try:
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            anonymous = await http.get("/metrics")
            wrong = await http.get("/metrics", headers=bearer("metrics-token-wrong-value"))
            right = await http.get("/metrics", headers=bearer(token))
    finally:
        server.stop()

    assert (anonymous.status_code, wrong.status_code, right.status_code) == (401, 401, 200)
    assert anonymous.json()["code"] == "unauthorized"
    assert "ff_http_requests_total" in right.text


def test_latency__observations__cumulative_buckets_le_each_bound_sum_and_count() -> None:
    metrics = Metrics()
    for seconds in (0.0005, 0.0006, 0.003, 0.003, 20.0):
        metrics.observe("/ofrep/v1/evaluate/flags", "POST", 200, seconds)
    metrics.observe("/x", "BREW", 418, 0.1)
    samples: Samples = {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(generate_latest(metrics.registry).decode())
        for s in family.samples
    }
    route = {"route": "/ofrep/v1/evaluate/flags", "method": "POST", "status": "200"}

    def bucket(le: str) -> float | None:
        return value(samples, "ff_http_request_duration_seconds_bucket", **route, le=le)

    assert bucket("0.0005") == 1  # a bound holds what equals it
    assert bucket("0.001") == 2
    assert bucket("0.0025") == 2
    assert bucket("0.005") == 4
    assert bucket("10.0") == 4
    assert bucket("+Inf") == 5
    assert value(samples, "ff_http_request_duration_seconds_count", **route) == 5
    assert value(samples, "ff_http_request_duration_seconds_sum", **route) == pytest.approx(20.0071)
    assert value(samples, "ff_http_requests_total", **route) == 5
    odd = {"route": "/x", "method": "OTHER", "status": "418"}
    assert value(samples, "ff_http_requests_total", **odd) == 1
