"""Explicit per-tenant flag state (DESIGN 2): written when a tenant is onboarded, so that a
registry default changed later never flips a tenant that already exists."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from ff_core import limits
from ff_core.models._base import Model
from ff_core.models.flag import EnvironmentKey, FlagKey, Name, VariantKey

TenantKey = Annotated[str, StringConstraints(pattern=limits.TENANT_KEY_PATTERN)]


class TenantValue(Model):
    """The variant a tenant gets for one flag in one environment."""

    variant: VariantKey
    # False: written at onboarding from the registry default; True: set by an override.
    overridden: bool = False


class Tenant(Model):
    key: TenantKey
    name: Name
    # flag key -> environment -> value. A flag or environment missing here is not explicit:
    # the tenant gets whatever the flag serves everyone (the registry default unless changed).
    state: dict[FlagKey, dict[EnvironmentKey, TenantValue]] = Field(default_factory=dict)
    version: int = Field(default=0, ge=0)
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def value(self, flag: str, environment: str) -> TenantValue | None:
        return self.state.get(flag, {}).get(environment)
