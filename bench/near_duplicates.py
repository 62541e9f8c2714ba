"""Near-duplicates on real ShareGPT: how many edited copies are refused, how many distinct real
conversations are, and what the check costs.

Index N real conversations (their LSH bands in memory, as the database holds them), then submit:
every edit class of tests/near_duplicates/edits.py applied to each of them (should be refused),
M other real conversations (should not be), and the parts `_1`, `_2`... of split ShareGPT
conversations whose part `_0` is indexed (should not be: they continue a conversation, they do not
repeat it). Prints the table docs/near-duplicates.md shows, and the cost of one sketch against a
baseline taken in the same run (normalising the conversation, which every submission does anyway).
With ``--plot``, a PNG of each labelled pair's estimated similarity against the thresholds.

    .venv/bin/python bench/near_duplicates.py [--indexed 3000] [--distinct 3000] [--plot docs/near-duplicates.png]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ledger.conversation import Conversation, ConversationError, normalise
from ledger.near_duplicates import THRESHOLD_ASSISTANT, THRESHOLD_JACCARD, Signature, signature
from tally.sharegpt import iter_sharegpt
from tests.near_duplicates.edits import EDITS


def real_conversations(count: int) -> list[tuple[str, Conversation]]:
    out: list[tuple[str, Conversation]] = []
    seen: set[tuple[object, ...]] = set()
    for record in iter_sharegpt():
        try:
            conversation = normalise(record)
        except ConversationError:
            continue
        if conversation.messages in seen:
            continue
        seen.add(conversation.messages)
        out.append((str(record.get("id", "")), conversation))
        if len(out) == count:
            break
    return out


class Index:
    def __init__(self) -> None:
        self.bands: dict[int, list[int]] = defaultdict(list)
        self.signatures: list[Signature] = []

    def add(self, sig: Signature) -> None:
        for key in sig.band_keys():
            self.bands[key].append(len(self.signatures))
        self.signatures.append(sig)

    def candidates(self, sig: Signature, exclude: frozenset[int] | set[int] = frozenset()) -> list[int]:
        return sorted({i for key in sig.band_keys() for i in self.bands.get(key, ())} - exclude)

    def match(self, sig: Signature, exclude: frozenset[int] | set[int] = frozenset()) -> int | None:
        return next((i for i in self.candidates(sig, exclude) if sig.is_near_duplicate_of(self.signatures[i])), None)


Point = tuple[float, float]
POINTS: dict[str, list[Point]] = defaultdict(list)
"""Each labelled pair's (estimated Jaccard, assistant share), for the plot: an edited copy
against its original, a distinct conversation against its closest candidate, a split part
against its closest earlier part."""


def closest(sig: Signature, others: list[Signature]) -> Point:
    return max((sig.similarity(o) for o in others), default=(0.0, 0.0))


def measure(indexed: int, distinct: int) -> dict[str, tuple[int, int]]:
    conversations = real_conversations(indexed + distinct)
    base, others = conversations[:indexed], conversations[indexed:]
    index = Index()
    by_id: dict[str, int] = {}
    for i, (record_id, conversation) in enumerate(base):
        index.add(signature(conversation))
        by_id[record_id] = i
    rng = random.Random(2026)
    table: dict[str, tuple[int, int]] = {}
    for name, edit in EDITS.items():
        refused = total = 0
        for i, (_, conversation) in enumerate(base):
            copy = edit(conversation, rng)
            if copy is None or copy.messages == conversation.messages:
                continue
            total += 1
            sig = signature(copy)
            refused += index.match(sig) is not None
            POINTS["edited copies"].append(sig.similarity(index.signatures[i]))
        table[name] = (refused, total)
    # Distinct conversations: refused if they match anything indexed but their own earlier parts.
    # ShareGPT holds some conversations twice (shared by two people, or the same greeting): a
    # pair whose first exchange is the same text is labelled a duplicate, not distinct.
    refused = total = 0
    first_exchanges = {first_exchange(c): i for i, (_, c) in enumerate(base)}
    for record_id, conversation in others:
        own = {by_id[k] for k in siblings(record_id) if k in by_id}
        if first_exchange(conversation) in first_exchanges:
            continue
        total += 1
        sig = signature(conversation)
        refused += index.match(sig, exclude=own) is not None
        POINTS["distinct"].append(closest(sig, [index.signatures[i] for i in index.candidates(sig, own)]))
    table["distinct real conversations"] = (refused, total)
    # Split conversations: a later part against each earlier part of the same conversation.
    signatures = {record_id: signature(c) for record_id, c in conversations}
    parts_refused = parts = 0
    for record_id, sig in signatures.items():
        earlier = [signatures[k] for k in siblings(record_id) if k in signatures]
        if earlier:
            parts += 1
            parts_refused += any(sig.is_near_duplicate_of(e) for e in earlier)
            POINTS["later parts of a split conversation"].append(closest(sig, earlier))
    table["later parts of a split conversation"] = (parts_refused, parts)
    return table


def first_exchange(conversation: Conversation) -> tuple[str, ...]:
    return tuple(" ".join(m.content.casefold().split()) for m in conversation.messages[:2])


def siblings(record_id: str) -> list[str]:
    """The ids of the earlier parts of a split ShareGPT conversation (``abc_2``: ``abc_0``, ``abc_1``)."""
    stem, _, part = record_id.rpartition("_")
    return [f"{stem}_{n}" for n in range(int(part))] if stem and part.isdigit() else []


def cost(sample: list[Conversation]) -> tuple[float, float]:
    records = [{"messages": [{"role": m.role, "content": m.content} for m in c.messages]} for c in sample]
    started = time.perf_counter()
    for record in records:
        normalise(record)
    baseline = (time.perf_counter() - started) / len(records)
    started = time.perf_counter()
    for conversation in sample:
        signature(conversation).band_keys()
    return baseline, (time.perf_counter() - started) / len(sample)


def plot(path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 5.5), dpi=110)
    for (label, points), colour in zip(POINTS.items(), ("tab:red", "tab:blue", "tab:green"), strict=True):
        xs, ys = zip(*points, strict=True)
        axes.scatter(xs, ys, s=4, alpha=0.35, color=colour, label=f"{label} ({len(points):,})")
    axes.axvline(THRESHOLD_JACCARD, color="black", linewidth=0.8)
    axes.axhline(THRESHOLD_ASSISTANT, color="black", linewidth=0.8)
    axes.text(THRESHOLD_JACCARD + 0.01, 0.02, "refused: right of and above the lines", fontsize=8)
    axes.set_xlabel("estimated Jaccard similarity of the shingle sets")
    axes.set_ylabel("estimated share of the submission's assistant shingles in the other")
    axes.set_title("Near-duplicates on ShareGPT (bench/near_duplicates.py)")
    axes.legend(loc="upper left", markerscale=4, fontsize=8)
    figure.tight_layout()
    figure.savefig(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--indexed", type=int, default=3000)
    parser.add_argument("--distinct", type=int, default=3000)
    parser.add_argument("--plot", type=Path, help="write a PNG of the pairs' estimated similarity here")
    args = parser.parse_args()
    table = measure(args.indexed, args.distinct)
    if args.plot:
        plot(args.plot)
    print("| submitted | refused as a near-duplicate |")
    print("|---|---|")
    for name, (refused, total) in table.items():
        print(f"| {name} | {refused:,} of {total:,} ({100 * refused / max(total, 1):.2f}%) |")
    sample = [c for _, c in real_conversations(500)]
    baseline, per = cost(sample)
    sizes = [sum(len(m.content) for m in c.messages) for c in sample]
    print(f"signature and band keys: {per * 1e6:.0f} µs per conversation (median text {statistics.median(sizes):,.0f} "
          f"characters) = {per / baseline:.2f}x normalising it ({baseline * 1e6:.0f} µs)")


if __name__ == "__main__":
    main()
