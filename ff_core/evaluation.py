"""The evaluation engine (DESIGN 3): pure, no I/O, no clock; ``now`` is passed in.

A flag is compiled once per change into closures whose every possible answer is a
``Resolution`` built in advance, so a warm evaluation allocates nothing and re-parses
nothing. Reasons and error codes use OpenFeature's names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from hashlib import sha1
from typing import Any

from pydantic import JsonValue

from ff_core import limits
from ff_core.bucketing import bounds, digest_threshold
from ff_core.models import EnvironmentConfig, Flag, Segment, Serve
from ff_core.operators import Context, Match, compile_all

NOW_ATTRIBUTE = "$now"
TARGETING_KEY = "targeting_key"


class Reason(StrEnum):
    STATIC = "STATIC"
    DEFAULT = "DEFAULT"
    TARGETING_MATCH = "TARGETING_MATCH"
    SPLIT = "SPLIT"
    DISABLED = "DISABLED"
    PREREQUISITE_FAILED = "PREREQUISITE_FAILED"
    ERROR = "ERROR"


class ErrorCode(StrEnum):
    FLAG_NOT_FOUND = "FLAG_NOT_FOUND"
    TARGETING_KEY_MISSING = "TARGETING_KEY_MISSING"
    INVALID_CONTEXT = "INVALID_CONTEXT"
    TYPE_MISMATCH = "TYPE_MISMATCH"
    PARSE_ERROR = "PARSE_ERROR"
    PROVIDER_NOT_READY = "PROVIDER_NOT_READY"
    GENERAL = "GENERAL"


@dataclass(frozen=True, slots=True)
class Resolution:
    """The answer for one flag. On an error ``value`` and ``variant`` are None: use your default.

    ``value`` is shared between evaluations: treat JSON values as read-only.
    """

    key: str
    value: JsonValue
    variant: str | None
    reason: Reason
    error_code: ErrorCode | None = None
    error_message: str | None = None
    version: int = 0

    @property
    def is_error(self) -> bool:
        return self.error_code is not None


# run(context, environment, now, depth) -> Resolution
Runner = Callable[[Context, "CompiledEnvironment", float | None, int], Resolution]


class CompiledFlag:
    __slots__ = ("flag", "key", "needs_now", "run", "segment_keys", "version")

    def __init__(
        self,
        flag: Flag,
        environment: str,
        segments: Mapping[str, Match],
        segment_models: Mapping[str, Segment] | None = None,
    ) -> None:
        config = flag.environments.get(environment) or default_environment_config(flag)
        self.flag = flag
        self.key = flag.key
        self.version = flag.version
        self.segment_keys = frozenset(config.segment_keys())
        self.needs_now = _uses_now(config, segment_models or {})
        self.run: Runner = _compile_config(flag, config, segments)

    def evaluate(
        self, context: Context, env: CompiledEnvironment, now: float | None = None, depth: int = 0
    ) -> Resolution:
        if self.needs_now:
            context = {**context, NOW_ATTRIBUTE: now}
        return self.run(context, env, now, depth)


class CompiledEnvironment:
    """Every flag of one project environment, compiled; immutable, so a swap is atomic."""

    __slots__ = ("_segment_matches", "environment", "flags", "segments")

    def __init__(
        self,
        environment: str,
        flags: Iterable[Flag] = (),
        segments: Iterable[Segment] = (),
    ) -> None:
        self.environment = environment
        self.segments = {s.key: s for s in segments}
        self._segment_matches = {k: compile_segment(s) for k, s in self.segments.items()}
        self.flags = {
            f.key: CompiledFlag(f, environment, self._segment_matches, self.segments)
            for f in flags
            if not f.archived
        }

    def with_flag(self, flag: Flag) -> CompiledEnvironment:
        """A copy with ``flag`` added or replaced (archived flags are removed)."""
        new = self._copy()
        if flag.archived:
            new.flags.pop(flag.key, None)
        else:
            new.flags[flag.key] = CompiledFlag(
                flag, self.environment, new._segment_matches, new.segments
            )
        return new

    def without_flag(self, key: str) -> CompiledEnvironment:
        new = self._copy()
        new.flags.pop(key, None)
        return new

    def with_segment(self, segment: Segment | None, key: str) -> CompiledEnvironment:
        """A copy with segment ``key`` replaced (or removed when ``segment`` is None)."""
        new = self._copy()
        if segment is None:
            new.segments.pop(key, None)
            new._segment_matches.pop(key, None)
        else:
            new.segments[key] = segment
            new._segment_matches[key] = compile_segment(segment)
        for flag_key, compiled in self.flags.items():
            if key in compiled.segment_keys:
                new.flags[flag_key] = CompiledFlag(
                    compiled.flag, self.environment, new._segment_matches, new.segments
                )
        return new

    def _copy(self) -> CompiledEnvironment:
        new = object.__new__(CompiledEnvironment)
        new.environment = self.environment
        new.segments = dict(self.segments)
        new._segment_matches = dict(self._segment_matches)
        new.flags = dict(self.flags)
        return new


def evaluate(
    env: CompiledEnvironment,
    key: str,
    context: Mapping[str, Any] | None = None,
    now: float | None = None,
) -> Resolution:
    """Evaluate flag ``key`` for ``context``. Never raises.

    ``context`` maps ``targeting_key`` and attribute names to str, int, float, bool or
    lists of them; ``now`` (epoch seconds) is what the ``$now`` attribute compares.
    """
    flag = env.flags.get(key)
    if flag is None:
        return _error(key, ErrorCode.FLAG_NOT_FOUND, f"flag {key!r} not found")
    if context is None:
        context = _EMPTY
    elif context.__class__ is not dict and not isinstance(context, Mapping):
        return _error(key, ErrorCode.INVALID_CONTEXT, "the context must be an object")
    try:
        if flag.needs_now:
            return flag.evaluate(context, env, now)
        return flag.run(context, env, now, 0)
    except Exception as exc:  # a defect, never the caller's problem: answer with an error
        return _error(key, ErrorCode.GENERAL, f"evaluation failed: {type(exc).__name__}")


def evaluate_each(
    env: CompiledEnvironment,
    flags: Sequence[CompiledFlag],
    context: dict[str, Any],
    now: float | None = None,
) -> tuple[Resolution, ...]:
    """``evaluate`` for each of ``flags`` (compiled flags of ``env``), in order.

    For many flags and one context already known to be a dict: no lookup and no checks
    per flag. Never raises: should a flag fail, each is evaluated again on its own.
    """
    try:
        return tuple(
            [
                flag.evaluate(context, env, now)
                if flag.needs_now
                else flag.run(context, env, now, 0)
                for flag in flags
            ]
        )
    except Exception:
        return tuple(evaluate(env, flag.key, context, now) for flag in flags)


def evaluate_all(
    env: CompiledEnvironment, context: Mapping[str, Any] | None = None, now: float | None = None
) -> dict[str, Resolution]:
    return {key: evaluate(env, key, context, now) for key in env.flags}


_EMPTY: Mapping[str, Any] = {}


def _error(key: str, code: ErrorCode, message: str) -> Resolution:
    return Resolution(key, None, None, Reason.ERROR, code, message)


def default_environment_config(flag: Flag) -> EnvironmentConfig:
    """Config for an environment the flag has none for: disabled, serving ``off`` or the last."""
    variants = list(flag.variants)
    off = "off" if "off" in flag.variants else variants[-1]
    on = "on" if "on" in flag.variants else variants[0]
    return EnvironmentConfig(enabled=False, off_variant=off, fallthrough=Serve(variant=on))


def compile_segment(segment: Segment) -> Match:
    included, excluded = frozenset(segment.included), frozenset(segment.excluded)
    attribute = segment.key_attribute
    rules = [compile_all(rule.clauses, {}) for rule in segment.rules]

    def match(ctx: Context) -> bool:
        key = ctx.get(attribute)
        if key.__class__ is str:
            if key in excluded:
                return False
            if key in included:
                return True
        return any(rule(ctx) for rule in rules)

    return match


def _uses_now(config: EnvironmentConfig, segments: Mapping[str, Segment]) -> bool:
    # Segment rules read the same context: without ``$now`` set they would see none, or
    # whatever ``$now`` the caller put in the context.
    clauses = [clause for rule in config.rules for clause in rule.clauses]
    for key in config.segment_keys():
        segment = segments.get(key)
        if segment is not None:
            clauses.extend(clause for rule in segment.rules for clause in rule.clauses)
    return any(clause.attribute == NOW_ATTRIBUTE for clause in clauses)


# An outcome is a ready Resolution or a rollout picking one from the context.
Outcome = Resolution | Callable[[Context], Resolution]


def _compile_config(flag: Flag, config: EnvironmentConfig, segments: Mapping[str, Match]) -> Runner:
    key, version = flag.key, flag.version

    def result(variant: str, reason: Reason) -> Resolution:
        return Resolution(key, flag.variants[variant].value, variant, reason, version=version)

    off = result(config.off_variant, Reason.DISABLED)
    if not config.enabled:
        return lambda _ctx, _env, _now, _depth: off

    prerequisite_failed = result(config.off_variant, Reason.PREREQUISITE_FAILED)
    prerequisites = [(p.flag, p.variant) for p in config.prerequisites]
    targets = _compile_targets(config, result)
    rules: list[tuple[Match, Outcome]] = [
        (compile_all(rule.clauses, segments), _compile_serve(flag, rule.serve, result, True))
        for rule in config.rules
    ]
    static = not (config.targets or config.rules or config.prerequisites)
    fallthrough = _compile_serve(flag, config.fallthrough, result, False, static)

    # Each outcome split into (ready answer, rollout), exactly one of them set: testing a
    # slot for None is cheaper than asking an outcome for its class on every evaluation.
    rule_table = [(matches, *_split_outcome(outcome)) for matches, outcome in rules]
    ready_fallthrough, rollout_fallthrough = _split_outcome(fallthrough)

    def targeting(
        ctx: Context, _env: object = None, _now: object = None, _depth: int = 0
    ) -> Resolution:
        for attribute, table in targets:
            value = ctx.get(attribute)
            if value.__class__ is str:
                hit = table.get(value)
                if hit is not None:
                    return hit
        for matches, ready, rollout in rule_table:
            if matches(ctx):
                return ready if rollout is None else rollout(ctx)  # type: ignore[return-value]
        if rollout_fallthrough is None:
            return ready_fallthrough  # type: ignore[return-value]
        return rollout_fallthrough(ctx)

    if not prerequisites:
        # The common case: targeting is the runner itself, one call per evaluation.
        return targeting

    def run(ctx: Context, env: CompiledEnvironment, now: float | None, depth: int) -> Resolution:
        for prerequisite_key, wanted in prerequisites:
            other = env.flags.get(prerequisite_key)
            if other is None or depth >= limits.MAX_PREREQUISITE_DEPTH:
                return prerequisite_failed
            got = other.evaluate(ctx, env, now, depth + 1)
            if got.variant != wanted or got.reason in _FAILED:
                return prerequisite_failed
        return targeting(ctx)

    return run


Rollout = Callable[[Context], Resolution]


def _split_outcome(outcome: Outcome) -> tuple[Resolution | None, Rollout | None]:
    if isinstance(outcome, Resolution):
        return outcome, None
    return None, outcome


_from_bytes = int.from_bytes  # big-endian by default
_FAILED = frozenset({Reason.DISABLED, Reason.PREREQUISITE_FAILED, Reason.ERROR})


def _compile_targets(
    config: EnvironmentConfig, result: Callable[[str, Reason], Resolution]
) -> list[tuple[str, dict[str, Resolution]]]:
    # Consecutive targets on one attribute share a table; a target on another attribute
    # starts a new one, so that a context hitting several targets gets the first listed.
    tables: list[tuple[str, dict[str, Resolution]]] = []
    for target in config.targets:
        if not tables or tables[-1][0] != target.attribute:
            tables.append((target.attribute, {}))
        table = tables[-1][1]
        hit = result(target.variant, Reason.TARGETING_MATCH)
        for value in target.values:
            table.setdefault(value, hit)  # the first target naming a key wins
    return tables


def _compile_serve(
    flag: Flag,
    serve: Serve,
    result: Callable[[str, Reason], Resolution],
    in_rule: bool,
    static: bool = False,
) -> Outcome:
    if serve.variant is not None:
        if in_rule:
            return result(serve.variant, Reason.TARGETING_MATCH)
        return result(serve.variant, Reason.STATIC if static else Reason.DEFAULT)
    rollout = serve.rollout
    assert rollout is not None
    picks = [result(v.variant, Reason.SPLIT) for v in rollout.variants]
    limits_ = bounds([v.weight for v in rollout.variants])
    ranges = [
        (digest_threshold(bound, limits.ROLLOUT_TOTAL), pick)
        for bound, pick, v in zip(limits_, picks, rollout.variants, strict=True)
        if v.weight
    ]
    last = ranges[-1][1]
    prefix = f"{flag.salt}.{flag.key}.".encode()
    attribute = rollout.bucket_by
    missing = Resolution(
        flag.key,
        None,
        None,
        Reason.ERROR,
        ErrorCode.TARGETING_KEY_MISSING,
        f"rollout needs the {attribute!r} attribute (a non-empty string or an integer)",
        flag.version,
    )

    def split(ctx: Context) -> Resolution:
        value = ctx.get(attribute)
        if value.__class__ is str:
            if not value:
                return missing
        elif value.__class__ is int:
            value = str(value)
        else:
            return missing
        digest = _from_bytes(sha1(prefix + value.encode()).digest())
        for threshold, pick in ranges:
            if digest < threshold:
                return pick
        return last

    return split
