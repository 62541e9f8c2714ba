"""The epoch manifest (DESIGN.md §6): what an epoch commits to, published under its CID.

``seal_epoch`` builds a ``Manifest``, stores the JCS bytes of ``to_json()`` and anchors their
CID; ``tally audit`` fetches those bytes by CID and reads them back with ``Manifest.from_json``.
``to_json`` writes exactly the JSON the sealer wrote for the manifest's version (same members,
same value types), so the bytes, and the CID, of a manifest never depend on this module's
version: a version 1 manifest (before leaves carried their scoring) reads and writes back as it
was, a version 2 one must name every leaf's ``scorer`` and ``features`` and the epoch's
``scorer.rulesHash``, a version 3 one lists only the balances the epoch changed (with a full
``BalancesSnapshot`` every few epochs, ``ledger.formats.snapshot``) instead of every balance, and a
version 4 one also says when it was sealed (``sealedAt``), when each journal entry was written
(``journal[].at``), the program definitions and membership changes it seals (``programs``) and the
usage it records in units, paid or not (``usage``): what the audit recomputes programs' payouts from.
A version 5 one adds ``feed``: the points a like and a remix credit, every engagement the epoch
credits and, with an RFC 9162 inclusion proof, the leaf of each contribution they name: what the
audit checks each ``engagement`` credit against (``anchoring.audit_feed``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from ledger.encoding import ADDRESS_PATTERN, DECIMAL_PATTERN, HASH_PATTERN, hex0x
from ledger.errors import InvalidFieldError
from ledger.formats import fields as f
from ledger.formats.fields import InvalidDocumentError
from ledger.merkle import log as rfc9162
from ledger.program_rules import DEFINE, ENROL, LEAVE, Definition, parse_definition

MANIFEST_VERSION = 5
READABLE_VERSIONS = (1, 2, 3, 4, 5)
SCORED_SINCE = 2
"""The first manifest version whose leaves carry their scorer and features."""
DELTAS_SINCE = 3
"""The first manifest version whose balances list only what the epoch changed, and whose log
names its compact range (``log.edge``)."""
PROGRAMS_SINCE = 4
"""The first manifest version with ``sealedAt``, ``journal[].at``, ``programs`` and ``usage``."""
FEED_SINCE = 5
"""The first manifest version with ``feed``: the engagement points, engagements and their leaves."""
ENGAGEMENT_KINDS = ("like", "remix")
"""The kinds an engagement line names, as its journal ref does (``ledger.feed.KIND_NAMES``)."""
BALANCE_ENCODING = ["address", "uint256"]
"""The ABI types of a balances-tree leaf ``[account, balance]`` (OpenZeppelin StandardMerkleTree)."""


class InvalidManifestError(InvalidDocumentError):
    """A manifest does not parse; the message names the field, e.g. ``log.leaves[3].points``."""

    code = "invalid-manifest"


@dataclass(frozen=True, slots=True)
class PreviousEpoch:
    """The link to the epoch before: its roots and its manifest's CID."""

    epoch: int
    log_size: int
    log_root: bytes
    balances_root: bytes
    manifest_cid: str

    def to_json(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "logSize": self.log_size, "logRoot": hex0x(self.log_root),
                "balancesRoot": hex0x(self.balances_root), "manifestCid": self.manifest_cid}

    @classmethod
    def read(cls, o: dict[str, Any], at: str = "previous") -> PreviousEpoch:
        return cls(f.uint(o, at, "epoch"), f.uint(o, at, "logSize"), f.hash32(o, at, "logRoot"),
                   f.hash32(o, at, "balancesRoot"), f.text(o, at, "manifestCid"))


