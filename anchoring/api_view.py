"""What a Tally API says is final, held against what the chain holds (``tally audit --api``).

The audit trusts no API; but an API that tells contributors their epoch is final while the
contract does not hold it is exactly what an auditor should hear about. ``GET /v1/config``
names the chain and contract the API anchors on, ``GET /v1/epochs`` (newest first, ``next``
the cursor of the following page) each epoch's ``state``. Epochs the API has not called final
yet (sealed, submitted, mined) may run ahead of the chain; final ones may not.

The API is read before the chain's ``latestEpoch()`` is read again, so an epoch that became
final while a long audit ran is on the chain by the time it is compared.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from anchoring.audit_failures import ApiDisagreement, counted
from ledger.errors import InvalidInputError, UnavailableError

__all__ = ["ApiAnswerError", "ApiUnavailableError", "ApiView", "compare_final_epochs", "fetch_api_view"]

PAGE = 500
"""The largest page ``GET /v1/epochs`` serves."""


class ApiUnavailableError(UnavailableError):
    """The Tally API given with ``--api`` cannot be reached or fails (5xx): try again later."""


class ApiAnswerError(InvalidInputError):
    """The URL given with ``--api`` does not answer as a Tally API does: the URL is wrong."""


@dataclass(frozen=True, slots=True)
class ApiView:
    """A Tally API's account of where it anchors and which of its epochs are final."""

    url: str
    chain_id: int
    contract: str
    final_epochs: int
    newest_final: int | None


def compare_final_epochs(view: ApiView, chain_id: int, contract: str, chain_epochs: int) -> None:
    """Raise ``ApiDisagreement`` when the API anchors elsewhere or calls final more epochs, or a
    later one, than the ``chain_epochs`` the contract holds."""
    if view.chain_id != chain_id or view.contract.lower() != contract.lower():
        raise ApiDisagreement(view.url, f"anchors on {view.contract} on chain {view.chain_id}, not on the audited "
                                        f"{contract} on chain {chain_id}")
    newest = view.newest_final or 0
    if view.final_epochs > chain_epochs or newest > chain_epochs:
        final = counted(view.final_epochs, "final epoch")
        raise ApiDisagreement(view.url, f"reports {final} (the newest epoch {newest}); the chain holds {chain_epochs}")


def _get(client: httpx.Client, url: str, path: str, params: dict[str, int] | None = None) -> Any:
    try:
        response = client.get(f"{url}{path}", params=params)
    except httpx.TransportError as exc:
        raise ApiUnavailableError(f"cannot reach the Tally API at {url}: {type(exc).__name__}") from None
    if response.status_code >= 500:
        raise ApiUnavailableError(f"the Tally API at {url} answered {response.status_code} for {path}")
    if response.status_code != 200:
        raise ApiAnswerError(f"--api {url} is not a Tally API: {path} answered {response.status_code}")
    try:
        return response.json()
    except ValueError:
        raise ApiAnswerError(f"--api {url} is not a Tally API: {path} is not JSON") from None


def _final_numbers(client: httpx.Client, url: str) -> list[int]:
    numbers: list[int] = []
    before: int | None = None
    while True:
        page = _get(client, url, "/v1/epochs", {"limit": PAGE} if before is None else {"limit": PAGE, "before": before})
        items = page.get("items") if isinstance(page, dict) else None
        if not isinstance(items, list) or not all(isinstance(i, dict) and isinstance(i.get("epoch"), int)
                                                  for i in items):
            raise ApiAnswerError(f"--api {url} is not a Tally API: /v1/epochs lists no epochs")
        numbers += [item["epoch"] for item in items if item.get("state") == "final"]
        cursor = page.get("next")
        if not isinstance(cursor, int) or (before is not None and cursor >= before):
            return numbers
        before = cursor


def fetch_api_view(url: str, timeout: float = 60.0) -> ApiView:
    """The API's chain, contract and final epochs, every page of them."""
    url = url.rstrip("/")
    with httpx.Client(timeout=timeout) as client:
        config = _get(client, url, "/v1/config")
        if not isinstance(config, dict) or not isinstance(config.get("chainId"), int) \
                or not isinstance(config.get("contract"), str):
            raise ApiAnswerError(f"--api {url} is not a Tally API: /v1/config names no chainId and contract")
        final = _final_numbers(client, url)
    return ApiView(url, config["chainId"], config["contract"], len(final), max(final, default=None))
