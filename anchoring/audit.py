"""`tally audit`: recompute every published number from the chain and IPFS alone.

Inputs are public: the contract's ``EpochAnchored`` events (each names an epoch's header, whose
hash is all the contract stores, and its manifest CID) and the manifests, fetched by CID from any
IPFS trustless gateway or Kubo RPC API with every block checked against its CID. No database, no
Tally API. For each epoch in order the audit checks the manifest against its event and its
predecessor, extends the RFC 9162 log with the epoch's leaves (a compact range: memory grows with
log n, not n, so thousands of epochs and millions of leaves are fine) and compares the root,
which also proves the step consistent (the new tree is the old one plus the new leaves), replays
the journal entries from zero into balances, checks the balances the manifest publishes (every one
before version 3; since, the ones the epoch changed, and every few epochs a full snapshot) and
rebuilds the OpenZeppelin balances tree,
recomputes every leaf's points from the features the leaf publishes with the rules of its scorer
version, and recomputes every program's top-ups and retroactive payments from the published
programs and journal (:mod:`anchoring.audit_programs`), and holds every engagement credit of the
public feed to its rules (:mod:`anchoring.audit_feed`). The first failure is reported.

Before any of that, the address must hold a contract that answers as TallyAnchor does
(:mod:`anchoring.identity`), and the events scanned must be as many as the contract's own
``latestEpoch()`` says it holds: a mistyped address or a ``--from-block`` past the anchors is a
failure, never a pass over zero epochs; and the contract's ``headerHash`` of its latest epoch
must be the hash of the header the last event announced. With a Tally API given, the epochs it calls final must be
on the chain too (:mod:`anchoring.api_view`). Failures are ``anchoring.audit_failures``.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
from web3 import Web3

from anchoring.api_view import ApiView, compare_final_epochs, fetch_api_view
from anchoring.audit_failures import AuditDiscrepancy, AuditFailure, EngagementDiscrepancy, EpochCountMismatch
from anchoring.audit_feed import FeedReplay
from anchoring.audit_programs import ProgramReplay
from anchoring.chain import call, connect
from anchoring.contract import EpochAnchored, TallyAnchor
from anchoring.identity import check_tally_anchor, latest_epoch
from ledger.balances import BalancesUnavailableError, balances_at, balances_root, changed_balances, listed
from ledger.content import ContentError, StoreUnavailableError, parse_cid
from ledger.content.car import decode_car
from ledger.content.unixfs import read_file
from ledger.encoding import checksum, hex0x, is_account_address
from ledger.errors import InvalidInputError
from ledger.formats import (
    SCORED_SINCE,
    BalancesSnapshot,
    InvalidManifestError,
    InvalidSnapshotError,
    Manifest,
    PreviousEpoch,
)
from ledger.merkle import log as rfc9162
from ledger.scoring import InvalidFeaturesError, UnknownScorerError, points_from_features, rules_hash


class Fetcher(Protocol):
    """Where manifests come from: anything that returns a file's bytes by CID, checked."""

    def get(self, cid: str) -> bytes: ...


class ManifestFetcher:
    """Fetch a file by CID as a CAR and check every block: a gateway (``/ipfs/{cid}``, the
    trustless gateway spec) or a Kubo RPC API (a URL ending in ``/api/v0``)."""

    def __init__(self, url: str, timeout: float = 60.0) -> None:
        self.url = url.rstrip("/")
        self.client = httpx.Client(timeout=timeout)

    def car(self, cid: str) -> bytes:
        """The CAR of ``cid``; a gateway that cannot be reached or fails (5xx) is unavailable,
        not a discrepancy: the audit stops and says so, and can be run again."""
        try:
            if self.url.endswith("/api/v0"):
                response = self.client.post(f"{self.url}/dag/export", params={"arg": cid})
            else:
                response = self.client.get(f"{self.url}/ipfs/{cid}", params={"format": "car"},
                                           headers={"Accept": "application/vnd.ipld.car"})
        except httpx.TransportError as exc:
            raise StoreUnavailableError(f"cannot reach {self.url}: {type(exc).__name__}") from None
        if response.status_code >= 500:
            raise StoreUnavailableError(f"{self.url} answered {response.status_code} for {cid}")
        response.raise_for_status()
        return response.content

    def get(self, cid: str) -> bytes:
        _, sections = decode_car(self.car(cid))
        blocks = {str(block_cid): data for block_cid, data in sections}

        def fetch(wanted: Any) -> bytes:
            key = str(wanted)
            if key not in blocks:
                raise ContentError(key, "block missing from the CAR")
            return blocks[key]

        return read_file(parse_cid(cid), fetch)  # checks every block against its CID


