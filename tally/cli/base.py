"""The `tally` command's shared parts: the Typer apps, one-line errors, settings and passphrases.

Errors end the command with a one-line message on stderr and a non-zero exit code; secrets are
never echoed.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, NoReturn, TypeVar

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
verify_app = typer.Typer(help="Check proofs against the chain itself, trusting no API.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(keys_app, name="keys")
app.add_typer(verify_app, name="verify")

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

        from anchoring.chain import ChainUnavailableError
        from anchoring.deploy import DeploymentError
        from anchoring.devchain import DevChainError
        from tally.chain import ChainSetupError
        from tally.keys import KeyLoadError

        try:
            return func(*args, **kwargs)
        except (CliError, KeyLoadError, FileNotFoundError, PermissionError, DevChainError, ChainSetupError,
                DeploymentError, ChainUnavailableError) as exc:
            fail(str(exc))
        except (ConnectionError, OSError) as exc:
            fail(f"{type(exc).__name__}: {exc}")
        except ValidationError as exc:
            first = exc.errors()[0]
            fail(f"invalid setting {'.'.join(str(p) for p in first['loc'])}: {first['msg']}")

    return wrapper  # type: ignore[return-value]


def load_settings() -> Any:
    from tally.settings import Settings

    return Settings()


def passphrase(env: str, prompt: str, confirm: bool = False) -> str:
    value = os.environ.get(env)
    if value:
        return value
    if not sys.stdin.isatty():
        raise CliError(f"set {env} or run in a terminal to be asked for the passphrase")
    return str(typer.prompt(prompt, hide_input=True, confirmation_prompt=confirm))
