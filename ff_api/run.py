"""``ff api``: check the settings, set up the logs, serve ``create_app`` under uvicorn.

Invalid ``FF_*`` values stop it here with one line per field and exit status 2, before
uvicorn starts (a settings error inside uvicorn's factory loading would be a traceback).
"""

from __future__ import annotations

import uvicorn
from starlette.applications import Starlette

from ff_api.app import serving_app
from ff_api.serve import fix_bound_sockets
from ff_api.settings import ApiSettings
from ff_core import logs
from ff_core.settings import read_settings


def worker_app() -> Starlette:
    """The app in each of ``FF_API_WORKERS`` processes (they read the same environment)."""
    settings = ApiSettings()
    logs.configure(logs.LogSettings())
    return serving_app(settings)


def main() -> None:
    settings, log_settings = read_settings(ApiSettings), read_settings(logs.LogSettings)
    if settings is None or log_settings is None:
        raise SystemExit(2)
    logs.configure(log_settings)
    app: Starlette | str = serving_app(settings)
    if settings.api_workers > 1:
        fix_bound_sockets()  # else each keep-alive request waits ~40 ms (ff_api/serve.py)
        app = "ff_api.run:worker_app"
    uvicorn.run(
        app,
        factory=settings.api_workers > 1,
        workers=settings.api_workers,
        # A worker still importing on a busy machine must not be killed as unresponsive.
        timeout_worker_healthcheck=30,
        host=settings.api_host,
        port=settings.api_port,
        log_config=logs.dict_config(log_settings),
        access_log=False,  # ff_api.access logs each request, with its request id
        # Behind a load balancer: trust X-Forwarded-For from the addresses in uvicorn's
        # FORWARDED_ALLOW_IPS (default 127.0.0.1), so logs show the caller's address.
        proxy_headers=True,
        server_header=False,
    )


if __name__ == "__main__":
    main()
