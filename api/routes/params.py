"""Path and query integers bounded by their column's range (``ledger.ids``): one definition each,
so an out-of-range number is a 422 on every route and never reaches the database."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query
from starlette.convertors import Convertor, register_url_convertor

from ledger.encoding import ADDRESS_PATTERN, HASH_PATTERN
from ledger.ids import MAX_EPOCH, MAX_ROW_ID


# Path strings are checked by the core (``ledger.encoding.parse_address``, the contribution
# lookup), which names the problem precisely (``invalid-address``...); the patterns are declared
# in the document only, so a client sees the form without the check moving to FastAPI.
class ContributionKeyConvertor(Convertor[str]):
    """``{key:contribution}`` in a route path: one segment without a colon, so
    ``/v1/contributions/7:erase`` is the erase route's path and no other's (a GET on it is a 405
    that names POST, not a lookup of the key "7:erase")."""

    regex = "[^/:]+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("contribution", ContributionKeyConvertor())

AccountAddress = Annotated[str, Path(
    description="an account: 0x followed by 40 hex digits (EIP-55 if mixed case)",
    json_schema_extra={"pattern": ADDRESS_PATTERN.pattern})]
ContributionKey = Annotated[str, Path(
    description=f"a contribution's id (1 to {MAX_ROW_ID}) or its 0x contentHash",
    json_schema_extra={"pattern": rf"^([1-9][0-9]{{0,18}}|{HASH_PATTERN.pattern[1:-1]})$"})]

EpochNumber = Annotated[int, Path(ge=1, le=MAX_EPOCH, description="the epoch's number")]
EpochQuery = Annotated[int | None, Query(ge=1, le=MAX_EPOCH,
                                         description="prove against this epoch (default: latest final)")]
EpochCursor = Annotated[int | None, Query(ge=1, le=MAX_EPOCH, description="cursor: list epochs below this number")]
EntryCursor = Annotated[int | None, Query(ge=0, le=MAX_ROW_ID, description="cursor: the last entry id seen")]
ContributionCursor = Annotated[int | None, Query(ge=1, le=MAX_ROW_ID,
                                                 description="cursor: contributions with a lower id")]
