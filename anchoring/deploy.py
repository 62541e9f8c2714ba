"""Deploying TallyAnchor from Python, and the record of a deployment in the data folder.

``tally deploy --rpc URL --key KEYFILE [--admin ADDR] [--anchorer ADDR]`` calls
:func:`deploy_tally_anchor` and saves the returned :class:`Deployment` under the data folder
(``<home>/deployment.json``), where the API's EIP-712 domain and the anchoring code find the chain
id and the contract address.

The transaction is signed locally (web3 8, eth-account 0.14): the key never reaches the node.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from anchoring.artifact import ContractArtifact, load_artifact
from ledger.errors import InvalidInputError

__all__ = [
    "DEFAULT_ADMIN_DELAY",
    "DEPLOYMENT_FILE",
    "Deployment",
    "DeploymentError",
    "deploy_tally_anchor",
    "load_account",
]

DEPLOYMENT_FILE = "deployment.json"
DEFAULT_ADMIN_DELAY = 2 * 24 * 3600
"""Seconds a new default admin waits before accepting the role (OpenZeppelin's delayed transfer)."""

# JSON names of the fields, in the camelCase the rest of Tally (and its JSON APIs) use.
_JSON_NAMES = {
    "chain_id": "chainId",
    "address": "address",
    "transaction_hash": "transactionHash",
    "block_number": "blockNumber",
    "block_hash": "blockHash",
    "deployed_at": "deployedAt",
    "deployer": "deployer",
    "admin": "admin",
    "anchorer": "anchorer",
    "admin_delay": "adminTransferDelay",
    "code_hash": "codeHash",
    "compiler": "compiler",
    "metadata_cid": "metadataCid",
    "rpc_url": "rpcUrl",
}


class DeploymentError(InvalidInputError, RuntimeError):
    """The deployment failed, or a recorded deployment is unreadable."""


def write_record(path: Path, record: dict[str, Any]) -> Path:
    """Write a deployment record (indented JSON) atomically and durably: a crash leaves the old
    file or the new, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(record, f, indent=2)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


@dataclass(frozen=True)
class Deployment:
    """Where and how TallyAnchor was deployed: what ``<home>/deployment.json`` records."""

    chain_id: int
    address: str
    """The contract address, EIP-55 checksummed."""
    transaction_hash: str
    block_number: int
    block_hash: str
    deployed_at: int
    """Timestamp of the deployment block (Unix seconds)."""
    deployer: str
    admin: str
    anchorer: str
    admin_delay: int
    code_hash: str
    """keccak256 of the runtime code found at ``address`` right after deployment."""
    compiler: str
    metadata_cid: str
    """IPFS CIDv0 of the compiler metadata, as embedded in the runtime code (for Sourcify)."""
    rpc_url: str | None = None
    """The RPC URL clients may use, only if the deployer chose to record it (it may hold a key)."""

    def to_json(self) -> dict[str, Any]:
        data = {_JSON_NAMES[k]: v for k, v in asdict(self).items()}
        return {"v": 1, "contract": "TallyAnchor", **data}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Deployment:
        if data.get("v") != 1 or data.get("contract") != "TallyAnchor":
            raise DeploymentError("not a version 1 TallyAnchor deployment record")
        values: dict[str, Any] = {}
        for f in fields(cls):
            name = _JSON_NAMES[f.name]
            if name in data:
                values[f.name] = data[name]
            elif f.default is MISSING:
                raise DeploymentError(f"deployment record lacks {name!r}")
        try:
            deployment = cls(**values)
        except TypeError as e:
            raise DeploymentError(f"malformed deployment record: {e}") from e
        if not Web3.is_checksum_address(deployment.address):
            raise DeploymentError(f"deployment address {deployment.address!r} is not checksummed")
        return deployment

    def save(self, home: Path) -> Path:
        """Write ``<home>/deployment.json`` atomically (a crash leaves the old file or the new)."""
        return write_record(home / DEPLOYMENT_FILE, self.to_json())

    @classmethod
    def load(cls, home: Path) -> Deployment:
        """Read ``<home>/deployment.json``; :class:`FileNotFoundError` when nothing was deployed."""
        path = home / DEPLOYMENT_FILE
        try:
            data = json.loads(path.read_text("utf-8"))
        except json.JSONDecodeError as e:
            raise DeploymentError(f"{path} is not JSON: {e}") from e
        if not isinstance(data, dict):
            raise DeploymentError(f"{path} is not a JSON object")
        return cls.from_json(data)


def load_account(keyfile: Path, password: str | None = None) -> LocalAccount:
    """The signing account in ``keyfile``: an encrypted JSON keystore (with ``password``), or a
    file holding one hex private key (``0x`` optional)."""
    text = keyfile.read_text("utf-8").strip()
    if text.startswith("{"):
        if password is None:
            raise DeploymentError(f"{keyfile} is an encrypted keystore: a password is needed")
        try:
            key = Account.decrypt(json.loads(text), password)
        except ValueError as e:
            raise DeploymentError(f"cannot decrypt {keyfile}: {e}") from e
        decrypted: LocalAccount = Account.from_key(key)
        return decrypted
    try:
        account: LocalAccount = Account.from_key(text)
        return account
    except (ValueError, TypeError) as e:
        # Do not echo the file's content: it is (meant to be) a private key.
        raise DeploymentError(f"{keyfile} holds neither a hex private key nor a keystore") from e


def deploy_tally_anchor(
    w3: Web3,
    account: LocalAccount,
    admin: str | None = None,
    anchorer: str | None = None,
    admin_delay: int = DEFAULT_ADMIN_DELAY,
    *,
    timeout: float = 180.0,
    rpc_url: str | None = None,
    artifact: ContractArtifact | None = None,
) -> Deployment:
    """Deploy TallyAnchor signed by ``account``, wait for its receipt, and describe it.

    ``admin`` and ``anchorer`` default to the deploying account. Refuses to return unless the
    transaction succeeded and the code now at the contract address is exactly the artifact's
    runtime code. ``rpc_url`` is only recorded (see :attr:`Deployment.rpc_url`).
    """
    artifact = artifact or load_artifact()
    admin = Web3.to_checksum_address(admin or account.address)
    anchorer = Web3.to_checksum_address(anchorer or account.address)
    if not 0 <= admin_delay < 2**48:
        raise DeploymentError(f"admin delay {admin_delay} does not fit a uint48")

    chain_id = int(w3.eth.chain_id)
    factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    tx = factory.constructor(admin, anchorer, admin_delay).build_transaction(
        {
            "from": account.address,
            "nonce": w3.eth.get_transaction_count(account.address, "pending"),
            "chainId": chain_id,
        }
    )
    signed = account.sign_transaction(tx)
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=timeout)
    created = receipt.get("contractAddress")
    if receipt["status"] != 1 or not created:
        raise DeploymentError(f"deployment transaction {tx_hash.to_0x_hex()} failed")

    address = Web3.to_checksum_address(created)
    code = bytes(w3.eth.get_code(address, block_identifier=receipt["blockNumber"]))
    if not artifact.matches_code(code):
        raise DeploymentError(f"the code at {address} is not {artifact.contract_name}'s runtime code")
    block = w3.eth.get_block(receipt["blockNumber"])
    return Deployment(
        chain_id=chain_id,
        address=address,
        transaction_hash=tx_hash.to_0x_hex(),
        block_number=int(receipt["blockNumber"]),
        block_hash="0x" + bytes(receipt["blockHash"]).hex(),
        deployed_at=int(block["timestamp"]),
        deployer=account.address,
        admin=admin,
        anchorer=anchorer,
        admin_delay=admin_delay,
        code_hash=Web3.keccak(code).to_0x_hex(),
        compiler=artifact.compiler_version,
        metadata_cid=artifact.metadata_cid,
        rpc_url=rpc_url,
    )