class CompactRange:
    """The right edge of an RFC 9162 tree: enough to append leaves and compute the root."""

    def __init__(self) -> None:
        self.size = 0
        self._stack: list[tuple[int, bytes]] = []  # (height, hash) of perfect subtrees, left to right

    @classmethod
    def of_edge(cls, size: int, edge: Sequence[bytes]) -> CompactRange:
        """The range of a log of ``size`` leaves from its published edge (a manifest's
        ``log.edge``: one root per set bit of ``size``, the largest subtree first)."""
        heights = [h for h in range(size.bit_length() - 1, -1, -1) if size >> h & 1]
        if len(heights) != len(edge):
            raise ValueError(f"a log of {size} leaves has {len(heights)} subtrees, not {len(edge)}")
        compact = cls()
        compact.size, compact._stack = size, list(zip(heights, edge, strict=True))
        return compact

    @property
    def edge(self) -> tuple[bytes, ...]:
        return tuple(node for _, node in self._stack)

    def append(self, leaf_hash: bytes) -> None:
        self.size += 1
        height, node = 0, leaf_hash
        while self._stack and self._stack[-1][0] == height:
            _, left = self._stack.pop()
            node = rfc9162.hash_children(left, node)
            height += 1
        self._stack.append((height, node))

    def root(self) -> bytes:
        if not self._stack:
            return rfc9162.root([])
        node = self._stack[-1][1]
        for _, left in reversed(self._stack[:-1]):
            node = rfc9162.hash_children(left, node)
        return node


@dataclass
class AuditReport:
    """What the audit found; ``failure`` is the first way it failed (None: it passed)."""

    contract: str
    chain_id: int
    from_block: int = 0
    to_block: int | None = None
    latest_epoch: int | None = None
    """The contract's ``latestEpoch()`` at ``to_block``; None when it was never asked."""
    epochs: int = 0
    from_epoch: int = 1
    """The first epoch audited: 1, or where ``--from-epoch`` started from the epoch before's
    published compact range and balances (``Auditor.start_after``)."""
    leaves: int = 0
    journal_entries: int = 0
    accounts: int = 0
    total_points: int = 0
    points_recomputed: int = 0
    payouts_recomputed: int = 0
    """Programs' top-ups and retroactive payments recomputed (``anchoring.audit_programs``)."""
    engagements_checked: int = 0
    """Engagement credits held to the feed's rules (``anchoring.audit_feed``), version 5 on."""
    api: ApiView | None = None
    failure: AuditFailure | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.failure is None

    @property
    def nothing_anchored(self) -> bool:
        """Passed over an empty contract: nothing was checked because there is nothing yet."""
        return self.ok and self.epochs == 0

    @property
    def discrepancy(self) -> str | None:
        return None if self.failure is None else self.failure.what

    @property
    def discrepancy_epoch(self) -> int | None:
        return None if self.failure is None else self.failure.epoch

    def as_json(self) -> dict[str, Any]:
        failure: dict[str, Any] | None = None
        if self.failure is not None:
            failure = {"code": self.failure.code, "epoch": self.failure.epoch, "what": self.failure.what}
            if isinstance(self.failure, EngagementDiscrepancy):
                failure.update(rule=self.failure.rule, entry=self.failure.entry)
        api = None if self.api is None else {"url": self.api.url, "finalEpochs": self.api.final_epochs,
                                             "newestFinal": self.api.newest_final}
        return {"ok": self.ok, "chainId": self.chain_id, "contract": self.contract, "fromBlock": self.from_block,
                "toBlock": self.to_block, "latestEpoch": self.latest_epoch, "epochs": self.epochs,
                "fromEpoch": self.from_epoch,
                "leaves": self.leaves, "journalEntries": self.journal_entries, "accounts": self.accounts,
                "totalPoints": str(self.total_points), "pointsRecomputed": self.points_recomputed,
                "payoutsRecomputed": self.payouts_recomputed, "engagementsChecked": self.engagements_checked,
                "api": api,
                "seconds": round(self.seconds, 2),
                "discrepancy": failure}


def anchored_events(w3: Web3, contract: str, from_block: int = 0, chunk: int = 50_000,
                    to_block: int | None = None) -> Iterator[EpochAnchored]:
    """EpochAnchored events in chain order up to ``to_block`` (default: the latest), fetched in
    block ranges a public node accepts."""
    anchor = TallyAnchor(w3, contract)
    latest = int(call(w3.eth.get_block_number)) if to_block is None else to_block
    start = from_block
    while start <= latest:
        end = min(start + chunk - 1, latest)
        yield from call(anchor.anchored_events, from_block=start, to_block=end)
        start = end + 1


