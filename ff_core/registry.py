"""The flag registry: definitions kept in the consuming app's repository (DESIGN 2).

The file is TOML, read with the standard library's ``tomllib``: no new dependency, a
format app repositories already hold (``pyproject.toml``), comments for the humans who
review flag changes, and native dates for ``expires``. docs/REGISTRY.md describes it.

A registry flag's default in an environment is a config that serves the registry's default
variant to everyone: enabled (the kill switch stays a kill switch, for tenants too), no
targets or rules, the default as fallthrough and, for booleans, ``off`` as the off variant.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

from pydantic import Field, JsonValue, StrictBool, StrictStr, ValidationError, model_validator

from ff_core.errors import InvalidDefinition
from ff_core.models import (
    EnvironmentConfig,
    Flag,
    FlagKind,
    RegistryDefinition,
    Serve,
    ValueType,
    Variant,
    boolean_variants,
)
from ff_core.models._base import Model
from ff_core.models.flag import Description, EnvironmentKey, FlagKey, Name, VariantKey
from ff_core.models.project import DEFAULT_ENVIRONMENTS
from ff_core.validation import field_errors

# In a default table: the variant of every environment the table does not name.
ANY_ENVIRONMENT = "*"
DefaultValue = StrictBool | StrictStr
Default = DefaultValue | dict[str, DefaultValue]


class RegistryInvalid(InvalidDefinition):
    """A registry file that cannot be synced; ``problems`` lists every reason."""

    code = "invalid_registry"

    def __init__(self, problems: Sequence[Problem]) -> None:
        listed = "\n".join(f"  - {p}" for p in problems)
        noun = "problem" if len(problems) == 1 else "problems"
        super().__init__(
            f"registry: {len(problems)} {noun}:\n{listed}",
            problems=[p.to_dict() for p in problems],
        )
        self.problems = list(problems)


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a registry file, named by flag key and field."""

    flag: str | None
    field: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        name = (
            ".".join(p for p in ("flags", self.flag, self.field) if p) if self.flag else self.field
        )
        return f"{where}{name}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        return {"flag": self.flag, "field": self.field, "message": self.message, "line": self.line}


class RegistryEntry(Model):
    """One ``[flags.<key>]`` table."""

    # The flag's display name when sync creates it; the dashboard may rename it later.
    name: Name | None = None
    description: Description = ""
    type: ValueType = ValueType.BOOLEAN
    owner: str | None = Field(default=None, max_length=200)
    kind: FlagKind = FlagKind.RELEASE
    client_visible: bool = False
    internal_only: bool = False
    temporary: bool = True
    expires: datetime | date | None = None
    # Non-boolean flags only: variant key -> value (booleans always have on/off).
    variants: dict[VariantKey, JsonValue] | None = None
    # A boolean (booleans) or a variant key, for every environment or per environment.
    default: Default

    @model_validator(mode="after")
    def _consistent(self) -> RegistryEntry:
        if self.type is ValueType.BOOLEAN and self.variants is not None:
            raise ValueError("boolean flags have the variants on/off: leave out 'variants'")
        if self.type is not ValueType.BOOLEAN and not self.variants:
            raise ValueError(f"a {self.type.value} flag lists its 'variants' (key = value)")
        if self.expires is not None and not self.temporary:
            raise ValueError("'expires' is for temporary flags; set temporary = true or drop it")
        return self

    def flag_variants(self) -> dict[str, Variant]:
        if self.variants is None:
            return boolean_variants()
        return {key: Variant(value=value) for key, value in self.variants.items()}

    def expires_at(self) -> datetime | None:
        if self.expires is None:
            return None
        if not isinstance(self.expires, datetime):  # a TOML date: midnight UTC
            return datetime.combine(self.expires, time(), UTC)
        return self.expires if self.expires.tzinfo else self.expires.replace(tzinfo=UTC)


