"""One submission in two database round trips on PostgreSQL.

``ledger.intake.accept_one`` on PostgreSQL. The statements of ``record`` for one submission are
sent with psycopg's pipeline mode, so the server gets each group at once and answers once:

1. The client address's request count, a transaction of its own (``ledger.quotas.count_request``'s
   upsert, so that a refused submission is counted too); then BEGIN, the locks of the checks
   (``ledger.db.serialise_each``'s statement), the near-duplicate candidates, the contributor's
   request count and recent usage, and the next ids of the contribution and of its accrual: one
   round trip. Each statement takes its snapshot when it starts, after the locks, as in ``record``.
2. The decisions, in Python, by the same functions as ``record``'s (``match_near_duplicates``,
   ``decide_contributors``), and the row, its receipt signed (``built_rows``).
3. The inserts of the contribution (with its id), its stored bytes, its accrual's transfer and
   two entries, its band keys, then COMMIT: one round trip.

A single submission costs these two round trips, where one statement at a time cost fifteen
(bench/ingest.py counts them); a request refused before them (a body that does not parse or
verify) is counted in a round trip of its own (``count_client_request``). A unique-index
violation (an exact duplicate or a reused nonce, raced by another replica) fails the commit and
is explained after the rollback, as on the other path. Batches and SQLite keep ``record``.

A batch on PostgreSQL goes through ``record``, whose statements here take their values as one array
parameter a column (``insert_as_arrays``, ``screened_rows``, and in their modules the near-duplicate
candidates and the limits' counts): a statement's text is then the same whatever the batch's size,
so psycopg converts it once and prepares it after a few batches, where a statement of a parameter a
value is compiled, converted and planned again for every batch.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.types.json import Json
from sqlalchemy import exc as sa_exc
from sqlalchemy import insert, text
from sqlalchemy.dialects.postgresql import psycopg as psycopg_dialect
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.expression import ClauseElement, TextClause

from ledger import journal
from ledger.content import ContentStore
from ledger.db import LOCK_KEYS_STATEMENT, table_of
from ledger.errors import TallyError
from ledger.intake import (
    SignReceipt,
    StoredImage,
    Submission,
    UnstorableError,
    accrual_of,
    built_rows,
    image_rows,
    lost_race,
    refusal_of,
    stored_object_row,
)
from ledger.models import (
    Contribution,
    ContributionImage,
    JournalEntry,
    JournalTransfer,
    NearDuplicateKey,
    StoredObject,
)
from ledger.near_duplicate_index import (
    CANDIDATES_OF_ARRAY,
    band_rows,
    match_near_duplicates,
    near_duplicate_locks,
)
from ledger.quotas import Quotas, client_refusal, contributor_locks, decide_contributors, usage_window
from ledger.scoring import Score

__all__ = ["accept_pipelined", "count_client_request", "index_bands_as_arrays", "insert_as_arrays"]

_DIALECT = psycopg_dialect.dialect()  # type: ignore[no-untyped-call]


def _sql(statement: ClauseElement) -> str:
    """A SQLAlchemy statement as psycopg takes it (``%(name)s`` parameters), compiled once."""
    return str(statement.compile(dialect=_DIALECT))


LOCKS = _sql(LOCK_KEYS_STATEMENT)
CANDIDATES = _sql(CANDIDATES_OF_ARRAY)
"""``near_duplicate_refusals``' read, with the keys as one array parameter."""
COUNT_REQUEST = (
    'INSERT INTO rate_counters (scope, subject, "window", count) VALUES (\'contributor\', %(subject)s, %(window)s, 1)'
    ' ON CONFLICT (scope, subject, "window") DO UPDATE SET count = rate_counters.count + 1 RETURNING count'
)
"""``ledger.quotas.count_request`` for a contributor."""
COUNT_CLIENT_REQUEST = COUNT_REQUEST.replace("'contributor'", "'client'")
"""``ledger.quotas.count_request`` for a client address."""
USAGE = (
    "SELECT contributor, count(*) FILTER (WHERE accepted_at >= %(hour)s),"
    " min(accepted_at) FILTER (WHERE accepted_at >= %(hour)s), sum(points) FILTER (WHERE accepted_at >= %(day)s)"
    " FROM contributions WHERE contributor = %(contributor)s AND accepted_at >= %(since)s GROUP BY contributor"
)
"""``ledger.quotas.contributor_refusals``' read of recent usage, for one contributor."""
NEXT_IDS = ("SELECT nextval(pg_get_serial_sequence('contributions', 'id')),"
            " nextval(pg_get_serial_sequence('journal_transfers', 'id'))")
