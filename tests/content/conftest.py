"""Fixtures of the content suites: the shared js-ipfs daemon, a store and a raw client on it."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from ledger.content import IpfsStore
from tests.support.ipfs_daemon import IpfsDaemon, ipfs_daemon  # noqa: F401  (re-exported fixture)


@pytest.fixture
def ipfs_store(ipfs_daemon: IpfsDaemon) -> Iterator[IpfsStore]:  # noqa: F811
    with IpfsStore(ipfs_daemon.url, fetch_timeout=2, has_timeout=0.5) as store:
        yield store


@pytest.fixture
def raw_client(ipfs_daemon: IpfsDaemon) -> Iterator[Any]:  # noqa: F811
    """`ipfshttpclient` straight on the daemon: the node's own answers, to compare ours with."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its import warns about urllib3 3.0
        import ipfshttpclient  # type: ignore[import-untyped]
    client = ipfshttpclient.Client(ipfs_daemon.multiaddr, timeout=300)
    try:
        yield client
    finally:
        client.close()