@dataclass(frozen=True, slots=True)
class LogLeaf:
    """One contribution as the RFC 9162 log commits to it (DESIGN.md §4), plus its content CID."""

    index: int
    contributor: str
    content_hash: bytes
    accepted_at: int
    points: int
    cid: str
    scorer: str | None = None
    """The scorer version that gave the points (docs/scoring.md); None in a version 1 manifest."""
    features: Mapping[str, int] | None = None
    """The integer features the points were computed from: ``points_from_features(scorer,
    features) == points``. Not part of the leaf hash: the manifest's CID commits to them."""

    def to_json(self) -> dict[str, Any]:
        leaf: dict[str, Any] = {"index": self.index, "contributor": self.contributor,
                                "contentHash": hex0x(self.content_hash), "acceptedAt": self.accepted_at,
                                "points": str(self.points), "cid": self.cid}
        if self.scorer is not None:
            leaf["scorer"] = self.scorer
        if self.features is not None:
            leaf["features"] = dict(self.features)
        return leaf

    @classmethod
    def read_valid(cls, o: object, scored: bool = False) -> LogLeaf | None:
        """The leaf if every field is well-formed, else None: the audit's fast path through up
        to 100,000 leaves a manifest, with no error path built (``read`` then names the field)."""
        if not isinstance(o, dict):
            return None
        index, contributor, content_hash = o.get("index"), o.get("contributor"), o.get("contentHash")
        accepted_at, points, cid = o.get("acceptedAt"), o.get("points"), o.get("cid")
        if not (type(index) is int and index >= 0 and type(accepted_at) is int and accepted_at >= 0
                and type(contributor) is str and ADDRESS_PATTERN.match(contributor)
                and type(content_hash) is str and HASH_PATTERN.match(content_hash)
                and type(points) is str and DECIMAL_PATTERN.match(points) and type(cid) is str and cid):
            return None
        if not scored:
            return cls(index, contributor, bytes.fromhex(content_hash[2:]), accepted_at, int(points), cid)
        scorer, features = o.get("scorer"), o.get("features")
        if (type(scorer) is str and scorer and type(features) is dict
                and all(type(n) is int and n >= 0 for n in features.values())):
            return cls(index, contributor, bytes.fromhex(content_hash[2:]), accepted_at, int(points), cid,
                       scorer, features)
        return None

    @classmethod
    def read(cls, o: dict[str, Any], at: str, scored: bool = False) -> LogLeaf:
        leaf = cls(f.uint(o, at, "index"), f.address(o, at, "contributor"), f.hash32(o, at, "contentHash"),
                   f.uint(o, at, "acceptedAt"), f.decimal(o, at, "points"), f.text(o, at, "cid"))
        if not scored:
            return leaf
        return replace(leaf, scorer=f.text(o, at, "scorer"), features=f.counts(o, at, "features"))

    def leaf_hash(self) -> bytes:
        """SHA-256(0x00 ‖ abi.encode(index, contributor, contentHash, acceptedAt, points)), RFC 9162 §2.1.1."""
        return rfc9162.leaf_hash(rfc9162.leaf_data(self.index, self.contributor, self.content_hash,
                                                   self.accepted_at, self.points))


@dataclass(frozen=True, slots=True)
class ManifestLog:
    """The contribution log after the epoch: its size and root, the leaves the epoch added and
    (since version 3) its compact range: enough to audit on from this epoch without the leaves
    before it."""

    size: int
    root: bytes
    leaves: tuple[LogLeaf, ...]
    edge: tuple[bytes, ...] | None = None
    """The roots of the perfect subtrees covering leaves ``[0, size)``, left to right
    (``ledger.merkle.stored.StoredLog.compact_range``); None before version 3."""

    def to_json(self) -> dict[str, Any]:
        log: dict[str, Any] = {"size": self.size, "root": hex0x(self.root),
                               "leaves": [leaf.to_json() for leaf in self.leaves]}
        if self.edge is not None:
            log["edge"] = [hex0x(node) for node in self.edge]
        return log

    @classmethod
    def read(cls, o: dict[str, Any], at: str = "log", scored: bool = False, edged: bool = False) -> ManifestLog:
        size, root = f.uint(o, at, "size"), f.hash32(o, at, "root")
        given, leaves = f.items(o, at, "leaves"), []
        for i, value in enumerate(given):
            leaf = LogLeaf.read_valid(value, scored)
            if leaf is None:  # malformed: read it field by field to name the culprit
                leaf = LogLeaf.read(f.obj(given, f"{at}.leaves", i), f"{at}.leaves[{i}]", scored)
            leaves.append(leaf)
        if not edged:
            return cls(size, root, tuple(leaves))
        edge = f.hashes(o, at, "edge")
        if len(edge) != size.bit_count():
            raise f.wrong(at, "edge", f"must hold one hash per perfect subtree of {size} leaves ({size.bit_count()})")
        return cls(size, root, tuple(leaves), edge)


