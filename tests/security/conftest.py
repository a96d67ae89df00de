"""One seeded API on a real loopback port over moto's server, shared by a module's tests.

Fuzzing and matrices send thousands of requests; building a table and starting uvicorn
once per module (not per test) keeps them fast. Two projects, ``demo`` and ``other``,
each with a server, a client and an owner-role admin key, so that every route family can
be reached with valid credentials and every cross-project request has a target.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from ff_api import ApiSettings
from ff_core import tokens
from ff_core.models import KeyKind, Project, Role
from ff_core.services import Services
from ff_core.store import DynamoStore
from tests.api.conftest import (  # the per-test world of tests/api, for tables shared with it
    ADMIN,
    SECRET,
    ServerThread,
    api_url,  # noqa: F401
    demo_services,
    http,  # noqa: F401
    seeded,  # noqa: F401
)

OWNER_EMAIL = "owner@example.com"


@dataclass(frozen=True)
class Keys:
    server: str
    client: str
    admin: str  # an admin key with the owner role


@dataclass(frozen=True)
class World:
    url: str
    settings: ApiSettings
    demo: Keys
    other: Keys

    def session(self, email: str = OWNER_EMAIL) -> str:
        """A dashboard session cookie's value for ``email``."""
        return tokens.issue(SECRET.encode(), tokens.Audience.SESSION, {"sub": email}, 3600)


async def _keys(services: Services, project: str) -> Keys:
    access = services.access
    _, server = await access.create_key(
        ADMIN, project, KeyKind.SERVER, "backend", environment="production"
    )
    _, client = await access.create_key(
        ADMIN, project, KeyKind.CLIENT, "web", environment="production"
    )
    _, admin = await access.create_key(ADMIN, project, KeyKind.ADMIN, "ops", role=Role.OWNER)
    return Keys(server, client, admin)


async def seed_world(settings: ApiSettings) -> tuple[Keys, Keys]:
    async with DynamoStore.open(settings) as store:
        services = await demo_services(store)
        await services.projects.create_project(ADMIN, Project(key="other", name="Other"))
        for project in ("demo", "other"):
            await services.access.set_member(
                ADMIN, project, OWNER_EMAIL, Role.OWNER, granted_by=Role.OWNER
            )
        return await _keys(services, "demo"), await _keys(services, "other")


def api_settings(moto_endpoint: str) -> ApiSettings:
    return ApiSettings(
        dynamodb_endpoint=moto_endpoint,
        table=f"ff-sec-{uuid.uuid4().hex[:12]}",
        key_secret=SECRET,
        poll_interval_s=0.2,
        usage_flush_s=0,
    )


@pytest.fixture(scope="module")
def world(moto_endpoint: str) -> Iterator[World]:
    settings = api_settings(moto_endpoint)
    demo_keys, other_keys = asyncio.run(seed_world(settings))
    server = ServerThread(settings)
    url = server.start()
    try:
        yield World(url, settings, demo_keys, other_keys)
    finally:
        server.stop()
