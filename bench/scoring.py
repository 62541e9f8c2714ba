"""The quality-v2 scorer on all of ShareGPT and on every farming family: the targets of
docs/scoring.md measured, the points distributions drawn, the JS scorer compared.

Every ShareGPT conversation that normalises is scored, and --per-family cases of each family of
tests/scoring/adversarial.py (seeded); the targets table is printed in Markdown (docs/scoring.md
shows it), with the languages table of tests/scoring/languages.py, and the distributions are drawn
to docs/scoring-distribution.png. With --js, clients/js/scoring.mjs scores the same inputs and
every difference is counted.

With --speed it only times the features of every conversation, counted in C
(ledger/scoring/_features.c, ``v2.features``) and by the Python reference
(``v2.features_in_python``), in alternating blocks of --block conversations so that both see
the machine alike, checks they agree on each, and prints the CPU time of each and their ratio.

    .venv/bin/python bench/scoring.py [--step 1] [--per-family 300] [--js] [--out docs/scoring-distribution.png]
    .venv/bin/python bench/scoring.py --speed [--step 1] [--block 500]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ledger.conversation import Conversation, normalise  # noqa: E402
from ledger.scoring import score, v2  # noqa: E402
from tests.scoring.adversarial import FAMILIES, generate  # noqa: E402
from tests.scoring.languages import groups  # noqa: E402
from tests.scoring.sample import real_records  # noqa: E402
from tests.scoring.targets import measure  # noqa: E402


def draw(real: list[int], families: dict[str, list[int]], real_median: float, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (top, bottom) = plt.subplots(2, 1, figsize=(10, 8), height_ratios=[1, 1.3])
    top.hist(real, bins=range(0, 410, 10), color="#4878a8")
    top.axvline(real_median, color="black", linestyle="--", linewidth=1)
    top.set_title(f"quality-v2 points of {len(real):,} real ShareGPT conversations (median {real_median:g})")
    top.set_xlabel("points")
    top.set_ylabel("conversations")
    top.set_xlim(0, 400)
    names = ["real ShareGPT", *families]
    values = [real, *families.values()]
    bottom.boxplot(values, orientation="horizontal", whis=(1, 99), showfliers=True, widths=0.6,
                   flierprops={"markersize": 2, "alpha": 0.4})
    bottom.set_yticks(range(1, len(names) + 1), [f"{n} ({len(v):,})" for n, v in zip(names, values, strict=True)])
    bottom.invert_yaxis()
    bottom.axvline(real_median, color="black", linestyle="--", linewidth=1, label="real median")
    bottom.axvline(real_median / 10, color="#c44e52", linestyle=":", linewidth=1.5,
                   label="10% of the real median (target for a family's median)")
    bottom.set_xlim(-5, 400)
    bottom.set_xlabel("points (boxes: quartiles; whiskers: 1st and 99th percentiles)")
    bottom.legend(loc="lower right", fontsize=8)
    bottom.set_title("real conversations beside each farming family")
    figure.tight_layout()
    figure.savefig(out, dpi=110)


def compare_js(inputs: list[object], expected: list[dict[str, object]]) -> int:
    """How many inputs the JS scorer scores differently from Python."""
    probe = ROOT / "tests" / "scoring" / "scoring_probe.mjs"
    done = subprocess.run(["node", str(probe)], input=json.dumps({"conversations": inputs, "features": []}),
                          capture_output=True, text=True, encoding="utf-8", cwd=ROOT, check=True)
    answers = json.loads(done.stdout)["scores"]
    return sum(1 for mine, theirs in zip(expected, answers, strict=True) if mine != theirs)


def speed(conversations: list[Conversation], block: int) -> None:
    """``v2.features`` (compiled) against ``v2.features_in_python``, in alternating blocks."""
    if not v2.COMPILED:
        sys.exit("scoring: ledger/scoring/_features.c is not built (make setup needs a C compiler)")
    differ = sum(1 for c in conversations if v2.features(c) != v2.features_in_python(c))
    spent = {"compiled": 0.0, "reference": 0.0}
    ways = {"compiled": v2.features, "reference": v2.features_in_python}
    for n, start in enumerate(range(0, len(conversations), block)):
        chunk = conversations[start:start + block]
        for name in (("compiled", "reference") if n % 2 == 0 else ("reference", "compiled")):
            count = ways[name]
            began = time.process_time()
            for conversation in chunk:
                count(conversation)
            spent[name] += time.process_time() - began
    each = {name: 1e6 * seconds / len(conversations) for name, seconds in spent.items()}
    ascii_share = sum(all(m.content.isascii() for m in c.messages) for c in conversations) / len(conversations)
    print(f"{len(conversations):,} ShareGPT conversations ({ascii_share:.0%} all ASCII),"
          f" {differ} whose features differ")
    print(f"features, Python reference: {each['reference']:8.1f} µs CPU a conversation")
    print(f"features, compiled:         {each['compiled']:8.1f} µs CPU a conversation "
          f"= {each['compiled'] / each['reference']:.3f}x the reference")
    if differ:
        sys.exit(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--step", type=int, default=1, help="score every step-th conversation (1: all)")
    parser.add_argument("--per-family", type=int, default=300)
    parser.add_argument("--js", action="store_true", help="compare clients/js/scoring.mjs on every input")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "scoring-distribution.png")
    parser.add_argument("--speed", action="store_true", help="only time the compiled features against the reference")
    parser.add_argument("--block", type=int, default=500, help="with --speed: conversations a block")
    args = parser.parse_args()

    records = real_records(args.step)
    if args.speed:
        speed([conversation for _, conversation in records], args.block)
        return
    started = time.perf_counter()
    scored = [(conversation, score(conversation)) for _, conversation in records]
    seconds = time.perf_counter() - started
    print(f"scored {len(scored):,} ShareGPT conversations in {seconds:.1f} s "
          f"({1000 * seconds / len(scored):.2f} ms each)")
    cases = generate([c for c, _ in scored], args.per_family)
    families: dict[str, list[int]] = defaultdict(list)
    variants: dict[str, list[int]] = defaultdict(list)
    farmed = []
    for case in cases:
        result = score(normalise(case.document))
        farmed.append(result.as_dict())
        families[case.family].append(result.points)
        variants[f"{case.family}: {case.variant}"].append(result.points)
    result = measure([(c, s.points) for c, s in scored], families)
    print()
    print(result.table())
    print()
    print("| variant | cases | median | max |")
    print("|---|---|---|---|")
    for name, points in variants.items():
        print(f"| {name} | {len(points)} | {median(points):g} | {max(points)} |")
    failures = result.failures()
    print("\ntargets: " + ("all met" if not failures else "MISSED: " + "; ".join(failures)))

    factors = [v2.factors(s.features) for _, s in scored]
    print("\nfactors below 1000 on real conversations: " + ", ".join(
        f"{name} {sum(1 for f in factors if f[name] < 1000) / len(factors):.1%}"
        for name in ("vocabulary", "order", "repetition", "symbols")))
    print("\n| real conversations | count | median points | median length points | kept below half |")
    print("|---|---|---|---|---|")
    for name, conversations in groups(c for c, _ in scored).items():
        if not conversations:
            continue
        breakdowns = [score(c) for c in conversations]
        lengths = [v2.factors(b.features)["length"] for b in breakdowns]
        low = sum(1 for b, n in zip(breakdowns, lengths, strict=True) if n and 2 * b.points < n)
        print(f"| {name} | {len(conversations)} | {median(b.points for b in breakdowns):g} | {median(lengths):g} | "
              f"{low / len(conversations):.1%} |")

    draw([s.points for _, s in scored], {name: families[name] for name in FAMILIES}, result.real_median, args.out)
    print(f"\nwrote {args.out}")
    if args.js:
        inputs = [record for record, _ in records] + [case.document for case in cases]
        expected = [s.as_dict() for _, s in scored] + farmed
        print(f"JS scorer: {compare_js(inputs, expected)} of {len(inputs):,} inputs differ from Python")
    if failures:
        sys.exit(1)


if __name__ == "__main__":
    main()
