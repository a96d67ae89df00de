"""Flagsmith (``flagsmith``) in offline mode: an environment document read from a file.

The feature is off in the environment; a segment ``na-pro`` (``country IN US,CA`` and
``plan EQUAL pro``) overrides it to on with priority 0, and a segment ``rollout``
(``PERCENTAGE_SPLIT`` of 25 on the identity) overrides it to on with priority 1: the
way a boolean's percentage rollout is written in Flagsmith. Each call asks for the
identity's flags (``get_identity_flags``, evaluated lazily per feature) and reads one.
"""

from __future__ import annotations

import json
from importlib.metadata import version
from pathlib import Path
from typing import Any

from flagsmith import Flagsmith
from flagsmith.offline_handlers import LocalFileHandler

from peers import FLAG_KEY, Logic, Peer

FEATURE = {"id": 1, "name": FLAG_KEY}


def feature_state(uuid: str, enabled: bool, priority: int | None = None) -> dict[str, Any]:
    state: dict[str, Any] = {
        "enabled": enabled,
        "feature": FEATURE,
        "feature_state_value": None,
        "featurestate_uuid": uuid,
        "multivariate_feature_state_values": [],
    }
    if priority is not None:
        state["feature_segment"] = {"priority": priority}
    return state


def segment(segment_id: int, name: str, conditions: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "id": segment_id,
        "name": name,
        "rules": [
            {
                "type": "ALL",
                "conditions": [],
                "rules": [{"type": "ALL", "conditions": conditions, "rules": []}],
            }
        ],
        "feature_states": [
            feature_state(f"00000000-0000-0000-0000-00000000000{segment_id}", True, segment_id)
        ],
    }


def environment_document(logic: Logic) -> dict[str, Any]:
    return {
        "api_key": "bench-offline",
        "name": "production",
        "updated_at": "2026-11-21T00:00:00+00:00",
        "identity_overrides": [],
        "feature_states": [feature_state("00000000-0000-0000-0000-000000000000", False)],
        "project": {
            "segments": [
                segment(
                    0,
                    "na-pro",
                    [
                        {
                            "operator": "IN",
                            "property_": "country",
                            "value": ",".join(logic.countries),
                        },
                        {"operator": "EQUAL", "property_": "plan", "value": logic.plan},
                    ],
                ),
                segment(
                    1,
                    "rollout",
                    [
                        {
                            "operator": "PERCENTAGE_SPLIT",
                            "property_": "",
                            "value": str(logic.rollout_percent),
                        }
                    ],
                ),
            ]
        },
    }


def build(logic: Logic, directory: Path) -> Peer:
    path = directory / "flagsmith-environment.json"
    path.write_text(json.dumps(environment_document(logic)))
    client = Flagsmith(offline_mode=True, offline_handler=LocalFileHandler(str(path)))

    def native(ctx: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        return ctx["targeting_key"], {"country": ctx["country"], "plan": ctx["plan"]}

    def is_on(identity: tuple[str, dict[str, Any]]) -> bool:
        return client.get_identity_flags(*identity).is_feature_enabled(FLAG_KEY)

    def batch(natives: list[tuple[str, dict[str, Any]]]) -> None:
        get_identity_flags = client.get_identity_flags
        for identifier, traits in natives:
            get_identity_flags(identifier, traits).is_feature_enabled(FLAG_KEY)

    return Peer(
        name="Flagsmith (offline)",
        package="flagsmith",
        version=version("flagsmith"),
        call="client.get_identity_flags(id, traits).is_feature_enabled(key)",
        native=native,
        is_on=is_on,
        batch=batch,
        close=lambda: None,
    )
