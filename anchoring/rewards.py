"""TallyRewards and its token: deploying them, the record in the data folder, and claims.

``TallyRewards`` (``contracts/TallyRewards.sol``) pays an account ``(balance - claimed) *
unitsPerPoint`` token units for its balance in the latest epoch ``TallyAnchor`` anchored, proved
by its balance proof bundle. On the embedded dev chain and in the demo the token is
``TallyPoints``, a fixed-supply OpenZeppelin ERC-20 minted to the deployer, who funds the pool by
transfer; a production deployment can pay in any ERC-20.

``tally deploy`` (and the embedded default, once) calls :func:`deploy_rewards` and saves the
returned :class:`RewardsDeployment` as ``<home>/rewards.json``, where ``/v1/config`` and
``tally claim`` find it. Transactions are signed locally (the key never reaches the node).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractLogicError, Web3RPCError
from web3.logs import DISCARD
from web3.types import TxReceipt

from anchoring.artifact import ContractArtifact, load_artifact
from anchoring.contract import ContractError, EpochHeader, decode_error, revert_data
from anchoring.deploy import write_record
from ledger.errors import InvalidInputError, VerificationFailure
from ledger.formats import BalanceBundle

__all__ = [
    "DEV_POOL",
    "DEV_SUPPLY",
    "DEV_UNITS_PER_POINT",
    "REWARDS_FILE",
    "Claim",
    "ClaimProofError",
    "ContractRefusedError",
    "RewardsDeployment",
    "RewardsError",
    "TallyRewards",
    "deploy_rewards",
    "token_balance",
]

REWARDS_FILE = "rewards.json"
DEV_UNITS_PER_POINT = 10**18
"""On the dev chain: one TallyPoints token (18 decimals) per point."""
DEV_SUPPLY = 10**9 * 10**18
"""TallyPoints minted at deployment: a billion tokens."""
DEV_POOL = DEV_SUPPLY
"""What the deployer moves into the pool on the dev chain: all of it."""
MAX_UNITS_PER_POINT = 2**128 - 1

_JSON_NAMES = {
    "chain_id": "chainId",
    "address": "address",
    "anchor": "anchor",
    "token": "token",
    "units_per_point": "unitsPerPoint",
    "admin": "admin",
    "transaction_hash": "transactionHash",
    "block_number": "blockNumber",
    "token_deployed": "tokenDeployed",
    "funded": "funded",
}


class RewardsError(InvalidInputError, RuntimeError):
    """Deploying or using the rewards contract failed, or its record is unreadable."""


class ContractRefusedError(RewardsError):
    """A contract refuses the transaction (a claim, a deployment, funding the pool); ``error`` is
    its custom error, decoded."""

    def __init__(self, message: str, error: ContractError | None = None) -> None:
        super().__init__(message, **({} if error is None else {"error": error.name}))
        self.error = error


class ClaimProofError(ContractRefusedError, VerificationFailure):
    """The proof or the header does not check out against the anchor: exit code 1."""

    category = VerificationFailure.category


@dataclass(frozen=True)
class RewardsDeployment:
    """Where TallyRewards was deployed and what it pays: what ``<home>/rewards.json`` records."""

    chain_id: int
    address: str
    anchor: str
    token: str
    units_per_point: int
    admin: str
    transaction_hash: str
    block_number: int
    token_deployed: bool
    """Whether the token is the TallyPoints deployed with it (else an existing ERC-20)."""
    funded: int
    """Token units moved into the pool at deployment."""

    def to_json(self) -> dict[str, Any]:
        data = {_JSON_NAMES[k]: v for k, v in asdict(self).items()}
        # A decimal string, as every amount Tally publishes: token units overflow JSON numbers.
        data["unitsPerPoint"] = str(self.units_per_point)
        data["funded"] = str(self.funded)
        return {"v": 1, "contract": "TallyRewards", **data}

    @classmethod
    def from_json(cls, data: object) -> RewardsDeployment:
        if not isinstance(data, dict) or data.get("v") != 1 or data.get("contract") != "TallyRewards":
            raise RewardsError("not a version 1 TallyRewards deployment record")
        try:
            values = {name: data[json_name] for name, json_name in _JSON_NAMES.items()}
            values["units_per_point"] = int(values["units_per_point"])
            values["funded"] = int(values["funded"])
            record = cls(**values)
        except (KeyError, TypeError, ValueError) as e:
            raise RewardsError(f"malformed TallyRewards deployment record: {e}") from None
        for name in ("address", "anchor", "token", "admin"):
            if not Web3.is_checksum_address(getattr(record, name)):
                raise RewardsError(f"the record's {name} is not a checksummed address")
        return record

    def save(self, home: Path) -> Path:
        """Write ``<home>/rewards.json`` atomically."""
        return write_record(home / REWARDS_FILE, self.to_json())

    @classmethod
    def load(cls, home: Path) -> RewardsDeployment | None:
        """Read ``<home>/rewards.json``; None when no rewards contract was deployed."""
        path = home / REWARDS_FILE
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text("utf-8"))
        except json.JSONDecodeError as e:
            raise RewardsError(f"{path} is not JSON: {e}") from None
        return cls.from_json(data)


def _transact(w3: Web3, account: LocalAccount, fn: Any, timeout: float) -> TxReceipt:
    """Sign ``fn``'s transaction (a contract function or constructor) with ``account``, send it
    and wait for its receipt; a revert, estimated or mined, raises :class:`ContractRefusedError`."""
    try:
        tx = fn.build_transaction({
            "from": account.address,
            "nonce": w3.eth.get_transaction_count(account.address, "pending"),
            "chainId": int(w3.eth.chain_id),
        })
    except ContractLogicError as exc:
        raise _refusal(exc) from None
    except Web3RPCError as exc:  # e.g. the sender cannot pay the gas
        raise RewardsError(f"the node refuses the transaction: {exc.message or exc}") from None
    signed = account.sign_transaction(tx)
    try:
        tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    except Web3RPCError as exc:
        raise RewardsError(f"the node refuses the transaction: {exc.message or exc}") from None
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=timeout)
    if receipt["status"] != 1:
        raise RewardsError(f"transaction {tx_hash.to_0x_hex()} reverted")
    return receipt


def _abis() -> list[dict[str, Any]]:
    """Every error a claim can revert with: the rewards contract's, the anchor's (a header that is
    not the anchored one) and the token's (OpenZeppelin's ERC-20 errors)."""
    return [*load_artifact("TallyRewards").abi, *load_artifact("TallyAnchor").abi, *load_artifact("TallyPoints").abi]


def _refusal(exc: BaseException) -> ContractRefusedError:
    data = revert_data(exc)
    error = decode_error(data, _abis()) if data else None
    if error is None:
        return ContractRefusedError(f"the transaction would revert: {exc}")
    message = f"the contract refuses: {error}{_HINTS.get(error.name, '')}"
    if error.name in ("InvalidBalanceProof", "HeaderMismatch", "UnknownEpoch", "BalanceExceedsTotal"):
        return ClaimProofError(message, error)
    return ContractRefusedError(message, error)


_HINTS = {
    "StaleEpoch": ": a newer epoch was anchored meanwhile; claim again",
    "NothingToClaim": ": the account was paid for this balance already",
    "InsufficientPool": ": the pool cannot pay this claim; its operator must fund it",
}


def token_balance(w3: Web3, token: str, account: str) -> int:
    """``token.balanceOf(account)`` of any ERC-20."""
    contract = w3.eth.contract(address=Web3.to_checksum_address(token), abi=load_artifact("TallyPoints").abi)
    return int(contract.functions.balanceOf(Web3.to_checksum_address(account)).call())


@dataclass(frozen=True)
class Claim:
    """A claim that was paid: the ``Claimed`` event of its transaction."""

    account: str
    epoch: int
    balance: int
    amount: int
    transaction_hash: str
    block_number: int


class TallyRewards:
    """TallyRewards at ``address`` on ``w3``'s chain."""

    def __init__(self, w3: Web3, address: str, artifact: ContractArtifact | None = None) -> None:
        self.artifact = artifact or load_artifact("TallyRewards")
        self.w3 = w3
        self.address = Web3.to_checksum_address(address)
        self.contract: Contract = w3.eth.contract(address=self.address, abi=self.artifact.abi)

    def anchor(self) -> str:
        return str(self.contract.functions.anchor().call())

    def token(self) -> str:
        return str(self.contract.functions.token().call())

    def units_per_point(self) -> int:
        return int(self.contract.functions.unitsPerPoint().call())

    def claimed(self, account: str) -> int:
        """The balance (in points) up to which ``account`` has been paid."""
        return int(self.contract.functions.claimed(Web3.to_checksum_address(account)).call())

    def pool(self) -> int:
        """The token units the pool holds."""
        return int(self.contract.functions.pool().call())

    def code_matches_artifact(self) -> bool:
        return self.artifact.matches_code(bytes(self.w3.eth.get_code(self.address)))

    def claim_function(self, header: EpochHeader, account: str, balance: int,
                       proof: Sequence[bytes]) -> ContractFunction:
        return self.contract.functions.claim(header.as_tuple(), Web3.to_checksum_address(account), balance,
                                             list(proof))

    def claim(self, sender: LocalAccount, bundle: BalanceBundle, *, timeout: float = 120.0) -> Claim:
        """Send the claim of ``bundle``'s account for its balance, signed by ``sender`` (who pays
        the gas; the tokens go to the account). A refusal raises :class:`ContractRefusedError` naming
        the contract's error, before anything is sent when the node's estimate reverts."""
        fn = self.claim_function(EpochHeader.of(bundle.envelope.header), bundle.leaf.account, bundle.leaf.balance,
                                 bundle.proof)
        receipt = _transact(self.w3, sender, fn, timeout)
        # The token's Transfer is in the same receipt: not this contract's event, skipped quietly.
        events = self.contract.events.Claimed().process_receipt(receipt, errors=DISCARD)
        if len(events) != 1:
            raise RewardsError(f"the claim's transaction logged {len(events)} Claimed events")
        args = events[0]["args"]
        return Claim(str(args["account"]), int(args["epoch"]), int(args["balance"]), int(args["amount"]),
                     receipt["transactionHash"].to_0x_hex(), int(receipt["blockNumber"]))


