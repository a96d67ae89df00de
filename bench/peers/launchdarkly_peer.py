"""LaunchDarkly (``launchdarkly-server-sdk``) with a file data source and no events.

The flag in LaunchDarkly's own flag format: on, one rule (``country in [US, CA]`` and
``plan in [pro]``) serving variation 0 (true), the fallthrough a rollout of 25,000 /
75,000 (LaunchDarkly's weights are in thousandths of a percent, like ff's) bucketed by
the context key. ``send_events=False`` and ``diagnostic_opt_out=True``: nothing is sent.
"""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path
from typing import Any

from ldclient import Context, LDClient
from ldclient.config import Config
from ldclient.integrations import Files

from peers import FLAG_KEY, Logic, Peer


def flag(logic: Logic) -> dict[str, Any]:
    on_weight = round(logic.rollout_percent * 1000)
    return {
        "key": FLAG_KEY,
        "version": 1,
        "on": True,
        "variations": [True, False],
        "offVariation": 1,
        "salt": "demo",
        "targets": [],
        "prerequisites": [],
        "rules": [
            {
                "id": "na-pro",
                "clauses": [
                    {"attribute": "country", "op": "in", "values": list(logic.countries)},
                    {"attribute": "plan", "op": "in", "values": [logic.plan]},
                ],
                "variation": 0,
            }
        ],
        "fallthrough": {
            "rollout": {
                "variations": [
                    {"variation": 0, "weight": on_weight},
                    {"variation": 1, "weight": 100_000 - on_weight},
                ]
            }
        },
    }


def build(logic: Logic, directory: Path) -> Peer:
    path = directory / "launchdarkly-flags.json"
    path.write_text(json.dumps({"flags": {FLAG_KEY: flag(logic)}}))
    config = Config(
        sdk_key="bench-offline",
        update_processor_class=Files.new_data_source(paths=[str(path)]),
        send_events=False,
        diagnostic_opt_out=True,
    )
    client = LDClient(config=config)
    if not client.is_initialized():
        raise SystemExit(f"LaunchDarkly: the file data source did not load {path}")

    def native(ctx: dict[str, Any]) -> Context:
        return (
            Context.builder(ctx["targeting_key"])
            .set("country", ctx["country"])
            .set("plan", ctx["plan"])
            .build()
        )

    def is_on(context: Context) -> bool:
        return client.variation(FLAG_KEY, context, False) is True

    def batch(natives: list[Context]) -> None:
        variation = client.variation
        for context in natives:
            variation(FLAG_KEY, context, False)

    return Peer(
        name="LaunchDarkly (file data source)",
        package="launchdarkly-server-sdk",
        version=version("launchdarkly-server-sdk"),
        call="client.variation(key, context, False)",
        native=native,
        is_on=is_on,
        batch=batch,
        close=client.close,
    )
