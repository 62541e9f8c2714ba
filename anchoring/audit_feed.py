"""The audit of the public feed's credits: every ``engagement`` journal entry held to the feed's
rules from the manifests alone (docs/formats.md §6 and §11).

Each engagement credit is a transfer from ``pool:rewards`` whose ref names its kind, the
contribution's contentHash and the actor (``like:<contentHash>:<actor>``). From version 5 on, the
manifest's ``feed`` publishes the points per like and per remix, the engagements the epoch credits
with each actor's EIP-712 ``Engage`` statement, and the leaf of every contribution they name
with its RFC 9162 inclusion proof in the epoch's log (whose root the audit has recomputed and
held to the chain's). So each credit is checked, without any earlier manifest, to go to the
contributor of the leaf it names, to be the published points for its kind, to come from an
engagement the actor signed that is not with the actor's own contribution and, for a remix, whose
new contribution is the actor's own; and, across the epochs audited, that an actor is credited
once per contribution and kind and that a contribution remixes one parent. Manifests before
version 5 publish only the journal: their credits are held to the rules the ref alone can show.
A failure is an ``EngagementDiscrepancy`` naming the rule and the entry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from anchoring.audit_failures import EngagementDiscrepancy
from ledger import eip712
from ledger.eip712 import SignatureError
from ledger.encoding import hex0x
from ledger.feed import LIKE, REMIX, parse_engagement_ref
from ledger.formats import FEED_SINCE, EngagementLine, JournalLine, LogLeaf, Manifest, ManifestFeed
from ledger.journal import ENGAGEMENT, REWARDS_POOL
from ledger.merkle import log as rfc9162
from ledger.merkle.errors import InclusionProofError

KINDS = {"like": LIKE, "remix": REMIX}


@dataclass
class FeedReplay:
    """The engagement credits of the epochs audited so far: each ref (an actor's kind of
    engagement with one contribution) is credited once, each remix names one parent."""

    credited: set[str] = field(default_factory=set)
    remixes: set[bytes] = field(default_factory=set)
    checked: int = 0
    """Engagement credits checked and found as the rules say."""

    def epoch(self, number: int, manifest: Manifest) -> None:
        lines = [line for line in manifest.journal if line.kind == ENGAGEMENT]
        if manifest.v < FEED_SINCE or manifest.feed is None:
            for line in lines:
                self._by_ref(number, line)
            return
        feed = manifest.feed
        leaves = self._proven_leaves(number, manifest, feed)
        listed = {line.ref: (i, line) for i, line in enumerate(feed.engagements)}
        credited_here: set[str] = set()
        for line in lines:
            kind, content_hash, _actor = self._by_ref(number, line)
            if line.amount < 0:
                continue
            entry = f"journal entry {line.id}"
            found = listed.get(line.ref)
            if found is None:
                raise EngagementDiscrepancy(number, "unlisted", entry,
                                            f"credits engagement {line.ref}, which feed.engagements does not list")
            leaf = self._leaf(number, leaves, content_hash, entry)
            if line.account.lower() != leaf.contributor.lower():
                raise EngagementDiscrepancy(number, "creator", entry,
                                            f"credits {line.account}; the contribution {hex0x(content_hash)} is "
                                            f"{leaf.contributor}'s (log leaf {leaf.index})")
            if line.amount != feed.points(kind):
                raise EngagementDiscrepancy(number, "amount", entry,
                                            f"credits {line.amount} points for a {kind}; the manifest's feed says "
                                            f"{feed.points(kind)}")
            self._engagement(number, found[0], found[1], leaf, leaves, manifest)
            credited_here.add(line.ref)
            self.checked += 1
        for i, engagement in enumerate(feed.engagements):
            if engagement.ref not in credited_here:
                raise EngagementDiscrepancy(number, "uncredited", f"feed.engagements[{i}]",
                                            f"engagement {engagement.ref} has no credit in the journal")

    def _by_ref(self, number: int, line: JournalLine) -> tuple[str, bytes, str]:
        """The rules a credit's ref alone shows (every version): its form, its payer, that the
        actor is not credited, and that it is credited once."""
        entry = f"journal entry {line.id}"
        parsed = parse_engagement_ref(line.ref)
        if parsed is None:
            raise EngagementDiscrepancy(number, "ref", entry,
                                        f"{line.ref!r} is not an engagement ref (like|remix:contentHash:actor)")
        if line.amount < 0:
            if line.account != REWARDS_POOL:
                raise EngagementDiscrepancy(number, "payer", entry,
                                            f"an engagement is paid by {REWARDS_POOL}, not {line.account}")
            return parsed
        if line.account.lower() == parsed[2].lower():
            raise EngagementDiscrepancy(number, "self", entry,
                                        f"{line.account} is credited for engaging with its own contribution")
        if line.ref in self.credited:
            raise EngagementDiscrepancy(number, "once", entry, f"engagement {line.ref} is credited twice")
        self.credited.add(line.ref)
        return parsed

    @staticmethod
    def _proven_leaves(number: int, manifest: Manifest, feed: ManifestFeed) -> dict[bytes, LogLeaf]:
        """The leaves ``feed.contributions`` proves in the epoch's log, by contentHash."""
        leaves = {}
        for i, proven in enumerate(feed.contributions):
            leaf = proven.leaf
            try:
                rfc9162.verify_inclusion(leaf.leaf_hash(), leaf.index, manifest.log.size, proven.proof,
                                         manifest.log.root)
            except InclusionProofError as exc:
                raise EngagementDiscrepancy(number, "unproven", f"feed.contributions[{i}]",
                                            f"leaf {leaf.index} is not in the epoch's log: {exc}") from None
            leaves[leaf.content_hash] = leaf
        return leaves

    @staticmethod
    def _leaf(number: int, leaves: Mapping[bytes, LogLeaf], content_hash: bytes, entry: str) -> LogLeaf:
        leaf = leaves.get(content_hash)
        if leaf is None:
            raise EngagementDiscrepancy(number, "unproven", entry,
                                        f"names contribution {hex0x(content_hash)}, whose leaf feed.contributions "
                                        "does not prove")
        return leaf

    def _engagement(self, number: int, i: int, engagement: EngagementLine, leaf: LogLeaf,
                    leaves: Mapping[bytes, LogLeaf], manifest: Manifest) -> None:
        """The rules of the engagement a credit names: not the creator's own, a remix into the
        actor's own new contribution (once), and the actor's signature."""
        entry = f"feed.engagements[{i}]"
        if engagement.actor.lower() == leaf.contributor.lower():
            raise EngagementDiscrepancy(number, "self", entry,
                                        f"{engagement.actor} engages with its own contribution (log leaf {leaf.index})")
        if (engagement.kind == "remix") != (engagement.remix is not None):
            raise EngagementDiscrepancy(number, "remix", entry, "a remix, and only a remix, names its new contribution")
        if engagement.remix is not None:
            child = self._leaf(number, leaves, engagement.remix, entry)
            if child.contributor.lower() != engagement.actor.lower() or child.index == leaf.index:
                raise EngagementDiscrepancy(number, "remix", entry,
                                            f"the remix {hex0x(engagement.remix)} is {child.contributor}'s (log leaf "
                                            f"{child.index}), not a new contribution of the actor {engagement.actor}")
            if engagement.remix in self.remixes:
                raise EngagementDiscrepancy(number, "remix", entry,
                                            f"the remix {hex0x(engagement.remix)} already credited a parent")
            self.remixes.add(engagement.remix)
        domain = eip712.Domain(manifest.chain_id, manifest.contract)
        digest = domain.engage_digest(engagement.actor, engagement.content_hash, KINDS[engagement.kind],
                                      engagement.nonce, engagement.issued_at)
        try:
            signer = eip712.recover_address(digest, engagement.signature)
        except (SignatureError, ValueError) as exc:
            raise EngagementDiscrepancy(number, "signature", entry,
                                        f"the Engage signature is malformed: {exc}") from None
        if signer != bytes.fromhex(engagement.actor[2:]):
            raise EngagementDiscrepancy(number, "signature", entry,
                                        f"the Engage signature is not {engagement.actor}'s")

