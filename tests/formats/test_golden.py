"""The public formats (``ledger.formats``) against golden files written by the sealer and the
bundle builder (``golden/generate.py``, run before the types existed).

Each golden file reads and writes back unchanged (the manifests to the same JCS bytes, so to
the same CIDs, which the files name for each other); sealing the same ledger again writes the
same files; the audit accepts the golden epochs; and every adversarial case, one field of a golden
file broken, is refused with an error naming exactly that field.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from anchoring.audit import AuditDiscrepancy, Auditor, AuditReport
from anchoring.contract import EpochAnchored
from anchoring.verify import VerificationError, load_bundle, verify_balance, verify_contribution
from ledger import jcs
from ledger.content import ContentError, cid_of
from ledger.errors import ErrorCategory, ExitCode
from ledger.formats import (
    BalanceBundle,
    BalancesSnapshot,
    ContributionBundle,
    InvalidBundleError,
    InvalidManifestError,
    InvalidSnapshotError,
    Manifest,
    parse_bundle,
)
from ledger.scoring import points_from_features, rules_hash
from tests.formats.golden.generate import ANCHOR, GOLDEN_FILES, build, conversation

GOLDEN = Path(__file__).resolve().parent / "golden"
FIRST, SECOND, SNAPSHOT = "manifest-first.json", "manifest-with-previous.json", "balances-snapshot.json"
CONTRIBUTION, BALANCE = "contribution-bundle.json", "balance-bundle.json"
NOWHERE = "http://127.0.0.1:9"  # never reached: every case below fails before the chain check


def golden(name: str) -> Any:
    return json.loads((GOLDEN / name).read_text())


def test_version_1_documents_still_read_and_write_back_to_the_same_bytes_and_cids() -> None:
    """Manifests and bundles of before leaves carried their scoring (golden/version-1/) stay readable."""
    first, second = (golden(f"version-1/{name}") for name in (FIRST, SECOND))
    for document in (first, second):
        manifest = Manifest.from_json(document)
        assert manifest.v == 1 and all(leaf.features is None for leaf in manifest.log.leaves)
        assert manifest.scorer.rules_hash is None and jcs.dumps(manifest.to_json()) == jcs.dumps(document)
    assert cid_of(jcs.dumps(first)) == second["previous"]["manifestCid"]
    old_bundle = golden(f"version-1/{CONTRIBUTION}")
    assert ContributionBundle.from_json(old_bundle).to_json() == old_bundle
    auditor, report, events = _auditor(first, second)
    auditor.epoch(report, events[1], auditor.epoch(report, events[0], None))
    assert auditor.log.size == 8 and report.points_recomputed == 0  # no features to recompute from


def test_version_2_documents_still_read_and_write_back_and_the_audit_accepts_them() -> None:
    """Manifests of before they listed only the changed balances (golden/version-2/) list every
    balance: they read back to the same bytes, the audit checks them, and a proof's balances
    rebuild from them as the base of later epochs' changes."""
    first, second = (golden(f"version-2/{name}") for name in (FIRST, SECOND))
    for document in (first, second):
        manifest = Manifest.from_json(document)
        assert manifest.v == 2 and manifest.balances.values is not None and manifest.balances.changed is None
        assert jcs.dumps(manifest.to_json()) == jcs.dumps(document)
    assert cid_of(jcs.dumps(first)) == second["previous"]["manifestCid"]
    auditor, report, events = _auditor(first, second)
    auditor.epoch(report, events[1], auditor.epoch(report, events[0], None))
    assert report.points_recomputed == 8
    wrong = copy.deepcopy(second)
    wrong["balances"]["values"][0][1] = "29"
    auditor, report, events = _auditor(first, wrong)
    with pytest.raises(AuditDiscrepancy, match="the journal gives 28, the manifest says 29"):
        auditor.epoch(report, events[1], auditor.epoch(report, events[0], None))


