"""Gas of TallyAnchor and TallyRewards on a real EVM (anvil), with real proofs at realistic sizes.

    .venv/bin/python bench/gas.py            # prints a Markdown table (docs/contract.md has one)
    .venv/bin/python bench/gas.py --quick    # small sizes only, a smoke test

Deploys the committed artifact (anchoring/artifacts/TallyAnchor.json) with the code Tally uses
(:mod:`anchoring.deploy`), builds the logs with ``ledger.merkle`` from DESIGN.md §4 leaf data and
the balances tree with ``ledger.merkle.standard`` (the @openzeppelin/merkle-tree format), and
measures:

* ``anchor`` of epoch 2 over a previous log of 1, 2^10 and 2^20 leaves growing by 1,000 (and by
  10,000), so the consistency proof has its real length, plus sizes that are not powers of two,
  whose proofs are the longest: 2^20 - 1 leaves growing by 1,000 is the worst case at 2^20 leaves
  (22 proof elements), 2^20 growing by 1,000 the best (one element);
* ``verifyContribution`` and ``verifyBalance`` against trees of 2^20 leaves, as ``eth_estimateGas``
  reports them (what a transaction would pay; an ``eth_call`` is free);
* ``claim`` of TallyRewards with a 20-element proof (a balances tree of 2^20 accounts), first to an
  account that never held the token, then again by the same account an epoch later.

After the table, the worst and the best anchor at 2^20 leaves beside the target (``TARGET``), and
the gas per contribution at 10,000 contributions per epoch.
"""

from __future__ import annotations

import argparse
import hashlib
import socket
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from eth_account import Account  # noqa: E402
from eth_account.signers.local import LocalAccount  # noqa: E402
from web3 import Web3  # noqa: E402

from anchoring.chain import connect  # noqa: E402
from anchoring.contract import GENESIS_HEADER, EpochHeader, TallyAnchor  # noqa: E402
from anchoring.deploy import deploy_tally_anchor  # noqa: E402
from anchoring.devchain import DEV_FUNDED_KEY, start_devchain  # noqa: E402
from anchoring.rewards import TallyRewards, deploy_rewards  # noqa: E402
from ledger.merkle import log as rfc9162  # noqa: E402
from ledger.merkle.memory import MemoryLog  # noqa: E402
from ledger.merkle.standard import StandardMerkleTree  # noqa: E402

CID = "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"  # a real CIDv1's length
PER_EPOCH = 10_000
TARGET = 100_000
"""The most an anchor may cost at a log of 2^20 leaves, whatever its proof (the longest: 22 elements)."""
CLAIM_TARGET = 90_000
"""The most a claim with a 20-element proof should cost (Uniswap's merkle-distributor: 78k-96k)."""


@dataclass
class Row:
    what: str
    proof: int | None
    gas: int
    per_contribution: float | None = None
    execution: int | None = None
    previous: int | None = None
    """For an anchor of epoch 2: the size of epoch 1's log, and how many leaves epoch 2 adds."""
    grow: int | None = None


def contribution(i: int) -> tuple[int, str, bytes, int, int]:
    contributor = Web3.to_checksum_address(hashlib.sha256(b"account %d" % (i % 50_000)).digest()[:20])
    return i, contributor, hashlib.sha256(b"conversation %d" % i).digest(), 1_760_000_000 + i, 100 + i % 900


def build_log(size: int) -> MemoryLog:
    return MemoryLog(rfc9162.leaf_hash(rfc9162.leaf_data(*contribution(i))) for i in range(size))


def intrinsic_gas(data: bytes) -> int:
    zeros = data.count(0)
    return 21_000 + 4 * zeros + 16 * (len(data) - zeros)


def send(w3: Web3, account: LocalAccount, fn: Any) -> tuple[Any, bytes]:
    """The receipt of ``fn``'s transaction, and its calldata."""
    tx = fn.build_transaction({"from": account.address, "nonce": w3.eth.get_transaction_count(account.address)})
    signed = account.sign_transaction(tx)
    receipt = w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(signed.raw_transaction))
    if receipt["status"] != 1:
        raise RuntimeError(f"transaction failed: {receipt}")
    return receipt, bytes.fromhex(str(tx["data"])[2:])


def header(epoch: int, log: MemoryLog, size: int, balances_root: bytes, total: int) -> EpochHeader:
    return EpochHeader(epoch, size, log.root(size), balances_root, total)


