from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints, model_validator

from ff_core import limits
from ff_core.models._base import Model
from ff_core.models.clause import AttributeName
from ff_core.models.flag import Description, EnvironmentKey, Name

ProjectKey = Annotated[str, StringConstraints(pattern=limits.PROJECT_KEY_PATTERN)]
DEFAULT_ENVIRONMENTS = ("development", "staging", "production")


class Environment(Model):
    key: EnvironmentKey
    name: Name
    description: Description = ""


class Project(Model):
    key: ProjectKey
    name: Name
    description: Description = ""
    environments: tuple[Environment, ...] = Field(
        default=tuple(Environment(key=k, name=k.capitalize()) for k in DEFAULT_ENVIRONMENTS),
        min_length=1,
        max_length=limits.MAX_ENVIRONMENTS,
    )
    # Writes to flags not in the registry are refused (``ff registry sync`` turns it on).
    registry_enforced: bool = False
    # The context attribute that names a tenant, for evaluation with tenant state.
    tenant_attribute: AttributeName = "tenant"
    version: int = Field(default=0, ge=0)
    created_at: datetime | None = None

    @model_validator(mode="after")
    def _unique_environments(self) -> Project:
        keys = [e.key for e in self.environments]
        if len(set(keys)) != len(keys):
            raise ValueError(f"environment keys must be unique, got {keys}")
        return self

    def environment_keys(self) -> list[str]:
        return [e.key for e in self.environments]
