"""History entries made readable: the changed paths of a flag (or segment), and one line.

``diff_values`` walks the old and new documents together. Objects are followed key by key
and lists of objects (rules, clauses, targets...) index by index, so a path reads
``environments.production.rules.0.clauses.1.values``; any other list (tags, clause values)
and every scalar is one value, shown as compact JSON. ``null`` counts as absent. A path
is listed once, in document order, old keys first.

Skipped as bookkeeping, since every write changes them: ``version``, ``created_at`` and
``updated_at`` at the top, and ``environments.<env>.version``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ff_core.models import Action, HistoryEntry

BOOKKEEPING = frozenset({("version",), ("created_at",), ("updated_at",)})
_ENVIRONMENT_BOOKKEEPING = frozenset({"version"})
# The parts of an environment's config, as a summary names them.
_CONFIG_PARTS = {
    "enabled": "the switch",
    "off_variant": "the off variant",
    "targets": "targets",
    "rules": "rules",
    "fallthrough": "the fallthrough",
    "prerequisites": "prerequisites",
}
_MISSING: Any = object()


@dataclass
class DiffLine:
    path: str
    before: str
    after: str
    # "added", "removed" or "changed"
    change: str


def diff_values(old: dict[str, Any] | None, new: dict[str, Any] | None) -> list[DiffLine]:
    return [
        DiffLine(".".join(path), before, after, change)
        for path, before, after, change in _walk((), _present(old), _present(new))
    ]


def render(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def _present(value: Any) -> Any:
    return _MISSING if value is None else value


def _skipped(path: tuple[str, ...]) -> bool:
    if path in BOOKKEEPING:
        return True
    return len(path) == 3 and path[0] == "environments" and path[2] in _ENVIRONMENT_BOOKKEEPING


def _records(value: Any) -> bool:
    """A list followed by index: of objects only (an empty list too)."""
    return isinstance(value, list) and all(isinstance(item, dict) for item in value)


def _walk(
    path: tuple[str, ...], old: Any, new: Any
) -> Iterator[tuple[tuple[str, ...], str, str, str]]:
    if _skipped(path) or (old is _MISSING and new is _MISSING):
        return
    if isinstance(old, dict) and isinstance(new, dict):
        for key in [*old, *(k for k in new if k not in old)]:
            yield from _walk((*path, str(key)), _present(old.get(key)), _present(new.get(key)))
    elif _records(old) and _records(new):
        for i in range(max(len(old), len(new))):
            yield from _walk(
                (*path, str(i)),
                old[i] if i < len(old) else _MISSING,
                new[i] if i < len(new) else _MISSING,
            )
    elif old is _MISSING:
        for leaf, value in _leaves(path, new):
            yield leaf, "", render(value), "added"
    elif new is _MISSING:
        for leaf, value in _leaves(path, old):
            yield leaf, render(value), "", "removed"
    elif render(old) != render(new):  # JSON, so that 1 and true differ
        yield path, render(old), render(new), "changed"


def _leaves(path: tuple[str, ...], value: Any) -> Iterator[tuple[tuple[str, ...], Any]]:
    if _skipped(path) or value is None:
        return
    if isinstance(value, dict) and value:
        for key, item in value.items():
            yield from _leaves((*path, str(key)), item)
    elif _records(value) and value:
        for i, item in enumerate(value):
            yield from _leaves((*path, str(i)), item)
    else:
        yield path, value


# -- one line per entry ------------------------------------------------------------------------


def summarise(entry: HistoryEntry) -> str:
    """``created``, ``enabled in production``, ``edited rules in staging``, ``archived``..."""
    action = entry.action
    if action is Action.CREATED:
        return "created"
    if action is Action.DELETED:
        return "deleted"
    if action is Action.ROLLED_BACK:
        where = _in(entry.environments)
        return f"rolled back to {entry.rolled_back_to or 'an earlier version'}{where}"
    if action is Action.ENABLED_SET:
        return _switched(entry)
    lines = diff_values(entry.old, entry.new)
    if action is Action.ENVIRONMENT_UPDATED:
        envs = entry.environments or ((entry.environment,) if entry.environment else ())
        return _edited_environment(lines, envs)
    return _edited(lines)


def _in(environments: tuple[str, ...]) -> str:
    return f" in {', '.join(environments)}" if environments else ""


def _enabled(doc: dict[str, Any] | None, env: str) -> bool:
    config = (doc or {}).get("environments", {}).get(env) or {}
    return bool(config.get("enabled", False))


def _switched(entry: HistoryEntry) -> str:
    envs = entry.environments or ((entry.environment,) if entry.environment else ())
    on = tuple(e for e in envs if _enabled(entry.new, e) and not _enabled(entry.old, e))
    off = tuple(e for e in envs if _enabled(entry.old, e) and not _enabled(entry.new, e))
    parts = [f"enabled{_in(on)}"] if on else []
    parts += [f"disabled{_in(off)}"] if off else []
    return "; ".join(parts) or f"switched{_in(envs)}"


def _edited_environment(lines: list[DiffLine], environments: tuple[str, ...]) -> str:
    parts: list[str] = []
    for line in lines:
        segments = line.path.split(".")
        if len(segments) >= 3 and segments[0] == "environments":
            part = _CONFIG_PARTS.get(segments[2], segments[2])
            if part not in parts:
                parts.append(part)
    if parts == ["the switch"]:
        enabled = any(line.after == "true" for line in lines if line.path.endswith(".enabled"))
        return f"{'enabled' if enabled else 'disabled'}{_in(environments)}"
    what = _join(parts) if parts else "nothing"
    return f"edited {what}{_in(environments)}"


def _edited(lines: list[DiffLine]) -> str:
    parts: list[str] = []
    fields: list[str] = []
    for line in lines:
        head = line.path.split(".")[0]
        if head == "archived":
            parts.append("archived" if line.after == "true" else "restored from the archive")
        elif head not in fields:
            fields.append(head)
    if fields:
        parts.append(f"edited {_join([f.replace('_', ' ') for f in fields])}")
    return "; ".join(parts) or "saved, unchanged"


def _join(parts: list[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return f"{', '.join(parts[:-1])} and {parts[-1]}"
