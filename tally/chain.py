"""Reaching the chain a deployment anchors on, and the embedded development chain.

Configured (``TALLY_RPC_URL``): the contract comes from ``TALLY_CONTRACT_ADDRESS`` or from the
deployment recorded by ``tally deploy``. Embedded default (no RPC URL): an anvil node is
started with its state under TALLY_HOME (or reused if one already answers on its port), the
anchoring key is funded from anvil's development account, and the contract is deployed once, with
a TallyPoints token and a funded TallyRewards that pays it for anchored points.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, cast

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.types import TxParams

from anchoring import devchain
from anchoring.artifact import load_artifact
from anchoring.chain import FeePolicy, base_fee, connect
from ledger.errors import InvalidInputError
from tally.home import read_deployment, read_rewards
from tally.keys import anchor_key
from tally.settings import Settings

log = logging.getLogger("tally")

DEV_FUNDING = 100 * 10**18
DEV_FEES = FeePolicy()
"""The funding transfer on the dev chain offers the anchorer's default EIP-1559 fees."""


class ChainSetupError(InvalidInputError, RuntimeError):
    """The configured chain has no TallyAnchor deployment to use: a setting to fix, not a retry."""


@dataclass
class ChainRuntime:
    w3: Web3
    contract: Any
    account: LocalAccount
    chain_id: int
    rpc_url: str
    devchain: devchain.DevChain | None

    def close(self) -> None:
        if self.devchain is not None:
            self.devchain.stop()


def abi() -> list[dict[str, Any]]:
    return list(load_artifact().abi)


def _send(w3: Web3, account: LocalAccount, tx: dict[str, Any]) -> Any:
    tx = {"from": account.address, "nonce": w3.eth.get_transaction_count(account.address, "pending"),
          "chainId": w3.eth.chain_id, **tx}
    if "gas" not in tx:
        tx["gas"] = w3.eth.estimate_gas(cast(TxParams, tx))
    if "maxFeePerGas" not in tx:
        tx["maxFeePerGas"], tx["maxPriorityFeePerGas"] = DEV_FEES.initial(base_fee(w3))
    signed = account.sign_transaction(tx)
    return w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(signed.raw_transaction), timeout=60)


def _fund_from_dev_account(w3: Web3, address: str) -> None:
    if w3.eth.get_balance(Web3.to_checksum_address(address)) >= DEV_FUNDING // 10:
        return
    funder = Account.from_key(devchain.DEV_FUNDED_KEY)
    _send(w3, funder, {"to": address, "value": DEV_FUNDING, "gas": 21_000})
    log.info("funded %s from the dev chain's development account", address)


def open_chain(settings: Settings) -> ChainRuntime:
    account: LocalAccount = Account.from_key(anchor_key(settings).to_bytes())
    started: devchain.DevChain | None = None
    if settings.rpc_url:
        rpc_url = settings.rpc_url
    else:
        rpc_url = f"http://127.0.0.1:{settings.anvil_port}"
        if not devchain.rpc_ready(rpc_url):
            # Blocks every second, so that confirmations (and finality) come without traffic.
            started = devchain.start_devchain(settings.home / "chain", port=settings.anvil_port, block_time=1)
            log.info("started the embedded dev chain at %s (state in %s)", rpc_url, started.state_file)
    w3 = connect(rpc_url)
    try:
        chain_id = int(w3.eth.chain_id)
        if started is not None or not settings.rpc_url:
            _fund_from_dev_account(w3, account.address)
        address = _contract_address(settings, w3, account, chain_id, rpc_url, embedded=not settings.rpc_url)
        if not settings.rpc_url:
            _ensure_dev_rewards(settings, w3, account, chain_id, address)
    except Exception:
        if started is not None:
            started.stop()
        raise
    contract = w3.eth.contract(address=Web3.to_checksum_address(address), abi=abi())
    return ChainRuntime(w3, contract, account, chain_id, rpc_url, started)


def _contract_address(settings: Settings, w3: Web3, account: LocalAccount, chain_id: int, rpc_url: str,
                      *, embedded: bool) -> str:
    if settings.contract_address:
        return settings.contract_address
    recorded = read_deployment(settings.deployment_file)
    if recorded is not None and int(recorded["chainId"]) == chain_id and w3.eth.get_code(recorded["address"]):
        return str(recorded["address"])
    if not embedded:
        raise ChainSetupError(
            f"no TallyAnchor deployment for chain {chain_id}: run `tally deploy --rpc {rpc_url} --key KEYFILE` "
            "or set TALLY_CONTRACT_ADDRESS")
    from anchoring.deploy import deploy_tally_anchor

    deployment = deploy_tally_anchor(w3, account, admin=account.address, anchorer=account.address,
                                     admin_delay=settings.admin_transfer_delay, rpc_url=rpc_url)
    deployment.save(settings.home)
    log.info("deployed TallyAnchor at %s on the dev chain", deployment.address)
    return str(deployment.address)




def _ensure_dev_rewards(settings: Settings, w3: Web3, account: LocalAccount, chain_id: int, anchor: str) -> None:
    """On the embedded dev chain: TallyPoints and a funded TallyRewards over ``anchor``, deployed
    once and recorded in ``<home>/rewards.json`` (again when the record is of another chain or
    anchor, or its contract is gone), unless the settings name a rewards contract."""
    from anchoring.rewards import deploy_rewards

    if settings.rewards_address:
        return
    recorded = read_rewards(settings.rewards_file)
    if (recorded is not None and int(recorded["chainId"]) == chain_id and recorded["anchor"].lower() == anchor.lower()
            and w3.eth.get_code(recorded["address"])):
        return
    deployment = deploy_rewards(w3, account, anchor)
    deployment.save(settings.home)
    log.info("deployed TallyRewards at %s (token %s, pool funded) on the dev chain", deployment.address,
             deployment.token)
