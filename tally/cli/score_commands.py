"""`tally score`: the points a conversation earns and the features they come from, offline.

The same scorer the ledger runs at acceptance (``ledger.scoring``, docs/scoring.md), on a file
of any accepted format: a ChatGPT conversation, a ShareGPT record, ``{messages}``, or a ChatGPT
export (its ``conversations.json``, folder or zip: each of its conversations, with the images the
export holds, as ``tally submit`` sends them, so quality-v3 scores those with images as the server
does). On a Tally data export (``tally export``'s JSON Lines, or one of its lines), each line's
canonical conversation, whose images are named by CID, is scored again and held to the ``scorer``
and ``points`` the line says: a line that differs makes the command fail (exit 1).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Annotated, Any

import typer

from ledger.errors import VerificationFailure
from tally.cli.base import CliError, app, one_line_errors

EXPORT_LINE_FIELDS = {"id", "contentHash", "scorer", "points", "conversation"}
"""What marks an object as a line of a Tally data export (GET /v1/export)."""


class ScoreMismatch(VerificationFailure):
    """A line of a data export does not score, again, to the scorer and points it names."""

    code = "score-mismatch"


def export_lines(data: bytes) -> list[dict[str, Any]] | None:
    """The lines of a Tally data export (JSON Lines, or one line as a JSON object), or None when
    ``data`` is not one."""
    texts = [line for line in data.decode("utf-8", errors="replace").splitlines() if line.strip()]
    lines: list[dict[str, Any]] = []
    for text in texts:
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            return None
        if not isinstance(value, dict) or not set(value) >= EXPORT_LINE_FIELDS:
            return None
        lines.append(value)
    return lines or None


def score_export_lines(file: Path, lines: list[dict[str, Any]], as_json: bool) -> None:
    """Each line's conversation scored again and held to what the line says."""
    from ledger.conversation import ConversationError, normalise
    from ledger.scoring import score

    results: list[dict[str, Any]] = []
    differ = 0
    for line in lines:
        about = {"id": line["id"], "contentHash": line["contentHash"],
                 "exported": {"scorer": line["scorer"], "points": line["points"]},
                 "images": len(line.get("images") or [])}
        try:
            breakdown = score(normalise(line["conversation"])).as_dict()
        except ConversationError as exc:
            results.append({**about, "problem": exc.detail, "matches": False})
            differ += 1
            if not as_json:
                typer.echo(f"{line['id']:>8}  cannot be scored: {exc.detail}")
            continue
        matches = (breakdown["version"], str(breakdown["points"])) == (line["scorer"], str(line["points"]))
        differ += not matches
        results.append({**about, **breakdown, "matches": matches})
        if not as_json:
            verdict = "as exported" if matches else f"DIFFERS: the export says {line['points']} ({line['scorer']})"
            typer.echo(f"{line['id']:>8}  {breakdown['points']:>4} points ({breakdown['version']})  {verdict}")
    if as_json:
        typer.echo(json.dumps(results, indent=2))
    if differ:
        raise ScoreMismatch(f"{differ} of {len(lines)} contributions of {file} do not score as the export says")


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
    file: Annotated[Path, typer.Argument(help="a conversation (ChatGPT, ShareGPT or {messages}), a ChatGPT "
                                              "export (conversations.json, its folder or zip) or a Tally data "
                                              "export (tally export's JSON Lines)")],
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output: {version, points, features}")]
    = False,
) -> None:
    """The points a conversation earns with the current scorer, and the features behind them."""
    from ledger.conversation import normalise
    from ledger.errors import InvalidInputError
    from ledger.scoring import score
    from tally.exports import ExportSource, load_export, read_export

    source: ExportSource | None = None
    if file.is_dir() or zipfile.is_zipfile(file) or file.name == "conversations.json":
        try:
            source = load_export(file)
        except InvalidInputError as exc:
            raise CliError(str(exc)) from None
        data = source.data
    else:
        raw = file.read_bytes()
        from ledger.nesting import check_nesting

        check_nesting(raw)  # as deep as the API accepts, and no deeper
        lines = export_lines(raw)
        if lines is not None:
            score_export_lines(file, lines, as_json)
            return
        data = read_json(file)
    entries = read_export(data)
    if entries is None:
        images = source.images_of(data) if source is not None else {}
        breakdown = score(normalise(data, images=images)).as_dict()
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
        images = source.images_of(entry.conversation) if source is not None else {}
        breakdown = score(normalise(entry.conversation, images=images)).as_dict()
        results.append({**about, **breakdown})
        if not as_json:
            typer.echo(f"{entry.index:>5}  {breakdown['points']:>4} points  {entry.title}")
    if as_json:
        typer.echo(json.dumps(results, indent=2))
