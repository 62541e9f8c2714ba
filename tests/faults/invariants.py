"""The one check every fault scenario ends with: whatever was killed, cut or rolled back, the
ledger, the chain and the public record still agree.

`assert_ledger_invariants` checks, in this order (cheapest first, so a failure names the first
broken layer):

1. every acknowledged (201) contribution is in the database exactly once, under the id the 201
   named, and sealed into an epoch;
2. the journal sums to 0, and so does every transfer (double entry);
3. each account's balance, as the API answers it, equals the sum of its entries, which equals the
   points of its contributions (these scenarios grant and claw back nothing);
4. epochs are numbered 1..n with no gap, all final, and the contract's latest epoch is n;
5. each epoch has exactly one EpochAnchored event, in the transaction the database recorded;
6. the contract's header of each epoch equals the database's row (log size and root, balances
   root, total points);
7. the trustless audit (`anchoring.audit`, the code of `tally audit`) recomputes every root from
   the events and the manifests fetched from the API's /ipfs gateway, and passes;
8. no valid submission was answered anything but 201, 409 (a retry whose first answer was lost)
   or 503 (retried).

It returns one row of the invariant table `make soak` prints.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import httpx
from sqlalchemy import func, select

from anchoring.anchorer import contract_header
from anchoring.audit import audit
from anchoring.contract import EpochAnchored, TallyAnchor
from ledger.lifecycle import EpochState
from ledger.models import Contribution, Epoch, JournalEntry
from tests.faults.harness import Deployment, LoadResult

# Rows of the invariant table, one per scenario run in this session (printed by conftest.py).
TABLE: list[dict[str, Any]] = []


def assert_ledger_invariants(d: Deployment, load: LoadResult, scenario: str, **faults: int) -> dict[str, Any]:
    """Everything a fault must not break, judged from the database, the chain and the audit;
    ``faults`` are the scenario's counts for the table."""
    row: dict[str, Any] = {"scenario": scenario, "201s": len(load.acknowledged),
                           "conn errors": load.connection_errors,
                           "statuses": dict(sorted(load.statuses.items())), "kills": sum(d.kills.values()),
                           **faults, "epochs": None, "audit": "not run"}
    TABLE.append(row)
    assert load.acknowledged, "no submission was acknowledged: the scenario proved nothing"

    with d.sessions() as session:
        # 1. Acknowledged means durable, exactly once, and sealed.
        rows = session.execute(select(Contribution.content_hash, Contribution.id, Contribution.epoch)).all()
        by_hash: dict[bytes, list[tuple[int, int | None]]] = defaultdict(list)
        for content_hash, id_, epoch in rows:
            by_hash[content_hash].append((id_, epoch))
        for content_hash, id_ in load.acknowledged.items():
            found = by_hash.get(content_hash, [])
            assert [i for i, _ in found] == [id_], f"201 #{id_} ({content_hash.hex()[:12]}) stored as {found}"
            assert found[0][1] is not None, f"contribution {id_} was never sealed"

        # 2. Double entry: the whole journal and every transfer sum to zero.
        assert session.scalar(select(func.coalesce(func.sum(JournalEntry.amount), 0))) == 0, "journal is not zero"
        unbalanced = session.execute(
            select(JournalEntry.transfer_id).group_by(JournalEntry.transfer_id)
            .having(func.sum(JournalEntry.amount) != 0).limit(5)).scalars().all()
        assert not unbalanced, f"transfers that do not sum to 0: {unbalanced}"

        # 3. Balances: entries per account, and the points of the contributions behind them.
        entries = dict(session.execute(select(JournalEntry.account, func.sum(JournalEntry.amount))
                                       .group_by(JournalEntry.account)).all())
        points = dict(session.execute(select(Contribution.contributor, func.sum(Contribution.points))
                                      .group_by(Contribution.contributor)).all())
        epochs = session.scalars(select(Epoch).order_by(Epoch.number)).all()
    for contributor, total in points.items():
        assert entries.get(contributor) == total, f"{contributor}: entries {entries.get(contributor)} != points {total}"
        answer = httpx.get(f"{d.server.url}/v1/accounts/{contributor}", params={"limit": 1}, timeout=30)
        assert answer.status_code == 200, answer.text
        balance = int(answer.json()["balance"])
        assert balance == total, f"{contributor}: API balance {balance} != {total}"

    # 4. Contiguous, final, and as far as the contract goes.
    numbers = [e.number for e in epochs]
    row["epochs"] = len(numbers)
    assert numbers == list(range(1, len(numbers) + 1)), f"epoch numbers have a gap: {numbers}"
    assert all(e.state == EpochState.FINAL for e in epochs), {e.number: e.state for e in epochs}
    assert d.contract.functions.latestEpoch().call() == len(numbers), "the contract's latest epoch differs"

    # 5 and 6. One event per epoch, in the recorded transaction; headers equal the rows, and the
    # contract holds each one's hash.
    anchor = TallyAnchor(d.w3, d.contract.address)
    events: dict[int, list[EpochAnchored]] = defaultdict(list)
    for event in anchor.anchored_events():
        events[event.epoch].append(event)
    assert sorted(events) == numbers, f"EpochAnchored for {sorted(events)}, database has {numbers}"
    for epoch in epochs:
        assert len(events[epoch.number]) == 1, f"epoch {epoch.number} anchored {len(events[epoch.number])} times"
        assert events[epoch.number][0].transaction_hash == epoch.tx_hash, f"epoch {epoch.number} tx"
        assert events[epoch.number][0].header == contract_header(epoch), f"header {epoch.number}"
        assert anchor.header_hash(epoch.number) == contract_header(epoch).hash(), f"header hash {epoch.number}"

    # 7. The trustless audit, through the API's own gateway.
    report = audit(d.chain.url, d.server.url, d.contract.address)
    row["audit"] = "ok" if report.ok else f"FAILED at {report.discrepancy_epoch}"
    assert report.ok, report.discrepancy
    assert (report.epochs, report.leaves) == (len(numbers), len(rows))

    # 8. Last, so that the durable state is judged first: a valid, signed submission is answered
    # 201, or 503 while a dependency is down (retried), or 409 only when an earlier attempt's
    # answer was lost on the way back. Anything else (a 500 above all) is a bug.
    unexpected = {status: n for status, n in load.statuses.items()
                  if status not in (201, 409, 503)}
    assert not unexpected, f"a valid submission was answered {unexpected}"
    lost = load.connection_errors + load.statuses[503]
    assert load.statuses[409] <= lost, "a 409 no lost reply explains"
    return row
