"""The README's SDK snippet, run as a user would run it, against the real API."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from tests.client.conftest import ApiServer, Seeded

README = Path(__file__).resolve().parents[2] / "README.md"


def sdk_snippet() -> str:
    section = README.read_text().split("## From Python: the SDK", 1)[1]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


async def test_readme__sdk_snippet__runs_against_the_api(
    api_server: ApiServer, seeded: Seeded
) -> None:
    env = {**os.environ, "FF_API_URL": api_server.url, "FF_SERVER_KEY": seeded.server_key}

    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-c", sdk_snippet()],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["True", "Good to see you again! friendly TARGETING_MATCH"]