@dataclass(frozen=True, slots=True)
class JournalLine:
    """One journal entry sealed by the epoch; ``amount`` is negative on the debited account."""

    id: int
    account: str
    amount: int
    kind: str
    ref: str
    at: int | None = None
    """When the entry was written (Unix seconds); None before version 4."""

    def to_json(self) -> dict[str, Any]:
        line: dict[str, Any] = {"id": self.id, "account": self.account, "amount": str(self.amount),
                                "kind": self.kind, "ref": self.ref}
        if self.at is not None:
            line["at"] = self.at
        return line

    @classmethod
    def read(cls, o: dict[str, Any], at: str, timed: bool = False) -> JournalLine:
        return cls(f.uint(o, at, "id"), f.text(o, at, "account"), f.signed_decimal(o, at, "amount"),
                   f.text(o, at, "kind"), f.text(o, at, "ref"), f.uint(o, at, "at") if timed else None)


@dataclass(frozen=True, slots=True)
class ProgramLine:
    """A program's definition (``define``, with ``definition``) or a membership change
    (``enrol``/``leave`` of ``account``) sealed by the epoch (docs/formats.md §6). ``by`` is
    ``admin`` or ``account``; an enrolment by the account carries its EIP-712 ``Enrol`` signature
    (§3), so that anyone can check the account consented."""

    id: int
    change: str
    program: str
    at: int
    by: str = "admin"
    account: str | None = None
    definition: Definition | None = None
    nonce: int | None = None
    issued_at: int | None = None
    signature: bytes | None = None

    def to_json(self) -> dict[str, Any]:
        line: dict[str, Any] = {"id": self.id, "change": self.change, "program": self.program, "at": self.at,
                                "by": self.by}
        if self.definition is not None:
            definition = self.definition.to_json()
            del definition["id"]
            line.update(definition)
        if self.account is not None:
            line["account"] = self.account
        if self.signature is not None:
            line.update({"nonce": str(self.nonce), "issuedAt": self.issued_at, "signature": hex0x(self.signature)})
        return line

    @classmethod
    def read(cls, o: dict[str, Any], at: str) -> ProgramLine:
        number, change, program = f.uint(o, at, "id"), f.text(o, at, "change"), f.text(o, at, "program")
        when, by = f.uint(o, at, "at"), f.text(o, at, "by")
        if change == DEFINE:
            fields: dict[str, Any] = {k: o[k] for k in ("period", "minimum", "start", "retroactiveFrom", "retroRate")
                                      if k in o}
            try:
                definition = parse_definition({"id": program, **fields})
            except InvalidFieldError as exc:
                name = exc.field if exc.field != "id" else "program"
                raise f.wrong(at, name, exc.detail.split(": ", 1)[-1]) from None
            return cls(number, change, program, when, by, definition=definition)
        if change not in (ENROL, LEAVE):
            raise f.wrong(at, "change", 'must be "define", "enrol" or "leave"')
        account = f.checked_address(o, at, "account")
        if "signature" not in o:
            return cls(number, change, program, when, by, account)
        signature = f.text(o, at, "signature")
        if not re.fullmatch(r"0x[0-9a-fA-F]{130}", signature):
            raise f.wrong(at, "signature", "must be 0x + 130 hex")
        return cls(number, change, program, when, by, account, nonce=f.decimal(o, at, "nonce"),
                   issued_at=f.uint(o, at, "issuedAt"), signature=bytes.fromhex(signature[2:]))


