"""Sealing epochs: gap-free indexes, roots recomputable from the manifest, all or nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ledger import jcs, journal
from ledger.balances import listed
from ledger.content import LocalBlockStore
from ledger.conversation import normalise
from ledger.db import make_engine, make_sessionmaker
from ledger.encoding import checksum
from ledger.epochs import Anchor, balances, seal_epoch
from ledger.intake import Consent, Prepared, Submission, record
from ledger.merkle import log as rfc9162
from ledger.merkle.standard import StandardMerkleTree
from ledger.merkle.stored import StoredLog
from ledger.migrate import upgrade
from ledger.models import AccountBalance, Contribution, Epoch, JournalEntry, StoredObject
from tests.support.conversations import passage

ANCHOR = Anchor(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3")
ACCOUNTS = [f"0x{i:040x}" for i in range(1, 6)]


def contribute(sessions, store, start: int, count: int, now: int = 1_700_000_000,  # type: ignore[no-untyped-def]
               accounts: list[str] = ACCOUNTS) -> None:
    submissions = []
    for i in range(start, start + count):
        # Sentences and a passage of real words (quality-v2 pays language, not strings of made-up
        # words), the passage its own for each (Tally refuses near-duplicates).
        conversation = normalise({"messages": [
            {"role": "user", "content": f"Question number {i}: how do Merkle consistency proofs work?"},
            {"role": "assistant", "content": f"Answer {i}: the proof lists the hashes that the old tree and "
                                             "the new tree share, so that both roots rebuild from it. "
                                             f"{passage(str(i))}"}]})
        contributor = accounts[i % len(accounts)]
        submissions.append(Submission(Prepared.of(conversation),
                                      Consent(contributor, i, now, bytes(32), bytes(65))))
    with sessions() as session, session.begin():
        outcomes = record(session, submissions, store=store, sign_receipt=lambda _: bytes(65), now=now + start)
    assert all(isinstance(o, tuple) for o in outcomes)


@pytest.fixture
def ledger_env(db_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    upgrade(db_url)
    return make_sessionmaker(make_engine(db_url)), LocalBlockStore(tmp_path / "blocks", fsync=False)


def test_epochs_chain_and_every_root_recomputes_from_the_manifests(ledger_env) -> None:  # type: ignore[no-untyped-def]
    sessions, store = ledger_env
    contribute(sessions, store, 0, 7)
    with sessions() as session, session.begin():
        first = seal_epoch(session, store, ANCHOR, now=10)
    with sessions() as session, session.begin():
        assert seal_epoch(session, store, ANCHOR, now=11) is None  # nothing new, no epoch
    contribute(sessions, store, 7, 5)
    with sessions() as session, session.begin():
        journal.post_transfer(session, debit=ACCOUNTS[0], credit=journal.REWARDS_POOL, amount=3,
                              kind=journal.CLAWBACK, ref="admin:test", created_at=12)
        second = seal_epoch(session, store, ANCHOR, now=13)
    assert first is not None and second is not None
    assert (first.number, first.first_index, first.log_size) == (1, 0, 7)
    assert (second.number, second.first_index, second.log_size) == (2, 7, 12)

    replayed: dict[str, int] = {}
    all_leaves: list[bytes] = []
    previous = None
    for epoch in (first, second):
        manifest = json.loads(store.get(epoch.manifest_cid))
        assert manifest["epoch"] == epoch.number and manifest["chainId"] == ANCHOR.chain_id
        assert manifest["previous"] == (None if previous is None else {
            "epoch": previous.number, "logSize": previous.log_size, "logRoot": "0x" + previous.log_root.hex(),
            "balancesRoot": "0x" + previous.balances_root.hex(), "manifestCid": previous.manifest_cid})
        for leaf in manifest["log"]["leaves"]:
            assert leaf["index"] == len(all_leaves)  # gap-free, in order
            assert store.get(leaf["cid"])  # the contribution's content is stored under its cid
            all_leaves.append(rfc9162.leaf_hash(rfc9162.leaf_data(
                leaf["index"], leaf["contributor"], bytes.fromhex(leaf["contentHash"][2:]), leaf["acceptedAt"],
                int(leaf["points"]))))
        assert "0x" + rfc9162.root(all_leaves).hex() == manifest["log"]["root"] == "0x" + epoch.log_root.hex()
        before = dict(replayed)
        for entry in manifest["journal"]:
            if entry["account"].startswith("0x"):
                replayed[entry["account"]] = replayed.get(entry["account"], 0) + int(entry["amount"])
        values = sorted([[a, str(b)] for a, b in replayed.items() if b], key=lambda v: v[0].lower())
        # Since version 3: the balances the epoch changed, and how many accounts hold one.
        assert manifest["v"] == 5 and manifest["balances"]["snapshot"] is None
        assert manifest["balances"]["changed"] == sorted(
            [[a, str(b)] for a, b in replayed.items() if b != before.get(a, 0)], key=lambda v: v[0].lower())
        assert manifest["balances"]["accounts"] == len(values) == epoch.accounts
        tree = StandardMerkleTree.of(values, ["address", "uint256"])
        assert tree.root == manifest["balances"]["root"] == "0x" + epoch.balances_root.hex()
        assert int(manifest["balances"]["totalPoints"]) == sum(int(b) for _, b in values) == epoch.total_points
        previous = epoch

    with sessions() as session:
        rows = session.execute(select(Contribution.id, Contribution.log_index, Contribution.epoch)
                               .order_by(Contribution.id)).all()
        assert [r.log_index for r in rows] == list(range(12))
        assert [r.epoch for r in rows] == [1] * 7 + [2] * 5
        assert session.scalar(select(JournalEntry.id).where(JournalEntry.epoch.is_(None))) is None
        stored = StoredLog(session)
        rfc9162.verify_consistency(7, 12, first.log_root, second.log_root, stored.consistency_proof(7, 12))
        assert dict(balances(session)) == {a: b for a, b in replayed.items() if b}


def test_each_epoch_publishes_the_balances_it_changed_and_every_kth_a_snapshot(ledger_env) -> None:  # type: ignore[no-untyped-def]
    """Three epochs with snapshots every second epoch: the second names a snapshot of every
    balance (the kept balances equal the whole journal's sums), an account emptied by a clawback
    is listed as changed to 0, and any epoch's balances rebuild from public documents alone
    (``balances_at``) to that epoch's root, from a snapshot or from the first epoch."""
    from ledger.balances import balances_at, balances_root
    from ledger.formats import BalancesSnapshot, Manifest

    sessions, store = ledger_env
    epochs = []
    for round_number in range(3):
        # Rounds 0 and 1 pay ACCOUNTS[0..2]; round 2 pays ACCOUNTS[1] alone.
        contribute(sessions, store, *((10 * round_number, 3) if round_number < 2 else (21, 1)))
        with sessions() as session, session.begin():
            if round_number == 2:  # empty ACCOUNTS[0]'s balance
                points = dict(balances(session))[ACCOUNTS[0]]
                journal.post_transfer(session, debit=ACCOUNTS[0], credit=journal.REWARDS_POOL, amount=points,
                                      kind=journal.CLAWBACK, ref="admin:empty", created_at=20)
            epochs.append(seal_epoch(session, store, ANCHOR, now=10 + round_number, snapshot_every=2))
    manifests = [json.loads(store.get(epoch.manifest_cid)) for epoch in epochs]
    assert [m["balances"]["snapshot"] is not None for m in manifests] == [False, True, False]
    assert [ACCOUNTS[0], "0"] in manifests[2]["balances"]["changed"]

    snapshot = BalancesSnapshot.from_json(json.loads(store.get(manifests[1]["balances"]["snapshot"])))
    with sessions() as session:
        sums = dict(session.execute(select(JournalEntry.account, func.sum(JournalEntry.amount))
                                    .where(JournalEntry.epoch.is_not(None), JournalEntry.epoch <= 2)
                                    .group_by(JournalEntry.account)).all())
    assert snapshot.epoch == 2 and snapshot.root == epochs[1].balances_root
    assert list(snapshot.values) == sorted(((a, int(b)) for a, b in sums.items() if a.startswith("0x") and b),
                                           key=lambda v: v[0].lower())

    def read_manifest(cid: str) -> Manifest:
        return Manifest.from_json(json.loads(store.get(cid)))

    def read_snapshot(cid: str) -> BalancesSnapshot:
        return BalancesSnapshot.from_json(json.loads(store.get(cid)))

    for epoch in epochs:
        rebuilt = balances_at(epoch.manifest_cid, read_manifest, read_snapshot)
        assert balances_root(rebuilt.items()) == epoch.balances_root
        assert len(rebuilt) == epoch.accounts
    assert ACCOUNTS[0].lower() not in balances_at(epochs[2].manifest_cid, read_manifest, read_snapshot)


def test_a_snapshot_is_the_jcs_of_every_balance_in_address_order(ledger_env) -> None:  # type: ignore[no-untyped-def]
    """Streamed from rows the database sorts, a snapshot (and ``balances``) is byte for byte the
    JCS of every balance sorted by ``listed``, in lower-cased address order whatever the case of the stored addresses
    (raw byte order would put "0xBA..." before "0xaA..."), and its row holds those bytes."""
    from ledger.formats import BalancesSnapshot

    sessions, store = ledger_env
    accounts = [checksum(a) for a in ("0x" + "b" + "a" * 39, "0x" + "a" * 40, "0x" + "0" * 39 + "1", "0x" + "c" * 40)]
    assert accounts[0].startswith("0xB") and accounts[1].startswith("0xa")  # raw order: B, then a
    contribute(sessions, store, 0, 8, accounts=accounts)
    with sessions() as session, session.begin():
        epoch = seal_epoch(session, store, ANCHOR, now=10, snapshot=True)
        assert epoch is not None
        # Sorted here by ledger.balances.listed, the order every published list follows.
        held = {account: balance for account, balance
                in session.execute(select(AccountBalance.account, AccountBalance.balance))}
        whole = BalancesSnapshot(ANCHOR.chain_id, ANCHOR.contract, epoch.number, epoch.balances_root,
                                 epoch.total_points, tuple(listed(held)))
        assert balances(session) == list(whole.values)
    cid = json.loads(store.get(epoch.manifest_cid))["balances"]["snapshot"]
    assert store.get(cid) == jcs.dumps(whole.to_json())
    assert [account.lower() for account, _ in whole.values] == sorted(account.lower() for account in accounts)
    with sessions() as session:
        row = session.get(StoredObject, cid)
        assert row is not None and row.kind == "snapshot" and bytes(row.data or b"") == store.get(cid)


def test_a_failed_seal_leaves_no_trace(ledger_env) -> None:  # type: ignore[no-untyped-def]
    sessions, store = ledger_env
    contribute(sessions, store, 0, 4)

    class BrokenStore:
        def put(self, data: bytes) -> str:
            raise OSError("disk full")

    with pytest.raises(OSError), sessions() as session, session.begin():
        seal_epoch(session, BrokenStore(), ANCHOR)  # type: ignore[arg-type]
    with sessions() as session:
        assert session.scalar(select(Epoch.number)) is None
        assert StoredLog(session).size() == 0
        assert session.scalar(select(Contribution.id).where(Contribution.log_index.is_not(None))) is None
        assert session.scalar(select(JournalEntry.id).where(JournalEntry.epoch.is_not(None))) is None
    with sessions() as session, session.begin():
        epoch = seal_epoch(session, store, ANCHOR)
    assert epoch is not None and epoch.number == 1 and epoch.log_size == 4


def test_every_leaf_publishes_its_scorer_and_features_also_across_versions(ledger_env, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Contributions scored before quality-v2 (recorded here by the v1 scorer, as intake once did)
    and after it sealed into one epoch: the manifest names both versions with their rules hashes,
    and every leaf's features give its points under its own version."""
    from ledger import intake
    from ledger.scoring import points_from_features, rules_hash, v1

    sessions, store = ledger_env
    with monkeypatch.context() as patched:
        patched.setattr(intake, "score", v1.score)
        contribute(sessions, store, 0, 3)
    contribute(sessions, store, 3, 3)
    with sessions() as session, session.begin():
        epoch = seal_epoch(session, store, ANCHOR, now=10)
    assert epoch is not None
    manifest = json.loads(store.get(epoch.manifest_cid))
    assert manifest["v"] == 5
    assert manifest["scorer"] == {"version": "quality-v1,quality-v2",
                                  "rulesHash": f"{rules_hash('quality-v1')},{rules_hash('quality-v2')}"}
    leaves = manifest["log"]["leaves"]
    assert [leaf["scorer"] for leaf in leaves] == ["quality-v1"] * 3 + ["quality-v2"] * 3
    for leaf in leaves:
        assert int(leaf["points"]) == points_from_features(leaf["scorer"], leaf["features"]) > 0
    assert set(leaves[0]["features"]) == set(v1.FEATURES)
