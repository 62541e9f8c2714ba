"""`tally audit` on a real anvil chain holds the feed's credits to their rules: likes and a remix
made over HTTP, sealed and anchored, pass; a sealer that publishes a credit to someone other than
the creator gets it anchored, and the audit names the rule, the epoch and the entry."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from eth_keys import keys
from fastapi.testclient import TestClient
from sqlalchemy import select

from anchoring.audit import audit
from api.app import ChainInfo, Services, create_app
from api.services import EngagementPolicy
from ledger import jcs, journal
from ledger.consent import ConsentPolicy, OperatorSigner, Terms
from ledger.eip712 import Domain
from ledger.epochs import seal_epoch
from ledger.intake import Intake, Limits
from ledger.models import Epoch, StoredObject
from tally.client import sign_submission
from tally.wiring import default_terms
from tests.anchoring_e2e.conftest import Stack, anchor_all
from tests.api.conftest import OPERATOR_KEY, contributor_key, sample_conversation
from tests.api.test_feed import sign_typed
from tests.support.server import ROOT, serving_app

POLICY = EngagementPolicy(2, 9, 100)


def feed_client(stack: Stack) -> TestClient:
    """The API on ``stack`` with the feed's points of ``POLICY``."""
    domain = Domain(31337, stack.contract.address)
    intake = Intake(sessions=stack.sessions, store=stack.store,
                    consent=ConsentPolicy(domain, Terms(default_terms()), 600),
                    signer=OperatorSigner(domain, OPERATOR_KEY), limits=Limits(4 << 20, 100, 600))
    return TestClient(create_app(Services.of(intake, ChainInfo(31337, stack.contract.address, stack.chain.url, None),
                                             engagement=POLICY)))


def submit(client: TestClient, config: dict[str, Any], tag: str, n: int, nonce: int) -> dict[str, Any]:
    body = sign_submission(config, sample_conversation(tag), contributor_key(n), nonce=nonce,
                           issued_at=int(time.time()))
    answer = client.post("/v1/contributions", json=body)
    assert answer.status_code == 201, answer.json()
    return dict(answer.json())


def engage(client: TestClient, config: dict[str, Any], row: dict[str, Any], key: keys.PrivateKey, kind: int = 1,
           **extra: Any) -> None:
    actor, now = key.public_key.to_checksum_address(), int(time.time())
    message = {"actor": actor, "contentHash": row["contentHash"], "kind": kind, "nonce": kind, "issuedAt": now}
    answer = client.post(f"/v1/contributions/{row['id']}:engage", json={
        "actor": actor, "kind": kind, "nonce": str(kind), "issuedAt": now,
        "signature": sign_typed(config, "engage", message, key), **extra})
    assert answer.status_code == 201, answer.json()


def likes_and_a_remix(stack: Stack, client: TestClient,
                      before_anchoring: Callable[[Stack], None] = lambda _stack: None) -> None:
    """Epoch 1: a contribution of key 0, published. Epoch 2: keys 1 and 2 like it, key 1 remixes
    it into its own new contribution."""
    config = client.get("/v1/config").json()
    parent = submit(client, config, "parent", 0, 1)
    now = int(time.time())
    message = {"contributor": parent["contributor"], "contentHash": parent["contentHash"], "visible": True,
               "nonce": 1, "issuedAt": now}
    assert client.post(f"/v1/contributions/{parent['id']}:publish", json={
        "visible": True, "nonce": "1", "issuedAt": now,
        "signature": sign_typed(config, "publish", message, contributor_key(0))}).status_code == 200
    seal(stack)
    anchor_all(stack)
    remix = submit(client, config, "remix", 1, 2)
    engage(client, config, parent, contributor_key(1))
    engage(client, config, parent, contributor_key(2))
    engage(client, config, parent, contributor_key(1), kind=2, remix=remix["contentHash"])
    seal(stack)
    before_anchoring(stack)
    anchor_all(stack)


def seal(stack: Stack) -> None:
    with stack.sessions() as session, session.begin():
        assert seal_epoch(session, stack.store, stack.anchor, engagement=POLICY) is not None


def test_likes_and_a_remix_anchored_on_anvil_pass_the_audit(stack: Stack) -> None:
    client = feed_client(stack)
    likes_and_a_remix(stack, client)
    with serving_app(client.app) as url:
        report = audit(stack.chain.url, url, stack.contract.address)
        assert report.ok, report.discrepancy
        assert (report.epochs, report.leaves, report.engagements_checked) == (2, 2, 3)
        cli, text = (subprocess.run([sys.executable, "-m", "tally.cli", "audit", "--rpc", stack.chain.url, "--ipfs",
                                     url, "--contract", stack.contract.address, *flags],
                                    capture_output=True, text=True, cwd=ROOT) for flags in (["--json"], []))
        partial = audit(stack.chain.url, url, stack.contract.address, from_epoch=2)
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout)["engagementsChecked"] == 3
    assert "feed: 3 engagement credits held to the feed's rules" in text.stdout and text.returncode == 0
    assert partial.ok and partial.engagements_checked == 3, partial.discrepancy


def credit_the_wrong_account(stack: Stack, tampered: list[int]) -> None:
    """A dishonest sealer: the second epoch's manifest, before it is anchored, credits key 2's
    like to key 1, which did not create the contribution; ``tampered`` gets the entry's id."""
    with stack.sessions() as session, session.begin():
        epoch = session.scalar(select(Epoch).where(Epoch.number == 2))
        assert epoch is not None
        manifest = json.loads(stack.store.get(epoch.manifest_cid))
        liker = contributor_key(2).public_key.to_checksum_address()
        credit = next(line for line in manifest["journal"]
                      if line["kind"] == journal.ENGAGEMENT and line["ref"].endswith(liker) and line["amount"] == "2")
        credit["account"] = contributor_key(1).public_key.to_checksum_address()
        data = jcs.dumps(manifest)
        epoch.manifest_cid = stack.store.put(data)
        session.add(StoredObject(cid=epoch.manifest_cid, kind="manifest", size=len(data), data=data,
                                 created_at=int(time.time()), durable_at=None, pin_attempts=0,
                                 next_pin_at=int(time.time())))
        tampered.append(credit["id"])


def test_a_credit_to_another_than_the_creator_anchored_on_anvil_fails_the_audit_naming_it(stack: Stack) -> None:
    client = feed_client(stack)
    tampered: list[int] = []
    likes_and_a_remix(stack, client, lambda s: credit_the_wrong_account(s, tampered))
    with serving_app(client.app) as url:
        report = audit(stack.chain.url, url, stack.contract.address)
        cli, text = (subprocess.run([sys.executable, "-m", "tally.cli", "audit", "--rpc", stack.chain.url, "--ipfs",
                                     url, "--contract", stack.contract.address, *flags],
                                    capture_output=True, text=True, cwd=ROOT) for flags in (["--json"], []))
    entry = f"journal entry {tampered[0]}"
    assert report.failure is not None and report.discrepancy_epoch == 2
    assert report.failure.code == "engagement-discrepancy", report.discrepancy
    assert cli.returncode == 1
    discrepancy = json.loads(cli.stdout)["discrepancy"]
    assert (discrepancy["code"], discrepancy["rule"], discrepancy["epoch"], discrepancy["entry"]) == (
        "engagement-discrepancy", "creator", 2, entry)
    assert discrepancy["what"].startswith(f"{entry}: credits {contributor_key(1).public_key.to_checksum_address()}")
    assert text.returncode == 1 and f"DISCREPANCY in epoch 2 (engagement rule creator): {entry}: " in text.stdout
