"""`tally publish` and `tally engage`: the public feed from the command line (docs/feed.md).

Each signs an EIP-712 statement with the contributor's keystore, as `tally submit` signs a
contribution, and posts it to the API: ``Publish`` to show a contribution in the feed or withdraw
it, ``Engage`` to like or remix someone else's. The API decides; each of its refusals (not found,
not in the feed, already engaged, one's own, over the day's limit, a signature that is not the
contributor's) is one ``tally: error:`` line with exit code 2, having changed nothing.
"""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tally.cli.base import DEFAULT_API, ApiUrl, CliError, app, contribution_key_value, one_line_errors, passphrase

if TYPE_CHECKING:
    from eth_keys.datatypes import PrivateKey

ContributionArg = Annotated[str, typer.Argument(
    help="the contribution's id (tally submit prints it) or its contentHash", parser=contribution_key_value)]
KeyOption = Annotated[Path, typer.Option(help="your keystore (tally keys new; passphrase: TALLY_KEY_PASSPHRASE)")]
AsJson = Annotated[bool, typer.Option("--json", help="machine-readable output (the API's answer)")]


def _remix_value(value: str) -> str:
    from ledger.encoding import is_hash

    if not is_hash(value):
        raise typer.BadParameter(f"{value!r} is not a contentHash (0x + 64 hex)")
    return value.lower()


def signing_key(key: Path) -> PrivateKey:
    """The contributor's key from its keystore, as `tally submit` reads it."""
    from tally.keys import read_keystore

    if not key.is_file():
        raise CliError(f"{key}: no such keystore file (make one with `tally keys new --out {key}`)")
    return read_keystore(key, passphrase("TALLY_KEY_PASSPHRASE", "Passphrase"))


def _statement() -> tuple[int, int]:
    """A fresh nonce (each is used once per signer and type) and ``issuedAt`` now."""
    return secrets.randbits(63), int(time.time())


@app.command()
@one_line_errors
def publish(
    contribution: ContributionArg,
    key: KeyOption,
    withdraw: Annotated[bool, typer.Option("--withdraw", help="take it out of the feed instead")] = False,
    api: ApiUrl = DEFAULT_API,
    as_json: AsJson = False,
) -> None:
    """Show one of your contributions in the public feed (its conversation then served in the
    clear), or take it out with --withdraw: an EIP-712 Publish signed with your key."""
    from tally.client import api_config, contribution_state, post_json, signed_publish

    private_key = signing_key(key)
    row = contribution_state(api, contribution)
    nonce, now = _statement()
    body = signed_publish(api_config(api), row, private_key, visible=not withdraw, nonce=nonce, issued_at=now)
    _, answer = post_json(api, f"/v1/contributions/{row['id']}:publish", body)
    if as_json:
        typer.echo(json.dumps(answer, indent=2))
    elif answer["visible"]:
        typer.echo(f"contribution {answer['id']} is in the public feed (published at {answer['publishedAt']}): "
                   f"{api.rstrip('/')}/feed")
    else:
        typer.echo(f"contribution {answer['id']} is not in the public feed (withdrawn)")


@app.command()
@one_line_errors
def engage(
    contribution: ContributionArg,
    key: KeyOption,
    like: Annotated[bool, typer.Option("--like", help="like it: its creator is credited")] = False,
    remix: Annotated[str | None, typer.Option(
        help="remix it: the contentHash of your own new contribution that builds on it", parser=_remix_value,
        metavar="NEW_CONTENTHASH")] = None,
    api: ApiUrl = DEFAULT_API,
    as_json: AsJson = False,
) -> None:
    """Like (--like) or remix (--remix NEW_CONTENTHASH) a contribution in the public feed: an
    EIP-712 Engage signed with your key; its creator is credited. One like and one remix per
    contribution, never your own, and at most the API's feed.engagementsPerDay a UTC day."""
    from ledger.feed import LIKE, REMIX
    from tally.client import api_config, contribution_state, post_json, signed_engage

    if like == (remix is not None):
        raise CliError("give --like or --remix NEW_CONTENTHASH, one of them")
    private_key = signing_key(key)
    row = contribution_state(api, contribution)
    nonce, now = _statement()
    body = signed_engage(api_config(api), row["contentHash"], private_key, kind=LIKE if like else REMIX,
                         nonce=nonce, issued_at=now, remix=remix)
    _, answer = post_json(api, f"/v1/contributions/{row['id']}:engage", body)
    if as_json:
        typer.echo(json.dumps(answer, indent=2))
        return
    typer.echo(_engaged_line(answer, row, remix))


def _engaged_line(answer: dict[str, Any], row: dict[str, Any], remix: str | None) -> str:
    done = "liked" if remix is None else f"remixed (with {remix})"
    return (f"{answer['actor']} {done} contribution {answer['contribution']}: its creator {row['contributor']} "
            f"earned {answer['points']} points")
