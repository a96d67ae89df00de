"""Unleash (``UnleashClient``) bootstrapped from a features document, never fetching.

Two ``flexibleRollout`` strategies (a toggle is on when any strategy is): 100 % with
the constraints ``country IN [US, CA]`` and ``plan IN [pro]``, and 25 % sticky on
``userId``. The cache is a ``FileCache`` in the run's temporary folder, bootstrapped from
the document; ``initialize_client(fetch_toggles=False)`` with registration and metrics
off, so the client only reads its cache. Evaluation runs in Unleash's Rust engine
(yggdrasil) behind the Python client.
"""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path
from typing import Any

from UnleashClient.cache import FileCache
from UnleashClient.clients.unleash_client import UnleashClient
from UnleashClient.utils import InstanceAllowType

from peers import FLAG_KEY, Logic, Peer


def features(logic: Logic) -> dict[str, Any]:
    def rollout(percent: float, constraints: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "name": "flexibleRollout",
            "parameters": {"rollout": f"{percent:g}", "stickiness": "userId", "groupId": FLAG_KEY},
            "constraints": constraints,
        }

    return {
        "version": 1,
        "features": [
            {
                "name": FLAG_KEY,
                "type": "release",
                "enabled": True,
                "strategies": [
                    rollout(
                        100,
                        [
                            {
                                "contextName": "country",
                                "operator": "IN",
                                "values": list(logic.countries),
                            },
                            {"contextName": "plan", "operator": "IN", "values": [logic.plan]},
                        ],
                    ),
                    rollout(logic.rollout_percent, []),
                ],
            }
        ],
    }


def build(logic: Logic, directory: Path) -> Peer:
    cache = FileCache("ff-bench", directory=str(directory / "unleash-cache"))
    cache.bootstrap_from_dict(features(logic))
    client = UnleashClient(
        url="http://127.0.0.1:9/unleash",  # never contacted: no fetch, registration or metrics
        app_name="ff-bench",
        disable_metrics=True,
        disable_registration=True,
        cache=cache,
        refresh_interval=3600,
        # the agreement check builds a second client (0 % and 25 %) in the same process
        multiple_instance_mode=InstanceAllowType.SILENTLY_ALLOW,
    )
    client.initialize_client(fetch_toggles=False)

    def native(ctx: dict[str, Any]) -> dict[str, Any]:
        return {
            "userId": ctx["targeting_key"],
            "properties": {"country": ctx["country"], "plan": ctx["plan"]},
        }

    def is_on(context: dict[str, Any]) -> bool:
        return client.is_enabled(FLAG_KEY, context)

    def batch(natives: list[dict[str, Any]]) -> None:
        is_enabled = client.is_enabled
        for context in natives:
            is_enabled(FLAG_KEY, context)

    return Peer(
        name="Unleash (bootstrapped)",
        package="UnleashClient",
        version=version("UnleashClient"),
        call="client.is_enabled(key, context)",
        native=native,
        is_on=is_on,
        batch=batch,
        close=client.destroy,
    )
