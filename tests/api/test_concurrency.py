"""The same conversation sent 50 times at once, by 50 contributors, to two server processes on
PostgreSQL: exactly one is accepted, every other gets a 409 naming it, points credited once."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from ledger.db import make_engine, make_sessionmaker
from ledger.migrate import upgrade
from ledger.models import Contribution, JournalEntry
from tally.client import sign_submission
from tests.api.conftest import OPERATOR_KEY, contributor_key, sample_conversation
from tests.support.server import API_ONLY, tally_server

pytestmark = pytest.mark.postgres


def test_fifty_racing_duplicates_on_two_workers(pg_url: str, tmp_path: Path) -> None:
    upgrade(pg_url)
    home = tmp_path / "home"
    env = {"TALLY_DATABASE_URL": pg_url, "TALLY_OPERATOR_KEY": OPERATOR_KEY.to_hex(), **API_ONLY}
    with tally_server(home, workers=2, env=env) as url:
        config = httpx.get(url + "/v1/config").json()
        conversation = sample_conversation("race")
        now = int(time.time())
        bodies = [sign_submission(config, conversation, contributor_key(i), nonce=1, issued_at=now)
                  for i in range(50)]
        with httpx.Client(base_url=url, timeout=60, limits=httpx.Limits(max_connections=50)) as client, \
                ThreadPoolExecutor(max_workers=50) as pool:
            responses = list(pool.map(lambda b: client.post("/v1/contributions", json=b), bodies))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 49, [r.text for r in responses if r.status_code not in (201, 409)]
    winner = next(r.json() for r in responses if r.status_code == 201)
    for r in responses:
        if r.status_code == 409:
            assert r.json()["type"] == "/problems/duplicate-contribution"
            assert r.json()["existing"] == winner["id"]
    sessions = make_sessionmaker(make_engine(pg_url))
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Contribution)) == 1
        entries = session.execute(select(JournalEntry.account, JournalEntry.amount)).all()
    assert sorted(entries) == sorted([(winner["contributor"], int(winner["points"])),
                                      ("pool:rewards", -int(winner["points"]))])
