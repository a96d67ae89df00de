"""The tenants page: the list and onboarding, one tenant's values and overrides, and one
flag across tenants. Reads come from the process's kept project (``ff_admin.projects``:
tenant state is in the change log like flags, so a reload costs one log read); writes go
through ``TenantService`` with the identity of the verified session.

Overrides are sent without an expected version: a tenant is one item, so its version moves
with every override of any flag, and an override names the value wanted, not a change
relative to what was shown; the page shows the outcome live either way.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import reflex as rx
from reflex_base.event import EventSpec

from ff_admin.backend import current
from ff_admin.logic import tenants as logic
from ff_admin.logic.tenants import AcrossRow, FlagValues, TenantRow
from ff_admin.state import live
from ff_admin.state.guard import grant
from ff_admin.state.session import SessionState
from ff_core.errors import FFError
from ff_core.models import Role


class TenantsState(rx.State):
    # What the page shows: "list", one "tenant", or one "flag" across tenants.
    view: str = "list"
    missing: str = ""
    # The list and onboarding.
    rows: list[TenantRow] = []
    total: int = 0
    page: int = 1
    pages: int = 1
    search: str = ""
    registry_flags: list[str] = []
    new_key: str = ""
    new_name: str = ""
    # One tenant.
    tenant: str = ""
    tenant_name: str = ""
    values: list[FlagValues] = []
    orphaned: list[str] = []
    # One flag across tenants (in the session's environment).
    flag: str = ""
    flag_variants: list[str] = []
    across: list[AcrossRow] = []
    _seen: int = 0

    async def _reload(self) -> None:
        session = await self.get_state(SessionState)
        await grant(self, session.project)
        kept = await current().projects.current(session.project)
        self._seen, self.missing = kept.seq, ""
        if self.view == "tenant":
            found = kept.tenants.get(self.tenant)
            if found is None:
                self.missing = f"tenant {self.tenant!r} not found in project {session.project!r}"
                self.values, self.orphaned = [], []
                return
            shown = logic.tenant_view(kept.flags, found, session.environments)
            self.tenant_name, self.values, self.orphaned = found.name, shown.rows, shown.orphaned
        elif self.view == "flag":
            flag = kept.flags.get(self.flag)
            if flag is None or flag.registry is None:
                self.missing = (
                    f"flag {self.flag!r} is not in the registry of project "
                    f"{session.project!r}; tenant state exists only for registry flags"
                )
                self.across = []
                return
            page = logic.across(flag, kept.tenants.values(), session.environment, self.page)
            self.flag_variants = list(flag.variants)
            self.across, self.total, self.page, self.pages = (
                page.rows,
                page.total,
                page.page,
                page.pages,
            )
        else:
            listed = logic.list_tenants(kept.tenants.values(), self.search, self.page)
            self.rows, self.total = listed.rows, listed.total
            self.page, self.pages = listed.page, listed.pages
            self.registry_flags = [f.key for f in logic.registry_flags(kept.flags.values())]

    @rx.event
    async def load(self) -> AsyncIterator[EventSpec | None]:
        session = await self.get_state(SessionState)
        if not session.project:
            return
        params = self.router.url.query_parameters
        self.tenant, self.flag = params.get("tenant", ""), params.get("flag", "")
        self.view = "tenant" if self.tenant else "flag" if self.flag else "list"
        self.search = params.get("search", "")[: logic.MAX_SEARCH_LENGTH]
        self.page = logic.parse_page(params.get("page"))
        self.values, self.across, self.rows, self.missing = [], [], [], ""
        yield await live.open_page(self._reload, TenantsState.follow)

    @rx.event(background=True)
    async def follow(self) -> None:
        await live.follow(self, self._reload)

    # -- the list ----------------------------------------------------------------------------

    @rx.event
    async def set_search(self, search: str) -> AsyncIterator[EventSpec | None]:
        self.search, self.page = search[: logic.MAX_SEARCH_LENGTH], 1
        try:
            await self._reload()
        except FFError as exc:
            yield rx.toast.error(exc.message)

    @rx.event
    async def go_to_page(self, page: int) -> AsyncIterator[EventSpec | None]:
        self.page = page
        try:
            await self._reload()
        except FFError as exc:
            yield rx.toast.error(exc.message)

    @rx.event
    def set_new(self, name: str, value: str) -> None:
        if name in ("new_key", "new_name"):
            setattr(self, name, value)

    @rx.event
    async def onboard(self) -> AsyncIterator[EventSpec | None]:
        session = await self.get_state(SessionState)
        key, name = self.new_key.strip(), self.new_name.strip()
        if not key:
            yield rx.toast.error("Give the tenant a key (the value of its tenant attribute)")
            return
        try:
            who = await grant(self, session.project, Role.EDITOR)
            tenant, created = await current().services.tenants.onboard(
                who.actor, session.project, key, name or None
            )
            await self._reload()
        except FFError as exc:
            yield rx.toast.error(exc.message, id="toast-tenant-refused")
            return
        self.new_key = self.new_name = ""
        if created:
            yield rx.toast.success(f"{tenant.key} is onboarded with the registry's defaults")
        else:
            yield rx.toast.info(
                f"{tenant.key} was already onboarded; nothing was written",
                id="toast-tenant-exists",
            )

    # -- overrides ---------------------------------------------------------------------------

    @rx.event
    async def set_override(
        self, tenant: str, flag: str, environment: str, variant: str
    ) -> AsyncIterator[EventSpec | None]:
        session = await self.get_state(SessionState)
        try:
            who = await grant(self, session.project, Role.EDITOR)
            await current().services.tenants.set_override(
                who.actor, session.project, tenant, flag, environment, variant
            )
            await self._reload()
        except FFError as exc:
            yield rx.toast.error(exc.message, id="toast-tenant-refused")
            return
        yield rx.toast.success(f"{tenant} gets {variant} of {flag} in {environment}")

    @rx.event
    async def clear_override(
        self, tenant: str, flag: str, environment: str
    ) -> AsyncIterator[EventSpec | None]:
        session = await self.get_state(SessionState)
        try:
            who = await grant(self, session.project, Role.EDITOR)
            await current().services.tenants.clear_override(
                who.actor, session.project, tenant, flag, environment
            )
            await self._reload()
        except FFError as exc:
            yield rx.toast.error(exc.message, id="toast-tenant-refused")
            return
        yield rx.toast.success(f"{tenant} gets what {flag} serves everyone in {environment} now")