@dataclass(frozen=True, slots=True)
class UsageLine:
    """One usage item recorded by the epoch: ``units`` of use of a contribution of ``account``
    under the consumer's report ``ref``, and the ``points`` it paid then (0: recorded unpaid)."""

    id: int
    ref: str
    contribution: int
    account: str
    units: int
    points: int
    at: int

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "ref": self.ref, "contribution": self.contribution, "account": self.account,
                "units": self.units, "points": str(self.points), "at": self.at}

    @classmethod
    def read(cls, o: dict[str, Any], at: str) -> UsageLine:
        return cls(f.uint(o, at, "id"), f.text(o, at, "ref"), f.uint(o, at, "contribution"),
                   f.checked_address(o, at, "account"), f.uint(o, at, "units"), f.decimal(o, at, "points"),
                   f.uint(o, at, "at"))


@dataclass(frozen=True, slots=True)
class EngagementLine:
    """One engagement the epoch credits (docs/formats.md §11): ``actor`` liked or remixed the
    contribution ``content_hash`` (a remix naming the actor's new contribution, ``remix``), with
    the actor's EIP-712 ``Engage`` statement, so that anyone can check the actor signed it."""

    id: int
    kind: str
    content_hash: bytes
    actor: str
    remix: bytes | None
    at: int
    nonce: int
    issued_at: int
    signature: bytes

    @property
    def ref(self) -> str:
        """The ref of the journal transfer that credits it: ``<kind>:<contentHash>:<actor>``."""
        return f"{self.kind}:{hex0x(self.content_hash)}:{self.actor}"

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "contentHash": hex0x(self.content_hash), "actor": self.actor,
                "remix": None if self.remix is None else hex0x(self.remix), "at": self.at, "nonce": str(self.nonce),
                "issuedAt": self.issued_at, "signature": hex0x(self.signature)}

    @classmethod
    def read(cls, o: dict[str, Any], at: str) -> EngagementLine:
        number, kind = f.uint(o, at, "id"), f.text(o, at, "kind")
        if kind not in ENGAGEMENT_KINDS:
            raise f.wrong(at, "kind", 'must be "like" or "remix"')
        content_hash, actor = f.hash32(o, at, "contentHash"), f.checked_address(o, at, "actor")
        remix = None if o.get("remix") is None else f.hash32(o, at, "remix")
        when, nonce, issued_at = f.uint(o, at, "at"), f.decimal(o, at, "nonce"), f.uint(o, at, "issuedAt")
        signature = f.text(o, at, "signature")
        if not re.fullmatch(r"0x[0-9a-fA-F]{130}", signature):
            raise f.wrong(at, "signature", "must be 0x + 130 hex")
        return cls(number, kind, content_hash, actor, remix, when, nonce, issued_at, bytes.fromhex(signature[2:]))


@dataclass(frozen=True, slots=True)
class ProvenLeaf:
    """The log leaf of a contribution an engagement names, sealed in this epoch or before, with
    its RFC 9162 inclusion proof in the log after this epoch (``log.size``, ``log.root``)."""

    leaf: LogLeaf
    proof: tuple[bytes, ...]

    def to_json(self) -> dict[str, Any]:
        leaf = self.leaf
        return {"index": leaf.index, "contributor": leaf.contributor, "contentHash": hex0x(leaf.content_hash),
                "acceptedAt": leaf.accepted_at, "points": str(leaf.points), "proof": [hex0x(h) for h in self.proof]}

    @classmethod
    def read(cls, o: dict[str, Any], at: str) -> ProvenLeaf:
        leaf = LogLeaf(f.uint(o, at, "index"), f.address(o, at, "contributor"), f.hash32(o, at, "contentHash"),
                       f.uint(o, at, "acceptedAt"), f.decimal(o, at, "points"), "")
        return cls(leaf, f.hashes(o, at, "proof"))


