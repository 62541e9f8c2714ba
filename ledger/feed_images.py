"""The image CIDs of a canonical conversation, for the feed.

Owned by the canonical version 2 work (images as content, DESIGN.md §2 version 2), which defines
``ledger.conversation.image_cids``; this minimal stand-in reads the same field until it lands, and
the two are to be unified into that one function.
"""

from __future__ import annotations

from typing import Any


def image_cids(canonical: dict[str, Any]) -> list[str]:
    """The ``images`` lists of the messages of a canonical object, in order; [] for version 1."""
    if canonical.get("v", 1) < 2:
        return []
    return [cid for message in canonical.get("messages", [])
            for cid in message.get("images", []) if isinstance(cid, str)]
