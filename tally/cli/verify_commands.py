"""Commands for contributors and auditors: verify a proof, audit everything."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from tally.cli.base import (
    CliError,
    address_value,
    app,
    fail,
    load_settings,
    one_line_errors,
    report_checks,
    url_value,
    verify_app,
)

if TYPE_CHECKING:
    from anchoring.audit import AuditReport


@verify_app.command("bundle")
@one_line_errors
def verify_bundle(
    file: Annotated[Path, typer.Argument(help="a proof bundle (GET /v1/contributions/{id}/proof)")],
    rpc: Annotated[str, typer.Option(help="JSON-RPC URL of the chain (not Tally's API)", parser=url_value)],
    conversation: Annotated[Path | None, typer.Option(
        help="your own copy of the conversation (checked as submitted: personal data redacted)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Check a proof bundle: leaf, proof, on-chain header, and the contract's own verdict."""
    from anchoring.verify import load_bundle, verify_balance, verify_contribution
    from ledger.formats import BalanceBundle, InvalidBundleError

    try:
        bundle = load_bundle(file.read_text())
    except InvalidBundleError as exc:
        fail(f"{file} is not a proof bundle: {exc}", exc.exit_code)
    from tally.cli.privacy_commands import as_submitted

    try:
        convo = as_submitted(json.loads(conversation.read_text()))[0] if conversation else None
    except ValueError as exc:
        raise CliError(f"not JSON: {exc}") from None
    if isinstance(bundle, BalanceBundle):
        report_checks(lambda: verify_balance(bundle, rpc), as_json)
    else:
        report_checks(lambda: verify_contribution(bundle, rpc, convo), as_json)


@verify_app.command("account")
@one_line_errors
def verify_account(
    address: Annotated[str, typer.Argument(help="the account to check", parser=address_value)],
    api: Annotated[str, typer.Option(help="Tally API base URL (only to fetch the proof)", parser=url_value)],
    rpc: Annotated[str, typer.Option(help="JSON-RPC URL of the chain", parser=url_value)],
    epoch: Annotated[int | None, typer.Option(help="epoch to check (default: latest final)", min=1)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Fetch an account's balance proof and check it against the chain."""
    from anchoring.verify import verify_balance
    from tally.client import balance_bundle

    bundle = balance_bundle(api, address, epoch)
    report_checks(lambda: verify_balance(bundle, rpc), as_json)


def _audited_contract(contract: str | None, rpc: str) -> tuple[str, str]:
    """The address to audit and where it came from: ``--contract`` (parsed already), else the one
    Tally itself anchors to, ``TALLY_CONTRACT_ADDRESS`` or the data folder's deployment record
    (its path is the source), which must be of the chain at ``rpc``."""
    from anchoring.chain import call, connect
    from anchoring.deploy import Deployment, DeploymentError
    from ledger.encoding import parse_address

    if contract is not None:
        return contract, "--contract"
    settings = load_settings()
    if settings.contract_address:
        return parse_address(settings.contract_address, "TALLY_CONTRACT_ADDRESS"), "TALLY_CONTRACT_ADDRESS"
    path = settings.deployment_file
    try:
        deployment = Deployment.load(settings.home)
    except FileNotFoundError:
        raise CliError(f"no --contract given and no deployment record at {path}: pass --contract ADDRESS, or "
                       "run where the Tally data folder is (TALLY_HOME)") from None
    except DeploymentError as exc:
        raise CliError(f"no --contract given and the deployment record {path} is unreadable: {exc}") from None
    w3 = connect(rpc, timeout=60)
    chain_id = int(call(lambda: w3.eth.chain_id))
    if chain_id != deployment.chain_id:
        raise CliError(f"the deployment record {path} is of chain {deployment.chain_id}, but --rpc is chain "
                       f"{chain_id}: pass --contract ADDRESS")
    return deployment.address, str(path)


def _print_audit(report: AuditReport, source: str) -> None:
    """The report as text: what was audited (and, when not given, where the address came from),
    the figures, then one verdict line."""
    from anchoring.audit_failures import AuditDiscrepancy, EngagementDiscrepancy

    origin = {"--contract": "", "TALLY_CONTRACT_ADDRESS": " (from TALLY_CONTRACT_ADDRESS)"}.get(
        source, f" (from the deployment record {source})")
    typer.echo(f"chain {report.chain_id}, contract {report.contract}{origin}")
    if report.latest_epoch is not None:
        typer.echo(f"epochs {report.epochs}, leaves {report.leaves}, journal entries {report.journal_entries}, "
                   f"accounts {report.accounts}, total points {report.total_points} ({report.seconds:.1f} s)")
        if report.payouts_recomputed:
            typer.echo(f"programs: {report.payouts_recomputed} top-ups and retroactive payments recomputed")
        if report.engagements_checked:
            typer.echo(f"feed: {report.engagements_checked} engagement credits held to the feed's rules")
    if report.api is not None:
        typer.echo(f"the API at {report.api.url} reports {report.api.final_epochs} final epochs")
    if isinstance(report.failure, EngagementDiscrepancy):
        typer.echo(f"DISCREPANCY in epoch {report.failure.epoch} (engagement rule {report.failure.rule}): "
                   f"{report.failure.what}")
    elif isinstance(report.failure, AuditDiscrepancy):
        typer.echo(f"DISCREPANCY in epoch {report.failure.epoch}: {report.failure.what}")
    elif report.failure is not None:
        typer.echo(f"FAILED: {report.failure.what}")
    elif report.nothing_anchored:
        typer.echo(f"nothing anchored yet on this contract: it answers as TallyAnchor does, latestEpoch() is 0 at "
                   f"block {report.to_block}, and no EpochAnchored event was logged")
    else:
        typer.echo("audit passed: every log root, consistency step and balances root recomputes")


@app.command()
@one_line_errors
def audit(
    rpc: Annotated[str, typer.Option(help="JSON-RPC URL of the chain", parser=url_value)],
    ipfs: Annotated[str, typer.Option(
        help="an IPFS trustless gateway (…/ipfs/{cid}) base URL, or a Kubo RPC URL ending in /api/v0",
        parser=url_value)],
    contract: Annotated[str | None, typer.Option(
        help="the TallyAnchor contract address (default: TALLY_CONTRACT_ADDRESS, else the data folder's "
             "deployment record)", parser=address_value)] = None,
    from_block: Annotated[int, typer.Option(min=0, help="first block to scan for EpochAnchored events")] = 0,
    from_epoch: Annotated[int, typer.Option(
        min=1, help="audit from this epoch on, taking up the log and balances the epoch before published")] = 1,
    api: Annotated[str | None, typer.Option(
        help="a Tally API base URL: the epochs it calls final must all be on the chain", parser=url_value)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
    progress: Annotated[bool | None, typer.Option(help="progress lines on stderr (default: on a terminal)")] = None,
) -> None:
    """Recompute every root of every epoch from the chain's events and the IPFS manifests alone,
    after checking that the address holds a TallyAnchor and that the events cover all its epochs."""
    from anchoring.audit import audit as run_audit

    address, source = _audited_contract(contract, rpc)
    show = sys.stderr.isatty() if progress is None else progress
    report = run_audit(rpc, ipfs, address, from_block=from_block, from_epoch=from_epoch, progress=show, api_url=api)
    if as_json:
        typer.echo(json.dumps({**report.as_json(), "contractFrom": source}, indent=2))
    else:
        _print_audit(report, source)
    if not report.ok:
        raise typer.Exit(1)