INSERT_CONTRIBUTION = _sql(insert(table_of(Contribution)))
INSERT_STORED_OBJECT = _sql(insert(table_of(StoredObject)).values(
    {name: None for name in ("cid", "kind", "size", "data", "created_at", "pin_attempts", "next_pin_at")}))
INSERT_TRANSFER = _sql(insert(table_of(JournalTransfer)).values(
    {name: None for name in ("id", "kind", "ref", "created_at", "contribution_id")}))
INSERT_IMAGE_OBJECT = INSERT_STORED_OBJECT + " ON CONFLICT DO NOTHING"
INSERT_IMAGE = _sql(insert(table_of(ContributionImage)).values(
    {name: None for name in ("contribution_id", "position", "cid", "stored_cid", "media_type", "size", "wrapped_key")}))
_KEYS = table_of(NearDuplicateKey).name
INSERT_BANDS = (f"INSERT INTO {_KEYS} (key, contribution_id)"
                " SELECT key, %(contribution_id)s::BIGINT FROM unnest(%(keys)s::BIGINT[]) AS band(key)")
"""``index_bands``' rows of one contribution in one statement (its keys as one array)."""
INSERT_ENTRIES = ("INSERT INTO journal_entries (transfer_id, account, amount, kind, ref, created_at) VALUES"
                  " (%(transfer_id)s::BIGINT, %(debit)s::VARCHAR, %(debited)s::BIGINT, %(kind)s::VARCHAR,"
                  " %(ref)s::VARCHAR, %(created_at)s::BIGINT),"
                  " (%(transfer_id)s::BIGINT, %(credit)s::VARCHAR, %(credited)s::BIGINT, %(kind)s::VARCHAR,"
                  " %(ref)s::VARCHAR, %(created_at)s::BIGINT)")
"""A transfer's two entries (``journal.entry_rows``: debit first) in one statement."""

_COLUMNS = [column.key for column in table_of(Contribution).columns]


@contextmanager
def _driver_errors(session: Session) -> Iterator[None]:
    """psycopg's errors as SQLAlchemy's, as they would be from ``session.execute``: what the
    API answers 503 (an outage) stays an outage, and a connection the server dropped leaves
    the pool."""
    try:
        yield
    except psycopg.OperationalError as error:
        if session.connection().connection.driver_connection.broken:  # type: ignore[union-attr]
            session.connection().invalidate(error)
        raise sa_exc.OperationalError(None, None, error) from error


class _Pipeline:
    """Statements sent on one connection in pipeline mode, their results read after a sync."""

    def __init__(self, connection: psycopg.Connection[Any]) -> None:
        self.connection = connection
        self.results: dict[str, psycopg.Cursor[Any]] = {}

    def send(self, name: str, statement: str, parameters: Mapping[str, Any] | None = None) -> None:
        self.results[name] = cursor = self.connection.cursor()
        cursor.execute(statement, parameters)

    def rows(self, name: str) -> list[Any]:
        return self.results[name].fetchall() if name in self.results else []


