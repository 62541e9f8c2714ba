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
    jobs: Annotated[bool | None, typer.Option(help="run the sealing and anchoring jobs here too")] = None,
) -> None:
    """Run the REST API and the contributor page; with no chain configured, also a dev chain."""
    import uvicorn

    from ledger.migrate import upgrade
    from tally.chain import open_chain
    from tally.wiring import build_app, build_jobs, open_ledger

    for name, value in (("TALLY_HOST", host), ("TALLY_PORT", port), ("TALLY_WORKERS", workers),
                        ("TALLY_JOBS", jobs)):
        if value is not None:
            os.environ[name] = str(value).lower() if isinstance(value, bool) else str(value)
    settings = _settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    if migrate:
        upgrade(settings.db_url)
    # The embedded default needs its dev chain; a configured deployment's API replicas serve
    # without touching the node (only the jobs do), so a node outage never stops intake.
    chain = open_chain(settings) if settings.jobs or not settings.rpc_url else None
    running = None
    try:
        # Build once here so that a bad key or setting fails now, with one line, not in a worker.
        application = build_app(settings, chain)
        if settings.jobs and chain is not None:
            running = build_jobs(settings, open_ledger(settings), chain)
            running.checkpoint = _crash_checkpoint()
            running.anchorer.checkpoint = running.checkpoint  # type: ignore[union-attr]
            running.start()
        where = f"chain {chain.chain_id} at {chain.rpc_url}, contract {chain.contract.address}" if chain else \
            "no chain connection: API only"
        typer.echo(f"tally: serving on http://{settings.host}:{settings.port} (data in {settings.home}; {where})")
        if settings.workers > 1:
            uvicorn.run("tally.wiring:app_from_environment", factory=True, host=settings.host,
                        port=settings.port, workers=settings.workers, log_level=settings.log_level)
        else:
            uvicorn.run(application, host=settings.host, port=settings.port, log_level=settings.log_level)
    finally:
        if running is not None:
            running.stop()
        if chain is not None:
            chain.close()


def _crash_checkpoint() -> Callable[[str], None]:
    """Fault injection for the crash tests: TALLY_CRASH_AT=<point> SIGKILLs this process there.

    A real crash at an exact protocol step cannot be produced from outside reliably; this is the
    one fake fault the tests use, and it is inert unless the variable is set.
    """
    point = os.environ.get("TALLY_CRASH_AT")

    def checkpoint(name: str) -> None:
        if point and name == point:
            import signal

            os.kill(os.getpid(), signal.SIGKILL)

    return checkpoint


@app.command()
@one_line_errors
def worker() -> None:
    """Run the sealing and anchoring jobs (only the elected leader of a deployment acts)."""
    import signal
    import threading

    from ledger.migrate import upgrade
    from tally.chain import open_chain
    from tally.wiring import build_jobs, open_ledger

    settings = _settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    upgrade(settings.db_url)
    chain = open_chain(settings)
    jobs = build_jobs(settings, open_ledger(settings), chain)
    jobs.checkpoint = _crash_checkpoint()
    jobs.anchorer.checkpoint = jobs.checkpoint  # type: ignore[union-attr]
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    jobs.start()
    typer.echo(f"tally: worker running (chain {chain.chain_id}, contract {chain.contract.address})")
    try:
        stop.wait()
    finally:
        jobs.stop()
        chain.close()


@app.command()
@one_line_errors
def deploy(
    rpc: Annotated[str, typer.Option(help="JSON-RPC URL of the chain")],
    key: Annotated[Path, typer.Option(help="deployer key: a keystore (passphrase: TALLY_KEY_PASSPHRASE) or hex file")],
    admin: Annotated[str | None, typer.Option(help="default admin (delayed transfer); default: the deployer")] = None,
    anchorer: Annotated[str | None, typer.Option(help="holder of ANCHOR_ROLE; default: the deployer")] = None,
    admin_delay: Annotated[int, typer.Option(help="seconds an admin transfer waits")] = 2 * 24 * 3600,
    record_rpc: Annotated[
        bool, typer.Option(help="record the RPC URL for clients (only if it holds no secret)")] = False,
) -> None:
    """Deploy TallyAnchor and record it in TALLY_HOME for the API and the anchoring jobs."""
    from web3 import Web3

    from anchoring.chain import connect
    from anchoring.deploy import deploy_tally_anchor, load_account

    settings = _settings()
    for name, value in (("--admin", admin), ("--anchorer", anchorer)):
        if value is not None and not Web3.is_address(value):
            raise CliError(f"{name} {value!r} is not an address")
    password = None
    if key.read_text("utf-8").lstrip().startswith("{"):
        password = _passphrase("TALLY_KEY_PASSPHRASE", "Keystore passphrase")
    account = load_account(key, password)
    w3 = connect(rpc, timeout=60)
    try:
        _ = w3.eth.chain_id
    except Exception:
        raise CliError(f"cannot reach a chain at {rpc}") from None
    deployment = deploy_tally_anchor(w3, account, admin, anchorer, admin_delay, rpc_url=rpc if record_rpc else None)
    path = deployment.save(settings.home)
    typer.echo(json.dumps({**deployment.to_json(), "recordedIn": str(path)}, indent=2))


