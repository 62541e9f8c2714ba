"""`/openapi.json` tells the truth: a valid OpenAPI 3.1 document whose declared answers are the ones
the API really gives (operation ids, problem+json errors, API keys, bodies)."""

from __future__ import annotations

import re
from typing import Any, cast

import pytest
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from openapi_spec_validator.validation.validators import OpenAPIV31SpecValidator

from api.app import Services, create_app
from tests.api.conftest import Api, contributor_key, sample_conversation

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
PROBLEM_MEDIA = "application/problem+json"
PROBLEM_REF = "#/components/schemas/Problem"

OPERATION_IDS = {
    "submitContribution", "submitContributionBatch", "getContribution", "eraseContribution",
    "getContributionProof", "getAccount", "listAccountContributions", "getAccountProof",
    "grantPoints", "clawBackPoints", "reportUsage", "listEpochs", "getEpoch", "getEpochManifest", "getEpochBalances",
    "getConsistencyProof", "getIpfsObject", "getConfig", "getTerms", "getMetrics", "getHealth",
    "getReadiness", "getAccrualReport", "exportContributions", "listExports",
    "defineProgram", "listPrograms", "getProgram", "changeProgramMembership",
    "publishContribution", "engageContribution", "getFeed", "getFeedItem", "getFeedImage",
}

KEYED = {"eraseContribution": "adminKey", "grantPoints": "adminKey", "clawBackPoints": "adminKey",
         "reportUsage": "dataConsumerKey", "getAccrualReport": "adminKey",
         "exportContributions": "dataConsumerKey", "listExports": "adminKey", "defineProgram": "adminKey"}
OPTIONALLY_KEYED = {"changeProgramMembership": "adminKey"}
"""Operations that take a key or none: an admin's membership change, or the account's own signed one."""

# A readiness probe answers 503 with its own JSON (which check failed), not with a problem.
NOT_PROBLEMS = {("getReadiness", "503")}

ADDRESS = "0x2B5AD5c4795c026514f8317c7a215E218DcCD6cF"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    # The document depends on the routes only, never on the services behind them.
    client = TestClient(create_app(cast(Services, object())))
    response = client.get("/openapi.json")
    assert response.status_code == 200
    return cast(dict[str, Any], response.json())


def operations(document: dict[str, Any]) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """operationId -> (method, path template, operation)."""
    found: dict[str, tuple[str, str, dict[str, Any]]] = {}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                assert operation["operationId"] not in found, f"{operation['operationId']} is used twice"
                found[operation["operationId"]] = (method, path, operation)
    return found


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1")
    validate(document, cls=OpenAPIV31SpecValidator)


def test_every_operation_has_its_own_camel_case_id(document: dict[str, Any]) -> None:
    ids = set(operations(document))
    assert ids == OPERATION_IDS
    assert all(re.fullmatch(r"[a-z]+(?:[A-Z][a-z]*)*", i) for i in ids)


