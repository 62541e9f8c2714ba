"""EIP-55 checksums: ours (on tiny_keccak) against the EIP's vectors and against eth_utils."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from eth_utils.address import to_checksum_address

from ledger.encoding import InvalidAddressError, checksum, has_valid_case, parse_address

VECTORS = json.loads((Path(__file__).parent / "vectors" / "eip55.json").read_text())


@pytest.mark.parametrize("address", VECTORS["checksummed"])
def test_checksum_of_the_eip_vectors(address: str) -> None:
    # The all-caps and all-lower vectors are addresses whose checksum has no letter to change.
    assert checksum(address.lower()) == address
    assert checksum(address.upper().replace("0X", "0x")) == address
    assert parse_address(address) == address
    assert has_valid_case(address)


@pytest.mark.parametrize("address", VECTORS["invalid_case"])
def test_a_wrong_mixed_case_is_refused(address: str) -> None:
    assert not has_valid_case(address)
    with pytest.raises(InvalidAddressError, match="EIP-55"):
        parse_address(address, "account")


def test_checksum_agrees_with_eth_utils_on_random_addresses() -> None:
    rng = random.Random(55)
    for _ in range(2000):
        address = "0x" + rng.randbytes(20).hex()
        assert checksum(address) == to_checksum_address(address)
        assert has_valid_case(to_checksum_address(address))
