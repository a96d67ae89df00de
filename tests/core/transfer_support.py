"""A seeded project for the export/import tests, and what to compare after a move."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from ff_core.evaluation import CompiledEnvironment, evaluate
from ff_core.models import (
    Action,
    Actor,
    Clause,
    EntityKind,
    EnvironmentConfig,
    Flag,
    Operator,
    Project,
    RegistryDefinition,
    Rollout,
    Rule,
    Serve,
    Tenant,
    TenantValue,
    WeightedVariant,
)
from ff_core.models.flag import Variant
from ff_core.services import Services
from ff_core.store import DynamoStore, Write
from ff_core.tenancy import served_flags
from tests.core.services_support import FakeClock, boolean_flag, config, segment

SOURCE = "shop"
AT = datetime(2030, 6, 1, tzinfo=UTC)
CONTEXTS = [
    {"targeting_key": f"user-{i}", "country": country, "tenant": tenant}
    for i in range(40)
    for country, tenant in (("US", "acme"), ("DE", "globex"))
] + [{"targeting_key": "u1"}, {"targeting_key": "vip-1", "country": "FR"}]


async def _put(store: DynamoStore, actor: Actor, kind: EntityKind, new: Any, old: Any) -> None:
    """A write as a service commits it (history and change log included), for entities the
    services only build from a registry file (registry flags, onboarded tenants)."""
    await store.commit(
        Write(
            project=SOURCE,
            entity=kind,
            key=new.key,
            action=Action.CREATED if old is None else Action.UPDATED,
            actor=actor,
            at=AT,
            new=new,
            old=old,
            expected_version=None if old is None else old.version,
            idempotency_key=uuid.uuid4().hex,
            fingerprint="seed",
        )
    )


async def seed(store: DynamoStore, actor: Actor) -> Services:
    """A project with segments, rules, a rollout, prerequisites, a registry flag, a tenant,
    a deleted flag and a deleted segment: every kind of item and history an export holds."""
    services = Services(store, FakeClock())
    await services.projects.create_project(actor, Project(key=SOURCE, name="Shop"))
    await services.segments.save_segment(actor, SOURCE, segment("beta", "u1", "u2"))
    await services.segments.save_segment(actor, SOURCE, segment("gone", "x"))
    await services.segments.delete_segment(actor, SOURCE, "gone", note="unused")
    await services.flags.create_flag(actor, SOURCE, boolean_flag("checkout", salt="s1"))
    rollout = Serve(
        rollout=Rollout(
            variants=(
                WeightedVariant(variant="on", weight=30_000),
                WeightedVariant(variant="off", weight=70_000),
            )
        )
    )
    prod = config(enabled=True, segments=("beta",)).replace(fallthrough=rollout)
    await services.flags.update_environment(
        actor, SOURCE, "checkout", "production", prod, expected_version=1, note="launch"
    )
    banner = Flag(
        key="banner",
        name="Banner",
        salt="s2",
        value_type="string",
        variants={"a": Variant(value="hello"), "b": Variant(value="bonjour")},
        environments={
            "production": EnvironmentConfig(
                enabled=True,
                off_variant="a",
                rules=(
                    Rule(
                        clauses=(
                            Clause(attribute="country", operator=Operator.EQ, values=("FR",)),
                        ),
                        serve=Serve(variant="b"),
                    ),
                ),
                fallthrough=Serve(variant="b"),
                prerequisites=(),
            )
        },
    )
    await services.flags.create_flag(actor, SOURCE, banner)
    gated = boolean_flag(
        "gated",
        salt="s3",
        environments={"production": config(enabled=True, prerequisites={"checkout": "on"})},
    )
    await services.flags.create_flag(actor, SOURCE, gated)
    await services.flags.create_flag(actor, SOURCE, boolean_flag("legacy"))
    await services.flags.delete_flag(actor, SOURCE, "legacy", note="cleanup")
    plans = boolean_flag(
        "plans",
        salt="s4",
        version=1,
        registry=RegistryDefinition(defaults={"production": "off", "development": "off"}),
        environments={"production": config(enabled=True, serve="off")},
    )
    await _put(store, actor, EntityKind.FLAG, plans, None)
    acme = Tenant(
        key="acme",
        name="Acme",
        version=1,
        state={"plans": {"production": TenantValue(variant="on", overridden=True)}},
    )
    await _put(store, actor, EntityKind.TENANT, acme, None)
    return services


async def project_items(store: DynamoStore, project: str) -> list[dict[str, Any]]:
    """Every item of the table whose partition belongs to ``project``."""
    names = (f"PROJECT#{project}", f"HISTORY#{project}#", f"CHANGES#{project}")
    return [
        item
        for item in await store.dump_items()
        if item["pk"]["S"] == f"PROJECT#{project}"
        or item["pk"]["S"].startswith(names[1])
        or item["pk"]["S"] == names[2]
        or (item["pk"]["S"] == "PROJECTS" and item["sk"]["S"] == project)
    ]


async def answers(store: DynamoStore, project: str) -> list[tuple[str, str, Any, Any, str]]:
    state = await store.load_project(project)
    flags = served_flags(state).values()
    out = []
    for env in state.project.environment_keys():
        compiled = CompiledEnvironment(env, flags, state.segments.values())
        for key in sorted(compiled.flags):
            for ctx in CONTEXTS:
                result = evaluate(compiled, key, ctx, now=AT.timestamp())
                out.append((env, key, result.value, result.variant, result.reason.value))
    return out


async def histories(store: DynamoStore, project: str) -> list[tuple[Any, ...]]:
    """Each entity's history as the store's own reader returns it, project-neutral."""
    entries = []
    for kind, key in [
        (EntityKind.FLAG, k) for k in ("banner", "checkout", "gated", "legacy", "plans")
    ] + [(EntityKind.SEGMENT, "beta"), (EntityKind.SEGMENT, "gone"), (EntityKind.TENANT, "acme")]:
        page = await store.list_history(project, kind, key, limit=100)
        entries += [
            (kind, key, e.id, e.action, e.actor, e.note, e.old, e.new, e.version, e.seq)
            for e in page.items
        ]
    return entries
