"""The official OpenFeature OFREP provider, through openfeature-sdk, against our API on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from openfeature import api as openfeature
from openfeature.client import OpenFeatureClient
from openfeature.contrib.provider.ofrep import OFREPProvider
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import Reason

from tests.api.conftest import Seeded


@pytest.fixture
def client(api_url: str, seeded: Seeded) -> Iterator[OpenFeatureClient]:
    provider = OFREPProvider(
        api_url, headers_factory=lambda: {"Authorization": f"Bearer {seeded.server_key}"}
    )
    openfeature.set_provider(provider, domain="ff-test")
    yield openfeature.get_client(domain="ff-test")
    openfeature.shutdown()


US_PRO = EvaluationContext(targeting_key="u1", attributes={"country": "US", "plan": "pro"})


async def test_ofrep_provider__boolean_rule_match__value_variant_reason(
    client: OpenFeatureClient,
) -> None:
    details = await asyncio.to_thread(client.get_boolean_details, "new-checkout", False, US_PRO)

    assert (details.value, details.variant, details.reason) == (True, "on", Reason.TARGETING_MATCH)
    assert details.error_code is None


async def test_ofrep_provider__every_value_type__typed_values(client: OpenFeatureClient) -> None:
    alice = EvaluationContext(targeting_key="alice")
    carol = EvaluationContext(targeting_key="carol")

    text = await asyncio.to_thread(client.get_string_details, "banner-text", "", alice)
    number = await asyncio.to_thread(client.get_integer_details, "search.max-results", 0, carol)
    rate = await asyncio.to_thread(client.get_float_details, "discount-rate", 0.0, alice)
    layout = await asyncio.to_thread(client.get_object_details, "checkout.layout", {}, alice)

    assert (text.value, text.reason) == ("Good to see you again!", Reason.TARGETING_MATCH)
    assert (number.value, number.variant, number.reason) == (100, "large", Reason.TARGETING_MATCH)
    assert (rate.value, rate.reason) == (0.25, Reason.STATIC)
    assert (layout.value, layout.variant, layout.reason) == ({"columns": 3}, "wide", Reason.STATIC)


async def test_ofrep_provider__split__reason_split(client: OpenFeatureClient) -> None:
    fr = EvaluationContext(targeting_key="user-7", attributes={"country": "FR"})

    details = await asyncio.to_thread(client.get_boolean_details, "new-checkout", False, fr)

    assert details.reason == Reason.SPLIT
    assert details.variant in {"on", "off"}


async def test_ofrep_provider__disabled_flag__off_variant_reason_disabled(
    client: OpenFeatureClient,
) -> None:
    details = await asyncio.to_thread(client.get_boolean_details, "legacy-mode", True, US_PRO)

    assert (details.value, details.variant, details.reason) == (False, "off", Reason.DISABLED)


async def test_ofrep_provider__unknown_flag__default_and_flag_not_found(
    client: OpenFeatureClient,
) -> None:
    details = await asyncio.to_thread(client.get_boolean_details, "nope", True, US_PRO)

    assert (details.value, details.error_code, details.reason) == (
        True,
        ErrorCode.FLAG_NOT_FOUND,
        Reason.ERROR,
    )


async def test_ofrep_provider__no_targeting_key_on_rollout__default_and_error_code(
    client: OpenFeatureClient,
) -> None:
    details = await asyncio.to_thread(
        client.get_boolean_details, "new-checkout", True, EvaluationContext(attributes={})
    )

    assert details.value is True
    assert details.error_code == ErrorCode.TARGETING_KEY_MISSING


async def test_ofrep_bulk__same_context_twice__etag_then_304(
    http: httpx.AsyncClient, seeded: Seeded
) -> None:
    headers = {"X-API-Key": seeded.server_key}
    body = {"context": {"targetingKey": "u1", "country": "US", "plan": "pro"}}

    first = await http.post("/ofrep/v1/evaluate/flags", json=body, headers=headers)
    again = await http.post(
        "/ofrep/v1/evaluate/flags",
        json=body,
        headers={**headers, "If-None-Match": first.headers["etag"]},
    )
    other = await http.post(
        "/ofrep/v1/evaluate/flags",
        json={"context": {"targetingKey": "u2"}},
        headers={**headers, "If-None-Match": first.headers["etag"]},
    )

    assert first.status_code == 200
    flags = {f["key"]: f for f in first.json()["flags"]}
    assert flags["new-checkout"]["value"] is True
    assert flags["legacy-mode"]["reason"] == "DISABLED"
    assert again.status_code == 304
    assert other.status_code == 200


async def test_ofrep_bulk__flag_changes__etag_changes(
    http: httpx.AsyncClient, seeded: Seeded
) -> None:
    from tests.api.conftest import ADMIN

    headers = {"X-API-Key": seeded.server_key}
    body = {"context": {"targetingKey": "u1"}}
    first = await http.post("/ofrep/v1/evaluate/flags", json=body, headers=headers)

    await seeded.services.flags.set_enabled(ADMIN, "demo", "legacy-mode", "production", True)
    for _ in range(50):  # the follower polls every 0.2 s
        later = await http.post(
            "/ofrep/v1/evaluate/flags",
            json=body,
            headers={**headers, "If-None-Match": first.headers["etag"]},
        )
        if later.status_code == 200:
            break
        await asyncio.sleep(0.1)

    assert later.status_code == 200
    assert {f["key"]: f["value"] for f in later.json()["flags"]}["legacy-mode"] is True


async def test_ofrep_bulk__refetch_with_newer_flag_config_etag__replica_catches_up_first(
    seeded: Seeded,
) -> None:
    from tests.api.conftest import ADMIN, ServerThread

    # A replica whose own poll would not come for 60 s: only the refetch hint can help.
    server = ServerThread(seeded.settings.model_copy(update={"poll_interval_s": 60}))
    url = server.start()
    try:
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            headers = {"X-API-Key": seeded.server_key}
            body = {"context": {"targetingKey": "u1"}}
            first = await http.post("/ofrep/v1/evaluate/flags", json=body, headers=headers)
            changed = await seeded.services.flags.set_enabled(
                ADMIN, "demo", "legacy-mode", "production", True
            )
            seq = await seeded.services.store.get_seq("demo")
            conditional = {**headers, "If-None-Match": first.headers["etag"]}

            unhinted = await http.post("/ofrep/v1/evaluate/flags", json=body, headers=conditional)
            hinted = await http.post(
                f"/ofrep/v1/evaluate/flags?flagConfigEtag={seq}", json=body, headers=conditional
            )
    finally:
        server.stop()

    assert changed.environments["production"].enabled is True
    assert unhinted.status_code == 304  # this replica has not read the change log yet
    assert hinted.status_code == 200
    assert {f["key"]: f["value"] for f in hinted.json()["flags"]}["legacy-mode"] is True
