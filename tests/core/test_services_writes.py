"""The one write path on every store: idempotency keys and the gapless change log."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from ff_core.errors import IdempotencyKeyReused
from ff_core.models import Actor, ChangeKind, EntityKind, Flag
from ff_core.services import Services
from ff_core.store import Store
from tests.core.services_support import (
    PROJECT,
    FakeClock,
    boolean_flag,
    config,
    segment,
    written,
)


class _FirstAttemptLandsAfterReplayCheck:
    """A store on which a retry finds no idempotency record, and then its first attempt commits.

    That is a client retrying while its first request is still in flight.
    """

    def __init__(self, inner: Store, first_attempt: Callable[[], Awaitable[object]]) -> None:
        self._inner = inner
        self._first_attempt = first_attempt
        self.replays = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def replay(self, project: str, idempotency_key: str, fingerprint: str) -> Any:
        done = await self._inner.replay(project, idempotency_key, fingerprint)
        self.replays += 1
        if self.replays == 1:
            await self._first_attempt()
        return done


# -- idempotency -----------------------------------------------------------------------------


async def test_set_enabled__same_key_after_version_moved__replays_first_result(
    services: Services, alice: Actor, bob: Actor
) -> None:
    await services.flags.create_flag(alice, PROJECT, boolean_flag("checkout"))
    first = await services.flags.set_enabled(
        alice, PROJECT, "checkout", "production", True, expected_version=1, idempotency_key="k1"
    )
    await services.flags.set_enabled(bob, PROJECT, "checkout", "staging", True)
    before = await written(services, "checkout")

    again = await services.flags.set_enabled(
        alice, PROJECT, "checkout", "production", True, expected_version=1, idempotency_key="k1"
    )

    assert again == first
    assert again.version < before.state.flags["checkout"].version
    assert await written(services, "checkout") == before
    assert await services.store.get_seq(PROJECT) == before.state.seq


async def test_update_environment__same_key_twice__writes_once(
    services: Services, alice: Actor
) -> None:
    await services.flags.create_flag(alice, PROJECT, boolean_flag("checkout"))
    before = await written(services, "checkout")

    results = [
        await services.flags.update_environment(
            alice,
            PROJECT,
            "checkout",
            "production",
            config(enabled=True),
            expected_version=1,
            idempotency_key="k1",
        )
        for _ in range(2)
    ]

    assert results[0] == results[1]
    assert results[0].environments["production"].version == 2
    after = await written(services, "checkout")
    assert len(after.changes) == len(before.changes) + 1
    assert len(after.histories["flag:checkout"]) == len(before.histories["flag:checkout"]) + 1
    assert after.state.seq == before.state.seq + 1


async def test_create_flag__same_key_twice__returns_the_created_flag(
    services: Services, alice: Actor
) -> None:
    first = await services.flags.create_flag(
        alice, PROJECT, boolean_flag("checkout"), idempotency_key="k1"
    )
    before = await written(services, "checkout")

    again = await services.flags.create_flag(
        alice, PROJECT, boolean_flag("checkout"), idempotency_key="k1"
    )

    assert again == first
    assert await written(services, "checkout") == before


async def test_delete_flag__same_key_twice__deletes_once_without_error(
    services: Services, alice: Actor
) -> None:
    await services.flags.create_flag(alice, PROJECT, boolean_flag("checkout"))
    await services.flags.delete_flag(alice, PROJECT, "checkout", idempotency_key="k1")
    before = await written(services, "checkout")

    await services.flags.delete_flag(alice, PROJECT, "checkout", idempotency_key="k1")

    assert await written(services, "checkout") == before


async def test_update_environment__retry_planned_after_first_attempt_committed__replays_it(
    store: Store, services: Services, clock: FakeClock, alice: Actor
) -> None:
    await services.flags.create_flag(alice, PROJECT, boolean_flag("checkout"))

    def attempt(via: Services) -> Awaitable[Flag]:
        return via.flags.update_environment(
            alice,
            PROJECT,
            "checkout",
            "production",
            config(enabled=True),
            expected_version=1,
            idempotency_key="k1",
        )

    racing = _FirstAttemptLandsAfterReplayCheck(store, lambda: attempt(services))
    retried = await attempt(Services(racing, clock))  # type: ignore[arg-type]

    assert retried == await services.flags.get_flag(PROJECT, "checkout")
    assert retried.environments["production"].version == 2
    assert len(await services.store.read_changes(PROJECT, 0)) == 3


async def test_create_flag__retry_planned_after_first_attempt_committed__replays_it(
    store: Store, services: Services, clock: FakeClock, alice: Actor
) -> None:
    def attempt(via: Services) -> Awaitable[Flag]:
        return via.flags.create_flag(alice, PROJECT, boolean_flag("checkout"), idempotency_key="k1")

    racing = _FirstAttemptLandsAfterReplayCheck(store, lambda: attempt(services))
    retried = await attempt(Services(racing, clock))  # type: ignore[arg-type]

    assert retried == await services.flags.get_flag(PROJECT, "checkout")
    assert len((await services.flags.list_history(PROJECT, "checkout")).items) == 1


async def test_update_environment__ten_concurrent_retries_of_one_key__one_write_one_result(
    services: Services, alice: Actor
) -> None:
    await services.flags.create_flag(alice, PROJECT, boolean_flag("checkout"))
    before = await written(services, "checkout")

    results = await asyncio.gather(
        *(
            services.flags.update_environment(
                alice,
                PROJECT,
                "checkout",
                "production",
                config(enabled=True),
                expected_version=1,
                idempotency_key="k1",
            )
            for _ in range(10)
        )
    )

    assert all(r == results[0] for r in results)
    after = await written(services, "checkout")
    assert len(after.changes) == len(before.changes) + 1
    assert after.state.flags["checkout"] == results[0]


@pytest.mark.parametrize(
    ("key", "environment", "enabled"),
    [
        ("checkout", "production", False),  # another value
        ("checkout", "staging", True),  # another environment
        ("search", "production", True),  # another flag
    ],
)
async def test_set_enabled__same_key_for_another_request__raises_and_writes_nothing(
    services: Services, alice: Actor, key: str, environment: str, enabled: bool
) -> None:
    for flag in ("checkout", "search"):
        await services.flags.create_flag(alice, PROJECT, boolean_flag(flag))
    await services.flags.set_enabled(
        alice, PROJECT, "checkout", "production", True, idempotency_key="k1"
    )
    before = await written(services, "checkout", "search")

    with pytest.raises(IdempotencyKeyReused, match="k1"):
        await services.flags.set_enabled(
            alice, PROJECT, key, environment, enabled, idempotency_key="k1"
        )

    assert await written(services, "checkout", "search") == before


async def test_save_segment__key_of_a_flag_write__raises_idempotency_key_reused(
    services: Services, alice: Actor
) -> None:
    await services.flags.create_flag(alice, PROJECT, boolean_flag("checkout"), idempotency_key="k1")
    before = await written(services, "checkout", segments=("beta",))

    with pytest.raises(IdempotencyKeyReused):
        await services.segments.save_segment(
            alice, PROJECT, segment("beta", "u1"), idempotency_key="k1"
        )

    assert await written(services, "checkout", segments=("beta",)) == before


# -- change log ------------------------------------------------------------------------------


async def test_read_changes__mutations_of_flags_and_segments__gapless_ordered_seq(
    services: Services, alice: Actor
) -> None:
    flags, segments = services.flags, services.segments
    await segments.save_segment(alice, PROJECT, segment("beta", "u1"))
    await flags.create_flag(alice, PROJECT, boolean_flag("checkout"))
    await flags.set_enabled(alice, PROJECT, "checkout", "production", True)
    await flags.update_environment(
        alice, PROJECT, "checkout", "staging", config(segments=("beta",))
    )
    await flags.set_enabled(alice, PROJECT, "checkout", "production", True)  # no change
    await segments.save_segment(alice, PROJECT, segment("beta", "u2"), expected_version=1)
    await flags.create_flag(alice, PROJECT, boolean_flag("search"))
    await flags.set_enabled_in(alice, PROJECT, "search", ["development", "staging"])
    await flags.delete_flag(alice, PROJECT, "search")

    changes = await services.store.read_changes(PROJECT, 0)

    assert [c.seq for c in changes] == list(range(1, 10))
    assert [(c.entity, c.key, c.change, c.environments) for c in changes] == [
        (EntityKind.PROJECT, PROJECT, ChangeKind.UPSERT, ()),
        (EntityKind.SEGMENT, "beta", ChangeKind.UPSERT, ()),
        (EntityKind.FLAG, "checkout", ChangeKind.UPSERT, ("development", "staging", "production")),
        (EntityKind.FLAG, "checkout", ChangeKind.UPSERT, ("production",)),
        (EntityKind.FLAG, "checkout", ChangeKind.UPSERT, ("staging",)),
        (EntityKind.SEGMENT, "beta", ChangeKind.UPSERT, ()),
        (EntityKind.FLAG, "search", ChangeKind.UPSERT, ("development", "staging", "production")),
        (EntityKind.FLAG, "search", ChangeKind.UPSERT, ("development", "staging")),
        (EntityKind.FLAG, "search", ChangeKind.DELETE, ("development", "staging", "production")),
    ]
    assert [c.version for c in changes if c.key == "checkout"] == [1, 2, 3]
    assert await services.store.get_seq(PROJECT) == 9
    # Every change has its history entry, with the same seq and version.
    for key in ("checkout", "search"):
        history = (await services.flags.list_history(PROJECT, key)).items
        assert sorted((e.seq, e.version) for e in history) == [
            (c.seq, c.version) for c in changes if c.key == key
        ]


async def test_read_changes__after_and_limit__pages_without_gaps(
    services: Services, alice: Actor
) -> None:
    await services.flags.create_flag(alice, PROJECT, boolean_flag("checkout"))
    for i in range(8):
        await services.flags.set_enabled(alice, PROJECT, "checkout", "staging", i % 2 == 0)
    everything = await services.store.read_changes(PROJECT, 0)
    assert len(everything) == 10

    pages, after = [], 0
    while page := await services.store.read_changes(PROJECT, after, limit=4):
        pages.append([c.seq for c in page])
        after = page[-1].seq

    assert pages == [[1, 2, 3, 4], [5, 6, 7, 8], [9, 10]]
    assert await services.store.read_changes(PROJECT, 7, limit=2) == everything[7:9]
    assert await services.store.read_changes(PROJECT, 10) == []
