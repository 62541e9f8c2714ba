"""Near-duplicate conversations: a MinHash-style sketch of a conversation's text, the LSH band
keys that find earlier contributions sharing it (the database index is ``ledger.models``'
``NearDuplicateKey``; the check runs inside the intake transaction), and the rule that decides.

A sketch is one-permutation MinHash (Li, Owen and Zhang, NIPS 2012) with rotation densification
(Shrivastava and Li, ICML 2014), kept twice: once over the assistant's text and once over the
rest (user, system, tool). Each shingle is hashed once to 64 bits, the top 7 bits pick one of
``BINS`` bins, each bin keeps its smallest value, and an empty bin borrows from the next filled
one to its right. Two sketches agree in a bin with probability close to the Jaccard similarity
of the two shingle sets; with the sets' sizes (kept too) that gives their common part.

Why two: a copy brings almost no assistant text of its own, while the next part of a long
conversation (ShareGPT's ``_1`` after ``_0``) answers anew, often below the same pasted
article or code. So a submission is a near-duplicate of a contribution when their shingle sets
are close as a whole (Jaccard at least ``THRESHOLD_JACCARD``) *and* most of its assistant
shingles are the contribution's (``THRESHOLD_ASSISTANT``), with at least ``MIN_COMMON`` shingles
in common (a greeting of six words is like every other one; it is never called a copy).
bench/near_duplicates.py measured the thresholds on ShareGPT.

Shingles are pairs of adjacent tokens within a message; a token is a run of letters or digits,
case-folded, except that each CJK character is a token of its own (those scripts write no spaces).
So case, white space and punctuation do not matter, and the order of messages barely does.

The sketch is versioned (``VERSION``, its first byte and part of every band key): a sketch or a
key of other parameters is never compared with these (migration 0015 re-signs every contribution).
Written with numpy rather than taken from ``datasketch``: that hashes every shingle once per
permutation, this once in all.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from ledger.conversation import Conversation

VERSION = 2
"""The sketch's parameters; stored sketches of another version are not compared (migration 0015)."""
BINS = 128
"""Bins of each of the two sketches: the Jaccard estimate's standard error is ~0.04 at 0.6."""
ROWS = 3
BANDS = 16
"""LSH over the sketch of the whole text: 16 bands of 3 bins; a pair at Jaccard s shares a band
with probability 1-(1-s^3)^16 (0.99 at 0.6, 0.94 at 0.5, 0.35 at 0.3, 0.016 at 0.1)."""
THRESHOLD_JACCARD = 0.55
"""The whole text's shingles: at least this Jaccard similarity (estimated)."""
THRESHOLD_ASSISTANT = 0.5
"""The submission's assistant shingles: at least this share of them also the contribution's."""
MIN_COMMON = 10
"""At least this many shingles in common (estimated); a conversation with fewer shingles than
this is neither indexed nor looked up (it could never be refused)."""

_BIN_SHIFT = 64 - (BINS.bit_length() - 1)
_EMPTY = np.uint64(1 << 32)
_VALUE_MASK = np.uint64((1 << 32) - 1)
_MIX = np.uint64(0x9E3779B97F4A7C15)
_HEADER = 9
SKETCH_BYTES = _HEADER + 4 * BINS
"""Stored: the version (1 byte), the two shingle counts (4 bytes each), the two sketches (16-bit
values: two different minima agree by chance once in 65,536 bins)."""
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
_TOKEN = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+")

U16 = npt.NDArray[np.uint16]


