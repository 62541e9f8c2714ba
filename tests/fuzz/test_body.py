"""Whatever bytes come in as a JSON body (``api.routes.body.read_json``), through the real app: the
answer is a 2xx or a 4xx problem+json, never a 5xx, and a refused request writes nothing.

Bodies are built around the edges the parser has: nesting depth, the body limits (one submission,
a batch, an adjustment), lone surrogates (``\\ud800``, valid JSON text but no Unicode scalar),
bytes that are not UTF-8, and the non-standard constants NaN and Infinity. They go to every
operation that reads a body, with the key where it needs one.
"""

from __future__ import annotations

import json
from typing import Any

import hypothesis.strategies as st
import pytest
from hypothesis import HealthCheck, given, settings

from tests.fuzz.conftest import ADMIN_KEY, CONSUMER_KEY, EXAMPLES, FuzzApi

SETTINGS = settings(max_examples=EXAMPLES or 40, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.function_scoped_fixture])

SUBMISSION_LIMIT = 256 * 1024
ADJUSTMENT_LIMIT = 4096
BATCH_LIMIT = SUBMISSION_LIMIT * 100


def body_routes(fuzz_api: FuzzApi) -> list[tuple[str, dict[str, str], int]]:
    """(path, headers, body limit) of every operation that reads a JSON body."""
    account = fuzz_api.seeded.contributors[0]
    admin = {"authorization": f"Bearer {ADMIN_KEY}"}
    return [
        ("/v1/contributions", {}, SUBMISSION_LIMIT),
        ("/v1/contributions:batch", {}, BATCH_LIMIT),
        (f"/v1/accounts/{account}/grants", admin, ADJUSTMENT_LIMIT),
        (f"/v1/accounts/{account}/clawbacks", admin, ADJUSTMENT_LIMIT),
        ("/v1/usage", {"authorization": f"Bearer {CONSUMER_KEY}"}, SUBMISSION_LIMIT),
    ]


ROUTE = st.integers(min_value=0, max_value=4)


def nested(depth: int, leaf: str = "1", array: bool = True) -> bytes:
    """A JSON text `depth` levels deep (arrays or objects)."""
    if array:
        return ("[" * depth + leaf + "]" * depth).encode()
    return ('{"a":' * depth + leaf + "}" * depth).encode()


