"""A registry file from a project's current flags: how a project adopts the registry.

The default exported for an environment is what the flag serves everyone there now: the
registry default of a registry flag, else the fallthrough variant when enabled and the
off variant when disabled. Flags the format cannot express (a rollout as fallthrough,
boolean variants other than on/off, null values) are left out and named.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from typing import Any

import tomli_w

from ff_core.evaluation import default_environment_config
from ff_core.models import Flag, FlagKind, ValueType
from ff_core.store import ProjectState

HEADER = (
    "# The flag registry of project {project!r}, exported by `ff registry export`.\n"
    "# Check it with `ff registry check FILE`, apply it with `ff registry sync FILE`.\n\n"
)


class _Inexpressible(Exception):
    pass


def export(state: ProjectState) -> tuple[str, list[str]]:
    """The registry file text, and one line per flag left out (with why)."""
    environments = state.project.environment_keys()
    flags: dict[str, Any] = {}
    skipped: list[str] = []
    for key in sorted(state.flags):
        try:
            flags[key] = _entry(state.flags[key], environments)
        except _Inexpressible as exc:
            skipped.append(f"{key}: {exc}")
    text = tomli_w.dumps({"environments": environments, "flags": flags})
    return HEADER.format(project=state.project.key) + text, skipped


def _entry(flag: Flag, environments: list[str]) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    if flag.name != flag.key:
        entry["name"] = flag.name
    if flag.description:
        entry["description"] = flag.description
    if flag.value_type is not ValueType.BOOLEAN:
        entry["type"] = flag.value_type.value
    if flag.owner:
        entry["owner"] = flag.owner
    if flag.kind is not FlagKind.RELEASE:
        entry["kind"] = flag.kind.value
    if flag.client_visible:
        entry["client_visible"] = True
    if flag.internal_only:
        entry["internal_only"] = True
    if not flag.temporary:
        entry["temporary"] = False
    if flag.expires_at is not None:
        entry["expires"] = _toml_time(flag.expires_at)
    boolean = flag.value_type is ValueType.BOOLEAN
    if boolean:
        values = {k: v.value for k, v in flag.variants.items()}
        if values != {"on": True, "off": False}:
            raise _Inexpressible("a boolean flag's variants must be on = true, off = false")
    else:
        if any(_has_null(v.value) for v in flag.variants.values()):
            raise _Inexpressible("a variant value holds null, which TOML cannot write")
        entry["variants"] = {k: v.value for k, v in flag.variants.items()}
    defaults = {env: _default(flag, env) for env in environments}
    as_file: dict[str, Any] = {
        env: (variant == "on") if boolean else variant for env, variant in defaults.items()
    }
    entry["default"] = next(iter(as_file.values())) if len(set(defaults.values())) == 1 else as_file
    return entry


def _default(flag: Flag, environment: str) -> str:
    if flag.registry is not None and environment in flag.registry.defaults:
        return flag.registry.defaults[environment]
    config = flag.environments.get(environment) or default_environment_config(flag)
    if not config.enabled:
        return config.off_variant
    if config.fallthrough.variant is None:
        raise _Inexpressible(f"serves a rollout in {environment!r}: no single default variant")
    return config.fallthrough.variant


def _toml_time(at: datetime) -> Any:
    at = at.astimezone(UTC)
    return at.date() if at.time() == time() else at


def _has_null(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, dict):
        return any(_has_null(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_null(v) for v in value)
    return False