@app.command()
@one_line_errors
def seal() -> None:
    """Seal everything accepted since the last epoch into a new epoch, now."""
    from ledger.epochs import Anchor, seal_epoch
    from tally.wiring import chain_info, open_ledger

    settings = _settings()
    info = chain_info(settings)
    ledger = open_ledger(settings)
    with ledger.sessions() as session, session.begin():
        epoch = seal_epoch(session, ledger.store, Anchor(info.chain_id, info.contract))
        summary = None if epoch is None else _epoch_json(epoch)
    typer.echo(json.dumps(summary or {"sealed": None, "reason": "nothing new since the last epoch"}))


@app.command()
@one_line_errors
def anchor(
    wait: Annotated[bool, typer.Option(help="keep going until every epoch is final")] = False,
    timeout: Annotated[float, typer.Option(help="seconds to wait at most with --wait")] = 600.0,
) -> None:
    """Send, follow and confirm anchoring transactions (one pass, or until final with --wait)."""
    from anchoring.chain import ChainUnavailableError
    from anchoring.jobs import Backoff
    from ledger.epochs import FINAL
    from ledger.models import Epoch
    from tally.chain import open_chain
    from tally.wiring import build_anchorer, open_ledger

    settings = _settings()
    ledger = open_ledger(settings)
    chain = open_chain(settings)
    anchorer = build_anchorer(settings, ledger, chain)
    backoff = Backoff()
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                report = anchorer.step()
                backoff.succeeded()
                if report.sent:
                    typer.echo(f"epoch {report.sent} sent")
                for number in report.final:
                    typer.echo(f"epoch {number} final")
            except ChainUnavailableError as exc:
                typer.echo(f"chain unavailable ({exc}); retrying in {backoff.failed():.0f} s", err=True)
            if not wait:
                break
            with ledger.sessions() as session:
                from sqlalchemy import select

                states = set(session.scalars(select(Epoch.state)))
            if states <= {FINAL}:
                break
            if time.monotonic() > deadline:
                raise CliError(f"not every epoch is final after {timeout:.0f} s")
            time.sleep(max(1.0, backoff.not_before - backoff.clock()) if not backoff.ready() else 1.0)
    finally:
        chain.close()


@app.command()
@one_line_errors
def status(as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False) -> None:
    """Epochs, their states and transactions, pending contributions, and the anchoring lag."""
    from sqlalchemy import select

    from ledger.epochs import pending_contributions
    from ledger.models import Epoch
    from tally.wiring import chain_info, open_ledger

    settings = _settings()
    ledger = open_ledger(settings)
    info = chain_info(settings)
    now = int(time.time())
    with ledger.sessions() as session:
        epochs = [_epoch_json(e) for e in session.scalars(select(Epoch).order_by(Epoch.number))]
        pending = pending_contributions(session)
    unanchored = [e for e in epochs if e["state"] != "final"]
    lag = now - min(e["sealedAt"] for e in unanchored) if unanchored else 0
    report = {"chainId": info.chain_id, "contract": info.contract, "rpcUrl": info.rpc_url,
              "pendingContributions": pending, "anchoringLagSeconds": lag, "epochs": epochs}
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    typer.echo(f"chain {info.chain_id}  contract {info.contract}  rpc {info.rpc_url}")
    typer.echo(f"pending contributions: {pending}   anchoring lag: {lag} s")
    typer.echo(f"{'epoch':>5}  {'state':9}  {'log size':>8}  {'points':>10}  transaction")
    for e in epochs:
        typer.echo(f"{e['epoch']:>5}  {e['state']:9}  {e['logSize']:>8}  {e['totalPoints']:>10}  "
                   f"{e['txHash'] or '-'} {'@' + str(e['blockNumber']) if e['blockNumber'] else ''}")


def _report_checks(run: Callable[[], Any], as_json: bool) -> None:
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


