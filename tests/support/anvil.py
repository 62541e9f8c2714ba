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
    from anchoring.artifact import load_artifact
    from anchoring.deploy import deploy_tally_anchor

    deployment = deploy_tally_anchor(w3, account, admin_delay=3600)
    return w3.eth.contract(address=deployment.address, abi=load_artifact().abi)
