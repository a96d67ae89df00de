"""Tenants over HTTP against the real app on moto: onboarding, overrides, views, roles,
registry enforcement, internal_only, and evaluation honouring tenant state everywhere
flags are served (native API, OFREP, an SDK over HTTP, the definition stream)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from ff_api.routes.sdk import flag_for
from ff_core import registry, tenancy
from ff_core.client import FlagClient, configure
from ff_core.client.snapshot import Change, Snapshot, validate_flag
from ff_core.evaluation import CompiledEnvironment, evaluate
from ff_core.limits import MAX_VALUES_PER_TARGET
from ff_core.models import EntityKind, Flag, KeyKind, Role, Tenant, TenantValue
from ff_core.registry import default_config
from tests.api.conftest import ADMIN, Seeded
from tests.api.sse import open_stream
from tests.client.conftest import eventually, fast_backoff
from tests.tenants_support import enforce, put_registry_flag, registry_flag, unregister

P = "/api/v1/projects/demo"
SEARCH = "search.v2"
INTERNAL = "billing.internal"


@dataclass
class Keys:
    admin: dict[str, str]
    editor: dict[str, str]
    viewer: dict[str, str]
    server: dict[str, str]
    client: dict[str, str]


def bearer(raw: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw}"}


@pytest.fixture
async def keys(seeded: Seeded) -> Keys:
    """Two registry flags in the demo project, and a key for every role."""
    store = seeded.services.store
    defaults = {"development": "on", "staging": "off", "production": "off"}
    await put_registry_flag(store, ADMIN, "demo", registry_flag(SEARCH, defaults))
    internal = registry_flag(INTERNAL, {"production": "on"}, internal_only=True)
    await put_registry_flag(store, ADMIN, "demo", internal)
    access = seeded.services.access
    _, editor = await access.create_key(ADMIN, "demo", KeyKind.ADMIN, "ed", role=Role.EDITOR)
    _, viewer = await access.create_key(ADMIN, "demo", KeyKind.ADMIN, "vi", role=Role.VIEWER)
    return Keys(
        bearer(seeded.admin_key),
        bearer(editor),
        bearer(viewer),
        bearer(seeded.server_key),
        bearer(seeded.client_key),
    )


async def onboard(http: httpx.AsyncClient, keys: Keys, tenant: str) -> httpx.Response:
    return await http.post(f"{P}/tenants", json={"key": tenant}, headers=keys.editor)


async def override(
    http: httpx.AsyncClient, keys: Keys, tenant: str, variant: str, env: str = "production"
) -> httpx.Response:
    url = f"{P}/tenants/{tenant}/flags/{SEARCH}/{env}"
    return await http.put(url, json={"variant": variant}, headers=keys.editor)


async def native(
    http: httpx.AsyncClient, keys: Keys, context: dict[str, Any], key: str = SEARCH
) -> Any:
    url = f"/api/v1/flags/{key}/evaluate?context={quote(json.dumps(context))}"
    response = await http.get(url, headers=keys.server)
    assert response.status_code == 200, response.text
    return response.json()["value"]


async def ofrep(
    http: httpx.AsyncClient, keys: Keys, context: dict[str, Any], key: str = SEARCH
) -> Any:
    url = f"/ofrep/v1/evaluate/flags/{key}"
    response = await http.post(url, json={"context": context}, headers=keys.server)
    assert response.status_code == 200, response.text
    return response.json()["value"]


async def both_say(
    http: httpx.AsyncClient, keys: Keys, context: dict[str, Any], key: str = SEARCH
) -> Any:
    """The value the native API and OFREP agree on (they share the snapshot)."""
    value = await native(http, keys, context, key)
    assert await ofrep(http, keys, {"targetingKey": "u1", **context}, key) == value
    return value


# -- onboarding ---------------------------------------------------------------------------------


async def test_onboard__twice__201_then_200_state_from_defaults(
    http: httpx.AsyncClient, keys: Keys
) -> None:
    first = await onboard(http, keys, "acme")
    again = await onboard(http, keys, "acme")

    assert (first.status_code, first.json()["created"]) == (201, True)
    assert (again.status_code, again.json()["created"]) == (200, False)
    state = first.json()["tenant"]["state"]
    assert state[SEARCH] == {
        env: {"variant": v, "overridden": False}
        for env, v in {"development": "on", "staging": "off", "production": "off"}.items()
    }
    assert state[INTERNAL] == {"production": {"variant": "on", "overridden": False}}
    assert again.json()["tenant"] == first.json()["tenant"]


async def test_onboard__retry_with_same_idempotency_key__one_history_entry(
    http: httpx.AsyncClient, keys: Keys, seeded: Seeded
) -> None:
    headers = {**keys.editor, "Idempotency-Key": "onboard-acme-1"}
    body = {"key": "acme", "name": "Acme Inc."}
    first = await http.post(f"{P}/tenants", json=body, headers=headers)
    retry = await http.post(f"{P}/tenants", json=body, headers=headers)

    history = await seeded.services.store.list_history("demo", EntityKind.TENANT, "acme")
    assert first.status_code == 201
    assert retry.status_code == 201  # a replay answers as the first call did
    assert retry.json()["tenant"] == first.json()["tenant"]
    assert [e.action.value for e in history.items] == ["onboarded"]


async def test_onboard__invalid_key__422_naming_the_field(
    http: httpx.AsyncClient, keys: Keys
) -> None:
    response = await http.post(f"{P}/tenants", json={"key": "has space"}, headers=keys.editor)

    assert response.status_code == 422
    assert "key" in response.text


# -- overrides and views ------------------------------------------------------------------------


async def test_override__set_stale_and_clear__versions_and_view_follow(
    http: httpx.AsyncClient, keys: Keys
) -> None:
    version = (await onboard(http, keys, "acme")).json()["tenant"]["version"]
    url = f"{P}/tenants/acme/flags/{SEARCH}/production"

    stale = await http.put(
        url, json={"variant": "on"}, headers={**keys.editor, "If-Match": str(version - 1)}
    )
    set_ = await http.put(
        url, json={"variant": "on"}, headers={**keys.editor, "If-Match": str(version)}
    )
    viewed = await http.get(f"{P}/tenants/acme", headers=keys.viewer)
    cleared = await http.delete(url, headers=keys.editor)
    after = await http.get(f"{P}/tenants/acme", headers=keys.viewer)
    unknown_variant = await override(http, keys, "acme", "maybe")

    assert stale.status_code == 409
    assert (stale.json()["expected"], stale.json()["current"]) == (version - 1, version)
    assert set_.status_code == 200
    assert set_.headers["etag"] == f'"{version + 1}"'
    values = {(v["flag"], v["environment"]): v for v in viewed.json()["values"]}
    assert values[(SEARCH, "production")] | {"value": None} == {
        "flag": SEARCH,
        "environment": "production",
        "variant": "on",
        "value": None,
        "explicit": True,
        "overridden": True,
    }
    assert values[(SEARCH, "staging")]["explicit"] is True
    assert values[(INTERNAL, "staging")]["explicit"] is False  # no default there: none stored
    assert cleared.status_code == 200
    after_values = {(v["flag"], v["environment"]): v for v in after.json()["values"]}
    assert after_values[(SEARCH, "production")]["explicit"] is False
    assert after_values[(SEARCH, "production")]["variant"] == "off"
    assert unknown_variant.status_code == 422
    assert "maybe" in unknown_variant.json()["message"]


async def test_override__flag_not_in_registry__404_naming_the_registry(
    http: httpx.AsyncClient, keys: Keys
) -> None:
    await onboard(http, keys, "acme")

    response = await http.put(
        f"{P}/tenants/acme/flags/legacy-mode/production",
        json={"variant": "on"},
        headers=keys.editor,
    )

    assert response.status_code == 404
    assert "registry" in response.json()["message"]


async def test_list_and_across__five_tenants__cursor_pages_in_key_order(
    http: httpx.AsyncClient, keys: Keys
) -> None:
    names = ["t1", "t2", "t3", "t4", "t5"]
    for name in names:
        await onboard(http, keys, name)
    await override(http, keys, "t3", "on")

    listed, cursor = [], None
    while True:
        query = f"?limit=2{f'&cursor={cursor}' if cursor else ''}"
        page = (await http.get(f"{P}/tenants{query}", headers=keys.viewer)).json()
        listed.append([t["key"] for t in page["items"]])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    across, cursor = [], None
    while True:
        query = f"?environment=production&limit=3{f'&cursor={cursor}' if cursor else ''}"
        response = await http.get(f"{P}/flags/{SEARCH}/tenants{query}", headers=keys.viewer)
        page = response.json()
        across += [(v["tenant"], v["variant"], v["overridden"]) for v in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    no_env = await http.get(f"{P}/flags/{SEARCH}/tenants", headers=keys.viewer)

    assert listed == [["t1", "t2"], ["t3", "t4"], ["t5"]]
    assert across == [
        ("t1", "off", False),
        ("t2", "off", False),
        ("t3", "on", True),
        ("t4", "off", False),
        ("t5", "off", False),
    ]
    assert no_env.status_code == 400
    assert no_env.json()["field"] == "environment"


# -- roles --------------------------------------------------------------------------------------


async def test_roles__viewer_reads_editor_writes_admin_offboards(
    http: httpx.AsyncClient, keys: Keys
) -> None:
    by_viewer = await http.post(f"{P}/tenants", json={"key": "acme"}, headers=keys.viewer)
    await onboard(http, keys, "acme")
    viewer_reads = await http.get(f"{P}/tenants/acme", headers=keys.viewer)
    viewer_override = await http.put(
        f"{P}/tenants/acme/flags/{SEARCH}/production", json={"variant": "on"}, headers=keys.viewer
    )
    editor_offboards = await http.delete(f"{P}/tenants/acme", headers=keys.editor)
    editor_cleans = await http.post(f"{P}/tenants/cleanup", headers=keys.editor)
    admin_offboards = await http.delete(f"{P}/tenants/acme", headers=keys.admin)
    gone = await http.get(f"{P}/tenants/acme", headers=keys.viewer)
    anonymous = await http.get(f"{P}/tenants")

    assert by_viewer.status_code == 403
    assert viewer_reads.status_code == 200
    assert viewer_override.status_code == 403
    assert editor_offboards.status_code == 403
    assert editor_cleans.status_code == 403
    assert admin_offboards.status_code == 204
    assert gone.status_code == 404
    assert anonymous.status_code == 401


# -- the registry in the management API ---------------------------------------------------------


async def test_enforced_project__write_to_unknown_key__400_not_in_registry(
    http: httpx.AsyncClient, keys: Keys, seeded: Seeded
) -> None:
    await enforce(seeded.services.store, ADMIN, "demo")
    flag = {"key": "freeform", "name": "Freeform", "variants": {"on": {"value": True}}}

    created = await http.post(f"{P}/flags", json=flag, headers=keys.editor)
    patched = await http.patch(
        f"{P}/flags/legacy-mode", json={"name": "Renamed"}, headers=keys.editor
    )
    registry_write = await http.post(
        f"{P}/flags/{SEARCH}/set-enabled-in",
        json={"environments": ["production"], "enabled": False},
        headers=keys.editor,
    )

    for refused, key in ((created, "freeform"), (patched, "legacy-mode")):
        assert refused.status_code == 400, refused.text
        body = refused.json()
        assert body["code"] == "not_in_registry"
        assert key in body["message"]
        assert "registry" in body["message"]
    assert registry_write.status_code == 200


async def test_flag_responses__registry_flag__registry_and_is_default_per_environment(
    http: httpx.AsyncClient, keys: Keys
) -> None:
    before = (await http.get(f"{P}/flags/{SEARCH}", headers=keys.viewer)).json()
    await http.post(
        f"{P}/flags/{SEARCH}/set-enabled-in",
        json={"environments": ["staging"], "enabled": False},
        headers=keys.editor,
    )
    after = (await http.get(f"{P}/flags/{SEARCH}", headers=keys.viewer)).json()
    summaries = (await http.get(f"{P}/flags?limit=200", headers=keys.viewer)).json()["items"]
    plain = (await http.get(f"{P}/flags/legacy-mode", headers=keys.viewer)).json()

    assert before["registry"]["defaults"]["production"] == "off"
    assert before["is_default"] == {"development": True, "staging": True, "production": True}
    assert after["is_default"] == {"development": True, "staging": False, "production": True}
    summary = next(s for s in summaries if s["key"] == SEARCH)
    assert summary["registry"] is True
    assert summary["environments"]["staging"]["is_default"] is False
    assert summary["environments"]["production"]["is_default"] is True
    assert "is_default" not in plain
    assert plain["registry"] is None


# -- internal_only ------------------------------------------------------------------------------


async def test_internal_only__client_key__absent_from_every_browser_answer(
    http: httpx.AsyncClient, keys: Keys
) -> None:
    context = {"targetingKey": "u1"}
    bulk = await http.post(
        "/ofrep/v1/evaluate/flags", json={"context": context}, headers=keys.client
    )
    single = await http.post(
        f"/ofrep/v1/evaluate/flags/{INTERNAL}", json={"context": context}, headers=keys.client
    )
    native_bulk = await http.post(
        "/api/v1/evaluate", json={"context": context}, headers=keys.client
    )
    by_server = await http.post(
        f"/ofrep/v1/evaluate/flags/{INTERNAL}", json={"context": context}, headers=keys.server
    )
    both = {"key": "both", "name": "Both", "variants": {"on": {"value": True}}}
    refused = await http.post(
        f"{P}/flags",
        json={**both, "client_visible": True, "internal_only": True},
        headers=keys.editor,
    )
    url = f"/api/v1/browser/stream?key={keys.client['Authorization'][7:]}&context=%7B%7D"
    async with open_stream(http, url, {}) as stream:
        snapshot = await stream.next()

    assert bulk.status_code == 200
    assert INTERNAL not in {f["key"] for f in bulk.json()["flags"]}
    assert single.status_code == 404
    assert INTERNAL not in native_bulk.json()["flags"]
    assert snapshot.event == "snapshot"
    assert snapshot.data["flags"]
    assert INTERNAL not in snapshot.data["flags"]
    assert by_server.json()["value"] is True  # server keys are not browsers
    assert refused.status_code == 422
    assert "internal_only" in refused.text


# -- evaluation honours tenant state ------------------------------------------------------------


async def test_evaluation__override__native_and_ofrep_serve_the_tenant_value(
    http: httpx.AsyncClient, keys: Keys
) -> None:
    await onboard(http, keys, "acme")
    await onboard(http, keys, "globex")
    await override(http, keys, "acme", "on")

    async def acme_on() -> bool:
        return bool(await both_say(http, keys, {"tenant": "acme"}) is True)

    await eventually(acme_on)
    assert await both_say(http, keys, {"tenant": "globex"}) is False
    assert await both_say(http, keys, {"tenant": "nobody"}) is False


async def test_tenant_attribute__patched_project__evaluation_reads_the_new_attribute(
    http: httpx.AsyncClient, keys: Keys
) -> None:
    await onboard(http, keys, "acme")
    await override(http, keys, "acme", "on")
    project = (await http.get(P, headers=keys.admin)).json()

    refused = await http.patch(P, json={"tenant_attribute": "org"}, headers=keys.editor)
    assert refused.status_code == 403
    stale = {**keys.admin, "If-Match": f'"{project["version"] - 1}"'}
    conflict = await http.patch(P, json={"tenant_attribute": "org"}, headers=stale)
    assert conflict.status_code == 409
    bad = await http.patch(P, json={"tenant_attribute": "no spaces"}, headers=keys.admin)
    assert bad.status_code == 422
    assert "tenant_attribute" in bad.text
    unknown = await http.patch(P, json={"key": "other"}, headers=keys.admin)
    assert unknown.status_code == 422
    assert "updatable fields" in unknown.text
    current = {**keys.admin, "If-Match": f'"{project["version"]}"'}
    changed = await http.patch(P, json={"tenant_attribute": "org"}, headers=current)
    assert changed.status_code == 200, changed.text
    assert changed.json()["tenant_attribute"] == "org"

    async def follows_org() -> bool:
        return bool(await both_say(http, keys, {"org": "acme"}) is True)

    await eventually(follows_org)
    assert await both_say(http, keys, {"tenant": "acme"}) is False


async def test_browser__client_visible_registry_flag__stream_and_ofrep_follow_override(
    http: httpx.AsyncClient, keys: Keys, seeded: Seeded
) -> None:
    visible = registry_flag("banner.tenant", {"production": "off"}, client_visible=True)
    await put_registry_flag(seeded.services.store, ADMIN, "demo", visible)
    await onboard(http, keys, "acme")
    context = {"targetingKey": "u1", "tenant": "acme"}

    async def bulk() -> Any:
        response = await http.post(
            "/ofrep/v1/evaluate/flags", json={"context": context}, headers=keys.client
        )
        return {f["key"]: f.get("value") for f in response.json()["flags"]}.get("banner.tenant")

    await eventually(lambda: _is(bulk(), False))
    raw = keys.client["Authorization"].removeprefix("Bearer ")
    url = f"/api/v1/browser/stream?key={raw}&context={quote(json.dumps(context))}"
    async with open_stream(http, url, {}) as stream:
        first = await stream.next()
        await http.put(
            f"{P}/tenants/acme/flags/banner.tenant/production",
            json={"variant": "on"},
            headers=keys.editor,
        )
        change = await stream.next()

    assert first.data["flags"]["banner.tenant"]["value"] is False
    assert change.event == "change"
    assert change.data["flags"]["banner.tenant"]["value"] is True
    assert await bulk() is True  # the kept bulk answer was for the old environment


async def _is(value: Any, expected: object) -> bool:
    return bool(await value == expected)


async def test_changing_a_default__existing_tenants_keep_theirs__new_ones_get_it(
    http: httpx.AsyncClient, keys: Keys, seeded: Seeded
) -> None:
    await onboard(http, keys, "early")
    defaults = {"development": "on", "staging": "on", "production": "on"}
    await put_registry_flag(seeded.services.store, ADMIN, "demo", registry_flag(SEARCH, defaults))
    late = await onboard(http, keys, "late")

    async def default_is_on() -> bool:
        return bool(await both_say(http, keys, {"tenant": "not-onboarded"}) is True)

    await eventually(default_is_on)
    assert late.json()["tenant"]["state"][SEARCH]["production"]["variant"] == "on"
    assert await both_say(http, keys, {"tenant": "early"}) is False
    assert await both_say(http, keys, {"tenant": "late"}) is True


async def test_registry_sync_changes_a_default__tenants_onboarded_before_keep_theirs(
    http: httpx.AsyncClient, keys: Keys, seeded: Seeded
) -> None:
    """The same as above through the real ``ff registry sync`` service and file format."""
    sync = seeded.services.registry.sync
    await sync(ADMIN, "demo", registry.parse("[flags.dark-mode]\ndefault = false\n"))
    await onboard(http, keys, "early")
    await sync(ADMIN, "demo", registry.parse("[flags.dark-mode]\ndefault = true\n"))
    await onboard(http, keys, "late")

    async def default_is_on() -> bool:
        return bool(await both_say(http, keys, {"tenant": "someone"}, "dark-mode") is True)

    await eventually(default_is_on)
    assert await both_say(http, keys, {"tenant": "early"}, "dark-mode") is False
    assert await both_say(http, keys, {"tenant": "late"}, "dark-mode") is True


async def test_sdk_over_http__override__client_follows_the_tenant_value(
    api_url: str, http: httpx.AsyncClient, keys: Keys, seeded: Seeded
) -> None:
    await onboard(http, keys, "acme")
    client = await FlagClient.connect(
        url=api_url, server_key=seeded.server_key, backoff=fast_backoff()
    )
    changed: list[list[str]] = []
    client.on_change(changed.append)
    try:
        before = await client.is_enabled(SEARCH, {"targeting_key": "u1", "tenant": "acme"})
        await override(http, keys, "acme", "on")
        await eventually(
            lambda: client.is_enabled(SEARCH, {"targeting_key": "u", "tenant": "acme"})
        )
        other = await client.is_enabled(SEARCH, {"targeting_key": "u1", "tenant": "globex"})
    finally:
        await client.close()

    assert before is False
    assert other is False
    assert any(SEARCH in keys for keys in changed)  # listeners hear of a tenant's change


def targets(event_data: dict[str, Any], key: str = SEARCH) -> list[dict[str, Any]]:
    flag = next(f for f in event_data["flags"] if f["key"] == key)
    return list(flag["environments"]["production"]["targets"])


async def served_with(http: httpx.AsyncClient, keys: Keys, target: dict[str, Any]) -> None:
    """Until the replica serves SDKs ``target`` on SEARCH in production."""

    async def check() -> bool:
        served = await http.get("/api/v1/sdk/flags", headers=keys.server)
        return target in targets(served.json())

    await eventually(check)


async def test_sdk_stream__override__retarget_event_with_just_the_changed_flag(
    http: httpx.AsyncClient, keys: Keys
) -> None:
    await onboard(http, keys, "acme")
    await served_with(http, keys, {"variant": "off", "values": ["acme"], "attribute": "tenant"})
    async with open_stream(http, "/api/v1/sdk/stream", keys.server) as stream:
        first = await stream.next()
        await override(http, keys, "acme", "on")
        changed = await stream.next()

    assert first.event == "snapshot"
    assert changed.event == "retarget"
    assert int(changed.id or 0) == changed.data["seq"] > int(first.id or 0)
    assert changed.data["tenant"] == "acme"
    assert [f["key"] for f in changed.data["flags"]] == [SEARCH]
    assert targets(changed.data) == [{"variant": "on", "values": ["acme"], "attribute": "tenant"}]


async def test_sdk_stream__resume_past_a_tenant_change__snapshot_not_a_stale_replay(
    http: httpx.AsyncClient, keys: Keys
) -> None:
    await onboard(http, keys, "acme")
    await served_with(http, keys, {"variant": "off", "values": ["acme"], "attribute": "tenant"})
    async with open_stream(http, "/api/v1/sdk/stream", keys.server) as stream:
        seen = (await stream.next()).id or "0"
    await override(http, keys, "acme", "on")
    await http.patch(f"{P}/flags/legacy-mode", json={"name": "Legacy"}, headers=keys.editor)

    async def caught_up() -> bool:
        served = await http.get("/api/v1/sdk/flags", headers=keys.server)
        return bool(served.json()["seq"] >= int(seen) + 2)

    await eventually(caught_up)  # the replica applied both, so the resume spans them
    resume = {**keys.server, "Last-Event-ID": seen}
    async with open_stream(http, "/api/v1/sdk/stream", resume) as stream:
        resumed = await stream.next()

    assert resumed.event == "snapshot"
    assert int(resumed.id or 0) >= int(seen) + 2
    flag = next(f for f in resumed.data["flags"] if f["key"] == SEARCH)
    targets = flag["environments"]["production"]["targets"]
    assert targets == [{"variant": "on", "values": ["acme"], "attribute": "tenant"}]


async def test_sdk_stream__flag_change_after_onboarding__upsert_keeps_tenant_targets(
    http: httpx.AsyncClient, keys: Keys
) -> None:
    await onboard(http, keys, "acme")
    await override(http, keys, "acme", "on")
    async with open_stream(http, "/api/v1/sdk/stream", keys.server) as stream:
        await stream.next()
        await http.post(
            f"{P}/flags/{SEARCH}/set-enabled-in",
            json={"environments": ["production"], "enabled": True},
            headers=keys.editor,
        )
        await http.patch(f"{P}/flags/{SEARCH}", json={"name": "Search v2"}, headers=keys.editor)
        upsert = await stream.next()

    assert upsert.event == "upsert"
    targets = upsert.data["definition"]["environments"]["production"]["targets"]
    assert targets == [{"variant": "on", "values": ["acme"], "attribute": "tenant"}]


async def test_library_mode__override_then_flag_change__tenant_value_kept(
    keys: Keys, seeded: Seeded
) -> None:
    tenants, flags = seeded.services.tenants, seeded.services.flags
    await tenants.onboard(ADMIN, "demo", "acme")
    configure(
        table=seeded.settings.table,
        dynamodb_endpoint=seeded.settings.dynamodb_endpoint,
        default_project="demo",
        environment="production",
    )
    acme = {"targeting_key": "u1", "tenant": "acme"}
    try:
        async with FlagClient(poll_interval_s=0.1, usage_interval_s=None) as client:
            before = await client.is_enabled(SEARCH, acme)
            await tenants.set_override(ADMIN, "demo", "acme", SEARCH, "production", "on")
            await eventually(lambda: client.is_enabled(SEARCH, acme))
            # A change of the flag itself (an upsert read from the store) keeps the targets.
            await flags.update_flag(ADMIN, "demo", SEARCH, {"name": "Search v2"})
            seq = await seeded.services.store.get_seq("demo")
            await eventually(lambda: client.seq == seq)
            after = await client.is_enabled(SEARCH, acme)
            other = await client.is_enabled(SEARCH, {"targeting_key": "u1", "tenant": "globex"})
    finally:
        configure()

    assert before is False
    assert after is True
    assert other is False


def test_flag_for__more_tenants_on_one_variant_than_a_target_holds__sdk_accepts_it() -> None:
    count = MAX_VALUES_PER_TARGET * 2 + 1
    flag = put_defaults(registry_flag(SEARCH, {"production": "off"}))
    tenants = {
        f"t{i}": Tenant.model_construct(
            key=f"t{i}", name="", state={SEARCH: {"production": TenantValue(variant="on")}}
        )
        for i in range(count)
    }
    served = tenancy.with_tenant_state("demo", {SEARCH: flag}, tenants, "tenant")[SEARCH]

    parsed = validate_flag(flag_for(served, "production"))

    assert isinstance(parsed, Flag), parsed
    targets = parsed.environments["production"].targets
    assert [len(t.values) for t in targets] == [MAX_VALUES_PER_TARGET] * 2 + [1]
    env = CompiledEnvironment("production", [parsed])
    assert evaluate(env, SEARCH, {"tenant": f"t{count - 1}"}).variant == "on"
    assert evaluate(env, SEARCH, {"tenant": "t-none"}).variant == "off"


def test_client_snapshot__retarget__applied_when_newer_than_the_snapshot_only() -> None:
    flag = put_defaults(registry_flag(SEARCH, {"production": "off"}))
    acme = Tenant(
        key="acme", name="acme", state={SEARCH: {"production": TenantValue(variant="on")}}
    )
    served = tenancy.with_tenant_state("demo", {SEARCH: flag}, {"acme": acme}, "tenant")[SEARCH]
    snapshot = Snapshot.build("demo", "production", 10, [flag], [])

    def retarget(seq: int) -> Change:
        return Change(EntityKind.FLAG, SEARCH, seq, flag.version, served, retarget=True)

    stale, _ = snapshot.apply([retarget(9)])  # from a replica behind this snapshot
    newer, changed = snapshot.apply([retarget(11)])
    plain, _ = snapshot.apply([Change(EntityKind.FLAG, SEARCH, 11, flag.version, served)])

    tenant = {"tenant": "acme"}
    assert evaluate(stale.compiled, SEARCH, tenant).variant == "off"
    assert evaluate(newer.compiled, SEARCH, tenant).variant == "on"
    assert changed == {SEARCH}
    assert newer.seq == 11
    assert evaluate(plain.compiled, SEARCH, tenant).variant == "off"  # same version: a replay


def put_defaults(flag: Flag) -> Flag:
    """``flag`` with its environments at the registry defaults, as a sync leaves it."""
    configs = {e: c for e in ("production",) if (c := default_config(flag, e))}
    return flag.replace(environments=configs)


# -- orphaned state and cleanup -----------------------------------------------------------------


async def test_orphaned_state__ignored_logged_once__cleanup_dry_run_then_removes(
    http: httpx.AsyncClient, keys: Keys, seeded: Seeded, caplog: pytest.LogCaptureFixture
) -> None:
    await onboard(http, keys, "acme")
    await override(http, keys, "acme", "on")
    tenancy._logged.clear()
    with caplog.at_level(logging.WARNING, logger="ff.tenants"):
        await unregister(seeded.services.store, ADMIN, "demo", SEARCH)

        async def default_served() -> bool:
            return bool(await native(http, keys, {"tenant": "acme"}) is False)

        await eventually(default_served)
        await native(http, keys, {"tenant": "acme"})
        version = (await http.get(f"{P}/tenants/acme", headers=keys.viewer)).json()["tenant"]
        viewed = await http.get(f"{P}/tenants/acme", headers=keys.viewer)
        dry = await http.post(f"{P}/tenants/cleanup?dry_run=true", headers=keys.admin)
        unchanged = (await http.get(f"{P}/tenants/acme", headers=keys.viewer)).json()["tenant"]
        cleaned = await http.post(f"{P}/tenants/cleanup", headers=keys.admin)
        after = (await http.get(f"{P}/tenants/acme", headers=keys.viewer)).json()

    warnings = [r.getMessage() for r in caplog.records if r.name == "ff.tenants"]
    assert len([w for w in warnings if SEARCH in w and "acme" in w]) == 1
    assert viewed.json()["orphaned"] == [SEARCH]
    assert dry.json() == {"dry_run": True, "removed": {"acme": [SEARCH]}}
    assert unchanged == version
    assert cleaned.json() == {"dry_run": False, "removed": {"acme": [SEARCH]}}
    assert after["orphaned"] == []
    assert SEARCH not in after["tenant"]["state"]
    assert after["tenant"]["version"] == version["version"] + 1
