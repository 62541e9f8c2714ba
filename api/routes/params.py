"""Path and query integers bounded by their column's range (``ledger.ids``): one definition each,
so an out-of-range number is a 422 on every route and never reaches the database."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

from ledger.ids import MAX_EPOCH, MAX_ROW_ID

EpochNumber = Annotated[int, Path(ge=1, le=MAX_EPOCH, description="the epoch's number")]
EpochQuery = Annotated[int | None, Query(ge=1, le=MAX_EPOCH,
                                         description="prove against this epoch (default: latest final)")]
EpochCursor = Annotated[int | None, Query(ge=1, le=MAX_EPOCH, description="cursor: list epochs below this number")]
EntryCursor = Annotated[int | None, Query(ge=0, le=MAX_ROW_ID, description="cursor: the last entry id seen")]
ContributionCursor = Annotated[int | None, Query(ge=1, le=MAX_ROW_ID,
                                                 description="cursor: contributions with a lower id")]
