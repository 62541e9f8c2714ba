"""The audit over a thousand epochs: constant work per epoch, progress reported, nothing held but
the log's right edge and the balances."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from anchoring.audit import AuditDiscrepancy, Auditor, AuditReport
from anchoring.contract import EpochAnchored
from ledger.content import LocalBlockStore
from ledger.conversation import normalise
from ledger.db import make_engine, make_sessionmaker
from ledger.epochs import Anchor, seal_epoch
from ledger.intake import Consent, Prepared, Submission, record
from ledger.migrate import upgrade
from ledger.models import Epoch
from tests.support.conversations import passage

pytestmark = pytest.mark.slow
EPOCHS = 1000
ANCHOR = Anchor(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3")


@pytest.mark.serial  # it also bounds its wall time
def test_a_thousand_epochs_audit_in_order_with_progress(sqlite_url: str, tmp_path: Path) -> None:
    upgrade(sqlite_url)
    sessions = make_sessionmaker(make_engine(sqlite_url))
    store = LocalBlockStore(tmp_path / "blocks", fsync=False)
    for n in range(EPOCHS):
        conversation = normalise({"messages": [
            {"role": "user", "content": f"Question {n}: what does epoch sealing guarantee here?"},
            {"role": "assistant", "content": f"Answer {n}: gap-free indexes and one manifest per epoch. "
                                             f"{passage(str(n))}"}]})
        with sessions() as session, session.begin():
            record(session, [Submission(Prepared.of(conversation),
                                        Consent(f"0x{n % 50 + 1:040x}", n, 1, bytes(32), bytes(65)))],
                   store=store, sign_receipt=lambda _: bytes(65), now=1000 + n)
            assert seal_epoch(session, store, ANCHOR, now=1000 + n) is not None
    with sessions() as session:
        # The events the chain would hold (no chain here: this measures the audit itself).
        events = [EpochAnchored(e.number, e.log_size, e.log_root, e.balances_root, e.total_points, e.manifest_cid,
                                "0x" + "00" * 32, e.number, "0x" + "00" * 32, 0)
                  for e in session.scalars(select(Epoch).order_by(Epoch.number))]

    lines: list[str] = []
    auditor = Auditor(None, ANCHOR.contract, store, progress=lines.append)  # type: ignore[arg-type]
    report = AuditReport(ANCHOR.contract, ANCHOR.chain_id)
    previous = None
    started = time.perf_counter()
    for position, args in enumerate(events[:-1], start=1):
        previous = auditor.epoch(report, args, previous)
        if position % 333 == 0:
            auditor.progress(f"audited {position}/{len(events)}")
    assert time.perf_counter() - started < 120
    assert auditor.log.size == EPOCHS - 1 and len(lines) == 3
    # Memory: the log's right edge is at most log2(n) + 1 subtree hashes, whatever the size.
    assert len(auditor.log._stack) <= EPOCHS.bit_length()

    # The last epoch as a chain that claims one point more than its manifest's balances give.
    tampered = dataclasses.replace(events[-1], total_points=events[-1].total_points + 1)
    with pytest.raises(AuditDiscrepancy) as caught:
        auditor.epoch(report, tampered, previous)
    assert caught.value.epoch == EPOCHS and "total" in caught.value.what