def deploy_rewards(
    w3: Web3,
    account: LocalAccount,
    anchor: str,
    *,
    token: str | None = None,
    units_per_point: int = DEV_UNITS_PER_POINT,
    admin: str | None = None,
    supply: int = DEV_SUPPLY,
    pool: int | None = None,
    timeout: float = 180.0,
) -> RewardsDeployment:
    """Deploy TallyRewards over ``anchor``, signed by ``account``, and fund its pool.

    Without ``token``, TallyPoints is deployed first with ``supply`` minted to ``account``, and
    ``pool`` (default: all of it) moved into the pool; with ``token`` (any ERC-20), ``pool``
    (default: nothing) is moved from ``account``'s balance. ``admin`` (default: ``account``) owns
    the pool. Refuses to return unless the code deployed is the artifacts' runtime code.
    """
    if not 1 <= units_per_point <= MAX_UNITS_PER_POINT:
        raise RewardsError(f"units per point must be from 1 to 2^128 - 1, not {units_per_point}")
    admin = Web3.to_checksum_address(admin or account.address)
    chain_id = int(w3.eth.chain_id)
    deployed_token = token is None
    if token is None:
        points = load_artifact("TallyPoints")
        receipt = _transact(w3, account, w3.eth.contract(abi=points.abi, bytecode=points.bytecode)
                            .constructor(account.address, supply), timeout)
        token = _created(w3, receipt, points)
    token = Web3.to_checksum_address(token)
    artifact = load_artifact("TallyRewards")
    factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    receipt = _transact(w3, account, factory.constructor(Web3.to_checksum_address(anchor), token, units_per_point,
                                                         admin), timeout)
    address = _created(w3, receipt, artifact)
    rewards = TallyRewards(w3, address, artifact)
    if (rewards.anchor(), rewards.token(), rewards.units_per_point()) != (
            Web3.to_checksum_address(anchor), token, units_per_point):
        raise RewardsError(f"TallyRewards at {address} was not built with the arguments given")
    funded = (supply if deployed_token else 0) if pool is None else pool
    if funded:
        erc20 = w3.eth.contract(address=token, abi=load_artifact("TallyPoints").abi)
        _transact(w3, account, erc20.functions.transfer(address, funded), timeout)
    return RewardsDeployment(chain_id=chain_id, address=address, anchor=Web3.to_checksum_address(anchor),
                             token=token, units_per_point=units_per_point, admin=admin,
                             transaction_hash=receipt["transactionHash"].to_0x_hex(),
                             block_number=int(receipt["blockNumber"]), token_deployed=deployed_token, funded=funded)


def _created(w3: Web3, receipt: TxReceipt, artifact: ContractArtifact) -> str:
    created = receipt.get("contractAddress")
    if not created:
        raise RewardsError(f"deploying {artifact.contract_name} created no contract")
    address = Web3.to_checksum_address(created)
    if not artifact.matches_code(bytes(w3.eth.get_code(address, block_identifier=receipt["blockNumber"]))):
        raise RewardsError(f"the code at {address} is not {artifact.contract_name}'s runtime code")
    return address
