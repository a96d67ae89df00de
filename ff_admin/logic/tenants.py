"""The tenants page as pure functions of a project's flags and tenants.

Three views: the tenant list (search by key or name, paged), one tenant (every registry flag
in every environment) and one flag across tenants (one environment, paged). What a tenant
gets is ``ff_core``'s answer (the same function ``TenantService.view`` uses), so the page
and the API never disagree; this module only arranges it for display.

Statuses, as badges:
- ``overridden``: the tenant's own value, set by an override;
- ``explicit``: the tenant's own value, written from the registry default at onboarding;
- ``default``: nothing stored (a flag added to the registry after onboarding, or an
  override cleared): the tenant gets what the flag serves everyone.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from math import ceil

from ff_core.models import Flag, Tenant
from ff_core.services.tenants import TenantFlagValue, value_for
from ff_core.tenancy import orphaned

PAGE_SIZE = 50
# A search longer than any key or name cannot match: the URL is user-editable.
MAX_SEARCH_LENGTH = 200


@dataclass
class TenantRow:
    key: str
    name: str
    overrides: int
    updated_at: str


@dataclass
class TenantPage:
    rows: list[TenantRow]
    total: int
    page: int
    pages: int


@dataclass
class ValueCell:
    """One flag in one environment for one tenant."""

    flag: str
    environment: str
    variant: str
    value: str  # JSON text
    status: str  # overridden | explicit | default


@dataclass
class FlagValues:
    """One registry flag's row of a tenant's view: a cell per environment."""

    flag: str
    name: str
    variants: list[str]
    cells: list[ValueCell] = field(default_factory=list)


@dataclass
class TenantView:
    rows: list[FlagValues]
    # State for keys no longer in the registry: ignored on read, removed by a cleanup.
    orphaned: list[str]


@dataclass
class AcrossRow:
    tenant: str
    name: str
    variant: str
    value: str
    status: str


@dataclass
class AcrossPage:
    rows: list[AcrossRow]
    total: int
    page: int
    pages: int


def status(explicit: bool, overridden: bool) -> str:
    if overridden:
        return "overridden"
    return "explicit" if explicit else "default"


def registry_flags(flags: Iterable[Flag]) -> list[Flag]:
    """The flags tenants have state for: in the registry and not archived, by key."""
    return sorted(
        (f for f in flags if f.registry is not None and not f.archived), key=lambda f: f.key
    )


# -- the list ----------------------------------------------------------------------------------


def list_tenants(tenants: Iterable[Tenant], search: str, page: int) -> TenantPage:
    """Tenants whose key or name contains ``search`` (any case), by key, one page of them."""
    needle = search[:MAX_SEARCH_LENGTH].strip().lower()
    matched = sorted(
        (t for t in tenants if not needle or needle in t.key.lower() or needle in t.name.lower()),
        key=lambda t: t.key,
    )
    page, pages, start = _paged(len(matched), page)
    rows = [
        TenantRow(
            key=t.key,
            name=t.name,
            overrides=sum(v.overridden for values in t.state.values() for v in values.values()),
            updated_at=t.updated_at.isoformat() if t.updated_at is not None else "",
        )
        for t in matched[start : start + PAGE_SIZE]
    ]
    return TenantPage(rows, len(matched), page, pages)


# -- one tenant --------------------------------------------------------------------------------


def tenant_view(
    flags: Mapping[str, Flag], tenant: Tenant, environments: Sequence[str]
) -> TenantView:
    """Every registry flag of the project, a cell per environment, for ``tenant``."""
    rows = []
    for flag in registry_flags(flags.values()):
        cells = [_cell(value_for(flag, env, tenant)) for env in environments]
        rows.append(FlagValues(flag.key, flag.name, list(flag.variants), cells))
    return TenantView(rows, orphaned(flags, tenant))


def _cell(value: TenantFlagValue) -> ValueCell:
    return ValueCell(
        flag=value.flag,
        environment=value.environment,
        variant=value.variant,
        value=json.dumps(value.value),
        status=status(value.explicit, value.overridden),
    )


# -- one flag across tenants -------------------------------------------------------------------


def across(flag: Flag, tenants: Iterable[Tenant], environment: str, page: int) -> AcrossPage:
    """What each tenant gets of ``flag`` in ``environment``, by tenant key, one page."""
    ordered = sorted(tenants, key=lambda t: t.key)
    page, pages, start = _paged(len(ordered), page)
    rows = []
    for tenant in ordered[start : start + PAGE_SIZE]:
        value = value_for(flag, environment, tenant)
        rows.append(
            AcrossRow(
                tenant.key,
                tenant.name,
                value.variant,
                json.dumps(value.value),
                status(value.explicit, value.overridden),
            )
        )
    return AcrossPage(rows, len(ordered), page, pages)


def _paged(total: int, page: int) -> tuple[int, int, int]:
    """The page actually shown (clamped), the number of pages, the first row's index."""
    pages = max(1, ceil(total / PAGE_SIZE))
    page = min(max(1, page), pages)
    return page, pages, (page - 1) * PAGE_SIZE


def parse_page(raw: str | None) -> int:
    """A page number from the URL; anything else is page 1."""
    raw = (raw or "").strip()
    # Bounded: int() of a huge digit string is slow, and no page is that far.
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9:
        return 1
    return max(1, int(raw))
