"""The ledger's two Merkle trees.

* :mod:`ledger.merkle.log`: the contribution log, RFC 9162 (Certificate Transparency v2) with
  SHA-256: hashing, inclusion and consistency proofs, and their verification (DESIGN.md §4).
* :mod:`ledger.merkle.memory`: the same log held in memory, for serving many proofs.
* :mod:`ledger.merkle.stored`: the same log stored in the database as tiles, for a log that grows
  forever.
* :mod:`ledger.merkle.standard`: the per-epoch balances tree in the exact format of
  ``@openzeppelin/merkle-tree``'s ``StandardMerkleTree`` (DESIGN.md §5).
* :mod:`ledger.merkle.errors`: the named errors a failed verification raises (and those of a
  malformed tree, an unknown leaf, a concurrent append), on the bases of :mod:`ledger.errors`.

Submodules are imported on demand, so that ``import ledger.merkle.log`` stays light.
"""

from .errors import (
    ConsistencyProofError,
    InclusionProofError,
    MerkleError,
    ProofError,
    ProofSizeError,
    RootMismatchError,
)

__all__ = [
    "ConsistencyProofError",
    "InclusionProofError",
    "MerkleError",
    "ProofError",
    "ProofSizeError",
    "RootMismatchError",
]
