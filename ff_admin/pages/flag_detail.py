"""/flag: one flag's description and usage, then an editor card per environment."""

from __future__ import annotations

import reflex as rx

from ff_admin.components import flag_bits
from ff_admin.components.flag_env_card import env_card
from ff_admin.components.shell import layout
from ff_admin.state.flag_detail import FlagDetailState as S
from ff_admin.state.session import SessionState


def _usage_row(row: rx.Var) -> rx.Component:  # type: ignore[type-arg]
    return rx.hstack(
        rx.text(row.env, size="1", weight="medium", width="7em"),
        rx.cond(
            row.last_evaluated != "",
            rx.moment(row.last_evaluated, from_now=True, size="1"),
            rx.text("never", size="1", color_scheme="gray"),
        ),
        rx.text(row.recent.to_string() + " / 30 d", size="1", color_scheme="gray"),
        rx.cond(row.stale, rx.badge("stale", color_scheme="amber", size="1")),
        spacing="3",
        align="center",
        id="usage-" + row.env,
    )


def _usage() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.text("Usage", size="2", weight="bold"),
            rx.cond(
                S.last_evaluated != "",
                rx.hstack(
                    rx.text("last evaluated", size="1", color_scheme="gray"),
                    rx.moment(S.last_evaluated, from_now=True, size="1"),
                    spacing="1",
                ),
                rx.text("never evaluated", size="1", color_scheme="gray"),
            ),
            rx.cond(S.stale, rx.badge("stale", color_scheme="amber", id="flag-stale")),
            align="center",
            spacing="2",
        ),
        rx.foreach(S.usage, _usage_row),
        spacing="1",
        id="flag-usage",
    )


def _registry() -> rx.Component:
    """Where the flag's definition comes from, and what the page may still change."""
    return rx.fragment(
        rx.cond(
            S.in_registry,
            rx.callout(
                rx.vstack(
                    rx.text(
                        "Description, owner, kind, value type, variants, lifetime and "
                        "visibility come from the registry file: change them there and run ",
                        rx.code("ff registry sync"),
                        ". Targeting, rules and the kill switch are edited here.",
                    ),
                    rx.hstack(
                        rx.text("Serves its registry default in", size="1"),
                        rx.cond(
                            S.default_envs.length() > 0,
                            rx.foreach(
                                S.default_envs,
                                lambda e: rx.badge(
                                    e, color_scheme="green", size="1", id="default-" + e
                                ),
                            ),
                            rx.text("no environment", size="1", weight="medium"),
                        ),
                        spacing="1",
                        align="center",
                        wrap="wrap",
                    ),
                    spacing="1",
                ),
                icon="file-lock",
                color_scheme="green",
                size="1",
                id="registry-note",
            ),
        ),
        rx.cond(
            S.orphan,
            rx.callout(
                "This flag is not in the project's registry file: changes to it are refused "
                "until it is added there (`ff registry sync`).",
                icon="circle-alert",
                color_scheme="red",
                size="1",
                id="orphan-note",
            ),
        ),
    )


def _summary() -> rx.Component:
    return rx.card(
        rx.hstack(
            rx.vstack(
                rx.hstack(
                    rx.code(S.key, size="4", id="flag-key"),
                    flag_bits.type_badge(S.value_type),
                    rx.badge(S.kind, variant="outline", id="flag-kind"),
                    rx.cond(S.temporary, rx.badge("temporary", color_scheme="gray")),
                    rx.cond(S.client_visible, rx.badge("client-visible", color_scheme="blue")),
                    rx.cond(
                        S.internal_only,
                        rx.badge("internal", color_scheme="purple", id="flag-internal"),
                    ),
                    rx.cond(S.in_registry, rx.badge("registry", color_scheme="green")),
                    rx.cond(S.orphan, rx.badge("orphan", color_scheme="red", id="flag-orphan")),
                    rx.cond(S.archived, rx.badge("archived", color_scheme="red")),
                    rx.foreach(S.tags, lambda t: rx.badge(t, variant="outline", size="1")),
                    align="center",
                    spacing="2",
                    wrap="wrap",
                ),
                rx.heading(S.name, size="5", id="flag-name"),
                _registry(),
                rx.cond(
                    S.description != "",
                    rx.text(S.description, size="2", color_scheme="gray", id="flag-description"),
                ),
                rx.hstack(
                    rx.foreach(
                        S.variants,
                        lambda v: rx.badge(v.key + " = " + v.value, variant="soft", size="1"),
                    ),
                    wrap="wrap",
                    spacing="1",
                    id="flag-variants",
                ),
                spacing="2",
                flex="1",
            ),
            _usage(),
            align="start",
            spacing="6",
            width="100%",
            wrap="wrap",
        ),
        width="100%",
    )


def flag_detail_page() -> rx.Component:
    back = rx.link(
        rx.button(rx.icon("arrow-left", size=14), "Flags", variant="soft"),
        href="/flags?p=" + SessionState.project + "&env=" + SessionState.environment,
    )
    history = rx.link(
        rx.button(rx.icon("history", size=14), "History", variant="soft", id="flag-history"),
        href="/history?p=" + SessionState.project + "&key=" + S.key,
    )
    tenants = rx.cond(
        S.in_registry,
        rx.link(
            rx.button(rx.icon("building-2", size=14), "Tenants", variant="soft", id="flag-tenants"),
            href="/tenants?p="
            + SessionState.project
            + "&flag="
            + S.key
            + "&env="
            + SessionState.environment,
        ),
    )
    body = rx.cond(
        S.missing != "",
        rx.callout(S.missing, icon="circle-alert", color_scheme="red", id="flag-missing"),
        rx.cond(
            S.name != "",
            rx.vstack(
                _summary(),
                rx.foreach(S.cards, env_card),
                spacing="4",
                width="100%",
            ),
            rx.center(rx.spinner(size="3"), width="100%", padding="4em"),
        ),
    )
    return layout("Flag", body, actions=rx.hstack(back, history, tenants, spacing="2"))
