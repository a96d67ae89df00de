"""How `ff` talks: one JSON document with --json, tables for people, progress only on a
terminal, exit codes, and one line (never a traceback) when something fails."""

from __future__ import annotations

import io
import json
import os
import pty
import re
import socket
import subprocess
from pathlib import Path

from rich.console import Console

from ff_core.cli_support import plain_table, rich_table
from tests.core.cli_runner import Cli, shop

ROWS = [["KEY", "NAME"], ["beta", "[beta] Beta"], ["new-checkout", "New checkout"]]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def read_all(fd: int) -> str:
    chunks = []
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: the other side of the pty is closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(fd)
    return b"".join(chunks).decode(errors="replace")


def test_plain_table__aligned_columns_no_trailing_spaces() -> None:
    assert plain_table(ROWS) == (
        "KEY           NAME\nbeta          [beta] Beta\nnew-checkout  New checkout\n"
    )


def test_rich_table__cells_are_text_not_markup() -> None:
    out = io.StringIO()
    Console(file=out, force_terminal=True, width=100, color_system=None).print(rich_table(ROWS))

    assert "[beta] Beta" in out.getvalue()


def test_help__documents_the_exit_codes(moto_endpoint: str) -> None:
    result = Cli(moto_endpoint)("--help")

    assert result.exit_code == 0
    text = " ".join(result.stdout.split())
    assert "Exit codes: 0 done; 1 refused or failed" in text
    assert "2 bad usage" in text
    assert "3 a gate did not pass (`ff eval --expect` got another value" in text


def test_bad_usage__unknown_option_or_missing_argument__exit_2(moto_endpoint: str) -> None:
    cli = Cli(moto_endpoint)

    unknown = cli("flags", "list", "--colour")
    missing = cli("flags", "get")

    assert (unknown.exit_code, missing.exit_code) == (2, 2)


def test_json__access_commands__one_document_each_and_no_secret_hash(
    moto_endpoint: str,
) -> None:
    cli = shop(moto_endpoint)
    cli.env["FF_KEY_SECRET"] = "s" * 32

    table = cli.json("table", "create")  # idempotent: the table exists
    member = cli.json("members", "add", "Ada@Example.com", "--role", "owner")
    members = cli.json("members", "list")
    created = cli.json("keys", "create", "--kind", "server", "--name", "api", "-e", "production")
    revoked = cli.json("keys", "revoke", created["id"])
    listed = cli.json("keys", "list")
    removed = cli("members", "remove", "ada@example.com", "--json")

    assert table == {"table": cli.table, "ready": True}
    assert (member["email"], member["role"], member["project"]) == (
        "ada@example.com",
        "owner",
        "shop",
    )
    assert [m["email"] for m in members] == ["ada@example.com"]
    assert created["key"].startswith(created["prefix"])
    assert revoked["revoked_at"] is not None
    assert [k["id"] for k in listed] == [created["id"]]
    assert all("hash" not in k for k in [created, revoked, *listed])
    assert removed.exit_code == 1  # the last owner stays
    assert removed.stdout == ""
    assert "last owner" in removed.stderr


def test_store_unreachable__closed_port__one_line_naming_the_endpoint(moto_endpoint: str) -> None:
    cli = Cli(moto_endpoint)
    port = closed_port()
    cli.env |= {
        "FF_DYNAMODB_ENDPOINT": f"http://ops:hunter2@127.0.0.1:{port}",
        "FF_MAX_ATTEMPTS": "1",
    }

    result = cli.executable("flags", "list", "--json")

    assert result.returncode == 1
    assert result.stdout == ""
    # One line naming the endpoint and the setting to fix, never credentials in its URL.
    assert re.fullmatch(
        rf"error: DynamoDB is unreachable \(\w+\); "
        rf"store: FF_DYNAMODB_ENDPOINT=http://127\.0\.0\.1:{port}\n",
        result.stderr,
    ), result.stderr


def test_missing_table__says_how_to_make_it_and_where(moto_endpoint: str) -> None:
    cli = Cli(moto_endpoint)  # no table made

    result = cli("flags", "list")

    assert result.exit_code == 1
    assert result.stderr == (
        f"error: table {cli.table!r} does not exist; run `ff table create`; "
        f"store: FF_DYNAMODB_ENDPOINT={moto_endpoint}\n"
    )


def test_unexpected_failure__one_line_no_traceback(moto_endpoint: str, tmp_path: Path) -> None:
    # No endpoint: the embedded store's data directory is read, and here it is a file.
    cli = Cli(moto_endpoint)
    del cli.env["FF_DYNAMODB_ENDPOINT"]
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("")
    cli.env["FF_DATA_DIR"] = str(not_a_directory)

    result = cli.executable("flags", "list")

    assert result.returncode == 1
    assert result.stderr.startswith("error: unexpected NotADirectoryError: ")
    assert len(result.stderr.splitlines()) == 1


def test_terminal__progress_on_stderr_tables_on_stdout_json_stays_clean(
    moto_endpoint: str,
) -> None:
    cli = shop(moto_endpoint)
    for key in ("a", "b", "c"):
        cli.ok("flags", "create", key)

    # stderr a terminal, stdout a pipe (`ff ... --json | jq` in a shell): a bar, clean JSON.
    tty, terminal = pty.openpty()
    archived = cli.executable(
        "flags", "archive", "a", "b", "c", "--json", stdout=subprocess.PIPE, stderr=terminal
    )
    os.close(terminal)
    progress = read_all(tty)
    # stdout a terminal: a rich table.
    tty, terminal = pty.openpty()
    listed = cli.executable("flags", "list", stdout=terminal, stderr=subprocess.PIPE)
    os.close(terminal)
    table = read_all(tty)

    assert archived.returncode == 0
    assert [f["key"] for f in json.loads(archived.stdout)] == ["a", "b", "c"]
    assert "archiving" in progress
    assert listed.returncode == 0, listed.stderr
    assert "━" in table or "─" in table  # the header rule of a rich table
    assert "a (archived)" in table


def test_json__piped__stdout_is_one_document_and_stderr_empty(moto_endpoint: str) -> None:
    cli = shop(moto_endpoint)

    for args in (["projects", "get"], ["flags", "list"], ["segments", "list"]):
        result = cli.executable(*args, "--json")

        assert result.returncode == 0, result.stderr
        json.loads(result.stdout)
        assert result.stderr == ""


def test_delete__at_a_terminal__asks_and_does_what_the_answer_says(moto_endpoint: str) -> None:
    cli = shop(moto_endpoint)
    cli.ok("flags", "create", "old")
    answers = {}
    for answer in ("n", "y"):
        tty, terminal = pty.openpty()
        os.write(tty, f"{answer}\n".encode())  # typed ahead; read at the prompt
        result = cli.executable(
            "flags", "delete", "old", stdin=terminal, stdout=subprocess.PIPE, stderr=terminal
        )
        os.close(terminal)
        answers[answer] = (result, read_all(tty))
        if answer == "n":
            assert [f["key"] for f in cli.json("flags", "list")] == ["old"]

    (declined, asked), (confirmed, _) = answers["n"], answers["y"]
    assert "Delete old? Their history stays." in asked
    assert declined.returncode == 1
    assert "not confirmed; nothing deleted" in asked
    assert confirmed.returncode == 0
    assert confirmed.stdout == "deleted: old\n"
    assert cli.json("flags", "list") == []
