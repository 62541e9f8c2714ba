"""Several hosts, one ledger: two ledgers on one PostgreSQL database with data folders of their
own, as two hosts have. Host A takes submissions, writes them out and seals; host B, which never
saw A's disk, serves every contribution, object, manifest and proof (docs/architecture.md,
"Several hosts")."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anyio.to_thread
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.pool import QueuePool

from ledger.content import IpfsStore, cid_of
from ledger.content.car import decode_car
from ledger.db import POOL_HEADROOM
from ledger.epochs import Anchor, seal_epoch
from ledger.lifecycle import EpochState
from ledger.migrate import upgrade
from ledger.models import Epoch, StoredObject
from ledger.outbox import drop_pinned
from tally.client import sign_submission
from tally.settings import Settings
from tally.web import build_app
from tally.wiring import Ledger, StorageJob, open_ledger
from tests.api.conftest import CHAIN_ID, CONTRACT, OPERATOR_KEY, contributor_key, sample_conversation
from tests.support.ipfs_daemon import IpfsDaemon, ipfs_daemon  # noqa: F401  (the fixture)

MASTER_KEY = "ab" * 32


def host(tmp_path: Path, name: str, db_url: str, **settings: Any) -> tuple[Settings, Ledger, TestClient]:
    config = Settings(home=tmp_path / name, database_url=db_url, contract_address=CONTRACT, chain_id=CHAIN_ID,
                      operator_key=OPERATOR_KEY.to_hex(), master_key=MASTER_KEY, **settings)
    ledger = open_ledger(config)
    return config, ledger, TestClient(build_app(config, ledger))


def submit(client: TestClient, count: int) -> list[dict[str, Any]]:
    config = client.get("/v1/config").json()
    accepted = []
    for n in range(count):
        body = sign_submission(config, sample_conversation(f"host-{n}"), contributor_key(n % 3), nonce=n + 1,
                               issued_at=int(time.time()))
        answer = client.post("/v1/contributions", json=body)
        assert answer.status_code == 201, answer.json()
        accepted.append(answer.json())
    return accepted


def seal_on(ledger: Ledger) -> int:
    """What host A's sealing job does, then its storage job; the epoch is then marked final."""
    StorageJob(ledger, None)()
    with ledger.sessions() as session, session.begin():
        epoch = seal_epoch(session, ledger.store, Anchor(CHAIN_ID, CONTRACT), snapshot_every=1)
        assert epoch is not None
        epoch.state = EpochState.FINAL
        number = epoch.number
    StorageJob(ledger, None)()
    return number


def assert_serves_everything(client: TestClient, accepted: list[dict[str, Any]], number: int) -> None:
    for item in accepted:
        row = client.get(f"/v1/contributions/{item['id']}")
        assert row.status_code == 200, row.json()
        cid = row.json()["cid"]
        car = client.get(f"/ipfs/{cid}", params={"format": "car"})
        assert car.status_code == 200, car.text
        roots, blocks = decode_car(car.content)
        assert [str(r) for r in roots] == [cid] and blocks
        raw = client.get(f"/ipfs/{cid}", params={"format": "raw"})
        assert raw.status_code == 200
        proof = client.get(f"/v1/contributions/{item['id']}/proof")
        assert proof.status_code == 200, proof.json()
    manifest = client.get(f"/v1/epochs/{number}/manifest")
    assert manifest.status_code == 200, manifest.json()
    header = client.get(f"/v1/epochs/{number}").json()
    assert cid_of(manifest.content) == header["manifestCid"]
    for n in range(3):
        account = contributor_key(n).public_key.to_checksum_address()
        answer = client.get(f"/v1/accounts/{account}/proof")
        assert answer.status_code == 200, answer.json()
    assert client.get(f"/v1/epochs/{number}/balances").status_code == 200


def test_another_host_serves_what_one_host_hardened_and_sealed(pg_url: str, tmp_path: Path) -> None:
    upgrade(pg_url)
    _, ledger_a, client_a = host(tmp_path, "a", pg_url)
    _, _, client_b = host(tmp_path, "b", pg_url)
    with client_a, client_b:
        accepted = submit(client_a, 4)
        number = seal_on(ledger_a)
        with ledger_a.sessions() as session:
            rows = session.scalars(select(StoredObject)).all()
        # Without IPFS or a shared blockstore the database stays the store of record: every object
        # (contributions, the manifest, the snapshot) keeps its bytes there, written out all the same.
        assert {r.kind for r in rows} == {"contribution", "manifest", "snapshot"}
        assert all(r.data is not None and r.durable_at is not None for r in rows)
        assert not (tmp_path / "b" / "blocks").exists() or not any((tmp_path / "b" / "blocks").rglob("*.data"))
        assert_serves_everything(client_b, accepted, number)
        # What host B fetched it now keeps in its own cache, checked against the CID.
        assert any((tmp_path / "b" / "blocks").rglob("*.data"))


