"""The Dockerfile read as data, and its build run without a Docker engine.

``python -m tests.ops.dockerfile`` (``scripts/docker-dry-run``) copies the build context
as ``.dockerignore`` filters it into a temporary directory, runs the build stage's RUN
steps there with its ENV and WORKDIR (``/app`` and ``/opt/ff`` mapped into the temporary
directory), then starts the final stage's ENTRYPOINT + CMD on a moto DynamoDB and runs
its HEALTHCHECK against it. What differs from a real build, and why:

- the base images cannot be pulled here: the machine's Python 3.11 and Node 20 stand in
  for ``python:3.11-slim`` and the ``node`` stage (the steps copying Node are skipped);
- ``--no-cache-dir`` is dropped so pip reuses this machine's download cache;
- the process runs as the calling user, bound to 127.0.0.1, not as uid 10001 on 0.0.0.0.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import logging
import os
import re
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAPPED = ("/app", "/opt/ff")  # absolute paths of the image that the dry run relocates


@dataclass
class Instruction:
    keyword: str
    args: str

    def exec_form(self) -> list[str] | None:
        try:
            parsed = json.loads(self.args)
        except json.JSONDecodeError:
            return None
        return parsed if isinstance(parsed, list) else None


@dataclass
class Stage:
    image: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """The stage's ENV, in order, ``$VAR`` expanded against what came before it."""
        values: dict[str, str] = {}
        for instruction in self.all("ENV"):
            for pair in shlex.split(instruction.args):
                key, _, value = pair.partition("=")
                values[key] = _expand(value, {**(base or {}), **values})
        return values


def _expand(value: str, known: dict[str, str]) -> str:
    return re.sub(r"\$(\w+)", lambda m: known.get(m.group(1), ""), value)


def parse(text: str) -> list[Stage]:
    """Stages with their instructions (line continuations joined, comments dropped)."""
    logical: list[str] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    stages: list[Stage] = []
    for line in logical:
        keyword, _, args = line.partition(" ")
        keyword, args = keyword.upper(), args.strip()
        if keyword == "FROM":
            parts = args.split()
            name = parts[2] if len(parts) == 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(parts[0], name))
        else:
            stages[-1].instructions.append(Instruction(keyword, args))
    return stages


def healthcheck_command(stage: Stage) -> list[str]:
    """The exec form of the stage's HEALTHCHECK CMD."""
    (healthcheck,) = stage.all("HEALTHCHECK")
    command = healthcheck.args.partition("CMD ")[2]
    parsed = json.loads(command)
    assert isinstance(parsed, list), "HEALTHCHECK CMD must be in exec form"
    return [str(part) for part in parsed]


def dockerignore_patterns() -> list[str]:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule, simplified: a pattern matches the path or one of its parent folders."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    for pattern in patterns:
        bare = pattern.removeprefix("**/")
        for prefix in prefixes:
            if fnmatch.fnmatch(prefix, pattern) or fnmatch.fnmatch(prefix.rsplit("/", 1)[-1], bare):
                return True
    return False


def context_files() -> list[str]:
    """What ``docker build .`` sends: the checkout's files less ``.dockerignore``'s."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    patterns = dockerignore_patterns()
    return [p for p in listed if (ROOT / p).is_file() and not ignored(p, patterns)]


def relocate(text: str, base: Path) -> str:
    for path in MAPPED:
        text = re.sub(rf"(?<![\w.]){re.escape(path)}(?=[/\s:\"']|$)", str(base) + path, text)
    return text


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def build(stage: Stage, base: Path, log: list[str]) -> dict[str, str]:
    """Run the build stage's COPY and RUN steps under ``base``; its environment."""
    tools = base / "bin"
    tools.mkdir(parents=True)
    (tools / "python").symlink_to(getattr(sys, "_base_executable", sys.executable))
    env = {**os.environ, "PATH": f"{tools}{os.pathsep}{os.environ['PATH']}"}
    files = context_files()
    workdir = base
    for instruction in stage.instructions:
        if instruction.keyword == "WORKDIR":
            workdir = Path(relocate(instruction.args, base))
            workdir.mkdir(parents=True, exist_ok=True)
        elif instruction.keyword == "ENV":
            continue  # applied below, in order with the RUN steps
        elif instruction.keyword == "COPY" and "--from=" in instruction.args:
            log.append(f"skipped (this machine's Node stands in): COPY {instruction.args}")
        elif instruction.keyword == "COPY":
            *sources, dest = shlex.split(instruction.args)
            for source in sources:
                _copy(
                    source, workdir / dest, files, into_dir=dest.endswith("/") or len(sources) > 1
                )
        elif instruction.keyword == "RUN":
            if "/usr/local/" in instruction.args:
                log.append(f"skipped (installs the node stage's npm): RUN {instruction.args}")
                continue
            command = relocate(instruction.args.replace("--no-cache-dir", ""), base)
            step_env = {**env, **_env_until(stage, instruction, env, base)}
            log.append(f"RUN {command}")
            started = time.monotonic()
            subprocess.run(
                ["bash", "-euo", "pipefail", "-c", command], cwd=workdir, env=step_env, check=True
            )
            log.append(f"    ok in {time.monotonic() - started:.0f} s")
    return env


