"""`tally program ...`: define programs, list them, enrol and let go of members, through the API
(``POST /v1/programs``, ``POST /v1/programs/{id}/members``; docs/rewards.md, "Programs")."""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from tally.cli.base import DEFAULT_API, ApiUrl, CliError, address_value, app, load_settings, one_line_errors, passphrase

program_app = typer.Typer(help="Programs with a guaranteed minimum per period.", no_args_is_help=True)
app.add_typer(program_app, name="program")

AsJson = Annotated[bool, typer.Option("--json", help="machine-readable output (the API's answer)")]


def _admin_key() -> str:
    key = load_settings().admin_api_key
    if key is None:
        raise CliError("set TALLY_ADMIN_API_KEY to the API's admin key")
    return str(key.get_secret_value())


def _period(value: str) -> str | int:
    if value in ("day", "week", "month"):
        return value
    if value.isascii() and value.isdigit() and not value.startswith("0"):
        return int(value)
    raise CliError(f'--period {value!r}: "day", "week", "month" or a number of seconds')


def _show(body: dict[str, Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(body, indent=2))
        return
    retro = "" if body.get("retroactiveFrom") is None else \
        f", retroactive from {body['retroactiveFrom']} at {body['retroRate']} a unit"
    typer.echo(f"{body['id']}: minimum {body['minimum']} points a {body['period']} period from {body['start']}"
               f"{retro}; {body['periodsClosed']} periods closed")
    for member in body.get("members") or []:
        typer.echo(f"  member {member}")


@program_app.command("define")
@one_line_errors
def define(
    program: Annotated[str, typer.Argument(help="the program's id (a-z, 0-9, -)")],
    period: Annotated[str, typer.Option(help='"day", "week", "month" or a number of seconds')],
    minimum: Annotated[str, typer.Option(help="the points a member is brought up to each period")],
    start: Annotated[str, typer.Option(help="UTC date YYYY-MM-DD (or YYYY-MM-DDTHH:MM:SSZ) of the first period")],
    retroactive_from: Annotated[str | None, typer.Option(help="pay unpaid usage recorded since this date")] = None,
    retro_rate: Annotated[str | None, typer.Option(help="points per unit of that usage")] = None,
    api: ApiUrl = DEFAULT_API,
    as_json: AsJson = False,
) -> None:
    """Define a program (the admin key in TALLY_ADMIN_API_KEY); the same definition again is a no-op."""
    from tally.client import post_json

    body = {"id": program, "period": _period(period), "minimum": minimum, "start": start,
            "retroactiveFrom": retroactive_from, "retroRate": retro_rate}
    status, answer = post_json(api, "/v1/programs", body, key=_admin_key())
    if not as_json:
        typer.echo("defined" if status == 201 else "already defined, the same")
    _show(answer, as_json)


@program_app.command("list")
@one_line_errors
def list_programs(api: ApiUrl = DEFAULT_API, as_json: AsJson = False) -> None:
    """Every program."""
    from tally.client import get_json

    answer = get_json(api, "/v1/programs")
    if as_json:
        typer.echo(json.dumps(answer, indent=2))
        return
    for program in answer["programs"]:
        _show(program, False)
    if not answer["programs"]:
        typer.echo("no programs")


@program_app.command("show")
@one_line_errors
def show(program: Annotated[str, typer.Argument(help="the program's id")], api: ApiUrl = DEFAULT_API,
         as_json: AsJson = False) -> None:
    """One program and its members."""
    from tally.client import get_json

    _show(get_json(api, f"/v1/programs/{program}"), as_json)


def _membership(program: str, body: dict[str, Any], key: str | None, api: str, as_json: bool) -> None:
    from tally.client import post_json

    status, answer = post_json(api, f"/v1/programs/{program}/members", body, key=key)
    if as_json:
        typer.echo(json.dumps(answer, indent=2))
    elif status == 200:
        typer.echo(f"{answer['account']} is already a member of {program}")
    else:
        typer.echo(f"{answer['account']}: {answer['action']} {program} (change {answer['change']})")


@program_app.command("enrol")
@one_line_errors
def enrol(
    program: Annotated[str, typer.Argument(help="the program's id")],
    account: Annotated[str | None, typer.Argument(
        help="as the admin: the account to enrol", parser=address_value)] = None,
    key: Annotated[Path | None, typer.Option(
        help="enrol yourself instead: your keystore signs an EIP-712 Enrol (TALLY_KEY_PASSPHRASE)")] = None,
    api: ApiUrl = DEFAULT_API,
    as_json: AsJson = False,
) -> None:
    """Enrol ACCOUNT as the admin (TALLY_ADMIN_API_KEY), or yourself with --key."""
    if (account is None) == (key is None):
        raise CliError("give an ACCOUNT (as the admin) or --key KEYFILE (yourself), not both")
    if key is None:
        _membership(program, {"account": account, "action": "enrol"}, _admin_key(), api, as_json)
        return
    from tally.client import api_config, signed_enrolment
    from tally.keys import read_keystore

    if not key.is_file():
        raise CliError(f"{key}: no such keystore file (make one with `tally keys new --out {key}`)")
    private_key = read_keystore(key, passphrase("TALLY_KEY_PASSPHRASE", "Passphrase"))
    body = signed_enrolment(api_config(api), program, private_key, nonce=secrets.randbits(63),
                            issued_at=int(time.time()))
    _membership(program, body, None, api, as_json)


@program_app.command("leave")
@one_line_errors
def leave(
    program: Annotated[str, typer.Argument(help="the program's id")],
    account: Annotated[str, typer.Argument(help="the account that leaves", parser=address_value)],
    api: ApiUrl = DEFAULT_API,
    as_json: AsJson = False,
) -> None:
    """Let ACCOUNT leave the program (the admin key in TALLY_ADMIN_API_KEY)."""
    _membership(program, {"account": account, "action": "leave"}, _admin_key(), api, as_json)