def test_version_3_documents_still_read_and_write_back_and_the_audit_accepts_them() -> None:
    """Manifests of before programs (golden/version-3/): no ``sealedAt``, ``programs``, ``usage``
    nor journal times; they read back to the same bytes and the audit checks them, with no
    program payouts to recompute."""
    first, second = (golden(f"version-3/{name}") for name in (FIRST, SECOND))
    for document in (first, second):
        manifest = Manifest.from_json(document)
        assert manifest.v == 3 and manifest.sealed_at is None and manifest.programs == ()
        assert all(line.at is None for line in manifest.journal)
        assert jcs.dumps(manifest.to_json()) == jcs.dumps(document)
    assert cid_of(jcs.dumps(first)) == second["previous"]["manifestCid"]
    fetcher = Manifests(first, second, golden(f"version-3/{SNAPSHOT}"))
    events = [_event(d, cid_of(jcs.dumps(d))) for d in (first, second)]
    auditor, report = Auditor(None, ANCHOR.contract, fetcher), AuditReport(ANCHOR.contract, ANCHOR.chain_id)  # type: ignore[arg-type]
    auditor.epoch(report, events[1], auditor.epoch(report, events[0], None))
    assert report.points_recomputed == 8 and auditor.programs.payouts == 0
    bundle = golden(f"version-3/{CONTRIBUTION}")
    assert ContributionBundle.from_json(bundle).to_json() == bundle


def test_version_4_documents_still_read_and_write_back_and_the_audit_accepts_them() -> None:
    """Manifests of before the feed's block (golden/version-4/): no ``feed``; they read back to
    the same bytes and the audit checks them, programs' payouts included."""
    first, second = (golden(f"version-4/{name}") for name in (FIRST, SECOND))
    for document in (first, second):
        manifest = Manifest.from_json(document)
        assert manifest.v == 4 and manifest.feed is None and "feed" not in manifest.to_json()
        assert jcs.dumps(manifest.to_json()) == jcs.dumps(document)
    assert cid_of(jcs.dumps(first)) == second["previous"]["manifestCid"]
    fetcher = Manifests(first, second, golden(f"version-4/{SNAPSHOT}"))
    events = [_event(d, cid_of(jcs.dumps(d))) for d in (first, second)]
    auditor, report = Auditor(None, ANCHOR.contract, fetcher), AuditReport(ANCHOR.contract, ANCHOR.chain_id)  # type: ignore[arg-type]
    auditor.epoch(report, events[1], auditor.epoch(report, events[0], None))
    assert report.points_recomputed == 8 and auditor.programs.payouts == 4 and report.engagements_checked == 0
    bundle = golden(f"version-4/{CONTRIBUTION}")
    assert ContributionBundle.from_json(bundle).to_json() == bundle


def test_the_golden_manifests_publish_the_feed_and_the_audit_checks_its_credits() -> None:
    second = Manifest.from_json(golden(SECOND))
    assert second.feed is not None and (second.feed.points_per_like, second.feed.points_per_remix) == (1, 5)
    assert [(e.kind, e.remix is not None) for e in second.feed.engagements] == [("like", False), ("remix", True)]
    auditor, report, events = _auditor(golden(FIRST), golden(SECOND))
    auditor.epoch(report, events[1], auditor.epoch(report, events[0], None))
    assert report.engagements_checked == 2


def test_the_golden_manifests_publish_the_program_and_the_audit_recomputes_its_topups() -> None:
    first = Manifest.from_json(golden(FIRST))
    assert [(line.change, line.program) for line in first.programs] == [
        ("define", "golden"), ("enrol", "golden"), ("enrol", "golden")]
    auditor, report, events = _auditor(golden(FIRST), golden(SECOND))
    auditor.epoch(report, events[1], auditor.epoch(report, events[0], None))
    assert auditor.programs.payouts == 4  # two members topped up at each of two closes


def test_manifests_read_and_write_back_to_the_same_bytes_and_cids() -> None:
    first, second = golden(FIRST), golden(SECOND)
    for document in (first, second):
        assert Manifest.from_json(document).to_json() == document
        assert jcs.dumps(Manifest.from_json(document).to_json()) == jcs.dumps(document)
    # The files name each other's CIDs: the second manifest its predecessor, a bundle its epoch's.
    assert cid_of(jcs.dumps(Manifest.from_json(first).to_json())) == second["previous"]["manifestCid"]
    assert cid_of(jcs.dumps(Manifest.from_json(second).to_json())) == golden(CONTRIBUTION)["header"]["manifestCid"]
    snapshot = golden(SNAPSHOT)
    assert BalancesSnapshot.from_json(snapshot).to_json() == snapshot
    assert cid_of(jcs.dumps(snapshot)) == second["balances"]["snapshot"]


@pytest.mark.parametrize(("name", "kind"), [(CONTRIBUTION, ContributionBundle), (BALANCE, BalanceBundle)])
def test_bundles_read_and_write_back_member_for_member_in_order(name: str, kind: type[Any]) -> None:
    document = golden(name)
    typed = parse_bundle(document)
    assert isinstance(typed, kind) and kind.from_json(document) == typed
    assert json.dumps(typed.to_json()) == json.dumps(document)  # the order of the members too
    assert load_bundle((GOLDEN / name).read_text()) == typed


