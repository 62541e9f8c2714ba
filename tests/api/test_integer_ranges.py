"""Numbers past a column's range are refused at the edge: 422 ``invalid-request`` naming the range
(``ledger.ids``), never a 404 for some and a 500 for others, on SQLite and on PostgreSQL.

Also keys that are digits only to Unicode (``³``, ``٣``): a contribution is named by ASCII
digits or a 0x contentHash, anything else is a 422.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.services import UsagePolicy
from ledger.ids import MAX_EPOCH, MAX_ROW_ID
from tests.api.conftest import Api, contributor_key, sample_conversation

ALICE = contributor_key(1).public_key.to_checksum_address()
PAST_EPOCH = str(MAX_EPOCH + 1)      # 2147483648
PAST_ID = str(MAX_ROW_ID + 1)        # 9223372036854775808
TWENTY_ONE_DIGITS = "1" + "0" * 20
ADMIN = {"Authorization": "Bearer admin-key"}

E, ID = str(MAX_EPOCH), str(MAX_ROW_ID)
OUT_OF_RANGE = [  # (path, the bound the problem names)
    (f"/v1/epochs/{PAST_EPOCH}", E),
    (f"/v1/epochs/{PAST_EPOCH}/manifest", E),
    (f"/v1/epochs/{TWENTY_ONE_DIGITS}", E),
    ("/v1/epochs/0", "greater than or equal to 1"),
    (f"/v1/epochs?before={PAST_EPOCH}", E),
    (f"/v1/contributions/{PAST_ID}", ID),
    (f"/v1/contributions/{TWENTY_ONE_DIGITS}", ID),
    (f"/v1/contributions/{PAST_ID}/proof", ID),
    (f"/v1/contributions/1/proof?epoch={PAST_EPOCH}", E),
    (f"/v1/accounts/{ALICE}?after={PAST_ID}", ID),
    (f"/v1/accounts/{ALICE}/contributions?before={PAST_ID}", ID),
    (f"/v1/accounts/{ALICE}/proof?epoch={PAST_EPOCH}", E),
]

UNICODE_DIGITS = ["%C2%B3", "%D9%A3", "%EF%BC%91"]  # superscript three, Arabic-Indic three, fullwidth one


@pytest.fixture
def admin(api: Api) -> TestClient:
    client = api.client_with(admin_api_key="admin-key", usage_api_key="admin-key", usage=UsagePolicy(points_per_unit=1))
    accepted = client.post("/v1/contributions", json=api.signed(sample_conversation("r"), contributor_key(1)))
    assert accepted.status_code == 201, accepted.text
    return client


def assert_invalid_request(response: object, *mentions: str) -> None:
    assert response.status_code == 422, response.text  # type: ignore[attr-defined]
    assert response.headers["content-type"] == "application/problem+json"  # type: ignore[attr-defined]
    problem = response.json()  # type: ignore[attr-defined]
    assert problem["type"] == "/problems/invalid-request"
    for mention in mentions:
        assert mention in problem["detail"], problem


@pytest.mark.parametrize(("path", "bound"), OUT_OF_RANGE, ids=[p for p, _ in OUT_OF_RANGE])
def test_a_number_past_its_column_is_a_422_naming_the_range(api: Api, admin: TestClient, path: str,
                                                            bound: str) -> None:
    before = api.counts()
    assert_invalid_request(admin.get(path), bound)
    assert api.counts() == before


def test_erasing_a_21_digit_id_is_a_422(api: Api, admin: TestClient) -> None:
    before = api.counts()
    assert_invalid_request(admin.post(f"/v1/contributions/{TWENTY_ONE_DIGITS}:erase", headers=ADMIN), str(MAX_ROW_ID))
    assert api.counts() == before


def test_a_usage_item_past_the_id_range_is_a_422_and_credits_nothing(api: Api, admin: TestClient) -> None:
    before = api.counts()
    for key in (MAX_ROW_ID + 1, int(TWENTY_ONE_DIGITS)):
        response = admin.post("/v1/usage", headers=ADMIN,
                              json={"ref": "past-range", "items": [{"contribution": 1}, {"contribution": key}]})
        assert_invalid_request(response, "items[1].contribution", str(MAX_ROW_ID))
    assert api.counts() == before


def test_the_largest_ids_in_range_are_simply_not_found(api: Api, admin: TestClient) -> None:
    for path in (f"/v1/epochs/{MAX_EPOCH}", f"/v1/contributions/{MAX_ROW_ID}"):
        response = admin.get(path)
        assert response.status_code == 404 and response.json()["type"] == "/problems/not-found"


@pytest.mark.parametrize("digit", UNICODE_DIGITS)
def test_a_unicode_digit_is_not_a_contribution_key(api: Api, admin: TestClient, digit: str) -> None:
    before = api.counts()
    for response in (admin.get(f"/v1/contributions/{digit}"), admin.get(f"/v1/contributions/{digit}/proof"),
                     admin.post(f"/v1/contributions/{digit}:erase", headers=ADMIN)):
        assert_invalid_request(response, "id or its 0x contentHash")
    assert api.counts() == before
