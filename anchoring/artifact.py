"""The compiled contracts, committed in this package so that running Tally needs no Node.

``anchoring/artifacts/{TallyAnchor,TallyRewards,TallyPoints}.json`` are written by ``npm run
export-artifact`` (a Hardhat task in ``hardhat.config.js``) and checked against a fresh compile by
the Hardhat suite. Each holds the ABI, the creation and runtime bytecode, where the runtime code
holds immutables (TallyRewards only), the compiler's metadata and the standard JSON input that
block explorers need for source verification (see ``docs/contract.md``).

The runtime bytecode ends with solc's CBOR metadata trailer, which names the IPFS hash of the
metadata JSON; the metadata in turn pins the keccak256 of every source file. So the code found at
an address proves which sources it was built from: :func:`metadata_trailer` reads the trailer and
:func:`ipfs_multihash` recomputes the hash solc embeds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from ledger.content import cbor
from ledger.content.cids import base58btc
from ledger.content.errors import CborError
from ledger.content.unixfs import CHUNK_SIZE, file_cid
from ledger.errors import VerificationFailure

__all__ = [
    "ARTIFACT_FORMAT",
    "ArtifactError",
    "ContractArtifact",
    "base58btc",
    "ipfs_cid_v0",
    "ipfs_multihash",
    "load_artifact",
    "metadata_trailer",
]

ARTIFACT_FORMAT = "tally-contract-artifact-1"


class ArtifactError(VerificationFailure, ValueError):
    """The committed artifact, or code compared with it, is not what it should be."""


@dataclass(frozen=True)
class ContractArtifact:
    """One compiled contract: everything needed to deploy it, call it and verify its source."""

    contract_name: str
    source_name: str
    compiler_version: str
    """solc's long version, e.g. ``0.8.28+commit.7893614a``."""
    abi: list[dict[str, Any]]
    bytecode: bytes
    """Creation code: deploy it with the ABI-encoded constructor arguments appended."""
    deployed_bytecode: bytes
    """Runtime code, exactly what ``eth_getCode`` returns once deployed (no immutables, no links)."""
    metadata: str
    """solc's metadata JSON, byte for byte: its IPFS hash is in the runtime code's trailer."""
    standard_json_input: dict[str, Any]
    """The solc standard JSON input that rebuilds this bytecode (what source verification takes)."""
    immutables: tuple[tuple[int, int], ...] = ()
    """``(start, length)`` of each immutable in the runtime code: zero in ``deployed_bytecode``,
    written by the constructor at deployment."""

    @property
    def metadata_cid(self) -> str:
        """The CIDv0 (``Qm...``) under which IPFS and Sourcify know the metadata."""
        return ipfs_cid_v0(self.metadata.encode())

    def matches_code(self, code: bytes) -> bool:
        """Whether ``code`` (from ``eth_getCode``) is this contract's runtime code, whatever values
        its constructor gave the immutables."""
        code = bytes(code)
        if len(code) != len(self.deployed_bytecode):
            return False
        return self.without_immutables(code) == self.deployed_bytecode

    def without_immutables(self, code: bytes) -> bytes:
        """``code`` with the immutables' words zeroed, as solc leaves them in ``deployed_bytecode``."""
        out = bytearray(code)
        for start, length in self.immutables:
            out[start:start + length] = bytes(length)
        return bytes(out)


def _hex_bytes(value: str, what: str) -> bytes:
    if not value.startswith("0x"):
        raise ArtifactError(f"{what} is not 0x-hex")
    return bytes.fromhex(value[2:])


@cache
def load_artifact(name: str = "TallyAnchor") -> ContractArtifact:
    """The committed artifact of contract ``name`` (read once, then cached)."""
    text = resources.files("anchoring.artifacts").joinpath(f"{name}.json").read_text("utf-8")
    data = json.loads(text)
    if data.get("_format") != ARTIFACT_FORMAT:
        raise ArtifactError(f"{name}.json is not a {ARTIFACT_FORMAT} file")
    return ContractArtifact(
        contract_name=data["contractName"],
        source_name=data["sourceName"],
        compiler_version=data["compiler"]["longVersion"],
        abi=data["abi"],
        bytecode=_hex_bytes(data["bytecode"], "bytecode"),
        deployed_bytecode=_hex_bytes(data["deployedBytecode"], "deployedBytecode"),
        metadata=data["metadata"],
        standard_json_input=data["standardJsonInput"],
        immutables=tuple((int(r["start"]), int(r["length"])) for r in data.get("immutableReferences", ())),
    )


