"""Checking a proof bundle against the chain itself, trusting nothing the API said.

Every check recomputes from the bundle's fields with our own code, then reads the epoch header
from the contract over JSON-RPC and compares, then asks the contract's verify view for a
second opinion. The first check that fails raises a ``VerificationError`` naming it; the
checks that passed before it are kept on the error for reporting.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from web3 import Web3

from anchoring.chain import connect
from anchoring.contract import EpochHeader, TallyAnchor
from ledger.conversation import ConversationError, canonical_bytes
from ledger.merkle import ProofError
from ledger.merkle import log as rfc9162
from ledger.merkle.standard import StandardMerkleTree

SUPPORTED_FORMATS = ("tally-proof-v1",)
@dataclass(frozen=True, slots=True)
class Check:
    name: str
    detail: str


class VerificationError(Exception):
    """A check failed; ``check`` names it and ``passed`` lists the checks before it."""

    def __init__(self, check: str, message: str, passed: list[Check]) -> None:
        super().__init__(f"{check}: {message}")
        self.check = check
        self.message = message
        self.passed = passed


@dataclass
class Verifier:
    bundle: dict[str, Any]
    w3: Web3 | None = None
    passed: list[Check] = field(default_factory=list)

    def ok(self, name: str, detail: str) -> None:
        self.passed.append(Check(name, detail))

    def fail(self, name: str, message: str) -> VerificationError:
        return VerificationError(name, message, list(self.passed))

    def contract(self, rpc_url: str) -> TallyAnchor:
        self.w3 = self.w3 or connect(rpc_url)
        try:
            chain_id = int(self.w3.eth.chain_id)
        except Exception as exc:
            raise self.fail("chain", f"cannot reach {rpc_url}: {type(exc).__name__}") from None
        if chain_id != int(self.bundle["chainId"]):
            raise self.fail("chain", f"the RPC serves chain {chain_id}, "
                            f"the bundle names chain {self.bundle['chainId']}")
        address = Web3.to_checksum_address(self.bundle["contract"])
        if not self.w3.eth.get_code(address):
            raise self.fail("contract", f"no contract at {address} on chain {chain_id}")
        self.ok("chain", f"chain {chain_id}, contract {address} has code")
        return TallyAnchor(self.w3, address)

    def onchain_header(self, contract: TallyAnchor) -> EpochHeader:
        epoch = int(self.bundle["header"]["epoch"])
        latest = contract.latest_epoch()
        if epoch > latest:
            raise self.fail("epoch", f"epoch {epoch} is not anchored on-chain (latest is {latest})")
        header = contract.epoch(epoch)
        self.ok("epoch", f"epoch {epoch} anchored on-chain at {header.anchored_at} (latest {latest})")
        return header


def _b32(value: str) -> bytes:
    data = bytes.fromhex(value.removeprefix("0x"))
    if len(data) != 32:
        raise ValueError("not 32 bytes")
    return data


def _format(v: Verifier) -> None:
    fmt = v.bundle.get("format")
    if fmt not in SUPPORTED_FORMATS:
        raise v.fail("format", f"unknown bundle format {fmt!r}; this tool reads {', '.join(SUPPORTED_FORMATS)}")
    v.ok("format", str(fmt))


def verify_contribution(bundle: dict[str, Any], rpc_url: str, conversation: object | None = None,
                        w3: Web3 | None = None) -> list[Check]:
    v = Verifier(bundle, w3)
    _format(v)
    if bundle.get("kind") != "contribution":
        raise v.fail("format", "this is not a contribution proof")
    leaf = bundle["leaf"]
    try:
        content_hash = _b32(leaf["contentHash"])
        data = rfc9162.leaf_data(int(leaf["index"]), leaf["contributor"], content_hash, int(leaf["acceptedAt"]),
                                 int(leaf["points"]))
        proof = [_b32(p) for p in bundle["proof"]]
    except (KeyError, ValueError, TypeError) as exc:
        raise v.fail("leaf", f"the bundle's leaf or proof is malformed: {exc}") from None
    leaf_hash = rfc9162.leaf_hash(data)
    if "leafHash" in leaf and leaf["leafHash"] != "0x" + leaf_hash.hex():
        raise v.fail("leaf", f"the leaf fields hash to 0x{leaf_hash.hex()}, the bundle says {leaf['leafHash']}")
    v.ok("leaf", f"leaf {leaf['index']} recomputed from its fields: 0x{leaf_hash.hex()}")
    if conversation is not None:
        try:
            mine = hashlib.sha256(canonical_bytes(conversation)).digest()
        except ConversationError as exc:
            raise v.fail("conversation", f"your conversation cannot be normalised: {exc}") from None
        if mine != content_hash:
            raise v.fail("conversation", f"your conversation hashes to 0x{mine.hex()}, not {leaf['contentHash']}")
        v.ok("conversation", "your conversation hashes to the leaf's contentHash")
    contract = v.contract(rpc_url)
    onchain = v.onchain_header(contract)
    size, log_root = onchain.log_size, onchain.log_root
    header = bundle["header"]
    if (size, "0x" + log_root.hex()) != (int(header["logSize"]), header["logRoot"]):
        raise v.fail("header", f"the contract holds log size {size} root 0x{log_root.hex()} for epoch "
                     f"{header['epoch']}; the bundle says size {header['logSize']} root {header['logRoot']}")
    v.ok("header", f"the bundle's header equals the contract's: log size {size}, root 0x{log_root.hex()}")
    try:
        rfc9162.verify_inclusion(leaf_hash, int(leaf["index"]), size, proof, log_root)
    except ProofError as exc:
        raise v.fail("proof", f"the inclusion proof does not lead to the on-chain root: {exc}") from None
    v.ok("proof", f"RFC 9162 inclusion proof ({len(proof)} hashes) leads to the on-chain root")
    if not contract.verify_contribution(int(header["epoch"]), int(leaf["index"]), leaf["contributor"], content_hash,
                                        int(leaf["acceptedAt"]), int(leaf["points"]), proof):
        raise v.fail("contract", "the contract's verifyContribution view says false")
    v.ok("contract", "the contract's verifyContribution view agrees")
    return v.passed


def verify_balance(bundle: dict[str, Any], rpc_url: str, w3: Web3 | None = None) -> list[Check]:
    v = Verifier(bundle, w3)
    _format(v)
    if bundle.get("kind") != "balance":
        raise v.fail("format", "this is not a balance proof")
    leaf = bundle["leaf"]
    try:
        account = Web3.to_checksum_address(leaf["account"])
        balance = int(leaf["balance"])
        proof = [_b32(p) for p in bundle["proof"]]
    except (KeyError, ValueError, TypeError) as exc:
        raise v.fail("leaf", f"the bundle's leaf or proof is malformed: {exc}") from None
    v.ok("leaf", f"{account} with balance {balance}")
    contract = v.contract(rpc_url)
    balances_root = v.onchain_header(contract).balances_root
    header = bundle["header"]
    if "0x" + balances_root.hex() != header["balancesRoot"]:
        raise v.fail("header", f"the contract holds balances root 0x{balances_root.hex()} for epoch "
                     f"{header['epoch']}; the bundle says {header['balancesRoot']}")
    v.ok("header", f"the bundle's balances root equals the contract's: 0x{balances_root.hex()}")
    if not StandardMerkleTree.verify("0x" + balances_root.hex(), ["address", "uint256"], [account, balance],
                                     ["0x" + p.hex() for p in proof]):
        raise v.fail("proof", "the balance proof does not lead to the on-chain balances root")
    v.ok("proof", f"OpenZeppelin Merkle proof ({len(proof)} hashes) leads to the on-chain root")
    if not contract.verify_balance(int(header["epoch"]), account, balance, proof):
        raise v.fail("contract", "the contract's verifyBalance view says false")
    v.ok("contract", "the contract's verifyBalance view agrees")
    return v.passed


def load_bundle(text: str) -> dict[str, Any]:
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("a proof bundle is a JSON object")
    return data
