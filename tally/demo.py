"""`tally demo`: the whole path on the embedded defaults, checked end to end.

Real ShareGPT conversations, redacted as a client redacts them (the few holding personal data
come as their redacted canonical form), signed by generated contributor keys, go through the same
intake as the API; before the last of K epochs is sealed, a data consumer receives them and reports
using three, and a program with a minimum closes its first period, topping its member up; the
epochs are sealed and anchored on the dev chain; then every on-chain root (and the top-up) is
recomputed from the manifests (the audit), a sample proof is checked against the contract, and its
contributor's points are claimed from the rewards contract.
State stays in TALLY_HOME, so `tally serve` shows it afterwards.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any

from eth_keys.datatypes import PrivateKey
from sqlalchemy import select

from anchoring.anchorer import StepReport
from anchoring.audit import Auditor
from anchoring.contract import TallyAnchor
from anchoring.loop import AnchoringTimeoutError, run_until_final
from anchoring.rewards import ContractRefusedError, RewardsError, TallyRewards, token_balance
from anchoring.verify import verify_contribution
from ledger import export, journal, programs, usage
from ledger.deployment import ChainInfo
from ledger.encoding import hex0x
from ledger.epochs import Anchor, seal_epoch
from ledger.errors import InvalidInputError, TallyError
from ledger.models import Contribution, ProgramPayout
from ledger.program_rules import Definition
from ledger.proofs import BalanceTrees, balance_proof, contribution_bundle
from tally.chain import ChainRuntime
from tally.client import sign_submission
from tally.settings import Settings
from tally.sharegpt import DatasetMissingError, distinct_conversations
from tally.wiring import Ledger, build_anchorer, build_intake, chain_info


class DemoError(InvalidInputError):
    """The demo cannot run here, or a step of it failed."""


def fresh_conversations(ledger: Ledger, count: int) -> list[dict[str, Any]]:
    """``count`` real conversations this ledger has not seen, so the demo can run again; personal
    data redacted, as intake would refuse it."""
    with ledger.sessions() as session:
        known = set(session.scalars(select(Contribution.content_hash)))
    try:
        return distinct_conversations(count, exclude=known)
    except DatasetMissingError as exc:
        raise DemoError(f"not enough unused conversations left in the dataset: {exc}") from None


CLAIM_ATTEMPTS = 3


def claim_for(ledger: Ledger, info: ChainInfo, chain: ChainRuntime, account: str) -> str:
    """Claim ``account``'s points of the latest anchored epoch from the rewards contract, sent (and
    its gas paid) by the anchoring key; what was paid, in a line. A `tally serve` running beside
    the demo may anchor a newer epoch between reading the latest and claiming (the contract then
    refuses with StaleEpoch): the claim is made again against the new latest, a few times."""
    assert info.rewards is not None
    rewards = TallyRewards(chain.w3, info.rewards.contract)
    anchor = TallyAnchor(chain.w3, chain.contract.address)
    for attempt in range(1, CLAIM_ATTEMPTS + 1):
        with ledger.sessions() as session:
            balance = balance_proof(session, info, BalanceTrees(ledger.store), account, anchor.latest_epoch())
        try:
            paid = rewards.claim(chain.account, balance)
            break
        except ContractRefusedError as exc:
            if exc.error is None or exc.error.name != "StaleEpoch" or attempt == CLAIM_ATTEMPTS:
                raise DemoError(f"the claim for {account} failed: {exc}") from None
        except RewardsError as exc:
            raise DemoError(f"the claim for {account} failed: {exc}") from None
    tokens = token_balance(chain.w3, info.rewards.token, account)
    return (f"claim: {account} was paid {paid.amount} token units for its {paid.balance} points of epoch "
            f"{paid.epoch} (it now holds {tokens}; `tally claim` does the same)")


def report_usage(ledger: Ledger, settings: Settings, say: Callable[[str], None]) -> None:
    """What a data consumer does: receive the contributions (``GET /v1/export``) and report using
    the first three, each contributor credited by the usage rate, sealed into the next epoch."""
    now = int(time.time())
    with ledger.sessions() as session, session.begin():
        page = export.start_export(session, consumer=export.DATA_CONSUMER, after=0, limit=export.MAX_EXPORT,
                                   now=now)
        used = [(row.id, 2) for row in page.rows[:3]]
        outcome = usage.record_usage(session, ref=f"demo-run-{now}", items=used,
                                     points_per_unit=settings.usage_points_per_unit, now=now,
                                     consumer=export.DATA_CONSUMER)
    say(f"data out: {page.record.count} contributions exported to the data consumer, which reported using "
        f"{len(used)} of them (2 units each): {outcome.report.points} points to their contributors")


PROGRAM_PERIOD = 2
"""Seconds of the demo program's period: it starts before the last epoch's contributions and
ends before that epoch is sealed, so that the seal closes it."""
PROGRAM_MINIMUM = 1000


def start_program(ledger: Ledger, member: str, say: Callable[[str], None]) -> tuple[Definition, float]:
    """A program of PROGRAM_PERIOD-second periods from now, with ``member`` enrolled (what
    ``POST /v1/programs`` and ``.../members`` do with the admin key); when its first period ends."""
    now = int(time.time())
    definition = Definition(f"demo-{now}", str(PROGRAM_PERIOD), PROGRAM_MINIMUM, now)
    with ledger.sessions() as session, session.begin():
        programs.define(session, definition, now=now)
        programs.change_membership(session, definition.id, member, "enrol", now=now)
    say(f"program {definition.id}: a minimum of {PROGRAM_MINIMUM} points every {PROGRAM_PERIOD} s, {member} enrolled")
    return definition, definition.bounds(0)[1]


def end_program(ledger: Ledger, definition: Definition, member: str, ends: float) -> None:
    """Once the period is over, the member leaves: later periods owe it nothing (`tally serve`
    would otherwise top it up every few seconds), while the period that ended is still paid."""
    time.sleep(max(0.0, ends - time.time()))
    with ledger.sessions() as session, session.begin():
        programs.change_membership(session, definition.id, member, "leave", now=max(int(time.time()), int(ends)))


def topped_up(ledger: Ledger, definition: Definition, member: str) -> str:
    with ledger.sessions() as session:
        payout = session.scalar(select(ProgramPayout).where(ProgramPayout.program == definition.id))
        if payout is None:
            raise DemoError(f"program {definition.id}: its first period closed without a top-up for {member}")
        earned = sum(e.amount for e in journal.history(session, member, limit=10_000)
                     if e.kind in journal.EARNING_KINDS and e.created_at < definition.bounds(0)[1]
                     and e.created_at >= definition.bounds(0)[0])
    return (f"program {definition.id}: {member} earned {earned} points in its first period and was topped up by "
            f"{payout.points} to the minimum of {PROGRAM_MINIMUM} (ref {payout.ref})")


def run_demo(settings: Settings, ledger: Ledger, chain: ChainRuntime, *, contributions: int, epochs: int,
             say: Callable[[str], None], timeout: float = 300.0) -> dict[str, Any]:
    info = chain_info(settings, chain)
    # The demo's contributions are public sample data: stored in plaintext (public mode).
    intake = build_intake(settings.model_copy(update={"privacy": False}), ledger, info)
    config = {"termsHash": hex0x(intake.consent.terms.hash),
              "eip712": {"domain": intake.consent.domain.as_json()}}
    keys_ = [PrivateKey(secrets.token_bytes(32)) for _ in range(max(1, min(20, contributions // 5)))]
    conversations = fresh_conversations(ledger, contributions)
    say(f"submitting {len(conversations)} real ShareGPT conversations (personal data redacted) from {len(keys_)} "
        "generated contributors")
    parts = [conversations[i::epochs] for i in range(epochs)]
    accepted = 0
    member = keys_[0].public_key.to_checksum_address()
    program: tuple[Definition, float] | None = None
    for number, part in enumerate(parts, start=1):
        if number == len(parts):
            program = start_program(ledger, member, say)
        now = int(time.time())
        bodies = [sign_submission(config, c, keys_[i % len(keys_)], nonce=secrets.randbits(64), issued_at=now)
                  for i, c in enumerate(part)]
        results = intake.submit_batch(bodies)
        refused = [r for r in results if isinstance(r, TallyError)]
        if refused:
            raise DemoError(f"{len(refused)} submissions refused: {refused[0].detail}")
        accepted += len(results)
        if number == len(parts):
            report_usage(ledger, settings, say)
            assert program is not None
            end_program(ledger, program[0], member, program[1])
        with ledger.sessions() as session, session.begin():
            epoch = seal_epoch(session, ledger.store, Anchor(chain.chain_id, chain.contract.address))
            assert epoch is not None
            say(f"sealed epoch {epoch.number}: {epoch.contributions} contributions, log size {epoch.log_size}")

    def say_pass(report: StepReport) -> None:
        if report.sent:
            say(f"anchoring epoch {report.sent}")
        for n in report.final:
            say(f"epoch {n} final on-chain")

    try:
        run_until_final(build_anchorer(settings, ledger, chain), ledger.sessions, timeout=timeout, interval=0.5,
                        on_pass=say_pass)
    except AnchoringTimeoutError:
        raise DemoError("anchoring did not finish in time") from None

    # The local store checks every block against its CID, as the audit needs of any source.
    audit = Auditor(chain.w3, chain.contract.address, ledger.store).run()
    if not audit.ok:
        raise DemoError(f"audit failed: {audit.failure}")
    say(f"audit: {audit.epochs} epochs, {audit.leaves} leaves: every on-chain root recomputes from the manifests, "
        f"and {audit.payouts_recomputed} program top-ups from the published programs and journal")
    if program is not None:
        say(topped_up(ledger, program[0], member))

    with ledger.sessions() as session:
        sample = session.scalars(select(Contribution).order_by(Contribution.id.desc()).limit(1)).one()
        bundle = contribution_bundle(session, info, sample, None)
    checks = verify_contribution(bundle, chain.rpc_url, w3=chain.w3)
    say(f"sample proof for contribution {sample.id}: {len(checks)} checks passed, including the contract's own view")
    if info.rewards is not None:
        say(claim_for(ledger, info, chain, sample.contributor))
    return {"contract": chain.contract.address, "rpcUrl": chain.rpc_url, "chainId": chain.chain_id,
            "accepted": accepted, "epochs": audit.epochs, "leaves": audit.leaves,
            "totalPoints": str(audit.total_points), "sampleProof": bundle}
