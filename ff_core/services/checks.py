"""Checks that need more than one model: environments, prerequisites, segments."""

from __future__ import annotations

from collections.abc import Mapping

from ff_core import limits
from ff_core.errors import CycleDetected, InvalidDefinition, NotInRegistry
from ff_core.graph import evaluation_costs, find_cycle
from ff_core.models import Flag, Project, Segment


def check_environments(project: Project, environments: set[str] | list[str]) -> None:
    unknown = sorted(set(environments) - set(project.environment_keys()))
    if unknown:
        raise InvalidDefinition(
            f"unknown environment(s) {unknown} in project {project.key!r}; "
            f"its environments are {project.environment_keys()}",
            field="environments",
        )


# Fields of a registry flag that its registry file owns: a sync would overwrite other edits.
REGISTRY_FIELDS = frozenset(
    {
        "description",
        "owner",
        "kind",
        "temporary",
        "expires_at",
        "client_visible",
        "internal_only",
        "value_type",
        "variants",
    }
)


def check_registry(project: Project, key: str, flag: Flag | None) -> None:
    """In a registry-enforced project, refuse a write to ``key`` unless the registry lists it
    (``flag`` is the stored flag, None when there is none)."""
    if project.registry_enforced and (flag is None or flag.registry is None):
        raise NotInRegistry(
            f"flag {key!r} is not in the registry of project {project.key!r}: "
            "add it to the registry file and run `ff registry sync`",
            field="key",
            key=key,
        )


def check_registry_fields(project: Project, flag: Flag, fields: set[str] | list[str]) -> None:
    """Refuse changing what the registry file owns of a registry flag."""
    owned = sorted(set(fields) & REGISTRY_FIELDS)
    if project.registry_enforced and flag.registry is not None and owned:
        raise NotInRegistry(
            f"{owned} of flag {flag.key!r} come from the registry file of project "
            f"{project.key!r}: change them there and run `ff registry sync`",
            field=owned[0],
            key=flag.key,
        )


def check_references(
    flag: Flag,
    flags: Mapping[str, Flag],
    segments: Mapping[str, Segment],
    environments: list[str],
) -> None:
    """Prerequisites and segments of ``flag`` exist, no prerequisite cycle forms, and the
    variants other flags require of ``flag`` remain.

    ``flags`` is the project's flags as they are now; ``flag`` is the version to write.
    """
    _check_required_variants(flag, flags)
    others = {**flags, flag.key: flag}
    for env in environments:
        config = flag.environments.get(env)
        if config is None:
            continue
        for prerequisite in config.prerequisites:
            target = others.get(prerequisite.flag)
            if target is None:
                raise InvalidDefinition(
                    f"environments.{env}.prerequisites: flag {prerequisite.flag!r} does not exist",
                    field=f"environments.{env}.prerequisites",
                )
            if prerequisite.variant not in target.variants:
                raise InvalidDefinition(
                    f"environments.{env}.prerequisites: flag {prerequisite.flag!r} has no variant "
                    f"{prerequisite.variant!r} (it has {sorted(target.variants)})",
                    field=f"environments.{env}.prerequisites",
                )
        missing = sorted(config.segment_keys() - segments.keys())
        if missing:
            raise InvalidDefinition(
                f"environments.{env}.rules: unknown segment(s) {missing}",
                field=f"environments.{env}.rules",
            )
        edges = {
            key: [p.flag for p in f.environments[env].prerequisites]
            for key, f in others.items()
            if env in f.environments
        }
        cycle = find_cycle(edges, flag.key)
        if cycle is not None:
            raise CycleDetected(
                f"environments.{env}.prerequisites: would form a cycle {' -> '.join(cycle)}",
                field=f"environments.{env}.prerequisites",
                cycle=cycle,
            )
        _check_cost(edges, env)


def _check_required_variants(flag: Flag, flags: Mapping[str, Flag]) -> None:
    # Changing or restoring variants must not strand a prerequisite naming a removed one.
    for other in flags.values():
        if other.key == flag.key:
            continue
        for env, config in other.environments.items():
            for prerequisite in config.prerequisites:
                if prerequisite.flag == flag.key and prerequisite.variant not in flag.variants:
                    raise InvalidDefinition(
                        f"variants: flag {other.key!r} requires variant {prerequisite.variant!r} "
                        f"of flag {flag.key!r} in {env!r}; keep it or change {other.key!r} first",
                        field="variants",
                        dependents=[other.key],
                    )


def _check_cost(edges: dict[str, list[str]], env: str) -> None:
    """Refuse a prerequisite that makes any flag too costly to evaluate."""
    for start, cost in evaluation_costs(edges).items():
        if cost > limits.MAX_PREREQUISITE_EVALUATIONS:
            raise InvalidDefinition(
                f"environments.{env}.prerequisites: evaluating {start!r} would evaluate "
                f"{cost} flags through prerequisites; the limit is "
                f"{limits.MAX_PREREQUISITE_EVALUATIONS}",
                field=f"environments.{env}.prerequisites",
            )


def dependents(key: str, flags: Mapping[str, Flag]) -> list[str]:
    """Flags that name ``key`` as a prerequisite in any environment."""
    return sorted(
        other.key
        for other in flags.values()
        if other.key != key
        and any(p.flag == key for c in other.environments.values() for p in c.prerequisites)
    )


def segment_users(key: str, flags: Mapping[str, Flag]) -> list[str]:
    return sorted(
        f.key
        for f in flags.values()
        if any(key in c.segment_keys() for c in f.environments.values())
    )
