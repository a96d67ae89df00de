"""Fixtures of the services tests: a project on every store, with a deterministic clock."""

from __future__ import annotations

import pytest

from ff_core.models import Actor
from ff_core.services import Services
from ff_core.store import Store
from tests.core.services_support import FakeClock, project_services


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def services(store: Store, alice: Actor, clock: FakeClock) -> Services:
    return await project_services(store, alice, clock)