def test_sealing_the_same_ledger_again_writes_the_golden_files(tmp_path: Path) -> None:
    documents = build(tmp_path)
    for name in GOLDEN_FILES:
        assert documents[name] == golden(name), name


def _event(manifest: dict[str, Any], cid: str) -> EpochAnchored:
    return EpochAnchored(manifest["epoch"], manifest["log"]["size"], bytes.fromhex(manifest["log"]["root"][2:]),
                         bytes.fromhex(manifest["balances"]["root"][2:]), int(manifest["balances"]["totalPoints"]),
                         cid, "0x" + "00" * 32, manifest["epoch"], "0x" + "00" * 32, 0)


class Manifests:
    """Manifests (and snapshots) by CID, as a gateway would serve them after checking their blocks."""

    def __init__(self, *documents: dict[str, Any]) -> None:
        self.by_cid = {cid_of(jcs.dumps(d)): jcs.dumps(d) for d in documents}

    def get(self, cid: str) -> bytes:
        if cid not in self.by_cid:
            raise ContentError(f"{cid}: not found")
        return self.by_cid[cid]


def _auditor(*documents: dict[str, Any], snapshot: dict[str, Any] | None = None,
             ) -> tuple[Auditor, AuditReport, list[EpochAnchored]]:
    """An auditor of the manifests ``documents`` (and the golden snapshot, or ``snapshot``)."""
    fetcher = Manifests(*documents, golden(SNAPSHOT) if snapshot is None else snapshot)
    events = [_event(d, cid_of(jcs.dumps(d))) for d in documents]
    return Auditor(None, ANCHOR.contract, fetcher), AuditReport(ANCHOR.contract, ANCHOR.chain_id), events  # type: ignore[arg-type]


def test_the_audit_accepts_the_golden_epochs_and_names_the_field_of_a_malformed_manifest() -> None:
    auditor, report, events = _auditor(golden(FIRST), golden(SECOND))
    previous = auditor.epoch(report, events[0], None)
    assert auditor.epoch(report, events[1], previous).manifest_cid == events[1].manifest_cid
    assert auditor.log.size == 8
    assert report.journal_entries == len(golden(FIRST)["journal"]) + len(golden(SECOND)["journal"])

    broken = golden(FIRST)
    broken["log"]["leaves"][2]["points"] = 12
    auditor, report, events = _auditor(broken)
    with pytest.raises(AuditDiscrepancy) as caught:
        auditor.epoch(report, events[0], None)
    assert caught.value.field == "log.leaves[2].points" and caught.value.epoch == 1
    assert "log.leaves[2].points: must be a decimal string" in caught.value.what
    assert caught.value.category is ErrorCategory.VERIFICATION


def test_the_audit_takes_up_after_an_epoch_from_its_published_edge_and_balances() -> None:
    """``--from-epoch 2``: the log from the first manifest's ``log.edge``, its balances from the
    first epoch's changes; the second epoch then audits as in a full audit, and a first manifest
    whose edge or balances do not give the chain's roots is refused."""
    auditor, report, events = _auditor(golden(FIRST), golden(SECOND))
    previous = auditor.start_after(events[0])
    assert auditor.log.size == 5 and auditor.epoch(report, events[1], previous).epoch == 2
    full, full_report, _ = _auditor(golden(FIRST), golden(SECOND))
    full.epoch(full_report, events[1], full.epoch(full_report, events[0], None))
    def held(balances: dict[str, int]) -> dict[str, int]:
        return {a: b for a, b in balances.items() if a.startswith("0x") and b}

    assert held(auditor.balances) == held(full.balances)

    cases = [
        (["log", "edge", 0], "0x" + "00" * 32, "the manifest's log.edge does not give the log root the chain holds"),
        (["balances", "changed", 0, 1], "1", "the published balances do not give the balances root the chain holds"),
    ]
    for where, value, says in cases:
        first = broken(FIRST, where, value)
        auditor, report, _ = _auditor(first, golden(SECOND))
        with pytest.raises(AuditDiscrepancy) as caught:
            auditor.start_after(_event(first, cid_of(jcs.dumps(first))))
        assert caught.value.what == says, where
    # A full audit holds the edge against the leaves too.
    first = broken(FIRST, ["log", "edge", 0], "0x" + "00" * 32)
    auditor, report, events = _auditor(first)
    with pytest.raises(AuditDiscrepancy, match=r"the manifest's log\.edge is not the log's compact range"):
        auditor.epoch(report, events[0], None)