class RegistryFile(Model):
    # The environments the file covers; optional (a sync checks against the project's).
    environments: tuple[EnvironmentKey, ...] | None = None
    flags: dict[FlagKey, RegistryEntry] = Field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Registry:
    """A parsed registry file and where each flag's table starts (for messages)."""

    file: RegistryFile
    lines: dict[str, int]

    def keys(self) -> list[str]:
        return sorted(self.file.flags)

    def flags(self, environments: Sequence[str]) -> dict[str, Flag]:
        """Every flag as the registry defines it for a project with ``environments``
        (no environment configs yet); RegistryInvalid lists every problem."""
        built: dict[str, Flag] = {}
        problems: list[Problem] = []
        for key in self.keys():
            try:
                built[key] = registry_flag(key, self.file.flags[key], environments)
            except RegistryInvalid as exc:
                problems.extend(
                    Problem(p.flag, p.field, p.message, self.lines.get(key)) for p in exc.problems
                )
        if problems:
            raise RegistryInvalid(problems)
        return built

    def check_environments(self) -> list[str]:
        """The environments ``check`` resolves defaults against without a project: the
        file's own list, else every environment a default table names, else ff's defaults."""
        if self.file.environments is not None:
            return list(self.file.environments)
        named = {
            env
            for entry in self.file.flags.values()
            if isinstance(entry.default, dict)
            for env in entry.default
            if env != ANY_ENVIRONMENT
        }
        return sorted(named) or list(DEFAULT_ENVIRONMENTS)


def parse(text: str) -> Registry:
    """The registry in ``text``; RegistryInvalid lists every problem found."""
    parsed, problems = _read(text)
    if problems:
        raise RegistryInvalid(problems)
    return parsed


def load(path: Path) -> Registry:
    return parse(_text(path))


def check(source: str | Path) -> list[Problem]:
    """Everything wrong with a registry file (a Path) or its text (a str): empty when a sync
    could apply it to a project with the environments the file covers. Flags whose table
    is malformed are reported, and the others still checked in full."""
    problems: list[Problem] = []
    try:
        parsed, problems = _read(_text(source) if isinstance(source, Path) else source)
        parsed.flags(parsed.check_environments())
    except RegistryInvalid as exc:
        problems = [*problems, *exc.problems]
    return sorted(problems, key=lambda p: p.line or 0)


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RegistryInvalid([Problem(None, "(file)", f"cannot read {path}: {exc}")]) from None


