"""JSON logs with the id of the request or job pass each line belongs to (ledger.operations,
tally.logs, api.request_ids)."""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from anchoring.jobs import Jobs
from ledger.epochs import Anchor
from ledger.operations import OperationFilter
from tally.client import sign_submission
from tally.logs import JsonFormatter
from tests.api.conftest import OPERATOR_KEY, Api, build_api, contributor_key, sample_conversation
from tests.support.server import API_ONLY, tally_server


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(OperationFilter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def lines(out: io.StringIO) -> list[dict[str, str]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_a_requests_id_reaches_the_ledgers_log_lines_and_the_answer(
        sqlite_url: str, tmp_path: Path, captured: io.StringIO) -> None:
    api: Api = build_api(sqlite_url, tmp_path)
    body = api.signed(sample_conversation("logs"), contributor_key(1))
    answer = api.client.post("/v1/contributions", json=body, headers={"X-Request-Id": "trace-42"})
    assert answer.status_code == 201 and answer.headers["x-request-id"] == "trace-42"
    [accepted] = [line for line in lines(captured) if line["logger"] == "tally.intake"]
    assert accepted["request_id"] == "trace-42" and accepted["level"] == "info"
    assert accepted["message"].startswith(f"accepted contribution {answer.json()['id']} ")
    # Without one, or with one that is not a sane token, the API names the request itself.
    for given in ({}, {"X-Request-Id": "a b\tc" * 20}):
        made = api.client.get("/v1/config", headers=given).headers["x-request-id"]
        assert made.startswith("req-") and len(made) == 16
    # A batch logs once, with its request's id.
    items = [api.signed(sample_conversation(f"logs-{n}"), contributor_key(2), nonce=n + 1) for n in range(2)]
    api.client.post("/v1/contributions:batch", json={"items": items}, headers={"X-Request-Id": "batch-7"})
    batch = [line for line in lines(captured) if line.get("request_id") == "batch-7"]
    assert [line["message"].split(" (")[0] for line in batch] == ["accepted 2 of 2 batch items"]


def test_every_pass_of_a_job_has_an_id_of_its_own(captured: io.StringIO) -> None:
    said = logging.getLogger("tally.outbox")
    jobs = Jobs(sessions=sessionmaker[Session](), store=None, anchor=Anchor(1, "0x" + "00" * 20),  # type: ignore[arg-type]
                leadership=None, anchorer=None, storage=lambda: said.warning("a pass"))  # type: ignore[arg-type]
    jobs.is_leader = True
    jobs.storage_step()
    jobs.storage_step()
    ids = [line["request_id"] for line in lines(captured) if line["message"] == "a pass"]
    assert len(ids) == 2 and ids[0] != ids[1] and all(i.startswith("storage-") for i in ids)


def test_a_server_logs_json_lines_only(pg_url: str, tmp_path: Path) -> None:
    home = tmp_path / "host" / "tally"
    home.mkdir(parents=True)
    env = {**API_ONLY, "TALLY_DATABASE_URL": pg_url, "TALLY_OPERATOR_KEY": OPERATOR_KEY.to_hex(),
           "TALLY_LOG_FORMAT": "json", "TALLY_LOG_LEVEL": "info"}
    with tally_server(home, env=env) as url:
        config = httpx.get(url + "/v1/config").json()
        body = sign_submission(config, sample_conversation("json"), contributor_key(3), nonce=1,
                               issued_at=int(time.time()))
        answer = httpx.post(url + "/v1/contributions", json=body, headers={"X-Request-Id": "from-proxy-1"})
        assert answer.status_code == 201
        time.sleep(0.5)
    [log_file] = (tmp_path / "host").glob("server-*.log")
    text = log_file.read_text().splitlines()
    records = [json.loads(line) for line in text if not line.startswith("tally: serving")]
    tagged = [r for r in records if r.get("request_id") == "from-proxy-1"]
    assert {r["logger"] for r in tagged} >= {"tally.intake", "uvicorn.access"}, records
