"""Shared fixtures: a real moto DynamoDB server over HTTP on a free loopback port."""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from moto.core.model_instances import reset_model_data
from moto.server import ThreadedMotoServer

from ff_core.models import Actor, ActorKind
from ff_core.settings import Settings
from ff_core.store import DynamoStore, MemoryStore, Store

TEST_CREDENTIALS = ("testing", "testing")
# Processes started by the tests (the API under uvicorn) reach moto with these; never real AWS.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The browser tests run last. Playwright's sync API runs an event loop in the main
    thread for as long as its session fixtures live (to the end of the run): any async test
    after them would find a loop already running."""
    items.sort(key=lambda item: "e2e" in item.path.parts)


@contextlib.contextmanager
def moto_server() -> Iterator[str]:
    """moto's DynamoDB server on a free loopback port, for as long as the block runs."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture(autouse=True)
def _moto_forgets_its_instances() -> Iterator[None]:
    """moto keeps every model instance it makes (for its dashboard), a copy of the table
    per transaction among them: over the suite that grew the runner past 20 GB."""
    yield
    reset_model_data()


@pytest.fixture
def dynamo_settings(moto_endpoint: str) -> Settings:
    """A fresh table per test on the shared moto server."""
    return Settings(dynamodb_endpoint=moto_endpoint, table=f"ff-test-{uuid.uuid4().hex[:12]}")


@pytest.fixture
async def dynamo_store(dynamo_settings: Settings) -> AsyncIterator[DynamoStore]:
    async with DynamoStore.open(dynamo_settings, credentials=TEST_CREDENTIALS) as store:
        await store.ensure_table()
        yield store


@pytest.fixture(params=["dynamodb", "memory"])
async def store(request: pytest.FixtureRequest, moto_endpoint: str) -> AsyncIterator[Store]:
    """Every store implementation; contract tests run once per implementation."""
    if request.param == "memory":
        yield MemoryStore()
        return
    settings = Settings(dynamodb_endpoint=moto_endpoint, table=f"ff-test-{uuid.uuid4().hex[:12]}")
    async with DynamoStore.open(settings, credentials=TEST_CREDENTIALS) as dynamo:
        await dynamo.ensure_table()
        yield dynamo


@pytest.fixture
def alice() -> Actor:
    return Actor(kind=ActorKind.USER, subject="alice", email="alice@example.com")


@pytest.fixture
def bob() -> Actor:
    return Actor(kind=ActorKind.USER, subject="bob", email="bob@example.com")
