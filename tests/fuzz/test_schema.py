"""Every operation of `/openapi.json`, fuzzed by schemathesis with every check it has.

The document is the app's own (``GET /openapi.json``); the requests go to the real app over a
seeded ledger (``conftest.fuzz_api``), with both API keys, so that keyed operations are exercised
past 401, and positive cases name existing contributions, accounts, epochs and CIDs half of the
time. Generated cases are both positive (what the document allows) and negative (what it
refuses); each answer must be declared by the document (status, media type, headers, body
schema), never a 5xx, and a refusal of what the document refuses.

The CI run is reproducible (derandomized, no example database) and within about two minutes;
TALLY_FUZZ_EXAMPLES raises the examples per operation for a longer run.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, cast

import hypothesis.strategies as st
import pytest
import schemathesis
from schemathesis import Case, GenerationMode

from api.app import create_app
from api.services import Services
from tests.fuzz.conftest import ADMIN_KEY, CONSUMER_KEY, EXAMPLES, FuzzApi, Seeded

EXAMPLES_PER_OPERATION = EXAMPLES or 45
"""With the explicit and coverage phases, about 1,500 cases over the 21 operations on SQLite."""

CONFIG = schemathesis.Config.from_dict({
    "seed": 20261201,
    "generation": {"max-examples": EXAMPLES_PER_OPERATION, "deterministic": True, "database": "none"},
    "phases": {"examples": {"enabled": True}, "coverage": {"enabled": True}, "fuzzing": {"enabled": True}},
    "checks": {
        "enabled": True,
        # A schema-valid body may still be refused by what no JSON Schema can say (a signature
        # that does not recover to the contributor, an issuedAt outside the window, a terms hash
        # that is not the served terms', a ref reused): as a declared 403, 409 or 422 problem.
        "positive_data_acceptance": {"expected-statuses": ["2xx", "401", "403", "404", "409", "422", "429"]},
    },
    "operations": [{
        # A trustless gateway answers only what is asked for by Accept or ?format=, and the
        # document cannot say "one of the two": without either, the declared 406.
        "include-operation-id": "getIpfsObject",
        "checks": {"positive_data_acceptance": {
            "expected-statuses": ["2xx", "401", "403", "404", "406", "409", "422", "429"]}},
    }],
    "auth": {"openapi": {"adminKey": {"bearer": ADMIN_KEY}, "dataConsumerKey": {"bearer": CONSUMER_KEY}}},
})

# The document depends on the routes only, never on the services behind them (as test_openapi
# reads it); requests go to the fixture's app.
schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(cast(Services, object())), config=CONFIG)

# One worker runs the whole module under pytest-xdist (`make test` distributes by file): the
# last test checks what the fuzzing tests before it counted in this process.
SEEDED = Seeded()
"""What the current fuzz_api seeded (filled in by the test, read while cases are drawn)."""

OPERATIONS = {op.ok().label for op in schema.get_all_operations()}

RAN: Counter[str] = Counter()
"""Cases sent per backend and operation."""


def _seeded_values(name: str) -> list[str]:
    if name == "key":
        return [*map(str, SEEDED.ids), *SEEDED.hashes]
    if name == "address":
        return [*SEEDED.contributors, SEEDED.contributors[0].lower()]
    if name == "number":
        return [str(n) for n in SEEDED.epochs]
    if name == "cid":
        return SEEDED.cids
    return []


@schema.hook
def flatmap_case(context: Any, case: Case) -> st.SearchStrategy[Case]:
    """Positive cases name a seeded row half of the time (random keys almost never do)."""
    names = [n for n in (case.path_parameters or {}) if _seeded_values(n)] if SEEDED.ids else []
    meta = case.meta
    if not names or meta is None or meta.generation.mode is not GenerationMode.POSITIVE:
        return st.just(case)

    def seeded(values: dict[str, str]) -> Case:
        case.path_parameters = {**(case.path_parameters or {}), **values}
        return case

    choice = st.fixed_dictionaries({n: st.sampled_from(_seeded_values(n)) for n in names})
    return st.one_of(st.just(case), choice.map(seeded))


@pytest.fixture(scope="module")
def fuzzed(fuzz_api: FuzzApi) -> FuzzApi:
    SEEDED.__dict__.update(fuzz_api.seeded.__dict__)
    return fuzz_api


@schema.parametrize()
def test_every_answer_is_the_documented_one(case: Case, fuzzed: FuzzApi, request: pytest.FixtureRequest) -> None:
    RAN[f"{request.node.callspec.params.get('fuzz_api', '?')} {case.operation.label}"] += 1
    case.call_and_validate(app=fuzzed.app)


def test_every_operation_was_fuzzed(fuzzed: FuzzApi, request: pytest.FixtureRequest) -> None:
    backend = request.node.callspec.params["fuzz_api"]
    ran = {label.split(" ", 1)[1]: n for label, n in RAN.items() if label.startswith(backend + " ")}
    if set(ran) != OPERATIONS:
        pytest.skip("only some operations were selected")
    print(f"\n{backend}: {sum(ran.values())} cases: {ran}")
    assert sum(ran.values()) >= 1000
