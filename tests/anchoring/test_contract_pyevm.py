"""The committed TallyAnchor artifact, deployed and driven from Python alone (web3 8 on py-evm).

Proves that running Tally needs no Node: the bytecode in ``anchoring/artifacts`` deploys with
:func:`anchoring.deploy.deploy_tally_anchor`, anchors epochs whose proofs come from
``ledger.merkle``, answers the three verify views given the headers, and refuses a log that
rewrote history and a previous header that is not the anchored one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_tester.exceptions import TransactionFailed  # type: ignore[import-untyped]
from eth_typing import HexStr
from web3 import EthereumTesterProvider, Web3
from web3.exceptions import ContractLogicError
from web3.types import TxParams, Wei

from anchoring.artifact import ipfs_multihash, load_artifact, metadata_trailer
from anchoring.contract import (
    ANCHOR_ROLE,
    GENESIS_HEADER,
    NOT_ANCHORED,
    ContractError,
    EpochHeader,
    TallyAnchor,
    decode_error,
    revert_data,
)
from anchoring.deploy import (
    Deployment,
    DeploymentError,
    deploy_tally_anchor,
    load_account,
)
from ledger.merkle import log as rfc9162
from ledger.merkle.memory import MemoryLog
from ledger.merkle.standard import StandardMerkleTree

CID = "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"
ADMIN_DELAY = 3600


@dataclass(frozen=True)
class Contribution:
    index: int
    contributor: str
    content_hash: bytes
    accepted_at: int
    points: int

    def leaf_hash(self) -> bytes:
        data = rfc9162.leaf_data(self.index, self.contributor, self.content_hash, self.accepted_at, self.points)
        return rfc9162.leaf_hash(data)


def contributions(count: int, people: Sequence[str]) -> list[Contribution]:
    return [
        Contribution(
            index=i,
            contributor=people[i % len(people)],
            content_hash=Web3.keccak(text=f"conversation {i}"),
            accepted_at=1_760_000_000 + 60 * i,
            points=10 + (i * 7919) % 1000,
        )
        for i in range(count)
    ]


@dataclass
class Chain:
    w3: Web3
    owner: LocalAccount
    stranger: LocalAccount
    deployment: Deployment
    anchor: TallyAnchor
    people: list[str] = field(default_factory=list)

    def send(self, fn: Any, sender: LocalAccount | None = None, gas: int | None = None) -> Any:
        """Sign ``fn``'s transaction locally and wait for its receipt."""
        sender = sender or self.owner
        params: dict[str, Any] = {
            "from": sender.address,
            "nonce": self.w3.eth.get_transaction_count(sender.address),
        }
        if gas is not None:
            params["gas"] = gas
        signed = sender.sign_transaction(fn.build_transaction(params))
        tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        return self.w3.eth.wait_for_transaction_receipt(tx_hash)


def fund(w3: Web3, address: str) -> None:
    w3.eth.send_transaction({"from": w3.eth.accounts[0], "to": address, "value": Wei(10**20)})


@pytest.fixture
def chain() -> Iterator[Chain]:
    w3 = Web3(EthereumTesterProvider())
    owner, stranger = Account.create(), Account.create()
    for account in (owner, stranger):
        fund(w3, account.address)
    deployment = deploy_tally_anchor(w3, owner, admin_delay=ADMIN_DELAY)
    people = [Account.create().address for _ in range(4)]
    yield Chain(w3, owner, stranger, deployment, TallyAnchor.from_deployment(w3, deployment), people)


def reverted(call: Callable[[], Any]) -> ContractError:
    """Run an eth_call that must revert; the decoded custom error."""
    with pytest.raises((TransactionFailed, ContractLogicError)) as failure:
        call()
    data = revert_data(failure.value)
    assert data is not None, f"no revert data in {failure.value!r}"
    decoded = decode_error(data)
    assert decoded is not None, f"unknown revert data {data.hex()}"
    return decoded


