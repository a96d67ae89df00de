"""Sign-out and role removal take effect (issue 9, point 11).

The dashboard's real backend (its lifespan over moto's server), its real sign-in routes,
and the real API as a second process-like replica (uvicorn in a thread, its own store
connection and caches) share one table. A cookie copied before its user signs out is
refused afterwards by the dashboard's guard (every event asks it) and by the API; a member
whose role is taken away is refused at their next event and request.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any, cast

import httpx
import pytest
import reflex as rx

from ff_admin.auth import build_auth_app, issue_session
from ff_admin.backend import current, lifespan_for
from ff_admin.settings import AdminSettings, AuthMode
from ff_admin.state.guard import grant, session_of
from ff_api import ApiSettings
from ff_core import demo, tokens
from ff_core.errors import Forbidden, NotFound, StoreUnavailable, Unauthorized
from ff_core.models import Actor, ActorKind, Role
from ff_core.services import Services, SessionService
from ff_core.store import DynamoStore, MemoryStore
from tests.api.conftest import SECRET, ServerThread

USER = "ada@example.com"
EDITOR = "ed@example.com"
SEED = Actor(kind=ActorKind.SYSTEM, subject="security-seed")
# The API caches a user's last sign-out for 1 s; this only bounds a broken build's wait.
DEADLINE_S = 10.0


@dataclass(frozen=True)
class Stack:
    api: str
    settings: AdminSettings


@pytest.fixture(scope="module")
def stack(moto_endpoint: str) -> Iterator[Stack]:
    table = f"ff-sess-{uuid.uuid4().hex[:12]}"
    settings = AdminSettings(
        auth=AuthMode.DEV,
        dev_user=USER,
        dynamodb_endpoint=moto_endpoint,
        table=table,
        key_secret=SECRET,
    )

    async def seed() -> None:
        async with DynamoStore.open(settings) as store:
            await store.ensure_table()
            services = Services(store, key_secret=SECRET.encode())
            await demo.seed(services)
            for email, role in ((USER, Role.OWNER), (EDITOR, Role.EDITOR)):
                await services.access.set_member(
                    SEED, demo.DEMO_PROJECT, email, role, granted_by=Role.OWNER
                )

    asyncio.run(seed())
    api_settings = ApiSettings(
        dynamodb_endpoint=moto_endpoint, table=table, key_secret=SECRET, usage_flush_s=0
    )
    server = ServerThread(api_settings)
    url = server.start()
    try:
        yield Stack(url, settings)
    finally:
        server.stop()


class _ReflexApp:
    event_namespace = None  # no sockets: every tab counts as connected


@pytest.fixture
async def dashboard(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    """The dashboard's backend running (as under Reflex) and a browser on its auth routes."""

    async def on_sign_in(email: str, invite: str | None) -> None:
        return None

    async with lifespan_for(stack.settings)(_ReflexApp()):
        app = build_auth_app(stack.settings, SECRET.encode(), on_sign_in)
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(
            transport=transport, base_url=stack.settings.public_url
        ) as browser:
            yield browser


def event_from(cookie: str) -> rx.State:
    """What the guard reads of a dashboard event: the Cookie header its socket sent."""
    headers = SimpleNamespace(cookie=f"theme=dark; {tokens.SESSION_COOKIE}={cookie}")
    return cast("rx.State", SimpleNamespace(router=SimpleNamespace(headers=headers)))


async def sign_in(browser: httpx.AsyncClient) -> str:
    origin = {"Origin": str(browser.base_url).rstrip("/")}
    response = await browser.post("/auth/dev", headers=origin)
    assert response.status_code == 303, response.text
    return browser.cookies[tokens.SESSION_COOKIE]


async def sign_out(browser: httpx.AsyncClient) -> None:
    origin = {"Origin": str(browser.base_url).rstrip("/")}
    response = await browser.post("/auth/logout", headers=origin)
    assert response.status_code == 303, response.text
    assert tokens.SESSION_COOKIE not in browser.cookies


async def api_get(stack: Stack, cookie: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=stack.api, timeout=10) as client:
        client.cookies.set(tokens.SESSION_COOKIE, cookie)
        return await client.get(f"/api/v1/projects/{demo.DEMO_PROJECT}/flags")


async def api_until(stack: Stack, cookie: str, status: int) -> httpx.Response:
    """The API's answer once it is ``status``: replicas cache a sign-out for up to 1 s."""
    deadline = time.monotonic() + DEADLINE_S
    while True:
        response = await api_get(stack, cookie)
        if response.status_code == status or time.monotonic() > deadline:
            return response
        await asyncio.sleep(0.1)


