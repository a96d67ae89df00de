"""Prerequisites on every store: references checked, cycles refused, dependents protected."""

from __future__ import annotations

import pytest

from ff_core.errors import CycleDetected, InvalidDefinition
from ff_core.models import Actor, Variant
from ff_core.services import Services
from tests.core.services_support import PROJECT, boolean_flag, config, written


async def _flags(services: Services, actor: Actor, *keys: str) -> None:
    for key in keys:
        await services.flags.create_flag(actor, PROJECT, boolean_flag(key))


async def _require(
    services: Services, actor: Actor, key: str, prerequisite: str, variant: str = "on"
) -> None:
    await services.flags.update_environment(
        actor, PROJECT, key, "production", config(prerequisites={prerequisite: variant})
    )


async def test_update_environment__unknown_prerequisite_flag__raises_invalid_definition(
    services: Services, alice: Actor
) -> None:
    await _flags(services, alice, "a")
    before = await written(services, "a")

    with pytest.raises(InvalidDefinition, match="'ghost' does not exist"):
        await _require(services, alice, "a", "ghost")

    assert await written(services, "a") == before


async def test_update_environment__unknown_prerequisite_variant__raises_invalid_definition(
    services: Services, alice: Actor
) -> None:
    await _flags(services, alice, "a", "b")
    before = await written(services, "a", "b")

    with pytest.raises(InvalidDefinition, match="no variant 'maybe'"):
        await _require(services, alice, "a", "b", "maybe")

    assert await written(services, "a", "b") == before


async def test_update_environment__prerequisite_back_to_dependent__raises_cycle_with_path(
    services: Services, alice: Actor
) -> None:
    await _flags(services, alice, "a", "b")
    await _require(services, alice, "a", "b")
    before = await written(services, "a", "b")

    with pytest.raises(CycleDetected, match="b -> a -> b") as caught:
        await _require(services, alice, "b", "a")

    assert caught.value.details["cycle"] == ["b", "a", "b"]
    assert await written(services, "a", "b") == before


async def test_update_environment__three_flag_loop__raises_cycle_with_path(
    services: Services, alice: Actor
) -> None:
    await _flags(services, alice, "a", "b", "c")
    await _require(services, alice, "a", "b")
    await _require(services, alice, "b", "c")
    before = await written(services, "a", "b", "c")

    with pytest.raises(CycleDetected, match="c -> a -> b -> c"):
        await _require(services, alice, "c", "a")

    assert await written(services, "a", "b", "c") == before


async def test_update_environment__prerequisite_chain_in_other_environment__no_cycle(
    services: Services, alice: Actor
) -> None:
    await _flags(services, alice, "a", "b")
    await _require(services, alice, "a", "b")

    flag = await services.flags.update_environment(
        alice, PROJECT, "b", "staging", config(prerequisites={"a": "on"})
    )

    assert flag.environments["staging"].prerequisites[0].flag == "a"


async def test_delete_flag__prerequisite_of_another__refused_naming_dependent(
    services: Services, alice: Actor
) -> None:
    await _flags(services, alice, "a", "b")
    await _require(services, alice, "a", "b")
    before = await written(services, "a", "b")

    with pytest.raises(InvalidDefinition, match=r"prerequisite of \['a'\]") as caught:
        await services.flags.delete_flag(alice, PROJECT, "b")

    assert caught.value.details["dependents"] == ["a"]
    assert await written(services, "a", "b") == before


async def test_update_flag__archive_prerequisite_of_another__refused_naming_dependent(
    services: Services, alice: Actor
) -> None:
    await _flags(services, alice, "a", "b")
    await _require(services, alice, "a", "b")
    before = await written(services, "a", "b")

    with pytest.raises(InvalidDefinition, match=r"archive flag 'b'.*\['a'\]"):
        await services.flags.update_flag(alice, PROJECT, "b", {"archived": True})

    assert await written(services, "a", "b") == before


async def test_update_flag__drops_variant_a_dependent_requires__refused_naming_dependent(
    services: Services, alice: Actor
) -> None:
    variants = {"on": Variant(value=True), "off": Variant(value=False)}
    await services.flags.create_flag(
        alice, PROJECT, boolean_flag("b", variants={**variants, "beta": Variant(value=True)})
    )
    await services.flags.create_flag(alice, PROJECT, boolean_flag("a"))
    await _require(services, alice, "a", "b", "beta")
    before = await written(services, "a", "b")

    with pytest.raises(InvalidDefinition, match="'a' requires variant 'beta'") as caught:
        await services.flags.update_flag(alice, PROJECT, "b", {"variants": variants})

    assert caught.value.details["dependents"] == ["a"]
    assert await written(services, "a", "b") == before
