"""/flags/new: a new flag's name, key, type, variants and first rollout.

Ids: ``flag-<field>`` for the fields, ``variant-<i>-key|value`` for variant rows,
``error-<error key>`` for messages (keys of ``ff_admin.logic.flag_form``).
"""

from __future__ import annotations

import reflex as rx

from ff_admin.components.flag_fields import error, field
from ff_admin.components.shell import layout
from ff_admin.logic.flag_form import KINDS, VALUE_TYPES
from ff_admin.state.flag_new import FlagNewState as S
from ff_admin.state.session import SessionState


def _error(key: str) -> rx.Component:
    return error(S.errors, key, "error-" + key)


def _variant_row(row: rx.Var, i: rx.Var[int]) -> rx.Component:  # type: ignore[type-arg]
    where = "variants." + i.to_string()
    return rx.vstack(
        rx.hstack(
            rx.input(
                value=row.key,
                on_change=lambda v: S.set_variant(i, "key", v),
                placeholder="key",
                width="10em",
                id="variant-" + i.to_string() + "-key",
            ),
            rx.input(
                value=row.value,
                on_change=lambda v: S.set_variant(i, "value", v),
                placeholder=rx.match(
                    S.value_type, ("number", "a number"), ("json", 'JSON, e.g. {"a": 1}'), "text"
                ),
                flex="1",
                id="variant-" + i.to_string() + "-value",
            ),
            rx.icon_button(
                rx.icon("x", size=14),
                on_click=S.remove_variant(i),
                variant="ghost",
                id="variant-" + i.to_string() + "-remove",
                aria_label="Remove variant",
            ),
            align="center",
            width="100%",
        ),
        error(S.errors, where + ".key", "error-" + where + ".key"),
        error(S.errors, where + ".value", "error-" + where + ".value"),
        spacing="1",
        width="100%",
    )


def _variants() -> rx.Component:
    return rx.cond(
        S.value_type != "boolean",
        field(
            "Variants",
            rx.foreach(S.variants, _variant_row),
            rx.button(
                rx.icon("plus", size=14),
                "Variant",
                size="1",
                variant="soft",
                on_click=S.add_variant,
                id="add-variant",
            ),
            _error("variants"),
            hint="The first is served to the rollout, the last to everyone else.",
            width="100%",
        ),
        rx.text("Variants: on = true, off = false.", size="2", color_scheme="gray"),
    )


def _identity() -> list[rx.Component]:
    return [
        field(
            "Name",
            rx.input(
                value=S.name,
                on_change=S.set_name,
                placeholder="New checkout",
                id="flag-name",
                width="100%",
            ),
            _error("name"),
            width="100%",
        ),
        field(
            "Key",
            rx.input(
                value=S.key,
                on_change=S.set_key,
                id="flag-key",
                width="100%",
                font_family="monospace",
            ),
            _error("key"),
            hint="Used in code. Filled from the name until you edit it.",
            width="100%",
        ),
        rx.hstack(
            field(
                "Kind",
                rx.select.root(
                    rx.select.trigger(id="flag-kind"),
                    rx.select.content(*[rx.select.item(k, value=k) for k in KINDS]),
                    value=S.kind,
                    on_change=lambda v: S.set_field("kind", v),
                ),
                _error("kind"),
            ),
            field(
                "Value type",
                rx.segmented_control.root(
                    *[rx.segmented_control.item(t, value=t) for t in VALUE_TYPES],
                    value=S.value_type,
                    on_change=lambda v: S.set_value_type(v.to(str)),
                    id="flag-value-type",
                ),
                _error("value_type"),
            ),
            spacing="6",
            wrap="wrap",
        ),
    ]


def _rollout() -> rx.Component:
    return field(
        "Initial rollout",
        rx.hstack(
            # Uncontrolled: a controlled slider would drop moves made before the server
            # answered the previous one. The form starts at 100 on every visit.
            rx.slider(
                default_value=[100],
                on_change=S.set_rollout,
                min=0,
                max=100,
                step=5,
                width="16em",
                id="flag-rollout",
            ),
            rx.text(S.initial_rollout.to_string() + " %", size="2", id="flag-rollout-value"),
            align="center",
            spacing="3",
        ),
        _error("initial_rollout"),
        hint="Of the first variant, in every environment once switched on (all start off).",
    )


def _details() -> list[rx.Component]:
    return [
        field(
            "Description",
            rx.text_area(
                value=S.description,
                on_change=lambda v: S.set_field("description", v),
                id="flag-description",
                width="100%",
            ),
            _error("description"),
            width="100%",
        ),
        field(
            "Tags",
            rx.input(
                value=S.tags,
                on_change=lambda v: S.set_field("tags", v),
                placeholder="checkout, web",
                id="flag-tags",
                width="100%",
            ),
            _error("tags"),
            hint="Comma-separated.",
            width="100%",
        ),
        rx.hstack(
            rx.checkbox(
                "Client-visible (may be sent to browsers)",
                checked=S.client_visible,
                on_change=lambda v: S.set_field("client_visible", v),
                id="flag-client-visible",
            ),
            rx.checkbox(
                "Temporary (to be removed after the rollout)",
                checked=S.temporary,
                on_change=lambda v: S.set_field("temporary", v),
                id="flag-temporary",
            ),
            spacing="6",
            wrap="wrap",
        ),
    ]


def _form() -> rx.Component:
    return rx.card(
        rx.vstack(
            *_identity(),
            _variants(),
            _rollout(),
            *_details(),
            rx.cond(
                S.errors.contains("form"),
                rx.callout(
                    S.errors["form"], icon="circle-alert", color_scheme="red", id="error-form"
                ),
            ),
            rx.hstack(
                rx.link(
                    rx.button("Cancel", variant="soft", color_scheme="gray"),
                    href="/flags?p=" + SessionState.project,
                ),
                rx.button("Create flag", on_click=S.create, id="create-flag"),
                justify="end",
                width="100%",
            ),
            spacing="4",
            width="100%",
        ),
        max_width="46em",
        width="100%",
    )


def flag_new_page() -> rx.Component:
    return layout(
        "New flag",
        rx.cond(
            SessionState.can_edit,
            _form(),
            rx.callout(
                "Creating flags needs the editor role in this project.",
                icon="lock",
                id="flag-new-forbidden",
            ),
        ),
    )
