"""ff's own evaluation endpoints, and how every evaluation route treats keys and bad input."""

from __future__ import annotations

import asyncio
import json

import httpx

from tests.api.conftest import ADMIN, Seeded


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_evaluate_bulk__server_key__every_flag_with_reasons_and_latency(
    http: httpx.AsyncClient, seeded: Seeded
) -> None:
    response = await http.post(
        "/api/v1/evaluate",
        json={"context": {"targeting_key": "u1", "country": "CA", "plan": "pro"}},
        headers=auth(seeded.server_key),
    )

    assert response.status_code == 200
    body = response.json()
    assert body["environment"] == "production"
    assert isinstance(body["latency_ms"], float)
    assert body["flags"]["new-checkout"] == {
        "value": True,
        "variant": "on",
        "reason": "TARGETING_MATCH",
        "error_code": None,
        "error_message": None,
        "version": 1,
    }
    assert set(body["flags"]) == {
        "banner-text",
        "checkout.layout",
        "discount-rate",
        "legacy-mode",
        "new-checkout",
        "search.max-results",
    }


async def test_evaluate_bulk__client_key__only_client_visible_flags(
    http: httpx.AsyncClient, seeded: Seeded
) -> None:
    listed = await http.post("/api/v1/evaluate", json={}, headers=auth(seeded.client_key))
    asked = await http.post(
        "/api/v1/evaluate",
        json={"flags": ["discount-rate"], "context": {}},
        headers=auth(seeded.client_key),
    )

    assert set(listed.json()["flags"]) == {"banner-text", "new-checkout"}
    # A flag that is not client-visible answers exactly like a missing one.
    assert asked.json()["flags"]["discount-rate"]["error_code"] == "FLAG_NOT_FOUND"
    assert asked.json()["flags"]["discount-rate"]["value"] is None


async def test_evaluate_one__query_context__one_result(
    http: httpx.AsyncClient, seeded: Seeded
) -> None:
    context = json.dumps({"targeting_key": "alice"})
    found = await http.get(
        f"/api/v1/flags/banner-text/evaluate?context={context}",
        headers={"X-API-Key": seeded.server_key},
    )
    missing = await http.get("/api/v1/flags/nope/evaluate", headers=auth(seeded.server_key))

    assert found.status_code == 200
    assert (found.json()["value"], found.json()["reason"]) == (
        "Good to see you again!",
        "TARGETING_MATCH",
    )
    assert "latency_ms" in found.json()
    assert missing.status_code == 404
    assert missing.json()["error_code"] == "FLAG_NOT_FOUND"


async def test_evaluation__environment_of_the_key__decides(
    http: httpx.AsyncClient, seeded: Seeded
) -> None:
    staging = await http.post(
        "/api/v1/evaluate", json={"flags": ["legacy-mode"]}, headers=auth(seeded.staging_key)
    )

    assert staging.json()["environment"] == "staging"
    assert staging.json()["flags"]["legacy-mode"]["reason"] == "DISABLED"


async def test_evaluation__key_problems__401_or_403_with_json_body(
    http: httpx.AsyncClient, seeded: Seeded
) -> None:
    missing = await http.post("/api/v1/evaluate", json={})
    garbage = await http.post("/api/v1/evaluate", json={}, headers=auth("ffs_not-a-real-key"))
    admin = await http.post("/ofrep/v1/evaluate/flags", json={}, headers=auth(seeded.admin_key))

    assert (missing.status_code, garbage.status_code, admin.status_code) == (401, 401, 403)
    assert missing.json()["code"] == "unauthorized"
    assert "Authorization: Bearer" in missing.json()["message"]
    assert admin.json()["message"] == "this route takes client or server keys, not admin keys"


async def test_evaluation__revoked_key__refused_within_poll_interval(
    http: httpx.AsyncClient, seeded: Seeded
) -> None:
    [key] = [k for k in await seeded.services.access.list_keys("demo") if k.name == "web"]
    assert (
        await http.post("/api/v1/evaluate", json={}, headers=auth(seeded.client_key))
    ).status_code == 200

    await seeded.services.access.revoke_key(ADMIN, "demo", key.id)
    await asyncio.sleep(seeded.settings.poll_interval_s + 0.1)

    refused = await http.post("/api/v1/evaluate", json={}, headers=auth(seeded.client_key))
    assert refused.status_code == 401


async def test_evaluation__bad_input__clear_4xx_never_a_trace(
    http: httpx.AsyncClient, seeded: Seeded
) -> None:
    headers = {**auth(seeded.server_key), "Content-Type": "application/json"}

    not_json = await http.post("/api/v1/evaluate", content=b"{nope", headers=headers)
    not_object = await http.post("/api/v1/evaluate", json={"context": [1, 2]}, headers=headers)
    bad_flags = await http.post("/api/v1/evaluate", json={"flags": "x"}, headers=headers)
    huge = await http.post("/api/v1/evaluate", content=b"{" + b" " * 70_000 + b"}", headers=headers)
    huge_context = await http.post(
        "/api/v1/evaluate", json={"context": {"blob": "x" * 40_000}}, headers=headers
    )
    ofrep_bad = await http.post(
        "/ofrep/v1/evaluate/flags/new-checkout", json={"context": "nope"}, headers=headers
    )

    assert [r.status_code for r in (not_json, not_object, bad_flags, huge, huge_context)] == [
        400,
        400,
        400,
        413,
        413,
    ]
    assert "not valid JSON" in not_json.json()["message"]
    assert ofrep_bad.status_code == 400
    assert ofrep_bad.json() == {
        "key": "new-checkout",
        "errorCode": "INVALID_CONTEXT",
        "errorDetails": "context must be a JSON object",
    }
    for response in (not_json, not_object, bad_flags, huge, huge_context, ofrep_bad):
        assert "Traceback" not in response.text


async def test_health__ready_with_store(http: httpx.AsyncClient) -> None:
    assert (await http.get("/healthz")).json() == {"status": "ok"}
    assert (await http.get("/readyz")).json() == {"status": "ready"}
