"""Near-duplicate conversations: a MinHash-style signature of a conversation's text, and the LSH
band keys that find earlier contributions sharing it (the database index is ``ledger.models``'
``NearDuplicateBand``; the check runs inside the intake transaction).

The signature is one-permutation MinHash (Li, Owen and Zhang, NIPS 2012) with rotation
densification (Shrivastava and Li, ICML 2014): each shingle is hashed once to 64 bits, the top
bits pick one of ``BINS`` bins and the rest is the value, each bin keeps its smallest value, and
an empty bin borrows from the next non-empty one to its right. Two signatures agree in a bin
with probability close to the Jaccard similarity of the two shingle sets, as ``k`` independent
MinHash permutations would, at the cost of one hash per shingle. Written here rather than taken
from ``datasketch``: that library needs numpy and scipy and hashes every shingle once per
permutation; this costs about one hash per distinct token (bench/near_duplicates.py).

Shingles are pairs of adjacent tokens within a message; a token is a run of letters or digits,
case-folded, except that each CJK character is a token of its own (those scripts write no spaces).
So case, white space and punctuation do not matter, and the order of messages barely does.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from operator import eq

from ledger.conversation import Conversation

BINS = 64
"""Bins of the signature (its values): the similarity estimate's standard error is ~0.06."""
BANDS = 16
ROWS = BINS // BANDS
"""LSH: 16 bands of 4 bins; a pair with similarity s shares a band with probability 1-(1-s^4)^16
(0.89 at s = 0.6, 0.12 at s = 0.3), then its similarity is estimated from the whole signature."""
THRESHOLD_BINS = 31
"""A near-duplicate agrees with an earlier contribution in at least this many of the 64 bins
(estimated Jaccard similarity of the shingle sets at least 0.48; bench/near_duplicates.py chose it)."""

_VALUE_MASK = (1 << 32) - 1
_EMPTY = 1 << 32
SIGNATURE_BYTES = 4 * BINS
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
_TOKEN = re.compile(rf"[{_CJK}]|[^\W_{_CJK}]+")
_MIX = 0x9E3779B97F4A7C15
_U64 = (1 << 64) - 1


@dataclass(frozen=True, slots=True)
class Signature:
    values: tuple[int, ...]
    """``BINS`` 32-bit values: a bin's smallest (the low 32 bits of the shingle hashes that fall
    in it; two unrelated shingles agree there once in 4 billion), densified bins marked by their
    distance to the donor. A conversation with no shingle at all has every bin 2^32 (empty)."""

    def to_bytes(self) -> bytes:
        return b"".join((v & _VALUE_MASK).to_bytes(4, "big") for v in self.values)

    @classmethod
    def from_bytes(cls, data: bytes) -> Signature:
        return cls(tuple(int.from_bytes(data[i:i + 4], "big") for i in range(0, len(data), 4)))

    def agreement(self, other: Signature) -> int:
        """Bins in which the two signatures agree (of ``BINS``)."""
        return sum(map(eq, self.values, other.values))

    def is_near_duplicate_of(self, other: Signature) -> bool:
        return self.agreement(other) >= THRESHOLD_BINS

    def band_keys(self) -> list[int]:
        """One signed 64-bit key per band (its number and its bins hashed), for the band index."""
        keys = []
        for band in range(BANDS):
            chunk = b"".join((v & _VALUE_MASK).to_bytes(4, "big") for v in self.values[band * ROWS:(band + 1) * ROWS])
            digest = hashlib.blake2b(bytes([band]) + chunk, digest_size=8).digest()
            keys.append(int.from_bytes(digest, "big", signed=True))
        return keys


_TOKEN_HASHES: dict[str, int] = {}
"""Tokens hashed before, in this process: most of a conversation's words are common ones."""
_TOKEN_HASHES_HELD = 1 << 18


def _token_hashes(text: str, cache: dict[str, int] = _TOKEN_HASHES) -> list[int]:
    if len(cache) > _TOKEN_HASHES_HELD:
        cache.clear()  # a bound on memory; emptied now and then, never wrong
    out = []
    for token in _TOKEN.findall(text.casefold()):
        value = cache.get(token)
        if value is None:
            value = cache[token] = int.from_bytes(hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest())
        out.append(value)
    return out


def signature(conversation: Conversation) -> Signature:
    """The one-permutation MinHash of the conversation's shingles, densified.

    Each shingle is hashed and binned in one pass, with no set of shingles (a shingle seen twice
    cannot lower a minimum twice): this runs on every submission. A pair is ordered: the first
    hash is rotated, so that (a, b) and (b, a) differ, then mixed (splitmix64's finaliser).
    """
    bins = [_EMPTY] * BINS
    for message in conversation.messages:
        hashes = _token_hashes(message.content)
        if len(hashes) == 1:
            hashes.append(hashes[0])  # one token: its pair with itself stands for it
        previous = hashes[0] if hashes else 0
        for current in hashes[1:]:
            mixed = ((((previous << 17) | (previous >> 47)) & _U64) ^ current) * _MIX & _U64
            h = mixed ^ (mixed >> 31)
            index, value = h >> 58, h & _VALUE_MASK
            if value < bins[index]:
                bins[index] = value
            previous = current
    if all(v == _EMPTY for v in bins):
        return Signature((0,) * BINS)
    filled = list(bins)
    for i in range(BINS):
        if bins[i] == _EMPTY:
            # Rotation: borrow from the next filled bin to the right, marked with the distance in
            # the top bits, so that two signatures agree here only if they borrow alike.
            distance = next(d for d in range(1, BINS) if bins[(i + d) % BINS] != _EMPTY)
            filled[i] = bins[(i + distance) % BINS] ^ (distance << 26)
    return Signature(tuple(filled))