def balances(items: Sequence[Contribution]) -> tuple[StandardMerkleTree, int]:
    totals: dict[str, int] = {}
    for c in items:
        totals[c.contributor] = totals.get(c.contributor, 0) + c.points
    values = [[account, balance] for account, balance in totals.items()]
    return StandardMerkleTree.of(values, ["address", "uint256"]), sum(totals.values())


def anchor_epochs(chain: Chain, items: Sequence[Contribution],
                  sizes: Sequence[int]) -> tuple[MemoryLog, list[EpochHeader]]:
    log = MemoryLog([c.leaf_hash() for c in items])
    previous, headers = GENESIS_HEADER, []
    for number, size in enumerate(sizes, start=1):
        tree, total = balances(items[:size])
        header = EpochHeader(number, size, log.root(size), bytes.fromhex(tree.root[2:]), total)
        fn = chain.anchor.anchor_function(
            previous, header, f"{CID}-{number}", log.consistency_proof(previous.log_size, size)
        )
        receipt = chain.send(fn)
        assert receipt["status"] == 1
        previous = header
        headers.append(header)
    return log, headers


def test_deploys_the_committed_runtime_code_and_records_the_deployment(chain: Chain, tmp_path: Path) -> None:
    artifact = load_artifact()
    code = bytes(chain.w3.eth.get_code(Web3.to_checksum_address(chain.deployment.address)))
    assert code == artifact.deployed_bytecode
    assert chain.anchor.code_matches_artifact()
    assert metadata_trailer(code)["ipfs"] == ipfs_multihash(artifact.metadata.encode())
    assert chain.deployment.metadata_cid == artifact.metadata_cid
    assert chain.deployment.code_hash == "0x" + Web3.keccak(code).hex()

    d = chain.deployment
    assert d.chain_id == chain.w3.eth.chain_id
    receipt = chain.w3.eth.get_transaction_receipt(HexStr(d.transaction_hash))
    assert (receipt["contractAddress"], receipt["blockNumber"]) == (d.address, d.block_number)
    assert d.block_hash == "0x" + bytes(receipt["blockHash"]).hex()
    assert d.admin == d.anchorer == d.deployer == chain.owner.address
    assert d.admin_delay == ADMIN_DELAY

    path = d.save(tmp_path)
    assert path == tmp_path / "deployment.json"
    recorded = json.loads(path.read_text())
    assert recorded["chainId"] == d.chain_id and recorded["address"] == d.address
    assert Deployment.load(tmp_path) == d


def test_sets_the_roles_it_was_given(chain: Chain) -> None:
    admin, anchorer = Account.create().address, Account.create().address
    d = deploy_tally_anchor(chain.w3, chain.owner, admin=admin, anchorer=anchorer, admin_delay=7)
    anchor = TallyAnchor(chain.w3, d.address)
    assert anchor.contract.functions.defaultAdmin().call() == admin
    assert anchor.contract.functions.defaultAdminDelay().call() == 7
    assert anchor.has_anchor_role(anchorer)
    assert not anchor.has_anchor_role(admin)
    assert not anchor.has_anchor_role(chain.owner.address)


