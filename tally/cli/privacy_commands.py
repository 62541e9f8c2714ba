"""Personal data: what a conversation is submitted as, once redacted (ledger.personal_data).

``tally submit`` signs and sends each conversation in its redacted canonical form, so what the
contributor signs is what is stored and the server finds nothing to refuse; ``tally redact``
shows that form before anything is sent; ``tally verify bundle --conversation`` checks the proof
against it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from ledger.conversation import ConversationError
from ledger.personal_data import Finding, describe_findings, redact_for_submission
from tally.cli.base import CliError, app, one_line_errors


def as_submitted(conversation: object) -> tuple[object, list[Finding]]:
    """``conversation`` as it is signed and submitted: its canonical form with every personal value
    replaced by a placeholder, and the findings; unchanged when it does not normalise (whatever
    reads it next says why)."""
    try:
        return redact_for_submission(conversation)
    except ConversationError:
        return conversation, []


def redact_before_signing(conversations: list[object], *, quiet: bool) -> list[object]:
    """The conversations as ``tally submit`` signs them, saying what was replaced in each (kind and
    message, never the value); on stderr when ``quiet`` keeps stdout for JSON."""
    out: list[object] = []
    for number, conversation in enumerate(conversations, start=1):
        submitted, findings = as_submitted(conversation)
        if findings:
            where = "" if len(conversations) == 1 else f"{number:>4}. "
            typer.echo(f"{where}personal data replaced before signing: {describe_findings(findings)}", err=quiet)
        out.append(submitted)
    return out


@app.command()
@one_line_errors
def redact(
    file: Annotated[Path, typer.Argument(help="a conversation (ChatGPT, ShareGPT or {messages}), or a ChatGPT "
                                              "export's conversations.json holding many")],
    as_json: Annotated[bool, typer.Option("--json", help="print it as JSON (an export: an array), ready for "
                                                         "`tally submit`; what was replaced goes to stderr")] = False,
) -> None:
    """Show a conversation as `tally submit` would sign and send it: canonical, with personal data
    replaced by [email], [phone], [card], [iban], [ip] or [secret]."""
    from tally.exports import read_export

    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CliError(f"{file} is not JSON: {exc}") from None
    entries = read_export(data)
    if entries is None:
        conversation, findings = redact_for_submission(data)
        _show(conversation, findings, as_json=as_json)
        if as_json:
            typer.echo(json.dumps(conversation, indent=2, ensure_ascii=False))
        return
    redacted: list[dict[str, Any]] = []
    for entry in entries:
        try:
            conversation, findings = redact_for_submission(entry.conversation)
        except ConversationError as exc:
            typer.echo(f"{entry.index:>5}. cannot be submitted, left out: {exc}", err=True)
            continue
        typer.echo(f"== {entry.index}. {entry.title} {entry.id or ''}".rstrip(), err=as_json)
        _show(conversation, findings, as_json=as_json)
        redacted.append(conversation)
    if as_json:
        typer.echo(json.dumps(redacted, indent=2, ensure_ascii=False))


def _show(conversation: dict[str, Any], findings: list[Finding], *, as_json: bool) -> None:
    """The messages as text (unless JSON follows), then what was replaced."""
    if not as_json:
        if conversation["model"] is not None:
            typer.echo(f"model: {conversation['model']}")
        for index, message in enumerate(conversation["messages"]):
            typer.echo(f"[{index}] {message['role']}: {message['content']}")
    typer.echo(f"replaced: {describe_findings(findings)}" if findings else "no personal data found", err=as_json)
