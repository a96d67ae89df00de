"""FlagService on every store: creation, environments, kill switches, races, bad input."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ff_core.errors import AlreadyExists, InvalidDefinition, NotFound, VersionConflict
from ff_core.limits import MAX_FLAG_BYTES, MAX_NOTE_LENGTH
from ff_core.models import Action, Actor, Target, Variant
from ff_core.services import Services
from ff_core.store import ProjectState, Store
from tests.core.services_support import (
    ENVIRONMENTS,
    PROJECT,
    START,
    FakeClock,
    boolean_flag,
    config,
    written,
)

# -- create_flag -----------------------------------------------------------------------------


async def test_create_flag__in_project__every_environment_disabled_at_version_1(
    services: Services, alice: Actor
) -> None:
    created = await services.flags.create_flag(alice, PROJECT, boolean_flag("checkout"))

    stored = await services.flags.get_flag(PROJECT, "checkout")
    assert stored == created
    assert stored.version == 1
    assert set(stored.environments) == set(ENVIRONMENTS)
    for env in stored.environments.values():
        assert (env.enabled, env.version) == (False, 1)
    assert stored.created_at is not None
    assert stored.created_at > START
    assert stored.updated_at == stored.created_at


async def test_create_flag__config_given_for_one_environment__kept_and_others_defaulted(
    services: Services, alice: Actor
) -> None:
    flag = boolean_flag("checkout", environments={"staging": config(enabled=True)})

    created = await services.flags.create_flag(alice, PROJECT, flag)

    assert created.environments["staging"].enabled is True
    assert created.environments["staging"].version == 1
    assert created.environments["production"].enabled is False


async def test_create_flag__key_exists__raises_already_exists_and_writes_nothing(
    services: Services, alice: Actor
) -> None:
    await services.flags.create_flag(alice, PROJECT, boolean_flag("checkout"))
    before = await written(services, "checkout")

    with pytest.raises(AlreadyExists, match="checkout"):
        await services.flags.create_flag(alice, PROJECT, boolean_flag("checkout"))

    assert await written(services, "checkout") == before


async def test_create_flag__unknown_project__raises_not_found(
    services: Services, alice: Actor
) -> None:
    with pytest.raises(NotFound, match="nowhere"):
        await services.flags.create_flag(alice, "nowhere", boolean_flag("checkout"))


async def test_create_flag__config_for_unknown_environment__raises_invalid_definition_naming_it(
    services: Services, alice: Actor
) -> None:
    flag = boolean_flag("checkout", environments={"qa": config()})
    before = await written(services, "checkout")

    with pytest.raises(InvalidDefinition, match="qa") as caught:
        await services.flags.create_flag(alice, PROJECT, flag)

    assert caught.value.details["field"] == "environments"
    assert await written(services, "checkout") == before


# -- update_environment ----------------------------------------------------------------------


async def test_update_environment__stale_expected_version__conflicts_and_writes_nothing(
    services: Services, alice: Actor
) -> None:
    await services.flags.create_flag(alice, PROJECT, boolean_flag("checkout"))
    await services.flags.set_enabled(alice, PROJECT, "checkout", "production", True)
    before = await written(services, "checkout")

    with pytest.raises(VersionConflict) as caught:
        await services.flags.update_environment(
            alice, PROJECT, "checkout", "production", config(serve="off"), expected_version=1
        )

    assert (caught.value.expected, caught.value.current) == (1, 2)
    assert await written(services, "checkout") == before


async def test_update_environment__current_expected_version__bumps_environment_and_flag(
    services: Services, alice: Actor
) -> None:
    created = await services.flags.create_flag(alice, PROJECT, boolean_flag("checkout"))

    updated = await services.flags.update_environment(
        alice, PROJECT, "checkout", "production", config(enabled=True), expected_version=1
    )

    assert updated.environments["production"].version == 2
    assert updated.environments["production"].enabled is True
    assert updated.environments["staging"] == created.environments["staging"]
    assert updated.version == created.version + 1
    assert await services.flags.get_flag(PROJECT, "checkout") == updated


async def test_update_environment__other_environment_changed_since_read__succeeds(
    services: Services, alice: Actor, bob: Actor
) -> None:
    await services.flags.create_flag(alice, PROJECT, boolean_flag("checkout"))
    read = await services.flags.get_flag(PROJECT, "checkout")
    await services.flags.set_enabled(bob, PROJECT, "checkout", "staging", True)

    updated = await services.flags.update_environment(
        alice,
        PROJECT,
        "checkout",
        "production",
        config(enabled=True),
        expected_version=read.environments["production"].version,
    )

    assert updated.environments["staging"].enabled is True  # bob's change is kept
    assert updated.environments["production"].enabled is True
    assert updated.version == read.version + 2


class _WriteAfterFirstLoad:
    """A store through which another writer commits right after the first project load.

    The service then commits on a stale read and must plan again on what was written.
    """

    def __init__(self, inner: Store, write: Any) -> None:
        self._inner = inner
        self._write = write
        self.loads = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def load_project(self, project: str) -> ProjectState:
        state = await self._inner.load_project(project)
        self.loads += 1
        if self.loads == 1:
            await self._write()
        return state


async def test_update_environment__other_environment_written_during_plan__replans_and_succeeds(
    store: Store, services: Services, clock: FakeClock, alice: Actor, bob: Actor
) -> None:
    await services.flags.create_flag(alice, PROJECT, boolean_flag("checkout"))
    racing = _WriteAfterFirstLoad(
        store, lambda: services.flags.set_enabled(bob, PROJECT, "checkout", "staging", True)
    )
    racer = Services(racing, clock)  # type: ignore[arg-type]

    updated = await racer.flags.update_environment(
        alice, PROJECT, "checkout", "production", config(enabled=True), expected_version=1
    )

    assert racing.loads == 2
    assert updated.environments["staging"].enabled is True
    assert updated.environments["production"].version == 2
    history = await services.flags.list_history(PROJECT, "checkout")
    assert [e.action for e in history.items] == [
        Action.ENVIRONMENT_UPDATED,
        Action.ENABLED_SET,
        Action.CREATED,
    ]


async def test_update_environment__same_environment_written_during_plan__conflicts(
    store: Store, services: Services, clock: FakeClock, alice: Actor, bob: Actor
) -> None:
    await services.flags.create_flag(alice, PROJECT, boolean_flag("checkout"))
    racing = _WriteAfterFirstLoad(
        store, lambda: services.flags.set_enabled(bob, PROJECT, "checkout", "production", True)
    )
    racer = Services(racing, clock)  # type: ignore[arg-type]

    with pytest.raises(VersionConflict) as caught:
        await racer.flags.update_environment(
            alice, PROJECT, "checkout", "production", config(serve="off"), expected_version=1
        )

    assert caught.value.current == 2
    assert (await services.flags.get_flag(PROJECT, "checkout")).environments[
        "production"
    ].enabled is True


async def test_update_environment__fifty_concurrent_on_one_version__exactly_one_wins(
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
                config(enabled=i % 2 == 0, serve="on" if i % 3 else "off"),
                expected_version=1,
                note=f"attempt {i}",
            )
            for i in range(50)
        ),
        return_exceptions=True,
    )

    conflicts = [r for r in results if isinstance(r, VersionConflict)]
    winners = [r for r in results if not isinstance(r, BaseException)]
    assert (len(winners), len(conflicts)) == (1, 49)
    flag = await services.flags.get_flag(PROJECT, "checkout")
    assert flag == winners[0]
    assert flag.environments["production"].version == 2
    history = (await services.flags.list_history(PROJECT, "checkout")).items
    assert len(history) == len(before.histories["flag:checkout"]) + 1
    assert history[0].new == flag.model_dump(mode="json")
    changes = await services.store.read_changes(PROJECT, 0)
    assert len(changes) == len(before.changes) + 1


async def test_update_environment__unknown_environment__raises_invalid_definition_naming_it(
    services: Services, alice: Actor
) -> None:
    await services.flags.create_flag(alice, PROJECT, boolean_flag("checkout"))
    before = await written(services, "checkout")

    with pytest.raises(InvalidDefinition, match="qa"):
        await services.flags.update_environment(alice, PROJECT, "checkout", "qa", config())
    with pytest.raises(InvalidDefinition, match="qa"):
        await services.flags.set_enabled(alice, PROJECT, "checkout", "qa", True)

    assert await written(services, "checkout") == before


async def test_update_environment__unknown_flag__raises_not_found(
    services: Services, alice: Actor
) -> None:
    with pytest.raises(NotFound, match="ghost"):
        await services.flags.update_environment(alice, PROJECT, "ghost", "staging", config())


# -- set_enabled_in --------------------------------------------------------------------------


async def test_set_enabled_in__environment_set__enabled_exactly_there_in_one_entry(
    services: Services, alice: Actor
) -> None:
    await services.flags.create_flag(alice, PROJECT, boolean_flag("checkout"))
    for env in ("development", "staging"):
        await services.flags.set_enabled(alice, PROJECT, "checkout", env, True)
    before = await written(services, "checkout")
    staging = before.state.flags["checkout"].environments["staging"]

    flag = await services.flags.set_enabled_in(
        alice, PROJECT, "checkout", ["staging", "production"], note="go live"
    )

    assert {k: c.enabled for k, c in flag.environments.items()} == {
        "development": False,
        "staging": True,
        "production": True,
    }
    assert flag.environments["staging"] == staging
    after = await written(services, "checkout")
    new_entries = after.histories["flag:checkout"][: -len(before.histories["flag:checkout"])]
    assert [(e.action, e.note) for e in new_entries] == [(Action.ENABLED_SET, "go live")]
    new_changes = after.changes[len(before.changes) :]
    assert [sorted(c.environments) for c in new_changes] == [["development", "production"]]


async def test_set_enabled_in__same_set_again__writes_nothing(
    services: Services, alice: Actor
) -> None:
    await services.flags.create_flag(alice, PROJECT, boolean_flag("checkout"))
    first = await services.flags.set_enabled_in(alice, PROJECT, "checkout", ["staging"])
    before = await written(services, "checkout")

    again = await services.flags.set_enabled_in(alice, PROJECT, "checkout", {"staging"})

    assert again == first
    assert await written(services, "checkout") == before


async def test_set_enabled_in__unknown_environment__raises_invalid_definition_naming_it(
    services: Services, alice: Actor
) -> None:
    await services.flags.create_flag(alice, PROJECT, boolean_flag("checkout"))
    before = await written(services, "checkout")

    with pytest.raises(InvalidDefinition, match="qa"):
        await services.flags.set_enabled_in(alice, PROJECT, "checkout", ["staging", "qa"])

    assert await written(services, "checkout") == before


# -- bad input loses nothing -----------------------------------------------------------------


async def test_create_flag__beyond_byte_limit__raises_invalid_definition_naming_limit(
    services: Services, alice: Actor
) -> None:
    huge = config().replace(
        targets=(Target(variant="on", values=tuple(f"user-{i:08d}" for i in range(10_000))),)
    )
    flag = boolean_flag("checkout", environments={"production": huge})
    before = await written(services, "checkout")

    with pytest.raises(InvalidDefinition, match=f"limit is {MAX_FLAG_BYTES} bytes"):
        await services.flags.create_flag(alice, PROJECT, flag)

    assert await written(services, "checkout") == before


async def test_update_environment__grows_beyond_byte_limit__refused_and_writes_nothing(
    services: Services, alice: Actor
) -> None:
    await services.flags.create_flag(alice, PROJECT, boolean_flag("checkout"))
    before = await written(services, "checkout")
    huge = config().replace(
        targets=(Target(variant="on", values=tuple(f"user-{i:08d}" for i in range(10_000))),)
    )

    with pytest.raises(InvalidDefinition, match=str(MAX_FLAG_BYTES)):
        await services.flags.update_environment(alice, PROJECT, "checkout", "staging", huge)

    assert await written(services, "checkout") == before


async def test_update_flag__note_too_long__raises_invalid_definition(
    services: Services, alice: Actor
) -> None:
    await services.flags.create_flag(alice, PROJECT, boolean_flag("checkout"))
    before = await written(services, "checkout")

    with pytest.raises(InvalidDefinition, match=f"at most {MAX_NOTE_LENGTH}") as caught:
        await services.flags.update_flag(
            alice, PROJECT, "checkout", {"name": "Renamed"}, note="x" * (MAX_NOTE_LENGTH + 1)
        )

    assert caught.value.details["field"] == "note"
    assert await written(services, "checkout") == before


@pytest.mark.parametrize(
    "changes",
    [
        {"salt": "0000"},
        {"environments": {}},
        {"version": 9},
        {"key": "other"},
        {"name": "ok", "value_type": "string"},
    ],
)
async def test_update_flag__non_metadata_field__raises_invalid_definition(
    services: Services, alice: Actor, changes: dict[str, Any]
) -> None:
    await services.flags.create_flag(alice, PROJECT, boolean_flag("checkout"))
    before = await written(services, "checkout")

    with pytest.raises(InvalidDefinition, match="cannot update") as caught:
        await services.flags.update_flag(alice, PROJECT, "checkout", changes)

    assert caught.value.details["field"] in changes
    assert await written(services, "checkout") == before


async def test_update_flag__variants_drop_a_served_variant__raises_invalid_definition(
    services: Services, alice: Actor
) -> None:
    await services.flags.create_flag(alice, PROJECT, boolean_flag("checkout"))
    before = await written(services, "checkout")

    with pytest.raises(InvalidDefinition, match=r"serves unknown variant\(s\) \['on'\]") as caught:
        await services.flags.update_flag(
            alice, PROJECT, "checkout", {"variants": {"off": Variant(value=False)}}
        )

    assert "variants" in str(caught.value)
    assert await written(services, "checkout") == before


async def test_update_flag__metadata_fields__updated_with_version_and_audited(
    services: Services, alice: Actor
) -> None:
    created = await services.flags.create_flag(alice, PROJECT, boolean_flag("checkout"))

    updated = await services.flags.update_flag(
        alice,
        PROJECT,
        "checkout",
        {"name": "Checkout v2", "tags": ("payments",)},
        expected_version=1,
    )

    assert (updated.name, updated.tags, updated.version) == ("Checkout v2", ("payments",), 2)
    assert updated.environments == created.environments
    assert [f.key for f in await services.flags.list_flags(PROJECT, tag="payments")] == ["checkout"]
    with pytest.raises(VersionConflict):
        await services.flags.update_flag(
            alice, PROJECT, "checkout", {"name": "Stale"}, expected_version=1
        )
