"""Proof bundles (``"format": "tally-proof-v1"``, docs/proofs.md): a leaf, its proof and the
epoch header it proves against, checked by anyone against the chain without trusting the API.

``ledger.proofs`` builds them from the ledger, ``anchoring.verify`` (and the contributor page,
``api/static/verify.js``) reads them. ``verify``, the arguments of the contract's verify view,
is made from the leaf, the proof and the epoch by ``ContributionBundle.of`` / ``BalanceBundle.of``
and read back as it was given: a bundle whose proof was tampered with must still parse, so that
the verifier reports a failed "proof" check rather than a malformed bundle (the page checks the
arguments last, for the same reason).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar

from ledger.encoding import SIGNATURE_PATTERN, hex0x
from ledger.formats import fields as f
from ledger.formats.fields import InvalidDocumentError
from ledger.formats.manifest import LogLeaf

FORMAT = "tally-proof-v1"
CONTRIBUTION = "contribution"
BALANCE = "balance"
HEADER_TYPE = "(uint64,uint64,bytes32,bytes32,uint128)"
"""``ITallyAnchor.EpochHeader`` as an ABI tuple: epoch, logSize, logRoot, balancesRoot, totalPoints."""
CONTRIBUTION_SIGNATURE = f"verifyContribution({HEADER_TYPE},uint64,address,bytes32,uint64,uint128,bytes32[])"
BALANCE_SIGNATURE = f"verifyBalance({HEADER_TYPE},address,uint256,bytes32[])"


class InvalidBundleError(InvalidDocumentError):
    """A proof bundle does not parse; the message names the field, e.g. ``header.logRoot``."""

    code = "invalid-bundle"


@dataclass(frozen=True, slots=True)
class BundleHeader:
    """The epoch header a bundle proves against, as the ledger recorded it."""

    epoch: int
    state: str
    log_size: int
    log_root: bytes
    balances_root: bytes
    total_points: int
    manifest_cid: str
    sealed_at: int

    def to_json(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "state": self.state, "logSize": self.log_size, "logRoot": hex0x(self.log_root),
                "balancesRoot": hex0x(self.balances_root), "totalPoints": str(self.total_points),
                "manifestCid": self.manifest_cid, "sealedAt": self.sealed_at}

    def call_argument(self) -> list[int | str]:
        """The header as the verify views take it: the tuple of the contract's ``EpochHeader``,
        whose hash the contract stored (docs/contract.md)."""
        return [self.epoch, self.log_size, hex0x(self.log_root), hex0x(self.balances_root), str(self.total_points)]

    def call_fields(self) -> dict[str, str]:
        """The same, one text box per member, as explorers show a tuple argument."""
        return {"header.epoch": str(self.epoch), "header.logSize": str(self.log_size),
                "header.logRoot": hex0x(self.log_root), "header.balancesRoot": hex0x(self.balances_root),
                "header.totalPoints": str(self.total_points)}

    @classmethod
    def read(cls, o: dict[str, Any], at: str = "header") -> BundleHeader:
        return cls(f.uint(o, at, "epoch"), f.text(o, at, "state"), f.uint(o, at, "logSize"),
                   f.hash32(o, at, "logRoot"), f.hash32(o, at, "balancesRoot"), f.decimal(o, at, "totalPoints"),
                   f.text(o, at, "manifestCid"), f.uint(o, at, "sealedAt"))


@dataclass(frozen=True, slots=True)
class AnchoringTransaction:
    """The transaction that anchored the epoch; hashes kept as the node spelled them."""

    hash: str
    block_number: int
    block_hash: str

    def to_json(self) -> dict[str, Any]:
        return {"hash": self.hash, "blockNumber": self.block_number, "blockHash": self.block_hash}

    @classmethod
    def read(cls, o: dict[str, Any], at: str = "transaction") -> AnchoringTransaction:
        return cls(f.hash_text(o, at, "hash"), f.uint(o, at, "blockNumber"), f.hash_text(o, at, "blockHash"))


@dataclass(frozen=True, slots=True)
class ExplorerLinks:
    """Links to the contract, its "Read contract" tab and the anchoring transaction."""

    contract: str
    read_contract: str
    transaction: str | None = None

    def to_json(self) -> dict[str, Any]:
        links = {"contract": self.contract, "readContract": self.read_contract}
        if self.transaction is not None:
            links["transaction"] = self.transaction
        return links

    @classmethod
    def read(cls, o: dict[str, Any], at: str = "explorer") -> ExplorerLinks:
        return cls(f.text(o, at, "contract"), f.text(o, at, "readContract"),
                   f.text(o, at, "transaction") if "transaction" in o else None)


@dataclass(frozen=True, slots=True)
class BundleEnvelope:
    """What every bundle names besides its leaf: the chain, the contract and the epoch header."""

    chain_id: int
    contract: str
    rpc_url: str | None
    header: BundleHeader
    transaction: AnchoringTransaction | None
    explorer: ExplorerLinks | None

    def to_json(self, kind: str) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "kind": kind,
            "chainId": self.chain_id,
            "contract": self.contract,
            "rpcUrl": self.rpc_url,
            "header": self.header.to_json(),
            "transaction": None if self.transaction is None else self.transaction.to_json(),
            "explorer": None if self.explorer is None else self.explorer.to_json(),
        }

    @classmethod
    def read(cls, o: dict[str, Any]) -> BundleEnvelope:
        chain_id, contract, rpc_url = f.uint(o, "", "chainId"), f.checked_address(o, "", "contract"), \
            f.optional_text(o, "", "rpcUrl")
        header = BundleHeader.read(f.obj(o, "", "header"))
        transaction = f.optional_obj(o, "", "transaction")
        explorer = f.optional_obj(o, "", "explorer")
        return cls(chain_id, contract, rpc_url, header,
                   None if transaction is None else AnchoringTransaction.read(transaction),
                   None if explorer is None else ExplorerLinks.read(explorer))


def _proof_text(proof: tuple[bytes, ...]) -> list[str]:
    return [hex0x(p) for p in proof]


def _compact(value: object) -> str:
    """JSON without spaces: the text box form of an array argument."""
    return json.dumps(value, separators=(",", ":"))


CallArgument = int | str | tuple[int | str, ...]


@dataclass(frozen=True, slots=True)
class VerifyCall:
    """The contract's verify view and its arguments: as a list (for a library) and as one text
    box each (for an explorer's "Read contract" tab)."""

    function: str
    args: tuple[CallArgument, ...]
    fields: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, function: str, args: list[int | str | list[str] | list[int | str]],
           fields: dict[str, str]) -> VerifyCall:
        return cls(function, tuple(tuple(a) if isinstance(a, list) else a for a in args), tuple(fields.items()))

    def to_json(self) -> dict[str, Any]:
        return {"function": self.function, "args": [list(a) if isinstance(a, tuple) else a for a in self.args],
                "fields": dict(self.fields)}

    @classmethod
    def read(cls, o: dict[str, Any], at: str = "verify") -> VerifyCall:
        function = f.text(o, at, "function")
        given, args = f.items(o, at, "args"), list[CallArgument]()
        for i, value in enumerate(given):
            if _scalar(value):
                args.append(value)
            elif isinstance(value, list) and all(_scalar(item) for item in value):
                args.append(tuple(value))
            else:
                raise f.wrong(f"{at}.args", i, "must be an integer, a string or a list of them")
        fields = f.obj(o, at, "fields")
        return cls(function, tuple(args), tuple((name, f.string(fields, f"{at}.fields", name)) for name in fields))


