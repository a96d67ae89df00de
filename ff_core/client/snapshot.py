"""Snapshots: every definition of one project environment, validated and compiled.

Documents, on the wire and on disk, have the shape of ``GET /api/v1/sdk/flags``::

    {"project": "shop", "environment": "production", "seq": 42,
     "flags": [<flag>, ...], "segments": [<segment>, ...]}

so a bootstrap file is that response saved (``curl -H 'Authorization: Bearer ...'``).
Each definition is validated on its own: one refused flag answers ``PARSE_ERROR``, the
others keep working.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, KeysView, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import ValidationError

from ff_core import limits
from ff_core.evaluation import CompiledEnvironment
from ff_core.models import EntityKind, Flag, Segment

Versions = dict[tuple[EntityKind, str], int]


class DocumentError(ValueError):
    """A document that is not a snapshot at all (not JSON, or the wrong shape)."""


@dataclass(frozen=True, slots=True)
class Change:
    """One upsert (``definition`` set) or delete (``definition`` None) of a flag or segment."""

    kind: EntityKind
    key: str
    seq: int
    version: int
    definition: Flag | Segment | None
    # Set when the definition was refused by validation: the flag then answers PARSE_ERROR.
    problem: str | None = None
    # A tenant's change: the flag's served definition (its tenant targets) changed while its
    # version did not; applied when its seq is newer than the snapshot's.
    retarget: bool = False


@dataclass(frozen=True, slots=True)
class Snapshot:
    project: str
    environment: str
    seq: int
    flags: Mapping[str, Flag]
    segments: Mapping[str, Segment]
    compiled: CompiledEnvironment
    # Flags whose definition was refused: key -> why.
    invalid: Mapping[str, str] = field(default_factory=dict)
    # The last version seen of every flag and segment, deleted ones included, so that an
    # event that is not newer than what this snapshot holds is ignored.
    versions: Mapping[tuple[EntityKind, str], int] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        project: str,
        environment: str,
        seq: int,
        flags: Iterable[Flag],
        segments: Iterable[Segment],
        invalid: Mapping[str, str] | None = None,
    ) -> Snapshot:
        flag_map = {f.key: f for f in flags if not f.archived}
        segment_map = {s.key: s for s in segments}
        versions: Versions = {(EntityKind.FLAG, k): f.version for k, f in flag_map.items()}
        versions.update({(EntityKind.SEGMENT, k): s.version for k, s in segment_map.items()})
        compiled = CompiledEnvironment(environment, flag_map.values(), segment_map.values())
        return cls(
            project,
            environment,
            seq,
            flag_map,
            segment_map,
            compiled,
            dict(invalid or {}),
            versions,
        )

    def apply(self, changes: Sequence[Change]) -> tuple[Snapshot, set[str]]:
        """This snapshot with ``changes`` applied, and the flags whose answers may differ.

        A change whose version is not newer than the one this snapshot last saw of the same
        flag or segment is ignored (a replay, or an event overtaken by a snapshot).
        """
        flags, segments = dict(self.flags), dict(self.segments)
        invalid, versions = dict(self.invalid), dict(self.versions)
        compiled, seq = self.compiled, self.seq
        changed_flags: set[str] = set()
        changed_segments: set[str] = set()
        for change in changes:
            seq = max(seq, change.seq)
            ident = (change.kind, change.key)
            seen = versions.get(ident, -1)
            if change.version < seen or (
                change.version == seen and not (change.retarget and change.seq > self.seq)
            ):
                continue
            versions[ident] = change.version
            definition = change.definition
            if change.kind is EntityKind.FLAG:
                changed_flags.add(change.key)
                invalid.pop(change.key, None)
                if isinstance(definition, Flag) and not definition.archived:
                    flags[change.key] = definition
                    compiled = compiled.with_flag(definition)
                    continue
                flags.pop(change.key, None)
                compiled = compiled.without_flag(change.key)
                if change.problem is not None:
                    invalid[change.key] = change.problem
            elif change.kind is EntityKind.SEGMENT:
                changed_segments.add(change.key)
                segment = definition if isinstance(definition, Segment) else None
                if segment is None:
                    segments.pop(change.key, None)
                else:
                    segments[change.key] = segment
                compiled = compiled.with_segment(segment, change.key)
        updated = Snapshot(
            self.project,
            self.environment,
            seq,
            flags,
            segments,
            compiled,
            invalid,
            versions,
        )
        return updated, affected(updated, changed_flags, changed_segments)

    def changed_since(self, old: Snapshot | None) -> set[str]:
        """The flags whose answers may differ between ``old`` and this snapshot."""
        if old is None or (old.project, old.environment) != (self.project, self.environment):
            return set(self.flags) | set(self.invalid) | (set(old.flags) if old else set())
        flag_keys = _differ(old.flags, self.flags) | (old.invalid.keys() ^ self.invalid.keys())
        return affected(self, flag_keys, _differ(old.segments, self.segments))

    def dump(self) -> bytes:
        """The snapshot as a document (each flag with this environment's config only)."""
        return orjson.dumps(
            {
                "project": self.project,
                "environment": self.environment,
                "seq": self.seq,
                "flags": [_flag_for(f, self.environment) for f in self.flags.values()],
                "segments": [s.model_dump(mode="json") for s in self.segments.values()],
            }
        )


def _differ(old: Mapping[str, Flag] | Mapping[str, Segment], new: Mapping[str, Any]) -> set[str]:
    # A definition's version increments on every write: equal versions, equal definitions;
    # except a registry flag's tenant targets, which tenant writes change (ff_core.tenancy).
    return {
        k
        for k in old.keys() | new.keys()
        if (old.get(k) is None) != (new.get(k) is None)
        or (
            k in old
            and k in new
            and (old[k].version != new[k].version or _retargeted(old[k], new[k]))
        )
    }


def _retargeted(old: Flag | Segment, new: Flag | Segment) -> bool:
    return isinstance(new, Flag) and new.registry is not None and old != new


def affected(snapshot: Snapshot, flags: set[str], segments: set[str]) -> set[str]:
    """``flags`` plus every flag that reads one of them (as a prerequisite, transitively)
    or one of ``segments``."""
    result = set(flags)
    compiled = snapshot.compiled.flags
    if segments:
        result.update(k for k, c in compiled.items() if c.segment_keys & segments)
    requires: dict[str, set[str]] = {}
    for key, flag in snapshot.flags.items():
        config = flag.environments.get(snapshot.environment)
        if config is not None and config.prerequisites:
            requires[key] = {p.flag for p in config.prerequisites}
    grew = bool(requires)
    while grew:
        grew = False
        for key, needs in requires.items():
            if key not in result and needs & result:
                result.add(key)
                grew = True
    return result


def _flag_for(flag: Flag, environment: str) -> dict[str, Any]:
    data = flag.model_dump(mode="json")
    data["environments"] = {k: v for k, v in data["environments"].items() if k == environment}
    return data


# -- documents ----------------------------------------------------------------------------------


def read_document(raw: bytes) -> dict[str, Any]:
    """Parse a document and check its shape (not yet its definitions)."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise DocumentError(f"not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise DocumentError("a snapshot document is a JSON object")
    if not isinstance(doc.get("flags"), list) or not isinstance(doc.get("segments", []), list):
        raise DocumentError("a snapshot document has a 'flags' list (and a 'segments' list)")
    seq = doc.get("seq", 0)
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        raise DocumentError("'seq' must be a non-negative integer")
    for name in ("project", "environment"):
        if not isinstance(doc.get(name, ""), str):
            raise DocumentError(f"{name!r} must be a string")
    return doc


def environment_of(doc: Mapping[str, Any], environment: str | None) -> str:
    chosen = environment or doc.get("environment")
    if not chosen:
        raise DocumentError("the document names no environment: pass environment=...")
    return str(chosen)


def parse_document(doc: Mapping[str, Any], environment: str | None = None) -> Snapshot:
    """Validate every definition of a document read by ``read_document``."""
    env = environment_of(doc, environment)
    flags: list[Flag] = []
    invalid: dict[str, str] = {}
    for raw in doc["flags"]:
        parsed = validate_flag(raw)
        if isinstance(parsed, Flag):
            flags.append(parsed)
        elif isinstance(raw, dict) and isinstance(raw.get("key"), str):
            invalid[raw["key"]] = parsed
    segments = [s for s in (validate_segment(raw) for raw in doc.get("segments", [])) if s]
    return Snapshot.build(
        str(doc.get("project", "")), env, int(doc.get("seq", 0)), flags, segments, invalid
    )


def validate_flag(raw: object) -> Flag | str:
    """The flag, or why it was refused."""
    try:
        return Flag.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        return f"invalid flag definition: {where + ': ' if where else ''}{first['msg']}"


def validate_segment(raw: object) -> Segment | None:
    try:
        return Segment.model_validate(raw)
    except ValidationError:
        return None


class PendingDocument:
    """A document read but not yet validated, for a fast cold start: flags are validated and
    compiled one at a time when first asked for, while the whole snapshot is built in the
    background (``parse_document``) and then replaces this."""

    def __init__(self, doc: dict[str, Any], environment: str | None = None) -> None:
        self.doc = doc
        self.environment = environment_of(doc, environment)
        self.project = str(doc.get("project", ""))
        self.seq = int(doc.get("seq", 0))
        self._raw = {
            raw["key"]: raw
            for raw in doc["flags"]
            if isinstance(raw, dict) and isinstance(raw.get("key"), str)
        }
        self.compiled: CompiledEnvironment | None = None
        self.invalid: dict[str, str] = {}
        # The OpenFeature provider may resolve from other threads.
        self._lock = threading.Lock()

    def __contains__(self, key: str) -> bool:
        return key in self._raw

    def keys(self) -> KeysView[str]:
        return self._raw.keys()

    def resolve(self, key: str) -> CompiledEnvironment | None:
        """An environment that holds ``key`` (and its prerequisites), or None when the
        document has no valid definition of it."""
        with self._lock:
            if self.compiled is None:
                segments = [validate_segment(raw) for raw in self.doc.get("segments", [])]
                self.compiled = CompiledEnvironment(self.environment, (), filter(None, segments))
            self._add(key, 0)
            return self.compiled if key in self.compiled.flags else None

    def _add(self, key: str, depth: int) -> None:
        assert self.compiled is not None
        if key in self.compiled.flags or key in self.invalid or key not in self._raw:
            return
        parsed = validate_flag(self._raw[key])
        if isinstance(parsed, str):
            self.invalid[key] = parsed
            return
        config = parsed.environments.get(self.environment)
        if config is not None and depth < limits.MAX_PREREQUISITE_DEPTH:
            for prerequisite in config.prerequisites:
                self._add(prerequisite.flag, depth + 1)
        self.compiled = self.compiled.with_flag(parsed)