def _features_changed(document: dict[str, Any], leaf: int, changes: dict[str, Any]) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    features = changed["log"]["leaves"][leaf]["features"]
    for name, value in changes.items():
        if value is DELETE:
            del features[name]
        else:
            features[name] = value
    return changed


def test_the_audit_recomputes_every_leafs_points_from_its_features() -> None:
    auditor, report, events = _auditor(golden(FIRST), golden(SECOND))
    auditor.epoch(report, events[1], auditor.epoch(report, events[0], None))
    assert report.points_recomputed == 8 == auditor.log.size
    assert report.as_json()["pointsRecomputed"] == 8

    leaf = golden(FIRST)["log"]["leaves"][3]
    more = {**leaf["features"], "userNew": leaf["features"]["userNew"] + 40}
    assert points_from_features("quality-v2", more) != int(leaf["points"])
    cases = [  # (the first manifest changed, what the audit says)
        (_features_changed(golden(FIRST), 3, {"userNew": more["userNew"]}),
         f"leaf 3: its features give {points_from_features('quality-v2', more)} points under quality-v2; "
         f"the leaf says {leaf['points']}"),
        (_features_changed(golden(FIRST), 1, {"novel": DELETE}), "leaf 1: quality-v2 feature novel is missing"),
        (_features_changed(golden(FIRST), 0, {"bonus": 3}), "leaf 0: quality-v2 has no feature bonus"),
        ({**golden(FIRST), "scorer": {"version": "quality-v2", "rulesHash": "0x" + "ab" * 32}},
         f"the rules of quality-v2 hash to {rules_hash('quality-v2')}; the manifest says 0x{'ab' * 32}"),
        ({**golden(FIRST), "scorer": {"version": "quality-v7", "rulesHash": "0x" + "ab" * 32}},
         "scorer 'quality-v7': this audit has no rules of that version"),
    ]
    for document, says in cases:
        auditor, report, events = _auditor(document)
        with pytest.raises(AuditDiscrepancy) as caught:
            auditor.epoch(report, events[0], None)
        assert caught.value.what == says and caught.value.epoch == 1

    # A leaf whose scorer is not the manifest's: named as such.
    other = copy.deepcopy(golden(FIRST))
    other["log"]["leaves"][2]["scorer"] = "quality-v1"
    auditor, report, events = _auditor(other)
    with pytest.raises(AuditDiscrepancy, match=r"leaf 2: scorer 'quality-v1' is not among the manifest's"):
        auditor.epoch(report, events[0], None)


DELETE = object()
ROOT_IS_A_LIST: list[Any] = []

