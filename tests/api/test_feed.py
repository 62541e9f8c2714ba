"""The opt-in public feed over HTTP (ledger.feed, docs/formats.md §11): Publish and Engage signed
with eth-account's EIP-712 encoder (not ours), the feed's keyset pages, engagement credits sealed
into the manifest, withdrawal and erasure (SQLite and PostgreSQL, privacy mode)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_keys import keys

from api.services import EngagementPolicy
from ledger import journal
from ledger.content import LocalBlockStore
from ledger.epochs import Anchor, seal_epoch
from ledger.feed import decode_cursor, encode_cursor, parse_engagement_ref
from tests.api.conftest import Api, build_api, contributor_key, sample_conversation

ADMIN = {"Authorization": "Bearer admin-key"}


def sign_typed(config: dict[str, Any], name: str, message: dict[str, Any], key: keys.PrivateKey) -> str:
    """Sign ``message`` as a wallet's eth_signTypedData_v4 would, from what /v1/config publishes."""
    typed = config["eip712"][name]
    types = {k: v for k, v in typed["types"].items() if k != "EIP712Domain"}
    signable = encode_typed_data(config["eip712"]["domain"], types, message)
    return "0x" + bytes(Account.sign_message(signable, key.to_bytes()).signature).hex()


def publish_body(api: Api, contribution: dict[str, Any], key: keys.PrivateKey, *, visible: bool = True,
                 nonce: int = 1, issued_at: int | None = None) -> dict[str, Any]:
    issued = int(api.clock[0]) if issued_at is None else issued_at
    message = {"contributor": contribution["contributor"], "contentHash": contribution["contentHash"],
               "visible": visible, "nonce": nonce, "issuedAt": issued}
    return {"visible": visible, "nonce": str(nonce), "issuedAt": issued,
            "signature": sign_typed(api.config, "publish", message, key)}


def engage_body(api: Api, contribution: dict[str, Any], key: keys.PrivateKey, *, kind: int = 1,
                nonce: int = 1, **extra: Any) -> dict[str, Any]:
    actor = key.public_key.to_checksum_address()
    message = {"actor": actor, "contentHash": contribution["contentHash"], "kind": kind, "nonce": nonce,
               "issuedAt": int(api.clock[0])}
    return {"actor": actor, "kind": kind, "nonce": str(nonce), "issuedAt": int(api.clock[0]),
            "signature": sign_typed(api.config, "engage", message, key), **extra}


@pytest.fixture
def private(db_url: str, tmp_path: Path) -> Iterator[Api]:
    built = build_api(db_url, tmp_path, master_key=os.urandom(32))
    with built.client:
        yield built


def submit(api: Api, tag: str, n: int, nonce: int = 1) -> dict[str, Any]:
    answer = api.client.post("/v1/contributions", json=api.signed(sample_conversation(tag), contributor_key(n),
                                                                  nonce=nonce))
    assert answer.status_code == 201, answer.json()
    return dict(answer.json())


def test_config_publishes_the_two_types_and_the_engagement_terms(api: Api) -> None:
    config = api.config
    assert config["eip712"]["publish"]["primaryType"] == "Publish"
    assert [f["name"] for f in config["eip712"]["publish"]["types"]["Publish"]] == [
        "contributor", "contentHash", "visible", "nonce", "issuedAt"]
    assert [f["type"] for f in config["eip712"]["engage"]["types"]["Engage"]] == [
        "address", "bytes32", "uint8", "uint256", "uint64"]
    assert config["feed"] == {"pointsPerLike": "1", "pointsPerRemix": "5", "engagementsPerDay": 100}


def test_nothing_is_public_until_its_contributor_publishes_it(private: Api) -> None:
    api = private
    mine = submit(api, "a", 0)
    assert api.client.get("/v1/feed").json() == {"items": [], "next": None}
    # Someone else's signature publishes nothing, whoever sends it.
    forged = api.client.post(f"/v1/contributions/{mine['id']}:publish",
                             json=publish_body(api, mine, contributor_key(5)))
    assert forged.status_code == 403 and forged.json()["type"] == "/problems/signer-mismatch"
    assert api.client.get(f"/v1/feed/{mine['id']}").status_code == 404

    body = publish_body(api, mine, contributor_key(0))
    answer = api.client.post(f"/v1/contributions/{mine['contentHash']}:publish", json=body)
    assert answer.status_code == 200, answer.json()
    assert answer.json() == {"id": mine["id"], "visible": True, "publishedAt": int(api.clock[0])}
    replay = api.client.post(f"/v1/contributions/{mine['id']}:publish", json=body)
    assert replay.status_code == 409 and replay.json()["type"] == "/problems/nonce-reused"
    api.clock[0] += 5
    again = api.client.post(f"/v1/contributions/{mine['id']}:publish", json=publish_body(api, mine, contributor_key(0),
                                                                                        nonce=7))
    assert again.json() == answer.json(), "publishing what is published keeps its place in the feed"

    (item,) = api.client.get("/v1/feed").json()["items"]
    assert item | {"publishedAt": 0} == {
        "id": mine["id"], "contentHash": mine["contentHash"], "contributor": mine["contributor"],
        "points": mine["points"], "images": [], "likes": 0, "remixes": 0, "publishedAt": 0,
        "preview": sample_conversation("a")["messages"][0]["content"], "proof": f"/v1/contributions/{mine['id']}/proof"}
    # Stored encrypted, served in the clear because it is published.
    card = api.client.get(f"/v1/feed/{mine['id']}").json()
    assert card["conversation"]["messages"][1]["content"] == sample_conversation("a")["messages"][1]["content"]

    withdrawn = api.client.post(f"/v1/contributions/{mine['id']}:publish",
                                json=publish_body(api, mine, contributor_key(0), visible=False, nonce=2))
    assert withdrawn.json() == {"id": mine["id"], "visible": False, "publishedAt": None}
    assert api.client.get("/v1/feed").json()["items"] == []
    assert api.client.get(f"/v1/feed/{mine['id']}").status_code == 404


