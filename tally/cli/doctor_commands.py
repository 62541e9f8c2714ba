"""``tally doctor``: one line per check of this host's setup (``tally.doctor``)."""

from __future__ import annotations

import typer

from tally.cli.base import app, load_settings


@app.command()
def doctor() -> None:
    """Check configuration, database, keys, chain, contract, IPFS and blockstores, one line each;
    exit non-zero (2 for a setting to fix, 3 for a service unreachable) if any check fails."""
    from ledger.errors import ExitCode
    from tally.doctor import FAIL, run_checks

    failed: list[ExitCode] = []
    for check in run_checks(load_settings):
        typer.echo(check.line())
        if check.status == FAIL:
            failed.append(check.exit_code)
    if failed:
        typer.echo(f"tally: error: {len(failed)} check{'s' if len(failed) > 1 else ''} failed", err=True)
        raise typer.Exit(int(failed[0]))
    typer.echo("every check passed")
