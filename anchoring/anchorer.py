"""Anchoring sealed epochs on-chain exactly once, through crashes, reorgs, stuck fees and outages.

``Anchorer.step()`` is one pass of a loop that runs every few seconds. Each pass starts again
from what is durable (the database and the contract's own state), so a crash at any point is
handled by the next pass of whichever process runs it:

0. re-check: a final epoch the contract no longer holds, or whose block left the chain (a reorg
   deeper than the confirmations dropped its transaction) is logged, recorded as a finality violation and taken back to
   sealed, with every final epoch above it; the later steps anchor it again;
1. reconcile: an epoch the contract already holds is marked mined, whichever transaction put
   it there, after checking that the on-chain header is ours;
2. follow: a submitted epoch's attempts are looked up; a lost transaction is broadcast again
   from its stored bytes, a stuck one is replaced (same nonce, higher fees), one whose nonce
   was taken by something else goes back to sealed;
3. confirm: a mined epoch whose block left the canonical chain goes back to sealed; one at or
   below the final block becomes final;
4. send: the next sealed epoch (exactly the contract's ``latestEpoch + 1``) is signed, with the
   header of the epoch before it (the contract checks it against the hash it holds, and the
   consistency proof from its log), the signed bytes are committed, and only then broadcast.

Epochs go on-chain one at a time, in order: the contract refuses any other order anyway.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from eth_account.signers.local import LocalAccount
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import BlockNotFound, ContractLogicError

from anchoring import chain
from anchoring.contract import GENESIS_HEADER, NOT_ANCHORED, EpochAnchored, EpochHeader, TallyAnchor, revert_data
from ledger import lifecycle
from ledger.errors import InvariantError
from ledger.lifecycle import EpochState, Transition
from ledger.merkle.stored import StoredLog
from ledger.models import AnchorAttempt, Epoch, FinalityViolation
from ledger.proofs import header_of

log = logging.getLogger("tally.anchoring")


def contract_header(epoch: Epoch) -> EpochHeader:
    """The header of a sealed epoch, as ``anchor`` takes it and the contract hashes it."""
    return EpochHeader.of(header_of(epoch))


class AnchorConflictError(InvariantError):
    """The contract holds a header for one of our epochs that is not ours: stop and alert."""


@dataclass(frozen=True, slots=True)
class AnchorPolicy:
    fees: chain.FeePolicy = field(default_factory=chain.FeePolicy)
    # None: follow the chain's `finalized` tag; a number: that many confirmations.
    confirmations: int | None = None
    stuck_after: float = 120.0
    gas_margin_percent: int = 130
    # How many of the newest final epochs the contract says it holds are compared header by
    # header on every pass (one call each, plus one for the newest one's block). A reorg only
    # reaches recent blocks, so a few do; final epochs above the contract's latestEpoch are
    # caught without any call.
    recheck_final: int = 3


@dataclass(frozen=True, slots=True)
class StepReport:
    sent: int | None = None
    mined: tuple[int, ...] = ()
    final: tuple[int, ...] = ()
    reverted_to_sealed: tuple[int, ...] = ()
    revoked: tuple[int, ...] = ()
    """Final epochs the chain no longer held, taken back to sealed (finality violations)."""


class Anchorer:
    def __init__(
        self,
        *,
        sessions: sessionmaker[Session],
        w3: Web3,
        contract: Contract,
        account: LocalAccount,
        policy: AnchorPolicy = AnchorPolicy(),
        ready: Callable[[Session, Epoch], bool] = lambda _s, _e: True,
        clock: Callable[[], float] = time.time,
        checkpoint: Callable[[str], None] = lambda _name: None,
    ) -> None:
        self.sessions = sessions
        self.w3 = w3
        self.contract = TallyAnchor(w3, contract.address)
        self.account = account
        self.policy = policy
        self.ready = ready
        self.clock = clock
        # Named points of the protocol where crash tests inject a SIGKILL; a no-op otherwise.
        self.checkpoint = checkpoint

    # ---- the loop body

    def step(self) -> StepReport:
        """One pass; raises ChainUnavailableError when the node is down (the caller backs off)."""
        chain_latest = chain.call(self.contract.latest_epoch)
        # First, so that the same pass reconciles or sends again what it takes back.
        revoked = self._recheck_final(chain_latest)
        mined, moved_back = self._reconcile(chain_latest)
        if moved_back:
            # The chain took back what it held a moment ago (a reorg inside this pass): the next
            # pass starts from it as it is then; nothing is sent on a view already stale.
            return StepReport(mined=tuple(mined), revoked=tuple(revoked))
        reverted = self._follow_submitted(chain_latest)
        reverted += self._confirm()
        final = self._finalize()
        sent = self._send_next(chain_latest)
        return StepReport(sent=sent, mined=tuple(mined), final=tuple(final),
                          reverted_to_sealed=tuple(reverted), revoked=tuple(revoked))

    # ---- 0. re-check what we called final

    def _recheck_final(self, chain_latest: int) -> list[int]:
        """Take back to sealed the final epochs the chain no longer holds, lowest first, with
        every final epoch above (none can be on-chain without it). Costs ``policy.recheck_final``
        calls and one more while nothing broke: epochs above ``chain_latest`` are broken on sight."""
        with self.sessions() as session, session.begin():
            # FOR UPDATE: a second anchorer waits, then finds these epochs no longer final and
            # records nothing twice.
            above = session.scalar(
                select(Epoch.number).where(Epoch.state == EpochState.FINAL, Epoch.number > chain_latest)
                .order_by(Epoch.number).limit(1).with_for_update())
            lost = self._lost_below(session, chain_latest)
            lowest = min(lost, default=above)
            if lowest is None:
                return []
            broken = session.scalars(
                select(Epoch).where(Epoch.state == EpochState.FINAL, Epoch.number >= lowest)
                .order_by(Epoch.number).with_for_update()).all()
            for epoch in broken:
                reason = lost.get(epoch.number) or (
                    f"the contract's latestEpoch is {chain_latest}" if epoch.number > chain_latest
                    else f"epoch {lowest} below it was lost")
                self._revoke(session, epoch, chain_latest, reason)
            return [epoch.number for epoch in broken]

    def _lost_below(self, session: Session, chain_latest: int) -> dict[int, str]:
        """Of the newest final epochs at or below ``chain_latest``, those the chain lost, and
        why: the contract holds no header for it, or its block left the canonical chain (the
        same data mined again elsewhere: reconciling records where, and it becomes final anew).
        A different header is not a reorg but another key's data: that stops anchoring."""
        recent = session.scalars(
            select(Epoch).where(Epoch.state == EpochState.FINAL, Epoch.number <= chain_latest)
            .order_by(Epoch.number.desc()).limit(self.policy.recheck_final).with_for_update()).all()
        gone = self._blocks_gone(recent)
        lost: dict[int, str] = {}
        for epoch in recent:
            stored = chain.call(self.contract.header_hash, epoch.number)
            if stored == NOT_ANCHORED:
                lost[epoch.number] = f"the contract holds no header for epoch {epoch.number}"
                continue
            self._check_header(epoch, stored)
            if epoch.number in gone:
                lost[epoch.number] = f"its block {epoch.block_number} left the canonical chain"
        return lost

    def _blocks_gone(self, newest_first: Sequence[Epoch]) -> set[int]:
        """The epochs whose block is no longer the canonical one at its height. One call while
        nothing broke: a block still canonical vouches for every block below it."""
        gone: set[int] = set()
        for epoch in newest_first:
            if epoch.block_number is None or epoch.block_hash is None:
                break  # nothing to compare (never so for a final epoch)
            try:
                block = chain.call(self.w3.eth.get_block, epoch.block_number)
            except BlockNotFound:
                break  # a node behind, not a reorg: a reorg leaves another block at that height
            if block["hash"].to_0x_hex() == epoch.block_hash:
                break
            gone.add(epoch.number)
        return gone

    def _revoke(self, session: Session, epoch: Epoch, chain_latest: int, reason: str) -> None:
        """Record the break (what had been called final, and why it is not), then back to sealed."""
        session.add(FinalityViolation(
            epoch=epoch.number, detected_at=int(self.clock()), chain_latest=chain_latest, reason=reason[:200],
            tx_hash=epoch.tx_hash, block_number=epoch.block_number, block_hash=epoch.block_hash))
        log.error("finality violation: epoch %d was final (block %s, tx %s) but %s: a reorg deeper than "
                  "the confirmations; back to sealed, to be anchored again",
                  epoch.number, epoch.block_number, epoch.tx_hash, reason)
        # A new transaction is signed at the pending nonce. Should a node put the dropped one
        # back in its pool, it lands first and the new one reverts (the contract takes each
        # epoch once); the revert path then reconciles the epoch from the contract.
        self._supersede_attempts(session, epoch.number)
        lifecycle.revoke_finality(epoch)
        epoch.last_error = f"finality broken: {reason}"[:500]

    # ---- 1. reconcile with the contract

    def _reconcile(self, chain_latest: int) -> tuple[list[int], bool]:
        """Mark mined the epochs the contract holds; also whether the chain moved back meanwhile."""
        marked: list[int] = []
        with self.sessions() as session, session.begin():
            behind = session.scalars(
                select(Epoch)
                .where(Epoch.number <= chain_latest, Epoch.state.in_(lifecycle.MOVES[Transition.MINE].sources))
                .order_by(Epoch.number)
            ).all()
            for epoch in behind:
                stored = chain.call(self.contract.header_hash, epoch.number)
                if stored == NOT_ANCHORED:
                    # latestEpoch named it a moment ago: a reorg since, not another key's data.
                    log.warning("epoch %d: the chain took its anchor back during this pass (a reorg); "
                                "reconciling again on the next pass", epoch.number)
                    return marked, True
                self._check_header(epoch, stored)
                event = self._anchoring_event(epoch.number)
                if event is None:
                    continue  # the node has the state but not the log yet; next pass
                receipt = chain.receipt_or_none(self.w3, event.transaction_hash)
                self._mark_mined(session, epoch, event.transaction_hash, receipt)
                marked.append(epoch.number)
        return marked, False

    def _check_header(self, epoch: Epoch, stored: bytes) -> None:
        """``stored``, the contract's ``headerHash`` of the epoch, is the hash of our sealed header."""
        if stored != contract_header(epoch).hash():
            raise AnchorConflictError(
                f"the contract's header of epoch {epoch.number} differs from the sealed one: "
                "another key anchored different data; anchoring stops")

    def _anchoring_event(self, number: int) -> EpochAnchored | None:
        events = chain.call(self.contract.anchored_events, from_block=0, epoch=number)
        return events[-1] if events else None

    def _mark_mined(self, session: Session, epoch: Epoch, tx_hash: str, receipt: Any) -> None:
        self.checkpoint("after-receipt")  # the receipt is known, the database not yet updated
        lifecycle.mine(
            epoch, tx_hash=tx_hash,
            block_number=None if receipt is None else int(receipt["blockNumber"]),
            block_hash=None if receipt is None else receipt["blockHash"].to_0x_hex(),
            gas_used=None if receipt is None else int(receipt["gasUsed"]),
            at=int(self.clock()))
        log.info("epoch %d mined in block %s (tx %s)", epoch.number, epoch.block_number, tx_hash)

    # ---- 2. follow submitted transactions

    def _follow_submitted(self, chain_latest: int) -> list[int]:
        reverted: list[int] = []
        # Broadcasts wait until the transaction that recorded them has committed.
        outbox: list[tuple[bytes, int]] = []
        with self.sessions() as session, session.begin():
            submitted = select(Epoch).where(Epoch.state == EpochState.SUBMITTED).with_for_update()
            for epoch in session.scalars(submitted).all():
                attempts = self._live_attempts(session, epoch.number)
                for attempt in attempts:
                    receipt = chain.receipt_or_none(self.w3, attempt.tx_hash)
                    if receipt is None:
                        continue
                    if int(receipt["status"]) == 1:
                        self._mark_mined(session, epoch, attempt.tx_hash, receipt)
                    else:
                        # A revert: the contract refused the header. Nothing to retry blindly.
                        epoch.last_error = f"transaction {attempt.tx_hash} reverted"
                        log.error("epoch %d: anchoring transaction reverted", epoch.number)
                        self._abandon(session, epoch)
                        reverted.append(epoch.number)
                    break
                else:
                    if epoch.number > chain_latest + 1:
                        # Its predecessor left the chain (a reorg took back what was sent, or
                        # final): this transaction can never land, and waiting on it would keep
                        # the predecessor from being sent again. Epochs go on-chain in order.
                        log.warning("epoch %d: epoch %d is not on-chain any more; sending both again, "
                                    "in order", epoch.number, chain_latest + 1)
                        self._abandon(session, epoch)
                        reverted.append(epoch.number)
                    elif self._nonce_taken(attempts):
                        log.warning("epoch %d: nonce used by another transaction; sending again", epoch.number)
                        self._abandon(session, epoch)
                        reverted.append(epoch.number)
                    elif self._behind_a_gap(attempts):
                        # Only one epoch is submitted at a time, so its nonce is the next to be
                        # mined unless a reorg took back one of ours below it and the node let
                        # it go: then it waits behind that gap for ever, replacements included
                        # (same nonce).
                        log.warning("epoch %d: a transaction of ours below its nonce left the chain (reorg); "
                                    "sending again", epoch.number)
                        self._abandon(session, epoch)
                        reverted.append(epoch.number)
                    else:
                        outbox += self._keep_alive(session, epoch, attempts)
        for raw_tx, number in outbox:
            self._broadcast(raw_tx, number)
        return reverted

    def _live_attempts(self, session: Session, number: int) -> list[AnchorAttempt]:
        return list(session.scalars(
            select(AnchorAttempt).where(AnchorAttempt.epoch == number, AnchorAttempt.superseded.is_(False))
            .order_by(AnchorAttempt.id)))

    def _nonce_taken(self, attempts: list[AnchorAttempt]) -> bool:
        if not attempts:
            return True
        mined_nonce = int(chain.call(self.w3.eth.get_transaction_count, self.account.address, "latest"))
        return mined_nonce > attempts[-1].nonce

    def _behind_a_gap(self, attempts: list[AnchorAttempt]) -> bool:
        """The newest attempt's nonce is above the next one the chain will mine. (A node's
        "pending" count cannot tell: anvil's counts a transaction waiting behind a gap.) Should
        a transaction of ours below it still be pooled and land after all, the nonce is taken
        and the epoch is sent again once more, as ``_nonce_taken`` does."""
        mined_nonce = int(chain.call(self.w3.eth.get_transaction_count, self.account.address, "latest"))
        return bool(attempts) and attempts[-1].nonce > mined_nonce

    def _keep_alive(self, session: Session, epoch: Epoch,
                    attempts: list[AnchorAttempt]) -> list[tuple[bytes, int]]:
        """What to broadcast: lost attempts again, and a replacement of the newest attempt when
        it has been stuck too long (recorded here, broadcast after the commit)."""
        newest = attempts[-1]
        outbox = [(a.raw_tx, epoch.number) for a in attempts
                  if not chain.transaction_known(self.w3, a.tx_hash)]
        if self.clock() - newest.created_at < self.policy.stuck_after:
            return outbox
        fees = self.policy.fees.replacement(chain.base_fee(self.w3), newest.max_fee_per_gas,
                                            newest.max_priority_fee_per_gas)
        if fees is None:
            epoch.last_error = "stuck: the fee ceiling allows no higher replacement"
            return outbox
        replacement = self._sign(session, epoch, newest.nonce, newest.gas_limit, fees)
        for attempt in attempts:
            attempt.superseded = True
        log.info("epoch %d: replacing stuck transaction with %s", epoch.number, replacement.tx_hash)
        return [*outbox, (replacement.raw_tx, epoch.number)]

    def _abandon(self, session: Session, epoch: Epoch) -> None:
        self._supersede_attempts(session, epoch.number)
        lifecycle.revert_to_sealed(epoch)

    def _supersede_attempts(self, session: Session, number: int) -> None:
        """None of the epoch's signed transactions is followed or broadcast again."""
        session.execute(update(AnchorAttempt).where(AnchorAttempt.epoch == number).values(superseded=True))

    # ---- 3. confirmations and reorgs

    def _confirm(self) -> list[int]:
        reverted: list[int] = []
        with self.sessions() as session, session.begin():
            mined = select(Epoch).where(Epoch.state == EpochState.MINED).order_by(Epoch.number)
            for epoch in session.scalars(mined).all():
                receipt = chain.receipt_or_none(self.w3, epoch.tx_hash) if epoch.tx_hash else None
                if receipt is not None and int(receipt["status"]) == 1:
                    if epoch.block_hash != receipt["blockHash"].to_0x_hex():
                        # Re-mined in another block by a reorg: same transaction, new place.
                        epoch.block_number = int(receipt["blockNumber"])
                        epoch.block_hash = receipt["blockHash"].to_0x_hex()
                    continue
                chain_latest = chain.call(self.contract.latest_epoch)
                if chain_latest >= epoch.number:
                    continue  # anchored by another transaction; _reconcile records which
                log.warning("epoch %d: its transaction left the chain (reorg); sending again", epoch.number)
                self._reorged(session, epoch)
                reverted.append(epoch.number)
        return reverted

    def _reorged(self, session: Session, epoch: Epoch) -> None:
        """Back to submitted when our signed bytes can still land (their nonce is free): the next
        pass broadcasts the same transaction again. Otherwise back to sealed for a new one."""
        attempts = self._live_attempts(session, epoch.number)
        if attempts and not self._nonce_taken(attempts):
            lifecycle.reorg_to_submitted(epoch)
        else:
            self._abandon(session, epoch)

    def _finalize(self) -> list[int]:
        finalized: list[int] = []
        with self.sessions() as session, session.begin():
            mined = session.scalars(
                select(Epoch).where(Epoch.state == EpochState.MINED).order_by(Epoch.number)).all()
            if not mined:
                return finalized
            final_block = chain.finalized_block(self.w3, self.policy.confirmations)
            for epoch in mined:
                if epoch.block_number is not None and epoch.block_number <= final_block:
                    lifecycle.finalize(epoch, at=int(self.clock()))
                    finalized.append(epoch.number)
                    log.info("epoch %d final", epoch.number)
        return finalized

    # ---- 4. send the next epoch

    def _send_next(self, chain_latest: int) -> int | None:
        with self.sessions() as session, session.begin():
            if session.scalar(select(Epoch.number).where(Epoch.state == EpochState.SUBMITTED)) is not None:
                return None
            # FOR UPDATE: a second anchorer (a `tally anchor` run beside the leader's jobs) waits here,
            # then sees the epoch submitted and sends nothing.
            epoch = session.scalar(select(Epoch).where(Epoch.state == EpochState.SEALED).order_by(Epoch.number)
                                   .limit(1).with_for_update())
            if epoch is None or epoch.number != chain_latest + 1 or not self.ready(session, epoch):
                return None
            call = self._anchor_call(session, epoch)
            try:
                gas = int(chain.call(call.estimate_gas, {"from": self.account.address}))
            except ContractLogicError as exc:
                self._refused(epoch, exc)
                return None
            gas_limit = gas * self.policy.gas_margin_percent // 100
            # The next nonce after the mined ones, not the pool's: no epoch is submitted, so
            # whatever of ours the pool still holds was abandoned (a reorg dropped what it stood
            # on), and a nonce above it would wait behind a gap for ever. Taking the mined
            # count fills the gap; an abandoned transaction that lands after all is reconciled.
            nonce = int(chain.call(self.w3.eth.get_transaction_count, self.account.address, "latest"))
            attempt = self._sign(session, epoch, nonce, gas_limit,
                                 self.policy.fees.initial(chain.base_fee(self.w3)), call=call)
            lifecycle.submit(epoch, tx_hash=attempt.tx_hash, nonce=nonce, at=int(self.clock()))
            number = epoch.number
        # Committed: from here a crash leaves a submitted epoch with its signed bytes, which the
        # next pass broadcasts again if the node never saw them.
        self._broadcast(attempt.raw_tx, number)
        log.info("epoch %d sent: %s (nonce %d)", number, attempt.tx_hash, nonce)
        self.checkpoint("after-send")
        return number

    def _refused(self, epoch: Epoch, exc: ContractLogicError) -> None:
        """The node's estimate says the contract would refuse this epoch's header: nothing is
        signed or sent. ``UnexpectedEpoch`` means another anchorer of this ledger (a `tally
        anchor` or `tally demo` beside the server's jobs) had this epoch mined after this pass
        read ``latestEpoch``, before this database showed it; the next pass reconciles it as
        mined, whoever sent it. Any other refusal is recorded on the epoch and tried again by
        the next pass, rather than ending the loop."""
        data = revert_data(exc)
        error = self.contract.decode_error(data) if data else None
        if error is not None and error.name == "UnexpectedEpoch":
            log.info("epoch %d: the contract now expects %s; another anchorer sent it meanwhile", epoch.number,
                     error.args.get("expected"))
            return
        epoch.last_error = f"the contract refuses the header: {error or exc}"[:500]
        log.error("epoch %d: not sent, %s", epoch.number, epoch.last_error)

    def _anchor_call(self, session: Session, epoch: Epoch) -> Any:
        """``anchor`` of the epoch's header over the one before it, with the consistency proof
        from that one's log: what the contract checks against the hash it stored for it."""
        previous = GENESIS_HEADER if epoch.number == 1 else contract_header(
            session.get_one(Epoch, epoch.number - 1))
        proof = StoredLog(session).consistency_proof(previous.log_size, epoch.log_size)
        return self.contract.anchor_function(previous, contract_header(epoch), epoch.manifest_cid, proof)

    def _sign(self, session: Session, epoch: Epoch, nonce: int, gas_limit: int,
              fees: tuple[int, int], call: Any = None) -> AnchorAttempt:
        if call is None:
            call = self._anchor_call(session, epoch)
        max_fee, tip = fees
        tx = call.build_transaction({
            "from": self.account.address, "nonce": nonce, "gas": gas_limit,
            "maxFeePerGas": max_fee, "maxPriorityFeePerGas": tip,
            "chainId": int(chain.call(lambda: self.w3.eth.chain_id)),
        })
        signed = self.account.sign_transaction(tx)
        attempt = AnchorAttempt(
            epoch=epoch.number, nonce=nonce, tx_hash=signed.hash.to_0x_hex(), raw_tx=bytes(signed.raw_transaction),
            max_fee_per_gas=max_fee, max_priority_fee_per_gas=tip, gas_limit=gas_limit,
            created_at=int(self.clock()),
        )
        session.add(attempt)
        epoch.tx_hash = attempt.tx_hash
        session.flush()
        return attempt

    def _broadcast(self, raw_tx: bytes, number: int) -> None:
        try:
            chain.call(self.w3.eth.send_raw_transaction, raw_tx)
        except chain.ChainUnavailableError:
            raise
        except Exception as exc:  # "already known", "nonce too low": the next pass sorts it out
            log.info("epoch %d: broadcast answered %s", number, str(exc)[:200])