def _read(text: str) -> tuple[Registry, list[Problem]]:
    """The registry of the flags that are well-formed, and the problems of the others."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = _error_line(str(exc))
        raise RegistryInvalid([Problem(None, "(file)", f"not valid TOML: {exc}", line)]) from None
    lines = _flag_lines(text)
    problems: list[Problem] = []
    tables = data.pop("flags", {})
    try:
        header = RegistryFile.model_validate(data)
    except ValidationError as exc:
        problems.extend(_problems(exc, lines))
        header = RegistryFile()
    if not isinstance(tables, dict):
        problems.append(Problem(None, "flags", "a table of [flags.<key>] tables"))
        tables = {}
    entries: dict[str, RegistryEntry] = {}
    for key, table in tables.items():
        try:
            entries[key] = RegistryFile.model_validate({"flags": {key: table}}).flags[key]
        except ValidationError as exc:
            problems.extend(_problems(exc, lines))
    return Registry(RegistryFile(environments=header.environments, flags=entries), lines), problems


def resolve_defaults(key: str, entry: RegistryEntry, environments: Sequence[str]) -> dict[str, str]:
    """The default variant of each of ``environments``."""
    variants = entry.flag_variants()

    def variant(value: DefaultValue, field: str) -> str:
        if entry.type is ValueType.BOOLEAN:
            if not isinstance(value, bool):
                raise RegistryInvalid(
                    [
                        Problem(
                            key, field, f"a boolean flag's default is true or false, not {value!r}"
                        )
                    ]
                )
            return "on" if value else "off"
        if not isinstance(value, str) or value not in variants:
            raise RegistryInvalid(
                [Problem(key, field, f"{value!r} is not one of the variants {sorted(variants)}")]
            )
        return value

    if not isinstance(entry.default, dict):
        chosen = variant(entry.default, "default")
        return dict.fromkeys(environments, chosen)
    table = entry.default
    problems = [
        Problem(
            key, f"default.{env}", f"unknown environment; the environments are {list(environments)}"
        )
        for env in table
        if env != ANY_ENVIRONMENT and env not in environments
    ]
    missing = [env for env in environments if env not in table]
    if missing and ANY_ENVIRONMENT not in table:
        problems.append(
            Problem(key, "default", f'no default for {missing}: name them or add "*" = ...')
        )
    resolved: dict[str, str] = {}
    for env in environments if not problems else ():
        named = env in table
        try:
            resolved[env] = variant(
                table[env if named else ANY_ENVIRONMENT], f"default.{env if named else '*'}"
            )
        except RegistryInvalid as exc:
            problems.extend(p for p in exc.problems if p not in problems)
    if problems:
        raise RegistryInvalid(problems)
    return resolved


def registry_flag(key: str, entry: RegistryEntry, environments: Sequence[str]) -> Flag:
    """The flag ``entry`` defines, in the registry with defaults for ``environments``."""
    defaults = resolve_defaults(key, entry, environments)
    try:
        return Flag(
            key=key,
            name=entry.name or key,
            description=entry.description,
            owner=entry.owner,
            kind=entry.kind,
            temporary=entry.temporary,
            expires_at=entry.expires_at(),
            client_visible=entry.client_visible,
            internal_only=entry.internal_only,
            value_type=entry.type,
            variants=entry.flag_variants(),
            registry=RegistryDefinition(defaults=defaults),
        )
    except ValidationError as exc:
        raise RegistryInvalid(
            [
                Problem(key, _file_field(e["field"]), e["message"].removeprefix("Value error, "))
                for e in field_errors(exc)
            ]
        ) from None


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
    if config is None or flag.registry is None or environment not in flag.registry.defaults:
        return False
    # Field by field, as default_config builds it: no model built per call (dashboard lists).
    variant = flag.registry.defaults[environment]
    return (
        config.enabled
        and config.fallthrough.variant == variant
        and config.fallthrough.rollout is None
        and config.off_variant == ("off" if "off" in flag.variants else variant)
        and not config.targets
        and not config.rules
        and not config.prerequisites
    )


# Flag fields under the names the file uses for them.
_FILE_NAMES = {"value_type": "type", "expires_at": "expires", "registry": "default", "(body)": ""}


def _file_field(field: str) -> str:
    head, _, rest = field.partition(".")
    name = _FILE_NAMES.get(head, head)
    return ".".join(p for p in (name, rest) if p) or "(flag)"


def _problems(exc: ValidationError, lines: dict[str, int]) -> list[Problem]:
    problems: dict[tuple[str | None, str], Problem] = {}
    for error in field_errors(exc):
        parts = error["field"].split(".")
        message = error["message"].removeprefix("Value error, ")
        if parts[0] != "flags" or len(parts) < 2:
            problems.setdefault((None, error["field"]), Problem(None, error["field"], message))
            continue
        key = parts[1]
        # Union members add their type to the location ("default.bool"): one problem each.
        rest = [p for p in parts[2:] if not _UNION_MEMBER.match(p)]
        field = ".".join(rest).replace("[key]", "(key)") or "(flag)"
        if rest and rest[0] == "default" and message != "Field required":
            field = "default"
            message = (
                "true/false (booleans), a variant key, or a table of environment = default "
                '(with "*" for the rest)'
            )
        problems.setdefault((key, field), Problem(key, field, message, lines.get(key)))
    return list(problems.values())


_UNION_MEMBER = re.compile(r"^(bool|str|int|float|datetime|date|dict\[.*|list\[.*)$")


_HEADER = re.compile(
    r"""^\s*\[\s*flags\s*\.\s*("(?P<q>[^"]+)"|'(?P<s>[^']+)'|(?P<b>[^\]\s.]+))\s*\]"""
)


def _flag_lines(text: str) -> dict[str, int]:
    """The line of each ``[flags.<key>]`` header: pointers for messages, not parsing."""
    lines: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if match := _HEADER.match(line):
            key = match.group("q") or match.group("s") or match.group("b")
            lines.setdefault(key, number)
    return lines


def _error_line(message: str) -> int | None:
    match = re.search(r"at line (\d+)", message)
    return int(match.group(1)) if match else None
