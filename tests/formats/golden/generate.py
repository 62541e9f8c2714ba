"""Write the golden manifests and proof bundles from a real sealed ledger (SQLite, no chain).

Two epochs are sealed by ``seal_epoch`` from contributions recorded by ``ledger.intake.record``,
one grant, a program's top-ups, and a like and a remix of a published contribution (``ledger.feed``,
signed with the contributors' keys); the epochs are then marked final with a made-up anchoring transaction (no chain
runs here: the bundles' headers are the ledger's, which is all a format test needs). The proof
bundles are built by ``ledger.proofs``. Everything is deterministic: the same code writes the same
files, so a diff after a change to the sealer or the bundle builder is a change of format.

    .venv/bin/python tests/formats/golden/generate.py
"""

from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from eth_account import Account

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent.parent))

from api.services import ChainInfo  # noqa: E402
from ledger import eip712, feed  # noqa: E402
from ledger.adjustments import grant  # noqa: E402
from ledger.consent import ConsentPolicy, Terms  # noqa: E402
from ledger.content import LocalBlockStore  # noqa: E402
from ledger.conversation import Conversation, normalise  # noqa: E402
from ledger.db import make_engine, make_sessionmaker  # noqa: E402
from ledger.epochs import Anchor, seal_epoch  # noqa: E402
from ledger.intake import Consent, Prepared, Submission, record  # noqa: E402
from ledger.lifecycle import EpochState  # noqa: E402
from ledger.migrate import upgrade  # noqa: E402
from ledger.models import Contribution, Epoch  # noqa: E402
from ledger.program_rules import Definition  # noqa: E402
from ledger.programs import change_membership, define  # noqa: E402
from ledger.proofs import BalanceTrees, balance_bundle, contribution_bundle  # noqa: E402
from tally.wiring import default_terms  # noqa: E402
from tests.support.conversations import passage  # noqa: E402

