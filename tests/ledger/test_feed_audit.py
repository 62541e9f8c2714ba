"""The audit's check of engagement credits (ledger.feed.engagement_discrepancy), case by case."""

from __future__ import annotations

import pytest

from ledger.feed import LIKE, REMIX, engagement_discrepancy, engagement_ref
from ledger.formats.manifest import JournalLine
from ledger.journal import REWARDS_POOL

HASH = bytes(range(32))
CREATOR = "0x2B5AD5c4795c026514f8317c7a215E218DcCD6cF"
ACTOR = "0x6813Eb9362372EEF6200f3b1dbC3f819671cBA69"


def transfer(first_id: int, ref: str, *, payer: str = REWARDS_POOL, payee: str = CREATOR,
             amount: int = 3) -> list[JournalLine]:
    return [JournalLine(first_id, payer, -amount, "engagement", ref),
            JournalLine(first_id + 1, payee, amount, "engagement", ref)]


LIKED = engagement_ref(LIKE, HASH, ACTOR)

CASES = [
    ("a like and a remix", transfer(1, LIKED) + transfer(3, engagement_ref(REMIX, HASH, ACTOR)), None),
    ("other kinds are not engagements", [JournalLine(1, CREATOR, 5, "accrual", "anything")], None),
    ("a ref of another form", transfer(1, "like:0x12:" + ACTOR), "is not an engagement ref"),
    ("an address not in EIP-55 form", transfer(1, LIKED.lower()),
     "is not an engagement ref"),
    ("paid by another account", transfer(1, LIKED, payer=ACTOR), "is paid by"),
    ("credited to the actor", transfer(1, LIKED, payee=ACTOR), "its own contribution"),
    ("credited twice", transfer(1, LIKED) + transfer(3, LIKED), "credited twice"),
]


@pytest.mark.parametrize(("lines", "wrong"), [(lines, wrong) for _, lines, wrong in CASES],
                         ids=[name for name, _, _ in CASES])
def test_engagement_lines(lines: list[JournalLine], wrong: str | None) -> None:
    found = engagement_discrepancy(lines, set())
    assert (found is None) if wrong is None else (found is not None and wrong in found), found


def test_a_ref_credited_in_an_earlier_epoch_is_caught_in_a_later_one() -> None:
    seen: set[str] = set()
    assert engagement_discrepancy(transfer(1, LIKED), seen) is None
    assert "credited twice" in (engagement_discrepancy(transfer(9, LIKED), seen) or "")
