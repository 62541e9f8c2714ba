"""`tally export`: a data consumer's copy of the contributions, as JSON Lines, from the API."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from ledger.errors import InvalidFieldError
from tally.cli.base import DEFAULT_API, ApiUrl, app, one_line_errors

KEY_VARIABLE = "TALLY_USAGE_API_KEY"


@app.command("export")
@one_line_errors
def export(
    out: Annotated[Path, typer.Option(help="the JSON Lines file to write (must not exist)", dir_okay=False)],
    after: Annotated[int, typer.Option(min=0, help="the last contribution id already received")] = 0,
    api: ApiUrl = DEFAULT_API,
    progress: Annotated[bool | None, typer.Option(help="a progress bar on stderr (default: on a terminal)")] = None,
) -> None:
    """Write every accepted, not erased contribution after id AFTER to OUT, one JSON object a
    line (GET /v1/export), with the data-consumer key in TALLY_USAGE_API_KEY. The file appears
    only once complete; usage may then be reported for what it holds (POST /v1/usage)."""
    from tally.client import export_pages

    key = os.environ.get(KEY_VARIABLE, "")
    if not key:
        raise InvalidFieldError(KEY_VARIABLE, "set it to the data-consumer API key")
    if out.exists():
        raise InvalidFieldError("--out", f"{out} exists; choose a new file")
    partial = out.with_name(out.name + ".partial")
    written, last = 0, after
    show = sys.stderr.isatty() if progress is None else progress
    try:
        with partial.open("wb") as sink, contextlib.ExitStack() as stack:
            bar = None
            for lines, page_last, remaining in export_pages(api, key, after=after):
                if bar is None and show:
                    bar = stack.enter_context(typer.progressbar(length=len(lines) + remaining, label="exporting",
                                                                file=sys.stderr))
                sink.writelines(lines)
                written, last = written + len(lines), page_last
                if bar is not None:
                    bar.update(len(lines))
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    typer.echo(json.dumps({"out": str(out), "contributions": written, "lastId": last}))
