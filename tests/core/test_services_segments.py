"""SegmentService on every store: versions, references from flags, audited deletion."""

from __future__ import annotations

import pytest

from ff_core.errors import AlreadyExists, InvalidDefinition, NotFound, VersionConflict
from ff_core.models import Action, Actor, ChangeKind, EntityKind
from ff_core.services import Services
from tests.core.services_support import (
    PROJECT,
    boolean_flag,
    config,
    segment,
    written,
)


async def test_update_environment__rule_with_unknown_segment__raises_invalid_definition(
    services: Services, alice: Actor
) -> None:
    await services.flags.create_flag(alice, PROJECT, boolean_flag("checkout"))
    before = await written(services, "checkout")

    with pytest.raises(InvalidDefinition, match=r"unknown segment\(s\) \['beta'\]") as caught:
        await services.flags.update_environment(
            alice, PROJECT, "checkout", "production", config(segments=("beta",))
        )

    assert caught.value.details["field"] == "environments.production.rules"
    assert await written(services, "checkout") == before


async def test_create_flag__rule_with_unknown_segment__raises_invalid_definition(
    services: Services, alice: Actor
) -> None:
    flag = boolean_flag("checkout", environments={"staging": config(segments=("beta",))})
    before = await written(services, "checkout")

    with pytest.raises(InvalidDefinition, match="beta"):
        await services.flags.create_flag(alice, PROJECT, flag)

    assert await written(services, "checkout") == before


async def test_save_segment__create_then_update__versions_increment(
    services: Services, alice: Actor, bob: Actor
) -> None:
    created = await services.segments.save_segment(alice, PROJECT, segment("beta", "u1"))
    updated = await services.segments.save_segment(
        bob, PROJECT, segment("beta", "u1", "u2"), expected_version=1, note="add u2"
    )

    assert (created.version, updated.version) == (1, 2)
    assert await services.segments.get_segment(PROJECT, "beta") == updated
    assert await services.segments.list_segments(PROJECT) == [updated]
    history = await services.store.list_history(PROJECT, EntityKind.SEGMENT, "beta")
    assert [(e.action, e.actor, e.note, e.version) for e in history.items] == [
        (Action.UPDATED, bob, "add u2", 2),
        (Action.CREATED, alice, "", 1),
    ]
    assert history.items[0].old == created.model_dump(mode="json")


async def test_save_segment__stale_expected_version__conflicts_and_writes_nothing(
    services: Services, alice: Actor
) -> None:
    await services.segments.save_segment(alice, PROJECT, segment("beta", "u1"))
    await services.segments.save_segment(alice, PROJECT, segment("beta", "u2"), expected_version=1)
    before = await written(services, segments=("beta",))

    with pytest.raises(VersionConflict) as caught:
        await services.segments.save_segment(
            alice, PROJECT, segment("beta", "u3"), expected_version=1
        )

    assert caught.value.current == 2
    assert await written(services, segments=("beta",)) == before


async def test_save_segment__existing_key_without_version__raises_already_exists(
    services: Services, alice: Actor
) -> None:
    await services.segments.save_segment(alice, PROJECT, segment("beta", "u1"))

    with pytest.raises(AlreadyExists, match="beta"):
        await services.segments.save_segment(alice, PROJECT, segment("beta", "u2"))


async def test_save_segment__update_of_missing_segment__raises_not_found(
    services: Services, alice: Actor
) -> None:
    with pytest.raises(NotFound, match="beta"):
        await services.segments.save_segment(
            alice, PROJECT, segment("beta", "u1"), expected_version=1
        )


async def test_delete_segment__used_by_a_flag__refused_naming_it_and_writes_nothing(
    services: Services, alice: Actor
) -> None:
    await services.segments.save_segment(alice, PROJECT, segment("beta", "u1"))
    await services.flags.create_flag(alice, PROJECT, boolean_flag("checkout"))
    await services.flags.update_environment(
        alice, PROJECT, "checkout", "staging", config(segments=("beta",))
    )
    before = await written(services, "checkout", segments=("beta",))

    with pytest.raises(InvalidDefinition, match=r"\['checkout'\] use it"):
        await services.segments.delete_segment(alice, PROJECT, "beta")

    assert await written(services, "checkout", segments=("beta",)) == before


async def test_delete_segment__no_longer_used__deleted_and_audited(
    services: Services, alice: Actor, bob: Actor
) -> None:
    saved = await services.segments.save_segment(alice, PROJECT, segment("beta", "u1"))
    await services.flags.create_flag(
        alice,
        PROJECT,
        boolean_flag("checkout", environments={"staging": config(segments=("beta",))}),
    )
    await services.flags.update_environment(alice, PROJECT, "checkout", "staging", config())
    before = await written(services, segments=("beta",))

    await services.segments.delete_segment(bob, PROJECT, "beta", note="unused")

    with pytest.raises(NotFound):
        await services.segments.get_segment(PROJECT, "beta")
    after = await written(services, segments=("beta",))
    entry = after.histories["segment:beta"][0]
    assert (entry.action, entry.actor, entry.note) == (Action.DELETED, bob, "unused")
    assert (entry.old, entry.new) == (saved.model_dump(mode="json"), None)
    assert [(c.entity, c.key, c.change) for c in after.changes[len(before.changes) :]] == [
        (EntityKind.SEGMENT, "beta", ChangeKind.DELETE)
    ]


async def test_delete_segment__missing__raises_not_found(services: Services, alice: Actor) -> None:
    with pytest.raises(NotFound, match="beta"):
        await services.segments.delete_segment(alice, PROJECT, "beta")