def test_a_shared_blockstore_directory_is_the_store_of_record_once_written(pg_url: str, tmp_path: Path) -> None:
    upgrade(pg_url)
    shared = tmp_path / "shared-blocks"
    _, ledger_a, client_a = host(tmp_path, "a", pg_url, shared_blocks_dir=shared)
    _, _, client_b = host(tmp_path, "b", pg_url, shared_blocks_dir=shared)
    with client_a, client_b:
        accepted = submit(client_a, 3)
        number = seal_on(ledger_a)
        with ledger_a.sessions() as session:
            assert all(r.data is None and r.durable_at for r in session.scalars(select(StoredObject)))
        # Host A's data folder is gone, as with a host that died: the shared directory serves.
        import shutil

        shutil.rmtree(tmp_path / "a")
        assert_serves_everything(client_b, accepted, number)


def test_a_damaged_object_is_never_served_from_any_layer(pg_url: str, tmp_path: Path) -> None:
    upgrade(pg_url)
    _, ledger_a, client_a = host(tmp_path, "a", pg_url)
    _, _, client_b = host(tmp_path, "b", pg_url)
    with client_a, client_b:
        [item] = submit(client_a, 1)
        cid = client_a.get(f"/v1/contributions/{item['id']}").json()["cid"]
        with ledger_a.sessions() as session, session.begin():
            row = session.get(StoredObject, cid)
            assert row is not None and row.data is not None
            row.data = bytes(row.data[:-1]) + bytes([row.data[-1] ^ 1])
        answer = client_b.get(f"/ipfs/{cid}", params={"format": "car"})
        assert answer.status_code == 503 and answer.headers["content-type"] == "application/problem+json"


def test_pinned_bytes_leave_the_database_after_the_retention(pg_url: str, tmp_path: Path) -> None:
    upgrade(pg_url)
    _, ledger, client = host(tmp_path, "a", pg_url)
    with client:
        submit(client, 4)
        with ledger.sessions() as session, session.begin():
            rows = session.scalars(select(StoredObject).order_by(StoredObject.cid)).all()
            rows[0].pinned_at, rows[1].pinned_at = 1000, 1500
            rows[2].released_at = 1100  # an erased envelope taken off the node
        with ledger.sessions() as session, session.begin():
            assert drop_pinned(session, now=1999, retention=None) == 0
            assert drop_pinned(session, now=2200, retention=1000) == 2
        with ledger.sessions() as session:
            kept = [r.data is not None for r in session.scalars(select(StoredObject).order_by(StoredObject.cid))]
        assert kept == [False, True, False, True]  # the fourth was never pinned: the database holds it
        with ledger.sessions() as session:
            assert session.scalar(select(Epoch.number)) is None