DEPTHS = st.one_of(st.integers(1, 64), st.integers(900, 1100), st.integers(5_000, 200_000))

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@st.composite
def hostile_bodies(draw: st.DrawFn) -> bytes:
    """Bytes a client might send as application/json."""
    kind = draw(st.sampled_from(["deep", "surrogate", "not-utf8", "constant", "around-limit", "json", "bytes"]))
    if kind == "deep":
        return nested(draw(DEPTHS), array=draw(st.booleans()))
    if kind == "surrogate":
        lone = draw(st.sampled_from(["\\ud800", "\\udfff", "\\udbff\\u0041", "\\ud800\\ud800"]))
        where = draw(st.sampled_from(["value", "key", "ref", "nested"]))
        if where == "value":
            return f'{{"contributor": "{lone}"}}'.encode()
        if where == "key":
            return f'{{"{lone}": 1}}'.encode()
        if where == "ref":
            return f'{{"points": "5", "ref": "{lone}"}}'.encode()
        items = f'[{{"contribution": "{lone}"}}]'
        return f'{{"ref": "r", "items": {items}, "conversation": {{"messages": ["{lone}"]}}}}'.encode()
    if kind == "not-utf8":
        junk = draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\x80"]))
        return b'{"ref": "' + junk + b'", "points": "1"}'
    if kind == "constant":
        constant = draw(st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1" + "0" * 5000]))
        items = f'[{{"contribution": {constant}}}]'
        return f'{{"points": {constant}, "ref": "c", "nonce": {constant}, "items": {items}}}'.encode()
    if kind == "around-limit":
        size = draw(st.sampled_from([ADJUSTMENT_LIMIT, SUBMISSION_LIMIT])) + draw(st.integers(-3, 3))
        padding = max(0, size - len('{"ref": "", "points": "1"}'))
        return ('{"ref": "' + "x" * padding + '", "points": "1"}').encode()
    if kind == "json":
        return json.dumps(draw(JSON_VALUES)).encode()
    return draw(st.binary(max_size=64))


def assert_refused_or_accepted(answer: Any, sent: object = "") -> None:
    request = answer.request
    assert answer.status_code < 500, (f"{request.method} {request.url} with {sent!r:.200} -> "
                                      f"{answer.status_code} {answer.text[:300]}")
    if answer.status_code >= 400:
        assert answer.headers["content-type"] == "application/problem+json", answer.headers
        problem = answer.json()
        assert problem["status"] == answer.status_code and problem["type"].startswith("/problems/")


def refused(answer: Any) -> bool:
    """A 4xx, or a batch's 200 in which no item was accepted."""
    if answer.status_code >= 400:
        return True
    return answer.request.url.path.endswith(":batch") and answer.json()["accepted"] == 0


@SETTINGS
@given(body=hostile_bodies(), route=ROUTE)
def test_any_body_is_answered_with_a_problem_or_accepted(fuzz_api: FuzzApi, body: bytes, route: int) -> None:
    path, headers, _ = body_routes(fuzz_api)[route]
    before = fuzz_api.counts()
    answer = fuzz_api.client.post(path, content=body, headers={**headers, "content-type": "application/json"})
    assert_refused_or_accepted(answer, body)
    if refused(answer):
        assert fuzz_api.counts() == before


@SETTINGS
@given(depth=DEPTHS, array=st.booleans(), route=ROUTE)
def test_deep_nesting_is_refused_as_a_problem(fuzz_api: FuzzApi, depth: int, array: bool, route: int) -> None:
    path, headers, limit = body_routes(fuzz_api)[route]
    body = nested(depth, array=array)
    before = fuzz_api.counts()
    answer = fuzz_api.client.post(path, content=body, headers={**headers, "content-type": "application/json"})
    assert_refused_or_accepted(answer, body)
    assert refused(answer)  # no body of these routes is a bare nest
    if len(body) > limit:
        assert answer.status_code == 413
    assert fuzz_api.counts() == before


@SETTINGS
@given(route=st.sampled_from([0, 2, 3, 4]), delta=st.integers(-2, 2), declared=st.booleans())
def test_the_body_limit_is_exact(fuzz_api: FuzzApi, route: int, delta: int, declared: bool) -> None:
    """Up to the limit a body is parsed (and refused for what it says); one byte over, it is 413
    whether or not Content-Length told the size."""
    path, headers, limit = body_routes(fuzz_api)[route]  # the batch's 25 MiB are left out: too slow here
    size = limit + delta
    shell = '{"ref": "", "points": "1", "pad": ""}'
    body = ('{"ref": "", "points": "1", "pad": "' + "x" * (size - len(shell)) + '"}').encode()
    assert len(body) == size
    before = fuzz_api.counts()
    content: Any = body if declared else iter([body[: size // 2], body[size // 2:]])
    answer = fuzz_api.client.post(path, content=content, headers={**headers, "content-type": "application/json"})
    assert_refused_or_accepted(answer, body)
    if size > limit:
        assert answer.status_code == 413, answer.text[:300]
    else:
        assert answer.status_code != 413, answer.text[:300]
    assert fuzz_api.counts() == before


@SETTINGS
@given(lone=st.sampled_from(["\ud800", "\udfff", "\udbff"]), route=ROUTE, escaped=st.booleans())
def test_lone_surrogates_are_refused(fuzz_api: FuzzApi, lone: str, route: int, escaped: bool) -> None:
    """A lone surrogate is no Unicode text: escaped (`\\ud800`) it parses, but must not reach an
    encoder or the database; raw (as CESU/WTF-8 bytes) it is not UTF-8 at all."""
    path, headers, _ = body_routes(fuzz_api)[route]
    account = fuzz_api.seeded.contributors[0]
    if escaped:
        text = json.dumps({"ref": lone, "points": "3", "items": [{"contribution": 1}], "contributor": account,
                           "conversation": {"messages": [{"role": "user", "content": lone}]}})
        body = text.encode()
    else:
        body = b'{"ref": "' + lone.encode("utf-8", "surrogatepass") + b'", "points": "3"}'
    before = fuzz_api.counts()
    answer = fuzz_api.client.post(path, content=body, headers={**headers, "content-type": "application/json"})
    assert_refused_or_accepted(answer, body)
    assert refused(answer), answer.text[:300]
    assert fuzz_api.counts() == before


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
@pytest.mark.parametrize("route", range(5))
def test_non_json_constants_are_malformed_json(fuzz_api: FuzzApi, constant: str, route: int) -> None:
    path, headers, _ = body_routes(fuzz_api)[route]
    body = f'{{"points": {constant}, "ref": "nan", "items": [{constant}]}}'.encode()
    before = fuzz_api.counts()
    answer = fuzz_api.client.post(path, content=body, headers={**headers, "content-type": "application/json"})
    assert answer.status_code == 400, answer.text
    assert answer.json()["type"] == "/problems/malformed-json"
    assert fuzz_api.counts() == before