@verify_app.command("bundle")
@one_line_errors
def verify_bundle(
    file: Annotated[Path, typer.Argument(help="a proof bundle (GET /v1/contributions/{id}/proof)")],
    rpc: Annotated[str, typer.Option(help="JSON-RPC URL of the chain (not Tally's API)")],
    conversation: Annotated[Path | None, typer.Option(help="your own copy of the conversation")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Check a proof bundle: leaf, proof, on-chain header, and the contract's own verdict."""
    from anchoring.verify import load_bundle, verify_balance, verify_contribution

    try:
        bundle = load_bundle(file.read_text())
        convo = json.loads(conversation.read_text()) if conversation else None
    except ValueError as exc:
        raise CliError(f"not JSON: {exc}") from None
    if bundle.get("kind") == "balance":
        _report_checks(lambda: verify_balance(bundle, rpc), as_json)
    else:
        _report_checks(lambda: verify_contribution(bundle, rpc, convo), as_json)


@verify_app.command("account")
@one_line_errors
def verify_account(
    address: Annotated[str, typer.Argument(help="the account to check")],
    api: Annotated[str, typer.Option(help="Tally API base URL (only to fetch the proof)")],
    rpc: Annotated[str, typer.Option(help="JSON-RPC URL of the chain")],
    epoch: Annotated[int | None, typer.Option(help="epoch to check (default: latest final)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Fetch an account's balance proof and check it against the chain."""
    import httpx

    from anchoring.verify import verify_balance

    params = {"epoch": epoch} if epoch else {}
    try:
        response = httpx.get(f"{api.rstrip('/')}/v1/accounts/{address}/proof", params=params, timeout=60)
    except httpx.HTTPError as exc:
        raise CliError(f"cannot reach {api}: {exc}") from None
    if response.status_code != 200:
        try:
            detail = response.json().get("detail")
        except ValueError:
            detail = response.text[:200]
        raise CliError(f"the API answered {response.status_code}: {detail}")
    bundle = response.json()
    _report_checks(lambda: verify_balance(bundle, rpc), as_json)


@app.command()
@one_line_errors
def audit(
    rpc: Annotated[str, typer.Option(help="JSON-RPC URL of the chain")],
    ipfs: Annotated[str, typer.Option(
        help="an IPFS trustless gateway (…/ipfs/{cid}) base URL, or a Kubo RPC URL ending in /api/v0")],
    contract: Annotated[str, typer.Option(help="the TallyAnchor contract address")],
    from_block: Annotated[int, typer.Option(help="first block to scan for EpochAnchored events")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
    progress: Annotated[bool | None, typer.Option(help="progress lines on stderr (default: on a terminal)")] = None,
) -> None:
    """Recompute every root of every epoch from the chain's events and the IPFS manifests alone."""
    from anchoring.audit import audit as run_audit

    show = sys.stderr.isatty() if progress is None else progress
    report = run_audit(rpc, ipfs, contract, from_block=from_block, progress=show)
    if as_json:
        typer.echo(json.dumps(report.as_json(), indent=2))
    else:
        typer.echo(f"chain {report.chain_id}, contract {report.contract}")
        typer.echo(f"epochs {report.epochs}, leaves {report.leaves}, journal entries {report.journal_entries}, "
                   f"accounts {report.accounts}, total points {report.total_points} ({report.seconds:.1f} s)")
        if report.ok:
            typer.echo("audit passed: every log root, consistency step and balances root recomputes")
        else:
            typer.echo(f"DISCREPANCY in epoch {report.discrepancy_epoch}: {report.discrepancy}")
    if not report.ok:
        raise typer.Exit(1)


@app.command()
@one_line_errors
def demo(
    contributions: Annotated[int, typer.Option(help="real conversations to submit", min=1)] = 50,
    epochs: Annotated[int, typer.Option(help="epochs to seal and anchor", min=1)] = 2,
) -> None:
    """Submit real conversations, seal and anchor epochs on the dev chain, and check it all."""
    from ledger.migrate import upgrade
    from tally.chain import open_chain
    from tally.demo import DemoError, run_demo
    from tally.wiring import open_ledger

    settings = _settings()
    if settings.rpc_url:
        raise CliError("the demo runs on the embedded dev chain: unset TALLY_RPC_URL")
    if epochs > contributions:
        raise CliError("need at least one contribution per epoch")
    settings.home.mkdir(parents=True, exist_ok=True)
    upgrade(settings.db_url)
    chain = open_chain(settings)
    try:
        result = run_demo(settings, open_ledger(settings), chain, contributions=contributions, epochs=epochs,
                          say=typer.echo)
    except DemoError as exc:
        raise CliError(str(exc)) from None
    finally:
        chain.close()
    typer.echo(f"contract {result['contract']} on chain {result['chainId']} at {result['rpcUrl']}")
    typer.echo("sample proof bundle (check it with `tally verify bundle FILE --rpc URL`):")
    typer.echo(json.dumps(result["sampleProof"], indent=2))
    typer.echo(f"demo passed: {result['accepted']} contributions, {result['epochs']} epochs, "
               f"{result['totalPoints']} points; `tally serve` shows them")


def _epoch_json(epoch: Any) -> dict[str, Any]:
    return {
        "epoch": epoch.number, "state": epoch.state, "sealedAt": epoch.sealed_at,
        "logSize": epoch.log_size, "logRoot": "0x" + epoch.log_root.hex(),
        "balancesRoot": "0x" + epoch.balances_root.hex(), "totalPoints": str(epoch.total_points),
        "contributions": epoch.contributions, "manifestCid": epoch.manifest_cid,
        "txHash": epoch.tx_hash, "blockNumber": epoch.block_number, "gasUsed": epoch.gas_used,
    }


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
    import logging

    level = os.environ.get("TALLY_LOG_LEVEL", "info").upper()
    logging.basicConfig(level=getattr(logging, level, logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("alembic", "apscheduler", "httpx", "web3", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    app()


if __name__ == "__main__":
    main()
