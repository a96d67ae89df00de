"""SDK sync: full definitions with an ETag, and the definition stream with resume."""

from __future__ import annotations

import httpx
import pytest

from ff_api import ApiSettings
from ff_core.store import DynamoStore
from tests.api.conftest import ADMIN, Seeded, ServerThread
from tests.api.sse import open_stream


def server(seeded: Seeded) -> dict[str, str]:
    return {"Authorization": f"Bearer {seeded.server_key}"}


async def test_sdk_flags__server_key__own_environment_only_with_etag(
    http: httpx.AsyncClient, seeded: Seeded
) -> None:
    first = await http.get("/api/v1/sdk/flags", headers=server(seeded))
    again = await http.get(
        "/api/v1/sdk/flags", headers={**server(seeded), "If-None-Match": first.headers["etag"]}
    )
    client = await http.get(
        "/api/v1/sdk/flags", headers={"Authorization": f"Bearer {seeded.client_key}"}
    )

    body = first.json()
    assert (body["project"], body["environment"]) == ("demo", "production")
    flags = {f["key"]: f for f in body["flags"]}
    assert set(flags["new-checkout"]["environments"]) == {"production"}
    assert flags["new-checkout"]["environments"]["production"]["rules"][0]["id"] == "na-pro"
    assert [s["key"] for s in body["segments"]] == ["beta"]
    assert again.status_code == 304
    # Client keys are browser-safe: never definitions.
    assert client.status_code == 403


async def test_sdk_stream__connect_then_change__snapshot_then_upsert(
    http: httpx.AsyncClient, seeded: Seeded
) -> None:
    async with open_stream(http, "/api/v1/sdk/stream", server(seeded)) as stream:
        snapshot = await stream.next()
        await seeded.services.flags.set_enabled(ADMIN, "demo", "legacy-mode", "production", True)
        upsert = await stream.next()

    assert snapshot.event == "snapshot"
    assert snapshot.id == str(snapshot.data["seq"])
    assert upsert.event == "upsert"
    assert int(upsert.id or 0) == snapshot.data["seq"] + 1
    assert upsert.data["key"] == "legacy-mode"
    assert upsert.data["definition"]["environments"]["production"]["enabled"] is True


async def test_sdk_stream__reconnect_with_last_event_id__exactly_the_missed_changes(
    http: httpx.AsyncClient, seeded: Seeded
) -> None:
    async with open_stream(http, "/api/v1/sdk/stream", server(seeded)) as stream:
        seen = int((await stream.next()).id or 0)
    flags = seeded.services.flags
    await flags.set_enabled(ADMIN, "demo", "legacy-mode", "production", True)
    await flags.update_flag(ADMIN, "demo", "banner-text", {"name": "Banner"})
    await flags.delete_flag(ADMIN, "demo", "discount-rate")

    headers = {**server(seeded), "Last-Event-ID": str(seen)}
    async with open_stream(http, "/api/v1/sdk/stream", headers) as stream:
        replayed = [await stream.next() for _ in range(3)]
        await flags.set_enabled(ADMIN, "demo", "legacy-mode", "production", False)
        live = await stream.next()

    assert [(e.event, e.id, e.data["key"]) for e in replayed] == [
        ("upsert", str(seen + 1), "legacy-mode"),
        ("upsert", str(seen + 2), "banner-text"),
        ("delete", str(seen + 3), "discount-rate"),
    ]
    assert (live.event, live.id) == ("upsert", str(seen + 4))


async def test_sdk_stream__last_event_id_older_than_the_log__snapshot(
    http: httpx.AsyncClient, seeded: Seeded
) -> None:
    settings = seeded.settings
    async with DynamoStore.open(settings) as store:  # the change log's TTL expired entry 1
        await store._client.delete_item(
            TableName=settings.table,
            Key={"pk": {"S": "CHANGES#demo"}, "sk": {"S": "000000000001"}},
        )

    headers = {**server(seeded), "Last-Event-ID": "0"}
    async with open_stream(http, "/api/v1/sdk/stream", headers) as stream:
        first = await stream.next()

    assert first.event == "snapshot"


async def test_sdk_stream__idle__keep_alive_comments(seeded: Seeded) -> None:
    settings = ApiSettings(**{**seeded.settings.model_dump(), "sse_ping_s": 0.3})
    running = ServerThread(settings)
    url = running.start()
    try:
        async with (
            httpx.AsyncClient(base_url=url) as http,
            open_stream(http, "/api/v1/sdk/stream", server(seeded)) as stream,
        ):
            await stream.next()
            ping = await stream.next(wait_s=5, comments=True)
    finally:
        running.stop()

    assert ping.comment


@pytest.mark.parametrize("bad", ["abc", "-1"])
async def test_sdk_stream__malformed_last_event_id__400(
    http: httpx.AsyncClient, seeded: Seeded, bad: str
) -> None:
    response = await http.get(
        "/api/v1/sdk/stream", headers={**server(seeded), "Last-Event-ID": bad}
    )

    assert response.status_code == 400
    assert "Last-Event-ID" in response.json()["message"]
