"""Path and query values that name rows: whatever the text, the answer is a 2xx or a 4xx problem,
never a 5xx, and it never writes.

A contribution key is ASCII digits (an id) or 0x and 64 hex digits (a contentHash); the edges are
Unicode digits that ``str.isdigit`` takes ("³", Arabic-Indic digits), numbers past 64 bits, hashes of the wrong
length, and surrogates. Numbers in queries and paths (cursors, epochs, log sizes) go past the
32- and 64-bit columns they are compared with, where SQLite and PostgreSQL fail differently.
"""

from __future__ import annotations

from urllib.parse import quote

import hypothesis.strategies as st
from hypothesis import HealthCheck, given, settings

from tests.fuzz.conftest import ADMIN_KEY, EXAMPLES, FuzzApi
from tests.fuzz.test_body import assert_refused_or_accepted

SETTINGS = settings(max_examples=EXAMPLES or 60, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

HUGE = st.one_of(
    st.sampled_from([2**31 - 1, 2**31, 2**32, 2**53 + 1, 2**63 - 1, 2**63, 2**64, 10**30, 10**400]),
    st.integers(min_value=0, max_value=2**70),
)

UNICODE_DIGITS = st.text(st.characters(categories=["Nd", "No"]), min_size=1, max_size=6)

KEYS = st.one_of(
    HUGE.map(str),
    st.integers(-5, 10).map(str),
    UNICODE_DIGITS,
    st.sampled_from(["³", "١٢", "߁", "0x" + "ab" * 32, "0X" + "ab" * 32, "0x" + "ab" * 31, "0x" + "ab" * 33,
                     "0x" + "zz" * 32, " 1", "1 ", "+1", "-1", "1e3", "0x", "\ud800", "%00", "1_000"]),
    st.text(min_size=1, max_size=80),  # an empty key is another route (/v1/contributions)
)

ADDRESSES = st.one_of(
    st.sampled_from(["0x" + "0" * 40, "0x" + "G" * 40, "0X" + "a" * 40, "0x" + "a" * 39, "0x" + "a" * 41,
                     "0x2B5AD5c4795c026514f8317c7a215E218DcCD6cf", "\ud800"]),
    st.text(max_size=50),
)

NUMBERS = st.one_of(HUGE.map(str), st.integers(-3, 3).map(str), UNICODE_DIGITS,
                    st.sampled_from(["1.5", "1e3", "", " "]))


def path_segment(text: str) -> str:
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


@SETTINGS
@given(key=KEYS, suffix=st.sampled_from(["", "/proof"]))
def test_any_contribution_key_is_found_or_refused(fuzz_api: FuzzApi, key: str, suffix: str) -> None:
    answer = fuzz_api.client.get(f"/v1/contributions/{path_segment(key)}{suffix}")
    assert_refused_or_accepted(answer, key)
    if answer.status_code == 200 and not suffix:
        body = answer.json()
        assert str(body["id"]) == key or body["contentHash"].lower() == key.lower()
    if not (key.isascii() and key.isdigit()) and not (key.startswith("0x") and len(key) == 66):
        assert answer.status_code in (404, 422), answer.text  # neither an id nor a hash


@SETTINGS
@given(key=KEYS)
def test_erasing_any_key_is_done_or_refused(fuzz_api: FuzzApi, key: str) -> None:
    before = fuzz_api.counts()
    answer = fuzz_api.client.post(f"/v1/contributions/{path_segment(key)}:erase",
                                  headers={"authorization": f"Bearer {ADMIN_KEY}"})
    assert_refused_or_accepted(answer)
    assert fuzz_api.counts() == before  # erasure destroys a key; it adds or removes no row


@SETTINGS
@given(address=ADDRESSES, suffix=st.sampled_from(["", "/contributions", "/proof"]))
def test_any_address_is_read_or_refused(fuzz_api: FuzzApi, address: str, suffix: str) -> None:
    answer = fuzz_api.client.get(f"/v1/accounts/{path_segment(address)}{suffix}")
    assert_refused_or_accepted(answer)


@SETTINGS
@given(value=NUMBERS, query=st.sampled_from([
    "/v1/accounts/{a}?after={v}", "/v1/accounts/{a}/contributions?before={v}", "/v1/epochs?before={v}",
    "/v1/epochs/{v}", "/v1/epochs/{v}/manifest", "/v1/log/consistency?first={v}",
    "/v1/log/consistency?first=0&second={v}", "/v1/contributions/1/proof?epoch={v}",
    "/v1/accounts/{a}/proof?epoch={v}", "/v1/accounts/{a}?limit={v}", "/v1/epochs?limit={v}",
]))
def test_any_number_is_answered_or_refused(fuzz_api: FuzzApi, value: str, query: str) -> None:
    account = fuzz_api.seeded.contributors[0]
    answer = fuzz_api.client.get(query.format(a=account, v=path_segment(value)))
    assert_refused_or_accepted(answer)


@SETTINGS
@given(number=HUGE, units=HUGE)
def test_usage_of_any_contribution_number_is_recorded_or_refused(fuzz_api: FuzzApi, number: int, units: int) -> None:
    """Ids and units in a usage report are JSON numbers: past the id column they name nothing."""
    from tests.fuzz.conftest import CONSUMER_KEY

    before = fuzz_api.counts()
    report = {"ref": f"huge-{number}-{units}", "items": [{"contribution": number, "units": units}]}
    answer = fuzz_api.client.post("/v1/usage", json=report, headers={"authorization": f"Bearer {CONSUMER_KEY}"})
    assert_refused_or_accepted(answer)
    if answer.status_code >= 400:
        assert fuzz_api.counts() == before


@SETTINGS
@given(points=st.one_of(HUGE, HUGE.map(str), st.sampled_from(["0", "-1", "01", "1.0", "1e3", "³", "٣"])))
def test_grants_of_any_size_are_made_or_refused(fuzz_api: FuzzApi, points: object) -> None:
    before = fuzz_api.counts()
    account = fuzz_api.seeded.contributors[1]
    answer = fuzz_api.client.post(f"/v1/accounts/{account}/grants", json={"points": points, "ref": f"g-{points}"},
                                  headers={"authorization": f"Bearer {ADMIN_KEY}"})
    assert_refused_or_accepted(answer)
    if answer.status_code >= 400:
        assert fuzz_api.counts() == before
