"""Sealing and auditing the feed's credits: an epoch of N likes against an epoch of N grants.

A ledger of --contributions synthetic contributions (``bench/seal.py``'s rows) is sealed, every
one published; then N likes are made through ``ledger.feed.engage`` (real EIP-712 ``Engage``
statements of --actors actors, each credit a journal transfer) and sealed: the seal reads every
engagement's statement and proves the leaf of every contribution liked, for the manifest's
``feed``. The baseline, in the same run: N grants (``ledger.adjustments.grant``), the same number
of journal transfers, sealed. The audit's check of the likes' epoch (``anchoring.audit_feed``:
inclusion proofs, signatures, rules) is timed against parsing that manifest. Prints, never asserts.

    .venv/bin/python bench/seal_feed.py [--likes 2000] [--contributions 10000] [--backend postgresql|sqlite]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from seal import fill  # bench/seal.py: the same synthetic rows

from anchoring.audit_feed import FeedReplay
from ledger import eip712
from ledger.adjustments import grant
from ledger.consent import ConsentPolicy, Terms
from ledger.content import LocalBlockStore
from ledger.db import make_engine, make_sessionmaker
from ledger.epochs import Anchor, seal_epoch
from ledger.feed import LIKE, EngagementPolicy, engage
from ledger.formats import Manifest
from ledger.migrate import upgrade
from ledger.models import Contribution, Publication
from tally.wiring import default_terms
from tests.support.postgres import temporary_database

ANCHOR = Anchor(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3")
NOW = 1_800_000_000


def timed_seal(sessions: sa.orm.sessionmaker, store: LocalBlockStore) -> tuple[float, str]:  # type: ignore[type-arg]
    started = time.perf_counter()
    with sessions() as session, session.begin():
        epoch = seal_epoch(session, store, ANCHOR, now=NOW, engagement=EngagementPolicy())
        assert epoch is not None
        cid = epoch.manifest_cid
    return time.perf_counter() - started, cid


def run(url: str, tmp: Path, likes: int, contributions: int, actors: int, backend: str) -> None:
    upgrade(url)
    sessions = make_sessionmaker(make_engine(url))
    store = LocalBlockStore(tmp / "blocks", fsync=False)
    fill(sessions, 0, contributions)
    with sessions() as session, session.begin():
        session.execute(sa.insert(Publication.__table__), [
            {"contribution_id": i, "published_at": NOW, "images": [], "preview": ""}
            for i in range(1, contributions + 1)])
        assert seal_epoch(session, store, ANCHOR, now=NOW) is not None
    domain = eip712.Domain(ANCHOR.chain_id, ANCHOR.contract)
    policy = ConsentPolicy(domain, Terms(default_terms()), 600)
    keys = [eip712.PrivateKey((n + 1).to_bytes(32, "big")) for n in range(actors)]
    addresses = [key.public_key.to_checksum_address() for key in keys]
    started = time.perf_counter()
    with sessions() as session, session.begin():
        rows = session.scalars(sa.select(Contribution).order_by(Contribution.id).limit(-(-likes // actors))).all()
        made = 0
        for row in rows:
            for key, actor in zip(keys, addresses, strict=True):
                if made == likes:
                    break
                digest = domain.engage_digest(actor, row.content_hash, LIKE, made + 1, NOW)
                engage(session, policy, EngagementPolicy(engagements_per_day=0), row,
                       {"actor": actor, "kind": LIKE, "nonce": str(made + 1), "issuedAt": NOW,
                        "signature": "0x" + eip712.sign(digest, key).hex()}, now=NOW)
                made += 1
    print(f"{backend}: {contributions} contributions sealed and published, {likes} likes by {actors} actors made "
          f"through ledger.feed.engage in {time.perf_counter() - started:.1f} s (not timed)")
    liked, liked_cid = timed_seal(sessions, store)
    with sessions() as session, session.begin():
        for n in range(likes):
            grant(session, account=addresses[n % actors], points=1, ref=f"bench:{n}", now=NOW)
    granted, _ = timed_seal(sessions, store)
    raw = store.get(liked_cid)
    print(f"baseline: sealing {likes} grants: {granted:.2f} s")
    print(f"sealing {likes} likes (manifest {len(raw) / 1e6:.2f} MB, feed block included): {liked:.2f} s "
          f"= {liked / granted:.2f}x the baseline")
    started = time.perf_counter()
    manifest = Manifest.from_json(json.loads(raw))
    parsed = time.perf_counter() - started
    started = time.perf_counter()
    replay = FeedReplay()
    replay.epoch(2, manifest)
    checked = time.perf_counter() - started
    assert replay.checked == likes
    print(f"audit: parsing the manifest {parsed:.2f} s; holding its {likes} credits to the feed's rules "
          f"{checked:.2f} s = {checked / parsed:.1f}x parsing, {likes / checked:,.0f} credits/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--likes", type=int, default=2000)
    parser.add_argument("--contributions", type=int, default=10_000)
    parser.add_argument("--actors", type=int, default=4)
    parser.add_argument("--backend", choices=("postgresql", "sqlite"), default="postgresql")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(temporary_database("tally_bench")) if args.backend == "postgresql" \
            else f"sqlite:///{tmp / 'bench.db'}"
        run(url, tmp, args.likes, args.contributions, args.actors, args.backend)


if __name__ == "__main__":
    main()
