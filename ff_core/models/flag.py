from __future__ import annotations

import secrets
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field, JsonValue, StringConstraints, model_validator

from ff_core import limits
from ff_core.models._base import Model
from ff_core.models.clause import AttributeName, Clause, check_regex_count

FlagKey = Annotated[str, StringConstraints(pattern=limits.FLAG_KEY_PATTERN)]
EnvironmentKey = Annotated[str, StringConstraints(pattern=limits.ENVIRONMENT_KEY_PATTERN)]
VariantKey = Annotated[str, StringConstraints(pattern=limits.VARIANT_KEY_PATTERN)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=limits.MAX_NAME_LENGTH)]
Description = Annotated[str, StringConstraints(max_length=limits.MAX_DESCRIPTION_LENGTH)]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class FlagKind(StrEnum):
    RELEASE = "release"
    EXPERIMENT = "experiment"
    OPS = "ops"
    PERMISSION = "permission"


class ValueType(StrEnum):
    BOOLEAN = "boolean"
    STRING = "string"
    NUMBER = "number"
    JSON = "json"


def _fits(value_type: ValueType, value: JsonValue) -> bool:
    if value_type is ValueType.BOOLEAN:
        return isinstance(value, bool)
    if value_type is ValueType.STRING:
        return isinstance(value, str)
    if value_type is ValueType.NUMBER:
        return isinstance(value, int | float) and not isinstance(value, bool)
    return True


class Variant(Model):
    value: JsonValue
    name: str = Field(default="", max_length=limits.MAX_NAME_LENGTH)
    description: Description = ""


class WeightedVariant(Model):
    variant: VariantKey
    # Thousandths of a percent: 25_000 is 25 %.
    weight: int = Field(ge=0, le=limits.ROLLOUT_TOTAL)


class Rollout(Model):
    """Sticky percentage split: a context's bucket comes from hashing ``bucket_by``.

    Variants take consecutive bucket ranges in the order given, so raising the
    first variant's weight keeps every context that already had it.
    """

    variants: tuple[WeightedVariant, ...] = Field(min_length=1, max_length=limits.MAX_VARIANTS)
    bucket_by: AttributeName = "targeting_key"

    @model_validator(mode="after")
    def _weights_sum(self) -> Rollout:
        total = sum(v.weight for v in self.variants)
        if total != limits.ROLLOUT_TOTAL:
            raise ValueError(
                f"rollout weights must add up to {limits.ROLLOUT_TOTAL} (100 %), got {total}"
            )
        keys = [v.variant for v in self.variants]
        if len(set(keys)) != len(keys):
            raise ValueError("a rollout names each variant at most once")
        return self


class Serve(Model):
    """What a rule or the fallthrough serves: one variant, or a rollout."""

    variant: VariantKey | None = None
    rollout: Rollout | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Serve:
        if (self.variant is None) == (self.rollout is None):
            raise ValueError("serve exactly one of 'variant' or 'rollout'")
        return self

    def variant_keys(self) -> list[str]:
        if self.rollout is not None:
            return [v.variant for v in self.rollout.variants]
        assert self.variant is not None
        return [self.variant]


class Target(Model):
    """Explicit keys (users, tenants, ...) that get ``variant``."""

    variant: VariantKey
    values: tuple[str, ...] = Field(min_length=1, max_length=limits.MAX_VALUES_PER_TARGET)
    attribute: AttributeName = "targeting_key"


class Rule(Model):
    """Clauses ANDed; the first matching rule of an environment wins."""

    id: str = Field(default="", max_length=64)
    description: Description = ""
    clauses: tuple[Clause, ...] = Field(min_length=1, max_length=limits.MAX_CLAUSES_PER_RULE)
    serve: Serve


class Prerequisite(Model):
    """Another flag that must evaluate to ``variant`` in the same environment."""

    flag: FlagKey
    variant: VariantKey


