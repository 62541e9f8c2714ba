"""The two forms of the fault scenarios and their fixtures.

The CI form (the default, run by `make test`) keeps the whole directory near three minutes on a
two-core machine: a few kills, outages of a few seconds. `TALLY_SOAK=1` (`make soak`) selects the
long form: at least 30 kills, every fault, outages of about 30 s, and prints the invariant table.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.anchoring_e2e.conftest import pg_stack  # noqa: F401 (the in-process stack, reused)
from tests.faults.harness import Deployment, make_deployment
from tests.faults.invariants import TABLE
from tests.support.ipfs_daemon import IpfsDaemon, IpfsDaemonError, node_modules_installed


@dataclass(frozen=True)
class Profile:
    name: str
    kills: int  # SIGKILLs of the API and worker processes (scenario 1)
    db_cuts: int  # rounds of pg_terminate_backend (scenario 2)
    outage: float  # seconds a node (anvil, IPFS) stays stopped
    outages: int  # rounds of each node outage: anvil stopped then SIGKILLed (3), IPFS stopped (5)
    reorgs: int  # reorgs before finality, depths cycling 1, 2, 3 (scenario 4)
    conversations: int  # the most each scenario submits
    settle: float  # seconds the ledger gets to settle after the faults


CI = Profile("ci", kills=4, db_cuts=4, outage=5, outages=1, reorgs=3, conversations=100, settle=90)
SOAK = Profile("soak", kills=32, db_cuts=30, outage=30, outages=3, reorgs=9, conversations=600, settle=300)


@pytest.fixture(scope="session")
def profile() -> Profile:
    return SOAK if os.environ.get("TALLY_SOAK") == "1" else CI


@pytest.fixture
def deploy(pg_url: str, tmp_path: Path) -> Iterator[object]:
    """A factory of deployments on this test's database; whatever it started is stopped."""
    made: list[Deployment] = []

    def factory(**kwargs: object) -> Deployment:
        deployment = make_deployment(pg_url, tmp_path, **kwargs)  # type: ignore[arg-type]
        made.append(deployment)
        return deployment

    yield factory
    for deployment in made:
        deployment.stop_all()
        deployment.sessions.kw["bind"].dispose()


@pytest.fixture
def ipfs(tmp_path: Path) -> Iterator[IpfsDaemon]:
    """A js-ipfs node of this test alone (the session one is shared and must not be stopped)."""
    if not node_modules_installed():
        if os.environ.get("CI"):
            pytest.fail("the js-ipfs daemon is required in CI: tools/ipfs/node_modules is missing")
        pytest.skip("no js-ipfs daemon: run `npm ci --prefix tools/ipfs`")
    daemon = IpfsDaemon(tmp_path / "ipfs" / "repo")
    try:
        daemon.init()
        daemon.start()
    except IpfsDaemonError as exc:
        daemon.stop()
        pytest.fail(f"js-ipfs did not start: {exc}")
    yield daemon
    daemon.stop()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The invariant table: one row per scenario, what it did and what held."""
    if not TABLE:
        return
    columns = list(dict.fromkeys(key for row in TABLE for key in row))
    cells = [[str(row.get(c, "")) for c in columns] for row in TABLE]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    terminalreporter.section("fault scenarios: invariant table")
    terminalreporter.write_line("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    for r in cells:
        terminalreporter.write_line("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)))