def _send_checks(pipeline: _Pipeline, submission: Submission, quotas: Quotas | None, now: int) -> None:
    prepared, contributor = submission.prepared, submission.consent.contributor
    locks = [*near_duplicate_locks([prepared.band_keys]), *contributor_locks(quotas, [contributor])]
    if locks:
        ordered = sorted(set(locks))
        pipeline.send("locks", LOCKS, {"namespaces": [n for n, _ in ordered], "objids": [o for _, o in ordered]})
    if prepared.near_duplicate is not None:
        pipeline.send("candidates", CANDIDATES, {"keys": list(prepared.band_keys)})
    if quotas is not None and contributor_locks(quotas, [contributor]):
        if quotas.contributor_requests_per_minute:
            pipeline.send("requests", COUNT_REQUEST, {"subject": contributor, "window": now // 60})
        hour, day = usage_window(now)
        pipeline.send("usage", USAGE, {"hour": hour, "day": day, "since": min(hour, day), "contributor": contributor})
    pipeline.send("ids", NEXT_IDS)


def _send_client_count(pipeline: _Pipeline, client: str, now: int) -> None:
    """The client address's count as a transaction of its own ahead of the submission's, so
    that it stays when the submission is refused. (Without its BEGIN, the upsert would run in
    the implicit transaction that the submission's BEGIN turns into its own.)"""
    pipeline.send("client begin", "BEGIN")
    pipeline.send("client", COUNT_CLIENT_REQUEST, {"subject": client, "window": now // 60})
    pipeline.send("client commit", "COMMIT")


def _refusal(pipeline: _Pipeline, submission: Submission, quotas: Quotas | None, now: int) -> TallyError | None:
    prepared, contributor = submission.prepared, submission.consent.contributor
    if quotas is not None and "client" in pipeline.results:
        ((count,),) = pipeline.rows("client")
        client = client_refusal(quotas, count, now)
        if client is not None:
            return client
    if prepared.near_duplicate is not None:
        refusal = refusal_of(match_near_duplicates(
            [(prepared.near_duplicate, prepared.band_keys, prepared.content_hash)], pipeline.rows("candidates"))[0])
        if refusal is not None:
            return refusal
    if quotas is not None and "usage" in pipeline.results:
        requests = dict((contributor, count) for (count,) in pipeline.rows("requests"))
        return decide_contributors(quotas, [(contributor, prepared.score.points)], requests,
                                   pipeline.rows("usage"), now)[0]
    return None


def _send_writes(pipeline: _Pipeline, row: Contribution, data: bytes, band_keys: tuple[int, ...],
                 transfer_id: int, now: int, images: list[StoredImage]) -> None:
    writes = pipeline.connection.cursor()
    values = {key: getattr(row, key) for key in _COLUMNS}
    values["score"] = Json(values["score"])
    writes.execute(INSERT_CONTRIBUTION, values)
    writes.execute(INSERT_STORED_OBJECT, stored_object_row(row.cid, data, now))
    for transfer in journal.accruals_of([accrual_of(row)]):
        writes.execute(INSERT_TRANSFER, {"id": transfer_id,
                                         **journal.transfer_row(transfer, kind=journal.ACCRUAL, created_at=now)})
        debit, credit = journal.entry_rows(transfer_id, transfer, kind=journal.ACCRUAL, created_at=now)
        writes.execute(INSERT_ENTRIES, {**debit, "debit": debit["account"], "debited": debit["amount"],
                                        "credit": credit["account"], "credited": credit["amount"]})
    if band_keys:
        # One statement where executemany would send one a row (each a message of its own).
        writes.execute(INSERT_BANDS, {"contribution_id": row.id,
                                      "keys": [band["key"] for band in band_rows([(row.id, band_keys)])]})
    if images:
        objects, image_table = image_rows(row, images, now)
        # An image stored before (public mode: the same image in another contribution) stays.
        writes.executemany(INSERT_IMAGE_OBJECT, list({str(o["cid"]): o for o in objects}.values()))
        writes.executemany(INSERT_IMAGE, image_table)


INSERT_BANDS_OF_MANY = text(
    f"INSERT INTO {_KEYS} (key, contribution_id)"
    " SELECT * FROM unnest(CAST(:keys AS BIGINT[]), CAST(:ids AS BIGINT[]))")
"""``index_bands``' rows of a batch in one statement of two array parameters, its text the same
whatever the number of rows: the driver converts and the server prepares it once, where a
statement of a parameter a value (insertmanyvalues) is converted again for every batch."""


def index_bands_as_arrays(session: Session, items: Sequence[tuple[int, Sequence[int]]]) -> None:
    """``ledger.near_duplicate_index.index_bands`` on PostgreSQL: the same rows (``band_rows``)."""
    rows = band_rows(items)
    if rows:
        session.execute(INSERT_BANDS_OF_MANY, {"keys": [r["key"] for r in rows],
                                               "ids": [r["contribution_id"] for r in rows]})


def count_client_request(sessions: sessionmaker[Session], client: str, now: int) -> int:
    """``ledger.quotas.count_request`` for a client address on PostgreSQL, for a request that does not reach
    ``accept_pipelined`` (a batch, a body refused before): the upsert as its own transaction
    (autocommit) on the pooled connection's driver, without the ORM session's statement
    compilation and isolation-level switching, which cost three times the upsert's own CPU."""
    with sessions() as session:
        driver = session.connection().connection.driver_connection
        assert isinstance(driver, psycopg.Connection)
        with _driver_errors(session), _explicit_transaction(driver):
            counted = driver.execute(COUNT_CLIENT_REQUEST, {"subject": client, "window": now // 60}).fetchone()
    assert counted is not None  # an upsert with RETURNING answers one row
    return int(counted[0])


@contextmanager
def _explicit_transaction(driver: psycopg.Connection[Any]) -> Iterator[None]:
    """The connection in autocommit while BEGIN and COMMIT go as statements of the pipeline (the
    BEGIN psycopg sends by itself waits for its answer, a round trip of its own); whatever goes
    wrong, the transaction is rolled back before the connection returns to the pool as it was."""
    driver.autocommit = True
    try:
        yield
    finally:
        if not driver.broken:
            if driver.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                driver.execute("ROLLBACK")
            driver.autocommit = False


def accept_pipelined(
    sessions: sessionmaker[Session], submission: Submission, *, store: ContentStore, sign_receipt: SignReceipt,
    now: int, master_key: bytes | None, quotas: Quotas | None, count_client: bool = False,
) -> tuple[Contribution, Score]:
    """Accept one contribution in a transaction of its own, or raise the refusal; with
    ``count_client``, count the submission's client address first, in the same round trip."""
    with sessions() as session:
        driver = session.connection().connection.driver_connection
        assert isinstance(driver, psycopg.Connection)
        try:
            with _driver_errors(session), _explicit_transaction(driver), driver.pipeline() as sync:
                pipeline = _Pipeline(driver)
                if count_client and quotas is not None and submission.client is not None:
                    _send_client_count(pipeline, submission.client, now)
                pipeline.send("begin", "BEGIN")
                _send_checks(pipeline, submission, quotas, now)
                sync.sync()  # the first round trip
                refusal = _refusal(pipeline, submission, quotas, now)
                if refusal is not None:
                    raise refusal
                ((contribution_id, transfer_id),) = pipeline.rows("ids")
                rows, stored, images = built_rows([submission], [0], store=store, sign_receipt=sign_receipt,
                                                  now=now, master_key=master_key)
                row = rows[0]
                row.id = contribution_id
                _send_writes(pipeline, row, stored[0], submission.prepared.band_keys, transfer_id, now, images[0])
                pipeline.send("commit", "COMMIT")
                # Leaving the pipeline syncs: the second round trip.
        except psycopg.DataError:
            session.rollback()
            raise UnstorableError() from None
        except psycopg.IntegrityError:
            session.rollback()
            with session.begin():
                lost = lost_race(session, submission.prepared, submission.consent)
            if lost is None:
                raise
            raise lost from None
    return row, submission.prepared.score


def _array_type(column_type: str) -> str:
    """A column's type as the element of an array parameter, without its length: a cast to
    VARCHAR(n) would cut a value too long, where the insert itself refuses it (a DataError, which
    ``record`` answers as an unstorable item, as before)."""
    return column_type.split("(", 1)[0] + "[]"


def _unnest_insert(model: type, columns: Sequence[str], returning: str = "") -> TextClause:
    """``INSERT INTO t (columns) SELECT * FROM unnest(one array parameter a column)``: a batch's
    rows in one statement whose text is the same for every batch, so the driver converts it and
    the server plans it once; the rows go in array order (ids from the serial in that order)."""
    table = table_of(model)
    arrays = ", ".join(f"CAST(:{name} AS {_array_type(table.c[name].type.compile(dialect=_DIALECT))})"
                       for name in columns)
    return text(f"INSERT INTO {table.name} ({', '.join(columns)}) SELECT * FROM unnest({arrays})"
                + (f" RETURNING {returning}" if returning else ""))


_CONTRIBUTION_COLUMNS = [c.key for c in table_of(Contribution).columns if c.key != "id"]
INSERT_CONTRIBUTIONS_OF_MANY = _unnest_insert(Contribution, _CONTRIBUTION_COLUMNS, "id, content_hash")
"""A batch's contribution rows; their ids come back with their contentHash (unique in a batch)."""
_STORED_COLUMNS = ["cid", "kind", "size", "data", "created_at", "pin_attempts", "next_pin_at"]
INSERT_STORED_OBJECTS_OF_MANY = _unnest_insert(StoredObject, _STORED_COLUMNS)
"""``stored_object_row`` of each contribution of a batch."""
_TRANSFER_COLUMNS = ["kind", "ref", "created_at", "contribution_id"]
INSERT_TRANSFERS_OF_MANY = _unnest_insert(JournalTransfer, _TRANSFER_COLUMNS, "id, contribution_id")
"""``journal.transfer_row`` of each accrual of a batch; the ids come back with their contribution."""
_ENTRY_COLUMNS = ["transfer_id", "account", "amount", "kind", "ref", "created_at"]
INSERT_ENTRIES_OF_MANY = _unnest_insert(JournalEntry, _ENTRY_COLUMNS)
"""``journal.entry_rows`` of each transfer of a batch, debit first, in the transfers' order."""


def _columns(rows: Sequence[Mapping[str, Any]], names: Sequence[str]) -> dict[str, list[Any]]:
    return {name: [row[name] for row in rows] for name in names}


def insert_as_arrays(session: Session, items: Sequence[tuple[Contribution, bytes, Sequence[int]]], now: int) -> None:
    """``ledger.intake``'s inserts of a batch on PostgreSQL, the same rows: the contributions
    (their ids set on the rows), their stored bytes, their accruals' transfers and entries and
    their band keys, one statement a table of one array parameter a column (images, rarer,
    are the caller's). Run in the caller's transaction or savepoint, through the session, so a
    violated unique index raises SQLAlchemy's IntegrityError as the statements it replaces."""
    rows = [row for row, _, _ in items]
    contributions: dict[str, list[Any]] = {name: [getattr(row, name) for row in rows]
                                           for name in _CONTRIBUTION_COLUMNS}
    # As SQLAlchemy's JSON type binds it (psycopg's Json: json.dumps), as text for a json[] cast.
    contributions["score"] = [json.dumps(score) for score in contributions["score"]]
    ids = dict((bytes(content_hash), row_id) for row_id, content_hash
               in session.execute(INSERT_CONTRIBUTIONS_OF_MANY, contributions))
    for row in rows:
        row.id = ids[row.content_hash]
    session.execute(INSERT_STORED_OBJECTS_OF_MANY, _columns(
        [stored_object_row(row.cid, data, now) for row, data, _ in items], _STORED_COLUMNS))
    transfers = journal.accruals_of([accrual_of(row) for row in rows])
    if transfers:
        transfer_ids = dict((contribution_id, transfer_id) for transfer_id, contribution_id in session.execute(
            INSERT_TRANSFERS_OF_MANY, _columns(
                [journal.transfer_row(t, kind=journal.ACCRUAL, created_at=now) for t in transfers],
                _TRANSFER_COLUMNS)))
        session.execute(INSERT_ENTRIES_OF_MANY, _columns(
            [entry for t in transfers for entry in journal.entry_rows(
                transfer_ids[t.contribution_id], t, kind=journal.ACCRUAL, created_at=now)], _ENTRY_COLUMNS))
    index_bands_as_arrays(session, [(row.id, keys) for row, _, keys in items])


SCREEN_OF_ARRAYS = text(
    "SELECT id, content_hash, contributor, nonce, batch_root FROM contributions"
    " WHERE content_hash = ANY(CAST(:hashes AS BYTEA[]))"
    " UNION ALL SELECT c.id, c.content_hash, c.contributor, c.nonce, c.batch_root FROM contributions AS c"
    " JOIN unnest(CAST(:contributors AS VARCHAR[]), CAST(:nonces AS VARCHAR[])) AS p(contributor, nonce)"
    " ON c.contributor = p.contributor AND c.nonce = p.nonce WHERE c.batch_root IS NULL")
"""``ledger.intake.screen``'s read on PostgreSQL, its hashes and (contributor, nonce) pairs as arrays
in a statement of the same text for every batch. A row may come twice (by its hash and by its
pair), which ``screen`` reads the same; a batch item's pair matches only a single consent's row
(``uq_contributions_contributor_nonce``'s rows), the only ones ``screen`` takes pairs from, and a
row found by its hash is found by the first part whatever its pair."""


def screened_rows(session: Session, hashes: Sequence[bytes], pairs: Sequence[tuple[str, str]]
                  ) -> Sequence[Any]:
    """The rows ``screen`` reads: (id, contentHash, contributor, nonce, batch root)."""
    return session.execute(SCREEN_OF_ARRAYS, {"hashes": list(hashes), "contributors": [c for c, _ in pairs],
                                              "nonces": [n for _, n in pairs]}).all()
