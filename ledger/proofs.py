"""Proof bundles: self-contained JSON a contributor or an auditor checks without trusting us.

A bundle names the chain and contract, the epoch header it proves against (with the anchoring
transaction), the leaf's fields, the proof, explorer links, and the exact arguments of the
contract's verify view, ready to paste into an explorer's "Read contract" tab. The format is
``ledger.formats`` (``"format": "tally-proof-v1"``, docs/proofs.md); this module fills it in
from the ledger.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass
from threading import Lock
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.balances import EMPTY_BALANCES_ROOT, BalancesUnavailableError, balances_at
from ledger.content import ContentStore
from ledger.deployment import ChainInfo
from ledger.errors import ConflictError, InvalidInputError, NotFoundError
from ledger.explorer import explorer_for
from ledger.formats import (
    AnchoringTransaction,
    BalanceBundle,
    BalanceLeaf,
    BalancesSnapshot,
    BatchConsentProof,
    BundleEnvelope,
    BundleHeader,
    ContributionBundle,
    ContributionLeaf,
    ExplorerLinks,
    LogLeaf,
    Manifest,
)
from ledger.lifecycle import EpochState
from ledger.merkle.standard import StandardMerkleTree
from ledger.merkle.stored import StoredLog
from ledger.models import Contribution, Epoch
from ledger.scoring import recorded_features


class NotAnchoredError(ConflictError):
    """The proof needs an epoch that is sealed and anchored on-chain; ``epoch`` is the first
    one that would do (when known). Epochs are sealed on a schedule: try again later."""

    code = "not-anchored"

    def __init__(self, message: str, *, epoch: int | None = None) -> None:
        super().__init__(message, **({} if epoch is None else {"epoch": epoch}))
        self.epoch = epoch


class EpochBeforeInclusionError(InvalidInputError):
    """A proof was asked against an epoch older than the one that sealed the contribution."""

    def __init__(self, requested: int, minimum: int) -> None:
        super().__init__(f"epoch {requested} is before the epoch ({minimum}) that includes it",
                         field="epoch")
        self.requested = requested
        self.minimum = minimum


def header_of(epoch: Epoch) -> BundleHeader:
    return BundleHeader(epoch.number, epoch.state, epoch.log_size, epoch.log_root, epoch.balances_root,
                        epoch.total_points, epoch.manifest_cid, epoch.sealed_at)


def transaction_of(epoch: Epoch) -> AnchoringTransaction | None:
    """The anchoring transaction, once the epoch is mined (and recorded as such)."""
    if epoch.state not in (EpochState.MINED, EpochState.FINAL):
        return None
    if epoch.tx_hash is None or epoch.block_number is None or epoch.block_hash is None:
        return None
    return AnchoringTransaction(epoch.tx_hash, epoch.block_number, epoch.block_hash)


def header_json(epoch: Epoch) -> dict[str, Any]:
    return header_of(epoch).to_json()


def transaction_json(epoch: Epoch) -> dict[str, Any] | None:
    transaction = transaction_of(epoch)
    return None if transaction is None else transaction.to_json()


def choose_epoch(session: Session, requested: int | None, minimum: int) -> Epoch:
    """The epoch to prove against: the one asked for (at least ``minimum``), else the latest
    final one, else the latest on-chain one."""
    if requested is not None:
        epoch = session.get(Epoch, requested)
        if epoch is None:
            raise NotFoundError(f"no epoch {requested}")
        if requested < minimum:
            raise EpochBeforeInclusionError(requested, minimum)
        return epoch
    for states in ((EpochState.FINAL,), (EpochState.FINAL, EpochState.MINED)):
        epoch = session.scalar(select(Epoch).where(Epoch.state.in_(states), Epoch.number >= minimum)
                               .order_by(Epoch.number.desc()).limit(1))
        if epoch is not None:
            return epoch
    raise NotAnchoredError(f"no epoch from {minimum} on is anchored on-chain yet; try again later", epoch=minimum)


def envelope_of(chain: ChainInfo, epoch: Epoch) -> BundleEnvelope:
    explorer = explorer_for(chain.chain_id, chain.explorer_url, chain.explorer_kind)
    transaction = transaction_of(epoch)
    links = None if explorer is None else ExplorerLinks.read(
        explorer.links(chain.contract, transaction.hash if transaction else None))
    return BundleEnvelope(chain.chain_id, chain.contract, chain.rpc_url, header_of(epoch), transaction, links)


def contribution_proof(session: Session, chain: ChainInfo, row: Contribution,
                       epoch_number: int | None) -> ContributionBundle:
    """The inclusion proof of ``row`` against the epoch asked for (default: the latest final)."""
    if row.epoch is None or row.log_index is None:
        raise NotAnchoredError(f"contribution {row.id} is not sealed into an epoch yet; try again later")
    epoch = choose_epoch(session, epoch_number, row.epoch)
    proof = StoredLog(session).inclusion_proof(row.log_index, epoch.log_size)
    leaf = LogLeaf(row.log_index, row.contributor, row.content_hash, row.accepted_at, row.points, row.cid,
                   row.scorer_version, recorded_features(row.scorer_version, row.score, row.message_count))
    return ContributionBundle.of(envelope_of(chain, epoch), ContributionLeaf(row.id, leaf, leaf.leaf_hash()),
                                 tuple(proof), batch_consent_of(row))


def batch_consent_of(row: Contribution) -> BatchConsentProof | None:
    """The ContributionBatch consent a contribution was accepted under, for its bundle; None for
    one signed on its own."""
    if row.batch_root is None or row.batch_count is None:
        return None
    raw = row.batch_proof or b""
    return BatchConsentProof(row.batch_root, row.batch_count, row.terms_hash, int(row.nonce), row.issued_at,
                             row.signature, tuple(raw[i:i + 32] for i in range(0, len(raw), 32)))


def contribution_bundle(session: Session, chain: ChainInfo, row: Contribution,
                        epoch_number: int | None) -> dict[str, Any]:
    """``contribution_proof`` as the JSON the API serves."""
    return contribution_proof(session, chain, row, epoch_number).to_json()


class BalanceTrees:
    """The balances trees of recent epochs, rebuilt from public documents (manifests and
    snapshots, ``ledger.balances.balances_at``) and kept a while: building a large tree costs
    seconds, serving a proof from it microseconds. The balances of the epochs kept are where the
    next epoch's rebuild starts, so following the latest epoch applies one manifest's changes."""

    def __init__(self, store: ContentStore, keep: int = 2) -> None:
        self.store = store
        self.keep = keep
        self._trees: OrderedDict[str, _EpochBalances] = OrderedDict()
        self._lock = Lock()

    def balances(self, manifest_cid: str) -> dict[str, int]:
        """Every non-zero balance after the epoch of ``manifest_cid``, keyed by lower-cased address."""
        return dict(self._epoch(manifest_cid).balances)

    def lookup(self, manifest_cid: str, address: str) -> tuple[StandardMerkleTree, int] | None:
        """The epoch's tree and the index of ``address`` in it, or None if it holds no balance."""
        cached = self._epoch(manifest_cid)
        position = cached.index.get(address.lower())
        return None if position is None or cached.tree is None else (cached.tree, position)

    def _epoch(self, manifest_cid: str) -> _EpochBalances:
        with self._lock:
            cached = self._trees.get(manifest_cid)
            if cached is not None:
                self._trees.move_to_end(manifest_cid)
                return cached
            known = {cid: kept.balances for cid, kept in self._trees.items()}
        manifest = self._manifest(manifest_cid)
        # The walk starts at this very manifest: hand it the one parsed already (megabytes of JSON).
        def read(cid: str) -> Manifest:
            return manifest if cid == manifest_cid else self._manifest(cid)

        balances = balances_at(manifest_cid, read, self._snapshot, known.get)
        values = sorted(balances.items())
        # From columns: a third of the memory of a list of pairs at a million accounts.
        tree = StandardMerkleTree.of_balances(b"".join(bytes.fromhex(a[2:]) for a, _ in values),
                                              [b for _, b in values]) if values else None
        root = bytes.fromhex(tree.root[2:]) if tree else EMPTY_BALANCES_ROOT
        if root != manifest.balances.root:
            raise BalancesUnavailableError(f"the balances rebuilt for epoch {manifest.epoch} do not give its root")
        cached = _EpochBalances(balances, tree, {account: i for i, (account, _) in enumerate(values)})
        with self._lock:
            self._trees[manifest_cid] = cached
            while len(self._trees) > self.keep:
                self._trees.popitem(last=False)
        return cached

    def _manifest(self, cid: str) -> Manifest:
        return Manifest.from_json(json.loads(self.store.get(cid)))

    def _snapshot(self, cid: str) -> BalancesSnapshot:
        return BalancesSnapshot.from_json(json.loads(self.store.get(cid)))


