"""A batch body has its own documented limit (limits.maxBatchBodyBytes, 16 MiB by default), not
maxBatch x maxBodyBytes (400 MB with the default settings): past it the body is a 413, found
while reading, before anything is parsed or written."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import httpx

from ledger.intake import Limits
from tally.settings import Settings
from tally.wiring import build_intake, chain_info, open_ledger
from tests.api.conftest import Api, build_api, contributor_key, sample_conversation
from tests.support.server import API_ONLY, tally_server

LIMIT = 64 * 1024
JSON = {"content-type": "application/json"}


def test_the_batch_body_limit_is_16_mib_by_default_and_a_setting(tmp_path: Path) -> None:
    assert Limits().max_batch_body_bytes == 16 * 1024 * 1024
    assert Settings(home=tmp_path).max_batch_body_bytes == 16 * 1024 * 1024
    settings = Settings(home=tmp_path, max_batch_body_bytes=LIMIT)
    intake = build_intake(settings, open_ledger(settings), chain_info(settings))
    assert intake.limits.max_batch_body_bytes == LIMIT


def test_config_publishes_the_batch_body_limit(api: Api) -> None:
    assert api.config["limits"]["maxBatchBodyBytes"] == api.intake.limits.max_batch_body_bytes == 16 * 1024 * 1024


def padded_batch(api: Api, count: int, padding: int) -> bytes:
    """``count`` valid items of about ``padding`` bytes each (a field the ledger ignores)."""
    items = [{**api.signed(sample_conversation(f"b{i}"), contributor_key(i), nonce=i), "padding": "x" * padding}
             for i in range(count)]
    return json.dumps({"items": items}).encode()


def test_a_batch_body_past_its_limit_is_a_413_and_changes_nothing(db_url: str, tmp_path: Path) -> None:
    api = build_api(db_url, tmp_path, max_body_bytes=32 * 1024)
    api.intake.limits = replace(api.intake.limits, max_batch_body_bytes=LIMIT)
    body = padded_batch(api, 4, padding=20 * 1024)  # every item within maxBodyBytes, the whole past LIMIT
    assert len(body) > LIMIT
    before = api.counts()

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit is found while reading
        for start in range(0, len(body), 8192):
            yield body[start:start + 8192]

    for content in (body, chunks()):
        response = api.client.post("/v1/contributions:batch", content=content, headers=JSON)
        assert response.status_code == 413, response.text
        problem = response.json()
        assert problem["type"] == "/problems/body-too-large" and problem["limit"] == LIMIT
    assert api.counts() == before
    within = padded_batch(api, 2, padding=20 * 1024)
    assert len(within) < LIMIT
    assert api.client.post("/v1/contributions:batch", content=within, headers=JSON).json()["accepted"] == 2


def test_a_real_server_refuses_a_batch_past_its_setting_and_keeps_serving(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {**API_ONLY, "TALLY_MAX_BATCH_BODY_BYTES": str(LIMIT)}
    with tally_server(home, env=env) as url:
        assert httpx.get(f"{url}/v1/config", timeout=10).json()["limits"]["maxBatchBodyBytes"] == LIMIT
        body = json.dumps({"items": [{"padding": "x" * 1024}] * 80}).encode()
        response = httpx.post(f"{url}/v1/contributions:batch", content=body, headers=JSON, timeout=30)
        assert response.status_code == 413 and response.json()["limit"] == LIMIT
        assert httpx.get(f"{url}/healthz", timeout=10).status_code == 200