def test_anchors_and_answers_the_three_verify_views(chain: Chain) -> None:
    items = contributions(21, chain.people)
    sizes = [5, 13, 21]
    log, headers = anchor_epochs(chain, items, sizes)

    assert chain.anchor.latest_epoch() == 3
    events = chain.anchor.anchored_events()
    assert [(e.epoch, e.log_size, e.log_root, e.manifest_cid) for e in events] == [
        (n, size, log.root(size), f"{CID}-{n}") for n, size in enumerate(sizes, start=1)
    ]
    assert [e.header for e in events] == headers
    for n, (size, header) in enumerate(zip(sizes, headers, strict=True), start=1):
        tree, total = balances(items[:size])
        assert (header.log_size, header.log_root, header.total_points) == (size, log.root(size), total)
        assert chain.anchor.header_hash(n) == header.hash() != NOT_ANCHORED
        assert EpochHeader(n, size, header.log_root, header.balances_root, total + 1).hash() != header.hash()

        for c in items[:size]:
            proof = log.inclusion_proof(c.index, size)
            args = (c.index, c.contributor, c.content_hash, c.accepted_at)
            assert chain.anchor.verify_contribution(header, *args, c.points, proof)
            assert not chain.anchor.verify_contribution(header, *args, c.points + 1, proof)
        for i, (account, balance) in tree.entries():
            proof = [bytes.fromhex(p[2:]) for p in tree.get_proof(i)]
            assert chain.anchor.verify_balance(header, account, balance, proof)
            assert not chain.anchor.verify_balance(header, account, balance + 1, proof)
        for later, later_header in zip(sizes[n - 1:], headers[n - 1:], strict=True):
            assert chain.anchor.verify_consistency(header, later_header, log.consistency_proof(size, later))
    # A leaf beyond the epoch's log is false, not a revert; so is a backwards pair of epochs.
    c = items[13]
    proof = log.inclusion_proof(13, 21)
    assert not chain.anchor.verify_contribution(
        headers[1], c.index, c.contributor, c.content_hash, c.accepted_at, c.points, proof
    )
    assert not chain.anchor.verify_consistency(headers[2], headers[0], [])
    assert chain.anchor.header_hash(4) == NOT_ANCHORED
    # The size comes from the header only as anchored: epoch 2 claimed with 21 leaves is refused.
    claimed = EpochHeader(2, 21, log.root(21), headers[1].balances_root, headers[1].total_points)
    error = reverted(lambda: chain.anchor.verify_contribution(
        claimed, c.index, c.contributor, c.content_hash, c.accepted_at, c.points, proof))
    assert error == ContractError(
        "HeaderMismatch", {"epoch": 2, "anchored": headers[1].hash(), "given": claimed.hash()})


def test_refuses_a_log_that_rewrote_history(chain: Chain) -> None:
    items = contributions(13, chain.people)
    _, headers = anchor_epochs(chain, items, [5, 13])
    before = (chain.anchor.latest_epoch(), chain.anchor.header_hash(3))

    # The same 13 contributions with one changed, then 3 more: a consistent-looking new log.
    forged_items = list(items)
    forged_items[7] = Contribution(7, items[7].contributor, items[7].content_hash, 0, 10**9)
    forged_items += contributions(16, chain.people)[13:]
    forged = MemoryLog([c.leaf_hash() for c in forged_items])
    third = EpochHeader(3, 16, forged.root(16), b"\x11" * 32, 1)
    fn = chain.anchor.anchor_function(headers[1], third, CID, forged.consistency_proof(13, 16))

    error = reverted(lambda: fn.call({"from": chain.owner.address}))
    assert error == ContractError("InvalidConsistencyProof", {})
    # Sent anyway (gas given, so nothing is estimated): the chain itself refuses it.
    receipt = chain.send(fn, gas=300_000)
    assert receipt["status"] == 0
    assert (chain.anchor.latest_epoch(), chain.anchor.header_hash(3)) == before
    assert chain.anchor.anchored_events(epoch=3) == []
    # Nor can the forged log pass itself off as the previous one: its header is not anchored.
    forged_previous = EpochHeader(2, 13, forged.root(13), headers[1].balances_root, headers[1].total_points)
    fn = chain.anchor.anchor_function(forged_previous, third, CID, forged.consistency_proof(13, 16))
    assert reverted(lambda: fn.call({"from": chain.owner.address})) == ContractError(
        "HeaderMismatch", {"epoch": 2, "anchored": headers[1].hash(), "given": forged_previous.hash()})

    honest = MemoryLog([c.leaf_hash() for c in contributions(16, chain.people)])
    good = EpochHeader(3, 16, honest.root(16), b"\x11" * 32, 1)
    receipt = chain.send(chain.anchor.anchor_function(headers[1], good, CID, honest.consistency_proof(13, 16)))
    assert receipt["status"] == 1
    tx_hash = HexStr(chain.anchor.anchored_events(epoch=3)[0].transaction_hash)
    [event] = chain.anchor.anchored_events_in(chain.w3.eth.get_transaction_receipt(tx_hash))
    assert event.header == good and chain.anchor.header_hash(3) == good.hash()


