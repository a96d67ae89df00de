"""How much each flag is used: evaluation counts per environment, for the dashboard.

The API aggregates counts in memory and writes one update per flag about once a minute
(``Store.record_usage``). A flag is *stale* in an environment when nobody evaluated it
there for ``STALE_AFTER_DAYS`` days (or ever): a candidate for clean-up.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Final

from pydantic import AwareDatetime, Field

from ff_core.models._base import Model

# Daily counts are kept for this many days (today included); older days are dropped.
USAGE_WINDOW_DAYS: Final = 30
STALE_AFTER_DAYS: Final = 7


class UsageDelta(Model):
    """Evaluations of one flag in one environment since the last write, and the latest one."""

    count: int = Field(ge=0)
    last: AwareDatetime


class EnvironmentUsage(Model):
    # Every evaluation ever recorded (while the usage item lives; see the store).
    total: int = Field(default=0, ge=0)
    last_evaluated: datetime | None = None
    # UTC day -> evaluations, for the last USAGE_WINDOW_DAYS days; days without any are absent.
    daily: dict[date, int] = Field(default_factory=dict)
    # The sum of ``daily``.
    recent: int = Field(default=0, ge=0)
    stale: bool = True

    @classmethod
    def build(
        cls, total: int, last: datetime | None, daily: Mapping[date, int], now: datetime
    ) -> EnvironmentUsage:
        """As of ``now``: days outside the window left out, staleness decided."""
        first = window_start(now)
        kept = {day: n for day, n in sorted(daily.items()) if day >= first and n > 0}
        return cls(
            total=total,
            last_evaluated=last,
            daily=kept,
            recent=sum(kept.values()),
            stale=is_stale(last, now),
        )


class FlagUsage(Model):
    project: str
    flag: str
    environments: dict[str, EnvironmentUsage] = Field(default_factory=dict)
    # The latest evaluation in any environment; None: never evaluated (or not for a year).
    last_evaluated: datetime | None = None
    # Stale in every environment.
    stale: bool = True

    @classmethod
    def build(
        cls, project: str, flag: str, environments: Mapping[str, EnvironmentUsage]
    ) -> FlagUsage:
        lasts = [e.last_evaluated for e in environments.values() if e.last_evaluated is not None]
        return cls(
            project=project,
            flag=flag,
            environments=dict(sorted(environments.items())),
            last_evaluated=max(lasts, default=None),
            stale=all(e.stale for e in environments.values()),
        )


def window_start(now: datetime) -> date:
    """The first UTC day whose count is still kept."""
    return now.astimezone(UTC).date() - timedelta(days=USAGE_WINDOW_DAYS - 1)


def is_stale(last: datetime | None, now: datetime) -> bool:
    return last is None or now - last > timedelta(days=STALE_AFTER_DAYS)
