"""The flags list: one row per flag for the selected environment, then search, filter, sort, page.

``build_rows`` runs once per load (or change); ``query`` runs on every keystroke, so both
stay linear and allocate little: about 10,000 flags is the size to keep fast
(``bench/admin_list_bench.py``).

Decisions:
- Archived flags are hidden unless ``lifecycle == "archived"``, which shows only them: an
  archived flag is out of the way on purpose, and every other view is about live flags.
- ``rollout`` of a disabled environment is its off variant at 100 %: what it serves now.
- ``stale`` is about the whole flag, as a clean-up candidate: no evaluation in any
  environment for ``STALE_AFTER_DAYS`` days, or never evaluated and created more than that
  long ago (a flag created yesterday is not stale yet; one without ``created_at`` is).
  ``last_evaluated`` and ``recent_count`` are the selected environment's.
- Registry (DESIGN 2): ``is_default`` when a registry flag serves its registry default in the
  selected environment (``ff_core.registry.is_default``); ``orphan`` when a project whose
  registry is enforced stores a flag its registry no longer lists: writes to it are refused.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from math import ceil

from ff_core import limits, registry
from ff_core.evaluation import default_environment_config
from ff_core.models import EnvironmentConfig, Flag, FlagKind, FlagUsage
from ff_core.models.usage import STALE_AFTER_DAYS

STATUSES = ("all", "enabled", "disabled")
LIFECYCLES = ("all", "stale", "temporary", "permanent", "archived")
SORTS = ("key", "name", "updated", "evaluations")
KINDS = tuple(kind.value for kind in FlagKind)
DEFAULT_PAGE_SIZE = 50
MIN_PAGE_SIZE = 10
MAX_PAGE_SIZE = 200
# A search longer than any key, name or tag cannot match: the URL is user-editable.
MAX_SEARCH_LENGTH = 200

_TRUE = frozenset({"1", "true", "yes", "on"})


@dataclass
class RolloutSlice:
    variant: str
    percent: float


@dataclass
class FlagRow:
    key: str
    name: str
    kind: str
    value_type: str
    tags: list[str]
    enabled: bool
    config_version: int
    flag_version: int
    rule_count: int
    target_count: int
    rollout: list[RolloutSlice]
    temporary: bool
    archived: bool
    stale: bool
    last_evaluated: str
    recent_count: int
    updated_at: str
    in_registry: bool = False
    is_default: bool = False
    orphan: bool = False
    internal_only: bool = False


@dataclass
class FlagQuery:
    search: str = ""
    tag: str = ""
    kind: str = ""
    status: str = "all"
    lifecycle: str = "all"
    sort: str = "key"
    descending: bool = False
    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE


@dataclass
class FlagPage:
    rows: list[FlagRow]
    total: int
    page: int
    pages: int
    tags: list[str] = field(default_factory=list)


# -- rows --------------------------------------------------------------------------------------


def build_rows(
    flags: Iterable[Flag],
    environment: str,
    usage: Mapping[str, FlagUsage],
    now: datetime,
    *,
    enforced: bool = False,
) -> list[FlagRow]:
    """One row per flag, as seen in ``environment``; ``usage`` is keyed by flag key;
    ``enforced``: the project's registry is enforced."""
    return [_row(flag, environment, usage.get(flag.key), now, enforced) for flag in flags]


def _row(
    flag: Flag, environment: str, usage: FlagUsage | None, now: datetime, enforced: bool
) -> FlagRow:
    config = flag.environments.get(environment) or default_environment_config(flag)
    env_usage = usage.environments.get(environment) if usage is not None else None
    return FlagRow(
        key=flag.key,
        name=flag.name,
        # ``_value_`` rather than ``.value``: the enum property costs ~0.5 µs a row.
        kind=flag.kind._value_,
        value_type=flag.value_type._value_,
        tags=list(flag.tags),
        enabled=config.enabled,
        config_version=config.version,
        flag_version=flag.version,
        rule_count=len(config.rules),
        target_count=len(config.targets),
        rollout=served(config),
        temporary=flag.temporary,
        archived=flag.archived,
        stale=is_stale(flag, usage, now),
        last_evaluated=iso(env_usage.last_evaluated) if env_usage is not None else "",
        recent_count=env_usage.recent if env_usage is not None else 0,
        updated_at=iso(flag.updated_at),
        in_registry=flag.registry is not None,
        is_default=flag.registry is not None and registry.is_default(flag, environment),
        orphan=enforced and flag.registry is None,
        internal_only=flag.internal_only,
    )


def served(config: EnvironmentConfig) -> list[RolloutSlice]:
    """What the config serves when no target or rule matches."""
    if not config.enabled:
        return [RolloutSlice(config.off_variant, 100.0)]
    rollout = config.fallthrough.rollout
    if rollout is None:
        assert config.fallthrough.variant is not None
        return [RolloutSlice(config.fallthrough.variant, 100.0)]
    scale = 100 / limits.ROLLOUT_TOTAL
    return [RolloutSlice(w.variant, w.weight * scale) for w in rollout.variants]


