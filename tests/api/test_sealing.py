"""When the next epoch is sealed: the schedule's table, the jobs that follow it on a real database,
and what /v1/config publishes of it."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from anchoring.jobs import Jobs, JobSettings
from anchoring.leader import FileLeadership
from ledger.content import LocalBlockStore
from ledger.epochs import Anchor
from ledger.sealing import SealSchedule, sealing_state
from tally.settings import Settings
from tests.api.conftest import Api, contributor_key, sample_conversation

VECTORS = json.loads((Path(__file__).parents[1] / "ledger" / "vectors" / "seal_schedule.json").read_text())
ALICE = contributor_key(0)
SCHEDULE = SealSchedule(VECTORS["interval"], VECTORS["threshold"])


@pytest.mark.parametrize("case", VECTORS["cases"], ids=[c["name"] for c in VECTORS["cases"]])
def test_schedule(case: dict[str, Any]) -> None:
    args = {"pending": case["pending"], "last_sealed_at": case["lastSealedAt"], "now": case["now"]}
    assert SCHEDULE.is_due(**args) is case["due"]
    assert SCHEDULE.as_json(**args)["nextSealAt"] == case["nextSealAt"]


def test_the_embedded_default_seals_every_30_s_and_a_configured_chain_every_600() -> None:
    assert Settings().sealing == SealSchedule(30.0, 10_000)
    assert Settings(rpc_url="http://node:8545").sealing == SealSchedule(600.0, 10_000)
    assert Settings(rpc_url="http://node:8545", seal_interval=5).sealing.interval == 5


def submit(api: Api, tag: str, nonce: int) -> None:
    answer = api.client.post("/v1/contributions", json=api.signed(sample_conversation(tag), ALICE, nonce=nonce))
    assert answer.status_code == 201, answer.text


def test_jobs_seal_at_once_after_a_quiet_period_then_wait_the_interval(api: Api, tmp_path: Path) -> None:
    jobs = Jobs(sessions=api.intake.sessions, store=LocalBlockStore(api.blocks), anchor=Anchor(31337, "0x" + "5" * 40),
                leadership=FileLeadership(tmp_path / "leader.lock"), anchorer=None,
                settings=JobSettings(sealing=SealSchedule(interval=3600, threshold=3)))
    jobs.keep_leadership()
    assert jobs.seal_if_due() is None  # nothing pending
    submit(api, "first", 1)
    assert jobs.seal_if_due() == 1  # the first contribution ever: no timer to wait out
    submit(api, "second", 2)
    assert jobs.seal_if_due() is None  # sealed a moment ago: the interval runs
    config = api.config["sealing"]
    with api.intake.sessions() as session:
        state = sealing_state(session)
    assert state.pending == 1 and config["pendingContributions"] == 1
    assert config["lastSealedAt"] == state.last_sealed_at
    # The API's services here use the default schedule (600 s): due 600 s after the last seal.
    assert config["nextSealAt"] == state.last_sealed_at + 600 and config["intervalSeconds"] == 600
    submit(api, "third", 3)
    submit(api, "fourth", 4)
    assert jobs.seal_if_due() == 2  # the threshold (3 pending) does not wait
    assert api.config["sealing"]["nextSealAt"] is None  # nothing pending


def test_a_new_leader_keeps_the_schedule_it_reads_from_the_database(api: Api, tmp_path: Path) -> None:
    def leader(name: str) -> Jobs:
        jobs = Jobs(sessions=api.intake.sessions, store=LocalBlockStore(api.blocks),
                    anchor=Anchor(31337, "0x" + "5" * 40), leadership=FileLeadership(tmp_path / f"{name}.lock"),
                    anchorer=None, settings=JobSettings(sealing=SealSchedule(interval=3600, threshold=100)))
        jobs.keep_leadership()
        return jobs

    submit(api, "a", 1)
    assert leader("old").seal_if_due() == 1
    submit(api, "b", 2)
    # A freshly started leader does not seal at once just because its own timer is new.
    assert leader("new").seal_if_due() is None
    assert api.config["sealing"]["nextSealAt"] >= int(time.time())


def test_a_grant_alone_is_sealed_too(api: Api, tmp_path: Path) -> None:
    jobs = Jobs(sessions=api.intake.sessions, store=LocalBlockStore(api.blocks), anchor=Anchor(31337, "0x" + "5" * 40),
                leadership=FileLeadership(tmp_path / "leader.lock"), anchorer=None,
                settings=JobSettings(sealing=SealSchedule(interval=3600, threshold=100)))
    jobs.keep_leadership()
    admin = api.client_with(admin_api_key="k" * 32)
    granted = admin.post(f"/v1/accounts/{ALICE.public_key.to_checksum_address()}/grants",
                         json={"points": "250", "ref": "launch-bonus"}, headers={"Authorization": "Bearer " + "k" * 32})
    assert granted.status_code == 201, granted.text
    config = api.config["sealing"]
    assert config["pendingContributions"] == 0 and config["nextSealAt"] is not None
    assert jobs.seal_if_due() == 1  # no contribution pending, yet the grant is sealed
