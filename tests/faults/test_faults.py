"""Faults of every moving part under load, on PostgreSQL, anvil and js-ipfs, with real `tally`
processes. Each scenario injects its fault while contributors submit, lets the ledger settle, and
ends with `assert_ledger_invariants`. Random choices are seeded, so a failure can be replayed.

The form (how many kills, how long an outage) comes from the `profile` fixture: the CI form by
default, the soak form with TALLY_SOAK=1 (`make soak`).
"""

from __future__ import annotations

import contextlib
import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy import select

from ledger.content import IpfsStore
from ledger.lifecycle import EpochState
from ledger.models import Epoch, StoredObject
from ledger.outbox import unpinned_for_epoch
from tally.client import sign_submission
from tally.sharegpt import distinct_conversations
from tests.anchoring_e2e.conftest import Stack, real_conversations
from tests.api.conftest import contributor_key
from tests.faults.conftest import Profile
from tests.faults.harness import Deployment, Load, LoadResult
from tests.faults.invariants import assert_ledger_invariants
from tests.support import postgres
from tests.support.ipfs_daemon import IpfsDaemon
from tests.support.worker import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

Deploy = Callable[..., Deployment]


def start_load(d: Deployment, profile: Profile, pace: float = 1.0) -> Load:
    """Three submitting threads, about three submissions a second in all (bounded load on a
    shared two-core machine), for as long as the faults last (the scenario stops it) or until
    the conversations run out."""
    return Load(d.server.url, distinct_conversations(profile.conversations), pace=pace).start()


def assert_still_running(d: Deployment) -> None:
    """Faults of a dependency must not take our own processes down: they wait and retry."""
    alive = d.processes_alive()
    assert all(alive.values()), f"a process died of a dependency's fault: {alive}\n" + (
        d.worker.log()[-3000:] if d.worker is not None else "") + d.server.log()[-3000:]


def wait_final(d: Deployment, count: int, timeout: float) -> None:
    wait_for(lambda: sum(s == EpochState.FINAL for s in d.epochs().values()) >= count, timeout,
             f"{count} final epochs (have {d.epochs()})", interval=0.25)


# ---- 1. SIGKILLs of the API process and of the worker


