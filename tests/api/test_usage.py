"""Usage: evaluations counted in memory, one store update per flag per flush; SDK reports; reads.

The app runs under uvicorn on loopback over moto's DynamoDB server. Counting tests flush
at shutdown (the interval is an hour), so every count lands in exactly one flush.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from ff_api.state import ApiState
from ff_core.models import FlagUsage, KeyKind, Project, Role
from ff_core.store import DynamoStore
from tests.api.conftest import ADMIN, Seeded, ServerThread

US_PRO = {"context": {"targetingKey": "u1", "country": "US", "plan": "pro"}}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@contextmanager
def running(
    seeded: Seeded, **settings: Any
) -> Iterator[tuple[str, ApiState, list[dict[str, Any]]]]:
    """The API with these settings; yields its URL, its state and the UpdateItem calls made."""
    server = ServerThread(seeded.settings.model_copy(update=settings))
    url = server.start()
    try:
        state: ApiState = server.server.config.app.state.ff
        calls: list[dict[str, Any]] = []
        client = state.store._client  # type: ignore[attr-defined]
        original = client.update_item

        async def update_item(**kwargs: Any) -> Any:
            calls.append(kwargs)
            return await original(**kwargs)

        client.update_item = update_item
        yield url, state, calls
    finally:
        server.stop()


async def stored(seeded: Seeded) -> dict[str, FlagUsage]:
    async with DynamoStore.open(seeded.settings) as store:
        usage = await store.get_usage("demo", now=datetime.now(UTC))
    return {u.flag: u for u in usage}


def totals(usage: dict[str, FlagUsage]) -> dict[tuple[str, str], int]:
    return {(flag, env): e.total for flag, u in usage.items() for env, e in u.environments.items()}


async def test_evaluations__ofrep_and_native_routes__one_update_per_flag_with_the_sums(
    seeded: Seeded,
) -> None:
    server, client, staging = (
        bearer(seeded.server_key),
        bearer(seeded.client_key),
        bearer(seeded.staging_key),
    )
    with running(seeded, usage_flush_s=3_600) as (url, _, calls):
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            for _ in range(2):
                await http.post("/ofrep/v1/evaluate/flags", json=US_PRO, headers=server)
            for _ in range(3):
                await http.post(
                    "/ofrep/v1/evaluate/flags/new-checkout", json=US_PRO, headers=server
                )
            await http.post(
                "/api/v1/evaluate", json={"flags": ["new-checkout", "nope"]}, headers=server
            )
            await http.get("/api/v1/flags/new-checkout/evaluate", headers=server)
            await http.post("/ofrep/v1/evaluate/flags", json=US_PRO, headers=client)
            await http.post("/ofrep/v1/evaluate/flags/banner-text", json=US_PRO, headers=staging)
            assert calls == []  # nothing is written per evaluation

    usage = await stored(seeded)

    assert totals(usage) == {
        ("new-checkout", "production"): 2 + 3 + 1 + 1 + 1,
        ("banner-text", "production"): 2 + 1,
        ("banner-text", "staging"): 1,
        ("search.max-results", "production"): 2,
        ("checkout.layout", "production"): 2,
        ("discount-rate", "production"): 2,
        ("legacy-mode", "production"): 2,
    }
    # One flush at shutdown: exactly one UpdateItem per flag, every environment in it.
    assert sorted(c["Key"]["sk"]["S"] for c in calls) == sorted(usage)
    checkout = usage["new-checkout"]
    assert not checkout.stale
    assert checkout.environments["production"].recent == 8


async def test_usage_flush__short_interval__written_while_running_and_read_back(
    seeded: Seeded,
) -> None:
    with running(seeded, usage_flush_s=0.2) as (url, _, _calls):
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            for _ in range(2):
                await http.post(
                    "/ofrep/v1/evaluate/flags/new-checkout",
                    json=US_PRO,
                    headers=bearer(seeded.server_key),
                )
            deadline = time.monotonic() + 15
            while True:
                response = await http.get(
                    "/api/v1/projects/demo/usage", headers=bearer(seeded.admin_key)
                )
                flags = {f["flag"]: f for f in response.json()["flags"]}
                production = flags["new-checkout"]["environments"].get("production", {})
                if production.get("total") == 2 or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.1)

    body = response.json()
    assert response.status_code == 200
    assert (body["project"], body["window_days"], body["stale_after_days"]) == ("demo", 30, 7)
    assert list(flags) == sorted(flags)
    assert len(flags) == 6
    today = datetime.now(UTC).date().isoformat()
    assert production["total"] == 2
    assert (production["recent"], production["daily"], production["stale"]) == (
        2,
        {today: 2},
        False,
    )
    assert flags["new-checkout"]["last_evaluated"] is not None
    never = flags["legacy-mode"]
    assert (never["environments"], never["last_evaluated"], never["stale"]) == ({}, None, True)


async def test_sdk_usage__report_with_an_unknown_flag__counted_in_the_same_update(
    seeded: Seeded,
) -> None:
    with running(seeded, usage_flush_s=3_600) as (url, _, calls):
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            report = await http.post(
                "/api/v1/sdk/usage",
                json={
                    "counts": {"new-checkout": 5, "legacy-mode": 0, "gone": 2},
                    "window_start": "2026-03-10T12:00:00Z",
                },
                headers=bearer(seeded.server_key),
            )
            await http.post(
                "/ofrep/v1/evaluate/flags/new-checkout",
                json=US_PRO,
                headers=bearer(seeded.server_key),
            )

    assert report.status_code == 202
    assert report.json() == {"accepted": 2, "ignored": ["gone"]}
    assert totals(await stored(seeded)) == {("new-checkout", "production"): 6}
    assert len(calls) == 1


BAD_REPORTS: list[tuple[Any, str]] = [
    ([1, 2], "must be a JSON object"),
    ({}, "counts: Field required"),
    ({"counts": {"new-checkout": -1}}, "counts.new-checkout: Input should be greater than"),
    ({"counts": {"new-checkout": "5"}}, "counts.new-checkout: Input should be a valid integer"),
    ({"counts": {"new-checkout": True}}, "counts.new-checkout: Input should be a valid integer"),
    ({"counts": {"new-checkout": 1.5}}, "counts.new-checkout: Input should be a valid integer"),
    ({"counts": {"new-checkout": 10**9}}, "less than or equal to 100000000"),
    ({"counts": {"Bad Key!": 1}}, "should match pattern"),
    ({"counts": {f"flag-{i}": 1 for i in range(1_001)}}, "at most 1000 items"),
    ({"counts": {"new-checkout": 1}, "extra": 1}, "extra: Extra inputs are not permitted"),
    ({"counts": {"new-checkout": 1}, "window_start": "yesterday"}, "window_start: Input should"),
    # One bad count refuses the whole report: the good one is not counted either.
    ({"counts": {"banner-text": 3, "new-checkout": -1}}, "counts.new-checkout"),
]


async def test_sdk_usage__malformed_reports__400_problem_json_and_nothing_written(
    seeded: Seeded,
) -> None:
    with running(seeded, usage_flush_s=3_600) as (url, state, calls):
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            answers = [
                await http.post("/api/v1/sdk/usage", json=body, headers=bearer(seeded.server_key))
                for body, _ in BAD_REPORTS
            ]
            not_json = await http.post(
                "/api/v1/sdk/usage", content=b"{", headers=bearer(seeded.server_key)
            )
            anonymous = await http.post("/api/v1/sdk/usage", json={"counts": {}})
            browser = await http.post(
                "/api/v1/sdk/usage", json={"counts": {}}, headers=bearer(seeded.client_key)
            )
            pending = state.usage.pending()

    for answer, (_, expected) in zip(answers, BAD_REPORTS, strict=True):
        assert answer.status_code == 400, expected
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["code"] == "bad_request"
        assert expected in answer.json()["message"]
    assert answers[2].json()["errors"] == [
        {"field": "counts.new-checkout", "message": "Input should be greater than or equal to 0"}
    ]
    assert (not_json.status_code, not_json.json()["code"]) == (400, "bad_request")
    assert (anonymous.status_code, browser.status_code) == (401, 403)
    assert pending == 0
    assert calls == []
    assert await stored(seeded) == {}


@pytest.fixture
async def other_admin(seeded: Seeded) -> str:
    """An admin key of a second project."""
    await seeded.services.projects.create_project(ADMIN, Project(key="other", name="Other"))
    _, raw = await seeded.services.access.create_key(
        ADMIN, "other", KeyKind.ADMIN, "other-ops", role=Role.ADMIN
    )
    return raw


async def test_usage_read__callers__needs_a_role_in_the_project_and_hides_others(
    http: httpx.AsyncClient, seeded: Seeded, other_admin: str
) -> None:
    _, viewer = await seeded.services.access.create_key(
        ADMIN, "demo", KeyKind.ADMIN, "reader", role=Role.VIEWER
    )

    def get(path: str, key: str | None) -> Any:
        return http.get(path, headers=bearer(key) if key else None)

    anonymous = await get("/api/v1/projects/demo/usage", None)
    server_key = await get("/api/v1/projects/demo/usage", seeded.server_key)
    as_viewer = await get("/api/v1/projects/demo/usage", viewer)
    one_flag = await get("/api/v1/projects/demo/flags/new-checkout/usage", viewer)
    missing_flag = await get("/api/v1/projects/demo/flags/nope/usage", viewer)
    cross = await get("/api/v1/projects/other/usage", seeded.admin_key)
    cross_flag = await get("/api/v1/projects/demo/flags/new-checkout/usage", other_admin)
    unknown = await get("/api/v1/projects/nowhere/usage", seeded.admin_key)

    assert (anonymous.status_code, server_key.status_code) == (401, 403)
    assert as_viewer.status_code == 200
    assert [f["flag"] for f in as_viewer.json()["flags"]][:2] == ["banner-text", "checkout.layout"]
    assert one_flag.status_code == 200
    assert (one_flag.json()["project"], one_flag.json()["flag"]) == ("demo", "new-checkout")
    assert one_flag.json()["window_days"] == 30
    assert missing_flag.status_code == 404
    # Another project's usage answers exactly as a missing project.
    assert cross.status_code == cross_flag.status_code == unknown.status_code == 404
    assert cross.json()["message"] == "project 'other' not found"
