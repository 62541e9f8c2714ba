"""The content outbox without a node (hardening), and privacy mode with crypto-shredding."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select, update

from ledger.content import LocalBlockStore, envelope
from ledger.conversation import canonical_bytes, normalise
from ledger.db import make_engine, make_sessionmaker
from ledger.intake import Consent, Prepared, Submission, record
from ledger.migrate import upgrade
from ledger.models import Contribution, NearDuplicateKey, StoredObject
from ledger.outbox import harden, pin_due, storage_state
from ledger.privacy import ContentErasedError, erase, read_conversation
from tests.support.conversations import passage

MASTER = bytes(range(32))


def conversation(i: int) -> dict[str, object]:
    return {"messages": [{"role": "user", "content": f"What is the privacy policy for item {i}?"},
                         {"role": "assistant", "content": f"Item {i} is stored encrypted, with its own key: "
                                                          f"{passage(str(i))}."}]}


def submit(sessions, store, count: int, master_key: bytes | None):  # type: ignore[no-untyped-def]
    submissions = [Submission(Prepared.of(normalise(conversation(i))),
                              Consent("0x" + "11" * 20, i, 1, bytes(32), bytes(65))) for i in range(count)]
    with sessions() as session, session.begin():
        return record(session, submissions, store=store, sign_receipt=lambda _: bytes(65), now=100,
                      master_key=master_key)


@pytest.fixture
def ledger_env(db_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    upgrade(db_url)
    return make_sessionmaker(make_engine(db_url)), tmp_path / "blocks"


def test_acknowledged_bytes_stay_in_the_database_until_a_shared_store_holds_them(ledger_env) -> None:  # type: ignore[no-untyped-def]
    sessions, blocks = ledger_env
    fast = LocalBlockStore(blocks, fsync=False)
    submit(sessions, fast, 3, None)
    with sessions() as session:
        rows = session.scalars(select(StoredObject)).all()
        assert len(rows) == 3 and all(r.data and r.durable_at is None for r in rows)
    # Hardening into this host's cache alone keeps the bytes in the database (the store of record
    # every host reads) and needs no flush: the cache may lose them.
    flushes: list[int] = []
    with sessions() as session, session.begin():
        assert harden(session, fast, now=150, flush=lambda: flushes.append(1)) == 3
    assert flushes == []
    with sessions() as session:
        rows = session.scalars(select(StoredObject)).all()
        assert all(r.data and r.durable_at == 150 for r in rows)
        session.execute(update(StoredObject).values(durable_at=None))
        session.commit()
    # A crash lost the blocks written without fsync: hardening rewrites them from the database,
    # into the shared blockstore too, flushed once for the batch, and only then drops the bytes.
    for path in blocks.rglob("*.data"):
        path.unlink()
    assert not any(LocalBlockStore(blocks).has(r.cid) for r in rows)
    shared = LocalBlockStore(blocks.parent / "shared", fsync=False)
    with sessions() as session, session.begin():
        assert harden(session, LocalBlockStore(blocks), now=200, shared=shared,
                      flush=lambda: flushes.append(1)) == 3
    assert flushes == [1]  # one flush for the whole batch
    with sessions() as session:
        rows = session.scalars(select(StoredObject)).all()
        assert all(r.data is None and r.durable_at == 200 for r in rows)
        assert storage_state(session, [r.cid for r in rows]) == {r.cid: "local" for r in rows}
    for row in rows:
        assert LocalBlockStore(blocks).get(row.cid) == shared.get(row.cid)


def test_a_failing_pinner_backs_off_and_keeps_everything(ledger_env) -> None:  # type: ignore[no-untyped-def]
    sessions, blocks = ledger_env
    store = LocalBlockStore(blocks, fsync=False)
    submit(sessions, store, 2, None)
    with sessions() as session, session.begin():
        harden(session, store, now=100, flush=lambda: None)

    class Down:
        calls = 0

        def pin_many(self, items):  # type: ignore[no-untyped-def]
            Down.calls += 1
            raise ConnectionError("connection refused")

    with sessions() as session, session.begin():
        assert pin_due(session, store, Down(), now=100).failed == 2
    with sessions() as session, session.begin():
        assert pin_due(session, store, Down(), now=100).failed == 0  # backing off: not due yet
    assert Down.calls == 1
    with sessions() as session:
        rows = session.scalars(select(StoredObject)).all()
        assert all(r.pin_attempts == 1 and r.next_pin_at == 101 and "refused" in (r.last_error or "") for r in rows)


def test_privacy_mode_stores_ciphertext_and_erasure_shreds_it(ledger_env) -> None:  # type: ignore[no-untyped-def]
    sessions, blocks = ledger_env
    store = LocalBlockStore(blocks, fsync=False)
    outcomes = submit(sessions, store, 2, MASTER)
    row = outcomes[0][0]
    plain = canonical_bytes(conversation(0))
    stored = store.get(row.cid)
    assert plain not in stored and b"privacy policy" not in stored
    assert len(stored) == len(plain) + envelope.ENVELOPE_OVERHEAD
    assert envelope.open(stored, row.wrapped_key, MASTER) == plain
    with pytest.raises(envelope.KeyUnwrapError):
        envelope.open(stored, row.wrapped_key, bytes(32))
    with sessions() as session, session.begin():
        fresh = session.get(Contribution, row.id)
        assert read_conversation(store, fresh, MASTER) == plain
        assert erase(session, row.id, now=300) and not erase(session, row.id, now=301)
    with sessions() as session:
        erased = session.get(Contribution, row.id)
        assert erased.wrapped_key is None and erased.erased_at == 300 and erased.points == row.points
        # Its near-duplicate signature, derived from the text, is forgotten with it.
        assert erased.near_duplicate_sketch is None
        bands = session.scalars(select(NearDuplicateKey.contribution_id)).all()
        assert row.id not in bands and outcomes[1][0].id in bands
        with pytest.raises(ContentErasedError):
            read_conversation(store, erased, MASTER)
        other = session.get(Contribution, outcomes[1][0].id)
        assert read_conversation(store, other, MASTER) == canonical_bytes(conversation(1))
