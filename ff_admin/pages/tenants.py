"""/tenants: the tenants of a project and onboarding (``?p=``), one tenant's value of every
registry flag in every environment (``&tenant=``), one flag across tenants (``&flag=``)."""

from __future__ import annotations

import reflex as rx

from ff_admin.components.shell import environment_switcher, layout
from ff_admin.state.session import SessionState
from ff_admin.state.tenants import TenantsState as S

_STATUS_COLOURS = {"overridden": "amber", "explicit": "green", "default": "gray"}
_STATUS_HINTS = {
    "overridden": "set for this tenant by an override",
    "explicit": "stored for this tenant when it was onboarded",
    "default": "nothing stored: what the flag serves everyone",
}


def _status(status: rx.Var[str]) -> rx.Component:
    return rx.tooltip(
        rx.badge(
            status,
            color_scheme=rx.match(status, *_STATUS_COLOURS.items(), "gray"),
            variant="soft",
            size="1",
            class_name="tenant-status",
        ),
        content=rx.match(status, *_STATUS_HINTS.items(), ""),
    )


def _variant_select(
    value: rx.Var[str],
    variants: rx.Var[list[str]],
    tenant: rx.Var[str] | str,
    flag: rx.Var[str] | str,
    env: rx.Var[str] | str,
    id: rx.Var[str],
) -> rx.Component:
    return rx.select.root(
        rx.select.trigger(id=id, min_width="7em"),
        rx.select.content(rx.foreach(variants, lambda v: rx.select.item(v, value=v))),
        value=value,
        on_change=lambda v: S.set_override(tenant, flag, env, v),
        disabled=~SessionState.can_edit,
        size="1",
    )


def _clear(
    status: rx.Var[str],
    tenant: rx.Var[str] | str,
    flag: rx.Var[str] | str,
    env: rx.Var[str] | str,
    id: rx.Var[str],
) -> rx.Component:
    return rx.cond(
        SessionState.can_edit & (status == "overridden"),
        rx.tooltip(
            rx.icon_button(
                rx.icon("undo-2", size=14),
                on_click=S.clear_override(tenant, flag, env),
                variant="ghost",
                size="1",
                id=id,
                aria_label="Clear the override",
            ),
            content="Clear the override: the tenant gets what the flag serves everyone",
        ),
    )


def _pager() -> rx.Component:
    return rx.hstack(
        rx.text(S.total.to_string() + " tenants", size="2", id="tenant-total"),
        rx.spacer(),
        rx.button(
            "Previous",
            variant="soft",
            disabled=S.page <= 1,
            on_click=S.go_to_page(S.page - 1),
            id="tenants-prev",
        ),
        rx.text("Page " + S.page.to_string() + " of " + S.pages.to_string(), size="2"),
        rx.button(
            "Next",
            variant="soft",
            disabled=S.page >= S.pages,
            on_click=S.go_to_page(S.page + 1),
            id="tenants-next",
        ),
        width="100%",
        align="center",
    )


def _back() -> rx.Component:
    return rx.link(
        rx.button(rx.icon("arrow-left", size=14), "Tenants", variant="soft", id="tenants-back"),
        href="/tenants?p=" + SessionState.project,
    )


# -- the list ----------------------------------------------------------------------------------


def _onboard_form() -> rx.Component:
    return rx.card(
        rx.form(
            rx.hstack(
                rx.input(
                    placeholder="tenant key (e.g. acme)",
                    value=S.new_key,
                    on_change=lambda v: S.set_new("new_key", v),
                    id="onboard-key",
                    width="14em",
                ),
                rx.input(
                    placeholder="name (optional)",
                    value=S.new_name,
                    on_change=lambda v: S.set_new("new_name", v),
                    id="onboard-name",
                    width="16em",
                ),
                rx.button(rx.icon("plus", size=14), "Onboard", type="submit", id="onboard-submit"),
                align="center",
                wrap="wrap",
                spacing="2",
            ),
            on_submit=lambda _: S.onboard(),
        ),
        rx.text(
            "Onboarding stores every registry flag's current default for the tenant, so a "
            "default changed later never flips it. Onboarding it again writes nothing.",
            size="1",
            color_scheme="gray",
            margin_top="0.5em",
        ),
        width="100%",
    )


def _tenant_row(row: rx.Var) -> rx.Component:  # type: ignore[type-arg]
    href = "/tenants?p=" + SessionState.project + "&tenant=" + row.key
    return rx.table.row(
        rx.table.cell(
            rx.link(rx.text(row.key, weight="medium"), href=href, id="tenant-link-" + row.key)
        ),
        rx.table.cell(rx.text(row.name, size="2")),
        rx.table.cell(rx.text(row.overrides.to_string(), size="2"), class_name="tenant-overrides"),
        rx.table.cell(
            rx.cond(row.updated_at != "", rx.moment(row.updated_at, from_now=True, size="1"))
        ),
        id="tenant-row-" + row.key,
        class_name="tenant-row",
    )


def _flag_picker() -> rx.Component:
    return rx.select.root(
        rx.select.trigger(placeholder="One flag across tenants…", id="across-flag"),
        rx.select.content(rx.foreach(S.registry_flags, lambda k: rx.select.item(k, value=k))),
        on_change=lambda k: rx.redirect(
            "/tenants?p=" + SessionState.project + "&flag=" + k + "&env=" + SessionState.environment
        ),
    )


