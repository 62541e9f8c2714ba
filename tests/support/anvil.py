"""A throw-away anvil chain and a freshly deployed TallyAnchor for integration tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from anchoring.devchain import DevChain, start_devchain
from tests.support.server import free_port


@contextmanager
def anvil(home: Path, **kwargs: object) -> Iterator[DevChain]:
    chain = start_devchain(home, port=free_port(), **kwargs)  # type: ignore[arg-type]
    try:
        yield chain
    finally:
        chain.stop()


def deploy_for_tests(w3, account):  # type: ignore[no-untyped-def]
    """Deploy TallyAnchor with ``account`` as admin and anchorer; returns the web3 contract."""
    import json

    from tests.conftest import ROOT

    committed = ROOT / "anchoring" / "artifacts" / "TallyAnchor.json"
    path = committed if committed.is_file() else ROOT / "artifacts/contracts/TallyAnchor.sol/TallyAnchor.json"
    artifact = json.loads(path.read_text())
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    tx = factory.constructor(account.address, account.address, 3600).build_transaction(
        {"from": account.address, "nonce": w3.eth.get_transaction_count(account.address)})
    signed = account.sign_transaction(tx)
    receipt = w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(signed.raw_transaction))
    return w3.eth.contract(address=receipt["contractAddress"], abi=artifact["abi"])
