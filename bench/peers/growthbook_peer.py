"""GrowthBook (``growthbook``): a features dict given to the client, no API host.

A force rule on the condition ``{country: {$in: [US, CA]}, plan: pro}``, then a force
rule with ``coverage`` 0.25 hashed on ``id`` (GrowthBook's percentage rollout). One
``GrowthBook`` instance is reused; each call sets the context's attributes and asks
``is_on`` (cheaper than a new instance per request, which GrowthBook's docs also show).
"""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path
from typing import Any

from growthbook import GrowthBook

from peers import FLAG_KEY, Logic, Peer


def features(logic: Logic) -> dict[str, Any]:
    return {
        FLAG_KEY: {
            "defaultValue": False,
            "rules": [
                {
                    "id": "na-pro",
                    "condition": {"country": {"$in": list(logic.countries)}, "plan": logic.plan},
                    "force": True,
                },
                {
                    "id": "rollout",
                    "force": True,
                    "coverage": logic.rollout_percent / 100,
                    "hashAttribute": "id",
                },
            ],
        }
    }


def build(logic: Logic, directory: Path) -> Peer:
    gb = GrowthBook(features=features(logic))

    def native(ctx: dict[str, Any]) -> dict[str, Any]:
        return {"id": ctx["targeting_key"], "country": ctx["country"], "plan": ctx["plan"]}

    def is_on(attributes: dict[str, Any]) -> bool:
        gb.set_attributes(attributes)
        return gb.is_on(FLAG_KEY)

    def batch(natives: list[dict[str, Any]]) -> None:
        set_attributes, is_on = gb.set_attributes, gb.is_on
        for attributes in natives:
            set_attributes(attributes)
            is_on(FLAG_KEY)

    return Peer(
        name="GrowthBook",
        package="growthbook",
        version=version("growthbook"),
        call="gb.set_attributes(attrs); gb.is_on(key)",
        native=native,
        is_on=is_on,
        batch=batch,
        close=gb.destroy,
    )
