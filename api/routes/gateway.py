"""A trustless IPFS gateway (the IPFS "Trustless Gateway" spec) for every object we store.

Responses are blocks (``application/vnd.ipld.raw``) or CARv1 streams of a whole DAG
(``application/vnd.ipld.car``), never interpreted content: a client checks every block against
its CID, so it need not trust us, and any other gateway serves the same bytes.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from api.errors import NotAcceptableError
from api.openapi import problems
from api.services import ServicesDep
from ledger.content import ContentError, ContentNotFoundError, InvalidCidError
from ledger.errors import InvalidInputError, NotFoundError, UnavailableError

router = APIRouter(tags=["gateway"])

RAW = "application/vnd.ipld.raw"
CAR = "application/vnd.ipld.car"


def _wanted(accept: str | None, format_: str | None) -> str:
    if format_ in ("raw", "car"):
        return RAW if format_ == "raw" else CAR
    for part in (accept or "").split(","):
        media = part.split(";", 1)[0].strip().lower()
        if media in (RAW, CAR):
            return media
    raise NotAcceptableError("ask for Accept: application/vnd.ipld.raw or application/vnd.ipld.car "
                  "(or ?format=raw|car): this is a trustless gateway")


_BYTES = {"schema": {"type": "string", "format": "binary"}}


@router.get("/ipfs/{cid}", operation_id="getIpfsObject", response_class=Response, responses={
    200: {"description": "The block (raw) or a CARv1 stream of the whole DAG (car), as asked for",
          "content": {RAW: _BYTES, CAR: _BYTES}},
    **problems("not-acceptable", "invalid-request", "not-found", "unavailable"),
})
async def ipfs(
    services: ServicesDep,
    cid: str,
    accept: Annotated[str | None, Header()] = None,
    format: Annotated[str | None, Query(pattern="^(raw|car)$")] = None,
) -> Response:
    media = _wanted(accept, format)
    store = services.store

    def read() -> bytes:
        return store.get_block(cid) if media == RAW else store.export_car([cid])

    try:
        body = await run_in_threadpool(read)
    except InvalidCidError as exc:
        raise InvalidInputError(f"not a CID: {exc}") from None
    except ContentNotFoundError:
        raise NotFoundError(f"{cid} is not stored here") from None
    except ContentError as exc:
        # A block that fails its hash check is never served.
        raise UnavailableError(f"{cid} cannot be served: {exc}") from None
    suffix = "bin" if media == RAW else "car"
    headers = {
        "Cache-Control": "public, max-age=29030400, immutable",
        "Etag": f'"{cid}.{suffix}"',
        "X-Content-Type-Options": "nosniff",
        "Content-Disposition": f'attachment; filename="{cid}.{suffix}"',
        "X-Ipfs-Path": f"/ipfs/{cid}",
    }
    if media == CAR:
        headers["Content-Type"] = f"{CAR}; version=1; order=dfs; dups=n"
    return Response(body, media_type=None if media == CAR else RAW, headers=headers)
