"""`tally score`: the points a conversation earns and the features they come from, offline.

The same scorer the ledger runs at acceptance (``ledger.scoring``, docs/scoring.md), on a file
of any accepted format: a ChatGPT conversation, a ShareGPT record, ``{messages}``, or a ChatGPT
export's ``conversations.json`` (each of its conversations).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from tally.cli.base import CliError, app, one_line_errors


def breakdown_lines(breakdown: dict[str, Any]) -> list[str]:
    """The points, the factors of docs/scoring.md and the features, for people."""
    from ledger.scoring import v2

    features = breakdown["features"]
    factors = v2.factors(features)
    shown = " x ".join(f"{name} {factors[name] / 1000:.3f}" for name in ("vocabulary", "order", "repetition",
                                                                             "symbols"))
    return [f"{breakdown['points']} points ({breakdown['version']})",
            f"  length {factors['length']} x min(vocabulary, order) x repetition x symbols: {shown}",
            "  features: " + ", ".join(f"{name} {value}" for name, value in features.items())]


def read_json(file: Path) -> object:
    from ledger.nesting import check_nesting

    data = file.read_bytes()
    check_nesting(data)  # a file nested deeper than the API accepts is refused the same way
    try:
        return json.loads(data.decode("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CliError(f"{file} is not JSON: {exc}") from None


@app.command("score")
@one_line_errors
def score_command(
    file: Annotated[Path, typer.Argument(help="a conversation (ChatGPT, ShareGPT or {messages}) or a ChatGPT "
                                              "export's conversations.json")],
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output: {version, points, features}")]
    = False,
) -> None:
    """The points a conversation earns with the current scorer, and the features behind them."""
    from ledger.conversation import normalise
    from ledger.scoring import score
    from tally.exports import read_export

    data = read_json(file)
    entries = read_export(data)
    if entries is None:
        breakdown = score(normalise(data)).as_dict()
        typer.echo(json.dumps(breakdown, indent=2) if as_json else "\n".join(breakdown_lines(breakdown)))
        return
    if not entries:
        raise CliError(f"{file} is an empty export: it holds no conversation")
    results: list[dict[str, Any]] = []
    for entry in entries:
        about = {"index": entry.index, "id": entry.id, "title": entry.title}
        if entry.problem is not None:
            results.append({**about, "problem": entry.problem})
            if not as_json:
                typer.echo(f"{entry.index:>5}  cannot be scored: {entry.problem}  {entry.title}")
            continue
        breakdown = score(normalise(entry.conversation)).as_dict()
        results.append({**about, **breakdown})
        if not as_json:
            typer.echo(f"{entry.index:>5}  {breakdown['points']:>4} points  {entry.title}")
    if as_json:
        typer.echo(json.dumps(results, indent=2))
