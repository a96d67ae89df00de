"""Prerequisite graphs: cycles are refused when written, never discovered while evaluating."""

from __future__ import annotations

from collections.abc import Iterable, Mapping


def find_cycle(edges: Mapping[str, Iterable[str]], start: str) -> list[str] | None:
    """A path ``start -> ... -> start`` through ``edges``, or None.

    Every earlier write was checked, so only cycles through ``start`` can be new; a node
    seen once need not be explored again.
    """
    path = [start]
    seen = {start}
    stack = [iter(edges.get(start, ()))]
    while stack:
        following = next(stack[-1], None)
        if following is None:
            stack.pop()
            path.pop()
            continue
        if following == start:
            return [*path, start]
        if following in seen:
            continue
        seen.add(following)
        path.append(following)
        stack.append(iter(edges.get(following, ())))
    return None
