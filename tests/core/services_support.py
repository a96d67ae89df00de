"""Builders shared by the service tests: a fake clock, a seeded project, a write snapshot."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ff_core.models import (
    Actor,
    ChangeEntry,
    Clause,
    EntityKind,
    EnvironmentConfig,
    Flag,
    HistoryEntry,
    Operator,
    Prerequisite,
    Project,
    Rule,
    Segment,
    Serve,
    boolean_variants,
)
from ff_core.services import Services
from ff_core.store import ProjectState, Store

PROJECT = "shop"
ENVIRONMENTS = ("development", "staging", "production")
START = datetime(2030, 1, 1, tzinfo=UTC)


class FakeClock:
    """Starts at ``START`` and moves on 1 ms per reading: every write gets its own instant."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now


async def project_services(store: Store, actor: Actor, clock: FakeClock | None = None) -> Services:
    """Services over ``store`` with a fake clock and the project ``shop`` created."""
    services = Services(store, clock or FakeClock())
    await services.projects.create_project(actor, Project(key=PROJECT, name="Shop"))
    return services


def boolean_flag(key: str, **fields: Any) -> Flag:
    """A flag with variants ``on``/``off`` unless ``fields`` say otherwise."""
    return Flag(**{"key": key, "name": key.capitalize(), "variants": boolean_variants(), **fields})


def config(
    *,
    enabled: bool = False,
    serve: str = "on",
    prerequisites: dict[str, str] | None = None,
    segments: tuple[str, ...] = (),
) -> EnvironmentConfig:
    """A config serving ``serve``; ``segments`` adds one rule matching any of them."""
    rules = (
        (
            Rule(
                clauses=(Clause(operator=Operator.IN_SEGMENT, values=segments),),
                serve=Serve(variant="on"),
            ),
        )
        if segments
        else ()
    )
    return EnvironmentConfig(
        enabled=enabled,
        off_variant="off",
        fallthrough=Serve(variant=serve),
        rules=rules,
        prerequisites=tuple(
            Prerequisite(flag=flag, variant=variant)
            for flag, variant in (prerequisites or {}).items()
        ),
    )


def segment(key: str, *included: str) -> Segment:
    return Segment(key=key, name=key.capitalize(), included=included)


@dataclass(frozen=True)
class Written:
    """Everything a refused mutation must leave untouched."""

    state: ProjectState
    changes: list[ChangeEntry]
    histories: dict[str, list[HistoryEntry]]


async def written(services: Services, *keys: str, segments: tuple[str, ...] = ()) -> Written:
    """The project, its change log, and the history of flags ``keys`` and ``segments``."""
    store = services.store
    histories = {}
    for kind, names in ((EntityKind.FLAG, keys), (EntityKind.SEGMENT, segments)):
        for name in names:
            page = await store.list_history(PROJECT, kind, name, limit=500)
            histories[f"{kind.value}:{name}"] = page.items
    return Written(
        state=await store.load_project(PROJECT),
        changes=await store.read_changes(PROJECT, 0),
        histories=histories,
    )
