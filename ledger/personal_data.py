"""Personal data in conversation text: what it is, where it is, and the text without it.

One detector, run by the clients before signing (they submit the redacted text, so what a
contributor signs is what is stored) and by intake before anything is written (a submission that
still holds personal data is refused). ``clients/js/personal-data.mjs`` is the same detector in
JavaScript: the same patterns, the same checks in the same order, spans in code points;
``tests/personal_data`` holds the two together on one corpus. docs/personal-data.md says what is
detected, what is deliberately not, and the measured recall.

Every pattern is ASCII-only, so Python's and JavaScript's regex engines, which differ on Unicode
classes, ``\\b``, ``\\s`` and case folding, read them alike; and a match can only begin where a run
of its characters begins (a lookbehind says so), so the scan stays linear on any input. What a
pattern cannot say (checksums, number ranges, reserved names) is a pure function below.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ledger.conversation import Conversation, Message, normalise
from ledger.errors import InvalidInputError

Kind = Literal["email", "phone", "card", "iban", "ip", "secret"]

PersonalDataMode = Literal["refuse", "accept"]
"""What intake does with a submission that still holds personal data (TALLY_PII)."""

KINDS: tuple[Kind, ...] = ("email", "phone", "card", "iban", "ip", "secret")

PLACEHOLDERS: dict[Kind, str] = {kind: f"[{kind}]" for kind in KINDS}


@dataclass(frozen=True, slots=True)
class Span:
    """Where a value of ``kind`` is in one text: ``text[start:end]``, in code points."""

    kind: Kind
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Finding:
    """A value of ``kind`` in message ``message`` (its index in the canonical conversation;
    ``None`` is the model name) at ``start:end`` of that text."""

    kind: Kind
    message: int | None
    start: int
    end: int

    def public(self) -> dict[str, Any]:
        """What may be shown or sent: the kind and where, never the value."""
        return {"kind": self.kind, "message": self.message}


# ---------------------------------------------------------------------------------------------
# Checks the patterns cannot express.


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check digit of payment card numbers holds."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def card_network_prefix(digits: str) -> bool:
    """Issued by a card network: Mastercard's 2221-2720, or 3 (Amex, Diners, JCB), 4 (Visa),
    5 (Mastercard, Maestro), 6 (Discover, UnionPay, Maestro). Nothing issues under 0, 1, 7-9,
    which keeps millisecond timestamps and snowflake ids (1...) out."""
    first = digits[0]
    if first == "2":
        return 2221 <= int(digits[:4]) <= 2720
    return first in "3456"


# Test numbers the networks and payment processors publish: in every integration guide, never
# anyone's card.
PUBLISHED_TEST_CARDS = frozenset({
    "4111111111111111", "4242424242424242", "4012888888881881", "4222222222222", "4000056655665556",
    "5555555555554444", "5105105105105100", "5200828282828210", "2223003122003222", "378282246310005",
    "371449635398431", "6011111111111117", "6011000990139424", "3056930009020004", "36227206271667",
    "3566002020360505", "6200000000000005",
})

# ISO 13616 lengths of the IBAN of each country of the SWIFT registry.
IBAN_LENGTHS: dict[str, int] = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BI": 27,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27,
    "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25,
    "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18,
    "NO": 15, "OM": 23, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33,
    "SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}


def iban_valid(compact: str) -> bool:
    """A registered country's length and the ISO 7064 mod 97-10 check: the country code and check
    digits moved to the end, letters as 10..35, the number is 1 modulo 97."""
    iban = compact.upper()
    if IBAN_LENGTHS.get(iban[:2]) != len(iban):
        return False
    remainder = 0
    for char in iban[4:] + iban[:4]:
        value = ord(char) - 48 if char <= "9" else ord(char) - 55
        remainder = (remainder * (100 if value > 9 else 10) + value) % 97
    return remainder == 1


RESERVED_DOMAINS = ("example.com", "example.net", "example.org")
"""RFC 2606 second-level names, with every name under them."""

RESERVED_TLDS = ("example", "test", "invalid", "localhost")
"""RFC 2606 top-level names (and RFC 6761's localhost)."""


def reserved_domain(domain: str) -> bool:
    """A name reserved for documentation and testing, which no one's mailbox can be at."""
    name = domain.lower()
    if name.rsplit(".", 1)[-1] in RESERVED_TLDS:
        return True
    return any(name == reserved or name.endswith("." + reserved) for reserved in RESERVED_DOMAINS)


# Top-level names an "address" cannot end in because they are file names: logo@2x.png,
# icon@3x.webp are image variants, not mailboxes. (None of these is a delegated TLD.)
FILE_EXTENSIONS = frozenset({
    "png", "jpg", "jpeg", "gif", "svg", "webp", "bmp", "ico", "tif", "tiff", "avif", "heic",
    "css", "scss", "js", "mjs", "cjs", "jsx", "ts", "tsx", "json", "html", "htm", "txt", "yml", "yaml",
    "xml", "lock", "log", "map", "vue",
})


def mailbox_domain(domain: str) -> bool:
    """The domain of an address someone could receive mail at."""
    return not reserved_domain(domain) and domain.rsplit(".", 1)[-1].lower() not in FILE_EXTENSIONS


# IPv4 networks that are not one host's public address: private and shared (RFC 1918, 6598),
# loopback, link-local, "this network", the documentation ranges (RFC 5737), benchmarking,
# IETF assignments and 6to4 relays, multicast and reserved (up to the broadcast address). A
# private address is shared by millions of home and office networks: it points at no one.
NON_PUBLIC_IPV4: tuple[tuple[int, int], ...] = (
    (0x00000000, 8), (0x0A000000, 8), (0x64400000, 10), (0x7F000000, 8), (0xA9FE0000, 16),
    (0xAC100000, 12), (0xC0000000, 24), (0xC0000200, 24), (0xC0586300, 24), (0xC0A80000, 16),
    (0xC6120000, 15), (0xC6336400, 24), (0xCB007100, 24), (0xE0000000, 4), (0xF0000000, 4),
)

# Public resolvers everyone is told to use (Google, Cloudflare, Quad9, OpenDNS): services, not people.
WELL_KNOWN_IPV4 = frozenset({
    "8.8.8.8", "8.8.4.4", "1.1.1.1", "1.0.0.1", "9.9.9.9", "149.112.112.112", "208.67.222.222",
    "208.67.220.220",
})


def public_ipv4(octets: Sequence[int]) -> bool:
    """A globally routable unicast address that is not a well-known public service, nor ends in
    .0: that names a network, or is a version number (1.0.0.0 is .NET's default assembly version);
    nor is four one-digit numbers: a section (clause 4.3.2.1), a version (= 6.1.7.3) or the
    placeholder 1.2.3.4, and 8,100 addresses of 3.7 billion."""
    if octets[3] == 0 or all(o < 10 for o in octets):
        return False
    value = (octets[0] << 24) | (octets[1] << 16) | (octets[2] << 8) | octets[3]
    for network, prefix in NON_PUBLIC_IPV4:
        if value >> (32 - prefix) == network >> (32 - prefix):
            return False
    return ".".join(str(o) for o in octets) not in WELL_KNOWN_IPV4


HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def ipv6_groups(text: str) -> list[int] | None:
    """The eight 16-bit groups of an IPv6 address (``::`` expanded, a dotted IPv4 tail as two
    groups), or None when ``text`` is not one."""
    head = text
    tail: list[int] = []
    last_colon = text.rfind(":")
    if "." in text[last_colon + 1:]:
        octets = ipv4_octets(text[last_colon + 1:])
        if octets is None:
            return None
        tail = [octets[0] << 8 | octets[1], octets[2] << 8 | octets[3]]
        head = text[:last_colon + 1] + "0"  # a stand-in group, dropped below
    halves = head.split("::")
    if len(halves) > 2:
        return None
    parts = [half.split(":") if half else [] for half in halves]
    if any(not 1 <= len(p) <= 4 or any(c not in HEX_DIGITS for c in p) for half in parts for p in half):
        return None
    groups = [[int(p, 16) for p in half] for half in parts]
    if tail:
        groups[-1] = groups[-1][:-1]
    size = sum(len(g) for g in groups) + len(tail)
    if len(groups) == 1:
        return groups[0] + tail if size == 8 else None
    if size > 7:
        return None
    return groups[0] + [0] * (8 - size) + groups[1] + tail


def ipv4_octets(text: str) -> list[int] | None:
    """The four octets of a dotted IPv4 address without leading zeros (010.1.1.1 is octal to
    some parsers, decimal to others: no one writes their address so), or None."""
    parts = text.split(".")
    if len(parts) != 4 or any(not p or len(p) > 3 or (len(p) > 1 and p[0] == "0") for p in parts):
        return None
    if any(not "0" <= c <= "9" for p in parts for c in p):
        return None
    octets = [int(p) for p in parts]
    return octets if all(o <= 255 for o in octets) else None


# Public resolvers again (Google, Cloudflare, Quad9), as eight groups.
WELL_KNOWN_IPV6 = frozenset({
    (0x2001, 0x4860, 0x4860, 0, 0, 0, 0, 0x8888), (0x2001, 0x4860, 0x4860, 0, 0, 0, 0, 0x8844),
    (0x2606, 0x4700, 0x4700, 0, 0, 0, 0, 0x1111), (0x2606, 0x4700, 0x4700, 0, 0, 0, 0, 0x1001),
    (0x2620, 0x00FE, 0, 0, 0, 0, 0, 0x00FE), (0x2620, 0x00FE, 0, 0, 0, 0, 0, 0x0009),
})


def public_ipv6(groups: Sequence[int]) -> bool:
    """Global unicast (2000::/3) outside the documentation prefixes (RFC 3849 2001:db8::/32,
    RFC 9637 3fff::/20): loopback, link-local, unique-local, multicast and IPv4-mapped addresses
    are not public (a mapped address's IPv4 part is judged as IPv4)."""
    first = groups[0]
    if first >> 13 != 1:
        return False
    if (first == 0x2001 and groups[1] == 0x0DB8) or first >> 4 == 0x3FF:
        return False
    return tuple(groups) not in WELL_KNOWN_IPV6


# ---------------------------------------------------------------------------------------------
# The patterns. Python and JavaScript read these strings alike: ASCII classes only, no \b, \s,
# \d or \w, no named groups, a backreference only to a group every path through the pattern sets.
#
# A match may only begin where a run begins (an address's local part, a number's first digit),
# which keeps the scan linear. The check comes right after the first character, as a lookbehind
# over it and the one before: `[2-6](?<![0-9][2-6])` means `(?<![0-9])[2-6]`, and lets Python's
# engine skip to the next candidate character instead of testing the lookbehind everywhere (seven
# times faster on real text).

EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@((?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.){1,8}"
    r"[A-Za-z]{2,63})(?![A-Za-z0-9@-]|\.[A-Za-z0-9])")

PHONE_INTERNATIONAL = re.compile(
    r"(?:\+(?<![0-9A-Za-z+_]\+)|0(?<![0-9A-Za-z+_]0)(?<![^A-Za-z][0-9][ ./-]0)(?<!^[0-9][ ./-]0)0)"
    r"[1-9](?:[ .-]?[0-9]|[ .-]?\([0-9]{1,4}\)){6,16}(?![0-9A-Za-z_]|[.-][0-9])")
# The national forms are written in groups; a group next to more groups of digits (a table row, a
# list of numbers, a hex dump) is part of something longer, so these refuse to start or end there.
# A digit ending a word (DESeq2, python3) is no group: `[^A-Za-z][0-9][ ./-]` is one, and so is
# `^[0-9][ ./-]` at the start of a text.
PHONE_NANP = re.compile(
    r"(?:1(?<![0-9A-Za-z+_./-]1)(?<![^A-Za-z][0-9][ ./-]1)(?<!^[0-9][ ./-]1)[ .-][2-9]"
    r"|[2-9](?<![0-9A-Za-z+_./-][2-9])(?<![^A-Za-z][0-9][ ./-][2-9])(?<!^[0-9][ ./-][2-9]))"
    r"[0-9]{2}([ .-])[2-9][0-9]{2}\1[0-9]{4}(?![0-9A-Za-z_]|[./-][0-9]|\1[0-9])")
PHONE_NANP_AREA = re.compile(
    r"(?:1(?<![0-9A-Za-z+_./-]1)(?<![^A-Za-z][0-9][ ./-]1)(?<!^[0-9][ ./-]1)[ .-]?\("
    r"|\((?<![0-9A-Za-z+_./-]\()(?<![^A-Za-z][0-9][ ./-]\()(?<!^[0-9][ ./-]\())"
    r"[2-9][0-9]{2}\)[ ]?[2-9][0-9]{2}([ .-])[0-9]{4}(?![0-9A-Za-z_]|[./-][0-9]|\1[0-9])")
PHONE_TRUNK = re.compile(
    r"0(?<![0-9A-Za-z+_./-]0)(?<![^A-Za-z][0-9][ ./-]0)(?<!^[0-9][ ./-]0)"
    r"[1-9][0-9]{0,4}([ ./-])[0-9]{2,8}(?:\1[0-9]{2,8}){0,4}(?![0-9A-Za-z_]|[./-][0-9]|\1[0-9])")
PHONE_TRUNK_AREA = re.compile(
    r"\((?<![0-9A-Za-z+_./-]\()(?<![^A-Za-z][0-9][ ./-]\()(?<!^[0-9][ ./-]\()"
    r"0[1-9][0-9]{0,4}\)[ ]?[0-9]{2,8}(?:[ -][0-9]{2,8}){0,3}(?![0-9A-Za-z_]|[./-][0-9]|[ -][0-9]{2})")

CARD = re.compile(
    r"[2-6](?<![0-9A-Za-z_.][2-6])(?:[0-9]{12,18}"
    r"|(?<![^A-Za-z][0-9][ -][2-6])(?<!^[0-9][ -][2-6])[0-9]{3}([ -])[0-9]{4,6}\1[0-9]{4,5}(?:\1[0-9]{1,4}){0,2})"
    r"(?![0-9A-Za-z_]|\.[0-9])")

# IBANs as printed and as machines read them: upper case (ISO 13616), whole or in groups of four.
IBAN = re.compile(
    r"[A-Z](?<![0-9A-Za-z_][A-Z])[A-Z][0-9]{2}(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,4})?)"
    r"(?![0-9A-Za-z_])")

NUMBER_HINT = re.compile(r"[0-9][0-9 ().+/-]{5,}[0-9]")
"""Seven or more of digits and the separators numbers are written with, from a digit to a digit:
every phone number, card number and IPv4 address holds such a run, and few texts do (3% of
ShareGPT messages), so the digit patterns run only on those."""

IPV4 = re.compile(r"[0-9](?<![0-9A-Za-z_.-][0-9])[0-9]{0,2}(?:\.[0-9]{1,3}){3}(?![0-9A-Za-z_]|\.[0-9])")
IPV6 = re.compile(
    r"(?<![0-9A-Za-z_:.-])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|[0-9]{1,3}(?:\.[0-9]{1,3}){3})?"
    r"(?![0-9A-Za-z_:]|\.[0-9])")
IPV6_HINT = re.compile(r":[0-9A-Fa-f]{0,4}:")
"""Two colons at most four hex digits apart: in every IPv6 address, in few other texts."""

# Keys and tokens whose prefix says what they are (see token_like for what else they need).
TOKENS = re.compile(
    r"(?<![0-9A-Za-z_-])(?:sk-[A-Za-z0-9_-]{20,300}|[rs]k_(?:live|test)_[A-Za-z0-9]{20,200}"
    r"|gh[pousr]_[A-Za-z0-9]{36,80}|github_pat_[A-Za-z0-9_]{40,120}|(?:AKIA|ASIA)[A-Z0-9]{16}"
    r"|xox[a-z]-[A-Za-z0-9-]{10,200}|AIza[A-Za-z0-9_-]{35})(?![0-9A-Za-z_-])")
TOKEN_PREFIXES = ("sk-", "sk_live_", "sk_test_", "rk_live_", "rk_test_", "ghp_", "gho_", "ghu_", "ghs_", "ghr_",
                  "github_pat_", "AKIA", "ASIA", "xox", "AIza")
"""Every value TOKENS matches begins with one of these."""
JWT = re.compile(
    r"(?<![0-9A-Za-z_-])eyJ[A-Za-z0-9_-]{8,4000}\.[A-Za-z0-9_-]{8,8000}\.[A-Za-z0-9_-]{16,2000}(?![0-9A-Za-z_-])")
PEM_PRIVATE_KEY = re.compile(
    r"-----BEGIN ((?:[A-Z0-9]+ ){0,3})PRIVATE KEY-----"
    r"(?:[A-Za-z0-9+/=:,\\ \t\r\n-]{0,20000}?-----END \1PRIVATE KEY-----|[A-Za-z0-9+/=:,\\ \t\r\n-]{0,20000})")
PEM_BODY_RUN = re.compile(r"[A-Za-z0-9+/]{40}")
AWS_SECRET = re.compile(
    r"(?<![0-9A-Za-z_])aws_secret_access_key[\"']?[ \t]*[:=][ \t]*[\"']?[A-Za-z0-9/+]{40}(?![0-9A-Za-z/+=])",
    re.IGNORECASE | re.ASCII)

# An Ethereum private key is 32 bytes of hex, like every hash: it is one only where the text says
# so right before it, on the same line ("private key: 0x…", PRIVATE_KEY=…, "privateKey": "…",
# new Wallet("0x…"), accounts: ["0x…"]). Only the hex is replaced, not the words. Between the
# words and the key only ASCII punctuation, blanks and a few short words: a negated class would
# count an emoji as one character in Python and two in JavaScript.
ETHEREUM_KEY = re.compile(
    r"(?<![0-9A-Za-z])(?:(?:private|priv|secret|signing)[ _-]?keys?"
    r"|(?:from_key|wallet|privateKeyToAccount|fromPrivateKey)\(|accounts[\"']?[ \t]*:[ \t]*\[)"
    r"[\t -/:-@\[-`{-~]{0,6}(?:(?:is|was|as|of|hex)[\t -/:-@\[-`{-~]{1,6}){0,2}"
    r"(?:0x)?[0-9A-Fa-f]{64}(?![0-9A-Za-z])",
    re.IGNORECASE | re.ASCII)
ETHEREUM_KEY_WORDS = ("key", "wallet(", "accounts")
"""One of these is in the lower-cased text wherever ETHEREUM_KEY matches."""

PATTERNS: dict[str, re.Pattern[str]] = {
    "EMAIL": EMAIL, "PHONE_INTERNATIONAL": PHONE_INTERNATIONAL, "PHONE_NANP": PHONE_NANP,
    "PHONE_NANP_AREA": PHONE_NANP_AREA, "PHONE_TRUNK": PHONE_TRUNK, "PHONE_TRUNK_AREA": PHONE_TRUNK_AREA,
    "CARD": CARD, "IBAN": IBAN, "NUMBER_HINT": NUMBER_HINT, "IPV4": IPV4, "IPV6": IPV6, "IPV6_HINT": IPV6_HINT,
    "TOKENS": TOKENS,
    "JWT": JWT, "PEM_PRIVATE_KEY": PEM_PRIVATE_KEY, "PEM_BODY_RUN": PEM_BODY_RUN, "AWS_SECRET": AWS_SECRET,
    "ETHEREUM_KEY": ETHEREUM_KEY,
}
"""Every pattern by name: the JavaScript module exports the same table, and a test compares them."""

HEX_KEY_LENGTH = 64


def _digits(text: str) -> str:
    return "".join(c for c in text if "0" <= c <= "9")


def token_like(value: str) -> bool:
    """A generated key, not a placeholder or a name: it holds a digit (sk-YOUR_API_KEY_HERE and
    ghp_xxxx... hold none), an sk- key both cases too (sk-learn-compatible-0-24 is a package
    name), and it is not one of AWS's documented examples (AKIA...EXAMPLE)."""
    if not any("0" <= c <= "9" for c in value) or value.endswith("EXAMPLE"):
        return False
    if value.startswith("sk-"):
        return any("a" <= c <= "z" for c in value) and any("A" <= c <= "Z" for c in value)
    return True


# ---------------------------------------------------------------------------------------------
# One detector per kind: the spans (start, end) of its values in ``text``.

Spans = Iterator[tuple[int, int]]


def email_addresses(text: str) -> Spans:
    """Addresses at a domain with a real top-level name; not at reserved names, not image
    variants (logo@2x.png), not ``git@``, the SSH user of code hosts."""
    if "@" not in text:
        return
    for match in EMAIL.finditer(text):
        local = match.group(0)[: match.group(0).index("@")]
        if mailbox_domain(match.group(1)) and local != "git":
            yield match.start(), match.end()


def fictional_phone(digits: str) -> bool:
    """A number set aside for fiction: NANP 555-0100..0199, Ofcom's drama ranges 020 7946 0xxx and
    07700 900xxx (``digits`` with its country code, or national with its trunk 0)."""
    national = digits[1:] if len(digits) == 11 and digits[0] == "1" else digits
    if len(national) == 10 and national[3:6] == "555" and national[6:8] == "01":
        return True
    uk = "0" + digits[2:] if digits.startswith("44") else digits
    return uk.startswith("02079460") or uk.startswith("07700900")


def international_grouping(value: str) -> bool:
    """Written as people write numbers: 00 needs separators (00123456789 is a zero-padded id), and
    dots come two or more (+1.2345678 is a signed decimal, +1.415.555.2671 a number)."""
    if value.startswith("00") and not any(c in " .-(" for c in value):
        return False
    return value.count(".") != 1


def international_number(value: str) -> bool:
    digits = _digits(value)
    total = len(digits) - 2 if value.startswith("00") else len(digits)
    return 8 <= total <= 15 and international_grouping(value) and not fictional_phone(digits.removeprefix("00"))


def phone_numbers(text: str) -> Spans:
    """International numbers (+CC or 00CC, 8 to 15 digits), North American ones written with
    separators (415-555-2671, (415) 555-2671) and national numbers with a trunk 0 written in
    groups (020 7946 0958, 06 12 34 56 78, 030/1234567): 10 to 12 digits."""
    for match in PHONE_INTERNATIONAL.finditer(text):
        number = next((p for p in group_prefixes(match.group(0)) if international_number(p)), None)
        if number is not None:
            yield match.start(), match.start() + len(number)
    for pattern in (PHONE_NANP, PHONE_NANP_AREA):
        for match in pattern.finditer(text):
            if not fictional_phone(_digits(match.group(0))):
                yield match.start(), match.end()
    for pattern in (PHONE_TRUNK, PHONE_TRUNK_AREA):
        for match in pattern.finditer(text):
            digits = _digits(match.group(0))
            if 10 <= len(digits) <= 12 and not fictional_phone(digits):
                yield match.start(), match.end()


def group_prefixes(candidate: str) -> Iterator[str]:
    """``candidate``, then it without its last group, and so on: a group ends before a space, dot
    or dash that a digit or parenthesis follows. What follows a complete number ("4666 1760 3137
    2159 360 km", "+44 7911 123456 130") is not part of it, but the patterns, being greedy, take it."""
    yield candidate
    for at in range(len(candidate) - 1, 0, -1):
        if candidate[at] in " .-" and candidate[at + 1] in "0123456789(":
            yield candidate[:at]


def card_number(candidate: str) -> bool:
    digits = _digits(candidate)
    return (13 <= len(digits) <= 19 and card_network_prefix(digits) and luhn_valid(digits)
            and digits not in PUBLISHED_TEST_CARDS)


def card_numbers(text: str) -> Spans:
    """13 to 19 digits, whole or in groups split by one kind of separator, under a network's
    prefix, with a valid Luhn digit; not the networks' published test numbers. The longest such
    prefix of whole groups."""
    for match in CARD.finditer(text):
        number = next((p for p in group_prefixes(match.group(0)) if card_number(p)), None)
        if number is not None:
            yield match.start(), match.start() + len(number)


def iban_length(candidate: str) -> int:
    """How much of ``candidate`` (an IBAN-shaped run, perhaps in groups) is a valid IBAN: the
    pattern also takes the words after a grouped IBAN ("... 7034 and"), so whole groups are
    dropped from the end until the rest checks out; 0 when none does."""
    if " " not in candidate:
        return len(candidate) if iban_valid(candidate) else 0
    groups = candidate.split(" ")
    for count in range(len(groups), 3, -1):
        if iban_valid("".join(groups[:count])):
            return len(" ".join(groups[:count]))
    return 0


def ibans(text: str) -> Spans:
    """IBANs whole or in groups of four, of a registered length, with valid check digits."""
    for match in IBAN.finditer(text):
        length = iban_length(match.group(0))
        if length:
            yield match.start(), match.start() + length


def ipv4_addresses(text: str) -> Spans:
    """Public IPv4 addresses (see ``public_ipv4``)."""
    for match in IPV4.finditer(text):
        octets = ipv4_octets(match.group(0))
        if octets is not None and public_ipv4(octets):
            yield match.start(), match.end()


def ipv6_addresses(text: str) -> Spans:
    """Public IPv6 addresses (see ``public_ipv6``)."""
    if IPV6_HINT.search(text) is None:
        return
    for match in IPV6.finditer(text):
        groups = ipv6_groups(match.group(0))
        if groups is not None and public_ipv6(groups):
            yield match.start(), match.end()


def secrets(text: str) -> Spans:
    """API keys and tokens (OpenAI, Anthropic, Stripe, GitHub, AWS, Slack, Google), JWTs, PEM
    private keys and Ethereum private keys said to be one; not AWS's documented examples."""
    # Each pattern is tried only on text holding what it cannot match without: most text holds
    # none of these, and a substring test is a hundred times faster than a scan.
    if any(prefix in text for prefix in TOKEN_PREFIXES):
        for match in TOKENS.finditer(text):
            if token_like(match.group(0)):
                yield match.start(), match.end()
    if "eyJ" in text:
        for match in JWT.finditer(text):
            yield match.start(), match.end()
    if "PRIVATE KEY-----" in text:
        for match in PEM_PRIVATE_KEY.finditer(text):
            # A key has a body: a block around "..." or <your key> is a placeholder.
            if PEM_BODY_RUN.search(match.group(0)):
                yield match.start(), match.end()
    lowered = text.lower()
    if "aws_secret_access_key" in lowered:
        for match in AWS_SECRET.finditer(text):
            if not match.group(0).endswith("EXAMPLEKEY"):
                yield match.end() - 40, match.end()
    if any(word in lowered for word in ETHEREUM_KEY_WORDS):
        for match in ETHEREUM_KEY.finditer(text):
            value = match.group(0)
            hex_start = match.end() - HEX_KEY_LENGTH
            start = hex_start - 2 if value[-HEX_KEY_LENGTH - 2:-HEX_KEY_LENGTH].lower() == "0x" else hex_start
            yield start, match.end()


# Every detector, its kind, and whether it finds only values that hold a NUMBER_HINT run; in the
# order overlaps are settled: a secret wins over anything inside it (a JWT holds digits), an
# e-mail address over the number in its local part, and so on.
DETECTORS: tuple[tuple[Kind, Callable[[str], Spans], bool], ...] = (
    ("secret", secrets, False), ("email", email_addresses, False), ("iban", ibans, False),
    ("card", card_numbers, True), ("ip", ipv4_addresses, True), ("ip", ipv6_addresses, False),
    ("phone", phone_numbers, True),
)


# ---------------------------------------------------------------------------------------------
# Text and conversations.


def find_personal_data(text: str) -> list[Span]:
    """Every value of every kind in ``text``, in order, none overlapping: where two overlap, the
    kind first in ``DETECTORS`` keeps its span, and within a kind the first, then the longest."""
    # Asked once for the three detectors it gates, which then skip 97% of real messages.
    numbers = NUMBER_HINT.search(text) is not None
    candidates: dict[Kind, set[tuple[int, int]]] = {}
    for kind, detect, needs_number in DETECTORS:
        found = candidates.setdefault(kind, set())
        if numbers or not needs_number:
            found.update(detect(text))
    # The chosen spans, sorted and disjoint: only the last one starting before a candidate's end
    # can overlap it, found by bisection, so crafted text with many values stays fast.
    starts: list[int] = []
    chosen: list[Span] = []
    for kind, spans in candidates.items():
        for start, end in sorted(spans, key=lambda s: (s[0], -s[1])):
            at = bisect_left(starts, end)
            if at == 0 or chosen[at - 1].end <= start:
                starts.insert(at, start)
                chosen.insert(at, Span(kind, start, end))
    return chosen


def redact_text(text: str) -> tuple[str, list[Span]]:
    """``text`` with each value replaced by its kind's placeholder, and where the values were."""
    spans = find_personal_data(text)
    pieces: list[str] = []
    at = 0
    for span in spans:
        pieces.append(text[at:span.start])
        pieces.append(PLACEHOLDERS[span.kind])
        at = span.end
    pieces.append(text[at:])
    return "".join(pieces), spans


def findings_in(conversation: Conversation) -> list[Finding]:
    """The personal data of a canonical conversation: the model name's, then each message's."""
    found = [Finding(s.kind, None, s.start, s.end) for s in find_personal_data(conversation.model or "")]
    for index, message in enumerate(conversation.messages):
        found.extend(Finding(s.kind, index, s.start, s.end) for s in find_personal_data(message.content))
    return found


def redact_conversation(conversation: Conversation) -> tuple[Conversation, list[Finding]]:
    """The canonical conversation with every value replaced, and what was replaced where.

    The placeholders are ASCII words in brackets, so the redacted text is still normalised (§2):
    its canonical bytes are the ones the server computes from it.
    """
    findings: list[Finding] = []
    model = conversation.model
    if model is not None:
        model, spans = redact_text(model)
        findings.extend(Finding(s.kind, None, s.start, s.end) for s in spans)
    messages: list[Message] = []
    for index, message in enumerate(conversation.messages):
        content, spans = redact_text(message.content)
        findings.extend(Finding(s.kind, index, s.start, s.end) for s in spans)
        messages.append(Message(message.role, content, message.images))
    return Conversation(model, tuple(messages)), findings


def redact_for_submission(conversation: object) -> tuple[dict[str, Any], list[Finding]]:
    """What a client signs and submits for ``conversation`` (any accepted format): its canonical
    form (§2) with personal data replaced, and the findings to show the contributor.

    Raises the ``ConversationError`` of a conversation that does not normalise.
    """
    redacted, findings = redact_conversation(normalise(conversation))
    return redacted.to_canonical(), findings


def public_findings(findings: Sequence[Finding]) -> list[dict[str, Any]]:
    """Each (kind, message) once, in order of appearance: what a refusal may carry."""
    seen: dict[tuple[str, int | None], dict[str, Any]] = {}
    for finding in findings:
        seen.setdefault((finding.kind, finding.message), finding.public())
    return list(seen.values())


def describe_findings(findings: Sequence[Finding]) -> str:
    """``email in message 0 (x2), phone in message 3``: kinds, counts and places, never values."""
    counts: dict[tuple[str, int | None], int] = {}
    for finding in findings:
        key = (finding.kind, finding.message)
        counts[key] = counts.get(key, 0) + 1
    return ", ".join(f"{kind} in {'the model name' if where is None else f'message {where}'}"
                     + (f" (x{n})" if n > 1 else "") for (kind, where), n in counts.items())


class PersonalDataError(InvalidInputError):
    """A submission that still holds personal data; ``findings`` says which kinds are where."""

    code = "contains-personal-data"

    def __init__(self, findings: Sequence[Finding]) -> None:
        super().__init__(f"the conversation contains personal data ({describe_findings(findings)}); nothing "
                         "was written: submit it redacted (clients replace each value with a placeholder "
                         "such as [email] before signing; `tally redact FILE` shows the result)",
                         findings=public_findings(findings))


def refuse_personal_data(conversation: Conversation) -> None:
    """Raise ``PersonalDataError`` if the canonical conversation holds any personal data."""
    findings = findings_in(conversation)
    if findings:
        raise PersonalDataError(findings)
