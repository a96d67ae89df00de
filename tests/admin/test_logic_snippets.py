"""Quickstart snippets: real API calls and URLs, a placeholder where the raw key is unknown."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import shutil
import subprocess

import pytest

from ff_admin.logic.snippets import Snippet, snippets

FULL_SERVER_KEY = "ffs_" + "k" * 43


def by_title(items: list[Snippet]) -> dict[str, Snippet]:
    return {s.title: s for s in items}


def quickstart(server: str = "ffs_AbCdEfGh", client: str = "ffc_XyZ12345") -> dict[str, Snippet]:
    return by_title(
        snippets("http://localhost:8080/", "demo", "production", server, client, "new-checkout")
    )


def test_snippets__any__one_per_way_in() -> None:
    assert [(s.title, s.language) for s in quickstart().values()] == [
        ("Python service (ff SDK)", "python"),
        ("Python with OpenFeature", "python"),
        ("Browser module (ff.js)", "html"),
        ("Browser EventSource", "javascript"),
        ("curl (OFREP)", "bash"),
    ]


@pytest.mark.parametrize("title", ["Python service (ff SDK)", "Python with OpenFeature"])
def test_snippets__python__compiles(title: str) -> None:
    code = quickstart()[title].code
    compile(code, title, "exec")


def test_snippets__python_sdk__uses_the_client_api() -> None:
    code = quickstart()["Python service (ff SDK)"].code
    assert "from ff_core.client import FlagClient" in code
    assert "FlagClient(url=FF_API_URL, server_key=FF_SERVER_KEY)" in code
    assert 'await flags.is_enabled("new-checkout", user, default=False)' in code
    assert 'FF_API_URL = "http://localhost:8080"\n' in code


def test_snippets__python_imports__exist() -> None:
    for title in ["Python service (ff SDK)", "Python with OpenFeature"]:
        tree = ast.parse(quickstart()[title].code)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                assert node.module is not None
                module = importlib.import_module(node.module)
                for alias in node.names:
                    found = hasattr(module, alias.name) or importlib.util.find_spec(
                        f"{node.module}.{alias.name}"
                    )
                    assert found, (node.module, alias.name)


def test_snippets__key_prefix__placeholder_with_a_comment_to_paste_the_key() -> None:
    items = quickstart()
    assert 'FF_SERVER_KEY = "ffs_AbCdEfGh..."' in items["Python service (ff SDK)"].code
    assert "# Paste the full key" in items["Python service (ff SDK)"].code
    assert 'clientKey: "ffc_XyZ12345..."' in items["Browser module (ff.js)"].code
    assert "// Paste the full key" in items["Browser EventSource"].code
    assert "FF_KEY=ffs_AbCdEfGh...\n" in items["curl (OFREP)"].code
    assert "environment 'production'" in items["curl (OFREP)"].code


def test_snippets__full_key__written_without_placeholder() -> None:
    code = quickstart(server=FULL_SERVER_KEY)["Python service (ff SDK)"].code
    assert f'FF_SERVER_KEY = "{FULL_SERVER_KEY}"\n' in code
    assert "Paste" not in code


def test_snippets__no_key__bare_prefix_and_how_to_get_one() -> None:
    code = quickstart(client="")["Browser module (ff.js)"].code
    assert 'clientKey: "ffc_..."' in code
    assert "Create one" in code


def test_snippets__browser__the_api_urls_and_parameters() -> None:
    items = quickstart()
    module = items["Browser module (ff.js)"].code
    assert 'import { connect } from "http://localhost:8080/sdk/ff.js";' in module
    assert 'flags.isEnabled("new-checkout")' in module
    stream = items["Browser EventSource"].code
    assert '"http://localhost:8080/api/v1/browser/stream"' in stream
    assert 'key: "ffc_XyZ12345...",' in stream
    assert "context: JSON.stringify(" in stream
    assert 'addEventListener("snapshot"' in stream
    assert 'addEventListener("change"' in stream


def test_snippets__curl__posts_to_ofrep_with_the_key() -> None:
    code = quickstart()["curl (OFREP)"].code
    assert "curl -X POST http://localhost:8080/ofrep/v1/evaluate/flags/new-checkout" in code
    assert "Authorization: Bearer $FF_KEY" in code
    assert '"targetingKey": "user-1"' in code


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash")
def test_snippets__curl__valid_shell() -> None:
    code = quickstart()["curl (OFREP)"].code
    subprocess.run(["bash", "-n"], input=code, text=True, check=True)


def test_snippets__hostile_url__stays_inside_string_literals() -> None:
    url = "http://x/</script><script>alert(1)//'\""
    items = by_title(snippets(url, "demo", "production", "", "", "a"))
    assert "</script><script>" not in items["Browser module (ff.js)"].code
    compile(items["Python service (ff SDK)"].code, "sdk", "exec")
    subprocess.run(["bash", "-n"], input=items["curl (OFREP)"].code, text=True, check=True)
