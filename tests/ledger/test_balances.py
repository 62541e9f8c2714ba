"""Rebuilding an epoch's balances from public documents (``ledger.balances.balances_at``), on the
golden manifests: from a snapshot, through the changes, and never from a snapshot that lies."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ledger import jcs
from ledger.balances import BalancesUnavailableError, balances_at, balances_root
from ledger.content import cid_of
from ledger.formats import BalancesSnapshot, Manifest

GOLDEN = Path(__file__).resolve().parent.parent / "formats" / "golden"


def documents(*names: str) -> dict[str, bytes]:
    return {cid_of(data): data for data in (jcs.dumps(json.loads((GOLDEN / n).read_text())) for n in names)}


def readers(by_cid: dict[str, bytes]):  # type: ignore[no-untyped-def]
    return (lambda cid: Manifest.from_json(json.loads(by_cid[cid])),
            lambda cid: BalancesSnapshot.from_json(json.loads(by_cid[cid])))


def test_balances_rebuild_from_a_snapshot_or_from_the_changes_since_the_first_epoch() -> None:
    by_cid = documents("manifest-first.json", "manifest-with-previous.json", "balances-snapshot.json")
    first, second = (cid for cid, data in by_cid.items() if b'"log"' in data)
    read_manifest, read_snapshot = readers(by_cid)
    for cid in (first, second):
        rebuilt = balances_at(cid, read_manifest, read_snapshot)
        assert balances_root(rebuilt.items()) == read_manifest(cid).balances.root
    # A caller that knows the epoch before applies one epoch's changes instead of fetching the
    # snapshot (here gone, as if no gateway had it).
    known = balances_at(first, read_manifest, read_snapshot)
    del by_cid[read_manifest(second).balances.snapshot]  # type: ignore[arg-type]
    with pytest.raises(KeyError):
        balances_at(second, read_manifest, read_snapshot)
    rebuilt = balances_at(second, read_manifest, read_snapshot, {first: known}.get)
    assert balances_root(rebuilt.items()) == read_manifest(second).balances.root


def test_a_snapshot_that_does_not_give_its_epochs_root_is_refused() -> None:
    by_cid = documents("manifest-first.json", "manifest-with-previous.json")
    second = next(cid for cid, data in by_cid.items() if b'"epoch":2' in data)
    read_manifest, _ = readers(by_cid)
    genuine = BalancesSnapshot.from_json(json.loads((GOLDEN / "balances-snapshot.json").read_text()))
    short = BalancesSnapshot(genuine.chain_id, genuine.contract, 2, genuine.root, genuine.total_points,
                             genuine.values[:2])
    with pytest.raises(BalancesUnavailableError, match="does not give epoch 2's root"):
        balances_at(second, read_manifest, lambda _cid: short)
    other = BalancesSnapshot(genuine.chain_id, genuine.contract, 1, genuine.root, genuine.total_points, genuine.values)
    with pytest.raises(BalancesUnavailableError, match="is not epoch 2's"):
        balances_at(second, read_manifest, lambda _cid: other)
