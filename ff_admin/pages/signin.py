"""/signin: single sign-on (OIDC), or the local dev user on a loopback-only install."""

from __future__ import annotations

import json
from urllib.parse import quote

import reflex as rx
from reflex_base.event import EventSpec

from ff_admin import styles
from ff_admin.backend import current
from ff_admin.components.forms import submit_form
from ff_admin.settings import AuthMode


def _safe_next(value: str) -> str:
    return value if value.startswith("/") and not value.startswith(("//", "/\\")) else "/"


class SigninState(rx.State):
    mode: str = ""
    dev_user: str = ""
    next: str = "/"
    invited: bool = False

    @rx.var
    def login_href(self) -> str:
        return "/auth/login?next=" + quote(self.next, safe="")

    @rx.event
    def single_sign_on(self) -> EventSpec:
        # A full navigation: /auth/login is a server route, not a page of the app's router
        # (which takes over plain links and anchors).
        return rx.call_script(f"window.location.assign({json.dumps(self.login_href)})")

    @rx.event
    def load(self) -> None:
        settings = current().settings
        params = self.router.url.query_parameters
        self.mode = settings.auth.value
        self.dev_user = settings.dev_user if settings.auth is AuthMode.DEV else ""
        self.next = _safe_next(params.get("next", "/"))
        self.invited = params.get("invite", "") == "1"


def signin_page() -> rx.Component:
    dev = rx.el.form(
        rx.el.input(type="hidden", name="next", value=SigninState.next),
        rx.button(
            "Continue as " + SigninState.dev_user,
            type="button",
            size="3",
            width="100%",
            id="dev-sign-in",
            on_click=submit_form("dev-form"),
        ),
        rx.text(
            "Local dev sign-in: this install only listens on loopback.",
            size="1",
            color_scheme="gray",
        ),
        action="/auth/dev",
        method="post",
        id="dev-form",
    )
    oidc = rx.button(
        "Sign in with single sign-on",
        size="3",
        width="100%",
        id="oidc-sign-in",
        on_click=SigninState.single_sign_on,
    )
    return rx.center(
        rx.card(
            rx.vstack(
                rx.heading("ff", size="8", color=rx.color(styles.ACCENT, 11)),
                rx.text("Feature flags, self-hosted.", color_scheme="gray"),
                rx.cond(
                    SigninState.invited,
                    rx.callout(
                        "You were invited to a project: sign in with the invited email "
                        "address to accept.",
                        icon="mail",
                        id="invite-notice",
                    ),
                ),
                rx.cond(SigninState.mode == "dev", dev, rx.cond(SigninState.mode == "oidc", oidc)),
                spacing="4",
                width="100%",
            ),
            width="22em",
            padding="2em",
        ),
        height="100vh",
    )
