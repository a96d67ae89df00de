"""The flag registry: definitions kept in the consuming app's repository (DESIGN 2).

A registry flag's default in an environment is a config that serves the registry's default
variant to everyone: enabled (the kill switch stays a kill switch, for tenants too), no
targets or rules, the default as fallthrough and, for booleans, ``off`` as the off variant.
"""

from __future__ import annotations

from ff_core.models import EnvironmentConfig, Flag, Serve


def default_config(flag: Flag, environment: str, version: int = 0) -> EnvironmentConfig | None:
    """The config the registry default gives ``flag`` in ``environment`` (None: no default)."""
    if flag.registry is None or environment not in flag.registry.defaults:
        return None
    variant = flag.registry.defaults[environment]
    off = "off" if "off" in flag.variants else variant
    return EnvironmentConfig(
        enabled=True, off_variant=off, fallthrough=Serve(variant=variant), version=version
    )


def is_default(flag: Flag, environment: str) -> bool:
    """True when ``flag`` serves its registry default in ``environment``: nothing changed
    there since the registry wrote it (versions aside)."""
    config = flag.environments.get(environment)
    default = default_config(flag, environment)
    if config is None or default is None:
        return False
    return config.replace(version=0) == default