def test_decodes_every_refusal(chain: Chain) -> None:
    items = contributions(5, chain.people)
    log, [first] = anchor_epochs(chain, items, [5])
    root = log.root(5)
    owner: TxParams = {"from": chain.owner.address}

    def call(header: EpochHeader, cid: str = CID, previous: EpochHeader = first,
             sender: TxParams = owner) -> Callable[[], Any]:
        return lambda: chain.anchor.anchor_function(previous, header, cid, []).call(sender)

    b = b"\x22" * 32
    assert reverted(call(EpochHeader(1, 5, root, b, 0))) == ContractError(
        "UnexpectedEpoch", {"expected": 2, "given": 1})
    assert reverted(call(EpochHeader(2, 4, log.root(4), b, 0))) == ContractError(
        "LogShrank", {"previousSize": 5, "newSize": 4}
    )
    assert reverted(call(EpochHeader(2, 5, b"\0" * 32, b, 0))).name == "EmptyRoot"
    assert reverted(call(EpochHeader(2, 5, root, b"\0" * 32, 0))).name == "EmptyRoot"
    assert reverted(call(EpochHeader(2, 5, root, b, 0), cid="")).name == "EmptyManifestCid"
    assert reverted(call(EpochHeader(2, 5, root, b, 0), previous=GENESIS_HEADER)) == ContractError(
        "HeaderMismatch", {"epoch": 1, "anchored": first.hash(), "given": GENESIS_HEADER.hash()})
    stranger: TxParams = {"from": chain.stranger.address}
    assert reverted(call(EpochHeader(2, 5, root, b, 0), sender=stranger)) == ContractError(
        "AccessControlUnauthorizedAccount",
        {"account": chain.stranger.address, "neededRole": ANCHOR_ROLE},
    )
    unknown = EpochHeader(2, 5, root, b, 0)
    assert reverted(lambda: chain.anchor.verify_balance(unknown, chain.stranger.address, 1, [])) == (
        ContractError("UnknownEpoch", {"epoch": 2, "latestEpoch": 1})
    )


def test_refuses_a_zero_anchorer_before_sending(chain: Chain) -> None:
    with pytest.raises((TransactionFailed, ContractLogicError)):
        deploy_tally_anchor(chain.w3, chain.owner, anchorer="0x" + "00" * 20)


def test_loads_a_hex_key_or_an_encrypted_keystore(tmp_path: Path) -> None:
    account = Account.create()
    hex_file = tmp_path / "key.hex"
    hex_file.write_text(account.key.hex() + "\n")
    assert load_account(hex_file).address == account.address
    keystore = tmp_path / "key.json"
    keystore.write_text(json.dumps(Account.encrypt(account.key, "correct horse")))
    assert load_account(keystore, "correct horse").address == account.address
    with pytest.raises(DeploymentError, match="password"):
        load_account(keystore)
    with pytest.raises(DeploymentError, match="cannot decrypt"):
        load_account(keystore, "wrong")
    garbage = tmp_path / "garbage"
    garbage.write_text("not a key")
    with pytest.raises(DeploymentError) as failure:
        load_account(garbage)
    assert "not a key" not in str(failure.value)


def test_a_deployment_record_must_be_complete(tmp_path: Path, chain: Chain) -> None:
    with pytest.raises(FileNotFoundError):
        Deployment.load(tmp_path)
    data = chain.deployment.to_json()
    del data["blockNumber"]
    (tmp_path / "deployment.json").write_text(json.dumps(data))
    with pytest.raises(DeploymentError, match="blockNumber"):
        Deployment.load(tmp_path)