@dataclass(frozen=True, slots=True)
class _EpochBalances:
    balances: dict[str, int]
    tree: StandardMerkleTree | None
    index: dict[str, int]


def balance_proof(session: Session, chain: ChainInfo, trees: BalanceTrees, address: str,
                  epoch_number: int | None) -> BalanceBundle:
    """The Merkle proof of ``address``'s balance in the epoch asked for (default: the latest final)."""
    epoch = choose_epoch(session, epoch_number, 1)
    found = trees.lookup(epoch.manifest_cid, address)
    if found is None:
        raise NotFoundError(f"{address} has no balance in epoch {epoch.number}", epoch=epoch.number)
    tree, index = found
    balance = str(tree.at(index)[1])
    leaf = BalanceLeaf(address, int(balance), bytes.fromhex(tree.leaf_hash([address, balance])[2:]))
    return BalanceBundle.of(envelope_of(chain, epoch), leaf,
                            tuple(bytes.fromhex(p[2:]) for p in tree.get_proof(index)))


def balance_bundle(session: Session, chain: ChainInfo, trees: BalanceTrees, address: str,
                   epoch_number: int | None) -> dict[str, Any]:
    """``balance_proof`` as the JSON the API serves."""
    return balance_proof(session, chain, trees, address, epoch_number).to_json()