@pytest.mark.parametrize(("change", "status", "problem"), [
    ({"issuedAt": 1}, 422, "stale-issued-at"),
    ({"visible": "yes"}, 422, "invalid-request"),
    ({"signature": "0x12"}, 422, "invalid-signature"),
    ({"extra": 1}, 422, "invalid-request"),
    ({"nonce": -1}, 422, "invalid-request"),
])
def test_bad_publish_statements_change_nothing(api: Api, change: dict[str, Any], status: int, problem: str) -> None:
    mine = submit(api, "b", 1)
    body = publish_body(api, mine, contributor_key(1)) | change
    before = api.counts()
    answer = api.client.post(f"/v1/contributions/{mine['id']}:publish", json=body)
    assert answer.status_code == status and answer.json()["type"] == f"/problems/{problem}", answer.json()
    assert api.counts() == before and api.client.get("/v1/feed").json()["items"] == []


def test_the_feed_pages_newest_first_and_stays_put_when_more_are_published(api: Api) -> None:
    published = []
    for i in range(5):
        api.clock[0] += 1
        contribution = submit(api, f"page{i}", i)
        api.client.post(f"/v1/contributions/{contribution['id']}:publish",
                        json=publish_body(api, contribution, contributor_key(i)))
        published.append(contribution["id"])
    first = api.client.get("/v1/feed?limit=2").json()
    assert [item["id"] for item in first["items"]] == published[:-3:-1]
    api.clock[0] += 1
    newer = submit(api, "newer", 9)
    api.client.post(f"/v1/contributions/{newer['id']}:publish", json=publish_body(api, newer, contributor_key(9)))
    second = api.client.get(f"/v1/feed?limit=2&cursor={first['next']}").json()
    third = api.client.get(f"/v1/feed?limit=2&cursor={second['next']}").json()
    assert [item["id"] for item in second["items"] + third["items"]] == published[2::-1]
    assert third["next"] is None
    assert api.client.get("/v1/feed?limit=1").json()["items"][0]["id"] == newer["id"]
    for bad in ("x", encode_cursor(1, 0), "%00", "MS4y" * 10):
        answer = api.client.get("/v1/feed", params={"cursor": bad})
        assert answer.status_code == 422 and answer.json()["type"] == "/problems/invalid-request", bad
    assert decode_cursor(encode_cursor(17, 4)) == (17, 4)
    assert api.client.get("/v1/feed?limit=101").status_code == 422


