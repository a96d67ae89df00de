"""The README's run command, as a user runs it: `ff serve`, then the CLI in another shell."""

from __future__ import annotations

import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

FF = [sys.executable, "-m", "ff_core"]


def ff(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*FF, *args], env=env, capture_output=True, text=True, timeout=60)


class Server:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> str:
        self.process = subprocess.Popen(
            [*FF, "serve", "--no-api", "--no-dashboard"],
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        banner = self.process.stdout.readline()
        assert "ff is running" in banner, banner + (
            self.process.stderr.read() if self.process.stderr else ""
        )
        return banner

    def stop(self, sig: int = signal.SIGTERM) -> None:
        assert self.process is not None
        self.process.send_signal(sig)
        self.process.communicate(timeout=30)  # waits, and closes the pipes


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "FF_DATA_DIR": str(tmp_path / "data"),
        "FF_EMBEDDED_PORT": "0",
        "FF_DEFAULT_PROJECT": "demo",
        "FF_ACTOR": "cli-test",
    }


@pytest.fixture
def server(env: dict[str, str]) -> Iterator[Server]:
    running = Server(env)
    yield running
    if running.process is not None and running.process.poll() is None:
        running.stop(signal.SIGKILL)


def test_serve__fresh_data_dir__seeds_demo_and_cli_reads_it(
    server: Server, env: dict[str, str]
) -> None:
    assert "seeded the demo project" in server.start()

    listed = ff(env, "flags", "list", "--json")
    evaluated = ff(
        env,
        "eval",
        "new-checkout",
        "-e",
        "production",
        "--json",
        "--context",
        '{"targeting_key": "u1", "country": "CA", "plan": "pro"}',
    )

    assert listed.returncode == 0, listed.stderr
    assert [f["key"] for f in json.loads(listed.stdout)] == [
        "banner-text",
        "new-checkout",
        "search.max-results",
    ]
    assert json.loads(evaluated.stdout) == {
        "key": "new-checkout",
        "value": True,
        "variant": "on",
        "reason": "TARGETING_MATCH",
        "error_code": None,
    }


def test_serve__restart_after_changes__state_and_history_kept(
    server: Server, env: dict[str, str]
) -> None:
    server.start()
    changed = ff(env, "flags", "set-enabled-in", "new-checkout", "staging", "-m", "try it")
    assert changed.returncode == 0, changed.stderr
    server.stop()

    assert "restored" in server.start()
    flag = json.loads(ff(env, "flags", "get", "new-checkout", "--json").stdout)
    history = json.loads(ff(env, "flags", "history", "new-checkout", "--json").stdout)

    assert {e: c["enabled"] for e, c in flag["environments"].items()} == {
        "development": False,
        "staging": True,
        "production": False,
    }
    assert [(h["action"], h["actor"]["subject"], h["note"]) for h in history["items"]] == [
        ("enabled_set", "cli-test", "try it"),
        ("created", "ff-demo-seed", ""),
    ]
    # History never disagrees with state: the newest entry's "new" is the stored flag.
    assert history["items"][0]["new"] == flag


def test_cli__bad_input__clear_message_and_nonzero_exit(
    server: Server, env: dict[str, str]
) -> None:
    server.start()

    unknown_env = ff(env, "flags", "set-enabled-in", "new-checkout", "moon")
    unknown_flag = ff(env, "flags", "get", "nope")
    bad_context = ff(env, "eval", "new-checkout", "--context", "{not json")
    missing_key = ff(env, "eval", "new-checkout", "-e", "production")

    assert (unknown_env.returncode, unknown_flag.returncode, bad_context.returncode) == (1, 1, 2)
    assert "unknown environment(s) ['moon']" in unknown_env.stderr
    assert "flag 'nope' not found" in unknown_flag.stderr
    assert "--context is not JSON" in bad_context.stderr
    assert "Traceback" not in unknown_env.stderr + unknown_flag.stderr + bad_context.stderr
    assert missing_key.returncode == 1
    assert "TARGETING_KEY_MISSING" in missing_key.stdout


