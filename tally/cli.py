"""The `tally` command: every job of a Tally deployment starts here.

Errors end the command with a one-line message on stderr and a non-zero exit code; secrets are
never echoed.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import time
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer

app = typer.Typer(
    name="tally",
    help="Tally: rewards for contributed AI conversations, anchored on-chain.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
keys_app = typer.Typer(help="Keys: the operator's and contributors'.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")

F = TypeVar("F", bound=Callable[..., Any])


class CliError(Exception):
    """A failure to report as one line, exit code 1."""


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"tally: error: {message}", err=True)
    raise typer.Exit(code)


def one_line_errors(func: F) -> F:
    """Report expected failures as one line instead of a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from pydantic import ValidationError

        from tally.keys import KeyLoadError

        try:
            return func(*args, **kwargs)
        except (CliError, KeyLoadError, FileNotFoundError, PermissionError) as exc:
            fail(str(exc))
        except ValidationError as exc:
            first = exc.errors()[0]
            fail(f"invalid setting {'.'.join(str(p) for p in first['loc'])}: {first['msg']}")

    return wrapper  # type: ignore[return-value]


def _settings() -> Any:
    from tally.settings import Settings

    return Settings()


def _passphrase(env: str, prompt: str, confirm: bool = False) -> str:
    value = os.environ.get(env)
    if value:
        return value
    if not sys.stdin.isatty():
        raise CliError(f"set {env} or run in a terminal to be asked for the passphrase")
    return str(typer.prompt(prompt, hide_input=True, confirmation_prompt=confirm))


@db_app.command("upgrade")
@one_line_errors
def db_upgrade() -> None:
    """Create or migrate the database schema to the newest version."""
    from ledger.migrate import upgrade

    settings = _settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    upgrade(settings.db_url)
    typer.echo("database schema is up to date")


@keys_app.command("new")
@one_line_errors
def keys_new(
    out: Annotated[Path, typer.Option(help="keystore file to write")] = Path("key.json"),
    force: Annotated[bool, typer.Option(help="overwrite an existing file")] = False,
) -> None:
    """Create a new key in an encrypted keystore (passphrase: TALLY_KEY_PASSPHRASE or a prompt)."""
    from tally.keys import new_private_key, write_keystore

    if out.exists() and not force:
        raise CliError(f"{out} exists; pass --force to overwrite it")
    passphrase = _passphrase("TALLY_KEY_PASSPHRASE", "Passphrase", confirm=True)
    address = write_keystore(out, new_private_key(), passphrase)
    typer.echo(json.dumps({"address": address, "keystore": str(out)}))


@app.command()
@one_line_errors
def serve(
    host: Annotated[str | None, typer.Option(help="address to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="port to listen on")] = None,
    workers: Annotated[int | None, typer.Option(help="server worker processes")] = None,
    migrate: Annotated[bool, typer.Option(help="upgrade the database schema first")] = True,
) -> None:
    """Run the REST API (and the contributor page) on the configured database and store."""
    import uvicorn

    from ledger.migrate import upgrade
    from tally.wiring import build_app

    for name, value in (("TALLY_HOST", host), ("TALLY_PORT", port), ("TALLY_WORKERS", workers)):
        if value is not None:
            os.environ[name] = str(value)
    settings = _settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    if migrate:
        upgrade(settings.db_url)
    # Build once here so that a bad key or setting fails now, with one line, not in a worker.
    application = build_app(settings)
    typer.echo(f"tally: serving on http://{settings.host}:{settings.port} (data in {settings.home})")
    if settings.workers > 1:
        uvicorn.run("tally.wiring:app_from_environment", factory=True, host=settings.host,
                    port=settings.port, workers=settings.workers, log_level=settings.log_level)
    else:
        uvicorn.run(application, host=settings.host, port=settings.port, log_level=settings.log_level)


@app.command()
@one_line_errors
def submit(
    file: Annotated[Path, typer.Argument(help="a conversation: ChatGPT, ShareGPT or {messages}")],
    key: Annotated[Path, typer.Option(help="the contributor's keystore (tally keys new)")],
    api: Annotated[str, typer.Option(help="Tally API base URL")] = "http://127.0.0.1:8000",
) -> None:
    """Sign a conversation with your key and submit it, as the extension would."""
    from tally.client import SubmitError, submit_conversation
    from tally.keys import read_keystore

    try:
        conversation = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CliError(f"{file} is not JSON: {exc}") from None
    private_key = read_keystore(key, _passphrase("TALLY_KEY_PASSPHRASE", "Passphrase"))
    try:
        result = submit_conversation(api, conversation, private_key,
                                     nonce=secrets.randbits(64), issued_at=int(time.time()))
    except SubmitError as exc:
        raise CliError(str(exc)) from None
    typer.echo(json.dumps(result, indent=2))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
