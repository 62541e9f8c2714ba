"""Checking a proof bundle against the chain itself, trusting nothing the API said.

Every check recomputes from the bundle's fields with our own code, then reads the hash of the
epoch's header from the contract over JSON-RPC and compares it with the hash of the bundle's
header (so the log size and roots the proof is checked against are the anchored ones), then asks
the contract's verify view, given that header, for a second opinion. The first check that fails
raises a ``VerificationError`` naming it; the checks that passed before it are kept on the error
for reporting.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import TypeVar

from web3 import Web3

from anchoring.chain import connect
from anchoring.contract import EpochHeader, TallyAnchor
from ledger.batch_consent import BatchConsentError, BatchMessage, verify_item
from ledger.conversation import Conversation, ConversationError, canonical_bytes, normalise
from ledger.eip712 import Domain
from ledger.encoding import hex0x
from ledger.errors import VerificationFailure
from ledger.formats import (
    BALANCE_ENCODING,
    FORMAT,
    BalanceBundle,
    BundleEnvelope,
    BundleHeader,
    ContributionBundle,
    InvalidBundleError,
    LogLeaf,
    ProofBundle,
    parse_bundle,
)
from ledger.merkle import ProofError
from ledger.merkle import log as rfc9162
from ledger.merkle.standard import StandardMerkleTree
from ledger.scoring import (
    InvalidFeaturesError,
    UnknownScorerError,
    exactly_recorded,
    features_of,
    points_from_features,
)

SUPPORTED_FORMATS = (FORMAT,)

Bundle = TypeVar("Bundle", ContributionBundle, BalanceBundle)


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    detail: str


class VerificationError(VerificationFailure):
    """A check failed; ``check`` names it and ``passed`` lists the checks before it."""

    def __init__(self, check: str, message: str, passed: list[Check]) -> None:
        super().__init__(f"{check}: {message}", check=check)
        self.check = check
        self.message = message
        self.passed = passed


@dataclass
class Verifier:
    w3: Web3 | None = None
    passed: list[Check] = field(default_factory=list)

    def ok(self, name: str, detail: str) -> None:
        self.passed.append(Check(name, detail))

    def fail(self, name: str, message: str) -> VerificationError:
        return VerificationError(name, message, list(self.passed))

    def read(self, bundle: object, kind: type[Bundle]) -> Bundle:
        """The typed bundle, from a typed one or from parsed JSON: a wrong format or kind fails
        the "format" check, a malformed leaf or proof the "leaf" check, any other malformed field
        the "format" check, each naming the field."""
        if isinstance(bundle, (ContributionBundle, BalanceBundle)):
            if not isinstance(bundle, kind):
                raise self.fail("format", f"this is not a {kind.kind} proof")
            self.ok("format", FORMAT)
            return bundle
        try:
            typed = kind.from_json(bundle)
        except InvalidBundleError as exc:
            if exc.field == "format":
                given = bundle.get("format") if isinstance(bundle, dict) else None
                raise self.fail("format", f"unknown bundle format {given!r}; this tool reads "
                                f"{', '.join(SUPPORTED_FORMATS)}") from None
            if exc.field == "kind":
                raise self.fail("format", f"this is not a {kind.kind} proof") from None
            if exc.field.startswith(("leaf", "proof")):
                self.ok("format", FORMAT)
                raise self.fail("leaf", f"the bundle's leaf or proof is malformed: {exc}") from None
            raise self.fail("format", f"the bundle is malformed: {exc}") from None
        self.ok("format", FORMAT)
        return typed

    def contract(self, envelope: BundleEnvelope, rpc_url: str) -> TallyAnchor:
        self.w3 = self.w3 or connect(rpc_url)
        try:
            chain_id = int(self.w3.eth.chain_id)
        except Exception as exc:
            raise self.fail("chain", f"cannot reach {rpc_url}: {type(exc).__name__}") from None
        if chain_id != envelope.chain_id:
            raise self.fail("chain", f"the RPC serves chain {chain_id}, the bundle names chain {envelope.chain_id}")
        address = Web3.to_checksum_address(envelope.contract)
        if not self.w3.eth.get_code(address):
            raise self.fail("contract", f"no contract at {address} on chain {chain_id}")
        self.ok("chain", f"chain {chain_id}, contract {address} has code")
        return TallyAnchor(self.w3, address)

    def anchored_header(self, contract: TallyAnchor, header: BundleHeader) -> EpochHeader:
        """The "epoch" check (the contract holds the epoch) and the "header" check (the bundle's
        header is the one it holds: the hash the contract stored is the hash of these fields)."""
        epoch = header.epoch
        latest = contract.latest_epoch()
        if not 1 <= epoch <= latest:
            raise self.fail("epoch", f"epoch {epoch} is not anchored on-chain (latest is {latest})")
        stored = contract.header_hash(epoch)
        self.ok("epoch", f"epoch {epoch} is anchored on-chain (latest {latest})")
        ours = EpochHeader.of(header)
        if stored != ours.hash():
            raise self.fail("header", f"the contract holds the header hash {hex0x(stored)} for epoch {epoch}; "
                            f"the bundle's header (log size {header.log_size}, root {hex0x(header.log_root)}, "
                            f"balances root {hex0x(header.balances_root)}, total {header.total_points}) "
                            f"hashes to {hex0x(ours.hash())}")
        self.ok("header", f"the bundle's header is the one anchored (hash {hex0x(stored)}): log size "
                f"{header.log_size}, root {hex0x(header.log_root)}, balances root {hex0x(header.balances_root)}")
        return ours


def verify_contribution(bundle: ContributionBundle | object, rpc_url: str, conversation: object | None = None,
                        w3: Web3 | None = None) -> list[Check]:
    """Check a contribution bundle (typed, or its parsed JSON) against the chain at ``rpc_url``."""
    v = Verifier(w3)
    typed = v.read(bundle, ContributionBundle)
    leaf, header, proof = typed.leaf.log_leaf, typed.envelope.header, list(typed.proof)
    leaf_hash = leaf.leaf_hash()
    if typed.leaf.leaf_hash is not None and typed.leaf.leaf_hash != leaf_hash:
        raise v.fail("leaf", f"the leaf fields hash to {hex0x(leaf_hash)}, "
                     f"the bundle says {hex0x(typed.leaf.leaf_hash)}")
    v.ok("leaf", f"leaf {leaf.index} recomputed from its fields: {hex0x(leaf_hash)}")
    if typed.consent is not None:
        check_batch_consent(v, typed)
    normalised: Conversation | None = None
    if conversation is not None:
        try:
            normalised = normalise(conversation)
            mine = hashlib.sha256(canonical_bytes(normalised)).digest()
        except ConversationError as exc:
            raise v.fail("conversation", f"your conversation cannot be normalised: {exc}") from None
        if mine != leaf.content_hash:
            raise v.fail("conversation", f"your conversation hashes to {hex0x(mine)}, not {hex0x(leaf.content_hash)}")
        v.ok("conversation", "your conversation hashes to the leaf's contentHash")
    check_score(v, leaf, normalised)
    contract = v.contract(typed.envelope, rpc_url)
    anchored = v.anchored_header(contract, header)
    try:
        rfc9162.verify_inclusion(leaf_hash, leaf.index, anchored.log_size, proof, anchored.log_root)
    except ProofError as exc:
        raise v.fail("proof", f"the inclusion proof does not lead to the on-chain root: {exc}") from None
    v.ok("proof", f"RFC 9162 inclusion proof ({len(proof)} hashes) leads to the on-chain root")
    if not contract.verify_contribution(anchored, leaf.index, leaf.contributor, leaf.content_hash,
                                        leaf.accepted_at, leaf.points, proof):
        raise v.fail("contract", "the contract's verifyContribution view says false")
    v.ok("contract", "the contract's verifyContribution view agrees")
    return v.passed


def check_batch_consent(v: Verifier, bundle: ContributionBundle) -> None:
    """The "consent" check of a batch-consented contribution (ledger.batch_consent): the leaf's
    contentHash and the item's proof lead to the batch's contentsRoot, and the ContributionBatch
    signature, over the bundle's chain and contract, recovers to the leaf's contributor. The
    failure names which (``batch-proof-mismatch`` or ``batch-signer-mismatch``) and keeps the
    named error as its cause."""
    consent, leaf = bundle.consent, bundle.leaf.log_leaf
    assert consent is not None
    message = BatchMessage(leaf.contributor, consent.contents_root, consent.count, consent.terms_hash, consent.nonce,
                           consent.issued_at)
    domain = Domain(bundle.envelope.chain_id, bundle.envelope.contract)
    try:
        verify_item(domain, message, leaf.content_hash, consent.proof, consent.signature)
    except BatchConsentError as exc:
        failure = v.fail("consent", f"{exc.code}: {exc}")
        failure.extensions["reason"] = exc.code
        raise failure from exc
    v.ok("consent", f"the contributor's ContributionBatch signature covers {consent.count} conversations, this one "
                    f"among them ({len(consent.proof)}-hash proof to contentsRoot {hex0x(consent.contents_root)})")


def check_score(v: Verifier, leaf: LogLeaf, conversation: Conversation | None) -> None:
    """The "score" check: the leaf's features give its points under its scorer's rules, and, with
    your conversation, your conversation gives those features. The points are in the leaf hash,
    which the chain checks next: so the on-chain points are the ones your conversation earns.
    A bundle made before leaves named their scorer has nothing to check here."""
    if leaf.scorer is None or leaf.features is None:
        return
    try:
        points = points_from_features(leaf.scorer, leaf.features)
        mine = None if conversation is None else features_of(leaf.scorer, conversation)
    except (UnknownScorerError, InvalidFeaturesError) as exc:
        raise v.fail("score", f"the leaf's scoring cannot be recomputed: {exc}") from None
    if points != leaf.points:
        raise v.fail("score", f"the leaf's features give {points} points under {leaf.scorer}, "
                     f"the leaf says {leaf.points}")
    if mine is None:
        v.ok("score", f"the leaf's features give its {points} points under {leaf.scorer}")
        return
    for name in exactly_recorded(leaf.scorer):
        if mine[name] != leaf.features.get(name):
            raise v.fail("score", f"your conversation has {name} {mine[name]}, the leaf says "
                         f"{leaf.features.get(name)}")
    if points_from_features(leaf.scorer, mine) != leaf.points:
        raise v.fail("score", f"your conversation earns {points_from_features(leaf.scorer, mine)} points under "
                     f"{leaf.scorer}, the leaf says {leaf.points}")
    v.ok("score", f"your conversation's features are the leaf's and give its {points} points under {leaf.scorer}")


def verify_balance(bundle: BalanceBundle | object, rpc_url: str, w3: Web3 | None = None) -> list[Check]:
    """Check a balance bundle (typed, or its parsed JSON) against the chain at ``rpc_url``."""
    v = Verifier(w3)
    typed = v.read(bundle, BalanceBundle)
    account, balance, header = Web3.to_checksum_address(typed.leaf.account), typed.leaf.balance, typed.envelope.header
    proof = list(typed.proof)
    v.ok("leaf", f"{account} with balance {balance}")
    contract = v.contract(typed.envelope, rpc_url)
    anchored = v.anchored_header(contract, header)
    if not StandardMerkleTree.verify(hex0x(anchored.balances_root), BALANCE_ENCODING, [account, balance],
                                     [hex0x(p) for p in proof]):
        raise v.fail("proof", "the balance proof does not lead to the on-chain balances root")
    v.ok("proof", f"OpenZeppelin Merkle proof ({len(proof)} hashes) leads to the on-chain root")
    if not contract.verify_balance(anchored, account, balance, proof):
        raise v.fail("contract", "the contract's verifyBalance view says false")
    v.ok("contract", "the contract's verifyBalance view agrees")
    return v.passed


def load_bundle(text: str) -> ProofBundle:
    """The bundle in ``text``: ``InvalidBundleError`` naming the field if it is not one."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise InvalidBundleError("bundle", f"is not JSON: {exc}") from None
    return parse_bundle(data)
