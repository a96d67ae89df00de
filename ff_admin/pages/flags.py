"""/flags: every flag of the project in one environment; toggles, filters, pages."""

from __future__ import annotations

import reflex as rx

from ff_admin.components import flag_bits
from ff_admin.components.shell import environment_switcher, layout
from ff_admin.state.flags import FlagsState
from ff_admin.state.session import SessionState

_SORTS = [("key", "Key"), ("name", "Name"), ("updated", "Last changed"), ("evaluations", "Usage")]


def _select(name: str, value: rx.Var[str], options: list[tuple[str, str]]) -> rx.Component:
    return rx.select.root(
        rx.select.trigger(id=f"filter-{name}"),
        rx.select.content(*[rx.select.item(label, value=v) for v, label in options]),
        value=value,
        on_change=lambda v: FlagsState.set_filter(name, v),
        size="2",
    )


def _filters() -> rx.Component:
    return rx.hstack(
        rx.input(
            rx.input.slot(rx.icon("search", size=14)),
            placeholder="Search key, name or tag",
            value=FlagsState.search,
            on_change=lambda v: FlagsState.set_filter("search", v),
            debounce_timeout=250,
            id="flag-search",
            width="16em",
        ),
        rx.select.root(
            rx.select.trigger(id="filter-tag"),
            rx.select.content(
                rx.select.item("All tags", value="all"),
                rx.foreach(FlagsState.tags, lambda t: rx.select.item(t, value=t)),
            ),
            value=FlagsState.tag,
            on_change=lambda v: FlagsState.set_filter("tag", v),
        ),
        _select(
            "kind",
            FlagsState.kind,
            [
                ("all", "All kinds"),
                ("release", "Release"),
                ("experiment", "Experiment"),
                ("ops", "Ops"),
                ("permission", "Permission"),
            ],
        ),
        _select(
            "status",
            FlagsState.status,
            [("all", "On and off"), ("enabled", "On"), ("disabled", "Off")],
        ),
        _select(
            "lifecycle",
            FlagsState.lifecycle,
            [
                ("all", "Active"),
                ("stale", "Stale"),
                ("temporary", "Temporary"),
                ("permanent", "Permanent"),
                ("archived", "Archived"),
            ],
        ),
        _select("sort", FlagsState.sort, _SORTS),
        rx.icon_button(
            rx.cond(
                FlagsState.descending,
                rx.icon("arrow-down-wide-narrow"),
                rx.icon("arrow-up-narrow-wide"),
            ),
            variant="soft",
            on_click=FlagsState.toggle_order,
            id="sort-order",
        ),
        wrap="wrap",
        spacing="2",
        width="100%",
    )


def _registry_badges(row: rx.Var) -> rx.Component:  # type: ignore[type-arg]
    """Registry marks of a flag row: serving its registry default here, an orphan, internal."""
    return rx.fragment(
        rx.cond(
            row.is_default,
            rx.tooltip(
                rx.badge("default", color_scheme="green", size="1", id="default-" + row.key),
                content="serves its registry default in this environment",
            ),
        ),
        rx.cond(
            row.orphan,
            rx.tooltip(
                rx.badge("orphan", color_scheme="red", size="1", id="orphan-" + row.key),
                content="stored, but not in the registry file: writes are refused",
            ),
        ),
        rx.cond(
            row.internal_only,
            rx.tooltip(
                rx.badge("internal", color_scheme="purple", size="1", id="internal-" + row.key),
                content="internal only: never sent to browsers",
            ),
        ),
    )


def _row(row: rx.Var) -> rx.Component:  # type: ignore[type-arg]
    detail = (
        "/flag?p=" + SessionState.project + "&key=" + row.key + "&env=" + SessionState.environment
    )
    return rx.table.row(
        rx.table.cell(
            rx.switch(
                checked=row.enabled,
                on_change=lambda v: FlagsState.toggle(row.key, v),
                # An orphan's writes are refused: it is not in the enforced registry.
                disabled=~SessionState.can_edit | row.orphan,
                id="toggle-" + row.key,
            )
        ),
        rx.table.cell(
            rx.vstack(
                rx.link(rx.text(row.key, weight="medium"), href=detail, id="flag-link-" + row.key),
                rx.text(row.name, size="1", color_scheme="gray"),
                spacing="0",
            )
        ),
        rx.table.cell(flag_bits.type_badge(row.value_type)),
        rx.table.cell(rx.text(row.kind, size="2")),
        rx.table.cell(flag_bits.rollout_bar(row)),
        rx.table.cell(rx.text(row.rule_count.to_string(), size="2"), class_name="rule-count"),
        rx.table.cell(flag_bits.usage_cell(row)),
        rx.table.cell(
            rx.hstack(
                _registry_badges(row),
                rx.cond(row.temporary, rx.badge("temporary", color_scheme="gray", size="1")),
                rx.foreach(row.tags, lambda t: rx.badge(t, variant="outline", size="1")),
                wrap="wrap",
                spacing="1",
            )
        ),
        id="row-" + row.key,
        class_name="flag-row",
        data_enabled=row.enabled.to_string(),
    )


def _table() -> rx.Component:
    return rx.table.root(
        rx.table.header(
            rx.table.row(
                *[
                    rx.table.column_header_cell(h)
                    for h in ("", "Flag", "Type", "Kind", "Serves", "Rules", "Usage", "Tags")
                ]
            )
        ),
        rx.table.body(rx.foreach(FlagsState.rows, _row)),
        width="100%",
        variant="surface",
        id="flags-table",
    )


def _pager() -> rx.Component:
    return rx.hstack(
        rx.text(FlagsState.total.to_string() + " flags", size="2", id="flag-total"),
        rx.spacer(),
        rx.button(
            "Previous",
            variant="soft",
            disabled=FlagsState.page <= 1,
            on_click=FlagsState.go_to_page(FlagsState.page - 1),
            id="page-prev",
        ),
        rx.text(
            "Page " + FlagsState.page.to_string() + " of " + FlagsState.pages.to_string(),
            size="2",
            id="page-of",
        ),
        rx.button(
            "Next",
            variant="soft",
            disabled=FlagsState.page >= FlagsState.pages,
            on_click=FlagsState.go_to_page(FlagsState.page + 1),
            id="page-next",
        ),
        width="100%",
        align="center",
    )


def flags_page() -> rx.Component:
    actions = rx.hstack(
        environment_switcher(),
        rx.cond(
            FlagsState.registry_enforced,
            rx.text(
                "This project's flags come from its registry file: ",
                rx.code("ff registry sync"),
                size="2",
                color_scheme="gray",
                id="registry-note",
            ),
            rx.cond(
                SessionState.can_edit,
                rx.link(
                    rx.button(rx.icon("plus", size=16), "New flag", id="new-flag"),
                    href="/flags/new?p=" + SessionState.project,
                ),
            ),
        ),
        spacing="2",
        align="center",
    )
    return layout("Flags", _filters(), _table(), _pager(), actions=actions)
