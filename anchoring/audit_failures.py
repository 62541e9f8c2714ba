"""The ways `tally audit` fails: each a ``VerificationFailure`` (exit code 1), reported one way.

The audit stops at its first failure and puts it in its report, whatever it is: a number that
does not recompute (``AuditDiscrepancy``, in one epoch), an address that holds no contract or
one that does not answer as TallyAnchor does (a mistyped address must never pass over zero
epochs), a contract whose own state names more epochs than the events scanned, or a Tally API
that calls final what the chain does not hold. ``code`` is the problem slug and the ``code`` of
the ``discrepancy`` member of ``tally audit --json``; ``epoch`` is set when one epoch is at fault.
"""

from __future__ import annotations

from typing import Any

from ledger.errors import VerificationFailure

__all__ = [
    "ENGAGEMENT_RULES",
    "ApiDisagreement",
    "AuditDiscrepancy",
    "AuditFailure",
    "EngagementDiscrepancy",
    "EpochCountMismatch",
    "NoContractError",
    "NotTallyAnchorError",
    "counted",
]


def counted(count: int, noun: str) -> str:
    """``1 final epoch``, ``3 final epochs``: counts read as sentences in failures."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


class AuditFailure(VerificationFailure):
    """The audit did not pass: ``what`` says why, ``epoch`` where (None when no one epoch is)."""

    code = "audit-failed"

    def __init__(self, what: str, *, epoch: int | None = None, **extensions: Any) -> None:
        members: dict[str, Any] = extensions if epoch is None else {"epoch": epoch, **extensions}
        super().__init__(what if epoch is None else f"epoch {epoch}: {what}", **members)
        self.what = what
        self.epoch = epoch


class AuditDiscrepancy(AuditFailure):
    """A published number does not recompute: ``epoch`` is where, ``what`` says how (and
    ``field`` names the manifest field, when the manifest itself is malformed)."""

    code = "audit-discrepancy"
    epoch: int

    def __init__(self, epoch: int, what: str, *, field: str | None = None) -> None:
        super().__init__(what, epoch=epoch, **({} if field is None else {"field": field}))
        self.field = field


class EngagementDiscrepancy(AuditDiscrepancy):
    """An ``engagement`` credit breaks one of the feed's rules (``anchoring.audit_feed``):
    ``rule`` names which (one of ``ENGAGEMENT_RULES``), ``entry`` the journal entry or the
    ``feed.engagements[i]`` line at fault."""

    code = "engagement-discrepancy"

    def __init__(self, epoch: int, rule: str, entry: str, what: str) -> None:
        AuditFailure.__init__(self, f"{entry}: {what}", epoch=epoch, rule=rule, entry=entry)
        self.field = None
        self.rule = rule
        self.entry = entry


ENGAGEMENT_RULES = {
    "ref": "the ref is not like|remix:<contentHash>:<actor> (the actor EIP-55)",
    "payer": "an engagement is paid by pool:rewards and no other account",
    "unlisted": "a credit names no engagement of the manifest's feed.engagements",
    "uncredited": "an engagement of feed.engagements has no credit in the journal",
    "unproven": "the contribution named has no leaf in feed.contributions proven in the epoch's log",
    "creator": "the credit goes to another account than the contribution's contributor",
    "amount": "the credit is not the manifest's feed.pointsPerLike or feed.pointsPerRemix",
    "once": "the actor is credited for the same kind of engagement with the same contribution twice",
    "self": "the actor is the contribution's own contributor",
    "remix": "a remix's new contribution is not the actor's own, is the contribution itself, or remixes twice",
    "signature": "the engagement's Engage statement is not signed by its actor",
}
"""Each rule an engagement credit is held to, by the name ``EngagementDiscrepancy.rule`` gives."""


class NoContractError(AuditFailure):
    """The chain holds no code at the address: a mistyped address, or another chain."""

    code = "no-contract"

    def __init__(self, contract: str, chain_id: int) -> None:
        super().__init__(f"no contract at {contract} on chain {chain_id}", contract=contract, chainId=chain_id)


class NotTallyAnchorError(AuditFailure):
    """The code at the address does not answer ``call`` as TallyAnchor does; ``how`` says what it
    did instead (reverted, answered false, answered too few bytes...)."""

    code = "not-tally-anchor"

    def __init__(self, contract: str, chain_id: int, call: str, how: str) -> None:
        super().__init__(f"{contract} on chain {chain_id} does not answer as TallyAnchor does: {call} {how}",
                         contract=contract, chainId=chain_id, call=call)
        self.call = call


class EpochCountMismatch(AuditFailure):
    """The contract's own state (``latestEpoch()``) names another number of anchored epochs than
    the ``EpochAnchored`` events scanned: fewer events is typically a ``--from-block`` past them."""

    code = "epoch-count-mismatch"

    def __init__(self, latest_epoch: int, events: int, from_block: int, to_block: int) -> None:
        hint = "; scan from an earlier block (--from-block)" if events < latest_epoch and from_block else ""
        scanned = f"the scan starts at block {from_block}, past the chain's latest" if from_block > to_block else \
            f"the EpochAnchored events of blocks {from_block} to {to_block} show {events}"
        super().__init__(
            f"the contract reports {counted(latest_epoch, 'anchored epoch')} (latestEpoch() at block {to_block}), "
            f"but {scanned}{hint}",
            latestEpoch=latest_epoch, events=events, fromBlock=from_block, toBlock=to_block)


class ApiDisagreement(AuditFailure):
    """A Tally API's view contradicts the chain: it calls final more epochs than the contract
    holds, or it anchors on another contract than the one audited."""

    code = "api-disagrees"

    def __init__(self, api: str, what: str) -> None:
        super().__init__(f"the API at {api} {what}", api=api)