def test_cli__no_store_running__explains_how_to_start_one(env: dict[str, str]) -> None:
    result = ff(env, "flags", "list")

    assert result.returncode == 1
    assert "start it with `ff serve`" in result.stderr


def test_cli__invalid_setting__names_the_variable(env: dict[str, str]) -> None:
    result = ff({**env, "FF_DEFAULT_PROJECT": "Not A Key"}, "flags", "list")

    assert result.returncode == 2
    assert "FF_DEFAULT_PROJECT" in result.stderr


def test_readme__python_snippet__runs_against_ff_serve(server: Server, env: dict[str, str]) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    snippet = readme.split("```python\n", 1)[1].split("```", 1)[0]
    server.start()

    result = subprocess.run(
        [sys.executable, "-c", snippet], env=env, capture_output=True, text=True, timeout=60
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True on TARGETING_MATCH"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_api__started_by_ff_api__serves_a_key_made_by_ff_keys(
    server: Server, env: dict[str, str]
) -> None:
    server.start()
    created = ff(
        env,
        "keys",
        "create",
        "--kind",
        "server",
        "--name",
        "backend",
        "--environment",
        "production",
        "--json",
    )
    raw = json.loads(created.stdout)["key"]
    port = free_port()
    api_env = {**env, "FF_API_PORT": str(port), "FF_POLL_INTERVAL_S": "0.2"}
    api = subprocess.Popen(
        [*FF, "api"], env=api_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        url = f"http://127.0.0.1:{port}/ofrep/v1/evaluate/flags/new-checkout"
        body = {"context": {"targetingKey": "u1", "country": "US", "plan": "pro"}}
        for _ in range(100):
            try:
                response = httpx.post(url, json=body, headers={"X-API-Key": raw}, timeout=2)
                break
            except httpx.ConnectError:
                time.sleep(0.1)
        listed = ff(env, "keys", "list", "--json")
    finally:
        api.send_signal(signal.SIGTERM)
        api.communicate(timeout=30)

    assert created.returncode == 0, created.stderr
    assert response.json()["value"] is True
    [record] = json.loads(listed.stdout)
    assert raw.startswith(record["prefix"])
    # Shown once: neither the raw key nor its hash is ever listed.
    assert "hash" not in record
    assert raw not in listed.stdout


def test_members__add_list_remove__first_owner_made_from_the_shell(
    server: Server, env: dict[str, str]
) -> None:
    server.start()

    added = ff(env, "members", "add", "Ada@Example.com", "--role", "owner")
    second = ff(env, "members", "add", "bob@example.com", "--role", "viewer")
    listed = ff(env, "members", "list", "--json")
    last_owner = ff(env, "members", "remove", "ada@example.com")
    bad_role = ff(env, "members", "add", "c@example.com", "--role", "king")

    assert added.returncode == 0, added.stderr
    assert second.returncode == 0, second.stderr
    assert [(m["email"], m["role"]) for m in json.loads(listed.stdout)] == [
        ("ada@example.com", "owner"),
        ("bob@example.com", "viewer"),
    ]
    assert last_owner.returncode == 1
    assert "last owner" in last_owner.stderr
    assert bad_role.returncode == 2


def test_readme__cli_gate__passes_then_fails_when_the_flag_is_turned_off(
    server: Server, env: dict[str, str]
) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("## The CLI", 1)[1]
    gate = section.split("```sh\n", 1)[1].split("```", 1)[0].replace("\\\n", " ")
    command = shlex.split(gate.split("\n", 1)[1])  # after the comment line
    server.start()

    passed = ff(env, *command[1:])
    ff(env, "flags", "set-enabled-in", "new-checkout", "staging", "-m", "pause")
    stopped = ff(env, *command[1:])

    assert command[0] == "ff"
    assert passed.returncode == 0, passed.stderr
    assert stopped.returncode == 3
    assert "NOT as expected" in stopped.stdout
