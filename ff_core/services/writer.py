"""The one way services write: idempotent, audited, re-planned when a race is lost."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from ff_core.errors import FFError, InvalidDefinition, VersionConflict
from ff_core.limits import MAX_NOTE_LENGTH
from ff_core.models import Action, Actor, EntityKind, Flag, Project, Segment, Tenant
from ff_core.store import Entity, Store, Write

Clock = Callable[[], datetime]
# Rounds of read-validate-commit when another writer changed the entity in between.
_PLAN_ATTEMPTS = 5


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Change:
    """What a service decided to write; ``new`` None deletes."""

    old: Entity | None
    new: Entity | None
    action: Action
    environments: tuple[str, ...] = ()
    environment: str | None = None
    # The environments the change is limited to; empty: the whole entity.
    scoped_to: tuple[str, ...] = ()
    rolled_back_to: str | None = None

    @classmethod
    def in_environments(
        cls, old: Entity, new: Entity, action: Action, environments: tuple[str, ...]
    ) -> Change:
        """A change limited to ``environments`` of a flag."""
        single = environments[0] if len(environments) == 1 else None
        return cls(old, new, action, environments, single, environments)


Plan = Callable[[], Awaitable[Change | None]]
_MODELS: dict[EntityKind, type[Project] | type[Flag] | type[Segment] | type[Tenant]] = {
    EntityKind.PROJECT: Project,
    EntityKind.FLAG: Flag,
    EntityKind.SEGMENT: Segment,
    EntityKind.TENANT: Tenant,
}


def check_note(note: str) -> str:
    if len(note) > MAX_NOTE_LENGTH:
        raise InvalidDefinition(
            f"note: at most {MAX_NOTE_LENGTH} characters, got {len(note)}", field="note"
        )
    return note


class Writer:
    def __init__(self, store: Store, clock: Clock = utcnow) -> None:
        self.store = store
        self.clock = clock

    async def apply(
        self,
        actor: Actor,
        project: str,
        entity: EntityKind,
        key: str,
        request: Mapping[str, Any],
        plan: Plan,
        *,
        note: str = "",
        idempotency_key: str | None = None,
    ) -> Entity | None:
        """Plan and commit one change; returns the entity as written (None when deleted).

        ``request`` is what the caller asked for: with the idempotency key it identifies a
        retry, which returns what the first call wrote instead of writing again.
        ``plan`` reads the current state, validates, and returns the change (or None for
        nothing to do); it runs again if another writer wins the race in between.
        """
        check_note(note)
        fingerprint = _fingerprint(entity, key, request)
        retryable = idempotency_key is not None
        idempotency_key = idempotency_key or uuid.uuid4().hex
        done = await self.store.replay(project, idempotency_key, fingerprint)
        if done is not None:
            return await self._written_by(project, entity, key, done.history_id)
        for _ in range(_PLAN_ATTEMPTS):
            try:
                change = await plan()
            except FFError:
                # A retry may plan after its own first attempt committed (the version moved,
                # the flag exists): what that attempt wrote is the answer, not this refusal.
                if retryable:
                    done = await self.store.replay(project, idempotency_key, fingerprint)
                    if done is not None:
                        return await self._written_by(project, entity, key, done.history_id)
                raise
            if change is None:
                return None
            write = Write(
                project=project,
                entity=entity,
                key=key,
                action=change.action,
                actor=actor,
                at=self.clock(),
                new=change.new,
                old=change.old,
                expected_version=None if change.old is None else change.old.version,
                idempotency_key=idempotency_key,
                fingerprint=fingerprint,
                environments=change.environments,
                environment=change.environment,
                scoped_to=change.scoped_to,
                note=note,
                rolled_back_to=change.rolled_back_to,
            )
            try:
                committed = await self.store.commit(write)
            except VersionConflict:
                continue  # someone wrote in between: plan again on what they wrote
            if committed.replayed:
                return await self._written_by(project, entity, key, committed.history_id)
            return change.new
        raise VersionConflict(
            f"{entity.value} {key!r} keeps changing; retry", expected=0, current=None
        )

    async def next_version(self, project: str, entity: EntityKind, key: str) -> int:
        """The version of ``key`` when it is created: versions go on after a delete, so
        followers never see a recreated flag or tenant as older than the one deleted."""
        newest = (await self.store.list_history(project, entity, key, 1)).items
        return newest[0].version + 1 if newest else 1

    async def _written_by(
        self, project: str, entity: EntityKind, key: str, history_id: str
    ) -> Entity | None:
        entry = await self.store.get_history_entry(project, entity, key, history_id)
        return None if entry.new is None else _MODELS[entity].model_validate(entry.new)


def check_version(entity: Entity, expected: int | None) -> None:
    """Optimistic concurrency: ``entity`` must still be at the version the caller read."""
    if expected is not None and entity.version != expected:
        kind = type(entity).__name__.lower()
        raise VersionConflict(
            f"{kind} {entity.key!r} is at version {entity.version}, not {expected}; "
            "reload it and apply your change again",
            expected=expected,
            current=entity.version,
        )


def _fingerprint(entity: EntityKind, key: str, request: Mapping[str, Any]) -> str:
    body = orjson.dumps(
        {"entity": entity.value, "key": key, "request": request},
        option=orjson.OPT_SORT_KEYS,
        default=str,
    )
    return hashlib.sha256(body).hexdigest()
