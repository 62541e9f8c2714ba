"""The audit recomputes programs' payouts from the manifests alone (anchoring.audit_programs):
real manifests sealed by ``seal_epoch`` pass; a top-up or retroactive payment that differs from
what the published programs and journal give, one missing, one extra or a forged enrolment
fails, naming the journal entry or the ref."""

from __future__ import annotations

import copy
import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from anchoring.audit import AuditDiscrepancy, Auditor, AuditReport
from ledger import eip712, jcs, journal
from ledger.content import LocalBlockStore, cid_of
from ledger.db import make_engine, make_sessionmaker
from ledger.epochs import seal_epoch
from ledger.export import start_export
from ledger.migrate import upgrade
from ledger.program_rules import parse_definition
from ledger.programs import change_membership, define, enrol_signed, parse_signed_enrolment
from ledger.usage import record_usage
from tests.formats.test_golden import Manifests, _event
from tests.ledger.test_epochs import contribute
from tests.ledger.test_programs import ABOVE, ANCHOR, BELOW, DAY, START, accrue

SIGNER = Account.from_key(b"\x07" * 32)


def sealed_manifests(tmp_path: Path) -> list[dict[str, Any]]:
    """Three epochs: a program with a minimum and retroactive pay, two admin members and one that
    enrolled by signature, earnings, unpaid usage; the week's close in the third."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    upgrade(url)
    sessions, store = make_sessionmaker(make_engine(url)), LocalBlockStore(tmp_path / "blocks", fsync=False)
    contribute(sessions, store, 0, 2, accounts=[ABOVE, SIGNER.address])
    domain = eip712.Domain(ANCHOR.chain_id, ANCHOR.contract)
    with sessions() as session, session.begin():
        ids = [row.id for row in start_export(session, consumer="c", after=0, limit=5, now=START - 9 * DAY).rows]
        record_usage(session, ref="eval", items=[(ids[1], 6)], points_per_unit=0, now=START - DAY, consumer="c")
        define(session, parse_definition({"id": "creators", "period": "week", "minimum": "100",
                                          "start": "2026-12-07", "retroactiveFrom": "2026-12-01", "retroRate": "5"}),
               now=START - DAY)
        for account in (ABOVE, BELOW):
            change_membership(session, "creators", account, "enrol", now=START - DAY)
        digest = domain.enrol_digest(SIGNER.address, "creators", 1, START - DAY)
        signature = eip712.sign(digest, eip712.PrivateKey(SIGNER.key))
        signed = parse_signed_enrolment({"account": SIGNER.address, "nonce": "1", "issuedAt": START - DAY,
                                         "signature": "0x" + signature.hex()}, now=START - DAY, window=600)
        enrol_signed(session, domain, "creators", signed, now=START - DAY)
    manifests = []
    for now, points in ((START + DAY, 120), (START + 3 * DAY, 10), (START + 7 * DAY, 0)):
        if points:
            accrue(sessions, ABOVE if points > 100 else BELOW, points, now - 60)
        with sessions() as session, session.begin():
            epoch = seal_epoch(session, store, ANCHOR, now=now)
            assert epoch is not None
            manifests.append(json.loads(store.get(epoch.manifest_cid)))
    return manifests


@pytest.fixture(scope="module")
def manifests(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    return sealed_manifests(tmp_path_factory.mktemp("programs"))


def audit(documents: list[dict[str, Any]]) -> AuditReport:
    fetcher = Manifests(*documents)
    auditor = Auditor(None, ANCHOR.contract, fetcher)  # type: ignore[arg-type]
    report = AuditReport(ANCHOR.contract, ANCHOR.chain_id)
    previous = None
    for document in documents:
        previous = auditor.epoch(report, _event(document, cid_of(jcs.dumps(document))), previous)
    report.payouts_recomputed = auditor.programs.payouts
    return report


def relinked(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The manifests with each ``previous.manifestCid`` naming the (changed) one before it."""
    for before, after in itertools.pairwise(documents):
        after["previous"]["manifestCid"] = cid_of(jcs.dumps(before))
    return documents


def test_the_audit_recomputes_every_topup_and_retro_payment(manifests: list[dict[str, Any]]) -> None:
    paid = {(line["kind"], line["account"], line["amount"]) for line in manifests[2]["journal"]
            if line["kind"] in ("minimum-topup", "retro-usage") and line["account"] != journal.REWARDS_POOL}
    assert paid == {("minimum-topup", BELOW, "90"), ("minimum-topup", SIGNER.address, "100"),
                    ("retro-usage", SIGNER.address, "30")}
    assert audit(manifests).payouts_recomputed == 3


def _tampered(manifests: list[dict[str, Any]], change: Any, index: int = 2) -> list[dict[str, Any]]:
    documents = copy.deepcopy(manifests)
    change(documents[index])
    return relinked(documents)


def _set_amount(document: dict[str, Any], account: str, kind: str, amount: int) -> None:
    for line in document["journal"]:
        if line["kind"] == kind and account in (line["account"], line["ref"].rsplit("/", 1)[-1]):
            line["amount"] = str(amount if line["account"] == account else -amount)


def test_the_audit_refuses_a_tampered_topup_naming_the_entry(manifests: list[dict[str, Any]]) -> None:
    documents = _tampered(manifests, lambda d: _set_amount(d, BELOW, "minimum-topup", 95))
    entry = next(line["id"] for line in documents[2]["journal"]
                 if line["account"] == BELOW and line["kind"] == "minimum-topup")
    with pytest.raises(AuditDiscrepancy) as caught:
        audit(documents)
    assert caught.value.epoch == 3
    assert caught.value.what == (f"journal entry {entry} (program/creators/2026-12-07/{BELOW}): the published "
                                 f"programs and journal give a minimum-topup of 90 points to {BELOW}; the manifest "
                                 f"says a minimum-topup of 95 to {BELOW}")


@pytest.mark.parametrize(("index", "change", "says"), [
    (2, lambda d: _set_amount(d, SIGNER.address, "retro-usage", 31), "retro-usage of 30 points"),
    (2, lambda d: d.__setitem__("journal", [line for line in d["journal"] if line["kind"] != "retro-usage"]),
     f"program/creators/retro/{SIGNER.address}: the published programs and journal give a retro-usage of 30 points"),
    (2, lambda d: d.__setitem__("sealedAt", START + 6 * DAY), "no published program owes"),
    (0, lambda d: d.__setitem__("usage", []), "no published program owes"),
    (0, lambda d: d["usage"][0].__setitem__("units", 5), "retro-usage of 25 points"),
])
def test_the_audit_refuses_payouts_the_published_programs_do_not_give(
        manifests: list[dict[str, Any]], index: int, change: Any, says: str) -> None:
    with pytest.raises(AuditDiscrepancy) as caught:
        audit(_tampered(manifests, change, index))
    assert says in caught.value.what and caught.value.epoch == 3


def test_the_audit_refuses_a_forged_enrolment(manifests: list[dict[str, Any]]) -> None:
    documents = copy.deepcopy(manifests)
    signed = next(line for line in documents[0]["programs"] if "signature" in line)
    signed["nonce"] = "2"
    with pytest.raises(AuditDiscrepancy, match=r"programs\[3\]: the Enrol signature is not"):
        audit(relinked(documents))
