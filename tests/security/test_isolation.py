"""Who may do what where: every route x every credential, sessions x roles, projects x streams.

tests/api/test_management_roles.py holds the route x role table for admin keys. Here:

- the same table driven by dashboard sessions, whose roles come from membership: each
  role is allowed exactly what it needs, and a member of another project gets 404 on
  every route, exactly as for a project that does not exist;
- every route the app serves (enumerated from the app, classified by its OpenAPI entry,
  so a new route cannot be missed) against every kind of credential it does not take:
  401 without credentials, 403 for the wrong kind, and nothing written;
- two projects with writes in both: a stream of one (SDK stream, browser stream) never
  carries an event or a flag of the other.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

from ff_api import ApiSettings, create_app, openapi
from ff_core.models import Project, Role
from tests.api.conftest import ADMIN, Seeded
from tests.api.sse import Event, Stream, open_stream
from tests.api.test_management import session
from tests.api.test_management_roles import CASES, ROLES, Case, Ctx
from tests.security.conftest import World

# -- sessions x roles over the management table ----------------------------------------------


async def send_as(
    http: httpx.AsyncClient, case: Case, ctx: Ctx, headers: dict[str, str]
) -> tuple[httpx.Response, int]:
    prepared = await case.prepare(ctx)
    body = prepared.pop("json", None)
    sent = {"Content-Type": "application/json", **headers, **prepared.pop("headers", {})}
    path = case.path(**prepared)
    seq = await ctx.seeded.services.store.get_seq("demo")
    return await http.request(case.method, path, json=body, headers=sent), seq


async def test_sessions__each_role_allowed_exactly_what_it_needs__other_members_404(
    http: httpx.AsyncClient, seeded: Seeded
) -> None:
    access = seeded.services.access
    cookies = {}
    for role in ROLES:
        email = f"{role.value}@example.com"
        await access.set_member(ADMIN, "demo", email, role, granted_by=Role.OWNER)
        cookies[role] = session(email)
    await seeded.services.projects.create_project(ADMIN, Project(key="other", name="Other"))
    await access.set_member(
        ADMIN, "other", "stranger@example.com", Role.OWNER, granted_by=Role.OWNER
    )
    ctx = Ctx(seeded, {}, "")
    unexpected: list[tuple[str, str, int]] = []

    for case in CASES:
        for role in ROLES:
            response, seq = await send_as(http, case, ctx, cookies[role])
            expected = case.ok if role.allows(case.needs) else 403
            if response.status_code != expected:
                unexpected.append(
                    (f"{case.method} {case.template}", role.value, response.status_code)
                )
            if expected == 403 or case.method == "GET":
                assert await seeded.services.store.get_seq("demo") == seq, (case, role)
        stranger, seq = await send_as(http, case, ctx, session("stranger@example.com"))
        assert stranger.status_code == 404, (case, stranger.text)
        assert stranger.json()["message"] == "project 'demo' not found"
        assert await seeded.services.store.get_seq("demo") == seq, case

    assert unexpected == []


# -- every route x every credential it does not take ------------------------------------------

ROUTES = openapi.served(create_app(ApiSettings()).routes)
_PARAM = re.compile(r"{(\w+)}")
_VALUES = {
    "project": "demo",
    "environment": "production",
    "key_id": "no-such-key",
    "email": "someone@example.com",
    "webhook_id": "wh_0000000000000000",
    "tenant": "no-such-tenant",
}
KIND_SCHEMES = {"server": "serverKey", "client": "clientKey", "admin": "adminKey"}


def concrete(path: str) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "key":
            return "beta" if "/segments/" in path else "new-checkout"
        return _VALUES[name]

    return _PARAM.sub(value, path)


def refusals() -> list[tuple[str, str, str, int]]:
    """(method, path, credential, expected status) for every credential a route refuses."""
    out = []
    for method, path in ROUTES:
        auth = openapi.OPERATIONS[(method, path)].auth
        if not auth:
            continue  # public: health, the document, the browser module, metrics
        for kind, scheme in KIND_SCHEMES.items():
            if scheme not in auth:
                out.append((method, path, kind, 403))
        out.append((method, path, "none", 401))
    return out


REFUSALS = refusals()


@pytest.fixture
async def client(world: World) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=world.url, timeout=10) as plain:
        yield plain


def test_refusals__cover_every_authenticated_route() -> None:
    routes = {(m, p) for m, p, _, _ in REFUSALS}
    authenticated = {(m, p) for m, p in ROUTES if openapi.OPERATIONS[(m, p)].auth}

    assert routes == authenticated
    assert len(authenticated) >= 30
    # Client keys reach only evaluation; every server and management route refuses them.
    allowed = {(m, p) for m, p in authenticated if (m, p, "client", 403) not in REFUSALS}
    assert {p for _, p in allowed} == {
        "/api/v1/evaluate",
        "/api/v1/flags/{key}/evaluate",
        "/ofrep/v1/evaluate/flags",
        "/ofrep/v1/evaluate/flags/{key}",
        "/api/v1/stream-tokens",
    }


async def test_every_route__a_credential_it_does_not_take__401_or_403_nothing_written(
    client: httpx.AsyncClient, world: World
) -> None:
    keys = {"server": world.demo.server, "client": world.demo.client, "admin": world.demo.admin}
    before = await seq_of(client, world)
    unexpected = []

    for method, path, kind, expected in REFUSALS:
        headers = {} if kind == "none" else bearer(keys[kind])
        body: dict[str, object] | None = None if method in ("GET", "DELETE") else {}
        response = await client.request(method, concrete(path), json=body, headers=headers)
        if response.status_code != expected or "Traceback" in response.text:
            unexpected.append((method, path, kind, response.status_code, response.text[:200]))

    assert unexpected == []
    assert await seq_of(client, world) == before  # not one change in the project


async def test_browser_stream__secret_keys_in_the_url_or_admin_header__refused(
    client: httpx.AsyncClient, world: World
) -> None:
    url = "/api/v1/browser/stream"

    in_query = [
        await client.get(url, params={"key": k}) for k in (world.demo.server, world.demo.admin)
    ]
    admin_header = await client.get(url, headers=bearer(world.demo.admin))
    other_project_token = await client.get(url, params={"token": "not-a-token"})

    assert [r.status_code for r in in_query] == [403, 403]
    assert admin_header.status_code == 403
    assert other_project_token.status_code == 401


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def seq_of(client: httpx.AsyncClient, world: World) -> int:
    """Demo's change sequence: it moves with every write to the project."""
    response = await client.get("/api/v1/sdk/flags", headers=bearer(world.demo.server))
    return int(response.json()["seq"])


