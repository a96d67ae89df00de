"""Running ``ff`` commands in-process (Typer's CliRunner) against a fresh table on moto's
DynamoDB server: the same code path as the executable, without a process per command."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from typer.testing import CliRunner, Result

from ff_core.admin import library_actor
from ff_core.cli import app
from ff_core.models import Environment, Project
from ff_core.services import Services
from ff_core.settings import Settings
from ff_core.store import DynamoStore
from tests.conftest import TEST_CREDENTIALS

FF = [sys.executable, "-m", "ff_core"]


class Cli:
    def __init__(self, moto_endpoint: str) -> None:
        self.table = f"ff-cli-{uuid.uuid4().hex[:12]}"
        self.env = {
            "FF_DYNAMODB_ENDPOINT": moto_endpoint,
            "FF_TABLE": self.table,
            "FF_DEFAULT_PROJECT": "shop",
            "FF_ACTOR": "cli-test",
            "FF_ENVIRONMENT": "development",
        }
        self.settings = Settings(dynamodb_endpoint=moto_endpoint, table=self.table)
        self._runner = CliRunner()

    def __call__(self, *args: str, stdin: str | None = None) -> Result:
        result = self._runner.invoke(app, list(args), env=self.env, input=stdin)
        # Anything but a clean exit would be a traceback for a user.
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        assert "Traceback" not in result.output
        return result

    def ok(self, *args: str) -> Result:
        result = self(*args)
        assert result.exit_code == 0, result.stderr
        return result

    def json(self, *args: str) -> Any:
        """The one JSON document a ``--json`` command writes; nothing else on either stream."""
        result = self.ok(*args, "--json")
        assert result.stderr == ""
        return json.loads(result.stdout)

    def executable(self, *args: str, **popen: Any) -> subprocess.CompletedProcess[str]:
        """The real ``ff`` process, for what only a process shows (TTYs, exit paths)."""
        return subprocess.run(
            [*FF, *args],
            env={**os.environ, **self.env},
            text=True,
            timeout=60,
            **(popen or {"capture_output": True}),
        )

    @asynccontextmanager
    async def services(self) -> AsyncIterator[Services]:
        """The services on the same table, for setting up what the CLI cannot make."""
        async with DynamoStore.open(self.settings, credentials=TEST_CREDENTIALS) as store:
            yield Services(store)


def shop(moto_endpoint: str) -> Cli:
    """A fresh table with project ``shop`` (development, production)."""
    cli = Cli(moto_endpoint)

    async def setup() -> None:
        async with cli.services() as services:
            await services.store.ensure_table()
            environments = tuple(Environment(key=k, name=k) for k in ("development", "production"))
            project = Project(key="shop", name="Shop", environments=environments)
            await services.projects.create_project(library_actor(), project)

    asyncio.run(setup())
    return cli
