"""What `ff api` serves: the app, with the process's long-lived objects frozen out of the
garbage collector (in a child process: freezing the test runner's objects would leak)."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import gc
from ff_api.app import serving_app
before = gc.get_freeze_count()
app = serving_app()
print(before, gc.get_freeze_count(), type(app).__name__)
"""


def test_serving_app__built__imports_and_app_frozen_out_of_full_collections() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, check=True
    )

    before, after, kind = result.stdout.split()
    assert (int(before), kind) == (0, "Starlette")
    assert int(after) > 20_000  # modules, classes, the app: tens of thousands of objects