def is_stale(flag: Flag, usage: FlagUsage | None, now: datetime) -> bool:
    grace = timedelta(days=STALE_AFTER_DAYS)
    last = usage.last_evaluated if usage is not None else None
    if last is not None:
        return _aware(now) - _aware(last) > grace
    return flag.created_at is None or _aware(now) - _aware(flag.created_at) > grace


def iso(at: datetime | None) -> str:
    """UTC, fixed width (milliseconds), so that ISO strings sort as the instants do."""
    if at is None:
        return ""
    if at.tzinfo is not UTC:
        at = _aware(at).astimezone(UTC)
    return at.isoformat(timespec="milliseconds")


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


# -- query -------------------------------------------------------------------------------------


def query(rows: Sequence[FlagRow], q: FlagQuery) -> FlagPage:
    q = normalised(q)
    needle = q.search.strip().lower()
    archived = q.lifecycle == "archived"
    matched = [
        row
        for row in rows
        if row.archived is archived
        and (not q.kind or row.kind == q.kind)
        and (not q.tag or q.tag in row.tags)
        and (q.status == "all" or row.enabled is (q.status == "enabled"))
        and _in_lifecycle(row, q.lifecycle)
        and (not needle or _found(row, needle))
    ]
    _sort(matched, q.sort, q.descending)
    total = len(matched)
    pages = max(1, ceil(total / q.page_size))
    page = min(q.page, pages)
    start = (page - 1) * q.page_size
    return FlagPage(
        rows=matched[start : start + q.page_size],
        total=total,
        page=page,
        pages=pages,
        tags=sorted({tag for row in rows for tag in row.tags}),
    )


def _in_lifecycle(row: FlagRow, lifecycle: str) -> bool:
    if lifecycle == "stale":
        return row.stale
    if lifecycle == "temporary":
        return row.temporary
    if lifecycle == "permanent":
        return not row.temporary
    return True


def _found(row: FlagRow, needle: str) -> bool:
    return (
        needle in row.key
        or needle in row.name.lower()
        or any(needle in tag.lower() for tag in row.tags)
    )


def _sort(rows: list[FlagRow], sort: str, descending: bool) -> None:
    """In place; ties stay in ascending key order whichever the direction."""
    rows.sort(key=lambda r: r.key)
    if sort == "name":
        rows.sort(key=lambda r: r.name.lower(), reverse=descending)
    elif sort == "updated":
        rows.sort(key=lambda r: r.updated_at, reverse=descending)
    elif sort == "evaluations":
        rows.sort(key=lambda r: r.recent_count, reverse=descending)
    elif descending:
        rows.reverse()


def normalised(q: FlagQuery) -> FlagQuery:
    """``q`` with every out-of-range value replaced by its default (the page size clamped)."""
    default = FlagQuery()
    return FlagQuery(
        search=q.search[:MAX_SEARCH_LENGTH],
        tag=q.tag,
        kind=q.kind if q.kind in KINDS else default.kind,
        status=q.status if q.status in STATUSES else default.status,
        lifecycle=q.lifecycle if q.lifecycle in LIFECYCLES else default.lifecycle,
        sort=q.sort if q.sort in SORTS else default.sort,
        descending=q.descending,
        page=max(1, q.page),
        page_size=min(MAX_PAGE_SIZE, max(MIN_PAGE_SIZE, q.page_size)),
    )


# -- the URL -----------------------------------------------------------------------------------


def parse_query(params: Mapping[str, str]) -> FlagQuery:
    """A query from URL parameters named like ``FlagQuery``'s fields; bad values are defaults.

    ``descending`` is true for ``1``, ``true``, ``yes`` or ``on``.
    """
    default = FlagQuery()
    return normalised(
        FlagQuery(
            search=params.get("search", default.search),
            tag=params.get("tag", default.tag),
            kind=params.get("kind", default.kind),
            status=params.get("status", default.status),
            lifecycle=params.get("lifecycle", default.lifecycle),
            sort=params.get("sort", default.sort),
            descending=params.get("descending", "").strip().lower() in _TRUE,
            page=_int(params.get("page"), default.page),
            page_size=_int(params.get("page_size"), default.page_size),
        )
    )


def to_params(q: FlagQuery) -> dict[str, str]:
    """URL parameters for ``q``, defaults left out (the plain list is a bare URL)."""
    q = normalised(q)
    default = dataclasses.asdict(FlagQuery())
    params: dict[str, str] = {}
    for name, value in dataclasses.asdict(q).items():
        if value == default[name]:
            continue
        params[name] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return params


def _int(raw: str | None, fallback: int) -> int:
    if raw is None:
        return fallback
    raw = raw.strip()
    # Bounded: int() of a huge digit string is slow, and no page is that far.
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 9:
        return fallback
    return int(raw)
