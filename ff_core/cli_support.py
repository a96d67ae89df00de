"""What every ``ff`` command shares: settings, running against the store, output, progress.

Output contract: with ``--json`` a command writes exactly one JSON document to stdout and
nothing else there; messages, prompts and progress go to stderr. Without it, tables: rich
ones on a terminal, plain aligned columns when piped (stable for grep, cut and awk).

Exit codes: 0 done; 1 refused or failed (``error: ...`` on stderr); 2 bad usage (options,
arguments, ``FF_*`` settings); 3 a gate did not pass (``ff eval --expect``, ``ff registry
sync --dry-run``).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, NoReturn, TypeVar
from urllib.parse import urlsplit, urlunsplit

import orjson
import typer
from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from ff_core import embedded, logs
from ff_core.errors import FFError, StoreError
from ff_core.runtime import open_store
from ff_core.services import Services
from ff_core.settings import Settings, read_settings
from ff_core.validation import validated

T = TypeVar("T")

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_EXPECTATION = 3

ProjectOpt = Annotated[
    str | None, typer.Option("--project", "-p", help="Default: FF_DEFAULT_PROJECT")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable output")]
NoteOpt = Annotated[str, typer.Option("--note", "-m", help="Why; recorded in the history")]


def fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    """One line on stderr and the exit status; never a traceback."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def checked(build: Callable[[], T], what: str) -> T:
    """A model built from the command line, or exit 1 naming each invalid field (before
    any store is opened)."""
    try:
        return validated(build, what)
    except FFError as exc:
        fail(exc.message)


def _settings() -> Settings:
    settings = read_settings(Settings)
    if settings is None:
        raise typer.Exit(EXIT_USAGE)
    return settings


def _log_settings() -> logs.LogSettings:
    settings = read_settings(logs.LogSettings)
    if settings is None:
        raise typer.Exit(EXIT_USAGE)
    return settings


def store_location(settings: Settings) -> str | None:
    """Which store the settings point at, naming the setting to fix; None when the embedded
    store is not running (its own message says how to start it)."""
    if settings.dynamodb_endpoint:
        return f"FF_DYNAMODB_ENDPOINT={_without_userinfo(settings.dynamodb_endpoint)}"
    if settings.region:
        return f"FF_REGION={settings.region}"
    endpoint = embedded.running_endpoint(settings.data_dir)
    return f"the embedded one at {endpoint} (FF_DATA_DIR={settings.data_dir})" if endpoint else None


def _without_userinfo(url: str) -> str:
    # An endpoint may carry credentials (https://user:secret@host); messages never do.
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def _run(work: Callable[[Services, Settings], Awaitable[T]]) -> T:
    """Run one command against the configured store; ff errors become a message and exit 1.

    A store error names the endpoint: "unreachable" alone does not say which setting to fix.
    """
    settings = _settings()

    async def go() -> T:
        async with open_store(settings) as store:
            return await work(Services(store), settings)

    try:
        return asyncio.run(go())
    except StoreError as exc:
        where = store_location(settings)
        fail(f"{exc.message}; store: {where}" if where else exc.message)
    except FFError as exc:
        fail(exc.message)


def _print(
    data: Any, as_json: bool, rows: list[list[str]] | None = None, *, title: str | None = None
) -> None:
    """``data`` as one JSON document, or ``rows`` (a header row first) as a table, or
    ``str(data)``. ``title`` is printed above the table."""
    if as_json:
        typer.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2, default=str).decode())
        return
    if title is not None:
        typer.echo(title)
    if rows is None:
        if title is None:
            typer.echo(str(data))
        return
    # Decided by isatty, not rich's terminal detection: FORCE_COLOR (set by many CI
    # systems) must not put box-drawing into output that a script reads.
    if sys.stdout.isatty():
        Console(highlight=False).print(rich_table(rows))
    else:
        typer.echo(plain_table(rows), nl=False)


def rich_table(rows: list[list[str]]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for header in rows[0]:
        table.add_column(header, overflow="fold")
    for row in rows[1:]:
        # Text, not str: a name like "[beta] checkout" is not rich markup.
        table.add_row(*(Text(cell) for cell in row))
    return table


def plain_table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        + "\n"
        for row in rows
    )


@contextmanager
def progress(label: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr, shown only when stderr is a terminal (piped output and
    ``--json`` stay clean); yields ``advance(n)``. ``total`` None: not known yet."""
    console = Console(stderr=True, force_terminal=sys.stderr.isatty())
    with Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=not sys.stderr.isatty(),
    ) as bar:
        task = bar.add_task(label, total=total)

        def advance(n: int = 1) -> None:
            bar.advance(task, n)

        yield advance


def interactive() -> bool:
    """Whether a question can be asked: someone at a terminal, not a script or CI job."""
    return sys.stdin.isatty() and sys.stderr.isatty()


def confirm(question: str) -> bool:
    """Ask on stderr, read the answer from stdin; yes only for y or yes. (click's confirm
    writes a space to stdout after the prompt, which would break ``--json`` output.)"""
    typer.echo(f"{question} [y/N]: ", err=True, nl=False)
    return sys.stdin.readline().strip().lower() in ("y", "yes")
