"""Can any rule on shingle sets tell ShareGPT's split parts from edited copies? Measured on the
exact sets (no sketch, so no estimation error helps or hurts).

For every later part (`_1`, `_2`...) of a split ShareGPT conversation against each earlier part,
and for each edit class of tests/near_duplicates/edits.py against its original, three exact
quantities of the submission's token pairs (the shingles of ledger.near_duplicates): the Jaccard
similarity of the whole sets, the share of its assistant shingles that are new, and the share of
all its shingles that are new. Then every rule of the form "refused when Jaccard >= j, assistant
new <= a and all new <= n" over a grid, and, for the rules that refuse at least 95% of the
10%-substitution copies, the share of split parts they refuse: the frontier docs/near-duplicates.md
prints.

    .venv/bin/python bench/near_duplicate_frontier.py [--indexed 1500] [--conversations 6000]
"""

from __future__ import annotations

import argparse
import itertools
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from near_duplicates import real_conversations, siblings

from ledger.conversation import Conversation
from ledger.near_duplicates import tokens
from tests.near_duplicates.edits import EDITS

Shingles = tuple[frozenset[tuple[str, str]], frozenset[tuple[str, str]]]
Features = tuple[float, float, float]
"""(Jaccard of the whole sets, share of the submission's assistant shingles new, share of all new)."""


def shingles(conversation: Conversation) -> Shingles:
    """(assistant shingles, all shingles): pairs of adjacent tokens within a message."""
    assistant: set[tuple[str, str]] = set()
    every: set[tuple[str, str]] = set()
    for message in conversation.messages:
        found = tokens(message.content)
        if len(found) == 1:
            found *= 2
        pairs = set(itertools.pairwise(found))
        every |= pairs
        if message.role == "assistant":
            assistant |= pairs
    return frozenset(assistant), frozenset(every)


def features(submission: Shingles, other: Shingles) -> Features | None:
    (assistant, every), (other_assistant, other_every) = submission, other
    if not every:
        return None
    return (len(every & other_every) / len(every | other_every),
            len(assistant - other_assistant) / len(assistant) if assistant else 0.0,
            len(every - other_every) / len(every))


def refuses(f: Features, jaccard: float, assistant_new: float, all_new: float) -> bool:
    return f[0] >= jaccard and f[1] <= assistant_new and f[2] <= all_new


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--indexed", type=int, default=1500, help="originals each edit class is applied to")
    parser.add_argument("--conversations", type=int, default=6000, help="real conversations read (their split parts)")
    args = parser.parse_args()
    conversations = real_conversations(args.conversations)
    sets = {record_id: shingles(c) for record_id, c in conversations}
    rng = random.Random(2026)
    edited: dict[str, list[Features]] = {}
    for name, edit in EDITS.items():
        edited[name] = []
        for record_id, conversation in conversations[:args.indexed]:
            copy = edit(conversation, rng)
            if copy is not None and copy.messages != conversation.messages:
                f = features(shingles(copy), sets[record_id])
                if f is not None:
                    edited[name].append(f)
    parts: list[list[Features]] = []
    for record_id, own in sets.items():
        earlier = [f for k in siblings(record_id) if k in sets and (f := features(own, sets[k])) is not None]
        if earlier:
            parts.append(earlier)
    substituted = edited["10% of words substituted"]
    rows = []
    for j, a, n in itertools.product((0.5, 0.55, 0.6, 0.65, 0.7, 0.8), (0.1, 0.2, 0.3, 0.4, 0.5),
                                     (0.1, 0.2, 0.25, 0.3, 0.35, 1.0)):
        caught = sum(refuses(f, j, a, n) for f in substituted) / len(substituted)
        split = sum(any(refuses(f, j, a, n) for f in fs) for fs in parts) / len(parts)
        rows.append((split, caught, j, a, n))
    rows.sort()
    print(f"{len(parts):,} later parts of split conversations; "
          f"{len(substituted):,} copies with 10% of words substituted")
    print("| Jaccard at least | assistant new at most | all new at most "
          "| 10% substituted refused | split parts refused |")
    print("|---:|---:|---:|---:|---:|")
    for split, caught, j, a, n in [r for r in rows if r[1] >= 0.95][:5]:
        print(f"| {j} | {a} | {n} | {100 * caught:.2f}% | {100 * split:.2f}% |")
    fewest = rows[0]
    print(f"fewest split parts refused by any rule of the grid: {100 * fewest[0]:.2f}% "
          f"(it refuses {100 * fewest[1]:.2f}% of the substituted copies)")
    repeated = sum(min(f[2] for f in fs) <= 0.25 for fs in parts)
    print(f"split parts with at most 25% of their shingles new against an earlier part: {repeated:,} "
          f"({100 * repeated / len(parts):.2f}%); a 10%-substituted copy brings a median "
          f"{100 * sorted(f[2] for f in substituted)[len(substituted) // 2]:.1f}% new")


if __name__ == "__main__":
    main()