def test_random_sigkills_of_the_api_and_the_worker_lose_no_acknowledged_contribution(
    deploy: Deploy, profile: Profile
) -> None:
    rng = random.Random(1)
    d = deploy()
    load = start_load(d, profile)
    # Both targets equally often, in a seeded random order, at random moments: a kill lands
    # mid-request, mid-seal or mid-anchor as it happens.
    targets = ["server", "worker"] * (profile.kills // 2)
    rng.shuffle(targets)
    for target in targets:
        time.sleep(rng.uniform(0.3, 2.0))
        if target == "server":
            d.kill_server()
            d.server.start()
        else:
            d.kill_worker()
            d.start_worker()
    result = load.stop()
    d.wait_settled(profile.settle)
    assert_ledger_invariants(d, result, "1 sigkill api/worker")


# ---- 2. Database connections cut under the processes' feet


def terminate_backends(db_url: str) -> int:
    """`pg_terminate_backend` on every connection to this test's database but the admin's own:
    the API's, the worker's (its leader lock too) and the test's."""
    admin = sa.create_engine(postgres.PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            return int(conn.execute(sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = :db AND pid <> pg_backend_pid()"), {"db": db_url.rsplit("/", 1)[1]}).scalar_one())
    finally:
        admin.dispose()


def test_database_connections_terminated_while_submitting_and_sealing(deploy: Deploy, profile: Profile) -> None:
    rng = random.Random(2)
    d = deploy()
    load = start_load(d, profile)
    cut = 0
    for _ in range(profile.db_cuts):
        time.sleep(rng.uniform(0.5, 2.5))
        cut += terminate_backends(d.db_url)
    time.sleep(2)  # submissions after the last cut, on re-established connections
    result = load.stop()
    d.wait_settled(profile.settle)
    assert_still_running(d)
    assert cut >= profile.db_cuts, "the cuts found no connection to terminate"
    # A cut that lands inside a request's transaction is answered 503 (the next test pins it
    # down); the client's retry of the same body is accepted or named a duplicate.
    assert_ledger_invariants(d, result, "2 pg_terminate_backend", connections_cut=cut)


def test_a_connection_cut_inside_a_request_is_answered_503_and_the_retry_is_accepted(deploy: Deploy) -> None:
    d = deploy()
    body = signed_body(d, distinct_conversations(1)[0])
    locker = sa.create_engine(d.db_url)
    answers: list[httpx.Response] = []
    try:
        with locker.connect() as conn, conn.begin():
            conn.execute(sa.text("LOCK TABLE contributions IN ACCESS EXCLUSIVE MODE"))
            post = threading.Thread(target=lambda: answers.append(
                httpx.post(d.server.url + "/v1/contributions", json=body, timeout=60)))
            post.start()
            # The API's transaction is now waiting on our lock: cut exactly that connection.
            wait_for(lambda: blocked_api_backends(d.db_url) > 0, 30, "the API waiting on the lock", interval=0.1)
            assert terminate_blocked_api_backends(d.db_url) >= 1  # the worker's seal may wait too
        post.join(timeout=60)
    finally:
        locker.dispose()
    retried = httpx.post(d.server.url + "/v1/contributions", json=body, timeout=60)
    result = LoadResult(statuses=Counter([answers[0].status_code, retried.status_code]))
    if retried.status_code == 201:
        result.acknowledged[bytes.fromhex(retried.json()["contentHash"][2:])] = int(retried.json()["id"])
    d.wait_settled(60)
    assert_ledger_invariants(d, result, "2b cut inside a request", connections_cut=1)
    assert answers[0].status_code == 503, answers[0].text


def signed_body(d: Deployment, conversation: dict[str, object]) -> dict[str, object]:
    config = httpx.get(d.server.url + "/v1/config", timeout=30).json()
    return sign_submission(config, conversation, contributor_key(0), nonce=1, issued_at=int(time.time()))


_BLOCKED_API = ("FROM pg_stat_activity WHERE datname = :db AND pid <> pg_backend_pid() "
                "AND wait_event_type = 'Lock' AND query ILIKE '%contributions%'")


def blocked_api_backends(db_url: str) -> int:
    with admin_connection() as conn:
        return int(conn.execute(sa.text("SELECT count(*) " + _BLOCKED_API), {"db": db_name(db_url)}).scalar_one())


def terminate_blocked_api_backends(db_url: str) -> int:
    with admin_connection() as conn:
        return int(conn.execute(sa.text("SELECT count(pg_terminate_backend(pid)) " + _BLOCKED_API),
                                {"db": db_name(db_url)}).scalar_one())


def db_name(db_url: str) -> str:
    return db_url.rsplit("/", 1)[1]


@contextlib.contextmanager
def admin_connection() -> Iterator[sa.Connection]:
    admin = sa.create_engine(postgres.PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            yield conn
    finally:
        admin.dispose()


# ---- 3. The chain node stopped, then SIGKILLed and restarted from its state file


def test_the_chain_node_frozen_and_killed_delays_anchoring_and_loses_nothing(
    deploy: Deploy, profile: Profile
) -> None:
    rng = random.Random(3)
    # Three confirmations: anvil dumps its state every second, so a SIGKILL loses up to the last
    # second of blocks; an epoch counted final must be deeper than what a kill can take back.
    d = deploy(confirmations=3)
    load = start_load(d, profile)
    wait_final(d, 1, 60)
    for _ in range(profile.outages):
        d.pause_chain()  # SIGSTOP: the node accepts connections and never answers
        time.sleep(profile.outage)
        d.resume_chain()
        time.sleep(rng.uniform(1.0, 3.0))
        d.chain.kill()  # SIGKILL: connections refused; restarted from its last state dump
        d.kills["anvil"] += 1
        time.sleep(profile.outage)
        d.restart_chain()
        final_before = sum(s == EpochState.FINAL for s in d.epochs().values())
        wait_final(d, final_before + 1, 60)  # anchoring resumed
    result = load.stop()
    d.wait_settled(profile.settle)
    assert_still_running(d)
    assert_ledger_invariants(d, result, "3 anvil stop/kill", outages=2 * profile.outages)


# ---- 4. Reorgs


def anchors_in_last_blocks(d: Deployment, depth: int) -> int:
    """How many EpochAnchored events the last ``depth`` blocks hold (what a reorg of that depth
    drops)."""
    latest = d.w3.eth.block_number
    return len(d.contract.events.EpochAnchored.get_logs(from_block=max(0, latest - depth + 1), to_block=latest))


def test_reorgs_of_depth_one_to_three_before_finality_are_re_anchored(deploy: Deploy, profile: Profile) -> None:
    # Four confirmations: a reorg of depth 3 or less never takes back a final epoch.
    d = deploy(confirmations=4)
    load = start_load(d, profile)
    dropped = 0
    for round_ in range(profile.reorgs):
        depth = 1 + round_ % 3
        with contextlib.suppress(AssertionError):  # an anchor the reorg drops; reorg anyway if none
            wait_for(lambda depth=depth: anchors_in_last_blocks(d, depth) > 0, 20, "an anchor", interval=0.1)
        before = d.contract.functions.latestEpoch().call()
        d.chain.rpc("anvil_reorg", [depth, []])  # replace the last `depth` blocks with empty ones
        dropped += before - d.contract.functions.latestEpoch().call()
        time.sleep(1)
    result = load.stop()
    d.wait_settled(profile.settle)
    assert_still_running(d)
    assert dropped > 0, "no reorg dropped an anchor: the scenario proved nothing"
    assert_ledger_invariants(d, result, "4 reorg depth 1-3", reorgs=profile.reorgs, anchors_dropped=dropped)


def test_a_reorg_between_two_reads_of_one_pass_does_not_halt_anchoring(pg_stack: Stack) -> None:
    pg_stack.contribute(real_conversations(5))
    pg_stack.seal()
    anchorer = pg_stack.anchorer(confirmations=4)
    assert anchorer.step().sent == 1  # anvil mines it at once; the database says submitted
    # The one forced timing: the reorg lands right after this pass has read latestEpoch (1), as
    # it can on any chain between two calls. The reorg itself is anvil's, the chain is real.
    read_latest = anchorer.contract.latest_epoch

    def latest_then_reorg(*args: object, **kwargs: object) -> int:
        anchorer.contract.latest_epoch = read_latest  # once
        value = read_latest(*args, **kwargs)
        pg_stack.chain.rpc("anvil_reorg", [1, []])
        return value

    anchorer.contract.latest_epoch = latest_then_reorg  # type: ignore[method-assign]
    for _ in range(12):
        anchorer.step()
        pg_stack.mine()
        with pg_stack.sessions() as session:
            if session.get(Epoch, 1).state == EpochState.FINAL:  # type: ignore[union-attr]
                break
    events = pg_stack.contract.events.EpochAnchored.get_logs(from_block=0, argument_filters={"epoch": 1})
    assert len(events) == 1 and pg_stack.contract.functions.latestEpoch().call() == 1


def test_a_reorg_deeper_than_finality_is_detected_and_re_anchored(deploy: Deploy, profile: Profile) -> None:
    d = deploy(confirmations=1)
    load = start_load(d, profile)
    wait_final(d, 1, 60)

    def final_epoch_in_last_three_blocks() -> bool:
        latest = d.w3.eth.block_number
        with d.sessions() as session:
            return session.scalar(select(Epoch.number).where(
                Epoch.state == EpochState.FINAL, Epoch.block_number >= latest - 2).limit(1)) is not None

    wait_for(final_epoch_in_last_three_blocks, 30, "a final epoch within three blocks of the head", interval=0.1)
    before = d.contract.functions.latestEpoch().call()
    d.chain.rpc("anvil_reorg", [3, []])
    dropped = before - d.contract.functions.latestEpoch().call()
    assert dropped > 0, "the reorg dropped no anchor"
    time.sleep(1)  # a submission or two after the reorg
    result = load.stop()
    d.wait_settled(min(profile.settle, 20))
    assert_still_running(d)
    assert_ledger_invariants(d, result, "4b reorg after finality", anchors_dropped=dropped)


# ---- 5. The IPFS node stopped while pins are due


def assert_anchored_only_when_pinned(d: Deployment) -> int:
    """No epoch past `sealed` has an unpinned object; returns how many sealed epochs wait."""
    waiting = 0
    with d.sessions() as session:
        for epoch in session.scalars(select(Epoch)):
            unpinned = unpinned_for_epoch(session, epoch.number, epoch.manifest_cid)
            if epoch.state == EpochState.SEALED:
                waiting += unpinned > 0
            else:
                assert unpinned == 0, f"epoch {epoch.number} is {epoch.state} with {unpinned} objects unpinned"
    return waiting


def test_the_ipfs_node_stopped_while_pins_are_due_holds_anchoring_back_until_it_returns(
    deploy: Deploy, profile: Profile, ipfs: IpfsDaemon
) -> None:
    rng = random.Random(5)
    held_back = 0
    d = deploy(ipfs=ipfs)
    load = start_load(d, profile)
    wait_final(d, 1, 60)
    assert ipfs._process is not None
    for _ in range(profile.outages):
        # Frozen: requests hang until the client's timeout (TALLY_IPFS_TIMEOUT=5).
        ipfs._process.send_signal(signal.SIGSTOP)
        time.sleep(profile.outage)
        ipfs._process.send_signal(signal.SIGCONT)
        time.sleep(rng.uniform(1.0, 3.0))
        # Gone: connections refused, then the same repository and ports again.
        ipfs.stop()
        d.kills["ipfs"] += 1
        time.sleep(profile.outage)
        held_back += assert_anchored_only_when_pinned(d)
        ipfs.start()
    result = load.stop()
    d.wait_settled(profile.settle)
    assert_still_running(d)
    # The database says pinned; the node must agree, object by object, through its batch pin.
    with d.sessions() as session:
        pins = session.execute(select(StoredObject.cid, StoredObject.pin_root)).all()
    with IpfsStore(ipfs.url, timeout=30) as node:
        missing = [cid for cid, root in pins if root is None or not node.pinned_in(root, cid)]
    assert not missing, f"objects the node does not hold pinned: {missing[:5]} ({len(missing)} in all)"
    assert held_back > 0, "no epoch waited for its pins: the outage hit nothing that was due"
    assert_ledger_invariants(d, result, "5 ipfs stop", outages=2 * profile.outages,
                             pinned=len(pins), pin_roots=len({root for _, root in pins}), epochs_held=held_back)
