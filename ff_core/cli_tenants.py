"""`ff tenants ...`: filled in by the tenants work (issue 6)."""

from __future__ import annotations

import typer

app = typer.Typer(help="Tenants.", no_args_is_help=True)
