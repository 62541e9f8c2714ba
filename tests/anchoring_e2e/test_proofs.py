"""Proof bundles served by the API and checked against the chain by `tally verify`."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from anchoring.verify import VerificationError, verify_balance, verify_contribution
from ledger.content import cid_of
from ledger.errors import ExitCode
from ledger.merkle import log as rfc9162
from ledger.models import Contribution
from tests.anchoring_e2e.conftest import Stack, anchor_all, real_conversations, submit_all
from tests.support.server import ROOT


def test_bundles_verify_against_the_chain_and_tampering_is_caught(stack: Stack, served: TestClient,
                                                                  tmp_path: Path) -> None:
    conversations = real_conversations(12)
    first = submit_all(served, conversations[:8])
    assert served.get(f"/v1/contributions/{first[0]['id']}/proof").json()["type"] == "/problems/not-anchored"
    stack.seal()
    anchor_all(stack)
    submit_all(served, conversations[8:], first_key=1)
    stack.seal()
    anchor_all(stack)

    target = first[2]
    bundle = served.get(f"/v1/contributions/{target['id']}/proof").json()
    assert bundle["header"]["epoch"] == 2  # the latest final epoch, later than its own
    checks = verify_contribution(bundle, stack.chain.url, conversations[2])
    assert [c.name for c in checks][-1] == "contract"
    # The bundle's arguments, as given, are what the contract's view takes: the header first.
    args = bundle["verify"]["args"]
    epoch, size, log_root, balances_root, total = args[0]
    header = (epoch, size, bytes.fromhex(log_root[2:]), bytes.fromhex(balances_root[2:]), int(total))
    assert stack.contract.functions.verifyContribution(
        header, args[1], args[2], bytes.fromhex(args[3][2:]), args[4], int(args[5]),
        [bytes.fromhex(p[2:]) for p in args[6]]).call()
    own_epoch = served.get(f"/v1/contributions/{target['id']}/proof?epoch=1").json()
    assert own_epoch["header"]["epoch"] == 1 and verify_contribution(own_epoch, stack.chain.url)

    flipped = json.loads(json.dumps(bundle))
    flipped["proof"][0] = flipped["proof"][0][:-1] + ("0" if flipped["proof"][0][-1] != "0" else "1")
    with pytest.raises(VerificationError) as failure:
        verify_contribution(flipped, stack.chain.url)
    assert failure.value.check == "proof"
    with pytest.raises(VerificationError) as wrong_conversation:
        verify_contribution(bundle, stack.chain.url, conversations[3])
    assert wrong_conversation.value.check == "conversation"

    # The CLI gives the same verdicts, with exit codes.
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps(bundle))
    bad.write_text(json.dumps(flipped))
    cli = [sys.executable, "-m", "tally.cli", "verify", "bundle"]
    ok = subprocess.run([*cli, str(good), "--rpc", stack.chain.url], capture_output=True, text=True, cwd=ROOT)
    assert ok.returncode == 0 and "every check passed" in ok.stdout, ok.stdout + ok.stderr
    ko = subprocess.run([*cli, str(bad), "--rpc", stack.chain.url, "--json"], capture_output=True, text=True,
                        cwd=ROOT)
    assert ko.returncode == ExitCode.VERIFICATION_FAILED and json.loads(ko.stdout)["failed"]["check"] == "proof"

    # A row of an anchored epoch altered in the database: the served proof no longer verifies.
    with stack.sessions() as session, session.begin():
        session.execute(update(Contribution).where(Contribution.id == target["id"])
                        .values(points=Contribution.points + 1000))
    altered = served.get(f"/v1/contributions/{target['id']}/proof").json()
    with pytest.raises(VerificationError) as tampered:
        verify_contribution(altered, stack.chain.url)
    # Its features still give the points it had: caught before the chain is asked.
    assert tampered.value.check == "score" and "the leaf says" in tampered.value.message
    for member in ("scorer", "features"):  # and without them, the proof does not lead to the root
        del altered["leaf"][member]
    with pytest.raises(VerificationError) as tampered:
        verify_contribution(altered, stack.chain.url)
    assert tampered.value.check == "proof"

    balance = served.get(f"/v1/accounts/{target['contributor']}/proof").json()
    assert [c.name for c in verify_balance(balance, stack.chain.url)][-1] == "contract"
    balance["leaf"]["balance"] = str(int(balance["leaf"]["balance"]) + 1)
    with pytest.raises(VerificationError):
        verify_balance(balance, stack.chain.url)


def test_gateway_epochs_consistency_and_metrics(stack: Stack, served: TestClient) -> None:
    submit_all(served, real_conversations(6))
    stack.seal()
    anchor_all(stack)
    submit_all(served, real_conversations(4, skip=6), first_key=1)
    stack.seal()
    anchor_all(stack)
    epochs = served.get("/v1/epochs").json()["items"]
    assert [e["epoch"] for e in epochs] == [2, 1] and all(e["state"] == "final" for e in epochs)
    cid = epochs[0]["manifestCid"]
    raw = served.get(f"/ipfs/{cid}", headers={"Accept": "application/vnd.ipld.raw"})
    assert raw.status_code == 200 and cid_of(raw.content) == cid
    assert raw.content == served.get("/v1/epochs/2/manifest").content
    car = served.get(f"/ipfs/{cid}?format=car")
    assert car.status_code == 200 and car.headers["content-type"].startswith("application/vnd.ipld.car")
    assert served.get(f"/ipfs/{cid}").status_code == 406
    proof = served.get(f"/v1/log/consistency?first={epochs[1]['logSize']}").json()
    rfc9162.verify_consistency(proof["first"], proof["second"], bytes.fromhex(proof["firstRoot"][2:]),
                               bytes.fromhex(proof["secondRoot"][2:]), [bytes.fromhex(p[2:]) for p in proof["proof"]])
    assert proof["secondRoot"] == epochs[0]["logRoot"]
    metrics = served.get("/metrics").text
    assert "tally_last_final_epoch 2.0" in metrics and "tally_pending_contributions 0.0" in metrics


def test_verify_account_fetches_from_the_api_and_checks_against_the_chain(stack: Stack, served, gateway: str) -> None:  # type: ignore[no-untyped-def]
    accepted = submit_all(served, real_conversations(4))
    stack.seal()
    anchor_all(stack)
    account = accepted[0]["contributor"]
    cli = [sys.executable, "-m", "tally.cli", "verify", "account", account, "--api", gateway, "--rpc", stack.chain.url]
    ok = subprocess.run(cli, capture_output=True, text=True, cwd=ROOT)
    assert ok.returncode == 0 and "every check passed" in ok.stdout, ok.stdout + ok.stderr
    nobody = subprocess.run([*cli[:5], "0x" + "ab" * 20, *cli[6:]], capture_output=True, text=True, cwd=ROOT)
    assert nobody.returncode == ExitCode.BAD_INPUT and nobody.stderr.startswith("tally: error: 404 Not found")


def test_a_contribution_reads_pending_then_sealed_then_anchored(stack: Stack, served) -> None:  # type: ignore[no-untyped-def]
    (accepted,) = submit_all(served, real_conversations(1))
    read = lambda: served.get(f"/v1/contributions/{accepted['id']}").json()  # noqa: E731
    assert (read()["status"], read()["epochState"]) == ("pending", None)
    stack.seal()
    assert (read()["status"], read()["epochState"]) == ("sealed", "sealed")
    anchor_all(stack)
    assert (read()["status"], read()["epochState"]) == ("anchored", "final")
    listed = served.get(f"/v1/accounts/{accepted['contributor']}/contributions").json()["items"]
    assert [(c["id"], c["status"]) for c in listed] == [(accepted["id"], "anchored")]


def test_a_batch_consented_contribution_s_bundle_verifies_its_consent_against_the_chain(
        stack: Stack, served: TestClient, tmp_path: Path) -> None:
    """One ContributionBatch signature for five conversations: each one's bundle carries the
    batch consent, and `tally verify bundle` checks it (proof to contentsRoot, the contributor's
    signature) besides the inclusion proof against the chain."""
    from ledger.conversation import normalise
    from tally.client import sign_batch
    from tests.api.conftest import contributor_key

    conversations = [normalise(c).to_canonical() for c in real_conversations(5, skip=40)]
    body = sign_batch(served.get("/v1/config").json(), conversations, contributor_key(4), nonce=99,
                      issued_at=int(time.time()))
    answer = served.post("/v1/contributions:batch", json=body).json()
    assert answer["accepted"] == 5, answer
    stack.seal()
    anchor_all(stack)
    target = answer["results"][3]["contribution"]
    bundle = served.get(f"/v1/contributions/{target['id']}/proof").json()
    assert bundle["consent"]["message"]["count"] == 5 and bundle["consent"]["signature"] == body["signature"]
    checks = verify_contribution(bundle, stack.chain.url, conversations[3])
    assert [c.name for c in checks][:5] == ["format", "leaf", "consent", "conversation", "score"]
    assert [c.name for c in checks][-2:] == ["proof", "contract"]

    other = sign_batch(served.get("/v1/config").json(), conversations, contributor_key(5), nonce=99,
                       issued_at=body["issuedAt"])
    forged = {**bundle, "consent": {**bundle["consent"], "signature": other["signature"]}}
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps(bundle))
    bad.write_text(json.dumps(forged))
    cli = [sys.executable, "-m", "tally.cli", "verify", "bundle"]
    ok = subprocess.run([*cli, str(good), "--rpc", stack.chain.url], capture_output=True, text=True, cwd=ROOT)
    assert ok.returncode == 0 and "every check passed" in ok.stdout and "ContributionBatch" in ok.stdout, \
        ok.stdout + ok.stderr
    ko = subprocess.run([*cli, str(bad), "--rpc", stack.chain.url, "--json"], capture_output=True, text=True,
                        cwd=ROOT)
    assert ko.returncode == ExitCode.VERIFICATION_FAILED, ko.stdout + ko.stderr
    failed = json.loads(ko.stdout)["failed"]
    assert failed["check"] == "consent" and "batch-signer-mismatch" in failed["message"]
