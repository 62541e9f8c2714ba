"""A typed binding of TallyAnchor (web3 8): its views, the ``anchor`` call, its event and errors.

The contract is specified in DESIGN.md §7 and ``docs/contract.md``; its ABI comes from the
committed artifact (:mod:`anchoring.artifact`). This module sends nothing by itself: ``anchor``
is returned as a web3 contract function for the anchoring service to sign and send its own way.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi.abi import decode as abi_decode
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.types import BlockIdentifier

from anchoring.artifact import ContractArtifact, load_artifact
from anchoring.deploy import Deployment
from ledger.formats import BundleHeader
from ledger.merkle import log as rfc9162

__all__ = [
    "ANCHOR_ROLE",
    "DEFAULT_ADMIN_ROLE",
    "GENESIS_HEADER",
    "NOT_ANCHORED",
    "ContractError",
    "EpochAnchored",
    "EpochHeader",
    "TallyAnchor",
    "decode_error",
    "revert_data",
]

ANCHOR_ROLE = bytes(Web3.keccak(text="ANCHOR_ROLE"))
DEFAULT_ADMIN_ROLE = b"\0" * 32


@dataclass(frozen=True, slots=True)
class EpochHeader:
    """``ITallyAnchor.EpochHeader``: what the contract keeps the hash of, for each epoch."""

    epoch: int
    log_size: int
    log_root: bytes
    balances_root: bytes
    total_points: int

    @classmethod
    def of(cls, header: BundleHeader) -> EpochHeader:
        """The contract's part of a ledger header (a bundle's, or a sealed epoch's)."""
        return cls(header.epoch, header.log_size, header.log_root, header.balances_root, header.total_points)

    def as_tuple(self) -> tuple[int, int, bytes, bytes, int]:
        """The struct as web3 takes it as an argument."""
        return self.epoch, self.log_size, self.log_root, self.balances_root, self.total_points

    def hash(self) -> bytes:
        """``keccak256(abi.encode(epoch, logSize, logRoot, balancesRoot, totalPoints))``: the word
        ``headerHash(epoch)`` returns once the epoch is anchored."""
        return bytes(Web3.keccak(self.epoch.to_bytes(32) + self.log_size.to_bytes(32) + self.log_root
                                 + self.balances_root + self.total_points.to_bytes(32)))


NOT_ANCHORED = b"\0" * 32
"""What ``headerHash(epoch)`` answers for an epoch the contract does not hold."""

GENESIS_HEADER = EpochHeader(0, 0, rfc9162.EMPTY_ROOT, b"\0" * 32, 0)
"""Epoch 0's header: the empty log (RFC 9162 §2.1.1), which epoch 1 extends. Never anchored."""


@dataclass(frozen=True)
class EpochAnchored:
    """One ``EpochAnchored`` event, with where it was logged."""

    epoch: int
    log_size: int
    log_root: bytes
    balances_root: bytes
    total_points: int
    manifest_cid: str
    transaction_hash: str
    block_number: int
    block_hash: str
    log_index: int

    @property
    def header(self) -> EpochHeader:
        """The header the event announced, whose hash the contract stored."""
        return EpochHeader(self.epoch, self.log_size, self.log_root, self.balances_root, self.total_points)


@dataclass(frozen=True)
class ContractError:
    """A decoded revert: the custom error's name and its arguments by name."""

    name: str
    args: dict[str, Any]

    def __str__(self) -> str:
        """As Solidity writes it, bytes as 0x-hex: ``UnexpectedEpoch(expected=3, given=2)``."""
        shown = (f"{k}=0x{v.hex()}" if isinstance(v, bytes) else f"{k}={v}" for k, v in self.args.items())
        return f"{self.name}({', '.join(shown)})"


