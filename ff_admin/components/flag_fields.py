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


def serve_picker(
    *,
    mode: rx.Var[str],
    variant: rx.Var[str],
    rollout: rx.Var,  # type: ignore[type-arg]
    bucket_by: rx.Var[str],
    variants: rx.Var,  # type: ignore[type-arg]
    update: Callable[[str], Callable[[Any], Any]],
    fields: tuple[str, str, str],
    on_weight: Callable[[rx.Var[int], rx.Var[str]], Any],
    ids: tuple[rx.Var[str] | str, rx.Var[str] | str, rx.Var[str] | str, rx.Var[str] | str],
    readonly: rx.Var[bool],
) -> rx.Component:
    """What a rule or the default serves: one variant, or a weighted rollout bucketed by an
    attribute. ``fields`` names the form's mode, variant and bucket-by fields for ``update``;
    ``ids`` are the element ids of the mode, the variant, the weights and the bucket-by."""
    mode_field, variant_field, bucket_field = fields
    mode_id, variant_id, weights_id, bucket_id = ids
    return rx.fragment(
        rx.segmented_control.root(
            rx.segmented_control.item("Variant", value="variant"),
            rx.segmented_control.item("Rollout", value="rollout"),
            value=mode,
            on_change=lambda v: update(mode_field)(v.to(str)),
            disabled=readonly,
            size="1",
            id=mode_id,
        ),
        rx.cond(
            mode == "variant",
            variant_select(variant, variants, update(variant_field), variant_id, readonly),
            rx.hstack(
                weights(rollout, on_weight, weights_id, readonly),
                rx.text("by", size="1", color_scheme="gray"),
                rx.input(
                    value=bucket_by,
                    on_change=update(bucket_field),
                    disabled=readonly,
                    width="9em",
                    size="1",
                    id=bucket_id,
                ),
                align="center",
                spacing="2",
                wrap="wrap",
            ),
        ),
    )
