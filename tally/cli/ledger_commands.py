"""Commands on the ledger: schema, keys, submitting, sealing and status."""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ledger.errors import InvalidInputError
from tally.cli.base import (
    DEFAULT_API,
    ApiUrl,
    CliError,
    app,
    contribution_key_value,
    db_app,
    keys_app,
    load_settings,
    one_line_errors,
    passphrase,
    url_value,
)

if TYPE_CHECKING:
    from tally.exports import ExportSource


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


SUBMIT_HELP = (
    "Sign conversations with your key and submit them, as the extension would.\n\n"
    "A selection from an export (--all, --id, --title) is signed once: one EIP-712 ContributionBatch signature "
    "over the root of the conversations' contentHashes, for up to the API's limits.maxBatch (100) conversations; "
    "a larger selection is sent in chunks of that many, one signature each. One line per conversation says "
    "whether it was accepted.\n\n"
    "Exit code 2 if any conversation was refused (the others are accepted all the same), 1 if a receipt or a "
    "batch consent does not check out, 3 if the API cannot be reached."
)


@app.command(help=SUBMIT_HELP)
@one_line_errors
def submit(
    file: Annotated[Path, typer.Argument(help="a conversation (ChatGPT, ShareGPT or {messages}), or a ChatGPT "
                                              "export (its zip, its folder or its conversations.json) holding "
                                              "many; the export's image files go with the conversations")],
    key: Annotated[Path, typer.Option(help="the contributor's keystore (tally keys new)")],
    api: ApiUrl = DEFAULT_API,
    every: Annotated[bool, typer.Option("--all", help="an export: submit every conversation it holds")] = False,
    ids: Annotated[list[str] | None, typer.Option(
        "--id", help="an export: the conversation with this index (as listed) or id; repeatable")] = None,
    titles: Annotated[list[str] | None, typer.Option(
        "--title", help="an export: the conversations whose title contains this text; repeatable")] = None,
    wait: Annotated[bool, typer.Option(
        help="wait until final on-chain, then fetch each proof and verify it against the chain")] = False,
    rpc: Annotated[str | None, typer.Option(
        help="with --wait: the chain node to verify against (default: the rpcUrl the API publishes)",
        parser=url_value)] = None,
    proof: Annotated[Path | None, typer.Option(help="with --wait: write the proof bundle to this file")] = None,
    timeout: Annotated[float, typer.Option(help="with --wait: seconds to wait at most", min=1)] = 300.0,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output (the API's answers)")] = False,
) -> None:
    """Sign conversations with your key and submit them, as the extension would (SUBMIT_HELP)."""
    from tally.exports import load_export, read_export, select

    try:
        source = load_export(file)
    except InvalidInputError as exc:
        raise CliError(str(exc)) from None
    data = source.data
    entries = read_export(data)
    chosen_flags = every or bool(ids) or bool(titles)
    if entries is None:
        if chosen_flags:
            raise CliError(f"--all, --id and --title choose among an export's conversations; {file} holds one")
        conversations = [data]
    else:
        if not chosen_flags:
            for entry in entries:
                typer.echo(entry.line())
            raise CliError(f"{file} is an export of {len(entries)} conversations (listed above): choose with "
                           "--all, --id INDEX_OR_ID or --title TEXT")
        conversations = [e.conversation for e in select(entries, every=every, ids=ids or [], titles=titles or [])]
    if proof is not None and (not wait or len(conversations) != 1):
        raise CliError("--proof writes the bundle of one contribution, with --wait")
    conversations, images = _with_images(source, conversations)
    # Personal data never leaves this machine: each conversation is signed and sent redacted.
    from tally.cli.privacy_commands import redact_before_signing
    conversations = redact_before_signing(conversations, quiet=as_json)
    results = _send(api, key, conversations, quiet=as_json, images=images)
    accepted = [r for r in results if isinstance(r, dict)]
    if as_json:
        answers = [r if isinstance(r, dict) else {"refused": str(r)} for r in results]
        typer.echo(json.dumps(answers[0] if entries is None else answers, indent=2))
    if wait:
        for contribution, conversation in zip(results, conversations, strict=True):
            if isinstance(contribution, dict):
                _wait_and_verify(api, contribution, conversation, rpc, proof, timeout)
    elif accepted and not as_json:
        _say_next(api, file if entries is None else None, accepted)
    refused = len(results) - len(accepted)
    if refused:
        raise CliError(f"{refused} of {len(results)} conversations were refused (see above)" if len(results) > 1
                       else str(results[0]))


def _with_images(source: ExportSource, conversations: list[object]) -> tuple[list[object], dict[str, bytes]]:
    """Each conversation whose images the export holds as its version-2 canonical form (its
    images' CIDs beside their text, docs/formats.md §2), and those images' bytes by CID."""
    from ledger.content import cid_of
    from ledger.conversation import ConversationError, normalise

    out: list[object] = []
    images: dict[str, bytes] = {}
    for conversation in conversations:
        found = source.images_of(conversation)
        if found:
            try:
                conversation = normalise(conversation, images=found).to_canonical()
            except ConversationError:
                pass  # refused when it is sent, with the reason
            else:
                images.update((cid_of(data), data) for data in found.values())
        out.append(conversation)
    return out, images


def _send(api: str, key: Path, conversations: list[object], *, quiet: bool,
          images: dict[str, bytes] | None = None) -> list[dict[str, Any] | Exception]:
    """Submit, printing one line per conversation unless ``quiet``; a refusal of a single
    conversation is raised."""
    from tally.client import SubmitError, submit_conversation, submit_conversations
    from tally.keys import read_keystore

    if not key.is_file():
        raise CliError(f"{key}: no such keystore file (make one with `tally keys new --out {key}`)")
    private_key = read_keystore(key, passphrase("TALLY_KEY_PASSPHRASE", "Passphrase"))
    nonce, now = secrets.randbits(63), int(time.time())
    # A refusal exits 2, a receipt that does not check out 1, an unreachable API 3.
    results: list[dict[str, Any] | Exception]
    if len(conversations) == 1:
        named = _named_images(conversations[0], images or {})
        results = [submit_conversation(api, conversations[0], private_key, nonce=nonce, issued_at=now,
                                       images=named)]
    else:
        def announce(start: int, count: int) -> None:
            if not quiet:
                typer.echo(f"signing conversations {start + 1} to {start + count} once (one ContributionBatch "
                           "signature) and submitting them")

        results = list(submit_conversations(api, conversations, private_key, first_nonce=nonce, issued_at=now,
                                            on_chunk=announce, images=images))
    for number, result in enumerate(results, start=1):
        if quiet:
            break
        if isinstance(result, SubmitError):
            typer.echo(f"{number:>4}. refused: {result}")
        elif isinstance(result, dict):
            checked = "receipt and batch consent checked" if result.get("consent", {}).get("batch") \
                else "receipt signed by the operator, checked"
            prefix = f"{number:>4}. " if len(results) > 1 else ""
            typer.echo(f"{prefix}contribution {result['id']} accepted: {result['points']} points, {result['status']}; "
                       f"contentHash {result['contentHash']} ({checked})")
    return results


def _named_images(conversation: object, images: dict[str, bytes]) -> list[bytes]:
    """The bytes of the images ``conversation`` names, from ``images`` (by CID)."""
    from ledger.conversation import ConversationError, canonical_bytes, image_cids

    try:
        return [images[cid] for cid in dict.fromkeys(image_cids(canonical_bytes(conversation))) if cid in images]
    except ConversationError:
        return []


def _say_next(api: str, conversation_file: Path | None, accepted: list[dict[str, Any]]) -> None:
    """When the next seal is due, and the exact commands that fetch and check the first proof."""
    from tally.client import api_config

    config = api_config(api)
    due = (config.get("sealing") or {}).get("nextSealAt")
    if due is not None:
        typer.echo(f"the next epoch is sealed in about {max(0, int(due) - int(time.time()))} s, "
                   "then anchored on-chain")
    prog, rpc = _program(), config.get("rpcUrl") or "URL"
    mine = f" --conversation {conversation_file}" if conversation_file is not None else ""
    api_option = "" if api.rstrip("/") == DEFAULT_API else f" --api {api}"
    typer.echo(f"next: {prog} proof {accepted[0]['id']}{api_option} --wait --out proof.json")
    typer.echo(f"then: {prog} verify bundle proof.json --rpc {rpc}{mine}")


def _wait_and_verify(api: str, contribution: dict[str, Any], conversation: object, rpc: str | None,
                     out: Path | None, timeout: float) -> None:
    from anchoring.verify import verify_contribution
    from tally.cli.base import report_checks
    from tally.client import api_config, proof_bundle, wait_until_anchored

    number = contribution["id"]
    wait_until_anchored(api, number, timeout=timeout, on_change=lambda state: typer.echo(
        f"contribution {number}: {state['status']}" + (f" in epoch {state['epoch']}" if state.get("epoch") else "")))
    bundle = proof_bundle(api, number)
    if out is not None:
        out.write_text(json.dumps(bundle, indent=2) + "\n", encoding="utf-8")
        typer.echo(f"proof bundle written to {out}")
    node = rpc or api_config(api).get("rpcUrl")
    if not node:
        raise CliError("the API publishes no rpcUrl: pass --rpc with a chain node to verify against")
    typer.echo(f"verifying against the chain at {node}" + ("" if rpc else " (the API's; pass --rpc for your own)"))
    report_checks(lambda: verify_contribution(bundle, node, conversation), as_json=False)


def _program() -> str:
    """The command as the user typed it (``.venv/bin/tally``), for the next step; else ``tally``."""
    import sys

    typed = Path(sys.argv[0]) if sys.argv else Path("tally")
    return str(typed) if typed.name == "tally" and not typed.is_absolute() else "tally"


@app.command()
@one_line_errors
def proof(
    contribution: Annotated[str, typer.Argument(
        help="the contribution's id (tally submit prints it) or its contentHash", parser=contribution_key_value)],
    out: Annotated[Path, typer.Option(help="file to write the proof bundle to")] = Path("proof.json"),
    api: ApiUrl = DEFAULT_API,
    wait: Annotated[bool, typer.Option(help="wait until the contribution is final on-chain")] = False,
    timeout: Annotated[float, typer.Option(help="with --wait: seconds to wait at most", min=1)] = 300.0,
) -> None:
    """Fetch a contribution's proof bundle (once final on-chain) to check with `tally verify bundle`."""
    from tally.client import NotAnchoredYetError, contribution_state, proof_bundle, wait_until_anchored

    if wait:
        wait_until_anchored(api, contribution, timeout=timeout, on_change=lambda state: typer.echo(
            f"contribution {contribution}: {state['status']}", err=True))
    else:
        state = contribution_state(api, contribution)
        if state["status"] != "anchored":
            raise NotAnchoredYetError(f"contribution {contribution} is {state['status']}, not final on-chain yet: "
                                      "pass --wait to wait for it")
    out.write_text(json.dumps(proof_bundle(api, contribution), indent=2) + "\n", encoding="utf-8")
    typer.echo(f"proof bundle of contribution {contribution} written to {out}; check it with "
               f"`{_program()} verify bundle {out} --rpc URL`")


@app.command()
@one_line_errors
def seal(
    snapshot: Annotated[bool, typer.Option(
        "--snapshot", help="publish a full balances snapshot with this epoch (else every TALLY_SNAPSHOT_EVERY)",
    )] = False,
) -> None:
    """Seal everything accepted since the last epoch into a new epoch, now."""
    from ledger.epochs import Anchor, seal_epoch
    from tally.wiring import chain_info, engagement_policy, open_ledger

    settings = load_settings()
    ledger = open_ledger(settings, existing=True)
    info = chain_info(settings)
    with ledger.sessions() as session, session.begin():
        epoch = seal_epoch(session, ledger.store, Anchor(info.chain_id, info.contract),
                           snapshot_every=settings.snapshot_every, snapshot=snapshot,
                           engagement=engagement_policy(settings))
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
              "rpcUrl": info.rpc_url if info else settings.rpc_url, "pendingContributions": state.contributions,
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
    typer.echo(f"pending contributions: {state.contributions} ({when})   anchoring lag: {lag} s")
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