class TallyAnchor:
    """TallyAnchor at ``address`` on ``w3``'s chain."""

    def __init__(self, w3: Web3, address: str, artifact: ContractArtifact | None = None) -> None:
        self.artifact = artifact or load_artifact()
        self.w3 = w3
        self.address = Web3.to_checksum_address(address)
        self.contract: Contract = w3.eth.contract(address=self.address, abi=self.artifact.abi)

    @classmethod
    def from_deployment(cls, w3: Web3, deployment: Deployment) -> TallyAnchor:
        """The recorded deployment, after checking that ``w3`` is connected to its chain."""
        chain_id = int(w3.eth.chain_id)
        if chain_id != deployment.chain_id:
            raise ValueError(f"connected to chain {chain_id}, but TallyAnchor was deployed on {deployment.chain_id}")
        return cls(w3, deployment.address)

    # --- views ---------------------------------------------------------------------------------

    def latest_epoch(self, block_identifier: BlockIdentifier = "latest") -> int:
        return int(self.contract.functions.latestEpoch().call(block_identifier=block_identifier))

    def header_hash(self, epoch: int, block_identifier: BlockIdentifier = "latest") -> bytes:
        """The hash of the header anchored for ``epoch``; ``NOT_ANCHORED`` for an epoch not anchored."""
        return bytes(self.contract.functions.headerHash(epoch).call(block_identifier=block_identifier))

    def verify_contribution(
        self,
        header: EpochHeader,
        index: int,
        contributor: str,
        content_hash: bytes,
        accepted_at: int,
        points: int,
        proof: Sequence[bytes],
    ) -> bool:
        """RFC 9162 §2.1.3.2 inclusion of the contribution's leaf in the log of ``header``, which
        must be the anchored header of its epoch (else the call reverts: ``UnknownEpoch``,
        ``HeaderMismatch``)."""
        contributor = Web3.to_checksum_address(contributor)
        fn = self.contract.functions.verifyContribution(
            header.as_tuple(), index, contributor, content_hash, accepted_at, points, list(proof)
        )
        return bool(fn.call())

    def verify_balance(self, header: EpochHeader, account: str, balance: int, proof: Sequence[bytes]) -> bool:
        """OpenZeppelin ``MerkleProof`` of ``(account, balance)`` in the balances of ``header``."""
        fn = self.contract.functions.verifyBalance(
            header.as_tuple(), Web3.to_checksum_address(account), balance, list(proof)
        )
        return bool(fn.call())

    def verify_consistency(self, first: EpochHeader, second: EpochHeader, proof: Sequence[bytes]) -> bool:
        """RFC 9162 §2.1.4.2 consistency of the two epochs' logs."""
        fn = self.contract.functions.verifyConsistency(first.as_tuple(), second.as_tuple(), list(proof))
        return bool(fn.call())

    def has_anchor_role(self, account: str) -> bool:
        fn = self.contract.functions.hasRole(ANCHOR_ROLE, Web3.to_checksum_address(account))
        return bool(fn.call())

    def code_matches_artifact(self) -> bool:
        """Whether the code at the address is the committed artifact's runtime code."""
        return self.artifact.matches_code(bytes(self.w3.eth.get_code(self.address)))

    # --- anchoring -----------------------------------------------------------------------------

    def anchor_function(
        self,
        previous: EpochHeader,
        header: EpochHeader,
        manifest_cid: str,
        consistency_proof: Sequence[bytes],
    ) -> ContractFunction:
        """The ``anchor`` call of ``header`` over ``previous``, the latest anchored header
        (``GENESIS_HEADER`` before epoch 1), to build, sign and send (``.build_transaction({...})``)."""
        return self.contract.functions.anchor(
            previous.as_tuple(), header.as_tuple(), manifest_cid, list(consistency_proof)
        )

    # --- events and errors ---------------------------------------------------------------------

    def anchored_events(
        self,
        from_block: BlockIdentifier = 0,
        to_block: BlockIdentifier = "latest",
        epoch: int | None = None,
    ) -> list[EpochAnchored]:
        """``EpochAnchored`` events in the block range, optionally of one epoch only."""
        filters = {"epoch": epoch} if epoch is not None else None
        logs = self.contract.events.EpochAnchored.get_logs(
            from_block=from_block, to_block=to_block, argument_filters=filters
        )
        return [_event(log) for log in logs]

    def anchored_events_in(self, receipt: Any) -> list[EpochAnchored]:
        """The ``EpochAnchored`` events of a transaction receipt."""
        return [_event(log) for log in self.contract.events.EpochAnchored().process_receipt(receipt)]

    def decode_error(self, data: bytes) -> ContractError | None:
        return decode_error(data, self.artifact.abi)


def _event(log: Any) -> EpochAnchored:
    args = log["args"]
    return EpochAnchored(
        epoch=int(args["epoch"]),
        log_size=int(args["logSize"]),
        log_root=bytes(args["logRoot"]),
        balances_root=bytes(args["balancesRoot"]),
        total_points=int(args["totalPoints"]),
        manifest_cid=str(args["manifestCid"]),
        transaction_hash="0x" + bytes(log["transactionHash"]).hex(),
        block_number=int(log["blockNumber"]),
        block_hash="0x" + bytes(log["blockHash"]).hex(),
        log_index=int(log["logIndex"]),
    )


_BUILTIN_ERRORS: list[dict[str, Any]] = [
    {"type": "error", "name": "Error", "inputs": [{"name": "message", "type": "string"}]},
    {"type": "error", "name": "Panic", "inputs": [{"name": "code", "type": "uint256"}]},
]


def _abi_type(param: dict[str, Any]) -> str:
    if param["type"].startswith("tuple"):
        inner = ",".join(_abi_type(c) for c in param["components"])
        return f"({inner}){param['type'][len('tuple') :]}"
    return str(param["type"])


def decode_error(data: bytes, abi: Sequence[dict[str, Any]] | None = None) -> ContractError | None:
    """The custom error (or ``Error(string)``, ``Panic(uint256)``) that ``data`` encodes.

    ``abi`` defaults to TallyAnchor's, which includes OpenZeppelin's ``AccessControl*`` errors.
    Returns ``None`` for empty or unknown revert data.
    """
    data = bytes(data)
    if len(data) < 4:
        return None
    for item in [*(abi if abi is not None else load_artifact().abi), *_BUILTIN_ERRORS]:
        if item.get("type") != "error":
            continue
        types = [_abi_type(p) for p in item["inputs"]]
        if bytes(Web3.keccak(text=f"{item['name']}({','.join(types)})"))[:4] != data[:4]:
            continue
        values = [
            Web3.to_checksum_address(v) if t == "address" else v
            for t, v in zip(types, abi_decode(types, data[4:]), strict=True)
        ]
        names = [p["name"] or f"arg{i}" for i, p in enumerate(item["inputs"])]
        return ContractError(item["name"], dict(zip(names, values, strict=True)))
    return None


def revert_data(error: BaseException) -> bytes | None:
    """The raw revert data carried by a failed call's exception, if any.

    A node's revert raises web3's ``ContractLogicError`` (``.data`` is 0x-hex); eth-tester's
    ``TransactionFailed`` only carries it in its message, as a Python bytes literal.
    """
    data = getattr(error, "data", None)
    if isinstance(data, str) and data.startswith("0x"):
        return bytes.fromhex(data[2:])
    if isinstance(data, bytes):
        return data
    message = str(error.args[0]) if error.args else ""
    prefix = "execution reverted: "
    if message.startswith(prefix) and message[len(prefix) :].startswith(("b'", 'b"')):
        try:
            value = ast.literal_eval(message[len(prefix) :])
        except (ValueError, SyntaxError):
            return None
        return value if isinstance(value, bytes) else None
    return None
