"""Operations: `ff api` as a process, its logs, the settings table, the deployment files."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

# The API's seeded store (demo project, server/client/admin keys) on moto's server, and
# the app under uvicorn in a thread.
from tests.api.conftest import SECRET, Seeded, api_url, http, seeded

__all__ = ["SECRET", "ApiProcess", "Seeded", "api_url", "http", "seeded"]

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ApiProcess:
    """`ff api` exactly as an operator starts it, its stderr kept in a file."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env, self.log_path = env, log_path
        self.port = int(env["FF_API_PORT"])
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> str:
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "ff_core", "api"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )
        deadline = time.monotonic() + 30
        while True:
            assert self.process.poll() is None, self.output()
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self.url
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "ff api did not answer /healthz\n" + self.output()
            time.sleep(0.1)

    def stop(self) -> str:
        """SIGTERM, wait, and everything it wrote."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return self.output()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def api_env(seeded: Seeded) -> dict[str, str]:
    settings = seeded.settings
    assert settings.dynamodb_endpoint is not None
    return {
        **os.environ,
        "FF_DYNAMODB_ENDPOINT": settings.dynamodb_endpoint,
        "FF_TABLE": settings.table,
        "FF_KEY_SECRET": SECRET,
        "FF_API_HOST": "127.0.0.1",
        "FF_API_PORT": str(free_port()),
        "FF_POLL_INTERVAL_S": "0.2",
        "FF_LOG_FORMAT": "json",
        "FF_LOG_LEVEL": "info",
    }


@pytest.fixture
def api_process(api_env: dict[str, str], tmp_path: Path) -> Iterator[ApiProcess]:
    process = ApiProcess(api_env, tmp_path / "api.log")
    process.start()
    yield process
    process.stop()