def _scalar(value: object) -> bool:
    return type(value) is int or isinstance(value, str)


def _document(obj: object) -> dict[str, Any]:
    o = f.document(obj, "bundle")
    f.constant(o, "", "format", FORMAT)
    return o


@dataclass(frozen=True, slots=True)
class ContributionLeaf:
    """A contribution's log leaf, with its id in the ledger and (optionally) its leaf hash."""

    id: int
    log_leaf: LogLeaf
    leaf_hash: bytes | None

    def to_json(self) -> dict[str, Any]:
        leaf: dict[str, Any] = {"id": self.id, **self.log_leaf.to_json()}
        if self.leaf_hash is not None:
            leaf["leafHash"] = hex0x(self.leaf_hash)
        return leaf

    @classmethod
    def read(cls, o: dict[str, Any], at: str = "leaf") -> ContributionLeaf:
        identifier = f.uint(o, at, "id")
        # A leaf names its scorer and features since manifests do (version 2); older bundles do not.
        log_leaf = LogLeaf.read(o, at, scored="scorer" in o or "features" in o)
        return cls(identifier, log_leaf, f.hash32(o, at, "leafHash") if "leafHash" in o else None)


BATCH_PRIMARY_TYPE = "ContributionBatch"


@dataclass(frozen=True, slots=True)
class BatchConsentProof:
    """The ContributionBatch consent that covers a contribution (docs/formats.md, "Batch
    consent"): the signed message (its contributor the leaf's), the signature, and the item's
    proof from its contentHash to ``contentsRoot``. The EIP-712 domain is the bundle's chain and
    contract."""

    contents_root: bytes
    count: int
    terms_hash: bytes
    nonce: int
    issued_at: int
    signature: bytes
    proof: tuple[bytes, ...]

    def to_json(self, contributor: str) -> dict[str, Any]:
        return {"primaryType": BATCH_PRIMARY_TYPE,
                "message": {"contributor": contributor, "contentsRoot": hex0x(self.contents_root),
                            "count": self.count, "termsHash": hex0x(self.terms_hash), "nonce": str(self.nonce),
                            "issuedAt": self.issued_at},
                "signature": hex0x(self.signature), "proof": _proof_text(self.proof)}

    @classmethod
    def read(cls, o: dict[str, Any], at: str = "consent") -> BatchConsentProof:
        f.constant(o, at, "primaryType", BATCH_PRIMARY_TYPE)
        message = f.obj(o, at, "message")
        where = f"{at}.message"
        signature = f.text(o, at, "signature")
        if not SIGNATURE_PATTERN.fullmatch(signature):
            raise f.wrong(at, "signature", "must be 0x + 130 hex")
        return cls(f.hash32(message, where, "contentsRoot"), f.uint(message, where, "count"),
                   f.hash32(message, where, "termsHash"), f.decimal(message, where, "nonce"),
                   f.uint(message, where, "issuedAt"), bytes.fromhex(signature[2:]), f.hashes(o, at, "proof"))