@dataclass(frozen=True, slots=True, eq=False)
class Signature:
    """The two sketches of a conversation and the sizes of their shingle sets."""

    other: U16
    """``BINS`` values over the user, system and tool messages' shingles."""
    assistant: U16
    """``BINS`` values over the assistant messages' shingles."""
    other_count: int
    assistant_count: int
    keys: tuple[int, ...] = field(default=())
    """The band keys (computed when signing; a stored sketch does not keep them)."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Signature) and self.to_bytes() == other.to_bytes()

    def __hash__(self) -> int:
        return hash(self.to_bytes())

    @property
    def count(self) -> int:
        return self.other_count + self.assistant_count

    def to_bytes(self) -> bytes:
        return (bytes([VERSION]) + self.other_count.to_bytes(4, "big") + self.assistant_count.to_bytes(4, "big")
                + self.other.astype(">u2").tobytes() + self.assistant.astype(">u2").tobytes())

    @classmethod
    def from_bytes(cls, data: bytes) -> Signature | None:
        """The stored sketch, or None if it is of another version (not comparable)."""
        if len(data) != SKETCH_BYTES or data[0] != VERSION:
            return None
        values = np.frombuffer(data, dtype=">u2", offset=_HEADER).astype(np.uint16)
        return cls(values[:BINS], values[BINS:], int.from_bytes(data[1:5], "big"), int.from_bytes(data[5:9], "big"))

    def common(self, other: Signature) -> tuple[float, float]:
        """Estimated shingles in common: (in all, of the assistant's)."""
        return (_common(self.other, other.other, self.other_count, other.other_count)
                + _common(self.assistant, other.assistant, self.assistant_count, other.assistant_count),
                _common(self.assistant, other.assistant, self.assistant_count, other.assistant_count))

    def similarity(self, other: Signature) -> tuple[float, float]:
        """(estimated Jaccard similarity of the whole shingle sets, estimated share of this one's
        assistant shingles that are also the other's: 1 without any)."""
        common, assistant = self.common(other)
        union = self.count + other.count - common
        return (common / union if union > 0 else 0.0,
                assistant / self.assistant_count if self.assistant_count else 1.0)

    def is_near_duplicate_of(self, other: Signature) -> bool:
        """Whether this submission nearly copies ``other`` (not symmetric: the assistant text
        that counts is this one's)."""
        common, _ = self.common(other)
        if common < MIN_COMMON:
            return False
        jaccard, assistant = self.similarity(other)
        return jaccard >= THRESHOLD_JACCARD and assistant >= THRESHOLD_ASSISTANT

    def band_keys(self) -> list[int]:
        """One signed 64-bit key per band (the version, the band's number and its bins hashed)."""
        return list(self.keys)


def _common(a: U16, b: U16, na: int, nb: int) -> float:
    if not na or not nb:
        return 0.0
    jaccard = np.count_nonzero(a == b) / BINS
    return min(float(na), float(nb), jaccard / (1 + jaccard) * (na + nb))


_TOKEN_HASHES: dict[str | bytes, bytes] = {}
"""Tokens hashed before, in this process (most of a conversation's words are common ones): a
token's 8 hash bytes, keyed by its text, or by its UTF-8 bytes where it came from ASCII text."""
_TOKEN_HASHES_HELD = 1 << 18
_ASCII_SPLIT = bytes(c + 32 if 65 <= c <= 90 else c if chr(c).isalnum() else 32 for c in range(256))
"""For ASCII text: A-Z lowered, every other character but a letter or digit a space. On ASCII,
``casefold`` is ``lower`` and ``[^\\W_]`` is ``[A-Za-z0-9]``, so ``bytes.split`` after this gives
the tokens of ``tokens`` as bytes (``ascii_tokens``) at a fraction of the regular expression's
cost: 92% of real messages are ASCII."""


def tokens(text: str) -> list[str]:
    """The text's tokens as the sketch sees them: runs of letters or digits, case-folded, and
    each CJK character alone."""
    found: list[str] = _TOKEN.findall(text.casefold())
    return found


def ascii_tokens(text: str) -> list[bytes]:
    """``tokens`` of an ASCII text, as bytes, without the regular expression."""
    return text.encode("ascii").translate(_ASCII_SPLIT).split()


def _token_hashes(text: str, cache: dict[str | bytes, bytes] = _TOKEN_HASHES) -> list[bytes]:
    """Each token's BLAKE2b-64 of its UTF-8 bytes, in order."""
    if len(cache) > _TOKEN_HASHES_HELD:
        cache.clear()  # a bound on memory; emptied now and then, never wrong
    found: list[str] | list[bytes] = ascii_tokens(text) if text.isascii() else tokens(text)
    out = list(map(cache.get, found))
    if None in out:
        for i, value in enumerate(out):
            if value is None:
                token = found[i]
                data = token if isinstance(token, bytes) else token.encode("utf-8")
                out[i] = cache[token] = hashlib.blake2b(data, digest_size=8).digest()
    return out  # type: ignore[return-value]


def _shingles(texts: list[str]) -> npt.NDArray[np.uint64]:
    """The 64-bit hashes of the texts' shingles (pairs of adjacent tokens within a text; a
    one-token text is its token paired with itself). A pair is ordered: the first hash is
    rotated, so that (a, b) and (b, a) differ, then mixed (splitmix64's finaliser)."""
    hashes: list[bytes] = []
    starts: list[int] = []
    for text in texts:
        tokens = _token_hashes(text)
        if len(tokens) == 1:
            tokens.append(tokens[0])
        if tokens:
            starts.append(len(hashes))
            hashes.extend(tokens)
    if not hashes:
        return np.empty(0, np.uint64)
    a = np.frombuffer(b"".join(hashes), dtype=">u8").astype(np.uint64)
    previous, current = a[:-1], a[1:]
    mixed = (((previous << np.uint64(17)) | (previous >> np.uint64(47))) ^ current) * _MIX
    mixed ^= mixed >> np.uint64(31)
    within = np.ones(mixed.size, dtype=bool)
    within[np.array(starts[1:], dtype=np.intp) - 1] = False  # the pairs across two texts
    result: npt.NDArray[np.uint64] = mixed[within]
    return result


def _bins(shingles: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    """Each bin's smallest value (its low 32 bits), ``_EMPTY`` where no shingle falls."""
    bins = np.full(BINS, _EMPTY, dtype=np.uint64)
    if shingles.size:
        np.minimum.at(bins, (shingles >> np.uint64(_BIN_SHIFT)).astype(np.intp), shingles & _VALUE_MASK)
    return bins


def _distinct(shingles: npt.NDArray[np.uint64]) -> int:
    if not shingles.size:
        return 0
    ordered = np.sort(shingles)
    return 1 + int(np.count_nonzero(ordered[1:] != ordered[:-1]))


def _densified(bins: npt.NDArray[np.uint64]) -> U16:
    """Rotation: an empty bin borrows from the next filled bin to its right, mixed with the
    distance, so that two sketches agree there only if they borrow alike. No shingle: zeros."""
    filled = np.flatnonzero(bins != _EMPTY)
    if not filled.size:
        return np.zeros(BINS, dtype=np.uint16)
    positions = np.arange(BINS)
    donor = filled[np.searchsorted(filled, positions) % filled.size]
    distance = ((donor - positions) % BINS).astype(np.uint64)
    values = (bins[donor] + distance * np.uint64(0x9E37)) & np.uint64(0xFFFF)
    return values.astype(np.uint16)


def signature(conversation: Conversation) -> Signature:
    """The conversation's two sketches, the sizes of their shingle sets, and its band keys (over
    the sketch of all its shingles; none for a conversation of fewer than ``MIN_COMMON``)."""
    assistant = _shingles([m.content for m in conversation.messages if m.role == "assistant"])
    other = _shingles([m.content for m in conversation.messages if m.role != "assistant"])
    assistant_bins, other_bins = _bins(assistant), _bins(other)
    assistant_count, other_count = _distinct(assistant), _distinct(other)
    keys: tuple[int, ...] = ()
    if assistant_count + other_count >= MIN_COMMON:
        whole = _densified(np.minimum(assistant_bins, other_bins)).astype(">u2").tobytes()
        keys = tuple(
            int.from_bytes(hashlib.blake2b(bytes([VERSION, band]) + whole[2 * ROWS * band:2 * ROWS * (band + 1)],
                                           digest_size=8).digest(), "big", signed=True)
            for band in range(BANDS))
    return Signature(_densified(other_bins), _densified(assistant_bins), other_count, assistant_count, keys)
