"""JSON nested past the limit is refused before it is parsed, on every route that reads a body,
and a real server process survives the body that used to kill it."""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import pytest

from api.services import UsagePolicy
from ledger.nesting import MAX_JSON_DEPTH, nesting_depth
from tally.client import sign_submission
from tests.api.conftest import Api, build_api, contributor_key, sample_conversation
from tests.support.server import API_ONLY, ROOT, tally_server

KEYS = {"Authorization": "Bearer admin-key"}
# The body that overflowed the C stack once py_ecc had raised the recursion limit: 200 KB.
CRASHER = b'{"conversation":' + b"[" * 100_000 + b"]" * 100_000 + b"}"
ALICE = contributor_key(1).public_key.to_checksum_address()


def nested(depth: int) -> bytes:
    return b'{"items":' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"


def test_the_depth_scan_ignores_brackets_in_strings_and_counts_both_kinds() -> None:
    assert nesting_depth(b'{"a": "[[[[{{{{", "b": [1, {"c": "\\"]]]"}]}') == 3
    assert nesting_depth(b"[]" * 1000) == 1
    assert nesting_depth(nested(MAX_JSON_DEPTH)) == MAX_JSON_DEPTH
    assert nesting_depth(CRASHER) == 100_001
    assert nesting_depth(b'"no brackets"') == 0


def test_real_chatgpt_exports_nest_far_below_the_limit() -> None:
    export = (ROOT / "tests" / "fixtures" / "chatgpt_regenerated.json").read_bytes()
    batch = json.dumps({"items": [{"conversation": json.loads(export)}]}).encode()
    assert nesting_depth(export) <= 12 and nesting_depth(batch) <= 16 < MAX_JSON_DEPTH


@pytest.mark.parametrize("path", ["/v1/contributions", "/v1/contributions:batch", "/v1/usage",
                                  f"/v1/accounts/{ALICE}/grants"])
def test_a_body_nested_past_the_limit_is_a_400_and_changes_nothing(db_url: str, tmp_path: Path, path: str) -> None:
    api = build_api(db_url, tmp_path, max_body_bytes=256 * 1024)
    client = api.client_with(admin_api_key="admin-key", usage_api_key="admin-key", usage=UsagePolicy(points_per_unit=1))
    before = api.counts()
    for body in (CRASHER[:1500] + CRASHER[-1500:], nested(MAX_JSON_DEPTH + 1)):
        response = client.post(path, content=body, headers={"content-type": "application/json", **KEYS})
        assert response.status_code == 400, response.text
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert problem["type"] == "/problems/json-too-deep" and problem["limit"] == MAX_JSON_DEPTH
        assert str(MAX_JSON_DEPTH) in problem["detail"]
    assert api.counts() == before


def test_a_body_at_the_limit_is_parsed(api: Api) -> None:
    # Exactly MAX_JSON_DEPTH levels: past the scan, refused for what it says, not for its depth.
    response = api.client.post("/v1/contributions:batch", content=nested(MAX_JSON_DEPTH),
                               headers={"content-type": "application/json"})
    assert response.status_code == 200, response.text
    assert response.json()["refused"] == 1


def test_a_real_server_answers_the_crashing_body_with_a_4xx_and_keeps_serving(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with tally_server(home, env=API_ONLY) as url:
        crashed = httpx.post(f"{url}/v1/contributions", content=CRASHER,
                             headers={"content-type": "application/json"}, timeout=30)
        assert crashed.status_code == 400 and crashed.json()["type"] == "/problems/json-too-deep"
        config = httpx.get(f"{url}/v1/config", timeout=10).json()
        body = sign_submission(config, sample_conversation("after"), contributor_key(1), nonce=1,
                               issued_at=int(time.time()))
        assert httpx.post(f"{url}/v1/contributions", json=body, timeout=30).status_code == 201
        assert httpx.get(f"{url}/healthz", timeout=10).status_code == 200