ANCHOR = Anchor(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3")
CHAIN = ChainInfo(ANCHOR.chain_id, ANCHOR.contract, "http://127.0.0.1:8545", "https://explorer.invalid")
KEYS = [(n + 1).to_bytes(32, "big") for n in range(3)]
CONTRIBUTORS = [str(Account.from_key(key).address) for key in KEYS]
NOW = 1_790_000_000

GOLDEN_FILES = ("manifest-first.json", "manifest-with-previous.json", "balances-snapshot.json",
                "contribution-bundle.json", "balance-bundle.json")


def conversation(n: int) -> Conversation:
    return normalise({"messages": [
        {"role": "user", "content": f"Question {n}: why is every epoch's log a prefix of the next one's? "
                                    "Explain what an auditor can recompute from the manifests alone."},
        {"role": "assistant", "content": f"Answer {n}: the log only grows, leaves get gap-free indexes in "
                                         "acceptance order, and each manifest names its predecessor's "
                                         "roots, so replaying the leaves gives every anchored root. "
                                         f"Worked example: {passage(str(n))}."}]})


def contribute(sessions: Any, store: LocalBlockStore, numbers: range) -> None:
    with sessions() as session, session.begin():
        record(session, [Submission(Prepared.of(conversation(n)),
                                    Consent(CONTRIBUTORS[n % len(CONTRIBUTORS)], n, NOW + n, bytes(32), bytes(65)))
                         for n in numbers],
               store=store, sign_receipt=lambda _: bytes(65), now=NOW + numbers.start)


def engage(session: Any, now: int) -> None:
    """Contribution 0 published by its contributor, liked by contributor 1 and remixed by
    contributor 2 into its own contribution 5."""
    domain = eip712.Domain(ANCHOR.chain_id, ANCHOR.contract)
    policy = ConsentPolicy(domain, Terms(default_terms()), 600)

    def signed(digest: bytes, n: int) -> str:
        return "0x" + eip712.sign(digest, eip712.PrivateKey(KEYS[n])).hex()

    liked = session.query(Contribution).filter(Contribution.log_index == 0).one()
    remixed = Prepared.of(conversation(5)).content_hash
    remix = session.query(Contribution).filter(Contribution.content_hash == remixed).one()
    body = {"visible": True, "nonce": "1", "issuedAt": now,
            "signature": signed(domain.publish_digest(liked.contributor, liked.content_hash, True, 1, now), 0)}
    feed.publish(session, liked, feed.check_publish(policy, liked, body, now=now), now=now,
                 canonical=Prepared.of(conversation(0)).canonical)
    for n, kind, extra in ((1, feed.LIKE, {}), (2, feed.REMIX, {"remix": "0x" + remix.content_hash.hex()})):
        actor = CONTRIBUTORS[n]
        digest = domain.engage_digest(actor, liked.content_hash, kind, 1, now)
        body = {"actor": actor, "kind": kind, "nonce": "1", "issuedAt": now, "signature": signed(digest, n), **extra}
        feed.engage(session, policy, feed.EngagementPolicy(), liked, body, now=now)


def mark_final(session: Any, epoch: Epoch) -> None:
    """What the anchorer records once the transaction is final (here without a chain)."""
    epoch.state = EpochState.FINAL
    epoch.tx_hash = "0x" + hashlib.sha256(b"anchor epoch %d" % epoch.number).hexdigest()
    epoch.block_number = 100 + epoch.number
    epoch.block_hash = "0x" + hashlib.sha256(b"block %d" % epoch.block_number).hexdigest()


def sealed_ledger(workdir: Path) -> tuple[Any, LocalBlockStore]:
    """The golden ledger in ``workdir``: two final epochs of eight contributions, a grant and a
    program's top-ups, the second with a balances snapshot."""
    url = f"sqlite:///{workdir / 'ledger.db'}"
    upgrade(url)
    sessions = make_sessionmaker(make_engine(url))
    store = LocalBlockStore(workdir / "blocks", fsync=False)

    contribute(sessions, store, range(0, 5))
    with sessions() as session, session.begin():
        # A program of 10-second periods: each seal closes one, topping its two members up to 40.
        define(session, Definition("golden", "10", 40, NOW), now=NOW + 1)
        for member in CONTRIBUTORS[:2]:
            change_membership(session, "golden", member, "enrol", now=NOW + 1)
        assert seal_epoch(session, store, ANCHOR, now=NOW + 10) is not None
    contribute(sessions, store, range(5, 8))
    with sessions() as session, session.begin():
        grant(session, account=CONTRIBUTORS[2], points=25, ref="golden:grant", now=NOW + 15)
        engage(session, NOW + 16)
        # Snapshots every second epoch: the second manifest names one.
        assert seal_epoch(session, store, ANCHOR, now=NOW + 20, snapshot_every=2) is not None
    with sessions() as session, session.begin():
        for epoch in session.query(Epoch).order_by(Epoch.number):
            mark_final(session, epoch)
    return sessions, store


def build(workdir: Path) -> dict[str, Any]:
    sessions, store = sealed_ledger(workdir)
    with sessions() as session:
        first, second = session.query(Epoch).order_by(Epoch.number).all()
        # A contribution of epoch 1 proved against epoch 2: a proof of several hashes.
        row = session.query(Contribution).filter(Contribution.log_index == 1).one()
        contribution = contribution_bundle(session, CHAIN, row, None)
        balance = balance_bundle(session, CHAIN, BalanceTrees(store), CONTRIBUTORS[2], None)
        manifest = json.loads(store.get(second.manifest_cid))
        return {
            "manifest-first.json": json.loads(store.get(first.manifest_cid)),
            "manifest-with-previous.json": manifest,
            "balances-snapshot.json": json.loads(store.get(manifest["balances"]["snapshot"])),
            "contribution-bundle.json": contribution,
            "balance-bundle.json": balance,
        }


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        documents = build(Path(tmp))
    for name in GOLDEN_FILES:
        (HERE / name).write_text(json.dumps(documents[name], indent=2) + "\n")
        print(f"wrote {HERE / name}")


if __name__ == "__main__":
    main()