@dataclass(frozen=True, slots=True)
class ManifestFeed:
    """What the public feed's credits in the epoch are checked against (version 5 on): the
    points per like and per remix the epoch credits, its engagements in id order, and the leaf
    of every contribution they name (engaged with or remixed into), sorted by log index."""

    points_per_like: int
    points_per_remix: int
    engagements: tuple[EngagementLine, ...] = ()
    contributions: tuple[ProvenLeaf, ...] = ()

    def points(self, kind: str) -> int:
        return self.points_per_like if kind == "like" else self.points_per_remix

    def to_json(self) -> dict[str, Any]:
        return {"pointsPerLike": str(self.points_per_like), "pointsPerRemix": str(self.points_per_remix),
                "engagements": [line.to_json() for line in self.engagements],
                "contributions": [leaf.to_json() for leaf in self.contributions]}

    @classmethod
    def read(cls, o: dict[str, Any], at: str = "feed") -> ManifestFeed:
        return cls(f.decimal(o, at, "pointsPerLike"), f.decimal(o, at, "pointsPerRemix"),
                   tuple(EngagementLine.read(line, where) for line, where in f.each_object(o, at, "engagements")),
                   tuple(ProvenLeaf.read(leaf, where) for leaf, where in f.each_object(o, at, "contributions")))


def balance_pairs(o: dict[str, Any], at: str, key: str) -> tuple[tuple[str, int], ...]:
    """A list of ``[account, balance]`` pairs, the balance a decimal string."""
    values = []
    for i, pair in enumerate(f.items(o, at, key)):
        where = f.path(f.path(at, key), i)
        if not isinstance(pair, list) or len(pair) != 2:
            raise InvalidDocumentError(where, "must be a pair [account, balance]")
        values.append((f.address(pair, where, 0), f.decimal(pair, where, 1)))
    return tuple(values)


def pairs_json(values: tuple[tuple[str, int], ...]) -> list[list[str]]:
    return [[account, str(balance)] for account, balance in values]


@dataclass(frozen=True, slots=True)
class ManifestBalances:
    """The balances after the epoch: their root and total, and either every non-zero balance
    (``values``, manifest versions 1 and 2) or only those the epoch changed (``changed``, a
    balance that fell to zero listed as 0; version 3), with the number of accounts holding a
    balance and, every few epochs, the CID of a full snapshot (``ledger.balances``)."""

    root: bytes
    total_points: int
    values: tuple[tuple[str, int], ...] | None = None
    changed: tuple[tuple[str, int], ...] | None = None
    accounts: int | None = None
    snapshot: str | None = None

    def to_json(self) -> dict[str, Any]:
        if self.values is not None:
            return {"root": hex0x(self.root), "totalPoints": str(self.total_points),
                    "values": pairs_json(self.values)}
        return {"root": hex0x(self.root), "totalPoints": str(self.total_points), "accounts": self.accounts,
                "changed": pairs_json(self.changed or ()), "snapshot": self.snapshot}

    def tree_values(self) -> list[list[str]]:
        """The leaves of the balances tree of a version 1-2 manifest, as ``StandardMerkleTree.of``
        takes them with ``BALANCE_ENCODING``."""
        return pairs_json(self.values or ())

    @classmethod
    def read(cls, o: dict[str, Any], at: str = "balances", deltas: bool = False) -> ManifestBalances:
        root, total = f.hash32(o, at, "root"), f.decimal(o, at, "totalPoints")
        if not deltas:
            return cls(root, total, values=balance_pairs(o, at, "values"))
        accounts = f.uint(o, at, "accounts")
        changed = balance_pairs(o, at, "changed")
        snapshot = f.optional_text(o, at, "snapshot")
        return cls(root, total, changed=changed, accounts=accounts, snapshot=snapshot)


@dataclass(frozen=True, slots=True)
class Scorer:
    """The scorer versions that scored the epoch's contributions, comma-separated and sorted,
    and the rules hash of each, in the same order ("" for an epoch of transfers alone)."""

    version: str
    rules_hash: str | None = None
    """None in a version 1 manifest, which did not name the rules."""

    def to_json(self) -> dict[str, Any]:
        scorer = {"version": self.version}
        if self.rules_hash is not None:
            scorer["rulesHash"] = self.rules_hash
        return scorer

    def versions(self) -> dict[str, str]:
        """Each version named, with its rules hash ("" in a version 1 manifest)."""
        names = self.version.split(",") if self.version else []
        hashes = (self.rules_hash or "").split(",") if self.rules_hash else [""] * len(names)
        return dict(zip(names, hashes, strict=False))

    @classmethod
    def read(cls, o: dict[str, Any], at: str = "scorer", scored: bool = False) -> Scorer:
        version = f.string(o, at, "version")  # "" for an epoch of transfers alone
        if not scored:
            return cls(version)
        rules_hash = f.string(o, at, "rulesHash")
        hashes = rules_hash.split(",") if rules_hash else []
        if len(hashes) != len(version.split(",") if version else []) or not all(map(HASH_PATTERN.match, hashes)):
            raise f.wrong(at, "rulesHash", "must be one 0x + 64 hex hash per version, comma-separated")
        return cls(version, rules_hash)


