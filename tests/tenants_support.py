"""Registry flags for the tenant tests, committed through the Writer directly.

Why not ``ff registry sync``: the tenant work and the registry sync were built side by side;
these tests need only what a sync leaves behind (a flag with ``registry`` set and its
environments at the registry defaults, a project with ``registry_enforced``), written
through the same audited Writer a sync uses, so the change log and history are real.
"""

from __future__ import annotations

from ff_core.models import Action, Actor, EntityKind, Flag, RegistryDefinition, boolean_variants
from ff_core.registry import default_config
from ff_core.services.writer import Change, Writer
from ff_core.store import Store


def registry_flag(key: str, defaults: dict[str, str], **fields: object) -> Flag:
    """A boolean registry flag (variants on/off) with ``defaults`` per environment."""
    return Flag.model_validate(
        {
            "key": key,
            "name": key,
            "variants": boolean_variants(),
            "registry": RegistryDefinition(defaults=defaults),
            **fields,
        }
    )


async def put_registry_flag(store: Store, actor: Actor, project: str, flag: Flag) -> Flag:
    """Create or replace ``flag`` with every environment at its registry default, as a sync
    does (a new default replaces the old one in each environment)."""
    writer = Writer(store)

    async def plan() -> Change:
        state = await store.load_project(project)
        old = state.flags.get(flag.key)
        version = old.version + 1 if old is not None else 1
        configs = {
            env: config
            for env in state.project.environment_keys()
            if (config := default_config(flag, env, version)) is not None
        }
        new = flag.replace(environments=configs, version=version, salt=flag.salt)
        action = Action.CREATED if old is None else Action.UPDATED
        return Change(old, new, action, tuple(configs))

    written = await writer.apply(actor, project, EntityKind.FLAG, flag.key, {}, plan)
    assert isinstance(written, Flag)
    return written


async def unregister(store: Store, actor: Actor, project: str, key: str) -> None:
    """Take ``key`` out of the registry (its state stays), as a sync of a file without it."""
    writer = Writer(store)

    async def plan() -> Change:
        old = await store.get_flag(project, key)
        new = old.replace(registry=None, version=old.version + 1)
        return Change(old, new, Action.UPDATED)

    await writer.apply(actor, project, EntityKind.FLAG, key, {}, plan)


async def enforce(store: Store, actor: Actor, project: str) -> None:
    """Turn on ``registry_enforced``, as the first sync does."""
    writer = Writer(store)

    async def plan() -> Change:
        old = await store.get_project(project)
        new = old.replace(registry_enforced=True, version=old.version + 1)
        return Change(old, new, Action.UPDATED)

    await writer.apply(actor, project, EntityKind.PROJECT, project, {}, plan)
