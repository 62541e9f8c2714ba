"""The `tally` command's shared parts: the Typer apps, one-line errors, settings and passphrases.

Every failure ends the command with one line on stderr (``tally: error: ...``) and the exit code
of its category (``ledger.errors.ExitCode``): 1 a proof, a root or an audit disagrees; 2 bad
usage or input; 3 a service (database, chain node, IPFS, the Tally API) cannot be reached.
Secrets are never echoed.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from functools import wraps
from typing import Annotated, Any, NoReturn, TypeVar

import typer

from ledger.errors import ExitCode, InvalidInputError, TallyError

EXIT_CODES_HELP = (
    "Exit codes: 0 ok; 1 verification failed (a proof, a root or an audit disagrees); "
    "2 bad usage or input; 3 a service (database, chain node, IPFS, the Tally API) is unreachable."
)

app = typer.Typer(
    name="tally",
    help="Tally: rewards for contributed AI conversations, anchored on-chain.",
    epilog=EXIT_CODES_HELP,
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


class CliError(InvalidInputError):
    """A usage error of a command, reported as one line (exit code 2)."""


def fail(message: str, code: int = ExitCode.BAD_INPUT) -> NoReturn:
    typer.echo(f"tally: error: {message}", err=True)
    raise typer.Exit(code)


def one_line_errors(func: F) -> F:
    """Report every expected failure as one line and the exit code of its category."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from pydantic import ValidationError
        from requests.exceptions import RequestException
        from sqlalchemy.exc import OperationalError

        try:
            return func(*args, **kwargs)
        except TallyError as exc:
            fail(str(exc), exc.exit_code)
        except OperationalError as exc:
            # The message may carry the database URL's password: name the error only.
            fail(f"the database cannot be reached ({type(exc.orig).__name__})", ExitCode.UNAVAILABLE)
        except (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError) as exc:
            fail(str(exc), ExitCode.BAD_INPUT)
        except (ConnectionError, TimeoutError) as exc:
            fail(f"{type(exc).__name__}: {exc}", ExitCode.UNAVAILABLE)
        except RequestException as exc:
            # web3 reaches a chain node through requests; the URL may hold a key: name the error only.
            fail(f"a service did not answer ({type(exc).__name__})", ExitCode.UNAVAILABLE)
        except OSError as exc:
            fail(f"{type(exc).__name__}: {exc}", ExitCode.BAD_INPUT)
        except ValidationError as exc:
            first = exc.errors()[0]
            fail(f"invalid setting {'.'.join(str(p) for p in first['loc'])}: {first['msg']}")

    return wrapper  # type: ignore[return-value]


def address_value(value: str) -> str:
    """Parser of an address option or argument: its EIP-55 form, or a usage error (exit 2) that
    Click prefixes with the option's name."""
    from ledger.encoding import InvalidAddressError, parse_address

    try:
        return parse_address(value, repr(value))
    except InvalidAddressError as exc:
        raise typer.BadParameter(str(exc)) from None


def contribution_key_value(value: str) -> str:
    """Parser of a contribution argument: its id (a positive integer) or its contentHash (0x + 64 hex)."""
    from ledger.encoding import is_hash
    from ledger.ids import MAX_ROW_ID

    if value.isdecimal() and 1 <= int(value) <= MAX_ROW_ID:
        return str(int(value))
    if is_hash(value):
        return value.lower()
    raise typer.BadParameter(f"{value!r} is neither a contribution id (1, 2, ...) nor a contentHash (0x + 64 hex)")


def url_value(value: str) -> str:
    """Parser of a URL option: http(s) or ws(s) with a host. The value is not echoed back, since
    a node's URL often carries an API key."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value)
        valid = parts.scheme in ("http", "https", "ws", "wss") and bool(parts.hostname)
        _ = parts.port  # a port that is not a number raises here
    except ValueError:
        valid = False
    if not valid:
        raise typer.BadParameter("not a URL: expected http(s)://host[:port][/path] (or ws(s)://)")
    return value


def report_checks(run: Callable[[], Any], as_json: bool) -> None:
    """Run the checks of a verification and print each; a failed one ends the command with exit 1."""
    from anchoring.verify import VerificationError

    try:
        checks = run()
    except VerificationError as exc:
        if as_json:
            typer.echo(json.dumps({"ok": False, "failed": {"check": exc.check, "message": exc.message},
                                   "passed": [{"check": c.name, "detail": c.detail} for c in exc.passed]}, indent=2))
        else:
            for check in exc.passed:
                typer.echo(f"ok    {check.name}: {check.detail}")
            typer.echo(f"FAIL  {exc.check}: {exc.message}")
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps({"ok": True, "passed": [{"check": c.name, "detail": c.detail} for c in checks]},
                              indent=2))
    else:
        for check in checks:
            typer.echo(f"ok    {check.name}: {check.detail}")
        typer.echo("verified: every check passed")


DEFAULT_API = "http://127.0.0.1:8000"
ApiUrl = Annotated[str, typer.Option(help="Tally API base URL (or TALLY_API_URL)", parser=url_value,
                                     envvar="TALLY_API_URL")]
"""The ``--api`` option of the commands that talk to a Tally API as a client would."""


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
