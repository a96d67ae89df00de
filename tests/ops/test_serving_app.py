"""What `ff api` serves: the app, with the process's long-lived objects frozen out of the
garbage collector, at build and again once its lifespan has opened the store, then on the
collector's schedule (in a child process: freezing the test runner's objects would leak)."""

from __future__ import annotations

import os
import subprocess
import sys

from ff_core.settings import Settings

SCRIPT = """
import asyncio, gc
from ff_api.app import serving_app
before = gc.get_freeze_count()
app = serving_app()
built = gc.get_freeze_count()

async def start() -> tuple[int, bool]:
    async with app.router.lifespan_context(app):
        tasks = {t.get_name() for t in asyncio.all_tasks()}
        return gc.get_freeze_count(), "ff-gc" in tasks

started, collecting = asyncio.run(start())
print(before, built, started, collecting, type(app).__name__)
"""


def test_serving_app__built_and_started__long_lived_objects_frozen_out_of_full_collections(
    dynamo_settings: Settings,
) -> None:
    env = {
        **os.environ,
        "FF_DYNAMODB_ENDPOINT": dynamo_settings.dynamodb_endpoint or "",
        "FF_TABLE": dynamo_settings.table,
        "FF_KEY_SECRET": "k" * 32,
        "FF_OUTBOUND_ENABLED": "false",
    }
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, env=env
    )

    assert result.returncode == 0, result.stderr[-2000:]
    before, built, started, collecting, kind = result.stdout.split()
    assert (int(before), kind) == (0, "App")  # ff_api.event_stream.App, a Starlette
    assert int(built) > 20_000  # modules, classes, the app: tens of thousands of objects
    # The lifespan's store client (botocore's service model) joins them: thousands more.
    assert int(started) > int(built) + 5_000
    assert collecting == "True"  # and keeps doing so (ff_api/collector.py)
