"""The JS client signs the feed's Publish and Engage and a program's Enrol as the server reads
them: against a live `tally serve`, a contribution is published by its contributor and liked by
another key, the creator's own like is refused, and the Enrol signature recovers, by the
server's own digest, to its account."""

from __future__ import annotations

import secrets
from typing import Any

from eth_account import Account

from ledger.eip712 import Domain, recover_address
from tests.clients.conftest import LiveServer, run_node
from tests.support.conversations import passage


def test_the_js_client_publishes_likes_and_enrols(live_server: LiveServer) -> None:
    contributor, liker = Account.create(), Account.create()
    tag = secrets.token_hex(4)
    conversation = {"messages": [{"role": "user", "content": f"What makes a good boat? ({tag})"},
                                 {"role": "assistant", "content": f"A dry hull and a steady keel. {passage(tag)}"}]}
    seen: dict[str, Any] = run_node("statements_probe.mjs", {
        "api": live_server.url, "contributorKey": contributor.key.hex(), "likerKey": liker.key.hex(),
        "conversation": conversation, "nonce": 1})
    contribution = seen["contribution"]
    assert seen["published"]["visible"] is True and seen["published"]["id"] == contribution["id"]
    liked = seen["liked"]
    assert (liked["contribution"], liked["actor"], liked["kind"]) == (contribution["id"], liker.address, 1)
    assert liked["points"] == live_server.config["feed"]["pointsPerLike"]
    assert seen["feedItem"]["likes"] == 1 and seen["feedItem"]["contributor"] == contributor.address
    assert seen["refused"] == {"status": 403, "code": "self-engagement"}
    body = seen["enrolBody"]
    domain = Domain(live_server.config["chainId"], live_server.config["contract"])
    digest = domain.enrol_digest(body["account"], "weekly-minimum", int(body["nonce"]), body["issuedAt"])
    assert recover_address(digest, bytes.fromhex(body["signature"][2:])) == bytes.fromhex(liker.address[2:])
    assert (body["account"], body["nonce"], body["issuedAt"]) == (liker.address, "7", 1_790_000_000)
    # A wallet that reports the contributor but signs with another key is named by each signing
    # function, before a body exists to send.
    assert seen["lies"] == {name: f"the wallet signed the {name} as {liker.address}, not as {contributor.address}"
                            for name in ("Contribution", "ContributionBatch", "Publish", "Engage", "Enrol")}
