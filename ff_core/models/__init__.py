"""ff's domain models: pydantic v2, frozen, unknown fields refused."""

from ff_core.models._base import Model
from ff_core.models.access import (
    ApiKey,
    Invitation,
    InvitationStatus,
    KeyKind,
    Member,
    Role,
)
from ff_core.models.audit import (
    Action,
    Actor,
    ActorKind,
    ChangeEntry,
    ChangeKind,
    EntityKind,
    HistoryEntry,
)
from ff_core.models.clause import Clause, Operator, Scalar
from ff_core.models.flag import (
    EnvironmentConfig,
    Flag,
    FlagKind,
    Prerequisite,
    RegistryDefinition,
    Rollout,
    Rule,
    Serve,
    Target,
    ValueType,
    Variant,
    WeightedVariant,
    boolean_variants,
)
from ff_core.models.project import Environment, Project
from ff_core.models.segment import Segment, SegmentRule
from ff_core.models.tenant import Tenant, TenantValue
from ff_core.models.usage import EnvironmentUsage, FlagUsage, UsageDelta

__all__ = [
    "Action",
    "Actor",
    "ActorKind",
    "ApiKey",
    "ChangeEntry",
    "ChangeKind",
    "Clause",
    "EntityKind",
    "Environment",
    "EnvironmentConfig",
    "EnvironmentUsage",
    "Flag",
    "FlagKind",
    "FlagUsage",
    "HistoryEntry",
    "Invitation",
    "InvitationStatus",
    "KeyKind",
    "Member",
    "Model",
    "Operator",
    "Prerequisite",
    "Project",
    "RegistryDefinition",
    "Role",
    "Rollout",
    "Rule",
    "Scalar",
    "Segment",
    "SegmentRule",
    "Serve",
    "Target",
    "Tenant",
    "TenantValue",
    "UsageDelta",
    "ValueType",
    "Variant",
    "WeightedVariant",
    "boolean_variants",
]
