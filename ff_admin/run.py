"""``ff dashboard``: build and serve the dashboard (Reflex, production mode, one port).

Checks the settings first (dev sign-in refuses anything but loopback), then replaces this
process with ``reflex run`` in the directory holding rxconfig.py.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from ff_admin.settings import AdminSettings, check_dev_bind
from ff_core.settings import read_settings

ROOT = Path(__file__).resolve().parent.parent


def reflex_environment(settings: AdminSettings, base: dict[str, str]) -> dict[str, str]:
    """The environment ``reflex run`` needs here: bun from .tools, no telemetry."""
    env = dict(base)
    tools = ROOT / ".tools" / "node_modules" / ".bin"
    if (tools / "bun").exists():
        env["PATH"] = f"{tools}{os.pathsep}{env.get('PATH', '')}"
    if shutil.which("bun", path=env.get("PATH")):
        env["REFLEX_USE_SYSTEM_BUN"] = "1"
    env["REFLEX_TELEMETRY_ENABLED"] = "false"
    env.setdefault("FF_PUBLIC_URL", settings.public_url)
    return env


def command(settings: AdminSettings) -> list[str]:
    port = str(settings.admin_port)
    return [
        sys.executable,
        "-m",
        "reflex",
        "run",
        "--env",
        "prod",
        "--single-port",
        "--backend-host",
        settings.admin_host,
        "--backend-port",
        port,
        "--frontend-port",
        port,
        "--loglevel",
        "warning",
    ]


def main() -> None:
    settings = read_settings(AdminSettings)
    if settings is None:
        raise SystemExit(2)
    try:
        check_dev_bind(settings)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    os.chdir(ROOT)
    args = command(settings)
    os.execve(args[0], args, reflex_environment(settings, dict(os.environ)))


if __name__ == "__main__":
    main()
