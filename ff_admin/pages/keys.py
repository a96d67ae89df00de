"""/keys: the project's API keys (prefixes only); admins create and revoke them."""

from __future__ import annotations

import reflex as rx

from ff_admin.components.shell import layout
from ff_admin.components.shown_once import shown_once_dialog
from ff_admin.state.keys import RAW_KEY, KeysState
from ff_admin.state.session import SessionState

_KINDS = [
    ("server", "Server: full definitions of one environment, for back-end services"),
    ("client", "Client: evaluated client-visible flags of one environment, browser-safe"),
    ("admin", "Admin: the management API, acting with a role"),
]


def _status(row: rx.Var) -> rx.Component:  # type: ignore[type-arg]
    return rx.cond(
        row.active,
        rx.badge("active", color_scheme="green", variant="soft"),
        rx.vstack(
            rx.badge("revoked", color_scheme="red", variant="soft"),
            rx.text(row.revoked_at, size="1", color_scheme="gray"),
            spacing="1",
        ),
    )


def _row(row: rx.Var) -> rx.Component:  # type: ignore[type-arg]
    revoke = rx.cond(
        SessionState.can_admin & row.active,
        rx.icon_button(
            rx.icon("ban", size=14),
            variant="ghost",
            color_scheme="red",
            title="Revoke",
            on_click=KeysState.ask_revoke(row.id, row.name),
            id="revoke-" + row.id,
        ),
    )
    return rx.table.row(
        rx.table.cell(rx.text(row.name, weight="medium")),
        rx.table.cell(rx.badge(row.kind, variant="outline")),
        rx.table.cell(rx.text(row.scope, size="2")),
        rx.table.cell(rx.code(row.prefix + "…", variant="ghost"), class_name="key-prefix"),
        rx.table.cell(
            rx.vstack(
                rx.text(row.created_by, size="2"),
                rx.text(row.created_at, size="1", color_scheme="gray"),
                spacing="0",
            )
        ),
        rx.table.cell(_status(row)),
        rx.table.cell(revoke),
        id="key-" + row.id,
        class_name="key-row",
        data_status=rx.cond(row.active, "active", "revoked"),
        data_name=row.name,
        opacity=rx.cond(row.active, "1", "0.6"),
    )


def _table() -> rx.Component:
    return rx.cond(
        KeysState.rows.length() > 0,
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    *[
                        rx.table.column_header_cell(h)
                        for h in ("Name", "Kind", "Environment / role", "Key", "Created", "", "")
                    ]
                )
            ),
            rx.table.body(rx.foreach(KeysState.rows, _row)),
            width="100%",
            variant="surface",
            id="keys-table",
        ),
        rx.callout(
            "No keys yet. Services need a server key, browsers a client key.",
            icon="key-round",
            id="keys-empty",
        ),
    )


def _labelled(label: str, control: rx.Component) -> rx.Component:
    return rx.vstack(rx.text(label, size="2", weight="medium"), control, spacing="1", width="100%")


def _create_dialog() -> rx.Component:
    scope = rx.cond(
        KeysState.kind == "admin",
        _labelled(
            "Role",
            rx.select.root(
                rx.select.trigger(id="key-role", width="100%"),
                rx.select.content(
                    rx.foreach(KeysState.roles, lambda r: rx.select.item(r, value=r))
                ),
                value=KeysState.role,
                on_change=lambda v: KeysState.set_field("role", v),
            ),
        ),
        _labelled(
            "Environment",
            rx.select.root(
                rx.select.trigger(id="key-environment", width="100%"),
                rx.select.content(
                    rx.foreach(SessionState.environments, lambda e: rx.select.item(e, value=e))
                ),
                value=KeysState.environment,
                on_change=lambda v: KeysState.set_field("environment", v),
            ),
        ),
    )
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("New API key"),
            rx.form(
                rx.vstack(
                    _labelled(
                        "Name",
                        rx.input(
                            value=KeysState.name,
                            on_change=lambda v: KeysState.set_field("name", v),
                            placeholder="checkout-service",
                            id="key-name",
                            width="100%",
                            auto_focus=True,
                        ),
                    ),
                    _labelled(
                        "Kind",
                        rx.select.root(
                            rx.select.trigger(id="key-kind", width="100%"),
                            rx.select.content(
                                *[rx.select.item(label, value=v) for v, label in _KINDS]
                            ),
                            value=KeysState.kind,
                            on_change=lambda v: KeysState.set_field("kind", v),
                        ),
                    ),
                    scope,
                    rx.hstack(
                        rx.dialog.close(rx.button("Cancel", variant="soft", type="button")),
                        rx.button("Create key", type="submit", id="create-key-submit"),
                        justify="end",
                        width="100%",
                    ),
                    spacing="3",
                ),
                on_submit=lambda _: KeysState.create(),
            ),
            max_width="32em",
        ),
        open=KeysState.creating,
        on_open_change=KeysState.set_creating,
    )


def _raw_key_dialog() -> rx.Component:
    return shown_once_dialog(
        RAW_KEY,
        title="Copy your new key",
        warning="This key will not be shown again: only its hash is kept. Copy it now "
        "and store it as a secret.",
        name="raw-key",
        copied="Key copied",
    )


def _revoke_dialog() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Revoke " + KeysState.revoke_name + "?"),
            rx.alert_dialog.description(
                "Every request made with this key is refused from then on. This cannot be "
                "undone: create a new key to replace it."
            ),
            rx.hstack(
                rx.alert_dialog.cancel(
                    rx.button("Cancel", variant="soft", on_click=KeysState.cancel_revoke)
                ),
                rx.alert_dialog.action(
                    rx.button(
                        "Revoke key",
                        color_scheme="red",
                        on_click=KeysState.revoke(KeysState.revoke_id),
                        id="revoke-confirm",
                    )
                ),
                justify="end",
                spacing="3",
                margin_top="1em",
            ),
        ),
        open=KeysState.revoke_id != "",
        on_open_change=lambda _: KeysState.cancel_revoke(),
    )


def keys_page() -> rx.Component:
    actions = rx.cond(
        SessionState.can_admin,
        rx.button(
            rx.icon("plus", size=16), "New key", on_click=KeysState.open_create, id="new-key"
        ),
    )
    intro = rx.text(
        "Keys are stored as a hash; the dashboard shows only their first characters. "
        "Server keys are secrets; client keys may ship in web pages.",
        size="2",
        color_scheme="gray",
    )
    return layout(
        "API keys",
        intro,
        _table(),
        _create_dialog(),
        _raw_key_dialog(),
        _revoke_dialog(),
        actions=actions,
    )
