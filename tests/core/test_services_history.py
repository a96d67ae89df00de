"""The audit trail on every store: what history records, its pages, and rollback from it."""

from __future__ import annotations

import pytest

from ff_core.errors import InvalidDefinition, NotFound
from ff_core.models import Action, Actor, ChangeKind, HistoryEntry
from ff_core.services import Services
from tests.core.services_support import (
    PROJECT,
    START,
    FakeClock,
    boolean_flag,
    config,
    written,
)


async def _history(services: Services, key: str = "checkout") -> list[HistoryEntry]:
    return (await services.flags.list_history(PROJECT, key, limit=500)).items


# -- what an entry records -------------------------------------------------------------------


async def test_list_history__three_writes__records_who_when_where_what_why_newest_first(
    services: Services, clock: FakeClock, alice: Actor, bob: Actor
) -> None:
    created = await services.flags.create_flag(
        alice, PROJECT, boolean_flag("checkout"), note="new checkout"
    )
    enabled = await services.flags.set_enabled(
        bob, PROJECT, "checkout", "production", True, note="launch"
    )
    renamed = await services.flags.update_flag(alice, PROJECT, "checkout", {"name": "Checkout"})

    entries = await _history(services)

    assert [(e.action, e.actor, e.environment, e.note) for e in entries] == [
        (Action.UPDATED, alice, None, ""),
        (Action.ENABLED_SET, bob, "production", "launch"),
        (Action.CREATED, alice, None, "new checkout"),
    ]
    assert [(e.old, e.new) for e in entries] == [
        (enabled.model_dump(mode="json"), renamed.model_dump(mode="json")),
        (created.model_dump(mode="json"), enabled.model_dump(mode="json")),
        (None, created.model_dump(mode="json")),
    ]
    assert [e.version for e in entries] == [3, 2, 1]
    assert entries[0].at > entries[1].at > entries[2].at > START
    assert entries[0].at <= clock.now
    assert all(e.project == PROJECT and e.key == "checkout" for e in entries)


async def test_list_history__seven_entries_in_pages_of_3__pages_3_3_1_without_overlap(
    services: Services, alice: Actor
) -> None:
    await services.flags.create_flag(alice, PROJECT, boolean_flag("checkout"))
    for i in range(6):
        await services.flags.set_enabled(alice, PROJECT, "checkout", "staging", i % 2 == 0)
    everything = await _history(services)

    pages, cursor = [], None
    while True:
        page = await services.flags.list_history(PROJECT, "checkout", limit=3, before=cursor)
        pages.append(page.items)
        cursor = page.next_cursor
        if cursor is None:
            break

    assert [len(p) for p in pages] == [3, 3, 1]
    assert [e for p in pages for e in p] == everything
    assert len({e.id for e in everything}) == 7
    assert [e.version for e in everything] == [7, 6, 5, 4, 3, 2, 1]


async def test_list_history__exact_multiple_of_page__last_page_has_no_cursor(
    services: Services, alice: Actor
) -> None:
    await services.flags.create_flag(alice, PROJECT, boolean_flag("checkout"))
    await services.flags.set_enabled(alice, PROJECT, "checkout", "staging", True)

    first = await services.flags.list_history(PROJECT, "checkout", limit=2)
    assert len(first.items) == 2
    assert first.next_cursor is None


@pytest.mark.parametrize("limit", [0, 501])
async def test_list_history__limit_out_of_range__raises_invalid_definition(
    services: Services, limit: int
) -> None:
    with pytest.raises(InvalidDefinition, match="limit"):
        await services.flags.list_history(PROJECT, "checkout", limit=limit)


async def test_list_history__flags_with_prefix_keys__kept_apart(
    services: Services, alice: Actor
) -> None:
    await services.flags.create_flag(alice, PROJECT, boolean_flag("check"))
    await services.flags.create_flag(alice, PROJECT, boolean_flag("checkout"))

    assert [e.key for e in await _history(services, "check")] == ["check"]
    assert [e.key for e in await _history(services, "checkout")] == ["checkout"]


# -- rollback --------------------------------------------------------------------------------


