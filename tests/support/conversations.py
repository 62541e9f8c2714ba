"""Test conversations that are not near-duplicates of each other.

Tally refuses a conversation nearly the same as an accepted one (ledger.near_duplicates), so
tests that submit many conversations give each a passage of its own: sixty words drawn from a
fixed vocabulary by the SHA-256 of a tag. Two tags share almost no word pairs, so their
conversations are far apart, while the same tag always gives the same text (for the tests of
exact duplicates).
"""

from __future__ import annotations

import hashlib

VOCABULARY = """
abandon ability absorb abstract academy accent accept access accident account accurate achieve acid
acoustic acquire across action actor actual adapt address adjust admit adult advance advice aerobic
affair afford afraid agency agenda agent agree ahead alarm album alcohol alert alien allow almost
alone alpha already alter always amateur amazing among amount amused analyst anchor ancient anger
angle animal ankle announce annual answer antenna antique anxiety apart apology appear apple approve
april arch arctic area arena argue armor army arrange arrest arrive arrow artist artwork aspect
assault asset assist assume asthma athlete atom attack attend attitude attract auction audit august
aunt author auto autumn average avocado avoid awake aware awesome awful awkward axis baby bachelor
bacon badge balance balcony bamboo banana banner barely bargain barrel basic basket battle beach
beauty because become before begin behave behind believe below bench benefit best betray better
beyond bicycle biology bird birth bitter blanket blast bleak bless blind blossom blouse blue blur
blush board boat body boil bomb bone bonus book boost border boring borrow boss bottom bounce brain
brand brass brave bread breeze brick bridge brief bright bring brisk broccoli broken bronze broom
brother brown brush bubble buddy budget buffalo build bulb bulk bullet bundle bunker burden burger
burst business busy butter buyer buzz cabbage cabin cable cactus cage cake call calm camera camp
canal cancel candy cannon canoe canvas canyon capable capital captain carbon career cargo carpet
""".split()  # noqa: SIM905 (a word list reads better as text)


def passage(tag: str, words: int = 60) -> str:
    """``words`` vocabulary words chosen by the SHA-256 stream of ``tag``."""
    stream = b""
    counter = 0
    while len(stream) < 2 * words:
        stream += hashlib.sha256(f"{tag}/{counter}".encode()).digest()
        counter += 1
    picks = [int.from_bytes(stream[2 * i:2 * i + 2], "big") % len(VOCABULARY) for i in range(words)]
    return " ".join(VOCABULARY[p] for p in picks)
