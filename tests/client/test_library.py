"""Library mode: the client reads DynamoDB (moto's server) directly and follows the change log."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ff_core.client import FlagClient, Reason, Status, configure
from ff_core.client.snapshot import read_document
from ff_core.settings import Settings
from tests.api.conftest import ADMIN
from tests.client.conftest import SEEN_WITHIN_S, Seeded, demo_snapshot, eventually, fast_backoff

NA_PRO = {"targeting_key": "user-1", "country": "US", "plan": "pro"}
ALICE = {"targeting_key": "alice"}


@pytest.fixture
def configured(seeded: Seeded) -> Iterator[Settings]:
    """``configure(...)`` as a service would call it once at start; undone afterwards."""
    settings = configure(
        table=seeded.settings.table,
        dynamodb_endpoint=seeded.settings.dynamodb_endpoint,
        default_project="demo",
        environment="production",
    )
    yield settings
    configure()


async def test_configure__connect__values_of_the_configured_environment(
    configured: Settings,
) -> None:
    async with FlagClient(poll_interval_s=0.1, usage_interval_s=None) as flags:
        status = flags.status
        checkout = await flags.is_enabled("new-checkout", NA_PRO)
        size = await flags.variation("search.max-results", ALICE, default=0)

    assert status is Status.READY
    assert (checkout, size) == (True, 100)


async def test_change_through_services__library_client_sees_it(
    configured: Settings, seeded: Seeded
) -> None:
    async with FlagClient(poll_interval_s=0.1, usage_interval_s=None) as flags:
        changed: list[list[str]] = []
        flags.on_change(changed.append)

        await seeded.services.flags.set_enabled(ADMIN, "demo", "legacy-mode", "production", True)
        elapsed = await eventually(lambda: flags.is_enabled("legacy-mode", ALICE))
        await seeded.services.flags.delete_flag(ADMIN, "demo", "checkout.layout")
        await eventually(lambda: any("checkout.layout" in keys for keys in changed))
        gone = await flags.details("checkout.layout", ALICE, default={"columns": 0})

    assert elapsed < SEEN_WITHIN_S
    assert ["legacy-mode"] in changed
    assert (gone.value, gone.error_code) == ({"columns": 0}, "FLAG_NOT_FOUND")


async def test_configure__no_environment__development_by_default(seeded: Seeded) -> None:
    configure(
        table=seeded.settings.table,
        dynamodb_endpoint=seeded.settings.dynamodb_endpoint,
        default_project="demo",
    )
    try:
        async with FlagClient(usage_interval_s=None) as flags:
            banner = await flags.details("banner-text", ALICE, default="")
            checkout = await flags.details("new-checkout", NA_PRO, default=True)
    finally:
        configure()

    # banner-text is enabled in development; new-checkout has no development config.
    assert (banner.value, banner.reason) == ("Good to see you again!", Reason.TARGETING_MATCH)
    assert (checkout.value, checkout.reason) == (False, Reason.DISABLED)


async def test_settings__explicit_project_and_environment__override_configured(
    seeded: Seeded,
) -> None:
    settings = Settings(
        table=seeded.settings.table, dynamodb_endpoint=seeded.settings.dynamodb_endpoint
    )

    async with FlagClient(
        settings=settings, project="demo", environment="staging", usage_interval_s=None
    ) as flags:
        banner = await flags.details("banner-text", ALICE, default="")

    assert banner.value == "Good to see you again!"


async def test_store_unreachable__error_answers_defaults_without_raising() -> None:
    settings = Settings(dynamodb_endpoint="http://127.0.0.1:9", table="ff-nowhere", max_attempts=1)

    flags = await FlagClient.connect(
        settings=settings, timeout_s=0.5, backoff=fast_backoff(), usage_interval_s=None
    )
    details = await flags.details("new-checkout", NA_PRO, default=True)
    await flags.close()

    assert flags.status is Status.ERROR
    assert (details.value, details.error_code) == (True, "PROVIDER_NOT_READY")


async def test_unknown_environment__error_not_raised(configured: Settings) -> None:
    flags = await FlagClient.connect(
        environment="qa", timeout_s=0.5, backoff=fast_backoff(), usage_interval_s=None
    )
    await eventually(lambda: flags.status_message is not None and "qa" in flags.status_message)
    await flags.close()

    assert flags.status is Status.ERROR


async def test_usage__library_mode__recorded_in_the_store(
    configured: Settings, seeded: Seeded
) -> None:
    flags = await FlagClient.connect(usage_interval_s=0.1)
    for _ in range(4):
        await flags.is_enabled("new-checkout", NA_PRO)
    store = seeded.services.store

    async def recorded() -> bool:
        usage = await store.get_flag_usage("demo", "new-checkout", now=datetime.now(UTC))
        production = usage.environments.get("production")
        return production is not None and production.total >= 4

    await eventually(recorded)
    await flags.close()


async def test_persisted_snapshot__other_environment__ignored(
    configured: Settings, tmp_path: Path
) -> None:
    path = tmp_path / "flags.json"
    other = demo_snapshot()
    path.write_bytes(other.dump().replace(b'"environment":"production"', b'"environment":"qa"', 1))

    async with FlagClient(persist_to=path, usage_interval_s=None) as flags:
        checkout = await flags.is_enabled("new-checkout", NA_PRO)

    assert checkout is True
    assert read_document(path.read_bytes())["environment"] == "production"


async def test_usage__close__last_counts_written_to_the_store(
    configured: Settings, seeded: Seeded
) -> None:
    flags = await FlagClient.connect(usage_interval_s=3600)
    for _ in range(3):
        await flags.is_enabled("banner-text", ALICE, default=False)
        await flags.variation("banner-text", ALICE, default="")

    await flags.close()

    usage = await seeded.services.store.get_flag_usage("demo", "banner-text", now=datetime.now(UTC))
    assert usage.environments["production"].total == 6
