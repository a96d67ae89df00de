"""docs/CONFIGURATION.md lists every setting as the models define it, and invalid values
stop each command at start with a clear line, not a traceback."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from enum import Enum
from pathlib import Path
from typing import Any

import annotated_types
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings

from ff_admin.settings import AdminSettings
from ff_api.settings import ApiSettings
from ff_core.logs import LogSettings
from ff_core.settings import Settings
from tests.ops.conftest import ROOT, free_port

MODELS: list[type[BaseSettings]] = [Settings, ApiSettings, AdminSettings, LogSettings]
# Read from the environment where they are used, not through a settings model.
OUTSIDE_MODELS = {
    "FF_ACTOR": ROOT / "ff_core" / "admin.py",
    "FF_HEALTHCHECK_URL": ROOT / "Dockerfile",
}
FF = [sys.executable, "-m", "ff_core"]


def documented() -> dict[str, dict[str, str]]:
    """The table's rows by variable: default, read by, meaning, validation."""
    rows: dict[str, dict[str, str]] = {}
    for line in (ROOT / "docs" / "CONFIGURATION.md").read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 5 and (name := re.match(r"`(FF_[A-Z0-9_]+)`", cells[0])):
            assert name.group(1) not in rows, f"{name.group(1)} is documented twice"
            rows[name.group(1)] = dict(
                zip(("default", "read_by", "meaning", "validation"), cells[1:], strict=True)
            )
    return rows


def fields() -> dict[str, FieldInfo]:
    found: dict[str, FieldInfo] = {}
    for model in MODELS:
        for name, info in model.model_fields.items():
            found.setdefault(f"FF_{name.upper()}", info)
    return found


def shown(default: Any) -> str:
    """How the table writes a default."""
    if default is None:
        return "unset"
    if isinstance(default, Enum):
        default = default.value
    return f"`{default}`"


def bounds(info: FieldInfo) -> list[float]:
    kinds = (annotated_types.Ge, annotated_types.Gt, annotated_types.Le, annotated_types.Lt)
    return [
        float(getattr(m, m.__class__.__name__.lower()))
        for m in info.metadata
        if isinstance(m, kinds)
    ]


def test_configuration_table__every_setting_of_every_model__documented() -> None:
    table = documented()

    assert sorted(set(fields()) - set(table)) == []
    assert sorted(set(table) - set(fields()) - set(OUTSIDE_MODELS)) == []
    for name, source in OUTSIDE_MODELS.items():
        assert name in table
        assert name in source.read_text(), f"{name} is no longer read in {source}"


def test_configuration_table__defaults__as_the_models_define_them() -> None:
    table = documented()

    wrong = {
        name: (table[name]["default"], shown(info.get_default(call_default_factory=True)))
        for name, info in fields().items()
        if table[name]["default"] != shown(info.get_default(call_default_factory=True))
    }

    assert wrong == {}


def test_configuration_table__numeric_bounds__in_the_validation_column() -> None:
    table = documented()

    missing = {
        name: bound
        for name, info in fields().items()
        for bound in bounds(info)
        if (str(int(bound)) if bound.is_integer() else str(bound))
        not in table[name]["validation"].replace(",", "")
    }

    assert missing == {}


def run(command: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*FF, command, *(["--no-dashboard"] if command == "serve" else [])],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


def test_api__invalid_settings__one_line_each_status_2_and_no_secret_echoed(
    tmp_path: Path,
) -> None:
    secret = "not-long-enough-s3cr3t"
    env = {
        "FF_DATA_DIR": str(tmp_path),
        "FF_API_PORT": "99999",
        "FF_POLL_INTERVAL_S": "soon",
        "FF_TABLE": "a b",
        "FF_KEY_SECRET": secret,
        "FF_LOG_LEVEL": "loud",
    }

    result = run("api", env)

    assert result.returncode == 2, result.stderr
    assert sorted(result.stderr.splitlines()) == [
        "error: FF_API_PORT: Input should be less than or equal to 65535",
        "error: FF_KEY_SECRET: Value should have at least 32 items after validation, not 22",
        "error: FF_LOG_LEVEL: Input should be 'DEBUG', 'INFO', 'WARNING' or 'ERROR'",
        "error: FF_POLL_INTERVAL_S: Input should be a valid number, unable to parse string as a"
        " number",
        "error: FF_TABLE: String should match pattern '^[A-Za-z0-9_.-]{3,255}$'",
    ]
    assert secret not in result.stderr + result.stdout


def test_dashboard__invalid_settings__one_line_each_and_status_2(tmp_path: Path) -> None:
    env = {"FF_DATA_DIR": str(tmp_path), "FF_ADMIN_PORT": "0", "FF_AUTH": "ldap"}

    result = run("dashboard", env)

    assert result.returncode == 2, result.stderr
    assert sorted(result.stderr.splitlines()) == [
        "error: FF_ADMIN_PORT: Input should be greater than or equal to 1",
        "error: FF_AUTH: Input should be 'dev' or 'oidc'",
    ]


def test_dashboard__oidc_without_its_client__says_what_is_missing_not_a_field(
    tmp_path: Path,
) -> None:
    env = {"FF_DATA_DIR": str(tmp_path), "FF_AUTH": "oidc", "FF_OIDC_ISSUER": ""}

    result = run("dashboard", env)

    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: FF_AUTH=oidc needs"), lines  # a rule across variables
    assert "(BODY)" not in result.stderr
    assert "Value error" not in result.stderr


def test_serve__invalid_setting__one_line_and_status_2(tmp_path: Path) -> None:
    result = run("serve", {"FF_DATA_DIR": str(tmp_path), "FF_EMBEDDED_PORT": "-1"})

    assert result.returncode == 2, result.stderr
    assert result.stderr == "error: FF_EMBEDDED_PORT: Input should be greater than or equal to 0\n"


def test_serve__api_settings_invalid__the_child_says_why_and_serve_stops_with_2(
    tmp_path: Path,
) -> None:
    # ff serve checks its own settings; the API's it leaves to `ff api`, and stops with it.
    env = {
        "FF_DATA_DIR": str(tmp_path),
        "FF_EMBEDDED_PORT": str(free_port()),
        "FF_API_PORT": "99999",
    }

    result = run("serve", env)

    assert result.returncode == 2, result.stdout + result.stderr
    assert "error: FF_API_PORT: Input should be less than or equal to 65535" in result.stderr
    assert "error: `ff api` exited (status 2); stopping" in result.stderr
    assert "Traceback" not in result.stderr
    assert (tmp_path / "table.json").exists()  # the demo project it seeded is kept