async def test_rollback__environment_entry__restores_only_that_environment(
    services: Services, alice: Actor, bob: Actor
) -> None:
    await services.flags.create_flag(alice, PROJECT, boolean_flag("checkout"))
    good = config(enabled=True, serve="on")
    await services.flags.update_environment(alice, PROJECT, "checkout", "production", good)
    target = (await _history(services))[0]
    await services.flags.update_environment(
        alice, PROJECT, "checkout", "production", config(enabled=True, serve="off")
    )
    await services.flags.set_enabled(alice, PROJECT, "checkout", "staging", True)
    before = await services.flags.get_flag(PROJECT, "checkout")

    restored = await services.flags.rollback(bob, PROJECT, "checkout", target.id)

    production = restored.environments["production"]
    assert production == good.replace(version=before.environments["production"].version + 1)
    assert restored.environments["staging"] == before.environments["staging"]
    assert restored.environments["development"] == before.environments["development"]
    assert restored.version == before.version + 1
    assert await services.flags.get_flag(PROJECT, "checkout") == restored


async def test_rollback__whole_flag_entry__restores_definition(
    services: Services, alice: Actor, bob: Actor
) -> None:
    await services.flags.create_flag(alice, PROJECT, boolean_flag("checkout"))
    await services.flags.update_flag(alice, PROJECT, "checkout", {"name": "Two"})
    target = (await _history(services))[0]
    await services.flags.update_flag(
        alice, PROJECT, "checkout", {"name": "Three", "tags": ("late",)}
    )
    await services.flags.set_enabled(alice, PROJECT, "checkout", "production", True)
    before = await services.flags.get_flag(PROJECT, "checkout")

    restored = await services.flags.rollback(bob, PROJECT, "checkout", target.id)

    assert (restored.name, restored.tags) == ("Two", ())
    assert restored.environments["production"].enabled is False
    assert restored.version == before.version + 1
    for key, env in restored.environments.items():
        assert env.version == before.environments[key].version + 1  # versions never go back
    assert restored.salt == before.salt
    assert await services.flags.get_flag(PROJECT, "checkout") == restored


async def test_rollback__any_entry__audited_as_rolled_back_by_who_rolled_back(
    services: Services, alice: Actor, bob: Actor
) -> None:
    await services.flags.create_flag(alice, PROJECT, boolean_flag("checkout"))
    await services.flags.set_enabled(alice, PROJECT, "checkout", "production", True)
    target = (await _history(services))[0]
    before = await written(services, "checkout")
    await services.flags.set_enabled(alice, PROJECT, "checkout", "production", False)

    restored = await services.flags.rollback(
        bob, PROJECT, "checkout", target.id, note="revert outage"
    )

    entry = (await _history(services))[0]
    assert (entry.action, entry.actor, entry.note) == (Action.ROLLED_BACK, bob, "revert outage")
    assert entry.rolled_back_to == target.id
    assert entry.environment == "production"
    assert entry.new == restored.model_dump(mode="json")
    assert entry.old is not None
    assert entry.old["environments"]["production"]["enabled"] is False
    changes = await services.store.read_changes(PROJECT, before.state.seq + 1)
    assert [(c.key, c.environments, c.version) for c in changes] == [
        ("checkout", ("production",), restored.version)
    ]


async def test_rollback__to_deletion_entry__refused_and_writes_nothing(
    services: Services, alice: Actor
) -> None:
    await services.flags.create_flag(alice, PROJECT, boolean_flag("checkout"))
    await services.flags.delete_flag(alice, PROJECT, "checkout")
    deletion = (await _history(services))[0]
    assert (deletion.action, deletion.new) == (Action.DELETED, None)
    before = await written(services, "checkout")

    with pytest.raises(InvalidDefinition, match="deleted the flag"):
        await services.flags.rollback(alice, PROJECT, "checkout", deletion.id)

    assert await written(services, "checkout") == before


async def test_rollback__after_deletion__recreates_flag(
    services: Services, alice: Actor, bob: Actor
) -> None:
    await services.flags.create_flag(alice, PROJECT, boolean_flag("checkout"))
    await services.flags.update_environment(
        alice, PROJECT, "checkout", "production", config(enabled=True)
    )
    target = (await _history(services))[0]
    deleted = await services.flags.get_flag(PROJECT, "checkout")
    await services.flags.delete_flag(alice, PROJECT, "checkout")

    restored = await services.flags.rollback(bob, PROJECT, "checkout", target.id)

    assert await services.flags.get_flag(PROJECT, "checkout") == restored
    assert restored.environments["production"].enabled is True
    assert restored.salt == deleted.salt  # bucketing stays sticky across the restore
    entry = (await _history(services))[0]
    assert (entry.action, entry.old, entry.rolled_back_to) == (Action.ROLLED_BACK, None, target.id)
    change = (await services.store.read_changes(PROJECT, 0))[-1]
    assert (change.key, change.change) == ("checkout", ChangeKind.UPSERT)


