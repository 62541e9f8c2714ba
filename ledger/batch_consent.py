"""One signature for a selection: the EIP-712 ``ContributionBatch`` consent (docs/formats.md,
"Batch consent"; DESIGN.md §3).

A contributor who shares many conversations at once signs one ``ContributionBatch`` message over
``contentsRoot``, the root of ``StandardMerkleTree.of([[contentHash] for each item in submission
order], ["bytes32"])`` in the format of ``@openzeppelin/merkle-tree`` (the balances tree's,
``ledger.merkle.standard``). The consent to one item is then the batch signature plus that
item's proof: the siblings from its leaf to ``contentsRoot``. Because the library sorts the
leaves by hash, the root does not depend on the order the items were submitted in; a proof
belongs to one contentHash, not to a position.

Verifying an item's consent is two checks, each failing with its own error: the item's
contentHash and proof lead to ``contentsRoot`` (``BatchProofMismatchError``), and the signature
over the batch message recovers to the contributor (``BatchSignerMismatchError``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ledger import eip712
from ledger.encoding import checksum, hex0x
from ledger.errors import InvalidInputError, VerificationFailure
from ledger.merkle.standard import StandardMerkleTree, standard_leaf_hash, standard_node_hash

CONTENTS_ENCODING = ("bytes32",)
"""The leaf encoding of the contents tree: one ``bytes32``, the item's contentHash."""
MAX_BATCH_COUNT = (1 << 32) - 1
"""``count`` is a ``uint32``."""


class BatchCountMismatchError(InvalidInputError):
    """``count`` is not the number of conversations the batch carries."""

    code = "batch-count-mismatch"


class BatchConsentError(VerificationFailure):
    """An item's batch consent does not check out; each subclass says which part."""

    code = "batch-consent-invalid"


class BatchProofMismatchError(BatchConsentError):
    """The item's contentHash and proof do not lead to the batch's ``contentsRoot``."""

    code = "batch-proof-mismatch"


class BatchSignerMismatchError(BatchConsentError):
    """The signature over the ``ContributionBatch`` message recovers to another address than the
    contributor (or to none)."""

    code = "batch-signer-mismatch"


@dataclass(frozen=True, slots=True)
class BatchMessage:
    """The ``ContributionBatch`` message a contributor signs."""

    contributor: str
    contents_root: bytes
    count: int
    terms_hash: bytes
    nonce: int
    issued_at: int

    def digest(self, domain: eip712.Domain) -> bytes:
        return domain.batch_digest(self.contributor, self.contents_root, self.count, self.terms_hash, self.nonce,
                                   self.issued_at)

    def to_json(self) -> dict[str, object]:
        """The message as ``eth_signTypedData_v4`` takes it (integers of 64 bits and more as strings)."""
        return {"contributor": checksum(self.contributor), "contentsRoot": hex0x(self.contents_root),
                "count": self.count, "termsHash": hex0x(self.terms_hash), "nonce": str(self.nonce),
                "issuedAt": self.issued_at}


def contents_tree(content_hashes: Sequence[bytes]) -> StandardMerkleTree:
    """The OpenZeppelin tree of the items' contentHashes, in submission order."""
    return StandardMerkleTree.of([(h,) for h in content_hashes], CONTENTS_ENCODING)


def contents_root(content_hashes: Sequence[bytes]) -> bytes:
    """``contentsRoot`` of a batch of these contentHashes."""
    return bytes.fromhex(contents_tree(content_hashes).root[2:])


def item_proofs(content_hashes: Sequence[bytes]) -> tuple[bytes, list[tuple[bytes, ...]]]:
    """The root and the proof of every item, in submission order (one tree built once)."""
    tree = contents_tree(content_hashes)
    proofs = []
    for i in range(len(content_hashes)):
        raw = tree.proof_bytes(i)
        proofs.append(tuple(raw[j:j + 32] for j in range(0, len(raw), 32)))
    return bytes.fromhex(tree.root[2:]), proofs


def root_from_proof(content_hash: bytes, proof: Sequence[bytes]) -> bytes:
    """The root an item's proof leads to (``MerkleProof.processProof`` over the double-hashed leaf)."""
    node = standard_leaf_hash(CONTENTS_ENCODING, (content_hash,))
    for sibling in proof:
        if len(sibling) != 32:
            raise BatchProofMismatchError(f"a proof element is {len(sibling)} bytes, not 32")
        node = standard_node_hash(node, sibling)
    return node


def max_proof_length(count: int) -> int:
    """The longest proof a tree of ``count`` leaves has: ceil(log2(count))."""
    return (count - 1).bit_length() if count > 1 else 0


def verify_item(domain: eip712.Domain, message: BatchMessage, content_hash: bytes, proof: Sequence[bytes],
                signature: bytes) -> None:
    """Check one item's batch consent: its proof leads to ``contentsRoot`` and the signature over
    the batch message recovers to the contributor. Raises the named error of the first that fails."""
    if not 1 <= message.count <= MAX_BATCH_COUNT:
        raise BatchProofMismatchError(f"count {message.count} is no batch size (1 to 2^32 - 1)")
    if len(proof) > max_proof_length(message.count):
        raise BatchProofMismatchError(f"the proof has {len(proof)} hashes; a batch of {message.count} needs at most "
                                      f"{max_proof_length(message.count)}")
    reached = root_from_proof(content_hash, proof)
    if reached != message.contents_root:
        raise BatchProofMismatchError(f"contentHash {hex0x(content_hash)} and its proof lead to {hex0x(reached)}, "
                                      f"not to contentsRoot {hex0x(message.contents_root)}")
    try:
        signer = eip712.recover_address(message.digest(domain), signature)
    except eip712.SignatureError as exc:
        raise BatchSignerMismatchError(f"the batch signature cannot be recovered: {exc}") from None
    if signer != bytes.fromhex(message.contributor[2:]):
        raise BatchSignerMismatchError(f"the ContributionBatch signature recovers to {checksum(hex0x(signer))}, "
                                       f"not to the contributor {checksum(message.contributor)}")
