"""Contracts that are not TallyAnchor, deployed for real: OpenZeppelin's compiled artifacts from
node_modules, and tiny runtimes written out opcode by opcode (no compiler needed)."""

from __future__ import annotations

import json
from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3

from tests.support.server import ROOT

OPCODES = {"STOP": 0x00, "EQ": 0x14, "OR": 0x17, "SHR": 0x1C, "CALLDATALOAD": 0x35, "CODECOPY": 0x39,
           "MSTORE": 0x52, "JUMPI": 0x57, "JUMPDEST": 0x5B, "DUP1": 0x80, "DUP2": 0x81, "SWAP1": 0x90,
           "RETURN": 0xF3, "REVERT": 0xFD}


def assemble(program: list[Any]) -> bytes:
    """Bytecode from opcode names, ``bytes`` (pushed with the PUSHn of their length), ``":label"``
    (a JUMPDEST) and ``"@label"`` (PUSH1 of that label's offset)."""
    def size(item: Any) -> int:
        return 1 + len(item) if isinstance(item, bytes) else 2 if item.startswith("@") else 1

    labels, offset = {}, 0
    for item in program:
        if isinstance(item, str) and item.startswith(":"):
            labels[item[1:]] = offset
        offset += size(item)
    out = bytearray()
    for item in program:
        if isinstance(item, bytes):
            out += bytes([0x5F + len(item)]) + item
        elif item.startswith("@"):
            out += bytes([0x60, labels[item[1:]]])
        elif item.startswith(":"):
            out.append(OPCODES["JUMPDEST"])
        else:
            out.append(OPCODES[item])
    return bytes(out)


def init_code(runtime: bytes) -> bytes:
    """Constructor code that returns ``runtime`` as the contract's code (CODECOPY, RETURN)."""
    head = assemble([bytes([len(runtime)]), bytes([12]), b"\0", "CODECOPY", bytes([len(runtime)]), b"\0", "RETURN"])
    assert len(head) == 12 and len(runtime) < 256
    return head + runtime


def returning_one() -> bytes:
    """Answers every call, whatever its selector, with the word 1 (so "true", "epoch 1"...)."""
    return assemble([b"\1", b"\0", "MSTORE", b"\x20", b"\0", "RETURN"])


def reverting() -> bytes:
    """Reverts every call with no data."""
    return assemble([b"\0", b"\0", "REVERT"])


def erc165_lookalike(tally_anchor_id: bytes, latest_epoch: bool) -> bytes:
    """Answers ``supportsInterface`` exactly as TallyAnchor does (true for ERC-165, IAccessControl
    and ITallyAnchor, false otherwise) and, if ``latest_epoch``, ``latestEpoch()`` with 1; reverts
    everything else (``headerHash(n)`` included)."""
    answer_word = [b"\0", "MSTORE", b"\x20", b"\0", "RETURN"]
    return assemble([
        b"\0", "CALLDATALOAD", b"\xe0", "SHR",  # the selector
        "DUP1", bytes.fromhex("01ffc9a7"), "EQ", "@supports", "JUMPI",
        *(["DUP1", bytes(Web3.keccak(text="latestEpoch()"))[:4], "EQ", "@latest", "JUMPI"] if latest_epoch else []),
        b"\0", b"\0", "REVERT",
        ":supports", b"\4", "CALLDATALOAD", b"\xe0", "SHR",  # the interface id asked about
        "DUP1", bytes.fromhex("01ffc9a7"), "EQ",
        "DUP2", bytes.fromhex("7965db0b"), "EQ", "OR",
        "SWAP1", tally_anchor_id, "EQ", "OR", *answer_word,
        ":latest", b"\1", *answer_word,
    ])


def openzeppelin_init_code(name: str, types: list[str] | None = None, args: list[Any] | None = None) -> bytes:
    """The creation code of an OpenZeppelin contract compiled in its npm package, with its
    constructor arguments."""
    from eth_abi.abi import encode

    artifact = json.loads((ROOT / "node_modules/@openzeppelin/contracts/build/contracts" / f"{name}.json").read_text())
    return bytes.fromhex(artifact["bytecode"][2:]) + (encode(types, args) if types else b"")


def deploy_code(w3: Web3, account: LocalAccount, init: bytes) -> str:
    """Send a contract creation and return the new contract's address."""
    tx = {"from": account.address, "data": "0x" + init.hex(), "nonce": w3.eth.get_transaction_count(account.address),
          "gas": 6_000_000, "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 10**9, "chainId": w3.eth.chain_id}
    receipt = w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(
        account.sign_transaction(tx).raw_transaction), timeout=60)
    assert receipt["status"] == 1 and w3.eth.get_code(receipt["contractAddress"])
    return str(receipt["contractAddress"])
