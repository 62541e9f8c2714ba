"""JSON representations of ledger rows, as DESIGN.md §8 publishes them.

Points and balances are decimal strings; hashes and addresses 0x-hex; times Unix seconds.
"""

from __future__ import annotations

from typing import Any

from ledger import lifecycle
from ledger.adjustments import adjustment_json
from ledger.attachments import is_public
from ledger.eip712 import (
    Domain,
    batch_types,
    contribution_types,
    engage_types,
    enrol_types,
    publish_types,
    receipt_types,
)
from ledger.encoding import hex0x
from ledger.lifecycle import ContributionStatus
from ledger.models import Contribution, ContributionImage, JournalEntry, UsageReport
from ledger.scoring import recorded_features

__all__ = ["adjustment_json", "consent_json", "contribution_json", "eip712_json", "entry_json", "image_json",
           "receipt_json", "report_json", "score_json"]


def contribution_status(row: Contribution, epoch_state: str | None = None) -> ContributionStatus:
    """``pending`` until sealed, ``sealed`` until its epoch is final on-chain, then ``anchored``."""
    return lifecycle.contribution_status(row.epoch, epoch_state)


def score_json(row: Contribution) -> dict[str, Any]:
    """The contribution's score as its manifest leaf publishes it: version, points, features. A
    quality-v1 contribution's features are recovered from the breakdown v1 stored."""
    return {"version": row.scorer_version, "points": row.points,
            "features": recorded_features(row.scorer_version, row.score, row.message_count)}


def receipt_json(row: Contribution) -> dict[str, Any]:
    return {
        "message": {
            "contentHash": hex0x(row.content_hash),
            "contributor": row.contributor,
            "points": str(row.points),
            "acceptedAt": row.accepted_at,
        },
        "signature": hex0x(row.receipt_signature),
    }


def contribution_json(row: Contribution, storage: str = "local", epoch_state: str | None = None) -> dict[str, Any]:
    """``storage``: ``local`` until the object is pinned to IPFS, then ``pinned``; ``epoch_state``:
    the state of the epoch that sealed it, if any."""
    return {
        "id": row.id,
        "contentHash": hex0x(row.content_hash),
        "cid": row.cid,
        "contributor": row.contributor,
        "points": str(row.points),
        "score": score_json(row),
        "status": contribution_status(row, epoch_state),
        "epochState": epoch_state,
        "acceptedAt": row.accepted_at,
        "size": row.size,
        "model": row.model,
        "messages": row.message_count,
        "epoch": row.epoch,
        "logIndex": row.log_index,
        "storage": storage,
        "encrypted": row.encrypted,
        "erased": row.erased_at is not None,
        "consent": consent_json(row),
        "receipt": receipt_json(row),
    }


def image_json(row: Contribution, image: ContributionImage, *, published: bool) -> dict[str, Any]:
    """One image of a contribution (docs/formats.md §8): its CID (what the canonical conversation
    names), media type and size, the object stored and pinned for it (``stored``: the image itself
    in public mode, its envelope in privacy mode), and where its bytes are served in the clear:
    ``/ipfs/{cid}`` in public mode, the feed's URL in privacy mode while it is published, else
    nowhere (null), and nowhere once erased."""
    url = None
    if row.erased_at is None:
        if is_public(image):
            url = f"/ipfs/{image.cid}"
        elif published:
            url = f"/v1/feed/{row.id}/images/{image.cid}"
    return {"cid": image.cid, "mediaType": image.media_type, "size": image.size, "stored": image.stored_cid,
            "url": url}


def consent_json(row: Contribution) -> dict[str, Any]:
    """The consent's fields; a batch-consented contribution's also name its ContributionBatch's
    root and count and this item's proof (docs/formats.md, "Batch consent")."""
    consent: dict[str, Any] = {
        "nonce": row.nonce,
        "issuedAt": row.issued_at,
        "termsHash": hex0x(row.terms_hash),
        "signature": hex0x(row.signature),
    }
    if row.batch_root is not None:
        proof = row.batch_proof or b""
        consent["batch"] = {"primaryType": "ContributionBatch", "contentsRoot": hex0x(row.batch_root),
                            "count": row.batch_count,
                            "proof": [hex0x(proof[i:i + 32]) for i in range(0, len(proof), 32)]}
    return consent


def entry_json(entry: JournalEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "transfer": entry.transfer_id,
        "amount": str(entry.amount),
        "kind": entry.kind,
        "ref": entry.ref,
        "createdAt": entry.created_at,
        "epoch": entry.epoch,
    }


def eip712_json(domain: Domain) -> dict[str, Any]:
    return {
        "domain": domain.as_json(),
        "types": contribution_types(),
        "primaryType": "Contribution",
        "receipt": {"types": receipt_types(), "primaryType": "Receipt"},
        "batch": {"types": batch_types(), "primaryType": "ContributionBatch"},
        "enrol": {"types": enrol_types(), "primaryType": "Enrol"},
        "publish": {"types": publish_types(), "primaryType": "Publish"},
        "engage": {"types": engage_types(), "primaryType": "Engage"},
    }


def report_json(report: UsageReport) -> dict[str, Any]:
    return {"ref": report.ref, "items": report.items, "points": str(report.points), "createdAt": report.created_at}
