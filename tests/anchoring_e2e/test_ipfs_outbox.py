"""The outbox against a real js-ipfs daemon: intake never waits on it, nothing is lost when it is
down, an epoch is anchored only once its manifest and contributions are pinned, and erased
envelopes leave the node."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from anchoring.audit import audit
from ledger.content import IpfsStore
from ledger.lifecycle import EpochState
from ledger.models import Epoch, StoredObject
from ledger.outbox import harden, pin_due, release_erased, unpinned_for_epoch
from ledger.privacy import erase
from tests.anchoring_e2e.conftest import Stack, real_conversations, serve, submit_all
from tests.support.ipfs_daemon import IpfsDaemon, node_modules_installed

pytestmark = pytest.mark.slow


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[IpfsDaemon]:
    """A daemon of this test's own, since the test stops and restarts it."""
    import os

    if not node_modules_installed():
        if os.environ.get("CI"):
            pytest.fail("tools/ipfs/node_modules is missing (make setup-test installs it)")
        pytest.skip("tools/ipfs/node_modules is missing: npm ci --prefix tools/ipfs")
    node = IpfsDaemon(tmp_path / "ipfs")
    node.init()
    node.start()
    try:
        yield node
    finally:
        node.stop()


def pass_of_storage_job(stack: Stack, ipfs: IpfsStore, now: int) -> None:
    with stack.sessions() as session, session.begin():
        harden(session, stack.store, now=now, flush=lambda: None)
    with stack.sessions() as session, session.begin():
        pin_due(session, stack.store, ipfs, now=now)
    with stack.sessions() as session, session.begin():
        release_erased(session, stack.store, ipfs, now=now)


def pin_root(stack: Stack, cid: str) -> str:
    with stack.sessions() as session:
        root = session.scalar(select(StoredObject.pin_root).where(StoredObject.cid == cid))
    assert root is not None, f"{cid} has no batch pin recorded"
    return root


def counts(stack: Stack) -> tuple[int, int]:
    with stack.sessions() as session:
        total = session.scalar(select(func.count()).select_from(StoredObject)) or 0
        pinned = session.scalar(select(func.count()).where(StoredObject.pinned_at.is_not(None))) or 0
    return total, pinned


def test_intake_survives_a_node_outage_and_the_outbox_drains_after(stack: Stack, served, daemon: IpfsDaemon) -> None:  # type: ignore[no-untyped-def]
    served.app.state.services.intake._master_key = bytes(range(32))  # privacy mode: ciphertext is what gets pinned
    with IpfsStore(daemon.url, timeout=5, fetch_timeout=2, has_timeout=0.5) as ipfs:
        daemon.stop()
        accepted = submit_all(served, real_conversations(12))
        assert len(accepted) == 12  # intake did not wait on the node
        now = int(time.time()) + 5
        pass_of_storage_job(stack, ipfs, now=now)
        assert counts(stack) == (12, 0)
        with stack.sessions() as session:
            rows = session.scalars(select(StoredObject)).all()
            assert all(r.pin_attempts == 1 and r.last_error and r.durable_at for r in rows)
        metrics = served.get("/metrics").text
        assert 'tally_stored_objects{state="local"} 12.0' in metrics and "tally_pin_retrying 12.0" in metrics

        daemon.restart()
        pass_of_storage_job(stack, ipfs, now=now)  # still backing off: nothing is due yet
        assert counts(stack) == (12, 0)
        pass_of_storage_job(stack, ipfs, now=now + 2)
        assert counts(stack) == (12, 12)
        metrics = served.get("/metrics").text
        assert 'tally_stored_objects{state="pinned"} 12.0' in metrics and "tally_pin_retrying 0.0" in metrics
        with stack.sessions() as session:
            assert len(set(session.scalars(select(StoredObject.pin_root)))) == 1  # one batch, one pin
        for contribution in accepted:
            assert ipfs.pinned_in(pin_root(stack, contribution["cid"]), contribution["cid"])
            assert ipfs.get(contribution["cid"]) == stack.store.get(contribution["cid"])
        pass_of_storage_job(stack, ipfs, now=now + 3)
        assert counts(stack) == (12, 12)  # nothing pinned twice, nothing new