@dataclass(frozen=True, slots=True)
class ContributionBundle:
    """An RFC 9162 inclusion proof of one contribution against an anchored epoch's log; with
    ``consent``, the ContributionBatch consent that covers it."""

    envelope: BundleEnvelope
    leaf: ContributionLeaf
    proof: tuple[bytes, ...]
    verify: VerifyCall
    consent: BatchConsentProof | None = None

    kind: ClassVar[str] = CONTRIBUTION

    @classmethod
    def of(cls, envelope: BundleEnvelope, leaf: ContributionLeaf, proof: tuple[bytes, ...],
           consent: BatchConsentProof | None = None) -> ContributionBundle:
        """The bundle, with the ``verifyContribution`` call of exactly this leaf and proof."""
        log_leaf, header, proof_text = leaf.log_leaf, envelope.header, _proof_text(proof)
        content_hash = hex0x(log_leaf.content_hash)
        call = VerifyCall.of(
            CONTRIBUTION_SIGNATURE,
            [header.call_argument(), log_leaf.index, log_leaf.contributor, content_hash, log_leaf.accepted_at,
             str(log_leaf.points), proof_text],
            {**header.call_fields(), "index": str(log_leaf.index), "contributor": log_leaf.contributor,
             "contentHash": content_hash, "acceptedAt": str(log_leaf.accepted_at), "points": str(log_leaf.points),
             "proof": _compact(proof_text)})
        return cls(envelope, leaf, proof, call, consent)

    def to_json(self) -> dict[str, Any]:
        bundle = {**self.envelope.to_json(CONTRIBUTION), "leaf": self.leaf.to_json(),
                  "proof": _proof_text(self.proof), "verify": self.verify.to_json()}
        if self.consent is not None:
            bundle["consent"] = self.consent.to_json(self.leaf.log_leaf.contributor)
        return bundle

    @classmethod
    def from_json(cls, obj: object) -> ContributionBundle:
        """The bundle in ``obj`` (parsed JSON), or ``InvalidBundleError`` naming the first bad field."""
        with f.reported_as(InvalidBundleError):
            o = _document(obj)
            f.constant(o, "", "kind", CONTRIBUTION)
            return cls._read(o)

    @classmethod
    def _read(cls, o: dict[str, Any]) -> ContributionBundle:
        leaf = ContributionLeaf.read(f.obj(o, "", "leaf"))
        consent = f.optional_obj(o, "", "consent") if "consent" in o else None
        batch = None if consent is None else BatchConsentProof.read(consent)
        if consent is not None:
            contributor = f.checked_address(f.obj(consent, "consent", "message"), "consent.message", "contributor")
            if contributor.lower() != leaf.log_leaf.contributor.lower():
                raise f.wrong("consent.message", "contributor", "must be the leaf's contributor")
        return cls(BundleEnvelope.read(o), leaf, f.hashes(o, "", "proof"), VerifyCall.read(f.obj(o, "", "verify")),
                   batch)