class EnvironmentConfig(Model):
    enabled: bool = False
    off_variant: VariantKey
    targets: tuple[Target, ...] = Field(default=(), max_length=limits.MAX_TARGETS_PER_ENVIRONMENT)
    rules: tuple[Rule, ...] = Field(default=(), max_length=limits.MAX_RULES_PER_ENVIRONMENT)
    fallthrough: Serve
    prerequisites: tuple[Prerequisite, ...] = Field(default=(), max_length=limits.MAX_PREREQUISITES)
    # Increments on every write of this environment's config.
    version: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _regexes_bounded(self) -> EnvironmentConfig:
        check_regex_count([c for rule in self.rules for c in rule.clauses], "environment")
        return self

    def variant_keys(self) -> set[str]:
        used = {self.off_variant, *self.fallthrough.variant_keys()}
        used.update(t.variant for t in self.targets)
        for rule in self.rules:
            used.update(rule.serve.variant_keys())
        return used

    def segment_keys(self) -> set[str]:
        return {
            str(value)
            for rule in self.rules
            for clause in rule.clauses
            if clause.operator == "in_segment"
            for value in clause.values
        }


class RegistryDefinition(Model):
    """What the registry file says about a flag: the variant each environment serves by
    default. Present on a flag exactly while the flag is in its project's registry."""

    defaults: dict[EnvironmentKey, VariantKey] = Field(
        min_length=1, max_length=limits.MAX_ENVIRONMENTS
    )
    synced_at: datetime | None = None


def _new_salt() -> str:
    return secrets.token_hex(8)


class Flag(Model):
    key: FlagKey
    name: Name
    description: Description = ""
    tags: tuple[Tag, ...] = Field(default=(), max_length=limits.MAX_TAGS)
    owner: str | None = Field(default=None, max_length=limits.MAX_NAME_LENGTH)
    kind: FlagKind = FlagKind.RELEASE
    temporary: bool = True
    expires_at: datetime | None = None
    client_visible: bool = False
    # Never sent to browsers, whatever the key: for flags that name internal systems.
    internal_only: bool = False
    value_type: ValueType = ValueType.BOOLEAN
    variants: dict[VariantKey, Variant] = Field(min_length=1, max_length=limits.MAX_VARIANTS)
    salt: str = Field(default_factory=_new_salt, min_length=1, max_length=64)
    environments: dict[EnvironmentKey, EnvironmentConfig] = Field(
        default_factory=dict, max_length=limits.MAX_ENVIRONMENTS
    )
    archived: bool = False
    # Set by ``ff registry sync``: the flag is in its project's registry, with these defaults.
    registry: RegistryDefinition | None = None
    # Increments on every write of the flag item (the store's condition).
    version: int = Field(default=0, ge=0)
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Flag:
        if self.client_visible and self.internal_only:
            raise ValueError("a flag cannot be both client_visible and internal_only")
        if self.registry is not None:
            unknown = set(self.registry.defaults.values()) - self.variants.keys()
            if unknown:
                raise ValueError(
                    f"registry defaults name unknown variant(s) {sorted(unknown)}; "
                    f"the flag's variants are {sorted(self.variants)}"
                )
        for key, variant in self.variants.items():
            if not _fits(self.value_type, variant.value):
                raise ValueError(
                    f"variant {key!r} has value {variant.value!r}, "
                    f"which is not of the flag's value_type {self.value_type.value!r}"
                )
        for env_key, config in self.environments.items():
            unknown = config.variant_keys() - self.variants.keys()
            if unknown:
                raise ValueError(
                    f"environment {env_key!r} serves unknown variant(s) {sorted(unknown)}; "
                    f"the flag's variants are {sorted(self.variants)}"
                )
            if any(p.flag == self.key for p in config.prerequisites):
                raise ValueError(f"environment {env_key!r}: a flag cannot be its own prerequisite")
        return self


def boolean_variants() -> dict[str, Variant]:
    return {"on": Variant(value=True), "off": Variant(value=False)}
