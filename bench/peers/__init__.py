"""Established Python SDKs set up to evaluate the representative flag fully offline.

Each module builds one peer from the same logic (``Logic``, read from
``ff_core.demo.representative_config`` so the peers cannot drift from ff's flag): a
rule ``country in [US, CA] AND plan == pro`` serving true, otherwise a rollout of
``rollout_percent`` % by the targeting key. A peer's ``native`` turns one of the
benchmark's contexts into the SDK's own context type (done before timing, in its
favour); ``batch`` is the timed loop, calling the SDK's own method directly (no wrapper
per call, as ff's engine is timed); ``is_on`` is the same call for the agreement check.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ff_core.demo import representative_config
from ff_core.models import Operator

FLAG_KEY = "new-checkout"


@dataclass(frozen=True)
class Logic:
    countries: tuple[str, ...]
    plan: str
    rollout_percent: float


@dataclass(frozen=True)
class Peer:
    name: str
    package: str
    version: str
    call: str  # the timed call, as the report shows it
    native: Callable[[dict[str, Any]], Any]
    is_on: Callable[[Any], bool]
    batch: Callable[[list[Any]], None]
    close: Callable[[], None]


def representative_logic(rollout_percent: float | None = None) -> Logic:
    """The representative flag's logic, checked to be the shape every peer reproduces."""
    config = representative_config()
    (rule,) = config.rules
    country, plan = rule.clauses
    rollout = config.fallthrough.rollout
    if (
        country.attribute != "country"
        or country.operator is not Operator.IN
        or plan.attribute != "plan"
        or plan.operator is not Operator.EQ
        or len(plan.values) != 1
        or rule.serve.variant != "on"
        or rollout is None
        or rollout.bucket_by != "targeting_key"
        or rollout.variants[0].variant != "on"
    ):
        raise SystemExit(
            "ff_core.demo.representative_config changed shape: update bench/peers to match it"
        )
    share = rollout.variants[0].weight / 1000
    return Logic(
        countries=tuple(str(v) for v in country.values),
        plan=str(plan.values[0]),
        rollout_percent=share if rollout_percent is None else rollout_percent,
    )