def test_an_epoch_is_anchored_only_once_its_objects_are_pinned(stack: Stack, served, daemon: IpfsDaemon) -> None:  # type: ignore[no-untyped-def]
    with IpfsStore(daemon.url, timeout=10) as ipfs:
        submit_all(served, real_conversations(5))
        number = stack.seal()
        anchorer = stack.anchorer()
        anchorer.ready = lambda session, epoch: unpinned_for_epoch(session, epoch.number, epoch.manifest_cid) == 0
        with stack.sessions() as session:
            epoch = session.get(Epoch, number)
            assert epoch is not None and unpinned_for_epoch(session, number, epoch.manifest_cid) == 6
        assert anchorer.step().sent is None
        assert stack.contract.functions.latestEpoch().call() == 0
        pass_of_storage_job(stack, ipfs, now=10**10)
        assert ipfs.pinned_in(pin_root(stack, epoch.manifest_cid), epoch.manifest_cid)
        assert anchorer.step().sent == number
        for _ in range(10):
            anchorer.step()
            stack.mine()
        with stack.sessions() as session:
            assert session.get(Epoch, number).state == EpochState.FINAL  # type: ignore[union-attr]
    # An auditor needs nothing of ours: the chain and the IPFS node's own RPC API (dag/export).
    report = audit(stack.chain.url, daemon.url.rstrip("/") + "/api/v0", stack.contract.address)
    assert report.ok and report.epochs == 1 and report.leaves == 5, report.discrepancy


@pytest.fixture(params=["sqlite", "postgresql"])
def any_stack(request: pytest.FixtureRequest) -> Stack:
    stack: Stack = request.getfixturevalue("stack" if request.param == "sqlite" else "pg_stack")
    return stack


def test_erased_envelopes_leave_the_node_and_the_rest_stay_pinned(any_stack: Stack, daemon: IpfsDaemon) -> None:
    stack, served = any_stack, serve(any_stack)
    served.app.state.services.intake._master_key = bytes(range(32))  # privacy mode
    with IpfsStore(daemon.url, timeout=30, fetch_timeout=2, has_timeout=0.5) as ipfs:
        accepted = submit_all(served, real_conversations(6))
        pass_of_storage_job(stack, ipfs, now=10**10)
        old_root = pin_root(stack, accepted[0]["cid"])
        erased, kept = accepted[:2], accepted[2:]
        late = submit_all(served, real_conversations(1, skip=6), first_key=10)
        with stack.sessions() as session, session.begin():
            for contribution in erased + late:  # `late` is erased before it was ever pinned
                assert erase(session, contribution["id"], now=10**10)

        # A crash after the node's work, before the database commit: nothing is recorded...
        with pytest.raises(RuntimeError), stack.sessions() as session, session.begin():
            assert release_erased(session, stack.store, ipfs, now=10**10) == 3
            raise RuntimeError("crash before the commit")
        assert pin_root(stack, erased[0]["cid"]) == old_root
        # ... and the next pass repeats it, to the same end.
        pass_of_storage_job(stack, ipfs, now=10**10 + 1)
        new_root = pin_root(stack, kept[0]["cid"])
        assert new_root != old_root and not ipfs.is_pinned(old_root)
        assert all(pin_root(stack, c["cid"]) == new_root and ipfs.pinned_in(new_root, c["cid"]) for c in kept)
        with stack.sessions() as session:
            gone = session.scalars(select(StoredObject).where(
                StoredObject.cid.in_([c["cid"] for c in erased + late]))).all()
        assert len(gone) == 3
        assert all(o.released_at and o.pin_root is None and o.pinned_at is None for o in gone)
        assert not any(ipfs.pinned_in(new_root, c["cid"]) for c in erased)
        metrics = served.get("/metrics").text
        assert 'tally_stored_objects{state="released"} 3.0' in metrics
        assert 'tally_stored_objects{state="pinned"} 4.0' in metrics

        httpx.post(f"{daemon.url}/api/v0/repo/gc", timeout=60).raise_for_status()
        assert not any(ipfs.has(c["cid"]) for c in erased + late)  # the node let them go
        assert all(ipfs.get(c["cid"]) == stack.store.get(c["cid"]) for c in kept)
        for contribution in erased:  # the ledger keeps the points and the public commitment
            after = served.get(f"/v1/contributions/{contribution['id']}").json()
            assert after["erased"] and after["points"] == contribution["points"] and after["storage"] == "local"

        pass_of_storage_job(stack, ipfs, now=10**10 + 2)
        assert pin_root(stack, kept[0]["cid"]) == new_root  # nothing more to do

        number = stack.seal()  # the erased, never-pinned envelope does not hold back anchoring
        with stack.sessions() as session:
            epoch = session.get(Epoch, number)
            assert epoch is not None
        pass_of_storage_job(stack, ipfs, now=10**10 + 3)
        with stack.sessions() as session:
            assert unpinned_for_epoch(session, number, epoch.manifest_cid) == 0
