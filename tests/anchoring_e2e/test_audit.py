"""`tally audit` recomputes everything from the chain and the manifests fetched by CID alone."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from sqlalchemy import select, update

from anchoring.audit import audit
from anchoring.contract import TallyAnchor
from ledger.models import AccountBalance, JournalEntry
from tests.anchoring_e2e.conftest import Stack, anchor_all, real_conversations, submit_all
from tests.support.server import ROOT


def three_epochs(stack: Stack, served) -> None:  # type: ignore[no-untyped-def]
    for part in range(3):
        submit_all(served, real_conversations(5, skip=5 * part), first_key=part)
        stack.seal()
        anchor_all(stack)


def test_audit_passes_on_honest_epochs_and_reports_totals(stack: Stack, served, gateway: str) -> None:  # type: ignore[no-untyped-def]
    three_epochs(stack, served)
    report = audit(stack.chain.url, gateway, stack.contract.address)
    assert report.ok, report.discrepancy
    assert (report.epochs, report.leaves, report.points_recomputed) == (3, 15, 15)
    [third] = TallyAnchor(stack.w3, stack.contract.address).anchored_events(epoch=3)
    assert report.total_points == third.total_points > 0
    cli = subprocess.run([sys.executable, "-m", "tally.cli", "audit", "--rpc", stack.chain.url, "--ipfs", gateway,
                          "--contract", stack.contract.address, "--json"], capture_output=True, text=True, cwd=ROOT)
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout)["epochs"] == 3 and json.loads(cli.stdout)["pointsRecomputed"] == 15
    # From epoch 3: the log and balances taken up from epoch 2's manifest, one epoch audited.
    partial = audit(stack.chain.url, gateway, stack.contract.address, from_epoch=3)
    assert partial.ok, partial.discrepancy
    assert (partial.epochs, partial.from_epoch, partial.leaves, partial.points_recomputed) == (1, 3, 15, 5)
    assert (partial.total_points, partial.accounts) == (report.total_points, report.accounts)
    beyond = subprocess.run([sys.executable, "-m", "tally.cli", "audit", "--rpc", stack.chain.url, "--ipfs", gateway,
                             "--contract", stack.contract.address, "--from-epoch", "9"],
                            capture_output=True, text=True, cwd=ROOT)
    assert beyond.returncode == 2 and beyond.stderr.strip() == (
        "tally: error: from epoch 9: the contract holds 3 epochs"), beyond.stderr


def test_an_altered_balance_is_named_by_the_audit_and_an_altered_sealed_row_reaches_nothing_published(
        stack: Stack, served, gateway: str) -> None:  # type: ignore[no-untyped-def]
    """Sealing applies each epoch's entries to the kept balances: editing an entry already sealed
    changes nothing that is published (the next epoch's balances do not see it), while editing a
    kept balance is published by the next seal and the audit, replaying the journal, names it."""
    submit_all(served, real_conversations(5))
    stack.seal()
    anchor_all(stack)
    with stack.sessions() as session, session.begin():  # someone edits an anchored entry in place
        entry = session.scalars(select(JournalEntry).where(JournalEntry.amount > 0).limit(1)).one()
        session.execute(update(JournalEntry).where(JournalEntry.id == entry.id).values(amount=entry.amount + 50))
    submit_all(served, real_conversations(3, skip=5), first_key=1)
    stack.seal()
    anchor_all(stack)
    report = audit(stack.chain.url, gateway, stack.contract.address)
    assert report.ok, report.discrepancy

    with stack.sessions() as session, session.begin():  # and now the balance the seal reads
        kept = session.scalars(select(AccountBalance).where(AccountBalance.balance > 0).limit(1)).one()
        kept.balance += 50
        account = kept.account
    submit_all(served, real_conversations(3, skip=8), first_key=2)
    stack.seal()
    anchor_all(stack)
    report = audit(stack.chain.url, gateway, stack.contract.address)
    assert not report.ok and report.discrepancy_epoch == 3
    said = (report.discrepancy or "").lower()
    assert account.lower() in said or "the balances give root" in said, said


class TamperingGateway(BaseHTTPRequestHandler):
    """A gateway that serves our CARs with one byte of every manifest changed: a fault of a
    third-party gateway we cannot produce with a real one."""

    upstream = ""

    def do_GET(self) -> None:
        import httpx

        body = httpx.get(self.upstream + self.path, headers={"Accept": "application/vnd.ipld.car"}).content
        body = body.replace(b'"v":5', b'"v":4')  # manifests are version 5
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.ipld.car")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_an_altered_manifest_is_caught_by_its_cid(stack: Stack, served, gateway: str) -> None:  # type: ignore[no-untyped-def]
    submit_all(served, real_conversations(4))
    stack.seal()
    anchor_all(stack)
    TamperingGateway.upstream = gateway
    server = ThreadingHTTPServer(("127.0.0.1", 0), TamperingGateway)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        report = audit(stack.chain.url, f"http://127.0.0.1:{server.server_port}", stack.contract.address)
    finally:
        server.shutdown()
    assert not report.ok and report.discrepancy_epoch == 1
    assert "cannot be fetched intact" in (report.discrepancy or "")



def test_an_unreachable_gateway_stops_the_audit_as_unavailable_not_as_a_discrepancy(stack: Stack, served) -> None:  # type: ignore[no-untyped-def]
    submit_all(served, real_conversations(3))
    stack.seal()
    anchor_all(stack)
    cli = subprocess.run([sys.executable, "-m", "tally.cli", "audit", "--rpc", stack.chain.url, "--ipfs",
                          "http://127.0.0.1:9", "--contract", stack.contract.address],
                         capture_output=True, text=True, cwd=ROOT)
    assert cli.returncode == 3, cli.stdout + cli.stderr  # ledger.errors.ExitCode.UNAVAILABLE
    assert cli.stderr.startswith("tally: error: cannot reach http://127.0.0.1:9") and "DISCREPANCY" not in cli.stdout
