"""Programs in the ledger (docs/rewards.md, "Programs"): a period's close tops a member up to the
minimum from what it earned in the period, once; retroactive pay of unpaid usage units, once;
everything published in the manifests (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from ledger import journal
from ledger.content import LocalBlockStore
from ledger.db import make_engine, make_sessionmaker
from ledger.epochs import Anchor, seal_epoch
from ledger.errors import InvalidFieldError
from ledger.export import start_export
from ledger.migrate import upgrade
from ledger.models import JournalEntry, ProgramPayout, UsageItem
from ledger.program_rules import Definition, parse_date, parse_definition
from ledger.programs import NotAMemberError, ProgramExistsError, change_membership, define
from ledger.usage import record_usage
from tests.ledger.test_epochs import contribute

ANCHOR = Anchor(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3")
ABOVE, BELOW, OUTSIDER = ("0x" + f"{n:040x}" for n in (0xA1, 0xB2, 0xC3))
DAY = 86_400
START = parse_date("2026-12-07", "start")  # a Monday


@pytest.fixture
def ledger(db_url: str, tmp_path: Path) -> tuple[sessionmaker[Session], LocalBlockStore]:
    upgrade(db_url)
    return make_sessionmaker(make_engine(db_url)), LocalBlockStore(tmp_path / "blocks", fsync=False)


def accrue(sessions: sessionmaker[Session], account: str, points: int, at: int, kind: str = journal.ACCRUAL) -> None:
    with sessions() as session, session.begin():
        journal.accrue_many(session, [(account, points, f"{kind}-{account}-{at}", None)], created_at=at, kind=kind)


def seal(sessions: sessionmaker[Session], store: LocalBlockStore, now: int) -> dict[str, Any] | None:
    with sessions() as session, session.begin():
        epoch = seal_epoch(session, store, ANCHOR, now=now)
        return None if epoch is None else json.loads(store.get(epoch.manifest_cid))


def weekly(sessions: sessionmaker[Session], minimum: int = 100, **more: Any) -> None:
    with sessions() as session, session.begin():
        define(session, parse_definition({"id": "creators", "period": "week", "minimum": str(minimum),
                                          "start": "2026-12-07", **more}), now=START - DAY)
        for account in (ABOVE, BELOW):
            change_membership(session, "creators", account, "enrol", now=START - DAY)


def payouts(sessions: sessionmaker[Session]) -> list[tuple[str, str, int]]:
    with sessions() as session:
        return [tuple(row) for row in session.execute(  # type: ignore[misc]
            select(ProgramPayout.ref, ProgramPayout.account, ProgramPayout.points).order_by(ProgramPayout.ref))]


def test_the_close_tops_up_only_the_member_below_the_minimum_by_the_difference(ledger: Any) -> None:
    sessions, store = ledger
    weekly(sessions)
    accrue(sessions, ABOVE, 140, START + 2 * DAY)
    accrue(sessions, BELOW, 30, START + 3 * DAY)
    accrue(sessions, BELOW, 25, START + 4 * DAY, kind=journal.USAGE)  # usage credits count
    accrue(sessions, BELOW, 500, START + 8 * DAY)  # the next period's: does not count for this one
    accrue(sessions, OUTSIDER, 1, START + DAY)  # not a member: never topped up
    with sessions() as session, session.begin():  # a grant is not earned in the period
        journal.post_transfer(session, debit=journal.REWARDS_POOL, credit=BELOW, amount=40, kind=journal.GRANT,
                              ref="bounty", created_at=START + DAY)
    first = seal(sessions, store, START + 6 * DAY)  # before the week ends: nothing closes
    assert first is not None and payouts(sessions) == []
    assert [line["change"] for line in first["programs"]] == ["define", "enrol", "enrol"]
    assert first["v"] == 5 and first["sealedAt"] == START + 6 * DAY

    second = seal(sessions, store, START + 7 * DAY + 5)  # the first seal after the week ended
    ref = f"program/creators/2026-12-07/{BELOW}"
    assert payouts(sessions) == [(ref, BELOW, 100 - 30 - 25)]
    assert second is not None
    topup = [line for line in second["journal"] if line["kind"] == "minimum-topup"]
    assert [(line["account"], line["amount"], line["ref"]) for line in topup] == [
        (journal.REWARDS_POOL, "-45", ref), (BELOW, "45", ref)]
    # Nothing more, however often it seals again.
    assert seal(sessions, store, START + 7 * DAY + 60) is None
    assert payouts(sessions) == [(ref, BELOW, 45)]


def test_a_member_who_left_before_the_period_ended_is_not_topped_up(ledger: Any) -> None:
    sessions, store = ledger
    weekly(sessions)
    with sessions() as session, session.begin():
        change_membership(session, "creators", BELOW, "leave", now=START + DAY)
        with pytest.raises(NotAMemberError):
            change_membership(session, "creators", OUTSIDER, "leave", now=START + DAY)
    seal(sessions, store, START + 7 * DAY)
    assert [account for _, account, _ in payouts(sessions)] == [ABOVE]


def test_every_period_ended_since_the_last_seal_closes_in_one_seal(ledger: Any) -> None:
    sessions, store = ledger
    with sessions() as session, session.begin():
        define(session, Definition("fast", "60", 10, START), now=START)
        change_membership(session, "fast", ABOVE, "enrol", now=START)
    accrue(sessions, ABOVE, 4, START + 61)
    seal(sessions, store, START + 185)  # three one-minute periods ended
    assert payouts(sessions) == [(f"program/fast/2026-12-07T00:00:00Z/{ABOVE}", ABOVE, 10),
                                 (f"program/fast/2026-12-07T00:01:00Z/{ABOVE}", ABOVE, 6),
                                 (f"program/fast/2026-12-07T00:02:00Z/{ABOVE}", ABOVE, 10)]


def test_months_follow_the_calendar() -> None:
    program = Definition("m", "month", 1, parse_date("2026-01-31", "start"))
    assert [program.label(k) for k in range(4)] == ["2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30"]
    assert program.ended_by(parse_date("2026-02-28", "x")) == 1
    assert program.ended_by(parse_date("2026-02-27", "x")) == 0


def contributions(sessions: sessionmaker[Session], store: LocalBlockStore) -> list[int]:
    """Two real contributions, of ABOVE and BELOW, exported to the consumer (usage names them)."""
    contribute(sessions, store, 0, 2, accounts=[ABOVE, BELOW])
    with sessions() as session, session.begin():
        page = start_export(session, consumer="consumer", after=0, limit=10, now=START - 40 * DAY)
        return [row.id for row in page.rows]


def test_retroactive_pay_of_unpaid_usage_units_happens_once(ledger: Any) -> None:
    sessions, store = ledger
    ids = contributions(sessions, store)
    with sessions() as session, session.begin():  # recorded unpaid (0 points a unit), before and after the date
        record_usage(session, ref="early", items=[(ids[0], 9)], points_per_unit=0, now=START - 30 * DAY,
                     consumer="consumer")
        record_usage(session, ref="later", items=[(ids[0], 3), (ids[1], 2)], points_per_unit=0,
                     now=START - 2 * DAY, consumer="consumer")
        record_usage(session, ref="paid", items=[(ids[1], 5)], points_per_unit=7, now=START - 2 * DAY,
                     consumer="consumer")
    weekly(sessions, minimum=1, retroactiveFrom="2026-12-01", retroRate="4")
    manifest = seal(sessions, store, START + 7 * DAY)
    assert manifest is not None
    assert sorted((u["ref"], u["units"], u["points"]) for u in manifest["usage"]) == [
        ("early", 9, "0"), ("later", 2, "0"), ("later", 3, "0"), ("paid", 5, "35")]
    retro = [(ref, account, points) for ref, account, points in payouts(sessions) if "/retro/" in ref]
    assert retro == [(f"program/creators/retro/{ABOVE}", ABOVE, 3 * 4),
                     (f"program/creators/retro/{BELOW}", BELOW, 2 * 4)]
    seal(sessions, store, START + 14 * DAY)  # the second close pays no retro again
    assert [p for p in payouts(sessions) if "/retro/" in p[0]] == retro
    with sessions() as session:
        assert session.scalar(select(func.count()).where(UsageItem.retro_ref.is_not(None))) == 2


def test_definitions_are_immutable_and_bad_ones_name_the_field(ledger: Any) -> None:
    sessions, _ = ledger
    weekly(sessions)
    with sessions() as session, session.begin():
        same = define(session, parse_definition({"id": "creators", "period": "week", "minimum": "100",
                                                 "start": "2026-12-07"}), now=START)
        assert same.replayed
        with pytest.raises(ProgramExistsError):
            define(session, Definition("creators", "week", 101, START), now=START)
    for body, field in [({"id": "x", "period": "year", "minimum": "1", "start": "2026-12-07"}, "period"),
                        ({"id": "x", "period": 0, "minimum": "1", "start": "2026-12-07"}, "period"),
                        ({"id": "X!", "period": "day", "minimum": "1", "start": "2026-12-07"}, "id"),
                        ({"id": "x", "period": "day", "minimum": "01", "start": "2026-12-07"}, "minimum"),
                        ({"id": "x", "period": "day", "minimum": "1", "start": "2026-13-07"}, "start"),
                        ({"id": "x", "period": "day", "minimum": "1", "start": "2026-12-07",
                          "retroactiveFrom": "2026-01-01"}, "retroRate"),
                        ({"id": "x", "period": "day", "minimum": "1"}, "start"),
                        ({"id": "x", "period": "day", "minimum": "1", "start": "2026-12-07", "more": 1}, "more")]:
        with pytest.raises(InvalidFieldError) as caught:
            parse_definition(body)
        assert caught.value.field == field, body


def test_balances_include_the_topups(ledger: Any) -> None:
    sessions, store = ledger
    weekly(sessions)
    seal(sessions, store, START + 7 * DAY)
    with sessions() as session:
        assert journal.balance_of(session, BELOW).balance == 100
        assert journal.journal_sum(session) == 0
        assert session.scalar(select(func.count()).where(JournalEntry.epoch.is_(None))) == 0


@pytest.mark.postgres
def test_two_closes_past_the_seal_lock_cannot_both_pay_the_ref_guards_it(pg_url: str, tmp_path: Path) -> None:
    """Were two sealers ever to get past the seal's lock, the payout's ref (a primary key) would
    refuse the second: it waits on the first's row, then fails, and its transaction rolls back."""
    import threading

    from sqlalchemy.exc import IntegrityError

    from ledger.program_close import close_programs

    upgrade(pg_url)
    sessions, store = make_sessionmaker(make_engine(pg_url)), LocalBlockStore(tmp_path / "blocks", fsync=False)
    weekly(sessions)
    seal(sessions, store, START)  # the members' changes sealed; the week not over
    first = sessions()
    first.begin()
    assert [p.account for p in close_programs(first, START + 7 * DAY)] == [ABOVE, BELOW]
    failures: list[BaseException] = []

    def second() -> None:
        try:
            with sessions() as session, session.begin():
                close_programs(session, START + 7 * DAY)
        except IntegrityError as exc:
            failures.append(exc)

    racing = threading.Thread(target=second)
    racing.start()
    racing.join(timeout=2)
    assert racing.is_alive()  # waiting on the first's uncommitted payout row
    first.commit()
    first.close()
    racing.join(timeout=30)
    assert len(failures) == 1 and "pk_program_payouts" in str(failures[0])
    assert [account for _, account, _ in payouts(sessions)] == [ABOVE, BELOW]


def test_a_seal_is_due_for_a_close_only_while_someone_may_be_owed(ledger: Any) -> None:
    from ledger.sealing import sealing_state

    sessions, store = ledger
    weekly(sessions)
    seal(sessions, store, START)
    with sessions() as session:
        assert sealing_state(session, START + 6 * DAY).pending == 0  # the week is not over
        assert sealing_state(session, START + 7 * DAY).pending == 1  # it is: a seal is due to close it
    seal(sessions, store, START + 7 * DAY)
    with sessions() as session, session.begin():
        for account in (ABOVE, BELOW):
            change_membership(session, "creators", account, "leave", now=START + 7 * DAY + 1)
    seal(sessions, store, START + 7 * DAY + 2)
    with sessions() as session:  # nobody was a member of the second week: no empty epoch for it
        assert sealing_state(session, START + 14 * DAY).pending == 0
