"""The targets quality-v2 is held to on real ShareGPT conversations (docs/scoring.md, "Targets"),
measured the same way by the test (tests/scoring/test_targets.py) and the benchmark
(bench/scoring.py).

- each farming family: median points at most 10% of the median real conversation's, and its 99th
  percentile below the real median;
- real conversations of at least two exchanges and 50 words: at most 5% score 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ledger.conversation import Conversation
from tests.scoring.adversarial import exchanges
from tests.scoring.sample import words

MEDIAN_SHARE = 10  # percent of the real median a family's median may reach
ZERO_SHARE = 5  # percent of substantial real conversations that may score 0


def percentile(values: Sequence[int], p: int) -> int:
    """The nearest-rank ``p``-th percentile: the smallest value at least ``p``% of them reach."""
    ordered = sorted(values)
    rank = max(1, -(-p * len(ordered) // 100))
    return ordered[rank - 1]


def median(values: Sequence[int]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    return float(ordered[n // 2]) if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2


def substantial(conversation: Conversation) -> bool:
    """At least two exchanges and 50 words."""
    return len(exchanges(conversation)) >= 2 and words(conversation) >= 50


@dataclass(frozen=True, slots=True)
class FamilyRow:
    family: str
    cases: int
    median: float
    p99: int
    maximum: int
    real_median: float

    @property
    def median_ok(self) -> bool:
        return self.median * 100 <= MEDIAN_SHARE * self.real_median

    @property
    def p99_ok(self) -> bool:
        return self.p99 < self.real_median


@dataclass(frozen=True, slots=True)
class Measurement:
    real: int
    real_median: float
    real_p99: int
    real_max: int
    substantial: int
    substantial_zero: int
    families: tuple[FamilyRow, ...]

    @property
    def zero_ok(self) -> bool:
        return self.substantial_zero * 100 <= ZERO_SHARE * self.substantial

    def failures(self) -> list[str]:
        out = [] if self.zero_ok else [f"{self.substantial_zero} of {self.substantial} substantial real "
                                       f"conversations score 0 (more than {ZERO_SHARE}%)"]
        for row in self.families:
            if not row.median_ok:
                out.append(f"{row.family}: median {row.median} above {MEDIAN_SHARE}% of {self.real_median}")
            if not row.p99_ok:
                out.append(f"{row.family}: 99th percentile {row.p99} not below the real median {self.real_median}")
        return out

    def table(self) -> str:
        """The targets table of docs/scoring.md, in Markdown."""
        m = self.real_median
        lines = ["| points on | cases | median | 99th percentile | max | target |",
                 "|---|---|---|---|---|---|",
                 f"| real ShareGPT | {self.real} | {m:g} | {self.real_p99} | {self.real_max} | "
                 f"{self.substantial_zero} of {self.substantial} substantial ones score 0 "
                 f"({100 * self.substantial_zero / self.substantial:.1f}%, at most {ZERO_SHARE}%) |"]
        for row in self.families:
            share = 100 * row.median / m if m else 0.0
            verdict = "met" if row.median_ok and row.p99_ok else "MISSED"
            lines.append(f"| {row.family} | {row.cases} | {row.median:g} ({share:.1f}% of the real median) | "
                         f"{row.p99} | {row.maximum} | median at most {MEDIAN_SHARE * m / 100:g}, 99th below {m:g}: "
                         f"{verdict} |")
        return "\n".join(lines)


def measure(real: Sequence[tuple[Conversation, int]], families: Mapping[str, Sequence[int]]) -> Measurement:
    """The targets' figures from each real conversation with its points and each family's points."""
    points = [p for _, p in real]
    heavy = [p for c, p in real if substantial(c)]
    real_median = median(points)
    rows = tuple(FamilyRow(name, len(values), median(values), percentile(values, 99), max(values), real_median)
                 for name, values in families.items())
    return Measurement(len(points), real_median, percentile(points, 99), max(points), len(heavy),
                       sum(1 for p in heavy if p == 0), rows)
