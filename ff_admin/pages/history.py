"""/history: one flag's audited changes, newest first, live; roll back to any entry."""

from __future__ import annotations

import reflex as rx

from ff_admin import styles
from ff_admin.components.diff_view import diff_table
from ff_admin.components.shell import layout
from ff_admin.state.history import HistoryState
from ff_admin.state.session import SessionState


def _when(row: rx.Var) -> rx.Component:  # type: ignore[type-arg]
    return rx.hstack(
        rx.text(row.at_text, size="1", class_name="entry-at"),
        rx.text("·", size="1", color_scheme="gray"),
        rx.text(
            rx.moment(row.at, from_now=True), size="1", color_scheme="gray", class_name="entry-ago"
        ),
        spacing="1",
        align="center",
    )


def _rollback_button(row: rx.Var) -> rx.Component:  # type: ignore[type-arg]
    return rx.cond(
        SessionState.can_edit,
        rx.button(
            rx.icon("undo-2", size=14),
            "Roll back to this",
            size="1",
            variant="soft",
            on_click=HistoryState.ask_rollback(row.id),
            class_name="rollback-button",
            data_history_id=row.id,
        ),
    )


def _entry(row: rx.Var) -> rx.Component:  # type: ignore[type-arg]
    head = rx.hstack(
        rx.text(row.summary, weight="bold", size="2", class_name="entry-summary"),
        rx.foreach(
            row.environments,
            lambda env: rx.badge(env, variant="soft", size="1", class_name="entry-env"),
        ),
        rx.spacer(),
        _rollback_button(row),
        width="100%",
        align="center",
        wrap="wrap",
        spacing="2",
    )
    who = rx.hstack(
        rx.icon("user-round", size=14, color=rx.color("gray", 10)),
        rx.text(row.who, size="1", weight="medium", class_name="entry-who"),
        rx.cond(row.actor_kind != "", rx.badge(row.actor_kind, size="1", color_scheme="gray")),
        rx.text("·", size="1", color_scheme="gray"),
        _when(row),
        spacing="2",
        align="center",
        wrap="wrap",
    )
    note = rx.cond(
        row.note != "",
        rx.hstack(
            rx.icon("message-square-text", size=14, color=rx.color("gray", 10)),
            rx.text(row.note, size="2", class_name="entry-note", white_space="pre-wrap"),
            spacing="2",
            align="start",
        ),
    )
    return rx.hstack(
        rx.box(
            width="0.75em",
            height="0.75em",
            min_width="0.75em",
            border_radius="50%",
            margin_top="1.1em",
            margin_left="-0.42em",
            background=rx.color(styles.ACCENT, 9),
        ),
        rx.card(
            rx.vstack(head, who, note, diff_table(row.diff), spacing="2", width="100%"),
            width="100%",
        ),
        spacing="3",
        width="100%",
        align="start",
        class_name="history-entry",
        data_history_id=row.id,
        data_action=row.action,
    )


def _timeline() -> rx.Component:
    return rx.vstack(
        rx.foreach(HistoryState.rows, _entry),
        spacing="3",
        width="100%",
        padding_left="0.5em",
        border_left=f"2px solid {rx.color('gray', 5)}",
        id="history-timeline",
    )


def _more() -> rx.Component:
    return rx.cond(
        HistoryState.cursor != "",
        rx.button(
            rx.icon("chevrons-down", size=16),
            "Load older",
            variant="soft",
            on_click=HistoryState.load_older,
            id="load-older",
        ),
        rx.cond(
            HistoryState.rows.length() > 0,
            rx.text("That is the first entry.", size="1", color_scheme="gray", id="history-end"),
        ),
    )


def _rollback_dialog() -> rx.Component:
    return rx.dialog.root(
        rx.dialog.content(
            rx.dialog.title("Roll back to this entry"),
            rx.dialog.description(
                rx.text(
                    "Restores the flag as it was right after this change (a change made "
                    "in some environments restores only those): ",
                    rx.text.strong(HistoryState.rollback_summary),
                    ". The rollback is itself recorded here.",
                    size="2",
                )
            ),
            rx.vstack(
                rx.text("Note", size="2", weight="medium"),
                rx.text_area(
                    placeholder="Why (shown in the history)",
                    value=HistoryState.rollback_note,
                    on_change=HistoryState.set_rollback_note,
                    id="rollback-note",
                    width="100%",
                ),
                rx.cond(
                    HistoryState.rollback_error != "",
                    rx.callout(
                        HistoryState.rollback_error,
                        icon="triangle-alert",
                        color_scheme="tomato",
                        size="1",
                        id="rollback-error",
                    ),
                ),
                rx.hstack(
                    rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray")),
                    rx.button(
                        "Confirm",
                        on_click=HistoryState.confirm_rollback,
                        loading=HistoryState.rolling_back,
                        id="rollback-confirm",
                    ),
                    justify="end",
                    width="100%",
                ),
                spacing="3",
                margin_top="1em",
                width="100%",
            ),
            max_width="32em",
            id="rollback-dialog",
        ),
        open=HistoryState.rollback_id != "",
        on_open_change=HistoryState.close_rollback,
    )


def _body() -> rx.Component:
    return rx.cond(
        HistoryState.key == "",
        rx.callout("Choose a flag to see its history.", icon="info", id="history-no-flag"),
        rx.vstack(
            rx.hstack(
                rx.code(HistoryState.key, size="3", id="history-flag"),
                rx.text("every change, newest first", size="2", color_scheme="gray"),
                align="center",
                spacing="3",
            ),
            rx.cond(
                HistoryState.loaded & (HistoryState.rows.length() == 0),
                rx.text("No changes recorded for this flag.", id="history-empty"),
            ),
            _timeline(),
            _more(),
            _rollback_dialog(),
            spacing="4",
            width="100%",
        ),
    )


def history_page() -> rx.Component:
    actions = rx.link(
        rx.button(rx.icon("arrow-left", size=16), "Flag details", variant="soft"),
        href="/flag?p="
        + SessionState.project
        + "&key="
        + HistoryState.key
        + "&env="
        + SessionState.environment,
        id="back-to-flag",
    )
    return layout("History", _body(), actions=actions)
