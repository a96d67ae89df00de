"""Form pieces shared by the flag pages: labelled fields, messages, variant pickers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import reflex as rx


def error(errors: rx.Var, key: rx.Var[str] | str, id: rx.Var[str] | str) -> rx.Component:  # type: ignore[type-arg]
    """The message filed under ``key``, if any, in red beside its field."""
    return rx.cond(
        errors.contains(key),
        rx.text(
            errors[key],
            size="1",
            color=rx.color("red", 11),
            id=id,
            class_name="field-error",
        ),
    )


def field(label: str, *controls: rx.Component, hint: str = "", **props: Any) -> rx.Component:
    return rx.vstack(
        rx.text(label, size="2", weight="medium"),
        *controls,
        *([rx.text(hint, size="1", color_scheme="gray")] if hint else []),
        spacing="1",
        **props,
    )


def variant_select(
    value: rx.Var[str],
    variants: rx.Var[list[str]],
    on_change: Callable[[rx.Var[str]], Any],
    id: rx.Var[str] | str,
    disabled: rx.Var[bool],
    placeholder: str = "variant",
) -> rx.Component:
    return rx.select.root(
        rx.select.trigger(placeholder=placeholder, id=id, min_width="8em"),
        rx.select.content(rx.foreach(variants, lambda v: rx.select.item(v, value=v))),
        value=value,
        on_change=on_change,
        disabled=disabled,
        size="2",
    )


def weights(
    rows: rx.Var,  # type: ignore[type-arg]
    on_change: Callable[[rx.Var[int], rx.Var[str]], Any],
    id_prefix: rx.Var[str],
    disabled: rx.Var[bool],
) -> rx.Component:
    """One percentage per variant (they must add up to 100)."""
    return rx.hstack(
        rx.foreach(
            rows,
            lambda row, j: rx.hstack(
                rx.badge(row.variant, variant="soft"),
                rx.input(
                    value=row.weight,
                    on_change=lambda v: on_change(j, v),
                    disabled=disabled,
                    width="5em",
                    size="1",
                    id=id_prefix + "-weight-" + j.to_string(),
                ),
                rx.text("%", size="1"),
                align="center",
                spacing="1",
            ),
        ),
        wrap="wrap",
        spacing="3",
        align="center",
    )