async def test_rollback__unknown_history_id__raises_not_found(
    services: Services, alice: Actor
) -> None:
    await services.flags.create_flag(alice, PROJECT, boolean_flag("checkout"))

    with pytest.raises(NotFound):
        await services.flags.rollback(alice, PROJECT, "checkout", "2000-01-01T00:00:00#0")


async def test_rollback__restored_prerequisite_now_missing__refused_and_writes_nothing(
    services: Services, alice: Actor
) -> None:
    await services.flags.create_flag(alice, PROJECT, boolean_flag("base"))
    await services.flags.create_flag(alice, PROJECT, boolean_flag("checkout"))
    await services.flags.update_environment(
        alice, PROJECT, "checkout", "production", config(prerequisites={"base": "on"})
    )
    target = (await _history(services))[0]
    await services.flags.update_environment(alice, PROJECT, "checkout", "production", config())
    await services.flags.delete_flag(alice, PROJECT, "base")
    before = await written(services, "checkout", "base")

    with pytest.raises(InvalidDefinition, match="'base' does not exist"):
        await services.flags.rollback(alice, PROJECT, "checkout", target.id)

    assert await written(services, "checkout", "base") == before


async def test_rollback__to_archived_state_of_a_prerequisite__refused_naming_dependent(
    services: Services, alice: Actor
) -> None:
    for key in ("base", "checkout"):
        await services.flags.create_flag(alice, PROJECT, boolean_flag(key))
    await services.flags.update_flag(alice, PROJECT, "base", {"archived": True})
    archived = (await _history(services, "base"))[0]
    await services.flags.update_flag(alice, PROJECT, "base", {"archived": False})
    await services.flags.update_environment(
        alice, PROJECT, "checkout", "production", config(prerequisites={"base": "on"})
    )
    before = await written(services, "checkout", "base")

    with pytest.raises(InvalidDefinition, match=r"archive flag 'base'.*\['checkout'\]"):
        await services.flags.rollback(alice, PROJECT, "base", archived.id)

    assert await written(services, "checkout", "base") == before


# -- scope and version continuity ------------------------------------------------------------


async def test_rollback__set_enabled_in_over_two_environments__restores_only_those(
    services: Services, alice: Actor, bob: Actor
) -> None:
    await services.flags.create_flag(alice, PROJECT, boolean_flag("checkout"))
    await services.flags.set_enabled_in(alice, PROJECT, "checkout", ["development", "staging"])
    await services.flags.set_enabled_in(alice, PROJECT, "checkout", [])
    switched_off = (await _history(services))[0]
    await services.flags.update_flag(alice, PROJECT, "checkout", {"name": "Renamed later"})
    await services.flags.set_enabled(alice, PROJECT, "checkout", "production", True)

    restored = await services.flags.rollback(bob, PROJECT, "checkout", switched_off.id)

    assert switched_off.environments == ("development", "staging")
    assert switched_off.environment is None
    assert {e: c.enabled for e, c in restored.environments.items()} == {
        "development": False,
        "staging": False,
        # Not part of the entry's scope: keeps the later change.
        "production": True,
    }
    assert restored.name == "Renamed later"
    [entry, *_] = await _history(services)
    assert entry.environments == ("development", "staging")
    assert entry.rolled_back_to == switched_off.id


async def test_create_flag__after_delete__versions_continue_from_history(
    services: Services, alice: Actor
) -> None:
    await services.flags.create_flag(alice, PROJECT, boolean_flag("checkout"))
    await services.flags.set_enabled(alice, PROJECT, "checkout", "production", True)
    await services.flags.delete_flag(alice, PROJECT, "checkout")  # version 3

    recreated = await services.flags.create_flag(alice, PROJECT, boolean_flag("checkout"))

    assert recreated.version == 4
    assert {c.version for c in recreated.environments.values()} == {4}
    changes = await services.store.read_changes(PROJECT, 0)
    assert [c.version for c in changes if c.key == "checkout"] == [1, 2, 3, 4]


async def test_rollback__after_delete__recreates_with_continued_version(
    services: Services, alice: Actor
) -> None:
    created = await services.flags.create_flag(alice, PROJECT, boolean_flag("checkout"))
    await services.flags.delete_flag(alice, PROJECT, "checkout")
    first = (await _history(services))[-1]

    restored = await services.flags.rollback(alice, PROJECT, "checkout", first.id)

    assert restored.version == 3
    assert restored.environments == {
        k: c.replace(version=3) for k, c in created.environments.items()
    }
