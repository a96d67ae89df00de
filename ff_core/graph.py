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


def evaluation_costs(edges: Mapping[str, Iterable[str]]) -> dict[str, int]:
    """For each flag, how many flag evaluations evaluating it causes (itself included).

    The graph must be acyclic (every write is checked with ``find_cycle`` first).
    Iterative and memoised: linear in the graph's size, whatever its depth.
    """
    cost: dict[str, int] = {}
    for root in edges:
        stack: list[tuple[str, bool]] = [(root, False)]
        while stack:
            node, children_done = stack.pop()
            if node in cost:
                continue
            children = list(edges.get(node, ()))
            if children_done:
                cost[node] = 1 + sum(cost.get(child, 1) for child in children)
                continue
            stack.append((node, True))
            stack.extend((child, False) for child in children if child not in cost)
    return cost
