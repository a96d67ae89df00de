"""/quickstart: code that evaluates a flag of this project, ready to copy, one way in each."""

from __future__ import annotations

import reflex as rx

from ff_admin.components.shell import environment_switcher, layout
from ff_admin.state.quickstart import QuickstartState
from ff_admin.state.session import SessionState


def _key_badge(label: str, prefix: rx.Var[str], id_: str) -> rx.Component:
    return rx.hstack(
        rx.text(label, size="2", color_scheme="gray"),
        rx.cond(
            prefix != "",
            rx.code(prefix + "…", id=id_),
            rx.link("none yet: create one", href="/keys?p=" + SessionState.project, size="2"),
        ),
        align="center",
        spacing="2",
    )


def _content(card: rx.Var) -> rx.Component:  # type: ignore[type-arg]
    copy = rx.icon_button(
        rx.icon("copy", size=14),
        variant="soft",
        size="1",
        title="Copy",
        on_click=[rx.set_clipboard(card.code), rx.toast.success("Copied", id="toast-copied")],
        id="copy-" + card.id,
        position="absolute",
        top="0.75em",
        right="0.75em",
    )
    return rx.tabs.content(
        rx.box(
            rx.code_block(
                card.code,
                language=card.language,
                wrap_long_lines=True,
                width="100%",
                margin="0",
                font_size="0.85em",
            ),
            copy,
            position="relative",
            width="100%",
            class_name="snippet-code",
        ),
        value=card.id,
        id=card.id,
        class_name="snippet",
        padding_top="1em",
    )


def _tabs() -> rx.Component:
    return rx.tabs.root(
        rx.tabs.list(
            rx.foreach(
                QuickstartState.cards,
                lambda c: rx.tabs.trigger(c.title, value=c.id, id="tab-" + c.id),
            )
        ),
        rx.foreach(QuickstartState.cards, _content),
        value=QuickstartState.tab,
        on_change=QuickstartState.set_tab,
        width="100%",
    )


def quickstart_page() -> rx.Component:
    intro = rx.text(
        "Evaluate a flag of ",
        rx.code(SessionState.project),
        " in ",
        rx.code(SessionState.environment),
        " through the API at ",
        rx.code(QuickstartState.api_url, id="quickstart-api-url"),
        ". The snippets use this environment's newest active keys; the dashboard knows "
        "only their first characters, so paste the full key where it says so.",
        size="2",
        color_scheme="gray",
    )
    keys = rx.hstack(
        _key_badge("Server key", QuickstartState.server_prefix, "quickstart-server-key"),
        _key_badge("Client key", QuickstartState.client_prefix, "quickstart-client-key"),
        spacing="5",
        wrap="wrap",
    )
    return layout("Quickstart", intro, keys, _tabs(), actions=environment_switcher())