# --- solc's metadata trailer ----------------------------------------------------------------


def metadata_trailer(code: bytes) -> dict[str, bytes | str | bool]:
    """The CBOR map solc appends to runtime code, e.g. ``{"ipfs": <34 bytes>, "solc": b"\\x00\\x08\\x1c"}``.

    The last two bytes of the code give the map's length. Only what solc writes is decoded: a map
    with text keys and byte-string, text or boolean values. Raises :class:`ArtifactError` otherwise.
    """
    code = bytes(code)
    if len(code) < 2:
        raise ArtifactError("code too short for a metadata trailer")
    length = int.from_bytes(code[-2:], "big")
    if length + 2 > len(code):
        raise ArtifactError("metadata trailer length exceeds the code")
    return _decode_cbor_map(code[-2 - length : -2])


def _cbor_head(data: bytes, i: int) -> tuple[int, int, int]:
    """Major type, argument and the index after the head of the CBOR item at ``i``."""
    try:
        return cbor.decode_head(data, i)
    except CborError as exc:
        raise ArtifactError(str(exc)) from None


def _cbor_string(data: bytes, i: int, n: int) -> bytes:
    if i + n > len(data):
        raise ArtifactError("truncated CBOR")
    return data[i : i + n]


def _cbor_text(data: bytes, i: int, n: int) -> str:
    try:
        return _cbor_string(data, i, n).decode()
    except UnicodeDecodeError:
        raise ArtifactError("CBOR text in the metadata trailer is not UTF-8") from None


def _decode_cbor_map(data: bytes) -> dict[str, bytes | str | bool]:
    major, count, i = _cbor_head(data, 0)
    if major != cbor.MAP:
        raise ArtifactError("metadata trailer is not a CBOR map")
    out: dict[str, bytes | str | bool] = {}
    for _ in range(count):
        major, n, i = _cbor_head(data, i)
        if major != cbor.TEXT:
            raise ArtifactError("metadata trailer key is not a text string")
        key, i = _cbor_text(data, i, n), i + n
        major, n, i = _cbor_head(data, i)
        value: bytes | str | bool
        if major == cbor.BYTES:
            value, i = _cbor_string(data, i, n), i + n
        elif major == cbor.TEXT:
            value, i = _cbor_text(data, i, n), i + n
        elif major == cbor.SIMPLE and n in (20, 21):  # false, true
            value = n == 21
        else:
            raise ArtifactError(f"unsupported CBOR value for {key!r}")
        out[key] = value
    if i != len(data):
        raise ArtifactError("trailing bytes after the metadata trailer")
    return out


# --- IPFS hashes, as solc computes them -----------------------------------------------------


def ipfs_multihash(data: bytes) -> bytes:
    """The sha2-256 multihash of ``data`` added to IPFS as one UnixFS file with default settings.

    That is the hash solc embeds for the metadata (and ``ipfs add`` prints as CIDv0): a dag-pb
    node holding a UnixFS ``File`` with the data inline, built by the ledger's own importer
    (:func:`ledger.content.unixfs.file_cid` without raw leaves). Metadata is far below the 256 KiB
    chunk size, so only single-block files are accepted: a bigger one is not what solc hashed.
    """
    if len(data) > CHUNK_SIZE:
        raise ArtifactError("only single-chunk files (up to 256 KiB) are supported")
    return file_cid(data, cid_version=0, raw_leaves=False).multihash


def ipfs_cid_v0(data: bytes) -> str:
    """The CIDv0 (``Qm...``) of ``data`` added to IPFS as one file with default settings."""
    return base58btc(ipfs_multihash(data))
