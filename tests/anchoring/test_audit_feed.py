"""The audit holds every engagement credit to the feed's rules from the manifests alone
(anchoring.audit_feed, docs/formats.md §11): two real epochs sealed from likes and a remix signed
with eth-account over HTTP (SQLite and PostgreSQL) pass; each rule broken in a copy of the
manifest fails, naming the rule, the epoch and the entry."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import pytest

from anchoring.audit import Auditor, AuditReport
from anchoring.audit_failures import ENGAGEMENT_RULES, EngagementDiscrepancy
from api.services import EngagementPolicy
from ledger import jcs, journal
from ledger.content import LocalBlockStore, cid_of
from ledger.epochs import Anchor, seal_epoch
from ledger.formats import Manifest
from tests.api.conftest import Api, build_api, contributor_key
from tests.api.test_feed import engage_body, publish_body, submit
from tests.conftest import _require_postgres
from tests.formats.test_golden import Manifests, _event
from tests.support import postgres

POLICY = EngagementPolicy(3, 7, 100)


def address(n: int) -> str:
    return str(contributor_key(n).public_key.to_checksum_address())


@dataclass
class Sealed:
    manifests: list[dict[str, Any]]
    hashes: dict[str, str]
    """contentHash of each contribution: parent (key 0), other (key 1), third (key 2), remix (key 1)."""


def sealed(api: Api) -> Sealed:
    """Epoch 1: three contributions, two published. Epoch 2: key 1 and key 2 like the parent,
    key 0 likes the third, key 1 remixes the parent into its new contribution."""
    client = api.client_with(engagement=POLICY)
    parent, other, third = submit(api, "parent", 0), submit(api, "other", 1), submit(api, "third", 2)
    for row, n in ((parent, 0), (third, 2)):
        assert client.post(f"/v1/contributions/{row['id']}:publish",
                           json=publish_body(api, row, contributor_key(n))).status_code == 200
    store, anchor = LocalBlockStore(api.blocks, fsync=False), Anchor(31337, api.services.chain.contract)
    manifests = []

    def seal() -> None:
        with api.intake.sessions() as session, session.begin():
            epoch = seal_epoch(session, store, anchor, engagement=POLICY)
            assert epoch is not None
            manifests.append(json.loads(store.get(epoch.manifest_cid)))

    seal()
    remix = submit(api, "remix of parent", 1, nonce=2)
    for row, n, extra in ((parent, 1, {}), (parent, 2, {}), (third, 0, {}),
                          (parent, 1, {"kind": 2, "nonce": 2, "remix": remix["contentHash"]})):
        answer = client.post(f"/v1/contributions/{row['id']}:engage",
                             json=engage_body(api, row, contributor_key(n), **extra))
        assert answer.status_code == 201, answer.json()
    seal()
    return Sealed(manifests, {"parent": parent["contentHash"], "other": other["contentHash"],
                              "third": third["contentHash"], "remix": remix["contentHash"]})


def audit(documents: list[dict[str, Any]]) -> tuple[Auditor, AuditReport]:
    auditor = Auditor(None, documents[0]["contract"], Manifests(*documents))  # type: ignore[arg-type]
    report = AuditReport(documents[0]["contract"], 31337)
    previous = None
    for document in documents:
        previous = auditor.epoch(report, _event(document, cid_of(jcs.dumps(document))), previous)
    return auditor, report


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def chain(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sealed]:
    """The two epochs, sealed once per database for every test of the module."""
    tmp_path = tmp_path_factory.mktemp(request.param)
    if request.param == "sqlite":
        api = build_api(f"sqlite:///{tmp_path / 'tally.db'}", tmp_path)
        with api.client:
            yield sealed(api)
        return
    _require_postgres()
    with postgres.temporary_database() as url:
        api = build_api(url, tmp_path)
        with api.client:
            yield sealed(api)


def test_an_honest_chain_of_likes_and_a_remix_passes_and_publishes_what_it_is_checked_against(chain: Sealed) -> None:
    first, second = chain.manifests
    assert first["v"] == second["v"] == 5
    feed = second["feed"]
    assert (feed["pointsPerLike"], feed["pointsPerRemix"]) == ("3", "7")
    assert [(e["kind"], e["actor"], e["remix"]) for e in feed["engagements"]] == [
        ("like", address(1), None), ("like", address(2), None), ("like", address(0), None),
        ("remix", address(1), chain.hashes["remix"])]
    named = {leaf["contentHash"]: leaf["contributor"] for leaf in feed["contributions"]}
    assert named == {chain.hashes["parent"]: address(0), chain.hashes["third"]: address(2),
                     chain.hashes["remix"]: address(1)}
    assert first["feed"] == {"pointsPerLike": "3", "pointsPerRemix": "7", "engagements": [], "contributions": []}
    auditor, report = audit(chain.manifests)
    assert report.engagements_checked == 4
    assert Manifest.from_json(second).to_json() == second  # reads back to the same bytes, so the same CID
    # The same credits again in a later epoch are credited twice.
    with pytest.raises(EngagementDiscrepancy) as caught:
        auditor.feed.epoch(3, Manifest.from_json(second))
    assert (caught.value.rule, caught.value.epoch) == ("once", 3)


Tamper = Callable[[dict[str, Any], Sealed], str]
"""Breaks one rule in the second manifest; the entry the audit must name."""


def legs(manifest: dict[str, Any], kind: str, content_hash: str, actor: str) -> tuple[dict[str, Any], dict[str, Any]]:
    ref = f"{kind}:{content_hash}:{actor}"
    debit, credit = (line for line in manifest["journal"] if line["ref"] == ref)
    return debit, credit


def like_of_parent(manifest: dict[str, Any], sealed: Sealed) -> tuple[dict[str, Any], dict[str, Any]]:
    return legs(manifest, "like", sealed.hashes["parent"], address(1))


def remix_line(manifest: dict[str, Any]) -> dict[str, Any]:
    return next(e for e in manifest["feed"]["engagements"] if e["kind"] == "remix")


def credit_to_another(m: dict[str, Any], s: Sealed) -> str:
    credit = like_of_parent(m, s)[1]
    credit["account"] = address(2)
    return f"journal entry {credit['id']}"


def other_amount(m: dict[str, Any], s: Sealed) -> str:
    debit, credit = like_of_parent(m, s)
    debit["amount"], credit["amount"] = "-4", "4"
    return f"journal entry {credit['id']}"


def other_points(m: dict[str, Any], s: Sealed) -> str:
    m["feed"]["pointsPerLike"] = "2"
    return f"journal entry {like_of_parent(m, s)[1]['id']}"


def credited_twice(m: dict[str, Any], s: Sealed) -> str:
    top = max(line["id"] for line in m["journal"])
    copies = [dict(line, id=top + i) for i, line in enumerate(like_of_parent(m, s), start=1)]
    m["journal"].extend(copies)
    return f"journal entry {top + 2}"


def self_engagement(m: dict[str, Any], s: Sealed) -> str:
    debit, credit = like_of_parent(m, s)
    debit["ref"] = credit["ref"] = f"like:{s.hashes['parent']}:{address(0)}"
    return f"journal entry {credit['id']}"


def remix_of_itself(m: dict[str, Any], s: Sealed) -> str:
    remix_line(m)["remix"] = s.hashes["parent"]
    return f"feed.engagements[{m['feed']['engagements'].index(remix_line(m))}]"


def remix_not_own(m: dict[str, Any], s: Sealed) -> str:
    line = remix_line(m)
    line["remix"] = s.hashes["third"]  # key 2's, proven in feed.contributions; the remixer is key 1
    return f"feed.engagements[{m['feed']['engagements'].index(line)}]"


def bad_proof(m: dict[str, Any], s: Sealed) -> str:
    m["feed"]["contributions"][0]["proof"][0] = "0x" + "11" * 32
    return "feed.contributions[0]"


def leaf_left_out(m: dict[str, Any], s: Sealed) -> str:
    m["feed"]["contributions"] = [c for c in m["feed"]["contributions"] if c["contentHash"] != s.hashes["parent"]]
    return f"journal entry {like_of_parent(m, s)[1]['id']}"


def engagement_left_out(m: dict[str, Any], s: Sealed) -> str:
    m["feed"]["engagements"] = [e for e in m["feed"]["engagements"] if e["actor"] != address(2)]
    return f"journal entry {legs(m, 'like', s.hashes['parent'], address(2))[1]['id']}"


def credit_left_out(m: dict[str, Any], s: Sealed) -> str:
    dropped = like_of_parent(m, s)
    m["journal"] = [line for line in m["journal"] if line not in dropped]
    return "feed.engagements[0]"


def other_nonce(m: dict[str, Any], s: Sealed) -> str:
    m["feed"]["engagements"][1]["nonce"] = "99"
    return "feed.engagements[1]"


def malformed_ref(m: dict[str, Any], s: Sealed) -> str:
    debit, credit = like_of_parent(m, s)
    debit["ref"] = credit["ref"] = "like:0x12:" + address(1)
    return f"journal entry {debit['id']}"


def other_payer(m: dict[str, Any], s: Sealed) -> str:
    debit = like_of_parent(m, s)[0]
    debit["account"] = address(2)
    return f"journal entry {debit['id']}"


CASES: list[tuple[str, Tamper]] = [
    ("creator", credit_to_another), ("amount", other_amount), ("amount", other_points), ("once", credited_twice),
    ("self", self_engagement), ("remix", remix_of_itself), ("remix", remix_not_own), ("unproven", bad_proof),
    ("unproven", leaf_left_out), ("unlisted", engagement_left_out), ("uncredited", credit_left_out),
    ("signature", other_nonce), ("ref", malformed_ref), ("payer", other_payer),
]


@pytest.mark.parametrize(("rule", "tamper"), CASES, ids=[tamper.__name__ for _, tamper in CASES])
def test_a_manifest_breaking_a_rule_fails_naming_it(chain: Sealed, rule: str, tamper: Tamper) -> None:
    documents = copy.deepcopy(chain.manifests)
    entry = tamper(documents[1], chain)
    with pytest.raises(EngagementDiscrepancy) as caught:
        audit(documents)
    failure = caught.value
    assert (failure.rule, failure.epoch, failure.entry) == (rule, 2, entry), failure.what
    assert failure.code == "engagement-discrepancy" and rule in ENGAGEMENT_RULES
    assert failure.detail.startswith(f"epoch 2: {entry}: ")


def test_every_rule_is_tested() -> None:
    assert {rule for rule, _ in CASES} == set(ENGAGEMENT_RULES)


def test_a_version_4_manifest_is_held_to_what_its_refs_show(chain: Sealed) -> None:
    """Before ``feed`` was published, a credit is checked by its ref alone (form, payer, self, once)."""
    older = Manifest.from_json(chain.manifests[1])
    auditor, _ = audit(chain.manifests[:1])
    auditor.feed.epoch(2, replace(older, v=4, feed=None))
    assert auditor.feed.checked == 0 and len(auditor.feed.credited) == 4
    likes = tuple(line for line in older.journal if line.kind == journal.ENGAGEMENT)
    twice = replace(older, v=4, feed=None, journal=older.journal + likes[:2])
    with pytest.raises(EngagementDiscrepancy) as caught:
        type(auditor.feed)().epoch(2, twice)
    assert caught.value.rule == "once"
