"""`tally claim`: be paid by the rewards contract for an account's anchored points."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ledger.errors import InvalidInputError
from tally.cli.base import CliError, address_value, app, load_settings, one_line_errors, passphrase, url_value

if TYPE_CHECKING:
    from eth_account.signers.local import LocalAccount
    from web3 import Web3

    from ledger.formats import BalanceBundle


class NothingToClaimError(InvalidInputError):
    """The account's anchored balance is not above what it was paid for, or nothing is anchored."""


class PoolTooSmallError(InvalidInputError):
    """The rewards pool holds less than the claim would pay: its operator must fund it."""


class NoGasError(InvalidInputError):
    """The key sending the claim has no ether to pay its gas."""


@dataclass(frozen=True)
class Source:
    """Where the claim's facts come from: the chain id, anchor and rewards contract as the API or
    the data folder names them, the node to use, and how to fetch a balance bundle."""

    chain_id: int
    anchor: str
    rewards: str
    rpc_url: str | None
    api: str | None

    def bundle(self, account: str, epoch: int) -> BalanceBundle:
        from ledger.formats import BalanceBundle

        if self.api is not None:
            from tally.client import balance_bundle

            return BalanceBundle.from_json(balance_bundle(self.api, account, epoch))
        from ledger.content import LocalBlockStore
        from ledger.proofs import BalanceTrees, balance_proof
        from tally.home import open_existing_database, recorded_chain

        settings = load_settings()
        info = recorded_chain(settings)
        assert info is not None  # the source was built from it
        engine, sessions = open_existing_database(settings)
        try:
            with sessions() as session:
                return balance_proof(session, info, BalanceTrees(LocalBlockStore(settings.blocks_dir)), account, epoch)
        finally:
            engine.dispose()


def _source(api: str | None, rpc: str | None) -> Source:
    if api is not None:
        from tally.client import api_config

        config = api_config(api)
        rewards = config.get("rewards")
        if not rewards:
            raise CliError(f"the Tally API at {api} publishes no rewards contract (/v1/config has rewards null)")
        return Source(int(config["chainId"]), str(config["contract"]), str(rewards["contract"]),
                      rpc or config.get("rpcUrl"), api)
    from tally.home import recorded_chain

    settings = load_settings()
    info = recorded_chain(settings)
    if info is None:
        raise CliError(f"no deployment in the data folder {settings.home}: pass --api URL, or run where the Tally "
                       "data folder is (TALLY_HOME)")
    if info.rewards is None:
        raise CliError(f"no rewards contract for the anchor {info.contract} in {settings.home} (rewards.json) "
                       "or the settings (TALLY_REWARDS_ADDRESS)")
    return Source(info.chain_id, info.contract, info.rewards.contract, rpc or info.rpc_url, None)


def _sender(key: Path) -> LocalAccount:
    from anchoring.deploy import load_account

    if not key.is_file():
        raise CliError(f"{key}: no such key file (a keystore from `tally keys new`, or a hex private key)")
    password = None
    if key.read_text("utf-8").lstrip().startswith("{"):
        password = passphrase("TALLY_KEY_PASSPHRASE", "Keystore passphrase")
    return load_account(key, password)


def _connect(source: Source) -> Web3:
    from anchoring.chain import call, connect

    if source.rpc_url is None:
        raise CliError("no node to send the claim to: pass --rpc URL")
    w3 = connect(source.rpc_url, timeout=60)
    chain_id = int(call(lambda: w3.eth.chain_id))
    if chain_id != source.chain_id:
        raise CliError(f"--rpc serves chain {chain_id}, but the rewards contract is on chain {source.chain_id}")
    return w3


@app.command()
@one_line_errors
def claim(
    key: Annotated[Path, typer.Option(help="the key that sends the claim and pays its gas: a keystore "
                                           "(passphrase: TALLY_KEY_PASSPHRASE) or a hex private key file")],
    account: Annotated[str | None, typer.Option(
        help="the account to claim for (default: the key's); the tokens always go to it", parser=address_value)] = None,
    api: Annotated[str | None, typer.Option(
        help="Tally API base URL to fetch the proof from (default: the data folder, TALLY_HOME)",
        parser=url_value)] = None,
    rpc: Annotated[str | None, typer.Option(
        help="JSON-RPC URL of the chain (default: the one the API or the data folder names)", parser=url_value)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Claim the tokens an account's points earn: prove its balance in the latest anchored epoch to
    the rewards contract, which pays what the account was not paid for yet."""
    from web3 import Web3

    from anchoring.chain import call
    from anchoring.contract import TallyAnchor
    from anchoring.rewards import TallyRewards, token_balance
    from anchoring.verify import verify_balance

    sender = _sender(key)
    who = account or sender.address
    source = _source(api, rpc)
    w3 = _connect(source)
    if not call(lambda: w3.eth.get_code(Web3.to_checksum_address(source.rewards))):
        raise CliError(f"no contract at the rewards address {source.rewards} on chain {source.chain_id}")
    rewards = TallyRewards(w3, source.rewards)
    if rewards.anchor().lower() != source.anchor.lower():
        raise CliError(f"the rewards contract {source.rewards} pays for the anchor {rewards.anchor()}, "
                       f"not {source.anchor}")
    latest = TallyAnchor(w3, source.anchor).latest_epoch()
    if latest == 0:
        raise NothingToClaimError("nothing is anchored yet: a claim needs an epoch on-chain")
    bundle = source.bundle(who, latest)
    # Our own check of the proof and of the header against the chain, before paying for gas.
    verify_balance(bundle, source.rpc_url or "", w3)
    balance, claimed = bundle.leaf.balance, rewards.claimed(who)
    if balance <= claimed:
        raise NothingToClaimError(f"nothing to claim: {who} has {balance} points in epoch {latest} and was paid "
                                  f"for {claimed} already")
    units = rewards.units_per_point()
    amount, pool = (balance - claimed) * units, rewards.pool()
    if pool < amount:
        raise PoolTooSmallError(f"the rewards pool holds {pool} token units, less than the {amount} this claim pays; "
                                "its operator must fund it")
    if call(lambda: w3.eth.get_balance(sender.address)) == 0:
        raise NoGasError(f"{sender.address} has no ether to pay the claim's gas: fund it, or send the claim with "
                         f"another key and --account {who}")
    paid = rewards.claim(sender, bundle)
    token = rewards.token()
    result = {"account": paid.account, "epoch": paid.epoch, "balance": str(paid.balance),
              "points": str(paid.balance - claimed), "amount": str(paid.amount), "token": token,
              "tokenBalance": str(token_balance(w3, token, paid.account)), "rewards": rewards.address,
              "transactionHash": paid.transaction_hash, "blockNumber": paid.block_number}
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    typer.echo(f"claimed {result['points']} points for {paid.account} in epoch {paid.epoch} (balance {paid.balance}): "
               f"{paid.amount} units of the token {token}, now holding {result['tokenBalance']}")
    typer.echo(f"transaction {paid.transaction_hash} in block {paid.block_number}")
