"""/segments: the project's reusable audiences; create, edit and delete (editors)."""

from __future__ import annotations

import reflex as rx

from ff_admin.components.shell import layout
from ff_admin.state.segments import SegmentsState
from ff_admin.state.session import SessionState


def _count(value: rx.Var, cls: str) -> rx.Component:  # type: ignore[type-arg]
    return rx.table.cell(rx.text(value.to_string(), size="2"), class_name=cls)


def _row(row: rx.Var) -> rx.Component:  # type: ignore[type-arg]
    actions = rx.cond(
        SessionState.can_edit,
        rx.hstack(
            rx.icon_button(
                rx.icon("pencil", size=14),
                size="1",
                variant="soft",
                on_click=SegmentsState.open_edit(row.key),
                id="edit-" + row.key,
                title="Edit",
            ),
            rx.icon_button(
                rx.icon("trash-2", size=14),
                size="1",
                variant="soft",
                color_scheme="tomato",
                on_click=SegmentsState.ask_delete(row.key),
                id="delete-" + row.key,
                title="Delete",
            ),
            spacing="2",
            justify="end",
        ),
    )
    return rx.table.row(
        rx.table.cell(
            rx.vstack(
                rx.code(row.key, variant="ghost", weight="medium"),
                rx.text(row.name, size="1", color_scheme="gray", class_name="segment-name"),
                spacing="0",
            )
        ),
        rx.table.cell(rx.text(row.description, size="1", color_scheme="gray")),
        rx.table.cell(
            rx.hstack(
                rx.foreach(
                    row.used_by,
                    lambda f: rx.link(
                        rx.code(f, size="1"),
                        href="/flag?p=" + SessionState.project + "&key=" + f,
                    ),
                ),
                rx.cond(
                    row.used_by.length() == 0,
                    rx.text("no flags", size="1", color_scheme="gray"),
                ),
                wrap="wrap",
                spacing="1",
            ),
            class_name="used-by",
        ),
        _count(row.included, "included-count"),
        _count(row.excluded, "excluded-count"),
        _count(row.rules, "rules-count"),
        rx.table.cell(actions),
        id="segment-" + row.key,
        class_name="segment-row",
    )


def _table() -> rx.Component:
    return rx.table.root(
        rx.table.header(
            rx.table.row(
                *[
                    rx.table.column_header_cell(h)
                    for h in (
                        "Segment",
                        "Description",
                        "Used by",
                        "Included",
                        "Excluded",
                        "Rules",
                        "",
                    )
                ]
            )
        ),
        rx.table.body(rx.foreach(SegmentsState.rows, _row)),
        width="100%",
        variant="surface",
        id="segments-table",
    )


def _error(name: str) -> rx.Component:
    message = SegmentsState.errors.get(name, "")
    return rx.cond(
        message != "",
        rx.text(message, size="1", color_scheme="tomato", id=f"segment-{name}-error"),
    )


def _field(label: str, name: str, control: rx.Component, hint: str = "") -> rx.Component:
    return rx.vstack(
        rx.text(label, size="2", weight="medium"),
        control,
        rx.text(hint, size="1", color_scheme="gray") if hint else rx.fragment(),
        _error(name),
        spacing="1",
        width="100%",
    )


def _input(name: str, **props: object) -> rx.Component:
    return rx.input(
        value=getattr(SegmentsState.form, name),
        on_change=lambda v: SegmentsState.set_field(name, v),
        id=f"segment-{name}",
        width="100%",
        **props,
    )


def _keys(name: str) -> rx.Component:
    return rx.text_area(
        value=getattr(SegmentsState.form, name),
        on_change=lambda v: SegmentsState.set_field(name, v),
        id=f"segment-{name}",
        rows="4",
        width="100%",
        placeholder="user-1\nuser-2, user-3",
        style={"font_family": "ui-monospace, SFMono-Regular, Menlo, monospace"},
    )


def _form_dialog() -> rx.Component:
    keys_hint = "One per line or comma-separated: the values of the targeting key."
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title(
                rx.cond(SegmentsState.editing != "", "Edit segment", "New segment"),
            ),
            rx.vstack(
                _field(
                    "Key",
                    "key",
                    _input(
                        "key",
                        placeholder="beta-testers",
                        disabled=SegmentsState.editing != "",
                    ),
                ),
                _field("Name", "name", _input("name", placeholder="Beta testers")),
                _field("Description", "description", _input("description")),
                _field("Included keys (always in)", "included", _keys("included"), keys_hint),
                _field("Excluded keys (never in)", "excluded", _keys("excluded")),
                rx.cond(
                    SegmentsState.errors.get("form", "") != "",
                    rx.callout(
                        SegmentsState.errors.get("form", ""),
                        icon="triangle-alert",
                        color_scheme="tomato",
                        size="1",
                        id="segment-form-error",
                    ),
                ),
                rx.hstack(
                    rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray")),
                    rx.button(
                        "Save",
                        on_click=SegmentsState.save,
                        loading=SegmentsState.saving,
                        id="segment-save",
                    ),
                    justify="end",
                    width="100%",
                ),
                spacing="3",
                width="100%",
            ),
            max_width="34em",
            id="segment-dialog",
        ),
        open=SegmentsState.form_open,
        on_open_change=SegmentsState.close_form,
    )


def _delete_dialog() -> rx.Component:
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title("Delete segment " + SegmentsState.deleting + "?"),
            rx.alert_dialog.description(
                "Flags can no longer target it. This is recorded in the segment's history.",
                size="2",
            ),
            rx.cond(
                SegmentsState.delete_error != "",
                rx.callout(
                    SegmentsState.delete_error,
                    icon="triangle-alert",
                    color_scheme="tomato",
                    size="1",
                    margin_top="1em",
                    id="delete-error",
                ),
            ),
            rx.hstack(
                rx.alert_dialog.cancel(rx.button("Cancel", variant="soft", color_scheme="gray")),
                rx.button(
                    "Delete",
                    color_scheme="tomato",
                    on_click=SegmentsState.confirm_delete,
                    id="delete-confirm",
                ),
                justify="end",
                spacing="3",
                margin_top="1em",
            ),
            id="delete-dialog",
        ),
        open=SegmentsState.deleting != "",
        on_open_change=SegmentsState.close_delete,
    )


def segments_page() -> rx.Component:
    actions = rx.cond(
        SessionState.can_edit,
        rx.button(
            rx.icon("plus", size=16),
            "New segment",
            on_click=SegmentsState.open_new,
            id="new-segment",
        ),
    )
    empty = rx.cond(
        SegmentsState.loaded & (SegmentsState.rows.length() == 0),
        rx.text("No segments yet.", color_scheme="gray", id="segments-empty"),
    )
    return layout(
        "Segments",
        rx.text(
            "Reusable audiences: a flag's rule can match everyone in a segment.",
            size="2",
            color_scheme="gray",
        ),
        _table(),
        empty,
        _form_dialog(),
        _delete_dialog(),
        actions=actions,
    )
