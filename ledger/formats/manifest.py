"""The epoch manifest (DESIGN.md §6): what an epoch commits to, published under its CID.

``seal_epoch`` builds a ``Manifest``, stores the JCS bytes of ``to_json()`` and anchors their
CID; ``tally audit`` fetches those bytes by CID and reads them back with ``Manifest.from_json``.
``to_json`` writes exactly the JSON the sealer wrote for the manifest's version (same members,
same value types), so the bytes, and the CID, of a manifest never depend on this module's
version: a version 1 manifest (before leaves carried their scoring) reads and writes back as it
was, a version 2 one must name every leaf's ``scorer`` and ``features`` and the epoch's
``scorer.rulesHash``, and a version 3 one lists only the balances the epoch changed (with a full
``BalancesSnapshot`` every few epochs, ``ledger.formats.snapshot``) instead of every balance.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from ledger.encoding import ADDRESS_PATTERN, DECIMAL_PATTERN, HASH_PATTERN, hex0x
from ledger.formats import fields as f
from ledger.formats.fields import InvalidDocumentError
from ledger.merkle import log as rfc9162

MANIFEST_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)
SCORED_SINCE = 2
"""The first manifest version whose leaves carry their scorer and features."""
DELTAS_SINCE = 3
"""The first manifest version whose balances list only what the epoch changed, and whose log
names its compact range (``log.edge``)."""
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

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "account": self.account, "amount": str(self.amount), "kind": self.kind,
                "ref": self.ref}

    @classmethod
    def read(cls, o: dict[str, Any], at: str) -> JournalLine:
        return cls(f.uint(o, at, "id"), f.text(o, at, "account"), f.signed_decimal(o, at, "amount"),
                   f.text(o, at, "kind"), f.text(o, at, "ref"))


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

    def to_json(self) -> dict[str, Any]:
        return {
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
            journal=tuple(JournalLine.read(line, where) for line, where in f.each_object(o, "", "journal")),
            balances=ManifestBalances.read(f.obj(o, "", "balances"), deltas=v >= DELTAS_SINCE),
            scorer=Scorer.read(f.obj(o, "", "scorer"), scored=scored),
            v=v,
        )
