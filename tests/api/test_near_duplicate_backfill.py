"""Contributions the near-duplicate check never saw (accepted before it existed, or while it was
off) are indexed by the leader's backfill, after which their near-copies are refused; erased
ones are left alone. On SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.app import create_app
from ledger.intake import Intake
from ledger.models import Contribution, NearDuplicateKey
from ledger.near_duplicate_backfill import NearDuplicateBackfill
from tests.api.conftest import Api, contributor_key, sample_conversation
from tests.api.test_near_duplicates import near_copy

ALICE, BOB = contributor_key(0), contributor_key(1)


def unindexed(api: Api) -> list[int]:
    with api.intake.sessions() as session:
        return list(session.scalars(select(Contribution.id).where(Contribution.near_duplicate_sketch.is_(None))))


def test_the_backfill_indexes_what_was_accepted_unchecked_and_its_near_copies_are_then_refused(api: Api) -> None:
    intake = api.intake
    unchecked = TestClient(create_app(replace(api.services, intake=Intake(
        sessions=intake.sessions, store=intake.store, consent=intake.consent, signer=intake.signer,
        limits=intake.limits, clock=intake.clock, near_duplicates=False))))
    originals = [sample_conversation(f"before the index {n}") for n in range(3)]
    ids = [unchecked.post("/v1/contributions", json=api.signed(c, ALICE, nonce=n)).json()["id"]
           for n, c in enumerate(originals)]
    assert unindexed(api) == ids
    # Unseen, a near-copy passes the check.
    probe = api.client.post("/v1/contributions", json=api.signed(near_copy(originals[0]), BOB, nonce=1))
    assert probe.status_code == 201, probe.text
    ids.append(probe.json()["id"])

    backfill = NearDuplicateBackfill(intake.sessions, intake.store, None, limit=2)
    assert backfill() == 2  # the first two, in id order
    assert backfill.after == ids[1]
    assert backfill() == 1  # the third; the probe was indexed when it was accepted
    assert backfill.after == 0 and unindexed(api) == []
    assert backfill() == 0
    with intake.sessions() as session:
        bands = session.scalar(select(func.count()).select_from(NearDuplicateKey))
    assert bands == 16 * 4

    for n, original in enumerate(originals[1:], start=2):
        again = api.client.post("/v1/contributions", json=api.signed(near_copy(original), BOB, nonce=n))
        assert again.status_code == 409 and again.json()["type"] == "/problems/near-duplicate"
        assert again.json()["existing"] == ids[n - 1]


def test_the_backfill_skips_erased_contributions(api: Api) -> None:
    from sqlalchemy import update

    intake = api.intake
    unchecked = Intake(sessions=intake.sessions, store=intake.store, consent=intake.consent, signer=intake.signer,
                       limits=intake.limits, clock=intake.clock, near_duplicates=False)
    accepted = unchecked.submit(api.signed(sample_conversation("erased later"), ALICE, nonce=1))
    with intake.sessions() as session, session.begin():
        session.execute(update(Contribution).where(Contribution.id == accepted.contribution.id)
                        .values(erased_at=1))
    assert NearDuplicateBackfill(intake.sessions, intake.store, None)() == 0
    assert unindexed(api) == [accepted.contribution.id]
