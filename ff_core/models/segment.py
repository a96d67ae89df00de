from __future__ import annotations

from pydantic import Field, model_validator

from ff_core import limits
from ff_core.models._base import Model
from ff_core.models.clause import AttributeName, Clause, Operator, check_regex_count
from ff_core.models.flag import Description, FlagKey, Name


class SegmentRule(Model):
    """Clauses ANDed; a context matching any rule is in the segment."""

    clauses: tuple[Clause, ...] = Field(min_length=1, max_length=limits.MAX_CLAUSES_PER_RULE)

    @model_validator(mode="after")
    def _no_nested_segments(self) -> SegmentRule:
        if any(c.operator is Operator.IN_SEGMENT for c in self.clauses):
            raise ValueError("a segment rule cannot refer to another segment")
        return self


class Segment(Model):
    """A reusable audience: excluded keys never match, included keys always do, else the rules."""

    key: FlagKey
    name: Name
    description: Description = ""
    key_attribute: AttributeName = "targeting_key"
    included: tuple[str, ...] = Field(default=(), max_length=limits.MAX_SEGMENT_KEYS)
    excluded: tuple[str, ...] = Field(default=(), max_length=limits.MAX_SEGMENT_KEYS)
    rules: tuple[SegmentRule, ...] = Field(default=(), max_length=limits.MAX_SEGMENT_RULES)
    version: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _regexes_bounded(self) -> Segment:
        check_regex_count([c for rule in self.rules for c in rule.clauses], "segment")
        return self
