"""The audit of programs: every minimum top-up and retroactive usage payment recomputed from the
manifests alone (docs/formats.md §6, docs/rewards.md "Programs").

From version 4 on, a manifest publishes when it was sealed, when each journal entry was written,
the program definitions and membership changes it seals and the usage it records in units. The
replay keeps the programs, their members' changes, every account's earnings (accrual and usage
credits, with their times) and the usage items, and at each epoch computes with
``ledger.program_rules.due_payouts`` (the rule the sealer paid by) what the periods ended by
``sealedAt`` owe. The manifest's ``minimum-topup`` and ``retro-usage`` entries must be exactly
those: a difference fails the audit naming the journal entry (or the ref that is missing). A
member's signed enrolment is checked against its EIP-712 ``Enrol`` signature.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from anchoring.audit_failures import AuditDiscrepancy
from ledger import eip712
from ledger.eip712 import SignatureError
from ledger.formats import PROGRAMS_SINCE, JournalLine, Manifest, UsageLine
from ledger.journal import EARNING_KINDS, MINIMUM_TOPUP, RETRO_USAGE, REWARDS_POOL
from ledger.program_rules import DEFINE, Change, Definition, Payout, due_payouts


@dataclass
class ProgramReplay:
    definitions: dict[str, Definition] = field(default_factory=dict)
    closed: dict[str, int] = field(default_factory=dict)
    changes: dict[str, list[Change]] = field(default_factory=dict)
    credits: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    """Each account's (lower-cased) earnings: (at, points) of its accrual and usage credits."""
    usage: dict[int, UsageLine] = field(default_factory=dict)
    retro_paid: set[int] = field(default_factory=set)
    active: bool = True
    """False when the audit took up after an epoch (``--from-epoch``): the earlier programs and
    earnings are not replayed, so payouts are not recomputed."""
    payouts: int = 0
    """Payouts recomputed and found as published."""

    def epoch(self, number: int, manifest: Manifest) -> None:
        paid = [line for line in manifest.journal if line.kind in (MINIMUM_TOPUP, RETRO_USAGE)]
        if manifest.v < PROGRAMS_SINCE:
            if paid:
                raise AuditDiscrepancy(number, f"journal entry {paid[0].id} ({paid[0].ref}): a program payment in "
                                       f"a manifest of version {manifest.v}, which publishes no programs")
            return
        if not self.active:
            return
        assert manifest.sealed_at is not None  # version 4 names it
        self._apply_programs(number, manifest)
        for item in manifest.usage:
            self.usage[item.id] = item
        for line in manifest.journal:
            if line.kind in EARNING_KINDS and line.amount > 0 and line.account != REWARDS_POOL and line.at is not None:
                self.credits.setdefault(line.account.lower(), []).append((line.at, line.amount))
        expected = self._due(manifest.sealed_at)
        self._compare(number, expected, [line for line in paid if line.amount > 0 and line.account != REWARDS_POOL])
        self.payouts += len(expected)

    def _apply_programs(self, number: int, manifest: Manifest) -> None:
        domain = eip712.Domain(manifest.chain_id, manifest.contract)
        for i, line in enumerate(manifest.programs):
            where = f"programs[{i}]"
            if line.change == DEFINE:
                if line.program in self.definitions:
                    raise AuditDiscrepancy(number, f"{where}: program {line.program!r} is defined again", field=where)
                assert line.definition is not None
                self.definitions[line.program] = line.definition
                self.closed[line.program] = 0
                self.changes[line.program] = []
                continue
            if line.program not in self.definitions:
                raise AuditDiscrepancy(number, f"{where}: {line.change} in program {line.program!r}, which no "
                                       "manifest defined before", field=where)
            assert line.account is not None
            if line.signature is not None:
                self._check_signature(number, where, domain, line.program, line.account, line.nonce or 0,
                                      line.issued_at or 0, line.signature)
            self.changes[line.program].append(Change(line.id, line.account, line.change, line.at))

    @staticmethod
    def _check_signature(number: int, where: str, domain: eip712.Domain, program: str, account: str, nonce: int,
                         issued_at: int, signature: bytes) -> None:
        try:
            signer = eip712.recover_address(domain.enrol_digest(account, program, nonce, issued_at), signature)
        except (SignatureError, ValueError) as exc:
            raise AuditDiscrepancy(number, f"{where}: the Enrol signature is malformed: {exc}", field=where) from None
        if signer != bytes.fromhex(account[2:]):
            raise AuditDiscrepancy(number, f"{where}: the Enrol signature is not {account}'s", field=where)

    def _earned(self, account: str, start: int, end: int) -> int:
        return sum(points for at, points in self.credits.get(account.lower(), ()) if start <= at < end)

    def _due(self, now: int) -> list[Payout]:
        taken: set[int] = set()

        def unpaid(account: str, since: int) -> Sequence[tuple[int, int]]:
            return [(i, item.units) for i, item in sorted(self.usage.items())
                    if item.account.lower() == account.lower() and item.at >= since and item.points == 0
                    and i not in self.retro_paid and i not in taken]

        owed: list[Payout] = []
        for program in sorted(self.definitions):
            payouts, closed = due_payouts(self.definitions[program], self.closed[program], now,
                                          self.changes[program], self._earned, unpaid)
            for payout in payouts:
                taken.update(payout.usage_ids)
            owed.extend(payouts)
            self.closed[program] = closed
        self.retro_paid |= taken
        return owed

    @staticmethod
    def _compare(number: int, expected: list[Payout], published: list[JournalLine]) -> None:
        by_ref = {line.ref: line for line in published}
        if len(by_ref) != len(published):
            twice = next(line for line in published if sum(other.ref == line.ref for other in published) > 1)
            raise AuditDiscrepancy(number, f"journal entry {twice.id} ({twice.ref}): paid more than once")
        for payout in expected:
            line = by_ref.pop(payout.ref, None)
            if line is None:
                raise AuditDiscrepancy(number, f"{payout.ref}: the published programs and journal give a "
                                       f"{payout.kind} of {payout.points} points to {payout.account}; the manifest "
                                       "has no such entry")
            if (line.kind, line.account.lower(), line.amount) != (payout.kind, payout.account.lower(), payout.points):
                raise AuditDiscrepancy(number, f"journal entry {line.id} ({line.ref}): the published programs and "
                                       f"journal give a {payout.kind} of {payout.points} points to {payout.account}; "
                                       f"the manifest says a {line.kind} of {line.amount} to {line.account}")
        for line in by_ref.values():
            raise AuditDiscrepancy(number, f"journal entry {line.id} ({line.ref}): a {line.kind} of {line.amount} "
                                   "points that no published program owes")
