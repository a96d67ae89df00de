"""The dashboard app: pages, their on_load chains, sign-in routes, the store's lifespan."""

from __future__ import annotations

import reflex as rx

from ff_admin import styles
from ff_admin.auth.routes import build_auth_app
from ff_admin.backend import lifespan_for
from ff_admin.pages.flag_detail import flag_detail_page
from ff_admin.pages.flag_new import flag_new_page
from ff_admin.pages.flags import flags_page
from ff_admin.pages.history import history_page
from ff_admin.pages.keys import keys_page
from ff_admin.pages.members import members_page
from ff_admin.pages.quickstart import quickstart_page
from ff_admin.pages.segments import segments_page
from ff_admin.pages.signin import SigninState, signin_page
from ff_admin.pages.tenants import tenants_page
from ff_admin.settings import AdminSettings
from ff_admin.signin import on_sign_in
from ff_admin.state.flag_detail import FlagDetailState
from ff_admin.state.flag_new import FlagNewState
from ff_admin.state.flags import FlagsState
from ff_admin.state.history import HistoryState
from ff_admin.state.keys import KeysState
from ff_admin.state.members import MembersState
from ff_admin.state.quickstart import QuickstartState
from ff_admin.state.segments import SegmentsState
from ff_admin.state.session import SessionState
from ff_admin.state.tenants import TenantsState
from ff_core import keys


def _index() -> rx.Component:
    return rx.center(rx.spinner(size="3"), height="100vh")


def build(settings: AdminSettings) -> rx.App:
    app = rx.App(
        theme=styles.theme,
        api_transformer=build_auth_app(settings, keys.load_secret(settings), on_sign_in),
        toaster=rx.toast.provider(position="bottom-right", close_button=True),
    )
    app.register_lifespan_task(lifespan_for(settings))
    app.add_page(signin_page, route="/signin", title="Sign in · ff", on_load=SigninState.load)
    app.add_page(_index, route="/", title="ff", on_load=SessionState.load)
    signed_in = [
        (flags_page, "/flags", "Flags", FlagsState.load),
        (flag_new_page, "/flags/new", "New flag", FlagNewState.load),
        (flag_detail_page, "/flag", "Flag", FlagDetailState.load),
        (history_page, "/history", "History", HistoryState.load),
        (segments_page, "/segments", "Segments", SegmentsState.load),
        (tenants_page, "/tenants", "Tenants", TenantsState.load),
        (keys_page, "/keys", "API keys", KeysState.load),
        (members_page, "/members", "Members", MembersState.load),
        (quickstart_page, "/quickstart", "Quickstart", QuickstartState.load),
    ]
    for component, route, title, load in signed_in:
        app.add_page(
            component, route=route, title=f"{title} · ff", on_load=[SessionState.load, load]
        )
    return app


app = build(AdminSettings())