def test_likes_credit_the_creator_once_per_actor_sealed_and_audited_by_the_manifest(private: Api) -> None:
    api = private
    client = api.client_with(admin_api_key="admin-key", engagement=EngagementPolicy(3, 7, 100))
    mine = submit(api, "liked", 0)
    assert client.post(f"/v1/contributions/{mine['id']}:engage",
                       json=engage_body(api, mine, contributor_key(1))).json()["type"] == "/problems/not-found"
    client.post(f"/v1/contributions/{mine['id']}:publish", json=publish_body(api, mine, contributor_key(0)))
    store, anchor = LocalBlockStore(api.blocks, fsync=False), Anchor(31337, api.services.chain.contract)
    with api.intake.sessions() as session, session.begin():
        seal_epoch(session, store, anchor)
    before = int(client.get(f"/v1/accounts/{mine['contributor']}").json()["balance"])

    for n in (1, 2):
        answer = client.post(f"/v1/contributions/{mine['id']}:engage", json=engage_body(api, mine, contributor_key(n)))
        assert answer.status_code == 201, answer.json()
        assert answer.json()["points"] == "3"
    again = client.post(f"/v1/contributions/{mine['id']}:engage",
                        json=engage_body(api, mine, contributor_key(1), nonce=2))
    assert again.status_code == 409 and again.json()["type"] == "/problems/already-engaged"
    counts = api.counts()
    own = client.post(f"/v1/contributions/{mine['id']}:engage", json=engage_body(api, mine, contributor_key(0)))
    assert own.status_code == 403 and own.json()["type"] == "/problems/self-engagement"
    assert api.counts() == counts
    assert client.get("/v1/feed").json()["items"][0]["likes"] == 2

    with api.intake.sessions() as session, session.begin():
        epoch = seal_epoch(session, store, anchor)
    assert epoch is not None and epoch.contributions == 0
    manifest = client.get(f"/v1/epochs/{epoch.number}/manifest").json()
    lines = [(e["account"], e["amount"], e["kind"]) for e in manifest["journal"]]
    assert lines == [(journal.REWARDS_POOL, "-3", "engagement"), (mine["contributor"], "3", "engagement")] * 2
    refs = [parse_engagement_ref(e["ref"]) for e in manifest["journal"]]
    actors = {contributor_key(n).public_key.to_checksum_address() for n in (1, 2)}
    assert {r[2] for r in refs if r} == actors and all(r and r[:2] == ("like", bytes.fromhex(mine["contentHash"][2:]))
                                                       for r in refs)
    assert int(client.get(f"/v1/accounts/{mine['contributor']}").json()["balance"]) == before + 6
    with api.intake.sessions() as session:
        assert journal.journal_sum(session) == 0

    erased = client.post(f"/v1/contributions/{mine['id']}:erase", headers=ADMIN)
    assert erased.status_code == 200
    assert client.get("/v1/feed").json()["items"] == []
    assert client.get(f"/v1/feed/{mine['id']}").status_code == 404
    republish = client.post(f"/v1/contributions/{mine['id']}:publish",
                            json=publish_body(api, mine, contributor_key(0), nonce=3))
    assert republish.status_code == 410 and republish.json()["type"] == "/problems/content-erased"


def test_a_remix_names_the_actors_own_new_contribution_and_counts_once(api: Api) -> None:
    parent, child, other = submit(api, "parent", 0), submit(api, "child", 1), submit(api, "other", 2)
    api.client.post(f"/v1/contributions/{parent['id']}:publish", json=publish_body(api, parent, contributor_key(0)))
    not_theirs = engage_body(api, parent, contributor_key(1), kind=2, remix=other["contentHash"])
    answer = api.client.post(f"/v1/contributions/{parent['id']}:engage", json=not_theirs)
    assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == "remix"
    missing = engage_body(api, parent, contributor_key(1), kind=2)
    assert api.client.post(f"/v1/contributions/{parent['id']}:engage", json=missing).status_code == 422
    remix = engage_body(api, parent, contributor_key(1), kind=2, nonce=3, remix=child["contentHash"])
    answer = api.client.post(f"/v1/contributions/{parent['id']}:engage", json=remix)
    assert answer.status_code == 201 and answer.json()["points"] == "5", answer.json()
    assert api.client.get("/v1/feed").json()["items"][0]["remixes"] == 1
    twice = engage_body(api, parent, contributor_key(1), kind=2, nonce=4, remix=child["contentHash"])
    assert api.client.post(f"/v1/contributions/{parent['id']}:engage", json=twice).status_code == 409


def test_an_actor_past_the_daily_limit_is_refused_with_429(api: Api) -> None:
    client = api.client_with(engagement=EngagementPolicy(1, 5, 2))
    liker = contributor_key(7)
    for i in range(3):
        contribution = submit(api, f"limit{i}", i)
        client.post(f"/v1/contributions/{contribution['id']}:publish",
                    json=publish_body(api, contribution, contributor_key(i)))
        answer = client.post(f"/v1/contributions/{contribution['id']}:engage",
                             json=engage_body(api, contribution, liker, nonce=i + 1))
        assert answer.status_code == (201 if i < 2 else 429), answer.json()
    assert int(answer.headers["Retry-After"]) > 0


def test_an_account_s_contributions_say_which_are_in_the_feed(api: Api) -> None:
    """What the feed page lists a contributor's own contributions to publish from."""
    first, second = submit(api, "listed one", 0), submit(api, "listed two", 0, nonce=2)

    def published() -> dict[int, bool]:
        items = api.client.get(f"/v1/accounts/{first['contributor']}/contributions").json()["items"]
        return {item["id"]: item["published"] for item in items}

    assert published() == {first["id"]: False, second["id"]: False}
    api.client.post(f"/v1/contributions/{second['id']}:publish", json=publish_body(api, second, contributor_key(0)))
    assert published() == {first["id"]: False, second["id"]: True}
    api.client.post(f"/v1/contributions/{second['id']}:publish",
                    json=publish_body(api, second, contributor_key(0), visible=False, nonce=2))
    assert published() == {first["id"]: False, second["id"]: False}
