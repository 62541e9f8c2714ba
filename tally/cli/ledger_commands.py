"""Commands on the ledger: schema, keys, submitting, sealing and status."""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from tally.cli.base import (
    CliError,
    app,
    db_app,
    keys_app,
    load_settings,
    one_line_errors,
    passphrase,
    url_value,
)


@db_app.command("upgrade")
@one_line_errors
def db_upgrade() -> None:
    """Create or migrate the database schema to the newest version."""
    from ledger.migrate import upgrade

    settings = load_settings()
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
    secret = passphrase("TALLY_KEY_PASSPHRASE", "Passphrase", confirm=True)
    address = write_keystore(out, new_private_key(), secret)
    typer.echo(json.dumps({"address": address, "keystore": str(out)}))


@app.command()
@one_line_errors
def submit(
    file: Annotated[Path, typer.Argument(help="a conversation: ChatGPT, ShareGPT or {messages}")],
    key: Annotated[Path, typer.Option(help="the contributor's keystore (tally keys new)")],
    api: Annotated[str, typer.Option(help="Tally API base URL", parser=url_value)] = "http://127.0.0.1:8000",
) -> None:
    """Sign a conversation with your key and submit it, as the extension would."""
    from tally.client import submit_conversation
    from tally.keys import read_keystore

    try:
        conversation = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CliError(f"{file} is not JSON: {exc}") from None
    private_key = read_keystore(key, passphrase("TALLY_KEY_PASSPHRASE", "Passphrase"))
    # A refusal exits 2, a receipt that does not check out 1, an unreachable API 3.
    result = submit_conversation(api, conversation, private_key, nonce=secrets.randbits(64),
                                 issued_at=int(time.time()))
    typer.echo(json.dumps(result, indent=2))


@app.command()
@one_line_errors
def seal() -> None:
    """Seal everything accepted since the last epoch into a new epoch, now."""
    from ledger.epochs import Anchor, seal_epoch
    from tally.wiring import chain_info, open_ledger

    settings = load_settings()
    ledger = open_ledger(settings, existing=True)
    info = chain_info(settings)
    with ledger.sessions() as session, session.begin():
        epoch = seal_epoch(session, ledger.store, Anchor(info.chain_id, info.contract))
        summary = None if epoch is None else _epoch_json(epoch)
    typer.echo(json.dumps(summary or {"sealed": None, "reason": "nothing new since the last epoch"}))


@app.command()
@one_line_errors
def status(as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False) -> None:
    """The contract, pending contributions, when the next seal is due, and every epoch's state."""
    from sqlalchemy import select

    from ledger.lifecycle import EpochState
    from ledger.models import Epoch
    from ledger.sealing import sealing_state
    from tally.home import open_existing_database, recorded_chain

    settings = load_settings()
    engine, sessions = open_existing_database(settings)
    info = recorded_chain(settings)
    now = int(time.time())
    with sessions() as session:
        epochs = [_epoch_json(e) for e in session.scalars(select(Epoch).order_by(Epoch.number))]
        state = sealing_state(session)
    engine.dispose()
    sealing = settings.sealing.as_json(pending=state.pending, last_sealed_at=state.last_sealed_at, now=now)
    unanchored = [e for e in epochs if e["state"] != EpochState.FINAL]
    lag = now - min(e["sealedAt"] for e in unanchored) if unanchored else 0
    report = {"chainId": info.chain_id if info else settings.chain_id, "contract": info.contract if info else None,
              "rpcUrl": info.rpc_url if info else settings.rpc_url, "pendingContributions": state.pending,
              "nextSealAt": sealing["nextSealAt"], "anchoringLagSeconds": lag, "epochs": epochs}
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    if info is None:
        typer.echo("no contract deployed yet: `tally serve` deploys one on the dev chain, or run `tally deploy`")
    else:
        typer.echo(f"contract {info.contract}  chain {info.chain_id}  rpc {info.rpc_url or '-'}")
    due = sealing["nextSealAt"]
    when = "nothing pending" if due is None else \
        "next seal due now" if due <= now else f"next seal due in {due - now} s"
    typer.echo(f"pending contributions: {state.pending} ({when})   anchoring lag: {lag} s")
    typer.echo(f"{'epoch':>5}  {'state':9}  {'log size':>8}  {'points':>10}  transaction")
    for e in epochs:
        typer.echo(f"{e['epoch']:>5}  {e['state']:9}  {e['logSize']:>8}  {e['totalPoints']:>10}  "
                   f"{e['txHash'] or '-'} {'@' + str(e['blockNumber']) if e['blockNumber'] else ''}")


def _epoch_json(epoch: Any) -> dict[str, Any]:
    return {
        "epoch": epoch.number, "state": epoch.state, "sealedAt": epoch.sealed_at,
        "logSize": epoch.log_size, "logRoot": "0x" + epoch.log_root.hex(),
        "balancesRoot": "0x" + epoch.balances_root.hex(), "totalPoints": str(epoch.total_points),
        "contributions": epoch.contributions, "manifestCid": epoch.manifest_cid,
        "txHash": epoch.tx_hash, "blockNumber": epoch.block_number, "gasUsed": epoch.gas_used,
    }
