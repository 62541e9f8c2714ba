"""Programs' closes in real processes: a `tally worker` SIGKILLed between computing and committing
the top-ups, and two `tally seal` processes racing on PostgreSQL, still pay each top-up exactly
once; the anchored epochs then pass the audit, which recomputes every top-up."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from anchoring.audit import Auditor
from ledger import journal
from ledger.models import JournalEntry, ProgramPayout
from ledger.program_rules import Definition
from ledger.programs import change_membership, define
from tests.anchoring_e2e.test_worker_processes import Deployment, make_deployment
from tests.support.server import ROOT
from tests.support.worker import start_worker, wait_for

pytestmark = pytest.mark.slow

ABOVE, BELOW = "0x2B5AD5c4795c026514f8317c7a215E218DcCD6cF", "0x6813Eb9362372EEF6200f3b1dbC3f819671cBA69"
MINIMUM = 100


@pytest.fixture
def deployment(sqlite_url: str, tmp_path: Path) -> Iterator[Deployment]:
    yield from make_deployment(sqlite_url, tmp_path)


@pytest.fixture
def pg_deployment(pg_url: str, tmp_path: Path) -> Iterator[Deployment]:
    yield from make_deployment(pg_url, tmp_path)


def program_ending_in(d: Deployment, seconds: int) -> int:
    """A program of one-hour periods whose current period ends ``seconds`` from now, with one
    member above the minimum and one below; the period's end."""
    now = int(time.time())
    end = now + seconds
    with d.stack.sessions() as session, session.begin():
        define(session, Definition("creators", "3600", MINIMUM, end - 3600), now=now - 100)
        for account in (ABOVE, BELOW):
            change_membership(session, "creators", account, "enrol", now=now - 100)
        journal.accrue_many(session, [(ABOVE, 140, "work-a", None), (BELOW, 30, "work-b", None)], created_at=now - 50)
    return end


def topups(d: Deployment) -> list[tuple[str, int]]:
    with d.stack.sessions() as session:
        payouts = list(session.execute(select(ProgramPayout.account, ProgramPayout.points)))
        entries = session.execute(select(JournalEntry.account, JournalEntry.amount)
                                  .where(JournalEntry.kind == "minimum-topup", JournalEntry.amount > 0)).all()
    assert sorted(payouts) == sorted(entries)  # one journal transfer for each payout, and none other
    return sorted((account, int(points)) for account, points in payouts)


def audit(d: Deployment) -> None:
    report = Auditor(d.stack.w3, d.stack.contract.address, d.stack.store).run()
    assert report.ok, report.discrepancy
    assert report.payouts_recomputed == 1


def test_a_worker_killed_between_computing_and_committing_topups_pays_each_once(deployment: Deployment) -> None:
    d = deployment
    program_ending_in(d, 8)
    crashing = start_worker(d.home, {**d.env, "TALLY_CRASH_AT": "after-program-payouts"}, "crashing")
    try:
        assert crashing.wait_exit(timeout=90) == -9, crashing.log()
    finally:
        crashing.kill()
    assert topups(d) == []  # computed and posted, never committed
    worker = start_worker(d.home, d.env)
    try:
        wait_for(lambda: topups(d) != [], 60, "the close after the restart")
        wait_for(lambda: bool(d.epochs()) and d.all_final(len(d.epochs())), 90, "every epoch final")
    finally:
        worker.stop()
    assert topups(d) == [(BELOW, MINIMUM - 30)]
    audit(d)


def _seal(d: Deployment) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "tally.cli", "seal"], cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "TALLY_HOME": str(d.home), **d.env})


@pytest.mark.postgres
def test_two_sealers_racing_on_postgresql_pay_each_topup_once(pg_deployment: Deployment) -> None:
    d = pg_deployment
    end = program_ending_in(d, 2)
    d.stack.seal()  # epoch 1: the program, its members, their work; the period has not ended
    assert topups(d) == []
    time.sleep(max(0.0, end - time.time()) + 1)
    racing = [_seal(d) for _ in range(2)]  # both sealers at once, after the period ended
    outputs = [(p.wait(timeout=60), p.communicate()[0]) for p in racing]
    assert [code for code, _ in outputs] == [0, 0], outputs
    assert sum('"sealed": null' in out for _, out in outputs) == 1, outputs  # the second found nothing new
    assert topups(d) == [(BELOW, MINIMUM - 30)]
    worker = start_worker(d.home, d.env)
    try:
        wait_for(lambda: d.all_final(2), 90, "both epochs final")
    finally:
        worker.stop()
    audit(d)
