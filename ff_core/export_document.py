"""The export document (docs/EXPORT.md): one JSON object holding a whole project, and the
checks an import runs on it before anything is written. Pure: no I/O."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from graphlib import CycleError, TopologicalSorter
from typing import Any, Final, Literal

import orjson
from pydantic import Field, ValidationError

from ff_core import limits
from ff_core.errors import InvalidDefinition
from ff_core.graph import evaluation_costs
from ff_core.models import (
    Action,
    EntityKind,
    Flag,
    HistoryEntry,
    Model,
    Project,
    Segment,
    Tenant,
)
from ff_core.models.project import ProjectKey
from ff_core.store import items as it
from ff_core.store.protocol import Entity
from ff_core.validation import field_errors

FORMAT: Final = "ff-export"
VERSION: Final = 1
# Sections of the document that hold entities, in the order they are written.
SECTIONS: dict[str, tuple[EntityKind, type[Model]]] = {
    "flags": (EntityKind.FLAG, Flag),
    "segments": (EntityKind.SEGMENT, Segment),
    "tenants": (EntityKind.TENANT, Tenant),
}


class ExportDocument(Model):
    """A project with its flags, segments, tenants and every history entry, deleted
    entities' included. API keys, members, invitations and usage counts are not in it."""

    format: Literal["ff-export"] = FORMAT
    version: Literal[1] = VERSION
    exported_at: datetime
    source_project: ProjectKey
    # The project's change counter when exported: every history entry has seq <= this.
    seq: int = Field(ge=0)
    project: Project
    flags: tuple[Flag, ...] = ()
    segments: tuple[Segment, ...] = ()
    tenants: tuple[Tenant, ...] = ()
    history: tuple[HistoryEntry, ...] = ()

    def entities(self) -> dict[tuple[EntityKind, str], Entity]:
        found: dict[tuple[EntityKind, str], Entity] = {}
        for section, (kind, _) in SECTIONS.items():
            for entity in getattr(self, section):
                found[(kind, entity.key)] = entity
        return found

    def to_json(self) -> bytes:
        return orjson.dumps(self.model_dump(mode="json"), option=orjson.OPT_INDENT_2)


class _Header(Model):
    exported_at: datetime
    source_project: ProjectKey
    seq: int = Field(ge=0)


def refused(problems: list[str]) -> InvalidDefinition:
    """One error naming every problem, so a file is fixed in one round."""
    shown = "\n  ".join(problems)
    return InvalidDefinition(
        f"the export document was refused ({len(problems)} problem"
        f"{'s' if len(problems) != 1 else ''}); nothing was written:\n  {shown}",
        problems=problems,
    )


# -- reading and validating a document ---------------------------------------------------------


def load(raw_json: bytes | str) -> ExportDocument:
    """Parse and validate a document; InvalidDefinition lists every problem."""
    try:
        data = orjson.loads(raw_json)
    except orjson.JSONDecodeError as exc:
        raise refused([f"not valid JSON (a corrupted or truncated file?): {exc}"]) from None
    return validate(data)


def _name(section: str, raw_item: Any) -> str:
    ident = (
        raw_item.get("id" if section == "history" else "key")
        if isinstance(raw_item, dict)
        else None
    )
    return f" ({ident!r})" if isinstance(ident, str) else ""


def _errors(where: str, exc: ValidationError) -> list[str]:
    return [f"{where}: {e['field']}: {e['message']}" for e in field_errors(exc)]