# -- two projects, writes in both: no foreign event on any stream -----------------------------


async def set_enabled(
    client: httpx.AsyncClient, project: str, key: str, admin: str, enabled: bool
) -> None:
    response = await client.post(
        f"/api/v1/projects/{project}/flags/{key}/set-enabled-in",
        json={"environments": ["production"], "enabled": enabled},
        headers=bearer(admin),
    )
    assert response.status_code == 200, response.text


async def until_id(stream: Stream, seq: int) -> list[Event]:
    events: list[Event] = []
    while not events or int(events[-1].id or 0) < seq:
        events.append(await stream.next(10))
    return events


async def test_streams__writes_in_two_projects__each_stream_carries_only_its_own(
    client: httpx.AsyncClient, world: World
) -> None:
    other_flag = {
        "key": "other-secret",
        "name": "Other's secret",
        "client_visible": True,
        "variants": {"on": {"value": True}, "off": {"value": False}},
        "environments": {
            "production": {"enabled": True, "off_variant": "off", "fallthrough": {"variant": "on"}}
        },
    }
    for key in ("other-secret", "banner-text"):  # banner-text: also a key of demo's
        response = await client.post(
            "/api/v1/projects/other/flags",
            json={**other_flag, "key": key},
            headers=bearer(world.other.admin),
        )
        assert response.status_code == 201, response.text
    demo_keys = {
        f["key"]
        for f in (
            await client.get("/api/v1/projects/demo/flags", headers=bearer(world.demo.admin))
        ).json()["items"]
    }
    sdk_url = "/api/v1/sdk/stream"
    browser_url = f"/api/v1/browser/stream?key={world.demo.client}"

    async with (
        open_stream(client, sdk_url, bearer(world.demo.server)) as sdk,
        open_stream(client, browser_url, {}) as browser,
        open_stream(client, sdk_url, bearer(world.other.server)) as other_sdk,
    ):
        sdk_snapshot, browser_snapshot = await sdk.next(), await browser.next()
        other_snapshot = await other_sdk.next()
        for enabled in (False, True, False):  # writes in the other project ...
            for key in ("other-secret", "banner-text"):
                await set_enabled(client, "other", key, world.other.admin, enabled)
        await demo_write(client, world)  # ... then one in demo: its next sequence number
        demo_seq = int(sdk_snapshot.id or 0) + 1
        sdk_events = await until_id(sdk, demo_seq)
        browser_events = [e for e in await until_id(browser, demo_seq) if e.event != "message"]

    assert browser_snapshot.id == sdk_snapshot.id
    assert sdk_snapshot.data["project"] == "demo"
    assert {f["key"] for f in sdk_snapshot.data["flags"]} == demo_keys
    assert "other-secret" not in browser_snapshot.data["flags"]
    assert "other-secret" in {f["key"] for f in other_snapshot.data["flags"]}  # it exists
    # Exactly demo's one change, with demo's sequence and demo's definition.
    assert [(e.event, e.id) for e in sdk_events] == [("upsert", str(demo_seq))]
    assert sdk_events[0].data["definition"]["environments"]["production"]["enabled"] is False
    assert [(e.event, e.id) for e in browser_events] == [("change", str(demo_seq))]
    assert set(browser_events[0].data["flags"]) == {"banner-text"}
    assert browser_events[0].data["flags"]["banner-text"]["reason"] == "DISABLED"


async def demo_write(client: httpx.AsyncClient, world: World) -> None:
    response = await client.post(
        "/api/v1/projects/demo/flags/banner-text/set-enabled-in",
        json={"environments": ["production"], "enabled": False},
        headers=bearer(world.demo.admin),
    )
    assert response.status_code == 200, response.text
