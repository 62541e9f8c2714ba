"""The `tally` command: every job of a Tally deployment starts here.

Errors end the command with a one-line message on stderr and a non-zero exit code; secrets are
never echoed. Commands live by what they touch: ``ledger_commands`` (schema, keys, submit, seal,
status), ``chain_commands`` (serve, worker, anchor, deploy, demo), ``claim_commands`` (claim),
``verify_commands`` (verify, audit), ``export_commands`` (export), ``privacy_commands``
(redact, and the redaction submit runs), ``score_commands`` (score, offline), ``doctor_commands``
(doctor), ``program_commands`` (program), ``feed_commands`` (publish, engage);
``base`` holds what they share.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import typer

from ledger.errors import ExitCode
from tally.cli import (  # noqa: F401 (registers commands)
    chain_commands,
    claim_commands,
    doctor_commands,
    export_commands,
    feed_commands,
    ledger_commands,
    privacy_commands,
    program_commands,
    report_commands,
    score_commands,
    verify_commands,
)
from tally.cli.base import app

__all__ = ["app", "main"]


def main() -> None:
    from tally.logs import configure_logging

    configure_logging(os.environ.get("TALLY_LOG_LEVEL", "info"), os.environ.get("TALLY_LOG_FORMAT", "text"))
    sys.exit(run(sys.argv[1:]))


def run(args: list[str]) -> int:
    """Run one command; a usage error (an unknown option, a malformed or missing argument) is one
    ``tally: error:`` line and exit code 2, like every other failure, not Click's usage box."""
    errors = _click_exceptions()
    try:
        code = app(args, standalone_mode=False)
    except errors.NoArgsIsHelpError as exc:
        typer.echo(exc.ctx.get_help() if exc.ctx is not None else "see `tally --help`")
        return ExitCode.BAD_INPUT
    except errors.UsageError as exc:
        hint = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx is not None else ""
        typer.echo(f"tally: error: {' '.join(exc.format_message().split())}{hint}", err=True)
        return ExitCode.BAD_INPUT
    except errors.ClickException as exc:
        typer.echo(f"tally: error: {' '.join(exc.format_message().split())}", err=True)
        return int(exc.exit_code)
    except typer.Abort:
        typer.echo("tally: error: aborted", err=True)
        return 130
    return code if isinstance(code, int) else 0


def _click_exceptions() -> Any:
    """Click's exceptions: Typer 0.2x vendors Click as ``typer._click``, older ones use Click."""
    try:
        from typer._click import exceptions
    except ImportError:
        from click import exceptions  # type: ignore[no-redef]
    return exceptions


if __name__ == "__main__":
    main()
