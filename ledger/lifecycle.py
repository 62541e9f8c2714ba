"""The lifecycle of an epoch on its way onto the chain, and what it means for a contribution.

DESIGN.md §6: an epoch is ``sealed``, its anchoring transaction ``submitted``, then ``mined``
in a block, then ``final`` once that block is at or below the final one. A reorg that drops the
block takes the epoch back: to ``submitted`` while our signed bytes can still land (their nonce
is free), else to ``sealed`` for a new transaction. Reconciling with the contract may find an
epoch already anchored (by a transaction whose record a crash lost), so ``mine`` is allowed from
``sealed`` too. A reorg deeper than the confirmations can still drop a ``final`` epoch's block;
the anchorer then revokes its finality (back to ``sealed``), and it is anchored again.

``MOVES`` is the one table of allowed moves; every transition function checks it and raises
``LifecycleError`` for any other, so a bug in the anchorer stops it instead of corrupting the
ledger. The functions change the ``Epoch`` row in the caller's transaction; the caller commits.
The ``state`` column stays a string: ``EpochState`` members compare equal to their values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger.errors import InvariantError
from ledger.models import Epoch


class EpochState(StrEnum):
    """Where an epoch is on its way onto the chain (DESIGN.md §6)."""

    SEALED = "sealed"
    SUBMITTED = "submitted"
    MINED = "mined"
    FINAL = "final"


class Transition(StrEnum):
    """The moves between states; each value reads in "cannot <move> from <state>"."""

    SUBMIT = "submit"
    MINE = "mine"
    REVERT_TO_SEALED = "revert to sealed"
    REORG_TO_SUBMITTED = "reorg to submitted"
    FINALIZE = "finalize"
    REVOKE_FINALITY = "revoke finality"


@dataclass(frozen=True, slots=True)
class Move:
    """The states a transition may start from, and the state it leads to."""

    sources: tuple[EpochState, ...]
    target: EpochState


MOVES: Mapping[Transition, Move] = MappingProxyType({
    Transition.SUBMIT: Move((EpochState.SEALED,), EpochState.SUBMITTED),
    # From sealed: the contract already holds the epoch, put there by a transaction we lost track of.
    Transition.MINE: Move((EpochState.SEALED, EpochState.SUBMITTED), EpochState.MINED),
    # Our transaction reverted, its nonce went to another, or a reorg dropped it for good.
    Transition.REVERT_TO_SEALED: Move((EpochState.SUBMITTED, EpochState.MINED), EpochState.SEALED),
    # A reorg dropped the block, but the same signed bytes can still be mined.
    Transition.REORG_TO_SUBMITTED: Move((EpochState.MINED,), EpochState.SUBMITTED),
    Transition.FINALIZE: Move((EpochState.MINED,), EpochState.FINAL),
    # A reorg deeper than the confirmations took a final epoch off the chain: anchor it again.
    Transition.REVOKE_FINALITY: Move((EpochState.FINAL,), EpochState.SEALED),
})
"""The single source of truth of the lifecycle: a move not listed here is refused."""


class LifecycleError(InvariantError):
    """A transition the lifecycle does not allow from the epoch's state: a bug, never a retry."""

    def __init__(self, number: int, transition: Transition, state: str) -> None:
        super().__init__(f"epoch {number}: cannot {transition} from {state}",
                         epoch=number, transition=str(transition), state=state)
        self.number = number
        self.transition = transition
        self.from_state = state


def allows(transition: Transition, state: str) -> bool:
    """Whether the lifecycle allows ``transition`` from ``state``."""
    return state in MOVES[transition].sources


def _move(epoch: Epoch, transition: Transition) -> None:
    if not allows(transition, epoch.state):
        raise LifecycleError(epoch.number, transition, epoch.state)
    epoch.state = MOVES[transition].target.value


def submit(epoch: Epoch, *, tx_hash: str, nonce: int, at: int) -> None:
    """sealed -> submitted: the signed transaction is stored (the caller commits before broadcasting)."""
    _move(epoch, Transition.SUBMIT)
    epoch.tx_hash = tx_hash
    epoch.tx_nonce = nonce
    epoch.submitted_at = at


def mine(epoch: Epoch, *, tx_hash: str, block_number: int | None, block_hash: str | None,
         gas_used: int | None, at: int) -> None:
    """sealed or submitted -> mined: ``tx_hash`` put the epoch on-chain. The block is unknown
    (None) when the node has the event but not yet the receipt; confirming fills it in later."""
    _move(epoch, Transition.MINE)
    epoch.tx_hash = tx_hash
    epoch.block_number = block_number
    epoch.block_hash = block_hash
    epoch.gas_used = gas_used
    epoch.mined_at = at
    epoch.last_error = None


def revert_to_sealed(epoch: Epoch) -> None:
    """submitted or mined -> sealed: the transaction will never land; every trace of it is
    cleared so the next pass signs a new one (``last_error`` keeps why)."""
    _move(epoch, Transition.REVERT_TO_SEALED)
    epoch.tx_hash = epoch.block_hash = None
    epoch.tx_nonce = epoch.block_number = epoch.gas_used = epoch.submitted_at = epoch.mined_at = None


def reorg_to_submitted(epoch: Epoch) -> None:
    """mined -> submitted: a reorg dropped the block, and the same transaction (same hash, same
    nonce) can be mined again; the block is forgotten, the transaction kept."""
    _move(epoch, Transition.REORG_TO_SUBMITTED)
    epoch.block_hash = None
    epoch.block_number = epoch.gas_used = epoch.mined_at = None


def finalize(epoch: Epoch, *, at: int) -> None:
    """mined -> final: the block is at or below the final one; only a finality break (a reorg
    deeper than the confirmations, see ``revoke_finality``) moves the epoch again."""
    _move(epoch, Transition.FINALIZE)
    epoch.finalized_at = at


def revoke_finality(epoch: Epoch) -> None:
    """final -> sealed: the chain no longer holds the epoch, though we had called it final. Like
    ``revert_to_sealed``, every trace of the transaction is cleared (and ``finalized_at``, since it
    is not final any more) so the next pass anchors it again; the caller records the break."""
    _move(epoch, Transition.REVOKE_FINALITY)
    epoch.tx_hash = epoch.block_hash = None
    epoch.tx_nonce = epoch.block_number = epoch.gas_used = epoch.submitted_at = epoch.mined_at = None
    epoch.finalized_at = None


def open_epochs(session: Session) -> list[int]:
    """The numbers of the epochs not yet final, in order."""
    return list(session.scalars(select(Epoch.number).where(Epoch.state != EpochState.FINAL)
                                .order_by(Epoch.number)))


class ContributionStatus(StrEnum):
    """What a contributor sees of a contribution (DESIGN.md §8)."""

    PENDING = "pending"
    SEALED = "sealed"
    ANCHORED = "anchored"


def contribution_status(epoch: int | None, epoch_state: str | None) -> ContributionStatus:
    """``pending`` until sealed into an epoch, ``sealed`` until that epoch is final on-chain,
    then ``anchored``."""
    if epoch is None:
        return ContributionStatus.PENDING
    return ContributionStatus.ANCHORED if epoch_state == EpochState.FINAL else ContributionStatus.SEALED
