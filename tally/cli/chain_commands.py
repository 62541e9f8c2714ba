"""Commands that run a deployment or talk to its chain: serve, worker, anchor, deploy, demo."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from tally.cli.base import CliError, address_value, app, load_settings, one_line_errors, passphrase, url_value


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
    from uvicorn.supervisors import Multiprocess

    from ledger.migrate import upgrade
    from tally.app_factory import AppFactory
    from tally.chain import open_chain
    from tally.web import build_app
    from tally.wiring import build_jobs, check_deployment_identity, open_ledger

    options = {"host": host, "port": port, "workers": workers, "jobs": jobs}
    settings = load_settings().model_copy(update={k: v for k, v in options.items() if v is not None})
    settings.home.mkdir(parents=True, exist_ok=True)
    if migrate:
        upgrade(settings.db_url)
    # The embedded default needs its dev chain; a configured deployment's API replicas serve
    # without touching the node (only the jobs do), so a node outage never stops intake.
    chain = open_chain(settings) if settings.jobs or not settings.rpc_url else None
    running = None
    try:
        ledger = open_ledger(settings)
        check_deployment_identity(settings, ledger, anchoring=settings.jobs and chain is not None)
        # Built here even with several workers, so that a bad key or setting fails now, with one
        # line, not in a worker.
        application = build_app(settings, ledger, chain)
        if settings.jobs and chain is not None:
            running = build_jobs(settings, ledger, chain, checkpoint=_crash_checkpoint())
            running.start()
        where = f"chain {chain.chain_id} at {chain.rpc_url}, contract {chain.contract.address}" if chain else \
            "no chain connection: API only"
        typer.echo(f"tally: serving on http://{settings.host}:{settings.port} (data in {settings.home}; {where})")
        # JSON lines: uvicorn's own loggers (its access log included) go through ours (tally.logs).
        log_config = None if settings.log_format == "json" else uvicorn.config.LOGGING_CONFIG
        if settings.workers > 1:
            # Each worker builds its own app from the same settings, handed over pickled.
            config = uvicorn.Config(AppFactory.of(settings), factory=True, host=settings.host, port=settings.port,
                                    workers=settings.workers, log_level=settings.log_level, log_config=log_config)
            Multiprocess(config, sockets=[config.bind_socket()]).run()
        else:
            uvicorn.run(application, host=settings.host, port=settings.port, log_level=settings.log_level,
                        log_config=log_config)
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
    from tally.wiring import build_jobs, check_deployment_identity, open_ledger

    settings = load_settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    upgrade(settings.db_url)
    ledger = open_ledger(settings)
    check_deployment_identity(settings, ledger, anchoring=True)
    chain = open_chain(settings)
    jobs = build_jobs(settings, ledger, chain, checkpoint=_crash_checkpoint())
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
def anchor(
    wait: Annotated[bool, typer.Option(help="keep going until every epoch is final")] = False,
    timeout: Annotated[float, typer.Option(help="seconds to wait at most with --wait")] = 600.0,
) -> None:
    """Send, follow and confirm anchoring transactions (one pass, or until final with --wait)."""
    from anchoring.anchorer import StepReport
    from anchoring.chain import ChainUnavailableError
    from anchoring.loop import Backoff, run_until_final, step_with_backoff
    from tally.chain import open_chain
    from tally.wiring import build_anchorer, check_deployment_identity, open_ledger

    def say_pass(report: StepReport) -> None:
        if report.sent:
            typer.echo(f"epoch {report.sent} sent")
        for number in report.final:
            typer.echo(f"epoch {number} final")

    def say_unavailable(exc: ChainUnavailableError, delay: float) -> None:
        typer.echo(f"chain unavailable ({exc}); retrying in {delay:.0f} s", err=True)

    settings = load_settings()
    ledger = open_ledger(settings, existing=True)
    check_deployment_identity(settings, ledger, anchoring=True)
    chain = open_chain(settings)
    anchorer = build_anchorer(settings, ledger, chain)
    try:
        if wait:
            run_until_final(anchorer, ledger.sessions, timeout=timeout, on_pass=say_pass,
                            on_unavailable=say_unavailable)
        else:
            report = step_with_backoff(anchorer, Backoff(), say_unavailable)
            if report is not None:
                say_pass(report)
    finally:
        chain.close()


def _amount(value: str | int) -> int:
    """Parser of a token amount or units per point: a non-negative decimal integer, any size."""
    if isinstance(value, int):  # the default
        return value
    if not value.isdecimal():
        raise typer.BadParameter(f"{value!r} is not a non-negative decimal integer")
    return int(value)


@app.command()
@one_line_errors
def deploy(
    rpc: Annotated[str, typer.Option(help="JSON-RPC URL of the chain", parser=url_value)],
    key: Annotated[Path, typer.Option(help="deployer key: a keystore (passphrase: TALLY_KEY_PASSPHRASE) or hex file")],
    admin: Annotated[str | None, typer.Option(help="default admin (delayed transfer); default: the deployer",
                                              parser=address_value)] = None,
    anchorer: Annotated[str | None, typer.Option(help="holder of ANCHOR_ROLE; default: the deployer",
                                                 parser=address_value)] = None,
    admin_delay: Annotated[int, typer.Option(help="seconds an admin transfer waits")] = 2 * 24 * 3600,
    record_rpc: Annotated[
        bool, typer.Option(help="record the RPC URL for clients (only if it holds no secret)")] = False,
    rewards: Annotated[bool, typer.Option(help="also deploy TallyRewards (and TallyPoints unless --token)")] = True,
    token: Annotated[str | None, typer.Option(
        help="pay rewards in this existing ERC-20 instead of a new TallyPoints", parser=address_value)] = None,
    units_per_point: Annotated[int, typer.Option(
        help="token units paid per point (default: one 18-decimal token)", parser=_amount)] = 10**18,
    pool: Annotated[int | None, typer.Option(
        help="token units the deployer moves into the pool (default: all of TallyPoints' supply; 0 with --token)",
        parser=_amount)] = None,
) -> None:
    """Deploy TallyAnchor, then TallyPoints and a funded TallyRewards over it, and record them in
    TALLY_HOME (deployment.json, rewards.json) for the API, the anchoring jobs and `tally claim`."""
    from anchoring.chain import ChainUnavailableError, connect
    from anchoring.deploy import deploy_tally_anchor, load_account
    from anchoring.rewards import deploy_rewards

    settings = load_settings()
    password = None
    if key.read_text("utf-8").lstrip().startswith("{"):
        password = passphrase("TALLY_KEY_PASSPHRASE", "Keystore passphrase")
    account = load_account(key, password)
    w3 = connect(rpc, timeout=60)
    try:
        _ = w3.eth.chain_id
    except Exception:
        raise ChainUnavailableError(f"cannot reach a chain at {rpc}") from None
    deployment = deploy_tally_anchor(w3, account, admin, anchorer, admin_delay, rpc_url=rpc if record_rpc else None)
    path = deployment.save(settings.home)
    out = {**deployment.to_json(), "recordedIn": str(path)}
    if rewards:
        paid = deploy_rewards(w3, account, deployment.address, token=token, units_per_point=units_per_point,
                              admin=admin, pool=pool)
        out["rewards"] = {**paid.to_json(), "recordedIn": str(paid.save(settings.home))}
    else:
        settings.rewards_file.unlink(missing_ok=True)  # a record of an older anchor's rewards is not this one's
    typer.echo(json.dumps(out, indent=2))


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

    settings = load_settings()
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