async def test_sign_out__cookie_copied_before__refused_by_dashboard_and_api(
    stack: Stack, dashboard: httpx.AsyncClient
) -> None:
    copied = await sign_in(dashboard)
    assert (await grant(event_from(copied), demo.DEMO_PROJECT)).email == USER
    assert (await api_get(stack, copied)).status_code == 200

    await sign_out(dashboard)

    # The dashboard recorded the sign-out: its guard refuses the copy at the next event.
    with pytest.raises(Unauthorized, match="session has ended"):
        await grant(event_from(copied), demo.DEMO_PROJECT)
    with pytest.raises(Unauthorized):
        await session_of(event_from(copied))
    # The API (another replica, its own cache) refuses it too once its cache turns over.
    refused = await api_until(stack, copied, 401)
    assert refused.status_code == 401, refused.text
    assert refused.json()["code"] == "unauthorized"
    assert "signed out" in refused.json()["message"]


async def test_sign_out__then_sign_in_again__new_session_accepted_old_one_still_refused(
    stack: Stack, dashboard: httpx.AsyncClient
) -> None:
    old = await sign_in(dashboard)
    await sign_out(dashboard)
    new = await sign_in(dashboard)

    assert (await grant(event_from(new), demo.DEMO_PROJECT)).email == USER
    assert (await api_until(stack, new, 200)).status_code == 200
    with pytest.raises(Unauthorized):
        await grant(event_from(old), demo.DEMO_PROJECT)
    assert (await api_until(stack, old, 401)).status_code == 401


async def test_sign_out__without_a_session__nothing_recorded(
    dashboard: httpx.AsyncClient,
) -> None:
    before = await current().store.sessions_ended("nobody@example.com")
    response = await dashboard.post(
        "/auth/logout", headers={"Origin": str(dashboard.base_url).rstrip("/")}
    )

    assert response.status_code == 303
    assert before is None
    assert await current().store.sessions_ended("nobody@example.com") is None


async def test_sign_out__store_unreachable__browser_still_signed_out(stack: Stack) -> None:
    """The cookie is cleared whatever the store says; the failure is logged, not shown."""

    async def on_sign_in(email: str, invite: str | None) -> None:
        return None

    async def unreachable(email: str) -> None:
        raise StoreUnavailable("DynamoDB is unreachable (EndpointConnectionError)")

    app = build_auth_app(stack.settings, SECRET.encode(), on_sign_in, unreachable)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url=stack.settings.public_url) as b:
        await sign_in(b)
        await sign_out(b)


async def test_role_removed__next_event_and_request_refused(
    stack: Stack, dashboard: httpx.AsyncClient
) -> None:
    cookie = tokens.issue(SECRET.encode(), tokens.Audience.SESSION, {"sub": EDITOR}, 3600)
    assert (await grant(event_from(cookie), demo.DEMO_PROJECT, Role.EDITOR)).role is Role.EDITOR
    assert (await api_get(stack, cookie)).status_code == 200
    services = current().services

    # Demoted elsewhere (another dashboard, the API, the CLI): the next edit is refused.
    await services.access.set_member(
        SEED, demo.DEMO_PROJECT, EDITOR, Role.VIEWER, granted_by=Role.OWNER
    )
    with pytest.raises(Forbidden, match="a viewer cannot do this"):
        await grant(event_from(cookie), demo.DEMO_PROJECT, Role.EDITOR)

    # Removed: the project is gone for them, on the dashboard and the API alike.
    await services.access.remove_member(SEED, demo.DEMO_PROJECT, EDITOR, granted_by=Role.OWNER)
    with pytest.raises(NotFound):
        await grant(event_from(cookie), demo.DEMO_PROJECT)
    refused = await api_get(stack, cookie)
    assert refused.status_code == 404, refused.text


def test_issued_at__session_claims__to_the_millisecond_never_later() -> None:
    token = issue_session(SECRET.encode(), USER, None, 60, now=1_800_000_000.1239)
    claims: dict[str, Any] = tokens.verify(SECRET.encode(), tokens.Audience.SESSION, token, 1.8e9)
    assert tokens.issued_at(claims) == datetime(2027, 1, 15, 8, 0, 0, 123_000, tzinfo=UTC)
    # A token without milliseconds (issued elsewhere) counts from the start of its second.
    assert tokens.issued_at({"iat": 1_800_000_000}) == datetime(2027, 1, 15, 8, 0, tzinfo=UTC)


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_session_service__other_replica__honours_sign_out_once_its_cache_turns_over() -> None:
    store = MemoryStore()
    signed_out_at = datetime(2026, 11, 21, 9, 0, 0, 500_000, tzinfo=UTC)
    ticks = Ticks()
    here = SessionService(store, lambda: signed_out_at, cache_s=1.0, monotonic=ticks)
    there = SessionService(store, cache_s=1.0, monotonic=ticks)
    issued = signed_out_at - timedelta(minutes=5)
    assert await there.is_current(USER, issued)  # cached: never signed out

    await here.sign_out(USER.upper())

    assert not await here.is_current(USER, issued)  # the replica that signed out: at once
    assert await there.is_current(USER, issued)  # the other: its cache still holds
    ticks.now += 1.0
    assert not await there.is_current(USER, issued)
    # Issued in the very same instant as the sign-out: refused; any later: accepted.
    assert not await there.is_current(USER, signed_out_at)
    assert await there.is_current(USER, signed_out_at + timedelta(milliseconds=1))