@dataclass(frozen=True, slots=True)
class BalanceLeaf:
    """An account's balance in the epoch's balances tree."""

    account: str
    balance: int
    leaf_hash: bytes | None

    def to_json(self) -> dict[str, Any]:
        leaf: dict[str, Any] = {"account": self.account, "balance": str(self.balance)}
        if self.leaf_hash is not None:
            leaf["leafHash"] = hex0x(self.leaf_hash)
        return leaf

    @classmethod
    def read(cls, o: dict[str, Any], at: str = "leaf") -> BalanceLeaf:
        return cls(f.checked_address(o, at, "account"), f.decimal(o, at, "balance"),
                   f.hash32(o, at, "leafHash") if "leafHash" in o else None)


@dataclass(frozen=True, slots=True)
class BalanceBundle:
    """An OpenZeppelin Merkle proof of an account's balance against an anchored balances root."""

    envelope: BundleEnvelope
    leaf: BalanceLeaf
    proof: tuple[bytes, ...]
    verify: VerifyCall

    kind: ClassVar[str] = BALANCE

    @classmethod
    def of(cls, envelope: BundleEnvelope, leaf: BalanceLeaf, proof: tuple[bytes, ...]) -> BalanceBundle:
        """The bundle, with the ``verifyBalance`` call of exactly this leaf and proof."""
        header, proof_text, balance = envelope.header, _proof_text(proof), str(leaf.balance)
        call = VerifyCall.of(BALANCE_SIGNATURE, [header.call_argument(), leaf.account, balance, proof_text],
                             {**header.call_fields(), "account": leaf.account, "balance": balance,
                              "proof": _compact(proof_text)})
        return cls(envelope, leaf, proof, call)

    def to_json(self) -> dict[str, Any]:
        return {**self.envelope.to_json(BALANCE), "leaf": self.leaf.to_json(), "proof": _proof_text(self.proof),
                "verify": self.verify.to_json()}

    @classmethod
    def from_json(cls, obj: object) -> BalanceBundle:
        """The bundle in ``obj`` (parsed JSON), or ``InvalidBundleError`` naming the first bad field."""
        with f.reported_as(InvalidBundleError):
            o = _document(obj)
            f.constant(o, "", "kind", BALANCE)
            return cls._read(o)

    @classmethod
    def _read(cls, o: dict[str, Any]) -> BalanceBundle:
        return cls(BundleEnvelope.read(o), BalanceLeaf.read(f.obj(o, "", "leaf")), f.hashes(o, "", "proof"),
                   VerifyCall.read(f.obj(o, "", "verify")))


ProofBundle = ContributionBundle | BalanceBundle


def parse_bundle(obj: object) -> ProofBundle:
    """A contribution or a balance bundle, by its ``kind``; ``InvalidBundleError`` naming the
    first bad field otherwise."""
    with f.reported_as(InvalidBundleError):
        o = _document(obj)
        kind = o.get("kind")
        if kind == CONTRIBUTION:
            return ContributionBundle._read(o)
        if kind == BALANCE:
            return BalanceBundle._read(o)
        raise f.wrong("", "kind", f'must be "{CONTRIBUTION}" or "{BALANCE}"')
