"""A history entry's changes as a compact table: path, before, after; red out, green in."""

from __future__ import annotations

import reflex as rx

from ff_admin import styles

_CELL = {**styles.mono, "white_space": "pre-wrap", "word_break": "break-all"}


def _value(text: rx.Var[str], colour: str) -> rx.Component:
    return rx.cond(
        text != "",
        rx.text(
            text,
            style=_CELL,
            color=rx.color(colour, 11),
        ),
        rx.text("—", color_scheme="gray", size="1"),
    )


def _line(line: rx.Var) -> rx.Component:  # type: ignore[type-arg]
    tint = rx.match(
        line.change,
        ("added", rx.color("grass", 3)),
        ("removed", rx.color("tomato", 3)),
        "transparent",
    )
    return rx.table.row(
        rx.table.cell(
            rx.hstack(
                rx.match(
                    line.change,
                    ("added", rx.icon("plus", size=12, color=rx.color("grass", 11))),
                    ("removed", rx.icon("minus", size=12, color=rx.color("tomato", 11))),
                    rx.icon("pencil", size=12, color=rx.color("amber", 11)),
                ),
                rx.text(line.path, style=_CELL),
                spacing="1",
                align="center",
            )
        ),
        rx.table.cell(_value(line.before, "tomato")),
        rx.table.cell(_value(line.after, "grass")),
        background=tint,
        class_name="diff-line",
        data_change=line.change,
    )


def diff_table(lines: rx.Var) -> rx.Component:  # type: ignore[type-arg]
    """``lines``: a Var of ``list[DiffLine]`` (ff_admin.logic.diff)."""
    return rx.cond(
        lines.length() > 0,
        rx.box(
            rx.table.root(
                rx.table.header(
                    rx.table.row(
                        rx.table.column_header_cell("Path", width="40%"),
                        rx.table.column_header_cell("Before", width="30%"),
                        rx.table.column_header_cell("After", width="30%"),
                    )
                ),
                rx.table.body(rx.foreach(lines, _line)),
                size="1",
                variant="ghost",
                width="100%",
                layout="fixed",
            ),
            max_height="18em",
            overflow_y="auto",
            width="100%",
            class_name="diff-table",
        ),
        rx.text("No changes to the definition.", size="1", color_scheme="gray"),
    )