def validate(data: Any, target_project: str | None = None) -> ExportDocument:
    """Every model of ``data`` validated, then every reference between them checked;
    InvalidDefinition names each bad item (``flags[3] ('checkout'): ...``)."""
    if not isinstance(data, dict):
        raise refused([f"the document is a JSON {type(data).__name__}, not an object"])
    if data.get("format") != FORMAT:
        raise refused([f"format is {data.get('format')!r}, not {FORMAT!r}: not an ff export"])
    if data.get("version") != VERSION:
        raise refused(
            [f"version is {data.get('version')!r}; this ff reads version {VERSION} exports"]
        )
    problems = [
        f"{name}: unknown field" for name in sorted(set(data) - ExportDocument.model_fields.keys())
    ]
    if target_project is not None and not re.match(limits.PROJECT_KEY_PATTERN, target_project):
        problems.append(f"target project {target_project!r} is not a valid project key")
    header: _Header | None = None
    try:
        header = _Header.model_validate({k: data.get(k) for k in _Header.model_fields})
    except ValidationError as exc:
        problems += [f"{e['field']}: {e['message']}" for e in field_errors(exc)]
    project: Project | None = None
    try:
        project = Project.model_validate(data.get("project"))
    except ValidationError as exc:
        problems += _errors("project", exc)
    sections: dict[str, list[Any]] = {}
    invalid = Invalid()
    models: dict[str, type[Model]] = {s: m for s, (_, m) in SECTIONS.items()}
    for section, model in (models | {"history": HistoryEntry}).items():
        items = data.get(section, [])
        if not isinstance(items, list):
            problems.append(f"{section}: a list is required, got {type(items).__name__}")
            items = []
        valid: list[Any] = []
        positions = invalid.positions.setdefault(section, [])
        for i, raw_item in enumerate(items):
            try:
                valid.append(model.model_validate(raw_item))
                positions.append(i)
            except ValidationError as exc:
                problems += _errors(f"{section}[{i}]{_name(section, raw_item)}", exc)
                if isinstance(raw_item, dict) and isinstance(raw_item.get("key"), str):
                    invalid.keys.setdefault(section, set()).add(raw_item["key"])
        sections[section] = valid
    if header is None or project is None:
        raise refused(problems)
    document = ExportDocument(
        exported_at=header.exported_at,
        source_project=header.source_project,
        seq=header.seq,
        project=project,
        flags=tuple(sections["flags"]),
        segments=tuple(sections["segments"]),
        tenants=tuple(sections["tenants"]),
        history=tuple(sections["history"]),
    )
    problems += check(document, invalid)
    if problems:
        raise refused(problems)
    return document


@dataclass(frozen=True, slots=True)
class Invalid:
    """The items of a file that failed validation: their keys, so that what refers to them is
    not reported a second time, and where the valid ones stand in the file, so that problems
    name the file's positions."""

    keys: dict[str, set[str]] = field(default_factory=dict)
    positions: dict[str, list[int]] = field(default_factory=dict)

    def at(self, section: str, i: int, name: str) -> str:
        positions = self.positions.get(section)
        return f"{section}[{i if positions is None else positions[i]}] ({name!r})"


def check(document: ExportDocument, invalid: Invalid | None = None) -> list[str]:
    """The references between the document's models."""
    invalid = invalid or Invalid()
    problems: list[str] = []
    if document.source_project != document.project.key:
        problems.append(
            f"source_project {document.source_project!r} is not the project's key "
            f"{document.project.key!r}"
        )
    keys = {s: _unique(s, getattr(document, s), invalid, problems) for s in SECTIONS}
    flags: dict[str, Flag] = keys["flags"]
    segments = set(keys["segments"]) | invalid.keys.get("segments", set())
    known_flags = set(flags) | invalid.keys.get("flags", set())
    environments = document.project.environment_keys()
    for i, flag in enumerate(document.flags):
        if flags[flag.key] is flag:  # a repeated key was reported above
            where = invalid.at("flags", i, flag.key)
            problems += _flag_problems(where, flag, flags, known_flags, segments, environments)
    for i, tenant in enumerate(document.tenants):
        for env in sorted({e for values in tenant.state.values() for e in values}):
            if env not in environments:
                problems.append(
                    f"{invalid.at('tenants', i, tenant.key)}: environment {env!r} is not one of "
                    f"the project's environments {environments}"
                )
    problems += _graph_problems(list(flags.values()), environments)
    problems += _history_problems(document, invalid)
    return problems


