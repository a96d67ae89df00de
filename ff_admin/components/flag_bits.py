"""Small pieces of flag display: type badge, rollout bar, usage."""

from __future__ import annotations

import reflex as rx

_TYPE_COLOURS = {"boolean": "green", "string": "blue", "number": "orange", "json": "purple"}
_SLICE_COLOURS = ["var(--iris-9)", "var(--amber-9)", "var(--teal-9)", "var(--crimson-9)"]


def type_badge(value_type: rx.Var[str]) -> rx.Component:
    return rx.badge(
        value_type,
        color_scheme=rx.match(
            value_type,
            *[(name, colour) for name, colour in _TYPE_COLOURS.items()],
            "gray",
        ),
        variant="soft",
    )


def rollout_bar(row: rx.Var) -> rx.Component:  # type: ignore[type-arg]
    """What the fallthrough serves, as proportional slices (hover for the numbers)."""
    return rx.hstack(
        rx.foreach(
            row.rollout,
            lambda s, i: rx.tooltip(
                rx.box(
                    height="0.6em",
                    width=s.percent.to_string() + "%",
                    background=rx.match(
                        i % len(_SLICE_COLOURS),
                        *[(n, c) for n, c in enumerate(_SLICE_COLOURS)],
                        _SLICE_COLOURS[0],
                    ),
                ),
                content=s.variant + " " + s.percent.to_string() + "%",
            ),
        ),
        spacing="0",
        width="7em",
        border_radius="var(--radius-1)",
        overflow="hidden",
        background=rx.color("gray", 4),
        class_name="rollout-bar",
    )


def usage_cell(row: rx.Var) -> rx.Component:  # type: ignore[type-arg]
    return rx.vstack(
        rx.cond(
            row.last_evaluated != "",
            rx.moment(row.last_evaluated, from_now=True, size="1"),
            rx.text("never evaluated", size="1", color_scheme="gray"),
        ),
        rx.hstack(
            rx.text(row.recent_count.to_string() + " / 30 d", size="1", color_scheme="gray"),
            rx.cond(row.stale, rx.badge("stale", color_scheme="amber", size="1")),
            spacing="2",
        ),
        spacing="0",
    )
