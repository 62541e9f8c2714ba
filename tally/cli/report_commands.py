"""Operator reports, read from the ledger in the data folder: ``tally report accruals``."""

from __future__ import annotations

import json
import time
from typing import Annotated

import typer

from tally.cli.base import app, load_settings, one_line_errors

report_app = typer.Typer(help="Reports for the operator, from the ledger.", no_args_is_help=True)
app.add_typer(report_app, name="report")


@report_app.command("accruals")
@one_line_errors
def accruals(
    hours: Annotated[float, typer.Option(help="look back this many hours", min=0)] = 24.0,
    limit: Annotated[int, typer.Option(help="how many accounts, the most points first", min=1, max=1000)] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """The accounts that accrued the most points lately, and the client addresses they came from."""
    from ledger.reports import top_accruals
    from tally.home import open_existing_database

    since = int(time.time() - hours * 3600)
    engine, sessions = open_existing_database(load_settings())
    with sessions() as session:
        rows = top_accruals(session, since=since, limit=limit)
    engine.dispose()
    if as_json:
        typer.echo(json.dumps({"since": since, "accounts": [r.as_json() for r in rows]}, indent=2))
        return
    typer.echo(f"top accruals in the last {hours:g} h (since {since})")
    typer.echo(f"{'account':42}  {'contributions':>13}  {'points':>10}  client addresses")
    for row in rows:
        clients = ", ".join(f"{address} ({count})" for address, count in row.clients)
        typer.echo(f"{row.account:42}  {row.contributions:>13}  {row.points:>10}  {clients}")