@pytest.mark.parametrize("value", ["-2", "soon"])
def test_the_retention_setting_refuses_nonsense(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TALLY_PINNED_RETENTION", value)
    with pytest.raises(ValueError):
        Settings()


@pytest.mark.slow
def test_pinned_objects_dropped_from_the_database_come_from_the_ipfs_node(
        pg_url: str, tmp_path: Path, ipfs_daemon: IpfsDaemon) -> None:  # noqa: F811
    """With IPFS the node becomes the store of record once it has held an object for the
    retention: a host that never saw it fetches it there, checks it and keeps it in its cache."""
    upgrade(pg_url)
    _, ledger_a, client_a = host(tmp_path, "a", pg_url, ipfs_url=ipfs_daemon.url, pinned_retention=0)
    _, _, client_b = host(tmp_path, "b", pg_url, ipfs_url=ipfs_daemon.url, pinned_retention=0)
    with client_a, client_b, IpfsStore(ipfs_daemon.url, fetch_timeout=5) as ipfs:
        accepted = submit(client_a, 3)
        StorageJob(ledger_a, ipfs, pinned_retention=0)()
        with ledger_a.sessions() as session, session.begin():
            epoch = seal_epoch(session, ledger_a.store, Anchor(CHAIN_ID, CONTRACT), snapshot_every=1)
            assert epoch is not None
            epoch.state = EpochState.FINAL
            number = epoch.number
        StorageJob(ledger_a, ipfs, pinned_retention=0)()
        with ledger_a.sessions() as session:
            rows = session.scalars(select(StoredObject)).all()
        assert rows and all(r.pinned_at is not None and r.data is None for r in rows)
        import shutil

        shutil.rmtree(tmp_path / "a")
        assert_serves_everything(client_b, accepted, number)


@pytest.mark.slow
def test_reads_waiting_on_a_stalled_ipfs_node_never_hold_up_submissions(
        pg_url: str, tmp_path: Path, ipfs_daemon: IpfsDaemon) -> None:  # noqa: F811
    """Host B fetches pinned objects from a node that has stopped answering: every request thread
    waits on it, and a submission still goes through at once, on intake's own threads. Once the
    node answers again, every read it held is served."""
    upgrade(pg_url)
    _, ledger_a, client_a = host(tmp_path, "a", pg_url, ipfs_url=ipfs_daemon.url, pinned_retention=0)
    _, _, client_b = host(tmp_path, "b", pg_url, ipfs_url=ipfs_daemon.url, pinned_retention=0,
                          request_threads=2, intake_threads=2)
    with client_a, client_b, IpfsStore(ipfs_daemon.url, fetch_timeout=5) as ipfs, ThreadPoolExecutor(8) as pool:
        accepted = submit(client_a, 4)
        StorageJob(ledger_a, ipfs, pinned_retention=0)()
        cids = [client_a.get(f"/v1/contributions/{item['id']}").json()["cid"] for item in accepted]
        with ledger_a.sessions() as session:
            assert all(row.data is None for row in session.scalars(select(StoredObject)))
        body = sign_submission(client_b.get("/v1/config").json(), sample_conversation("while the node is stuck"),
                               contributor_key(7), nonce=1, issued_at=int(time.time()))

        async def request_threads_held() -> int:
            return anyio.to_thread.current_default_thread_limiter().borrowed_tokens

        with ipfs_daemon.paused():
            reads = [pool.submit(client_b.get, f"/ipfs/{cid}", params={"format": "raw"}) for cid in cids]
            deadline = time.monotonic() + 30
            while client_b.portal.call(request_threads_held) < 2:  # type: ignore[union-attr]
                assert time.monotonic() < deadline, "the reads never reached the node"
                time.sleep(0.05)
            answer = pool.submit(client_b.post, "/v1/contributions", json=body).result(timeout=30)
            assert answer.status_code == 201, answer.json()
            assert not any(read.done() for read in reads)  # both request threads still wait on the node
        for read in reads:
            assert read.result(timeout=90).status_code == 200


def test_a_hosts_database_pool_holds_a_connection_for_each_of_its_threads(pg_url: str, tmp_path: Path) -> None:
    """Request threads and intake's threads each may hold a connection at once: the pool has
    room for both, and never more (POOL_HEADROOM for the jobs)."""
    upgrade(pg_url)
    _, ledger, _ = host(tmp_path, "a", pg_url, request_threads=3, intake_threads=2)
    pool = ledger.engine.pool
    assert isinstance(pool, QueuePool)
    assert pool.size() == 3 + 2 + POOL_HEADROOM and pool._max_overflow == 0
    ledger.engine.dispose()


def test_a_damaged_cached_copy_is_fetched_again_and_repaired(pg_url: str, tmp_path: Path) -> None:
    upgrade(pg_url)
    _, _, client_a = host(tmp_path, "a", pg_url)
    _, ledger_b, client_b = host(tmp_path, "b", pg_url)
    with client_a, client_b:
        [item] = submit(client_a, 1)
        cid = client_a.get(f"/v1/contributions/{item['id']}").json()["cid"]
        good = client_b.get(f"/ipfs/{cid}", params={"format": "car"})
        assert good.status_code == 200
        [block] = [p for p in (tmp_path / "b" / "blocks").rglob("*.data")]
        block.write_bytes(block.read_bytes()[:-1] + b"\0")
        again = client_b.get(f"/ipfs/{cid}", params={"format": "car"})
        assert again.status_code == 200 and again.content == good.content
        assert ledger_b.unsynced.get(cid) == ledger_b.store.get(cid)  # the cache holds a good copy again
