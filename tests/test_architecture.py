"""The architecture rules of DESIGN 1 and STYLE 1-2, read from the source."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import ff_core.models
import ff_core.services
import ff_core.store

ROOT = Path(__file__).resolve().parent.parent
CORE = ROOT / "ff_core"


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def roots(path: Path) -> set[str]:
    return {name.split(".")[0] for name in imported_modules(path)}


CORE_FILES = sorted(CORE.rglob("*.py"))


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_ff_core__any_module__imports_no_web_framework_nor_upper_layer(path: Path) -> None:
    forbidden = {"starlette", "sse_starlette", "reflex", "ff_api", "ff_admin", "uvicorn"}
    assert not roots(path) & forbidden


def test_ff_core__aioboto3__imported_only_by_the_dynamodb_store() -> None:
    importers = {
        str(p.relative_to(ROOT)) for p in CORE_FILES if roots(p) & {"aioboto3", "aiobotocore"}
    }
    # The store, and the outbound SQS sink (AWS I/O of its own, not storage).
    assert importers == {"ff_core/store/dynamodb.py", "ff_core/outbound/sqs.py"}


@pytest.mark.parametrize("name", ["evaluation.py", "operators.py", "bucketing.py", "graph.py"])
def test_pure_core__module__imports_no_io_clock_or_randomness(name: str) -> None:
    impure = {"asyncio", "aioboto3", "botocore", "time", "random", "secrets", "socket", "os"}
    assert not roots(CORE / name) & impure
    assert "datetime.now" not in (CORE / name).read_text()


@pytest.mark.parametrize("module", [ff_core.models, ff_core.store, ff_core.services])
def test_public_names__all__is_sorted_and_importable(module: object) -> None:
    names = list(module.__all__)  # type: ignore[attr-defined]
    assert names == sorted(names)
    for name in names:
        assert hasattr(module, name)
