"""Webhooks through the API as it runs: created with an admin key, delivered by the app's
own dispatcher to a real receiver on loopback that fails twice before taking each event."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import orjson
import pytest

from ff_api import ApiSettings
from ff_core.models import KeyKind, Role
from ff_core.outbound import verify
from tests.api.conftest import ADMIN, Seeded, ServerThread
from tests.outbound.conftest import Receiver

HOOKS = "/api/v1/projects/demo/webhooks"


def fast(settings: ApiSettings) -> ApiSettings:
    """Retries within a fraction of a second; a receiver slower than 1 s times out."""
    return settings.model_copy(
        update={
            "outbound_poll_interval_s": 0.05,
            "webhook_timeout_s": 1.0,
            "webhook_backoff_initial_s": 0.05,
            "webhook_backoff_max_s": 0.2,
            "webhook_lease_s": 5.0,
        }
    )


@pytest.fixture
def fast_api(seeded: Seeded) -> Iterator[str]:
    server = ServerThread(fast(seeded.settings))
    url = server.start()
    yield url
    server.stop()


@pytest.fixture
async def admin(fast_api: str, seeded: Seeded) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {seeded.admin_key}"}
    async with httpx.AsyncClient(base_url=fast_api, headers=headers, timeout=10) as client:
        yield client


async def set_enabled(admin: httpx.AsyncClient, enabled: bool) -> None:
    response = await admin.post(
        "/api/v1/projects/demo/flags/new-checkout/set-enabled-in",
        json={"environments": ["production"], "enabled": enabled},
    )
    assert response.status_code == 200, response.text


async def deliveries(admin: httpx.AsyncClient, webhook_id: str) -> list[dict[str, Any]]:
    response = await admin.get(f"{HOOKS}/{webhook_id}/deliveries")
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def settled(admin: httpx.AsyncClient, webhook_id: str, count: int) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        items = await deliveries(admin, webhook_id)
        if len(items) == count and all(d["status"] != "pending" for d in items):
            return items
        await asyncio.sleep(0.05)
    raise AssertionError(f"not settled: {await deliveries(admin, webhook_id)}")


async def test_receiver_failing_twice__each_event_once_after_dedup__signed__three_attempts_logged(
    admin: httpx.AsyncClient, seeded: Seeded, receiver: Receiver
) -> None:
    created = await admin.post(HOOKS, json={"url": receiver.url})
    assert created.status_code == 201, created.text
    webhook, secret = created.json()["webhook"], created.json()["secret"]
    before = await seeded.services.store.get_seq("demo")

    await set_enabled(admin, False)
    await set_enabled(admin, True)
    log = await settled(admin, webhook["id"], 2)

    expected = {f"demo:{before + 1}", f"demo:{before + 2}"}
    assert receiver.ids() == expected  # nothing from before the webhook existed
    by_id: dict[str, dict[str, Any]] = {}
    for got in receiver.received:
        assert verify(secret, got.body, got.signature)
        event = orjson.loads(got.body)
        assert event["id"] == got.event_id
        by_id.setdefault(got.event_id, event)
    # The timed-out attempt reached the receiver too: de-duplicated by id, once each.
    assert len(receiver.received) == 4
    assert sorted(by_id) == sorted(expected)
    first = by_id[f"demo:{before + 1}"]
    assert first["project"] == "demo"
    assert first["seq"] == before + 1
    assert (first["entity"], first["key"], first["change"]) == ("flag", "new-checkout", "upsert")
    assert first["environments"] == ["production"]
    assert first["action"] == "enabled_set"
    assert first["actor"]["subject"].startswith("key:")
    assert [r.attempt for r in receiver.received if r.event_id == first["id"]] == ["2", "3"]
    for entry in log:
        assert entry["status"] == "delivered"
        assert entry["attempts"] == 3
        assert [t["status_code"] for t in entry["tries"]] == [500, None, 204]
        assert entry["tries"][1]["error"] == "no answer within 1 s"
        assert entry["last_status_code"] == 204
        assert entry["delivered_at"] is not None
    assert sorted(d["event_id"] for d in log) == sorted(expected)


BAD_URLS = [
    ("ftp://example.com/hook", "only http:// and https://"),
    ("example.com/hook", "only http:// and https://"),
    ("https:///hook", "names no host"),
    ("https://user:secret@example.com/hook", "credentials in the URL are refused"),
    ("https://example.com:99999/hook", "is not a URL"),
    ("", "1 to 2048 characters"),
    ("https://example.com/" + "a" * 2_100, "1 to 2048 characters"),
]


async def test_create__bad_urls__400_naming_the_problem_nothing_stored(
    admin: httpx.AsyncClient,
) -> None:
    # One server for every case: starting one per case costs seconds each.
    for url, says in BAD_URLS:
        response = await admin.post(HOOKS, json={"url": url})

        assert response.status_code == 400, (url, response.text)
        body = response.json()
        assert body["code"] == "bad_request"
        assert body["field"] == "url"
        assert says in body["message"], url
        assert "user:secret" not in body["message"]  # a URL's credentials are not echoed
    assert (await admin.get(HOOKS)).json() == {"items": []}


async def test_create_list_delete__secret_shown_once__then_404(
    admin: httpx.AsyncClient, happy_receiver: Receiver
) -> None:
    created = await admin.post(HOOKS, json={"url": happy_receiver.url, "events": ["flag"]})
    assert created.status_code == 201, created.text
    body = created.json()
    hook_id = body["webhook"]["id"]
    assert body["secret"].startswith("whsec_")

    listed = await admin.get(HOOKS)
    assert [w["id"] for w in listed.json()["items"]] == [hook_id]
    assert body["secret"] not in listed.text
    assert listed.json()["items"][0]["events"] == ["flag"]
    assert (await admin.delete(f"{HOOKS}/{hook_id}")).status_code == 204
    assert (await admin.get(HOOKS)).json() == {"items": []}
    again = await admin.delete(f"{HOOKS}/{hook_id}")
    assert again.status_code == 404
    assert again.json()["message"] == f"webhook {hook_id!r} not found in project 'demo'"
    missing_log = await admin.get(f"{HOOKS}/{hook_id}/deliveries")
    assert missing_log.status_code == 404


async def test_webhooks__editor_role__403_nothing_created(
    admin: httpx.AsyncClient, seeded: Seeded, happy_receiver: Receiver
) -> None:
    _, editor = await seeded.services.access.create_key(
        ADMIN, "demo", KeyKind.ADMIN, "editor", role=Role.EDITOR
    )
    headers = {"Authorization": f"Bearer {editor}"}

    created = await admin.post(HOOKS, json={"url": happy_receiver.url}, headers=headers)
    listed = await admin.get(HOOKS, headers=headers)

    assert (created.status_code, listed.status_code) == (403, 403)
    assert created.json()["needed"] == "admin"
    assert (await admin.get(HOOKS)).json() == {"items": []}


async def test_deliveries__pages_newest_first(
    admin: httpx.AsyncClient, seeded: Seeded, happy_receiver: Receiver
) -> None:
    created = await admin.post(HOOKS, json={"url": happy_receiver.url})
    hook_id = created.json()["webhook"]["id"]
    for enabled in (False, True, False):
        await set_enabled(admin, enabled)
    await settled(admin, hook_id, 3)

    first = await admin.get(f"{HOOKS}/{hook_id}/deliveries", params={"limit": 2})
    cursor = first.json()["next_cursor"]
    second = await admin.get(f"{HOOKS}/{hook_id}/deliveries", params={"limit": 2, "before": cursor})
    bad = await admin.get(f"{HOOKS}/{hook_id}/deliveries", params={"before": "x"})

    seqs = [d["seq"] for d in first.json()["items"] + second.json()["items"]]
    assert seqs == sorted(seqs, reverse=True)
    assert len(set(seqs)) == 3
    assert second.json()["next_cursor"] is None
    assert bad.status_code == 400