@dataclass
class Auditor:
    w3: Web3
    contract: str
    fetcher: Fetcher
    progress: Callable[[str], None] = lambda _line: None
    log: CompactRange = field(default_factory=CompactRange)
    balances: dict[str, int] = field(default_factory=dict)
    api: Callable[[], ApiView] | None = None
    """Where a Tally API's view comes from (``--api``), to compare with the chain's."""
    programs: ProgramReplay = field(default_factory=ProgramReplay)
    feed: FeedReplay = field(default_factory=FeedReplay)
    """The engagement credits audited so far (``anchoring.audit_feed``)."""

    def run(self, from_block: int = 0, from_epoch: int = 1) -> AuditReport:
        """Audit every epoch from ``from_epoch`` on (events are still counted from the first)."""
        started = time.monotonic()
        block = int(call(self.w3.eth.get_block_number))
        report = AuditReport(checksum(self.contract), int(call(lambda: self.w3.eth.chain_id)), from_block, block,
                             from_epoch=from_epoch)
        try:
            report.latest_epoch, head_hash = check_tally_anchor(self.w3, report.contract, report.chain_id, block)
            events = sorted(anchored_events(self.w3, report.contract, from_block, to_block=block),
                            key=lambda e: (e.block_number, e.log_index))
            if len(events) != report.latest_epoch:
                raise EpochCountMismatch(report.latest_epoch, len(events), from_block, block)
            if from_epoch > max(1, report.latest_epoch):
                raise InvalidInputError(f"from epoch {from_epoch}: the contract holds {report.latest_epoch} epochs",
                                        field="from_epoch")
            previous: PreviousEpoch | None = None
            for position, event in enumerate(events, start=1):
                if event.epoch < from_epoch - 1:
                    continue
                if event.epoch == from_epoch - 1:
                    previous = self.start_after(event)
                    continue
                previous = self.epoch(report, event, previous)
                report.epochs += 1
                if position % 50 == 0 or position == len(events):
                    self.progress(f"audited {position}/{len(events)} epochs, {self.log.size} leaves")
            if head_hash is not None:
                self._check_head(head_hash, events[-1])
            if self.api is not None:
                report.api = self.api()
                chain_epochs = latest_epoch(self.w3, report.contract, report.chain_id,
                                            int(call(self.w3.eth.get_block_number)))
                compare_final_epochs(report.api, report.chain_id, report.contract, chain_epochs)
        except AuditFailure as exc:
            report.failure = exc
        report.leaves = self.log.size
        report.payouts_recomputed = self.programs.payouts
        report.accounts = sum(1 for b in self.balances.values() if b)
        report.total_points = sum(b for a, b in self.balances.items() if is_account_address(a))
        report.seconds = time.monotonic() - started
        return report

    def start_after(self, event: EpochAnchored) -> PreviousEpoch:
        """Take up the audit after ``event``'s epoch from public documents alone: the log from
        the compact range its manifest publishes (``log.edge``), the balances rebuilt from the
        newest snapshot before it and the changes since (``ledger.balances.balances_at``), each
        checked against the roots the chain holds for that epoch. What happened before it is
        not re-checked: that is what a full audit is for."""
        number, cid = event.epoch, event.manifest_cid
        manifest = self._manifest(number, cid)
        if manifest.epoch != number or manifest.log.edge is None:
            raise AuditDiscrepancy(number, "to audit from the next epoch its manifest must be of version 3 or later, "
                                   "naming its log.edge; audit from an earlier epoch")
        try:
            self.log = CompactRange.of_edge(manifest.log.size, manifest.log.edge)
        except ValueError as exc:
            raise AuditDiscrepancy(number, f"log.edge: {exc}") from None
        if self.log.size != event.log_size or self.log.root() != event.log_root:
            raise AuditDiscrepancy(number, "the manifest's log.edge does not give the log root the chain holds")
        try:
            balances = balances_at(cid, lambda c: self._manifest(number, c), lambda c: self._snapshot(number, c, None))
        except BalancesUnavailableError as exc:
            raise AuditDiscrepancy(number, str(exc)) from None
        if balances_root(balances.items()) != event.balances_root or sum(balances.values()) != event.total_points:
            raise AuditDiscrepancy(number, "the published balances do not give the balances root the chain holds")
        self.balances = balances
        self.programs.active = False  # the programs and earnings before are not replayed
        return PreviousEpoch(number, event.log_size, event.log_root, event.balances_root, cid)

    @staticmethod
    def _check_head(head_hash: bytes, event: EpochAnchored) -> None:
        """The contract stored, for its latest epoch, the hash of the header its event announced."""
        if head_hash != event.header.hash():
            raise AuditDiscrepancy(event.epoch, f"the contract's headerHash({event.epoch}) is "
                                   f"{hex0x(head_hash)}, not the hash of the header its EpochAnchored "
                                   f"event announced ({hex0x(event.header.hash())})")

    def epoch(self, report: AuditReport, event: EpochAnchored, previous: PreviousEpoch | None) -> PreviousEpoch:
        """Check one epoch against its event and its predecessor; the link its successor must name."""
        number = event.epoch
        expected = 1 if previous is None else previous.epoch + 1
        if number != expected:
            raise AuditDiscrepancy(number, f"epochs are not consecutive: expected {expected}")
        cid = event.manifest_cid
        manifest = self._manifest(number, cid)
        checks = [
            (manifest.epoch == number, "the manifest names another epoch"),
            (manifest.chain_id == report.chain_id, "the manifest names another chain"),
            (manifest.contract.lower() == report.contract.lower(), "the manifest names another contract"),
        ]
        if previous is None:
            checks.append((manifest.previous is None, "the first manifest has a predecessor"))
        else:
            checks.append((manifest.previous == previous, "the manifest's `previous` is not the epoch before it"))
        for ok, what in checks:
            if not ok:
                raise AuditDiscrepancy(number, what)
        self._extend_log(number, manifest, event)
        self._recompute_points(number, manifest, report)
        self.programs.epoch(number, manifest)  # first: a payout that differs is named as such
        self._replay_journal(number, manifest, event, report)
        return PreviousEpoch(number, event.log_size, event.log_root, event.balances_root, cid)

    def _manifest(self, number: int, cid: str) -> Manifest:
        try:
            raw = self.fetcher.get(cid)
        except StoreUnavailableError:
            raise
        except (ContentError, httpx.HTTPError, ValueError) as exc:
            raise AuditDiscrepancy(number, f"manifest {cid} cannot be fetched intact: {exc}") from None
        try:
            return Manifest.from_json(json.loads(raw))
        except ValueError as exc:
            raise AuditDiscrepancy(number, f"manifest {cid} is not JSON: {exc}") from None
        except InvalidManifestError as exc:
            raise AuditDiscrepancy(number, f"manifest {cid} is malformed: {exc}", field=exc.field) from None

    def _extend_log(self, number: int, manifest: Manifest, event: EpochAnchored) -> None:
        for leaf in manifest.log.leaves:
            if leaf.index != self.log.size:
                raise AuditDiscrepancy(number, f"leaf index {leaf.index} where {self.log.size} was due")
            self.log.append(leaf.leaf_hash())
        root = self.log.root()
        if self.log.size != event.log_size or self.log.size != manifest.log.size:
            raise AuditDiscrepancy(number, f"the log has {self.log.size} leaves; the chain says {event.log_size}")
        if root != event.log_root or root != manifest.log.root:
            raise AuditDiscrepancy(number, f"the leaves give log root {hex0x(root)}; the chain says "
                                   f"{hex0x(event.log_root)}")
        if manifest.log.edge is not None and manifest.log.edge != self.log.edge:
            raise AuditDiscrepancy(number, "the manifest's log.edge is not the log's compact range")

    def _recompute_points(self, number: int, manifest: Manifest, report: AuditReport) -> None:
        """Every leaf's points from its features, with the rules of its scorer version, once the
        rules this audit has hash to the manifest's ``scorer.rulesHash`` (docs/scoring.md). A
        version 1 manifest publishes no features: nothing to recompute."""
        if manifest.v < SCORED_SINCE:
            return
        named = manifest.scorer.versions()
        for version, published in named.items():
            try:
                mine = rules_hash(version)
            except UnknownScorerError:
                raise AuditDiscrepancy(number, f"scorer {version!r}: this audit has no rules of that version") from None
            if mine != published:
                raise AuditDiscrepancy(number, f"the rules of {version} hash to {mine}; the manifest says {published}")
        for leaf in manifest.log.leaves:
            if leaf.scorer not in named or leaf.features is None:
                raise AuditDiscrepancy(number, f"leaf {leaf.index}: scorer {leaf.scorer!r} is not among the "
                                       f"manifest's {manifest.scorer.version!r}")
            try:
                points = points_from_features(leaf.scorer, leaf.features)
            except InvalidFeaturesError as exc:
                raise AuditDiscrepancy(number, f"leaf {leaf.index}: {exc}") from None
            if points != leaf.points:
                raise AuditDiscrepancy(number, f"leaf {leaf.index}: its features give {points} points under "
                                       f"{leaf.scorer}; the leaf says {leaf.points}")
        report.points_recomputed += len(manifest.log.leaves)

    def _replay_journal(self, number: int, manifest: Manifest, event: EpochAnchored,
                        report: AuditReport) -> None:
        # Keyed by lower-cased account: an address is its 20 bytes, however a manifest cases it.
        before = {line.account.lower(): self.balances.get(line.account.lower(), 0) for line in manifest.journal}
        for line in manifest.journal:
            key = line.account.lower()
            self.balances[key] = self.balances.get(key, 0) + line.amount
        report.journal_entries += len(manifest.journal)
        # Each epoch's entries sum to zero, so the whole journal does, from zero or from a snapshot.
        if sum(line.amount for line in manifest.journal) != 0:
            raise AuditDiscrepancy(number, "the journal does not sum to zero")
        self.feed.epoch(number, manifest)
        report.engagements_checked = self.feed.checked
        values = listed(self.balances)
        published = manifest.balances
        if published.values is not None:  # versions 1-2: every balance
            self._compare(number, values, published.values, "the manifest")
        else:
            self._compare(number, changed_balances(before, self.balances), published.changed or (),
                          "the manifest's changed balances")
            if published.accounts != len(values):
                raise AuditDiscrepancy(number, f"{len(values)} accounts hold a balance; the manifest says "
                                       f"{published.accounts}")
            if published.snapshot is not None:
                self._compare(number, values, self._snapshot(number, published.snapshot, event).values,
                              f"snapshot {published.snapshot}")
        root = balances_root(values)
        if root != event.balances_root:
            raise AuditDiscrepancy(number, f"the balances give root {hex0x(root)}; the chain says "
                                   f"{hex0x(event.balances_root)}")
        total = sum(b for _, b in values)
        if total != event.total_points:
            raise AuditDiscrepancy(number, f"balances total {total}; the chain says {event.total_points}")

    @staticmethod
    def _compare(number: int, replayed: list[tuple[str, int]], published: Sequence[tuple[str, int]],
                 where: str) -> None:
        """The balances ``where`` publishes are exactly those the journal gives."""
        listing = {account.lower(): balance for account, balance in published}
        for account, balance in replayed:
            says = listing.get(account.lower())
            if says != balance:
                raise AuditDiscrepancy(number, f"{checksum(account)}: the journal gives {balance}, {where} "
                                       + ("does not list it" if says is None else f"says {says}"))
        if len(listing) != len(published) or len(listing) != len(replayed):
            raise AuditDiscrepancy(number, f"{where} lists balances the journal does not give")

    def _snapshot(self, number: int, cid: str, event: EpochAnchored | None) -> BalancesSnapshot:
        try:
            snapshot = BalancesSnapshot.from_json(json.loads(self.fetcher.get(cid)))
        except StoreUnavailableError:
            raise
        except (ContentError, httpx.HTTPError, ValueError) as exc:
            raise AuditDiscrepancy(number, f"snapshot {cid} cannot be fetched intact: {exc}") from None
        except InvalidSnapshotError as exc:
            raise AuditDiscrepancy(number, f"snapshot {cid} is malformed: {exc}", field=exc.field) from None
        if event is not None and (snapshot.epoch, snapshot.root, snapshot.total_points) != (
                number, event.balances_root, event.total_points):
            raise AuditDiscrepancy(number, f"snapshot {cid} names another epoch, root or total")
        return snapshot


def audit(rpc_url: str, ipfs_url: str, contract: str, *, from_block: int = 0, from_epoch: int = 1,
          progress: bool = False, api_url: str | None = None) -> AuditReport:
    """Audit ``contract`` on the chain at ``rpc_url`` with manifests from ``ipfs_url``; with
    ``api_url``, also hold that Tally API's final epochs against the chain."""
    def show(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    auditor = Auditor(connect(rpc_url, timeout=60), contract, ManifestFetcher(ipfs_url),
                      progress=show if progress else (lambda _line: None),
                      api=None if api_url is None else (lambda: fetch_api_view(api_url)))
    return auditor.run(from_block, from_epoch)