def measure(w3: Web3, account: LocalAccount, quick: bool) -> list[Row]:
    rows: list[Row] = []
    if quick:
        cases = [("1 leaf", 1, 1000), ("2^10 leaves", 2**10, 1000), ("2^10 - 1 leaves", 2**10 - 1, 1000),
                 ("2^10 leaves", 2**10, PER_EPOCH), ("2^10 - 1 leaves", 2**10 - 1, PER_EPOCH)]
        size = 2**10
    else:
        cases = [
            ("1 leaf", 1, 1000),
            ("2^10 leaves", 2**10, 1000),
            ("2^20 leaves", 2**20, 1000),
            ("2^20 leaves", 2**20, PER_EPOCH),
            ("1,000,000 leaves", 1_000_000, 1000),
            ("1,000,000 leaves", 1_000_000, PER_EPOCH),
            ("2^20 - 1 leaves", 2**20 - 1, 1000),
            ("2^20 - 1 leaves", 2**20 - 1, PER_EPOCH),
        ]
        size = 2**20
    largest = max(max(a + b for _, a, b in cases), size)
    started = time.perf_counter()
    log = build_log(largest)
    print(f"hashed a log of {largest:,} leaves in {time.perf_counter() - started:.1f} s", file=sys.stderr)

    deployment = deploy_tally_anchor(w3, account)
    first = TallyAnchor(w3, deployment.address)
    receipt, data = send(w3, account, first.anchor_function(
        GENESIS_HEADER, header(1, log, 1000, b"\1" * 32, 1), CID, []))
    gas = int(receipt["gasUsed"])
    rows.append(Row("anchor: the first epoch (1,000 leaves, empty proof)", 0, gas,
                    execution=gas - intrinsic_gas(data)))

    for label, previous, grow in cases:
        contract = TallyAnchor(w3, deploy_tally_anchor(w3, account).address)
        one = header(1, log, previous, b"\1" * 32, 1)
        send(w3, account, contract.anchor_function(GENESIS_HEADER, one, CID, []))
        new = previous + grow
        proof = log.consistency_proof(previous, new)
        receipt, data = send(w3, account, contract.anchor_function(
            one, header(2, log, new, b"\2" * 32, 2), CID, proof))
        gas = int(receipt["gasUsed"])
        rows.append(Row(f"anchor: {label}, +{grow:,}", len(proof), gas, gas / grow, gas - intrinsic_gas(data),
                        previous, grow))

    started = time.perf_counter()
    accounts = [
        [Web3.to_checksum_address(hashlib.sha256(b"holder %d" % i).digest()[:20]), 1000 + i] for i in range(size)
    ]
    balances = StandardMerkleTree.of(accounts, ["address", "uint256"])
    print(f"built a balances tree of {size:,} accounts in {time.perf_counter() - started:.1f} s", file=sys.stderr)

    views = TallyAnchor(w3, deploy_tally_anchor(w3, account).address)
    anchored = header(1, log, size, bytes.fromhex(balances.root[2:]), 1)
    send(w3, account, views.anchor_function(GENESIS_HEADER, anchored, CID, []))
    label = "2^20" if size == 2**20 else f"{size:,}"
    for index in (0, size // 3, size - 1):
        i, contributor, content_hash, accepted_at, points = contribution(index)
        proof = log.inclusion_proof(index, size)
        fn = views.contract.functions.verifyContribution(
            anchored.as_tuple(), i, contributor, content_hash, accepted_at, points, proof)
        if fn.call() is not True:
            raise RuntimeError("inclusion proof refused")
        rows.append(view_row(w3, views, fn, f"verifyContribution: leaf {index:,} of {label}", len(proof)))
    for index in (0, size // 2):
        account_, balance = accounts[index]
        proof_hex = balances.get_proof(index)
        fn = views.contract.functions.verifyBalance(
            anchored.as_tuple(), account_, balance, [bytes.fromhex(p[2:]) for p in proof_hex])
        if fn.call() is not True:
            raise RuntimeError("balance proof refused")
        rows.append(view_row(w3, views, fn, f"verifyBalance: account {index:,} of {label}", len(proof_hex)))

    rows.extend(measure_claims(w3, account, views, log, anchored, accounts, balances, label))

    deployed = w3.eth.get_transaction_receipt(deployment.transaction_hash)  # type: ignore[arg-type]
    rows.append(Row("deployment", None, int(deployed["gasUsed"])))
    return rows


def measure_claims(w3: Web3, account: LocalAccount, anchor: TallyAnchor, log: MemoryLog, previous: EpochHeader,
                   accounts: list[list[Any]], balances: StandardMerkleTree, label: str) -> list[Row]:
    """``claim`` of TallyRewards (paying TallyPoints) over ``anchor``, for an account of a balances
    tree of ``len(accounts)`` accounts, sent by another account: first to an account that never
    held the token (its ``claimed`` slot and its token balance go from zero to nonzero), then again
    by the same account one epoch later, its balance raised by 500 (both slots nonzero already)."""
    rows: list[Row] = []
    rewards = TallyRewards(w3, deploy_rewards(w3, account, anchor.address).address)
    holder, balance = accounts[0]
    tree = balances
    for again, what in ((False, "a fresh account"), (True, "the same account again")):
        if again:
            accounts[0][1] = balance = balance + 500
            tree = StandardMerkleTree.of(accounts, ["address", "uint256"])
        total = sum(int(b) for _, b in accounts)
        new = EpochHeader(previous.epoch + 1, previous.log_size, previous.log_root, bytes.fromhex(tree.root[2:]), total)
        send(w3, account, anchor.anchor_function(previous, new, CID, []))
        previous = new
        proof = [bytes.fromhex(p[2:]) for p in tree.get_proof(0)]
        receipt, data = send(w3, account, rewards.claim_function(new, holder, balance, proof))
        gas = int(receipt["gasUsed"])
        rows.append(Row(f"claim: {what}, account 0 of {label}", len(proof), gas, execution=gas - intrinsic_gas(data)))
    if rewards.claimed(holder) != balance:
        raise RuntimeError("the claims did not pay")
    return rows


def view_row(w3: Web3, contract: TallyAnchor, fn: Any, what: str, proof: int) -> Row:
    data = bytes.fromhex(fn._encode_transaction_data()[2:])
    gas = int(w3.eth.estimate_gas({"to": contract.address, "data": data.hex()}))  # type: ignore[typeddict-item]
    return Row(what, proof, gas, execution=gas - intrinsic_gas(data))


def table(rows: Sequence[Row]) -> str:
    lines = [
        "| call | proof elements | gas | gas per new contribution | execution gas (without 21,000 + calldata) |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        proof = "" if r.proof is None else f"{r.proof}"
        per = "" if r.per_contribution is None else f"{r.per_contribution:,.1f}"
        execution = "" if r.execution is None else f"{r.execution:,}"
        lines.append(f"| {r.what} | {proof} | {r.gas:,} | {per} | {execution} |")
    return "\n".join(lines)


def summary(rows: Sequence[Row], size: int) -> str:
    """The worst and the best anchor at ``size`` leaves beside ``TARGET``, and the gas per
    contribution at ``PER_EPOCH`` contributions per epoch."""
    label = "2^20" if size == 2**20 else f"2^{size.bit_length() - 1}"

    def anchor(previous: int, grow: int) -> Row:
        return next(r for r in rows if (r.previous, r.grow) == (previous, grow))

    worst, best = anchor(size - 1, 1000), anchor(size, 1000)
    per_worst, per_best = anchor(size - 1, PER_EPOCH), anchor(size, PER_EPOCH)
    fresh, repeat = (next(r for r in rows if r.what.startswith(f"claim: {what}")) for what in ("a fresh", "the same"))
    return "\n".join([
        f"anchor at {label} leaves: worst {worst.gas:,} gas ({label} - 1 -> +1,000, {worst.proof}-element proof), "
        f"best {best.gas:,} gas ({label} -> +1,000, {best.proof}-element proof)",
        f"target: at most {TARGET:,} gas in the worst case at 2^20 leaves; worst / target = "
        f"{worst.gas / TARGET:.2f}, best / target = {best.gas / TARGET:.2f}"
        + (f" ({'met' if worst.gas <= TARGET else 'NOT MET'})" if size == 2**20 else f" (at {label} leaves)"),
        f"per contribution at {PER_EPOCH:,} per epoch: {per_best.gas / PER_EPOCH:.1f} to "
        f"{per_worst.gas / PER_EPOCH:.1f} gas ({per_best.proof} to {per_worst.proof} proof elements)",
        f"claim with a {fresh.proof}-element proof: {fresh.gas:,} gas to a fresh account, {repeat.gas:,} again; "
        f"target {CLAIM_TARGET:,}: fresh / target = {fresh.gas / CLAIM_TARGET:.2f} "
        f"({'met' if fresh.gas <= CLAIM_TARGET else 'NOT MET'}: two zero slots written, 2 x 22,100), "
        f"repeat / target = {repeat.gas / CLAIM_TARGET:.2f} ({'met' if repeat.gas <= CLAIM_TARGET else 'NOT MET'})",
    ])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes only")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="tally-gas-") as home:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        chain = start_devchain(Path(home), port=port)
        try:
            w3 = connect(f"http://127.0.0.1:{port}")
            account: LocalAccount = Account.from_key(DEV_FUNDED_KEY)
            info: Any = chain.rpc("anvil_nodeInfo")
            hardfork = info.get("hardFork", "?")
            rows = measure(w3, account, args.quick)
        finally:
            chain.stop()
    print(f"anvil (hardfork {hardfork}), TallyAnchor from anchoring/artifacts (solc 0.8.28, optimizer 10,000 runs)")
    print()
    print(table(rows))
    print()
    print(summary(rows, 2**10 if args.quick else 2**20))
    return 0


if __name__ == "__main__":
    sys.exit(main())