@dataclass(frozen=True, slots=True)
class Manifest:
    """Everything one epoch commits to (DESIGN.md §6), as published under its CID."""

    chain_id: int
    contract: str
    epoch: int
    previous: PreviousEpoch | None
    log: ManifestLog
    journal: tuple[JournalLine, ...]
    balances: ManifestBalances
    scorer: Scorer
    v: int = MANIFEST_VERSION
    sealed_at: int | None = None
    """When the epoch was sealed: which programs' periods it closed (version 4 on)."""
    programs: tuple[ProgramLine, ...] = ()
    usage: tuple[UsageLine, ...] = ()
    feed: ManifestFeed | None = None
    """The engagement points, engagements and their leaves (version 5 on)."""

    def to_json(self) -> dict[str, Any]:
        document = {
            "v": self.v,
            "chainId": self.chain_id,
            "contract": self.contract,
            "epoch": self.epoch,
            "previous": None if self.previous is None else self.previous.to_json(),
            "log": self.log.to_json(),
            "journal": [line.to_json() for line in self.journal],
            "balances": self.balances.to_json(),
            "scorer": self.scorer.to_json(),
        }
        if self.v >= PROGRAMS_SINCE:
            document.update({"sealedAt": self.sealed_at, "programs": [line.to_json() for line in self.programs],
                             "usage": [line.to_json() for line in self.usage]})
        if self.v >= FEED_SINCE:
            document["feed"] = (self.feed or ManifestFeed(0, 0)).to_json()
        return document

    @classmethod
    def from_json(cls, obj: object) -> Manifest:
        """The manifest in ``obj`` (parsed JSON), or ``InvalidManifestError`` naming the first bad field."""
        with f.reported_as(InvalidManifestError):
            return cls._read(f.document(obj, "manifest"))

    @classmethod
    def _read(cls, o: dict[str, Any]) -> Manifest:
        # In the order of the document, so that the first bad field is the one named.
        v = f.uint(o, "", "v")
        if v not in READABLE_VERSIONS:
            raise f.wrong("", "v", f"must be {' or '.join(map(str, READABLE_VERSIONS))}")
        scored = v >= SCORED_SINCE
        chain_id, contract, epoch = f.uint(o, "", "chainId"), f.checked_address(o, "", "contract"), \
            f.uint(o, "", "epoch")
        previous = f.optional_obj(o, "", "previous")
        return cls(
            chain_id=chain_id,
            contract=contract,
            epoch=epoch,
            previous=None if previous is None else PreviousEpoch.read(previous),
            log=ManifestLog.read(f.obj(o, "", "log"), scored=scored, edged=v >= DELTAS_SINCE),
            journal=tuple(JournalLine.read(line, where, timed=v >= PROGRAMS_SINCE)
                          for line, where in f.each_object(o, "", "journal")),
            balances=ManifestBalances.read(f.obj(o, "", "balances"), deltas=v >= DELTAS_SINCE),
            scorer=Scorer.read(f.obj(o, "", "scorer"), scored=scored),
            v=v,
            **(cls._read_programs(o) if v >= PROGRAMS_SINCE else {}),
            feed=ManifestFeed.read(f.obj(o, "", "feed")) if v >= FEED_SINCE else None,
        )

    @staticmethod
    def _read_programs(o: dict[str, Any]) -> dict[str, Any]:
        return {"sealed_at": f.uint(o, "", "sealedAt"),
                "programs": tuple(ProgramLine.read(line, where) for line, where in f.each_object(o, "", "programs")),
                "usage": tuple(UsageLine.read(line, where) for line, where in f.each_object(o, "", "usage"))}