# (golden file, the path of the field broken, its new value or DELETE, the message of the error)
MANIFEST_CASES: list[tuple[str, list[Any], Any, str]] = [
    (SECOND, ["log", "leaves", 2, "points"], 12, "log.leaves[2].points: must be a decimal string"),
    (SECOND, ["log", "leaves", 0, "points"], "012", "log.leaves[0].points: must be a decimal string"),
    (SECOND, ["log", "leaves", 1], "leaf", "log.leaves[1]: must be an object"),
    (SECOND, ["log", "leaves", 0, "acceptedAt"], -1, "log.leaves[0].acceptedAt: must be a non-negative integer"),
    (SECOND, ["log", "leaves", 2, "contentHash"], "0x" + "ab" * 31, "log.leaves[2].contentHash: must be 0x + 64 hex"),
    (SECOND, ["log", "leaves", 1, "contributor"], "0x1234", "log.leaves[1].contributor: must be 0x + 40 hex"),
    (SECOND, ["log", "leaves", 0, "cid"], DELETE, "log.leaves[0].cid: is missing"),
    (SECOND, ["log", "root"], "0x1234", "log.root: must be 0x + 64 hex"),
    (SECOND, ["log", "size"], "8", "log.size: must be a non-negative integer"),
    (SECOND, ["log", "edge"], DELETE, "log.edge: is missing"),
    (SECOND, ["log", "edge", 0], "0x12", "log.edge[0]: must be 0x + 64 hex"),
    (SECOND, ["log", "edge"], [], "log.edge: must hold one hash per perfect subtree of 8 leaves (1)"),
    (SECOND, ["previous", "logRoot"], "0x" + "zz" * 32, "previous.logRoot: must be 0x + 64 hex"),
    (SECOND, ["previous", "manifestCid"], DELETE, "previous.manifestCid: is missing"),
    (SECOND, ["journal", 1, "amount"], "-0", "journal[1].amount: must be a decimal string"),
    (SECOND, ["journal", 0, "amount"], -12, "journal[0].amount: must be a decimal string"),
    (SECOND, ["journal", 3, "ref"], "", "journal[3].ref: must be a non-empty string"),
    (SECOND, ["balances", "changed", 0], ["0x1234", "36"], "balances.changed[0][0]: must be 0x + 40 hex"),
    (SECOND, ["balances", "changed", 1], ["0x" + "ab" * 20, "36", "7"],
     "balances.changed[1]: must be a pair [account, balance]"),
    (SECOND, ["balances", "changed", 2, 1], "3.5", "balances.changed[2][1]: must be a decimal string"),
    (SECOND, ["balances", "changed"], DELETE, "balances.changed: is missing"),
    (SECOND, ["balances", "accounts"], "3", "balances.accounts: must be a non-negative integer"),
    (SECOND, ["balances", "snapshot"], DELETE, "balances.snapshot: is missing"),
    (SECOND, ["balances", "snapshot"], 7, "balances.snapshot: must be a non-empty string or null"),
    (SECOND, ["balances", "totalPoints"], 121, "balances.totalPoints: must be a decimal string"),
    (SECOND, ["scorer", "version"], None, "scorer.version: must be a string"),
    (SECOND, ["v"], 6, "v: must be 1 or 2 or 3 or 4 or 5"),
    (SECOND, ["feed"], DELETE, "feed: is missing"),
    (SECOND, ["feed", "pointsPerLike"], 1, "feed.pointsPerLike: must be a decimal string"),
    (SECOND, ["feed", "engagements", 0, "kind"], "share", 'feed.engagements[0].kind: must be "like" or "remix"'),
    (SECOND, ["feed", "engagements", 1, "remix"], "0x12", "feed.engagements[1].remix: must be 0x + 64 hex"),
    (SECOND, ["feed", "engagements", 0, "actor"], "0x2b5AD5c4795c026514f8317c7a215E218DcCD6cF",
     "feed.engagements[0].actor: has an invalid EIP-55 checksum"),
    (SECOND, ["feed", "engagements", 0, "signature"], "0x12", "feed.engagements[0].signature: must be 0x + 130 hex"),
    (SECOND, ["feed", "contributions", 1, "proof", 0], "0x12", "feed.contributions[1].proof[0]: must be 0x + 64 hex"),
    (SECOND, ["feed", "contributions"], DELETE, "feed.contributions: is missing"),
    (SECOND, ["sealedAt"], DELETE, "sealedAt: is missing"),
    (SECOND, ["journal", 0, "at"], "1", "journal[0].at: must be a non-negative integer"),
    (FIRST, ["programs", 0, "minimum"], "0", "programs[0].minimum: must be a positive decimal string"),
    (FIRST, ["programs", 0, "period"], "year", 'programs[0].period: must be "day", "week", "month" or 1 to '
     '100000000 seconds'),
    (FIRST, ["programs", 1, "change"], "join", 'programs[1].change: must be "define", "enrol" or "leave"'),
    (FIRST, ["programs", 2, "account"], "0x12", "programs[2].account: must be 0x + 40 hex"),
    (FIRST, ["programs"], DELETE, "programs: is missing"),
    (FIRST, ["usage"], {}, "usage: must be a list"),
    (SECOND, ["log", "leaves", 1, "features"], DELETE, "log.leaves[1].features: is missing"),
    (SECOND, ["log", "leaves", 0, "features", "tokens"], -4,
     "log.leaves[0].features.tokens: must be a non-negative integer"),
    (SECOND, ["log", "leaves", 2, "features", "novel"], "9",
     "log.leaves[2].features.novel: must be a non-negative integer"),
    (SECOND, ["log", "leaves", 2, "features"], [1, 2], "log.leaves[2].features: must be an object"),
    (SECOND, ["log", "leaves", 0, "scorer"], "", "log.leaves[0].scorer: must be a non-empty string"),
    (SECOND, ["scorer", "rulesHash"], DELETE, "scorer.rulesHash: is missing"),
    (SECOND, ["scorer", "rulesHash"], "0x12",
     "scorer.rulesHash: must be one 0x + 64 hex hash per version, comma-separated"),
    (SECOND, ["scorer", "version"], "quality-v1,quality-v2",
     "scorer.rulesHash: must be one 0x + 64 hex hash per version, comma-separated"),
    (SECOND, ["epoch"], True, "epoch: must be a non-negative integer"),
    (SECOND, ["contract"], "0x5fbDB2315678afecb367f032d93F642f64180aa3", "contract: has an invalid EIP-55 checksum"),
    (FIRST, ["previous"], {}, "previous.epoch: is missing"),
    (FIRST, ["previous"], DELETE, "previous: is missing"),
    (FIRST, ["journal"], {}, "journal: must be a list"),
    (FIRST, [], ROOT_IS_A_LIST, "manifest: must be a JSON object"),
]