def _unique(
    section: str, models: Iterable[Any], invalid: Invalid, problems: list[str]
) -> dict[str, Any]:
    first: dict[str, int] = {}
    found: dict[str, Any] = {}
    for i, model in enumerate(models):
        if model.key in first:
            first_at = invalid.at(section, first[model.key], model.key).partition(" ")[0]
            problems.append(
                f"{invalid.at(section, i, model.key)}: key appears again (first at {first_at})"
            )
            continue
        first[model.key] = i
        found[model.key] = model
    return found


def _flag_problems(
    where: str,
    flag: Flag,
    flags: Mapping[str, Flag],
    known_flags: set[str],
    segments: set[str],
    environments: list[str],
) -> list[str]:
    problems = []
    for env, config in flag.environments.items():
        if env not in environments:
            problems.append(
                f"{where}: environment {env!r} is not one of the project's environments "
                f"{environments}"
            )
        for prerequisite in config.prerequisites:
            target = flags.get(prerequisite.flag)
            if target is None and prerequisite.flag not in known_flags:
                problems.append(
                    f"{where}: environments.{env}.prerequisites: flag {prerequisite.flag!r} "
                    "is not in the document"
                )
            elif target is not None and prerequisite.variant not in target.variants:
                problems.append(
                    f"{where}: environments.{env}.prerequisites: flag {prerequisite.flag!r} has "
                    f"no variant {prerequisite.variant!r} (it has {sorted(target.variants)})"
                )
        missing = sorted(config.segment_keys() - segments)
        if missing:
            problems.append(
                f"{where}: environments.{env}.rules: segment(s) {missing} not in the document"
            )
    return problems


def _graph_problems(flags: Sequence[Flag], environments: list[str]) -> list[str]:
    problems = []
    for env in environments:
        edges = {
            f.key: [p.flag for p in f.environments[env].prerequisites]
            for f in flags
            if env in f.environments
        }
        try:
            TopologicalSorter(edges).prepare()
        except CycleError as exc:
            cycle = " -> ".join(reversed(exc.args[1]))
            problems.append(f"flags: prerequisites in {env!r} form a cycle {cycle}")
            continue
        costly = sorted(
            key
            for key, cost in evaluation_costs(edges).items()
            if cost > limits.MAX_PREREQUISITE_EVALUATIONS
        )
        if costly:
            problems.append(
                f"flags: evaluating {costly} in {env!r} would evaluate more than "
                f"{limits.MAX_PREREQUISITE_EVALUATIONS} flags through prerequisites"
            )
    return problems


def _history_problems(document: ExportDocument, invalid: Invalid) -> list[str]:
    problems = []
    present = set(document.entities()) | {(EntityKind.PROJECT, document.source_project)}
    present |= {(k, key) for s, (k, _) in SECTIONS.items() for key in invalid.keys.get(s, ())}
    seen: dict[str, int] = {}
    last: dict[tuple[EntityKind, str], tuple[int, Action, int]] = {}
    for i, entry in enumerate(document.history):
        where = invalid.at("history", i, entry.id)
        if entry.id in seen:
            first_at = invalid.at("history", seen[entry.id], entry.id).partition(" ")[0]
            problems.append(f"{where}: id appears again (first at {first_at})")
        seen.setdefault(entry.id, i)
        if entry.project != document.source_project:
            problems.append(
                f"{where}: belongs to project {entry.project!r}, not {document.source_project!r}"
            )
        if entry.id != it.history_id(entry.at, entry.seq):
            problems.append(f"{where}: id does not match its time and seq")
        if entry.seq > document.seq:
            problems.append(f"{where}: seq {entry.seq} is after the document's seq {document.seq}")
        ident = (entry.entity, entry.key)
        if ident not in last or entry.seq > last[ident][0]:
            last[ident] = (entry.seq, entry.action, i)
    for (kind, key), (_, action, i) in last.items():
        if (kind, key) not in present and action is not Action.DELETED:
            problems.append(
                f"{invalid.at('history', i, document.history[i].id)}: {kind.value} {key!r} is "
                "not in the document, and its history does not end with its deletion"
            )
    return problems
