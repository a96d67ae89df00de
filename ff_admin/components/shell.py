"""The frame around every signed-in page: sidebar, switchers, theme, identity."""

from __future__ import annotations

import reflex as rx

from ff_admin import styles
from ff_admin.components.forms import submit_form
from ff_admin.state.session import SessionState

NAV = [
    ("Flags", "/flags", "flag"),
    ("Segments", "/segments", "users"),
    ("Tenants", "/tenants", "building-2"),
    ("API keys", "/keys", "key-round"),
    ("Members", "/members", "user-cog"),
    ("Quickstart", "/quickstart", "rocket"),
]


def _nav_link(label: str, path: str, icon: str) -> rx.Component:
    active = rx.State.router.url.path.startswith(path)
    return rx.link(
        rx.hstack(rx.icon(icon, size=16), rx.text(label, size="2"), align="center"),
        href=path + "?p=" + SessionState.project,
        underline="none",
        padding="0.45em 0.75em",
        border_radius="var(--radius-2)",
        width="100%",
        background=rx.cond(active, rx.color(styles.ACCENT, 4), "transparent"),
        color=rx.cond(active, rx.color(styles.ACCENT, 11), rx.color("gray", 12)),
        id=f"nav-{label.lower().replace(' ', '-')}",
    )


def project_switcher() -> rx.Component:
    return rx.select.root(
        rx.select.trigger(placeholder="Project", width="100%", id="project-switcher"),
        rx.select.content(
            rx.foreach(
                SessionState.projects,
                lambda p: rx.select.item(p["name"], value=p["key"]),
            )
        ),
        value=SessionState.project,
        on_change=SessionState.switch_project,
    )


def environment_switcher() -> rx.Component:
    return rx.select.root(
        rx.select.trigger(placeholder="Environment", id="environment-switcher"),
        rx.select.content(
            rx.foreach(SessionState.environments, lambda e: rx.select.item(e, value=e))
        ),
        value=SessionState.environment,
        on_change=SessionState.switch_environment,
    )


def _identity() -> rx.Component:
    return rx.vstack(
        rx.text(SessionState.email, size="1", color_scheme="gray", id="signed-in-as"),
        rx.badge(SessionState.role, variant="soft", id="role-badge"),
        rx.hstack(
            rx.color_mode.button(size="1", variant="ghost", id="theme-toggle"),
            rx.el.form(
                rx.button(
                    "Sign out",
                    size="1",
                    variant="soft",
                    type="button",
                    id="sign-out",
                    on_click=submit_form("sign-out-form"),
                ),
                action="/auth/logout",
                method="post",
                id="sign-out-form",
            ),
            align="center",
            spacing="3",
        ),
        spacing="2",
        width="100%",
    )


def _sidebar_body() -> rx.Component:
    return rx.vstack(
        rx.heading("ff", size="6", color=rx.color(styles.ACCENT, 11)),
        project_switcher(),
        rx.vstack(*[_nav_link(*item) for item in NAV], spacing="1", width="100%"),
        rx.spacer(),
        _identity(),
        spacing="4",
        height="100%",
        width="100%",
    )


def sidebar() -> rx.Component:
    return rx.box(
        _sidebar_body(),
        display=["none", "none", "block"],
        width=styles.SIDEBAR_WIDTH,
        min_width=styles.SIDEBAR_WIDTH,
        height="100vh",
        position="sticky",
        top="0",
        padding="1em",
        border_right=f"1px solid {rx.color('gray', 5)}",
        background=rx.color("gray", 2),
    )


def mobile_bar() -> rx.Component:
    return rx.hstack(
        rx.heading("ff", size="5", color=rx.color(styles.ACCENT, 11)),
        rx.spacer(),
        rx.drawer.root(
            rx.drawer.trigger(rx.icon_button(rx.icon("menu"), variant="ghost", id="mobile-menu")),
            rx.drawer.overlay(z_index="5"),
            rx.drawer.portal(
                rx.drawer.content(
                    _sidebar_body(),
                    padding="1em",
                    width="16em",
                    height="100%",
                    background=rx.color("gray", 2),
                )
            ),
            direction="left",
        ),
        display=["flex", "flex", "none"],
        width="100%",
        padding="0.75em 1em",
        border_bottom=f"1px solid {rx.color('gray', 5)}",
        align="center",
    )


def layout(
    title: str, *children: rx.Component, actions: rx.Component | None = None
) -> rx.Component:
    """A signed-in page: the sidebar, a header with ``title`` and ``actions``, the body."""
    header = rx.hstack(
        rx.heading(title, size="6", id="page-title"),
        rx.spacer(),
        actions if actions is not None else rx.fragment(),
        width="100%",
        align="center",
        wrap="wrap",
        spacing="3",
    )
    body = rx.cond(
        SessionState.project != "",
        rx.vstack(header, *children, spacing="4", width="100%"),
        rx.callout(
            rx.cond(SessionState.problem != "", SessionState.problem, "Loading…"),
            icon="info",
            id="page-problem",
        ),
    )
    return rx.hstack(
        sidebar(),
        rx.vstack(mobile_bar(), rx.box(body, style=styles.page), width="100%", spacing="0"),
        spacing="0",
        width="100%",
        align="start",
    )