BUNDLE_CASES: list[tuple[str, list[Any], Any, str]] = [
    (CONTRIBUTION, ["header", "logRoot"], "0x12", "header.logRoot: must be 0x + 64 hex"),
    (CONTRIBUTION, ["header", "totalPoints"], "-5", "header.totalPoints: must be a decimal string"),
    (CONTRIBUTION, ["header", "state"], DELETE, "header.state: is missing"),
    (CONTRIBUTION, ["format"], "tally-proof-v2", 'format: must be "tally-proof-v1"'),
    (CONTRIBUTION, ["kind"], "receipt", 'kind: must be "contribution" or "balance"'),
    (CONTRIBUTION, ["leaf", "contentHash"], DELETE, "leaf.contentHash: is missing"),
    (CONTRIBUTION, ["leaf", "points"], "1e3", "leaf.points: must be a decimal string"),
    (CONTRIBUTION, ["leaf", "leafHash"], "0x", "leaf.leafHash: must be 0x + 64 hex"),
    (CONTRIBUTION, ["leaf", "id"], "2", "leaf.id: must be a non-negative integer"),
    (CONTRIBUTION, ["proof", 1], "0xabc", "proof[1]: must be 0x + 64 hex"),
    (CONTRIBUTION, ["proof"], "0x" + "ab" * 32, "proof: must be a list"),
    (CONTRIBUTION, ["transaction", "blockNumber"], "102", "transaction.blockNumber: must be a non-negative integer"),
    (CONTRIBUTION, ["transaction", "hash"], "0x1", "transaction.hash: must be 0x + 64 hex"),
    (CONTRIBUTION, ["explorer", "readContract"], DELETE, "explorer.readContract: is missing"),
    (CONTRIBUTION, ["rpcUrl"], 5, "rpcUrl: must be a non-empty string or null"),
    (CONTRIBUTION, ["chainId"], "31337", "chainId: must be a non-negative integer"),
    (CONTRIBUTION, ["verify", "args", 6], [[1], 2], "verify.args[6]: must be an integer, a string or a list of them"),
    (CONTRIBUTION, ["verify", "function"], DELETE, "verify.function: is missing"),
    (BALANCE, ["leaf", "account"], "0x6813eb9362372eef6200f3b1dbc3f819671cBA69",
     "leaf.account: has an invalid EIP-55 checksum"),
    (BALANCE, ["leaf", "balance"], -1, "leaf.balance: must be a decimal string"),
    (BALANCE, ["verify", "fields", "balance"], 49, "verify.fields.balance: must be a string"),
    (BALANCE, ["header"], None, "header: must be an object"),
    (BALANCE, [], ROOT_IS_A_LIST, "bundle: must be a JSON object"),
]


def broken(name: str, where: list[Any], value: Any) -> Any:
    """The golden file ``name`` with the field at ``where`` set to ``value`` (or deleted)."""
    document = golden(name)
    if not where:
        return copy.deepcopy(value)
    container = document
    for key in where[:-1]:
        container = container[key]
    if value is DELETE:
        del container[where[-1]]
    else:
        container[where[-1]] = value
    return document


def _field(message: str) -> str:
    return message.split(": ", 1)[0]


@pytest.mark.parametrize(("name", "where", "value", "message"), MANIFEST_CASES,
                         ids=[c[3].split(":")[0] or "root" for c in MANIFEST_CASES])
def test_a_broken_manifest_field_is_named(name: str, where: list[Any], value: Any, message: str) -> None:
    with pytest.raises(InvalidManifestError) as caught:
        Manifest.from_json(broken(name, where, value))
    assert str(caught.value) == message
    assert caught.value.field == _field(message) and caught.value.code == "invalid-manifest"
    assert caught.value.exit_code is ExitCode.BAD_INPUT


