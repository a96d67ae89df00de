"""How soon an open dashboard shows a change made elsewhere (issue 5: within 1 s).

Starts moto, seeds the demo project, starts `ff dashboard` (as the e2e tests do), opens
the flags page in Chromium, then flips `new-checkout` in production N times through the
services (as the API or the CLI would) and times each flip from its commit until the
page's row shows it — no reload, no click.

    PYTHONPATH=. .venv/bin/python bench/admin_live_bench.py --flips 20

Prints the median, p90 and max milliseconds as JSON.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from moto.server import ThreadedMotoServer
from playwright.sync_api import sync_playwright

from ff_admin.settings import AdminSettings
from ff_core.models import Actor, ActorKind
from ff_core.services import Services
from tests.e2e.conftest import (
    CHROMIUM,
    CHROMIUM_ARGS,
    SECRET,
    Dashboard,
    seed,
    sign_in_dev,
    start_dashboard,
    stop,
)

ELSEWHERE = Actor(kind=ActorKind.USER, subject="bench@example.com")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--flips", type=int, default=20)
    args = parser.parse_args()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    table = f"ff-bench-{uuid.uuid4().hex[:8]}"
    settings = AdminSettings(dynamodb_endpoint=endpoint, table=table, key_secret=SECRET)  # type: ignore[arg-type]
    board = Dashboard("", settings, Path())
    board.run(seed)
    process, url, _ = start_dashboard(
        Path(tempfile.mkdtemp()), endpoint, {"FF_TABLE": table, "FF_AUTH": "dev"}
    )
    board.url = url
    waits: list[float] = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page()
            sign_in_dev(page, board)
            page.goto(url + "/flags?p=demo&env=production")
            page.wait_for_selector("#row-new-checkout")
            for _ in range(args.flips):
                now = page.get_attribute("#row-new-checkout", "data-enabled") == "true"

                async def flip(services: Services, to: bool = not now) -> float:
                    await services.flags.set_enabled(
                        ELSEWHERE, "demo", "new-checkout", "production", to
                    )
                    return time.perf_counter()  # committed: the clock starts here

                started = board.run(flip)
                want = "false" if now else "true"
                page.wait_for_selector(f"#row-new-checkout[data-enabled='{want}']", timeout=10_000)
                waits.append((time.perf_counter() - started) * 1000)
            browser.close()
    finally:
        stop(process)
        moto.stop()
    waits.sort()
    print(
        json.dumps(
            {
                "flips": len(waits),
                "median_ms": round(statistics.median(waits), 1),
                "p90_ms": round(waits[int(len(waits) * 0.9) - 1], 1),
                "max_ms": round(waits[-1], 1),
            }
        )
    )


if __name__ == "__main__":
    main()
