"""Tally's public JSON documents as typed values: the epoch manifest, the balances snapshot and
the proof bundles.

Each type writes its document with ``to_json()`` (the exact JSON that is hashed, stored and
served) and reads one back with ``from_json(obj)``, which checks every field and raises an
``InvalidInputError`` naming the first bad one by its path (``log.leaves[3].points: must be a
decimal string``): ``InvalidManifestError`` (``invalid-manifest``), ``InvalidSnapshotError``
(``invalid-snapshot``) or ``InvalidBundleError`` (``invalid-bundle``). Unknown members are
ignored on reading and never written.
"""

from ledger.formats.bundles import (
    BALANCE_SIGNATURE,
    CONTRIBUTION_SIGNATURE,
    FORMAT,
    AnchoringTransaction,
    BalanceBundle,
    BalanceLeaf,
    BatchConsentProof,
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
    DELTAS_SINCE,
    FEED_SINCE,
    MANIFEST_VERSION,
    PROGRAMS_SINCE,
    SCORED_SINCE,
    EngagementLine,
    InvalidManifestError,
    JournalLine,
    LogLeaf,
    Manifest,
    ManifestBalances,
    ManifestFeed,
    ManifestLog,
    PreviousEpoch,
    ProgramLine,
    ProvenLeaf,
    Scorer,
    UsageLine,
)
from ledger.formats.snapshot import SNAPSHOT_FORMAT, BalancesSnapshot, InvalidSnapshotError

__all__ = [
    "BALANCE_ENCODING",
    "BALANCE_SIGNATURE",
    "CONTRIBUTION_SIGNATURE",
    "DELTAS_SINCE",
    "FEED_SINCE",
    "FORMAT",
    "MANIFEST_VERSION",
    "PROGRAMS_SINCE",
    "SCORED_SINCE",
    "SNAPSHOT_FORMAT",
    "AnchoringTransaction",
    "BalanceBundle",
    "BalanceLeaf",
    "BalancesSnapshot",
    "BatchConsentProof",
    "BundleEnvelope",
    "BundleHeader",
    "ContributionBundle",
    "ContributionLeaf",
    "EngagementLine",
    "ExplorerLinks",
    "InvalidBundleError",
    "InvalidDocumentError",
    "InvalidManifestError",
    "InvalidSnapshotError",
    "JournalLine",
    "LogLeaf",
    "Manifest",
    "ManifestBalances",
    "ManifestFeed",
    "ManifestLog",
    "PreviousEpoch",
    "ProgramLine",
    "ProofBundle",
    "ProvenLeaf",
    "Scorer",
    "UsageLine",
    "VerifyCall",
    "parse_bundle",
]