SNAPSHOT_CASES: list[tuple[list[Any], Any, str]] = [
    (["format"], "tally-balances-v0", 'format: must be "tally-balances-v1"'),
    (["epoch"], "2", "epoch: must be a non-negative integer"),
    (["root"], "0x12", "root: must be 0x + 64 hex"),
    (["totalPoints"], 125, "totalPoints: must be a decimal string"),
    (["values", 1], ["0x" + "ab" * 20], "values[1]: must be a pair [account, balance]"),
    (["values", 0, 1], "-28", "values[0][1]: must be a decimal string"),
    (["values"], DELETE, "values: is missing"),
    (["contract"], "0x5fbDB2315678afecb367f032d93F642f64180aa3", "contract: has an invalid EIP-55 checksum"),
    ([], ROOT_IS_A_LIST, "snapshot: must be a JSON object"),
]


@pytest.mark.parametrize(("where", "value", "message"), SNAPSHOT_CASES,
                         ids=[_field(c[2]) or "root" for c in SNAPSHOT_CASES])
def test_a_broken_snapshot_field_is_named(where: list[Any], value: Any, message: str) -> None:
    with pytest.raises(InvalidSnapshotError) as caught:
        BalancesSnapshot.from_json(broken(SNAPSHOT, where, value))
    assert str(caught.value) == message
    assert caught.value.field == _field(message) and caught.value.code == "invalid-snapshot"


def _second_changed(change: Any) -> dict[str, Any]:
    document = golden(SECOND)
    change(document["balances"])
    return document