def test_every_error_declared_is_a_problem(document: dict[str, Any]) -> None:
    assert PROBLEM_REF.rsplit("/", 1)[1] in document["components"]["schemas"]
    problem = document["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "instance"} <= set(problem["properties"])
    assert problem["additionalProperties"] is True
    for operation_id, (_, _, operation) in operations(document).items():
        for status, response in operation["responses"].items():
            if int(status) < 400 or (operation_id, status) in NOT_PROBLEMS:
                continue
            assert response["content"] == {PROBLEM_MEDIA: {"schema": {"$ref": PROBLEM_REF}}}, (operation_id, status)


def test_operations_with_parameters_or_bodies_declare_422(document: dict[str, Any]) -> None:
    for operation_id, (_, _, operation) in operations(document).items():
        if operation.get("parameters") or operation.get("requestBody"):
            assert "422" in operation["responses"], operation_id


def test_fastapi_validation_errors_are_not_in_the_document(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    assert "HTTPValidationError" not in str(document)


def test_keyed_operations_declare_their_scheme_and_no_other_does(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes["adminKey"]["type"] == schemes["dataConsumerKey"]["type"] == "http"
    assert schemes["adminKey"]["scheme"] == schemes["dataConsumerKey"]["scheme"] == "bearer"
    for operation_id, (_, _, operation) in operations(document).items():
        if operation_id in KEYED:
            assert operation["security"] == [{KEYED[operation_id]: []}]
            assert "401" in operation["responses"]
        elif operation_id in OPTIONALLY_KEYED:
            assert operation["security"] == [{OPTIONALLY_KEYED[operation_id]: []}, {}]
            assert "401" in operation["responses"]
        else:
            assert "security" not in operation, operation_id


def test_every_request_body_has_an_example_its_schema_accepts(document: dict[str, Any]) -> None:
    bodies = {i: op["requestBody"] for i, (_, _, op) in operations(document).items() if "requestBody" in op}
    assert set(bodies) == {"submitContribution", "submitContributionBatch", "grantPoints", "clawBackPoints",
                           "reportUsage", "defineProgram", "changeProgramMembership", "publishContribution",
                           "engageContribution"}
    for operation_id, body in bodies.items():
        media = body["content"]["application/json"]
        assert "example" in media, operation_id
        Draft202012Validator({**media["schema"], "components": document["components"]}).validate(media["example"])
    for item in bodies["submitContributionBatch"]["content"]["application/json"]["example"]["items"]:
        conforms(document, "SubmissionBody", item)  # the batch's items are refused one by one, not by schema
    # The signed-batch form (one ContributionBatch signature) has its example in its own schema.
    batch_schema = bodies["submitContributionBatch"]["content"]["application/json"]["schema"]
    signed = next(form for form in batch_schema["oneOf"] if "conversations" in form["properties"])
    for example in signed["examples"]:
        Draft202012Validator({**batch_schema, "components": document["components"]}).validate(example)


def test_every_json_success_has_a_schema(document: dict[str, Any]) -> None:
    for operation_id, (_, _, operation) in operations(document).items():
        for status, response in operation["responses"].items():
            if status.startswith("2") and "application/json" in response.get("content", {}):
                assert response["content"]["application/json"]["schema"], (operation_id, status)


def test_the_gateway_answers_bytes_not_json(document: dict[str, Any]) -> None:
    _, _, operation = operations(document)["getIpfsObject"]
    content = operation["responses"]["200"]["content"]
    assert set(content) == {"application/vnd.ipld.raw", "application/vnd.ipld.car"}
    assert all(media["schema"] == {"type": "string", "format": "binary"} for media in content.values())


def conforms(document: dict[str, Any], schema_name: str, body: Any) -> None:
    """``body`` validates against a component schema of the document."""
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": document["components"]}
    Draft202012Validator(schema).validate(body)


def keys_documented(document: dict[str, Any], schema_name: str, body: dict[str, Any]) -> None:
    assert set(body) == set(document["components"]["schemas"][schema_name]["properties"])


ERRORS = [
    ("submitContribution", "post", "/v1/contributions",
     {"content": b"{", "headers": {"content-type": "application/json"}}, 400),
    ("submitContribution", "post", "/v1/contributions",
     {"content": b"hello", "headers": {"content-type": "text/plain"}}, 415),
    ("getContribution", "get", "/v1/contributions/999999", {}, 404),
    ("grantPoints", "post", f"/v1/accounts/{ADDRESS}/grants", {"json": {"points": "1", "ref": "r"}}, 401),
    ("reportUsage", "post", "/v1/usage", {"json": {"ref": "r", "items": [{"contribution": 1}]}}, 401),
    ("getAccrualReport", "get", "/v1/admin/accruals", {}, 401),
    ("getAccount", "get", "/v1/accounts/0xnot-an-address", {}, 422),
    ("listEpochs", "get", "/v1/epochs?limit=0", {}, 422),
    ("getIpfsObject", "get", "/ipfs/bafkqaaa", {"headers": {"accept": "application/json"}}, 406),
    ("getFeed", "get", "/v1/feed?cursor=not-a-cursor", {}, 422),
    ("getFeedItem", "get", "/v1/feed/999999", {}, 404),
    ("getFeedImage", "get", "/v1/feed/999999/images/bafkreiaaaa", {}, 404),
    ("publishContribution", "post", "/v1/contributions/999999:publish",
     {"json": {"visible": True, "nonce": "1", "issuedAt": 1, "signature": "0x" + "11" * 65}}, 404),
    ("engageContribution", "post", "/v1/contributions/7:engage", {"content": b"[", "headers": {
        "content-type": "application/json"}}, 400),
]


@pytest.mark.parametrize(("operation_id", "method", "url", "request_args", "status"), ERRORS,
                         ids=[f"{e[0]}-{e[4]}" for e in ERRORS])
def test_real_errors_are_among_the_declared_answers(api: Api, document: dict[str, Any], operation_id: str,
                                                    method: str, url: str, request_args: dict[str, Any],
                                                    status: int) -> None:
    response = api.client.request(method.upper(), url, **request_args)
    assert response.status_code == status
    declared = operations(document)[operation_id][2]["responses"]
    assert str(status) in declared
    media = response.headers["content-type"].split(";")[0]
    assert media in declared[str(status)]["content"]
    conforms(document, "Problem", response.json())


def test_a_real_submission_and_config_agree_with_their_schemas(api: Api, document: dict[str, Any]) -> None:
    config = api.client.get("/v1/config").json()
    conforms(document, "Config", config)
    keys_documented(document, "Config", config)

    response = api.client.post("/v1/contributions", json=api.signed(sample_conversation("openapi"),
                                                                    contributor_key(7)))
    assert response.status_code == 201
    assert "201" in operations(document)["submitContribution"][2]["responses"]
    contribution = response.json()
    conforms(document, "ContributionView", contribution)
    keys_documented(document, "ContributionView", contribution)
    keys_documented(document, "Score", contribution["score"])

    again = api.client.get(response.headers["location"]).json()
    conforms(document, "ContributionView", again)
    account = api.client.get(f"/v1/accounts/{contribution['contributor']}").json()
    conforms(document, "Account", account)
    keys_documented(document, "Account", account)


def test_path_strings_declare_the_form_the_core_accepts(document: dict[str, Any]) -> None:
    forms = {"address": re.compile(r"^0x[0-9a-fA-F]{40}$"),
             "key": re.compile(r"^([1-9][0-9]{0,18}|0x[0-9a-fA-F]{64})$")}
    seen: set[str] = set()
    for path, item in document["paths"].items():
        for operation in item.values():
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "path" and parameter["name"] in forms:
                    assert parameter["schema"]["pattern"] == forms[parameter["name"]].pattern, path
                    seen.add(parameter["name"])
    assert seen == set(forms)
    assert forms["address"].match("0x" + "ab" * 20) and not forms["key"].match("³")


def test_a_wrong_method_is_a_405_problem_that_says_which_methods_are_allowed(api: Api) -> None:
    answer = api.client.put("/v1/contributions/1")
    assert answer.status_code == 405 and answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["allow"] == "GET" and answer.json()["type"] == "/problems/method-not-allowed"
