"""A secret shown once (a new API key, an invitation link), with a copy button.

The secret lives only in a browser-side variable (never in State, which Reflex keeps on
the server between events) and is emptied when the dialog closes.
"""

from __future__ import annotations

from typing import Any

import reflex as rx

from ff_admin import styles


def shown_once_dialog(
    secret: Any,  # a ClientStateVar holding the secret
    *,
    title: rx.Var[str] | str,
    warning: rx.Var[str] | str,
    name: str,
    copied: str,
    max_width: str = "36em",
) -> rx.Component:
    """``name`` makes the ids: ``#<name>``, ``#copy-<name>``, ``#<name>-done``."""
    return rx.alert_dialog.root(
        rx.alert_dialog.content(
            rx.alert_dialog.title(title),
            rx.vstack(
                rx.callout(
                    warning, icon="triangle-alert", color_scheme="amber", id=f"{name}-warning"
                ),
                rx.hstack(
                    rx.code(
                        secret.value,
                        id=name,
                        style=styles.mono,
                        word_break="break-all",
                        padding="0.5em",
                        width="100%",
                    ),
                    rx.icon_button(
                        rx.icon("copy", size=16),
                        variant="soft",
                        title="Copy",
                        on_click=[
                            rx.set_clipboard(secret.value),
                            rx.toast.success(copied, id="toast-copied"),
                        ],
                        id=f"copy-{name}",
                    ),
                    align="center",
                    width="100%",
                ),
                rx.hstack(
                    rx.alert_dialog.action(
                        rx.button("Done", on_click=secret.set_value(""), id=f"{name}-done")
                    ),
                    justify="end",
                    width="100%",
                ),
                spacing="3",
            ),
            max_width=max_width,
        ),
        open=secret.value != "",
        on_open_change=secret.set_value(""),
    )