def _with_snapshot(snapshot: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The second manifest naming ``snapshot`` instead of the golden one, and that snapshot."""
    return _second_changed(lambda b: b.__setitem__("snapshot", cid_of(jcs.dumps(snapshot)))), snapshot


@pytest.mark.parametrize(("documents", "says"), [
    ((_second_changed(lambda b: b["changed"].pop(1)), golden(SNAPSHOT)),
     "0x6813Eb9362372EEF6200f3b1dbC3f819671cBA69: the journal gives 55, the manifest's changed balances "
     "does not list it"),
    ((_second_changed(lambda b: b["changed"][0].__setitem__(1, "27")), golden(SNAPSHOT)),
     "0x2B5AD5c4795c026514f8317c7a215E218DcCD6cF: the journal gives 81, the manifest's changed balances says 27"),
    ((_second_changed(lambda b: b["changed"].append(["0x" + "12" * 20, "0"])), golden(SNAPSHOT)),
     "the manifest's changed balances lists balances the journal does not give"),
    ((_second_changed(lambda b: b.__setitem__("accounts", 4)), golden(SNAPSHOT)),
     "3 accounts hold a balance; the manifest says 4"),
    (_with_snapshot({**golden(SNAPSHOT), "epoch": 1}), "names another epoch, root or total"),
    (_with_snapshot({**golden(SNAPSHOT), "values": golden(SNAPSHOT)["values"][:2]}),
     "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf: the journal gives 105, snapshot"),
    (_with_snapshot({**golden(SNAPSHOT), "values": []}), "does not list it"),
    ((_second_changed(lambda b: b.__setitem__("snapshot", "bafkreinosuchsnapshot")), golden(SNAPSHOT)),
     "snapshot bafkreinosuchsnapshot cannot be fetched intact"),
])
def test_the_audit_holds_the_changed_balances_and_the_snapshot_against_the_journal(
        documents: tuple[dict[str, Any], dict[str, Any]], says: str) -> None:
    second, snapshot = documents
    auditor, report, events = _auditor(golden(FIRST), second, snapshot=snapshot)
    previous = auditor.epoch(report, events[0], None)
    with pytest.raises(AuditDiscrepancy) as caught:
        auditor.epoch(report, events[1], previous)
    assert says in caught.value.what and caught.value.epoch == 2


@pytest.mark.parametrize(("name", "where", "value", "message"), BUNDLE_CASES,
                         ids=[f"{c[0].split('-')[0]}:{_field(c[3])}" for c in BUNDLE_CASES])
def test_a_broken_bundle_field_is_named(name: str, where: list[Any], value: Any, message: str) -> None:
    document = broken(name, where, value)
    with pytest.raises(InvalidBundleError) as caught:
        parse_bundle(document)
    assert str(caught.value) == message
    assert caught.value.field == _field(message) and caught.value.code == "invalid-bundle"
    with pytest.raises(InvalidBundleError) as loaded:
        load_bundle(json.dumps(document))
    assert str(loaded.value) == message


def test_a_bundle_of_the_other_kind_is_named() -> None:
    with pytest.raises(InvalidBundleError, match=r'^kind: must be "contribution"$'):
        ContributionBundle.from_json(golden(BALANCE))
    with pytest.raises(InvalidBundleError, match=r"^bundle: is not JSON"):
        load_bundle("{")


def test_a_tampered_proof_still_parses_so_that_the_verifier_can_name_the_failed_check() -> None:
    document = golden(CONTRIBUTION)
    document["proof"][0] = "0x" + "00" * 32  # the verify arguments still hold the original proof
    assert parse_bundle(document).to_json() == document


@pytest.mark.parametrize(("where", "value", "check", "passed", "says"), [
    (["format"], "tally-proof-v0", "format", [], "unknown bundle format 'tally-proof-v0'"),
    (["kind"], "balance", "format", [], "this is not a contribution proof"),
    ([], "a bundle", "format", [], "the bundle is malformed: bundle: must be a JSON object"),
    (["leaf", "points"], 12, "leaf", ["format"], "leaf.points: must be a decimal string"),
    (["proof", 0], "0x00", "leaf", ["format"], "proof[0]: must be 0x + 64 hex"),
    (["header", "logRoot"], "0x00", "format", [], "header.logRoot: must be 0x + 64 hex"),
    (["leaf", "points"], "13", "leaf", ["format"], "the leaf fields hash to"),
])
def test_the_verifier_reports_a_malformed_contribution_bundle_as_a_failed_check(
        where: list[Any], value: Any, check: str, passed: list[str], says: str) -> None:
    with pytest.raises(VerificationError) as caught:
        verify_contribution(broken(CONTRIBUTION, where, value), NOWHERE)
    assert caught.value.check == check and [c.name for c in caught.value.passed] == passed
    assert says in caught.value.message
    assert caught.value.category is ErrorCategory.VERIFICATION
    assert caught.value.exit_code is ExitCode.VERIFICATION_FAILED


def test_the_verifier_recomputes_the_leafs_points_and_your_conversations_features() -> None:
    """Before it reaches the chain (NOWHERE: the "chain" check fails), the "score" check: the leaf's
    features give its points, and your conversation gives those features."""
    bundle = golden(CONTRIBUTION)
    yours = conversation(bundle["leaf"]["id"] - 1).to_canonical()  # the golden ledger's n-th conversation

    def checks(document: dict[str, Any], mine: object | None) -> tuple[str, list[str], str]:
        with pytest.raises(VerificationError) as caught:
            verify_contribution(document, NOWHERE, mine)
        return caught.value.check, [c.name for c in caught.value.passed], caught.value.message

    assert checks(bundle, yours)[:2] == ("chain", ["format", "leaf", "conversation", "score"])
    assert checks(bundle, None)[:2] == ("chain", ["format", "leaf", "score"])
    assert checks(golden(f"version-1/{CONTRIBUTION}"), None)[:2] == ("chain", ["format", "leaf"])

    features = bundle["leaf"]["features"]
    richer = broken(CONTRIBUTION, ["leaf", "features", "userNew"], features["userNew"] + 40)
    check, passed, says = checks(richer, None)
    assert (check, passed) == ("score", ["format", "leaf"]) and "points under quality-v2, the leaf says" in says
    # Features changed where the points do not move: the leaf alone cannot tell, your conversation can.
    shifted = broken(CONTRIBUTION, ["leaf", "features", "otherChars"], features["otherChars"] + 1)
    assert checks(shifted, None)[:2] == ("chain", ["format", "leaf", "score"])
    check, passed, says = checks(shifted, yours)
    assert (check, passed) == ("score", ["format", "leaf", "conversation"])
    assert says == (f"your conversation has otherChars {features['otherChars']}, "
                    f"the leaf says {features['otherChars'] + 1}")
    check, _, says = checks(broken(CONTRIBUTION, ["leaf", "scorer"], "quality-v9"), None)
    assert check == "score" and "unknown scorer version 'quality-v9'" in says


def test_the_verifier_refuses_a_contribution_bundle_as_a_balance_proof() -> None:
    with pytest.raises(VerificationError) as caught:
        verify_balance(parse_bundle(golden(CONTRIBUTION)), NOWHERE)
    assert (caught.value.check, caught.value.message) == ("format", "this is not a balance proof")
