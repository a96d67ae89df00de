"""The legacy admin library surface, against moto's server over HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ff_core import admin, demo
from ff_core.errors import InvalidDefinition, NotFound
from ff_core.models import Action, ActorKind
from ff_core.services import Services
from ff_core.settings import Settings
from ff_core.store import DynamoStore


@pytest.fixture
def configured(dynamo_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    # A real endpoint means the default AWS credential chain: give it the test's credentials.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("FF_ACTOR", "ops-script")
    settings = admin.configure(
        dynamodb_endpoint=dynamo_settings.dynamodb_endpoint,
        table=dynamo_settings.table,
        default_project="demo",
    )
    yield settings
    admin.configure()


async def seed(settings: Settings) -> None:
    async with DynamoStore.open(settings) as store:
        await store.ensure_table()
        await demo.seed(Services(store))


async def test_admin__list_and_get__default_project_from_configure(configured: Settings) -> None:
    await seed(configured)

    flags = await admin.list_flags()
    flag = await admin.get_flag("new-checkout")

    assert [f.key for f in flags] == ["banner-text", "new-checkout", "search.max-results"]
    assert flag.environments["production"].enabled


async def test_admin__set_enabled_in__exact_set_and_audited_as_library_caller(
    configured: Settings,
) -> None:
    await seed(configured)

    flag = await admin.set_enabled_in("new-checkout", ["development", "staging"], note="qa")

    assert {e: c.enabled for e, c in flag.environments.items()} == {
        "development": True,
        "staging": True,
        "production": False,
    }
    page = await admin.list_flag_history("new-checkout")
    latest = page.items[0]
    assert latest.action is Action.ENABLED_SET
    assert (latest.actor.kind, latest.actor.subject, latest.note) == (
        ActorKind.LIBRARY,
        "ops-script",
        "qa",
    )
    assert len(page.items) == 2


async def test_admin__unknown_flag_or_environment__clear_errors(configured: Settings) -> None:
    await seed(configured)

    with pytest.raises(NotFound, match="nope"):
        await admin.get_flag("nope")
    with pytest.raises(InvalidDefinition, match="moon"):
        await admin.set_enabled_in("new-checkout", ["moon"])
    assert len((await admin.list_flag_history("new-checkout")).items) == 1
