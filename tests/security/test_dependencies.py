"""The locked versions (constraints.txt) that scripts/audit checks against known advisories.

The audit itself needs the network (see scripts/audit); these checks do not: every line
is an exact pin, so an audit without dependency resolution covers exactly what is
installed; and Authlib, which signs dashboard users in, is at least 1.9 (issue 9).
"""

from __future__ import annotations

from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]


def locked() -> dict[str, Requirement]:
    lines = (ROOT / "constraints.txt").read_text().splitlines()
    requirements = [
        Requirement(line) for line in lines if line.strip() and not line.startswith("#")
    ]
    return {canonicalize_name(r.name): r for r in requirements}


def test_constraints__every_line_an_exact_pin() -> None:
    pins = locked()

    loose = [str(r) for r in pins.values() if [s.operator for s in r.specifier] != ["=="]]
    assert loose == []
    assert len(pins) > 50


def test_constraints__authlib_at_least_1_9() -> None:
    [pin] = locked()["authlib"].specifier

    assert Version(pin.version) >= Version("1.9")