def _copy(source: str, target: Path, files: list[str], into_dir: bool) -> None:
    """COPY's rules: a file goes to ``target`` (or into it), a folder's contents into it."""
    if source in files:
        moves = [(source, target / Path(source).name if into_dir else target)]
    else:
        prefix = source.rstrip("/") + "/"
        moves = [(f, target / f.removeprefix(prefix)) for f in files if f.startswith(prefix)]
    if not moves:
        raise SystemExit(f"COPY {source}: not in the build context (see .dockerignore)")
    for name, into in moves:
        into.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, into)


def _env_until(stage: Stage, until: Instruction, env: dict[str, str], base: Path) -> dict[str, str]:
    """The ENV in force at ``until``, relocated."""
    partial = Stage(stage.image, stage.name, stage.instructions[: stage.instructions.index(until)])
    return {k: relocate(v, base) for k, v in partial.env(env).items()}


def run_final(
    stage: Stage, base: Path, env: dict[str, str], dashboard: bool, timeout: float
) -> None:
    """Start ENTRYPOINT + CMD (and optionally the dashboard) and wait for HEALTHCHECK."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per DynamoDB request
    (entrypoint,) = stage.all("ENTRYPOINT")
    (cmd,) = stage.all("CMD")
    check = healthcheck_command(stage)
    image_env = {k: relocate(v, base) for k, v in stage.env(env).items()}
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    runs = [(cmd.exec_form() or [], {"FF_API_PORT": str(_free_port())})]
    if dashboard:
        admin_port = str(_free_port())
        runs.append(
            (
                ["dashboard"],
                {
                    "FF_ADMIN_PORT": admin_port,
                    "FF_PUBLIC_URL": f"http://127.0.0.1:{admin_port}",
                    "FF_HEALTHCHECK_URL": f"http://127.0.0.1:{admin_port}/ping",
                },
            )
        )
    try:
        table_env = {
            "FF_DYNAMODB_ENDPOINT": f"http://{host}:{port}",
            "FF_TABLE": "ff-docker-dry-run",
            "FF_KEY_SECRET": secrets.token_urlsafe(32),
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }
        prepare = {**env, **image_env, **table_env}
        subprocess.run(
            [*(entrypoint.exec_form() or []), "table", "create"], env=prepare, check=True
        )
        for args, extra in runs:
            run_env = {**prepare, "FF_API_HOST": "127.0.0.1", "FF_ADMIN_HOST": "127.0.0.1", **extra}
            _serve_and_check(
                [*(entrypoint.exec_form() or []), *args], check, run_env, base, timeout
            )
    finally:
        moto.stop()


def _serve_and_check(
    command: list[str], check: list[str], env: dict[str, str], base: Path, timeout: float
) -> None:
    print(f"$ {' '.join(command)}", flush=True)
    process = subprocess.Popen(command, env=env, cwd=base / "app", start_new_session=True)
    deadline = time.monotonic() + timeout
    try:
        while True:
            if process.poll() is not None:
                raise SystemExit(f"{' '.join(command)} exited with {process.returncode}")
            if subprocess.run(check, env=env, capture_output=True).returncode == 0:
                print(f"HEALTHCHECK passed for `{' '.join(command)}`", flush=True)
                return
            if time.monotonic() > deadline:
                raise SystemExit(f"HEALTHCHECK never passed for `{' '.join(command)}`")
            time.sleep(1)
    finally:
        os.killpg(process.pid, 15)
        process.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--dashboard", action="store_true", help="also start `ff dashboard`")
    parser.add_argument("--timeout", type=float, default=300, help="seconds per start")
    options = parser.parse_args()
    stages = parse((ROOT / "Dockerfile").read_text())
    build_stage, final = next(s for s in stages if s.name == "build"), stages[-1]
    base = Path(tempfile.mkdtemp(prefix="ff-docker-dry-run-"))
    log: list[str] = []
    started = time.monotonic()
    try:
        env = build(build_stage, base, log)
        print("\n".join(log), flush=True)
        print(f"build stage: {time.monotonic() - started:.0f} s in {base}", flush=True)
        run_final(final, base, env, options.dashboard, options.timeout)
    finally:
        if not options.keep:
            shutil.rmtree(base, ignore_errors=True)
    print(f"docker dry run passed in {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
