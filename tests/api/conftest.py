"""The API as it runs: create_app under uvicorn on a free loopback port, over moto's server."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.types import ASGIApp

from ff_api import ApiSettings, create_app
from ff_core import demo
from ff_core.models import (
    Actor,
    ActorKind,
    EnvironmentConfig,
    Flag,
    KeyKind,
    Role,
    Serve,
    ValueType,
    Variant,
)
from ff_core.services import Services
from ff_core.settings import Settings
from ff_core.store import DynamoStore

SECRET = "test-key-secret-" + "x" * 32
ADMIN = Actor(kind=ActorKind.USER, subject="admin@example.com")


def extra_flags() -> list[Flag]:
    production = {
        "production": EnvironmentConfig(
            enabled=True, off_variant="compact", fallthrough=Serve(variant="wide")
        )
    }
    return [
        Flag(
            key="checkout.layout",
            name="Layout",
            value_type=ValueType.JSON,
            variants={
                "compact": Variant(value={"columns": 1}),
                "wide": Variant(value={"columns": 3}),
            },
            environments=production,
        ),
        Flag(
            key="discount-rate",
            name="Discount",
            value_type=ValueType.NUMBER,
            variants={"low": Variant(value=0.1), "high": Variant(value=0.25)},
            environments={
                "production": EnvironmentConfig(
                    enabled=True, off_variant="low", fallthrough=Serve(variant="high")
                )
            },
        ),
        Flag(
            key="legacy-mode",
            name="Legacy",
            variants={"on": Variant(value=True), "off": Variant(value=False)},
            environments={
                "production": EnvironmentConfig(
                    enabled=False, off_variant="off", fallthrough=Serve(variant="on")
                )
            },
        ),
    ]


@dataclass
class Seeded:
    settings: ApiSettings
    services: Services
    server_key: str
    client_key: str
    admin_key: str
    staging_key: str


@pytest.fixture
async def seeded(dynamo_settings: Settings) -> AsyncIterator[Seeded]:
    settings = ApiSettings(
        dynamodb_endpoint=dynamo_settings.dynamodb_endpoint,
        table=dynamo_settings.table,
        key_secret=SECRET,
        poll_interval_s=0.2,
    )
    async with DynamoStore.open(settings) as store:
        services = await demo_services(store)
        access = services.access
        _, server = await access.create_key(
            ADMIN, "demo", KeyKind.SERVER, "backend", environment="production"
        )
        _, client = await access.create_key(
            ADMIN, "demo", KeyKind.CLIENT, "web", environment="production"
        )
        _, admin = await access.create_key(ADMIN, "demo", KeyKind.ADMIN, "ops", role=Role.ADMIN)
        _, staging = await access.create_key(
            ADMIN, "demo", KeyKind.SERVER, "staging", environment="staging"
        )
        yield Seeded(settings, services, server, client, admin, staging)


async def demo_services(store: DynamoStore) -> Services:
    """The table created and the demo project seeded, with the extra flags of these tests."""
    await store.ensure_table()
    services = Services(store, key_secret=SECRET.encode())
    await demo.seed(services)
    for flag in extra_flags():
        await services.flags.create_flag(ADMIN, "demo", flag)
    return services


class AppThread:
    """An ASGI app under uvicorn on a free loopback port, in a thread with its own loop."""

    def __init__(self, app: ASGIApp, **options: Any) -> None:
        options = {"log_level": "warning", "lifespan": "on", **options}
        config = uvicorn.Config(app, host="127.0.0.1", port=0, **options)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the server did not start")
            time.sleep(0.02)
        port = self.server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)


class ServerThread(AppThread):
    """The API (``create_app``) under uvicorn, lifespan included."""

    def __init__(self, settings: ApiSettings) -> None:
        super().__init__(create_app(settings))


@pytest.fixture
def api_url(seeded: Seeded) -> Iterator[str]:
    server = ServerThread(seeded.settings)
    url = server.start()
    yield url
    server.stop()


@pytest.fixture
async def http(api_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=api_url, timeout=10) as client:
        yield client
