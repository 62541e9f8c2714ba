"""Proof bundles: self-contained JSON a contributor or an auditor checks without trusting us.

A bundle names the chain and contract, the epoch header it proves against (with the anchoring
transaction), the leaf's fields, the proof, explorer links, and the exact arguments of the
contract's verify view, ready to paste into an explorer's "Read contract" tab. docs/proofs.md
describes the format (``"format": "tally-proof-v1"``).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from threading import Lock
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.explorer import explorer_for
from ledger.content import ContentStore
from ledger.epochs import BALANCE_ENCODING
from ledger.errors import ConflictError, InvalidInputError, NotFoundError
from ledger.lifecycle import EpochState
from ledger.merkle import log as rfc9162
from ledger.merkle.standard import StandardMerkleTree
from ledger.merkle.stored import StoredLog
from ledger.models import Contribution, Epoch

FORMAT = "tally-proof-v1"
CONTRIBUTION_SIGNATURE = "verifyContribution(uint64,uint64,address,bytes32,uint64,uint128,bytes32[])"
BALANCE_SIGNATURE = "verifyBalance(uint64,address,uint256,bytes32[])"


class NotAnchoredError(ConflictError):
    code = "not-anchored"


def _hex(data: bytes) -> str:
    return "0x" + data.hex()


def header_json(epoch: Epoch) -> dict[str, Any]:
    return {
        "epoch": epoch.number,
        "state": epoch.state,
        "logSize": epoch.log_size,
        "logRoot": _hex(epoch.log_root),
        "balancesRoot": _hex(epoch.balances_root),
        "totalPoints": str(epoch.total_points),
        "manifestCid": epoch.manifest_cid,
        "sealedAt": epoch.sealed_at,
    }


def transaction_json(epoch: Epoch) -> dict[str, Any] | None:
    if epoch.state not in (EpochState.MINED, EpochState.FINAL):
        return None
    return {"hash": epoch.tx_hash, "blockNumber": epoch.block_number, "blockHash": epoch.block_hash}


def choose_epoch(session: Session, requested: int | None, minimum: int) -> Epoch:
    """The epoch to prove against: the one asked for (at least ``minimum``), else the latest
    final one, else the latest on-chain one."""
    if requested is not None:
        epoch = session.get(Epoch, requested)
        if epoch is None:
            raise NotFoundError(f"no epoch {requested}")
        if requested < minimum:
            raise InvalidInputError(f"epoch {requested} is before the epoch ({minimum}) that includes it")
        return epoch
    for states in ((EpochState.FINAL,), (EpochState.FINAL, EpochState.MINED)):
        epoch = session.scalar(select(Epoch).where(Epoch.state.in_(states), Epoch.number >= minimum)
                               .order_by(Epoch.number.desc()).limit(1))
        if epoch is not None:
            return epoch
    raise NotAnchoredError(f"no epoch from {minimum} on is anchored on-chain yet; try again later",
                  epoch=minimum)


def _envelope(kind: str, chain: Any, epoch: Epoch) -> dict[str, Any]:
    explorer = explorer_for(chain.chain_id, chain.explorer_url, chain.explorer_kind)
    return {
        "format": FORMAT,
        "kind": kind,
        "chainId": chain.chain_id,
        "contract": chain.contract,
        "rpcUrl": chain.rpc_url,
        "header": header_json(epoch),
        "transaction": transaction_json(epoch),
        "explorer": explorer.links(chain.contract, epoch.tx_hash if transaction_json(epoch) else None)
        if explorer else None,
    }


def contribution_bundle(session: Session, chain: Any, row: Contribution, epoch_number: int | None) -> dict[str, Any]:
    if row.epoch is None or row.log_index is None:
        raise NotAnchoredError(f"contribution {row.id} is not sealed into an epoch yet; try again later")
    epoch = choose_epoch(session, epoch_number, row.epoch)
    proof = StoredLog(session).inclusion_proof(row.log_index, epoch.log_size)
    leaf_data = rfc9162.leaf_data(row.log_index, row.contributor, row.content_hash, row.accepted_at, row.points)
    proof_hex = [_hex(p) for p in proof]
    bundle = _envelope("contribution", chain, epoch)
    bundle["leaf"] = {
        "id": row.id,
        "index": row.log_index,
        "contributor": row.contributor,
        "contentHash": _hex(row.content_hash),
        "acceptedAt": row.accepted_at,
        "points": str(row.points),
        "cid": row.cid,
        "leafHash": _hex(rfc9162.leaf_hash(leaf_data)),
    }
    bundle["proof"] = proof_hex
    bundle["verify"] = {
        "function": CONTRIBUTION_SIGNATURE,
        "args": [epoch.number, row.log_index, row.contributor, _hex(row.content_hash), row.accepted_at,
                 str(row.points), proof_hex],
        # The form a "Read contract" tab wants: one text box per argument.
        "fields": {"epoch": str(epoch.number), "index": str(row.log_index), "contributor": row.contributor,
                   "contentHash": _hex(row.content_hash), "acceptedAt": str(row.accepted_at),
                   "points": str(row.points), "proof": json.dumps(proof_hex, separators=(",", ":"))},
    }
    return bundle


class BalanceTrees:
    """The balances trees of recent epochs, rebuilt from their manifests and kept a while:
    building a large tree costs seconds, serving a proof from it microseconds."""

    def __init__(self, store: ContentStore, keep: int = 2) -> None:
        self.store = store
        self.keep = keep
        self._trees: OrderedDict[str, tuple[StandardMerkleTree, dict[str, int]]] = OrderedDict()
        self._lock = Lock()

    def lookup(self, manifest_cid: str, address: str) -> tuple[StandardMerkleTree, int] | None:
        """The epoch's tree and the index of ``address`` in it, or None if it holds no balance."""
        with self._lock:
            cached = self._trees.get(manifest_cid)
            if cached is not None:
                self._trees.move_to_end(manifest_cid)
        if cached is None:
            manifest = json.loads(self.store.get(manifest_cid))
            values = manifest["balances"]["values"]
            if not values:
                return None
            tree = StandardMerkleTree.of(values, BALANCE_ENCODING)
            cached = (tree, {value[0].lower(): i for i, value in enumerate(values)})
            with self._lock:
                self._trees[manifest_cid] = cached
                while len(self._trees) > self.keep:
                    self._trees.popitem(last=False)
        tree, index = cached
        position = index.get(address.lower())
        return None if position is None else (tree, position)


def balance_bundle(session: Session, chain: Any, trees: BalanceTrees, address: str,
                   epoch_number: int | None) -> dict[str, Any]:
    epoch = choose_epoch(session, epoch_number, 1)
    found = trees.lookup(epoch.manifest_cid, address)
    if found is None:
        raise NotFoundError(f"{address} has no balance in epoch {epoch.number}", epoch=epoch.number)
    tree, index = found
    balance = str(tree.at(index)[1])
    proof = tree.get_proof(index)
    bundle = _envelope("balance", chain, epoch)
    bundle["leaf"] = {"account": address, "balance": balance, "leafHash": tree.leaf_hash([address, balance])}
    bundle["proof"] = proof
    bundle["verify"] = {
        "function": BALANCE_SIGNATURE,
        "args": [epoch.number, address, balance, proof],
        "fields": {"epoch": str(epoch.number), "account": address, "balance": balance,
                   "proof": json.dumps(proof, separators=(",", ":"))},
    }
    return bundle
