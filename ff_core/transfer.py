"""Export and import of a whole project as one JSON document (docs/EXPORT.md).

Import checks everything before it writes anything: every model and every reference between
them (ff_core/export_document.py), and what the target already holds. Then it writes history,
entities and, last, the project's META and counter in one transaction, so a project is
loadable only once whole, and running the same import again after a failure completes it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from ff_core import limits
from ff_core.errors import AlreadyExists, NotFound
from ff_core.export_document import (
    FORMAT,
    SECTIONS,
    VERSION,
    ExportDocument,
    check,
    load,
    refused,
    validate,
)
from ff_core.models import (
    Action,
    Actor,
    ChangeEntry,
    ChangeKind,
    EntityKind,
    HistoryEntry,
    Project,
)
from ff_core.store import DynamoStore
from ff_core.store import items as it
from ff_core.store import transfer as raw
from ff_core.store.protocol import Entity

__all__ = [
    "FORMAT",
    "VERSION",
    "ExportDocument",
    "ImportReport",
    "Outcome",
    "check",
    "export_project",
    "import_project",
    "load",
    "validate",
]
Progress = Callable[[int, int], None]


class Outcome(StrEnum):
    CREATED = "created"  # the target did not exist
    COMPLETED = "completed"  # an earlier, interrupted import of this document was finished
    INTO_EXISTING = "into_existing"  # the target existed with no flags, segments or tenants
    ALREADY_IMPORTED = "already_imported"  # the target holds exactly this: nothing written


@dataclass(frozen=True, slots=True)
class ImportReport:
    target: str
    outcome: Outcome
    # What was written (or would be, on a dry run) and what was there already, by section.
    written: dict[str, int] = field(default_factory=dict)
    present: dict[str, int] = field(default_factory=dict)
    dry_run: bool = False

    def summary(self) -> str:
        counts = ", ".join(f"{n} {name}" for name, n in self.written.items() if n) or "nothing"
        if self.outcome is Outcome.ALREADY_IMPORTED:
            return f"project {self.target!r} already holds this export: nothing written"
        verb = "would write" if self.dry_run else "wrote"
        return f"project {self.target!r} ({self.outcome.value}): {verb} {counts}"


# -- export --------------------------------------------------------------------------------------


async def export_project(
    store: DynamoStore, project: str, *, now: datetime | None = None
) -> ExportDocument:
    """The project as it stands at its counter's value, and the history up to that value:
    history written after the project was read is left out, so both agree."""
    stored = await raw.read_project(store, project)
    if stored.meta is None:
        raise NotFound(f"project {project!r} not found", entity="project", key=project)
    seq = stored.seq or 0
    history = [e for e in await raw.read_history(store, project) if e.seq <= seq]
    by_kind: dict[EntityKind, list[Any]] = {}
    for (kind, _), entity in sorted(stored.entities.items()):
        by_kind.setdefault(kind, []).append(entity)
    return ExportDocument(
        exported_at=now or datetime.now(UTC),
        source_project=project,
        seq=seq,
        project=stored.meta,
        flags=tuple(by_kind.get(EntityKind.FLAG, ())),
        segments=tuple(by_kind.get(EntityKind.SEGMENT, ())),
        tenants=tuple(by_kind.get(EntityKind.TENANT, ())),
        history=tuple(history),
    )


# -- import --------------------------------------------------------------------------------------


def _retarget(entry: HistoryEntry, source: str, target: str) -> HistoryEntry:
    if source == target:
        return entry
    changes: dict[str, Any] = {"project": target}
    if entry.entity is EntityKind.PROJECT:
        # The project's own history names it; it is now called ``target``.
        changes["key"] = target
        changes["old"] = None if entry.old is None else {**entry.old, "key": target}
        changes["new"] = None if entry.new is None else {**entry.new, "key": target}
    return entry.model_copy(update=changes)


def _settings_of(project: Project) -> dict[str, Any]:
    return project.model_dump(mode="json", exclude={"version", "created_at"})


def _describe(kind: EntityKind, key: str) -> str:
    return f"{kind.value} {key!r}"


def _conflicts(
    stored: raw.StoredProject,
    stored_history: list[HistoryEntry],
    entities: Mapping[tuple[EntityKind, str], Entity],
    history_ids: set[tuple[EntityKind, str, str]],
) -> list[str]:
    """What the target holds that the document does not: an import never merges or
    overwrites. Equal items are not conflicts (an earlier run of the same import)."""
    conflicts = []
    for (kind, key), entity in sorted(stored.entities.items()):
        wanted = entities.get((kind, key))
        if wanted is None:
            conflicts.append(
                f"{_describe(kind, key)} (version {entity.version}) is not in the document"
            )
        elif wanted != entity:
            conflicts.append(
                f"{_describe(kind, key)} is version {entity.version} there and differs from the "
                f"document's (version {wanted.version})"
            )
    foreign = sorted(
        {
            (e.entity, e.key)
            for e in stored_history
            if e.entity is not EntityKind.PROJECT and (e.entity, e.key, e.id) not in history_ids
        }
    )
    conflicts += [
        f"the history of {_describe(k, key)} has entries the document lacks" for k, key in foreign
    ]
    return conflicts


def _count(items: Iterable[tuple[EntityKind, str]]) -> dict[str, int]:
    names = {kind: section for section, (kind, _) in SECTIONS.items()}
    counts = dict.fromkeys(SECTIONS, 0)
    for kind, _ in items:
        counts[names[kind]] += 1
    return counts


async def import_project(
    store: DynamoStore,
    document: ExportDocument,
    target_project: str | None = None,
    *,
    actor: Actor,
    progress: Progress | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
) -> ImportReport:
    """Write ``document`` as project ``target_project`` (default: its source project).

    Refused (AlreadyExists, nothing written) when the target holds flags, segments, tenants
    or their history that the document lacks or has otherwise. ``actor`` is recorded only
    when an existing, empty project's settings are replaced. ``progress(done, total)``.
    """
    target = target_project or document.source_project
    problems = check(document)
    if not re.match(limits.PROJECT_KEY_PATTERN, target):
        problems.append(f"target project {target!r} is not a valid project key")
    if problems:
        raise refused(problems)
    at = now or datetime.now(UTC)
    project = document.project.replace(key=target)
    entities = document.entities()
    history = [_retarget(e, document.source_project, target) for e in document.history]
    ids = {(e.entity, e.key, e.id) for e in history}

    stored = await raw.read_project(store, target)
    stored_history = await raw.read_history(store, target)
    conflicts = _conflicts(stored, stored_history, entities, ids)
    if conflicts:
        shown = "\n  ".join(conflicts)
        raise AlreadyExists(
            f"project {target!r} already holds content that differs from the document; an "
            f"import never merges or overwrites (import into a new project with --project):"
            f"\n  {shown}",
            conflicts=conflicts,
        )
    present = {(e.entity, e.key, e.id) for e in stored_history}
    # The document's project history is the project's only when the import creates it.
    creating = stored.meta is None
    new_history = [
        e
        for e in history
        if (e.entity, e.key, e.id) not in present
        and (creating or e.entity is not EntityKind.PROJECT)
    ]
    new_entities = {k: e for k, e in entities.items() if k not in stored.entities}
    replacing = stored.meta is not None and _settings_of(stored.meta) != _settings_of(project)
    if creating:
        outcome = Outcome.CREATED if stored.empty and not stored_history else Outcome.COMPLETED
    elif replacing:
        outcome = Outcome.INTO_EXISTING
    elif new_history or new_entities:
        outcome = Outcome.COMPLETED
    else:
        outcome = Outcome.ALREADY_IMPORTED
    report = ImportReport(
        target=target,
        outcome=outcome,
        written={
            "project": int(creating or replacing),
            **_count(new_entities),
            "history": len(new_history),
        },
        present={
            "project": int(not creating),
            **_count(stored.entities),
            "history": len(present),
        },
        dry_run=dry_run,
    )
    if dry_run or outcome is Outcome.ALREADY_IMPORTED:
        return report

    # Everything is encoded (and its size checked) before the first write.
    items = [it.encode_history(e) for e in new_history]
    items += [it.encode_entity(target, kind, e) for (kind, _), e in sorted(new_entities.items())]
    final = (
        _final_step(store, document, project, stored, actor, at) if creating or replacing else None
    )
    total = len(items) + (1 if final is not None else 0)
    done = 0

    def advanced(n: int) -> None:
        nonlocal done
        done += n
        if progress is not None:
            progress(done, total)

    await raw.put_items(store, items, advanced)
    if final is not None:
        await final()
        advanced(1)
    return report


def _final_step(
    store: DynamoStore,
    document: ExportDocument,
    project: Project,
    stored: raw.StoredProject,
    actor: Actor,
    at: datetime,
) -> Callable[[], Any]:
    """META and counter, written last in one transaction: a new project gets the document's
    counter and no change-log entries (nothing follows a project that did not exist; followers
    load it whole). An existing one gets a new counter value with one project change, which
    makes every follower reload it, and a history entry saying who imported what."""
    target = project.key
    if stored.meta is None:
        return lambda: raw.finish(
            store,
            target,
            meta=it.encode_entity(target, EntityKind.PROJECT, project),
            meta_version=None,
            seq=it.encode_seq(target, document.seq),
            seq_before=stored.seq,
            new_items=[],
            index=it.encode_project_index(target),
        )
    old = stored.meta
    new = project.replace(version=old.version + 1, created_at=old.created_at)
    seq = max(stored.seq or 0, document.seq) + 1
    entry = HistoryEntry(
        id=it.history_id(at, seq),
        project=target,
        entity=EntityKind.PROJECT,
        key=target,
        action=Action.UPDATED,
        actor=actor,
        at=at,
        note=f"imported from project {document.source_project!r} exported at "
        f"{document.exported_at.isoformat()}",
        old=old.model_dump(mode="json"),
        new=new.model_dump(mode="json"),
        version=new.version,
        seq=seq,
    )
    change = ChangeEntry(
        seq=seq,
        project=target,
        entity=EntityKind.PROJECT,
        key=target,
        change=ChangeKind.UPSERT,
        version=new.version,
        at=at,
    )
    ttl = int(at.timestamp()) + store._change_ttl_s
    return lambda: raw.finish(
        store,
        target,
        meta=it.encode_entity(target, EntityKind.PROJECT, new),
        meta_version=old.version,
        seq=it.encode_seq(target, seq),
        seq_before=stored.seq,
        new_items=[it.encode_history(entry), it.encode_change(change, ttl)],
        index=None,
    )
