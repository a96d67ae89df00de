"""Tenant state in evaluation: a tenant's explicit values served as targets on its tenant id.

A flag's stored definition never holds tenant state; the flags a process serves do. For each
registry flag and environment, tenants with an explicit value become targets on the
project's tenant attribute (default ``tenant``), after the flag's own targets and before its
rules: the kill switch and prerequisites still apply, a user target still wins, and a tenant
onboarded with a default keeps it whatever the flag's rules or default say later.

State for a key that is no longer a registry flag (or a variant the flag no longer has) is
orphaned: ignored here, logged once per process, removed by ``ff tenants cleanup``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from ff_core.models import Flag, Target, Tenant
from ff_core.store import ProjectState

log = logging.getLogger("ff.tenants")
_logged: set[tuple[str, str, str]] = set()


def served_flags(state: ProjectState) -> dict[str, Flag]:
    """``state``'s flags as evaluation must see them: with its tenants' explicit state."""
    if not state.tenants:
        return state.flags
    return with_tenant_state(
        state.project.key, state.flags, state.tenants, state.project.tenant_attribute
    )


def with_tenant_state(
    project: str, flags: Mapping[str, Flag], tenants: Mapping[str, Tenant], attribute: str
) -> dict[str, Flag]:
    # flag -> environment -> variant -> tenant ids, in tenant order (stable definitions).
    grouped: dict[str, dict[str, dict[str, list[str]]]] = {}
    for tenant in tenants.values():
        for flag_key, values in tenant.state.items():
            flag = flags.get(flag_key)
            if flag is None or flag.registry is None:
                _orphan(project, tenant.key, flag_key, "is not a registry flag")
                continue
            for environment, value in values.items():
                if value.variant not in flag.variants or environment not in flag.environments:
                    _orphan(
                        project,
                        tenant.key,
                        flag_key,
                        f"names variant {value.variant!r} in {environment!r}, which it lacks",
                    )
                    continue
                by_variant = grouped.setdefault(flag_key, {}).setdefault(environment, {})
                by_variant.setdefault(value.variant, []).append(tenant.key)
    if not grouped:
        return dict(flags)
    served = dict(flags)
    for flag_key, per_environment in grouped.items():
        flag = flags[flag_key]
        environments = dict(flag.environments)
        for environment, tenant_variants in per_environment.items():
            config = environments[environment]
            # Built without validation: tenant targets are not bound by the stored limits.
            targets = tuple(
                Target.model_construct(variant=variant, values=tuple(keys), attribute=attribute)
                for variant, keys in tenant_variants.items()
            )
            environments[environment] = config.model_copy(
                update={"targets": config.targets + targets}
            )
        served[flag_key] = flag.model_copy(update={"environments": environments})
    return served


def orphaned(flags: Mapping[str, Flag], tenant: Tenant) -> list[str]:
    """Keys of ``tenant``'s state that are no longer registry flags, sorted."""
    return sorted(
        key for key in tenant.state if (flag := flags.get(key)) is None or flag.registry is None
    )


def _orphan(project: str, tenant: str, flag: str, why: str) -> None:
    if (project, tenant, flag) in _logged:
        return
    _logged.add((project, tenant, flag))
    log.warning(
        "tenant %r of project %r has state for flag %r, which %s: ignored "
        "(`ff tenants cleanup` removes it)",
        tenant,
        project,
        flag,
        why,
    )
