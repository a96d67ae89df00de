"""What a store holds after a fault, read back and checked against itself.

Every flag's stored state must equal what replaying its history gives (each entry's
``old`` the previous entry's ``new``, the last ``new`` the stored flag), and the change
log must count 1, 2, ... N with no gap and no duplicate, one entry per history entry.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ff_core.models import EntityKind, Flag, HistoryEntry, Project, Segment
from ff_core.store import Store


@dataclass
class Audit:
    flags: int = 0
    # Flags whose stored state differs from replaying their history (or whose chain breaks).
    mismatched: list[str] = field(default_factory=list)
    change_seqs: list[int] = field(default_factory=list)
    history_seqs: list[int] = field(default_factory=list)
    # How many history entries carry each note (a request id when the writer set one).
    notes: Counter[str] = field(default_factory=Counter)

    @property
    def gaps(self) -> list[int]:
        present = set(self.change_seqs)
        return [s for s in range(1, max(present, default=0) + 1) if s not in present]

    @property
    def duplicates(self) -> list[int]:
        return sorted(s for s, n in Counter(self.change_seqs).items() if n > 1)

    @property
    def unlogged(self) -> list[int]:
        """History entries without a change-log entry, and change-log entries without one."""
        return sorted(set(self.history_seqs) ^ set(self.change_seqs))


async def history_of(store: Store, project: str, kind: EntityKind, key: str) -> list[HistoryEntry]:
    entries: list[HistoryEntry] = []
    before: str | None = None
    while True:
        page = await store.list_history(project, kind, key, limit=500, before=before)
        entries.extend(page.items)
        if page.next_cursor is None:
            return sorted(entries, key=lambda e: e.seq)
        before = page.next_cursor


def replays_to(entries: list[HistoryEntry], stored: dict[str, Any] | None) -> bool:
    state: dict[str, Any] | None = None
    for entry in entries:
        if entry.old != state:
            return False
        state = entry.new
    return state == stored


async def audit(store: Store, project: str) -> Audit:
    """Every flag and segment the change log or the project names, deleted ones included."""
    result = Audit()
    after = 0
    entities: set[tuple[EntityKind, str]] = set()
    while True:
        changes = await store.read_changes(project, after)
        if not changes:
            break
        result.change_seqs.extend(c.seq for c in changes)
        entities.update((c.entity, c.key) for c in changes)
        after = changes[-1].seq
    state = await store.load_project(project)
    entities.add((EntityKind.PROJECT, project))
    entities.update((EntityKind.FLAG, key) for key in state.flags)
    entities.update((EntityKind.SEGMENT, key) for key in state.segments)
    stored: dict[tuple[EntityKind, str], Project | Flag | Segment] = {
        (EntityKind.PROJECT, project): state.project,
        **{(EntityKind.FLAG, k): f for k, f in state.flags.items()},
        **{(EntityKind.SEGMENT, k): s for k, s in state.segments.items()},
    }
    for kind, key in sorted(entities):
        entries = await history_of(store, project, kind, key)
        current = stored.get((kind, key))
        if not replays_to(entries, None if current is None else current.model_dump(mode="json")):
            result.mismatched.append(f"{kind.value}:{key}")
        result.history_seqs.extend(e.seq for e in entries)
        result.notes.update(e.note for e in entries if e.note)
        if kind is EntityKind.FLAG:
            result.flags += 1
    return result
