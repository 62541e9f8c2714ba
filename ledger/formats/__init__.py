"""Tally's public JSON documents as typed values: the epoch manifest and the proof bundles.

Each type writes its document with ``to_json()`` (the exact JSON that is hashed, stored and
served) and reads one back with ``from_json(obj)``, which checks every field and raises an
``InvalidInputError`` naming the first bad one by its path (``log.leaves[3].points: must be a
decimal string``): ``InvalidManifestError`` (``invalid-manifest``) or ``InvalidBundleError``
(``invalid-bundle``). Unknown members are ignored on reading and never written.
"""

from ledger.formats.bundles import (
    BALANCE_SIGNATURE,
    CONTRIBUTION_SIGNATURE,
    FORMAT,
    AnchoringTransaction,
    BalanceBundle,
    BalanceLeaf,
    BundleEnvelope,
    BundleHeader,
    ContributionBundle,
    ContributionLeaf,
    ExplorerLinks,
    InvalidBundleError,
    ProofBundle,
    VerifyCall,
    parse_bundle,
)
from ledger.formats.fields import InvalidDocumentError
from ledger.formats.manifest import (
    BALANCE_ENCODING,
    MANIFEST_VERSION,
    SCORED_SINCE,
    InvalidManifestError,
    JournalLine,
    LogLeaf,
    Manifest,
    ManifestBalances,
    ManifestLog,
    PreviousEpoch,
    Scorer,
)

__all__ = [
    "BALANCE_ENCODING",
    "BALANCE_SIGNATURE",
    "CONTRIBUTION_SIGNATURE",
    "FORMAT",
    "MANIFEST_VERSION",
    "SCORED_SINCE",
    "AnchoringTransaction",
    "BalanceBundle",
    "BalanceLeaf",
    "BundleEnvelope",
    "BundleHeader",
    "ContributionBundle",
    "ContributionLeaf",
    "ExplorerLinks",
    "InvalidBundleError",
    "InvalidDocumentError",
    "InvalidManifestError",
    "JournalLine",
    "LogLeaf",
    "Manifest",
    "ManifestBalances",
    "ManifestLog",
    "PreviousEpoch",
    "ProofBundle",
    "Scorer",
    "VerifyCall",
    "parse_bundle",
]