def _list() -> rx.Component:
    return rx.vstack(
        rx.cond(SessionState.can_edit, _onboard_form()),
        rx.hstack(
            rx.input(
                rx.input.slot(rx.icon("search", size=14)),
                placeholder="Search key or name",
                value=S.search,
                on_change=S.set_search,
                debounce_timeout=250,
                id="tenant-search",
                width="16em",
            ),
            rx.spacer(),
            _flag_picker(),
            width="100%",
            align="center",
        ),
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    *[
                        rx.table.column_header_cell(h)
                        for h in ("Tenant", "Name", "Overrides", "Changed")
                    ]
                )
            ),
            rx.table.body(rx.foreach(S.rows, _tenant_row)),
            width="100%",
            variant="surface",
            id="tenants-table",
        ),
        _pager(),
        spacing="4",
        width="100%",
    )


# -- one tenant --------------------------------------------------------------------------------


def _cell(row: rx.Var, cell: rx.Var) -> rx.Component:  # type: ignore[type-arg]
    ids = cell.flag + "-" + cell.environment
    return rx.table.cell(
        rx.hstack(
            _variant_select(
                cell.variant, row.variants, S.tenant, cell.flag, cell.environment, "override-" + ids
            ),
            _status(cell.status),
            _clear(cell.status, S.tenant, cell.flag, cell.environment, "clear-" + ids),
            spacing="2",
            align="center",
        ),
        id="value-" + ids,
        data_status=cell.status,
        data_variant=cell.variant,
    )


def _flag_values(row: rx.Var) -> rx.Component:  # type: ignore[type-arg]
    detail = "/flag?p=" + SessionState.project + "&key=" + row.flag
    return rx.table.row(
        rx.table.cell(
            rx.vstack(
                rx.link(rx.text(row.flag, weight="medium"), href=detail),
                rx.text(row.name, size="1", color_scheme="gray"),
                spacing="0",
            )
        ),
        rx.foreach(row.cells, lambda cell: _cell(row, cell)),
        id="tenant-flag-" + row.flag,
    )


def _tenant() -> rx.Component:
    return rx.vstack(
        rx.hstack(
            rx.code(S.tenant, size="4", id="tenant-key"),
            rx.heading(S.tenant_name, size="5", id="tenant-name"),
            align="center",
            spacing="3",
        ),
        rx.cond(
            S.orphaned.length() > 0,
            rx.callout(
                "State for flags no longer in the registry is ignored: "
                + S.orphaned.join(", ")
                + ". `ff tenants cleanup` removes it.",
                icon="info",
                color_scheme="gray",
                id="tenant-orphaned",
            ),
        ),
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    rx.table.column_header_cell("Flag"),
                    rx.foreach(SessionState.environments, lambda e: rx.table.column_header_cell(e)),
                )
            ),
            rx.table.body(rx.foreach(S.values, _flag_values)),
            width="100%",
            variant="surface",
            id="tenant-values",
        ),
        spacing="4",
        width="100%",
    )


# -- one flag across tenants -------------------------------------------------------------------


def _across_row(row: rx.Var) -> rx.Component:  # type: ignore[type-arg]
    href = "/tenants?p=" + SessionState.project + "&tenant=" + row.tenant
    return rx.table.row(
        rx.table.cell(rx.link(rx.text(row.tenant, weight="medium"), href=href)),
        rx.table.cell(rx.text(row.name, size="2")),
        rx.table.cell(
            rx.hstack(
                _variant_select(
                    row.variant,
                    S.flag_variants,
                    row.tenant,
                    S.flag,
                    SessionState.environment,
                    "across-override-" + row.tenant,
                ),
                _status(row.status),
                _clear(
                    row.status,
                    row.tenant,
                    S.flag,
                    SessionState.environment,
                    "across-clear-" + row.tenant,
                ),
                spacing="2",
                align="center",
            )
        ),
        rx.table.cell(rx.code(row.value, size="1")),
        id="across-row-" + row.tenant,
        class_name="across-row",
        data_status=row.status,
        data_variant=row.variant,
    )


def _flag() -> rx.Component:
    detail = (
        "/flag?p=" + SessionState.project + "&key=" + S.flag + "&env=" + SessionState.environment
    )
    return rx.vstack(
        rx.hstack(
            rx.link(rx.code(S.flag, size="4", id="across-flag-key"), href=detail),
            rx.text(
                "in " + SessionState.environment + ", for each tenant",
                size="2",
                color_scheme="gray",
            ),
            align="center",
            spacing="3",
        ),
        rx.table.root(
            rx.table.header(
                rx.table.row(
                    *[
                        rx.table.column_header_cell(h)
                        for h in ("Tenant", "Name", "Variant", "Value")
                    ]
                )
            ),
            rx.table.body(rx.foreach(S.across, _across_row)),
            width="100%",
            variant="surface",
            id="across-table",
        ),
        _pager(),
        spacing="4",
        width="100%",
    )


def tenants_page() -> rx.Component:
    body = rx.cond(
        S.missing != "",
        rx.callout(S.missing, icon="circle-alert", color_scheme="red", id="tenants-missing"),
        rx.match(S.view, ("tenant", _tenant()), ("flag", _flag()), _list()),
    )
    actions = rx.hstack(
        rx.cond(S.view != "list", _back()),
        rx.cond(S.view == "flag", environment_switcher()),
        spacing="2",
    )
    return layout("Tenants", body, actions=actions)
