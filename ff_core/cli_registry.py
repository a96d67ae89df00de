"""`ff registry ...`: filled in by the registry work (issue 6)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Registry.", no_args_is_help=True)
