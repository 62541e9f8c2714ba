"""The committed artifact, checked without Node: its sources are the files of this checkout, its
metadata pins them, and its runtime code names that metadata by IPFS hash.

The Hardhat suite (tests/contracts/artifact.test.js) also recompiles and compares the bytecode.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from web3 import Web3

from anchoring.artifact import (
    ArtifactError,
    base58btc,
    ipfs_cid_v0,
    ipfs_multihash,
    load_artifact,
    metadata_trailer,
)

ROOT = Path(__file__).resolve().parents[2]
STALE = "anchoring/artifacts/TallyAnchor.json is stale: run `npm run export-artifact` and commit it"


def source_path(name: str) -> Path:
    # Hardhat names sources by project path, and npm packages by their import path.
    return ROOT / name if name.startswith("contracts/") else ROOT / "node_modules" / name


def test_the_artifact_describes_tally_anchor_built_by_solc_0_8_28() -> None:
    artifact = load_artifact()
    assert (artifact.contract_name, artifact.source_name) == ("TallyAnchor", "contracts/TallyAnchor.sol")
    assert artifact.compiler_version == "0.8.28+commit.7893614a"
    names = {item.get("name") for item in artifact.abi}
    expected = {"anchor", "latestEpoch", "headerHash", "verifyContribution", "verifyBalance", "verifyConsistency"}
    expected |= {"EpochAnchored", "ANCHOR_ROLE", "InvalidConsistencyProof", "UnexpectedEpoch", "LogShrank"}
    expected |= {"EmptyRoot", "EmptyManifestCid", "UnknownEpoch", "InvalidAnchorer", "HeaderMismatch"}
    assert expected <= names
    # No immutables: the creation code carries the runtime code verbatim, as deployed.
    assert artifact.deployed_bytecode in artifact.bytecode
    assert len(artifact.deployed_bytecode) < 24_576  # EIP-170


def test_the_sources_of_the_artifact_are_the_files_of_this_checkout() -> None:
    sources = load_artifact().standard_json_input["sources"]
    assert "contracts/TallyAnchor.sol" in sources and "contracts/RFC9162.sol" in sources
    assert not any(name.startswith("contracts/test/") for name in sources)
    for name, source in sources.items():
        path = source_path(name)
        if not path.exists() and not name.startswith("contracts/"):
            pytest.skip("node_modules is not installed")
        assert path.read_text("utf-8") == source["content"], f"{name} changed: {STALE}"


def test_the_metadata_pins_every_source_and_the_settings() -> None:
    artifact = load_artifact()
    metadata = json.loads(artifact.metadata)
    sources = artifact.standard_json_input["sources"]
    assert set(metadata["sources"]) == set(sources)
    for name, source in sources.items():
        assert Web3.keccak(text=source["content"]).to_0x_hex() == metadata["sources"][name]["keccak256"]
    settings = artifact.standard_json_input["settings"]
    assert metadata["settings"]["optimizer"] == {"enabled": True, "runs": 10000}
    assert settings["optimizer"] == {"enabled": True, "runs": 10000}
    assert metadata["settings"]["evmVersion"] == settings["evmVersion"] == "cancun"
    assert metadata["settings"]["compilationTarget"] == {"contracts/TallyAnchor.sol": "TallyAnchor"}
    assert metadata["compiler"]["version"] == artifact.compiler_version
    assert metadata["output"]["abi"] == artifact.abi


def test_the_runtime_code_names_its_metadata_by_ipfs_hash() -> None:
    artifact = load_artifact()
    trailer = metadata_trailer(artifact.deployed_bytecode)
    assert set(trailer) == {"ipfs", "solc"}
    assert trailer["solc"] == bytes([0, 8, 28])
    assert trailer["ipfs"] == ipfs_multihash(artifact.metadata.encode())
    assert artifact.metadata_cid == base58btc(ipfs_multihash(artifact.metadata.encode()))
    assert artifact.metadata_cid.startswith("Qm")


def test_ipfs_hashes_match_ipfs_add() -> None:
    # `ipfs add` of "hello world\n" with default settings (CIDv0, dag-pb, UnixFS file).
    assert ipfs_cid_v0(b"hello world\n") == "QmT78zSuBmuS4z925WZfrqQ1qHaJ56DQaTfyMUF7F8ff5o"
    assert ipfs_cid_v0(b"") == "QmbFMke1KXqnYyBBWxB74N4c5SBnJMVAiMNRcGu6x1AwQH"
    with pytest.raises(ArtifactError):
        ipfs_multihash(bytes(256 * 1024 + 1))


@pytest.mark.parametrize(
    "code",
    [b"", b"\x00", b"\x60\x00\x00\x05", b"\x60\xa1\x61\x00\x03", b"\x60\xa1\x18\x00\x02"],
)
def test_malformed_trailers_are_refused(code: bytes) -> None:
    with pytest.raises(ArtifactError):
        metadata_trailer(code)


@pytest.mark.parametrize("name", ["TallyRewards", "TallyPoints"])
def test_the_rewards_artifacts_are_built_from_this_checkout_and_name_their_metadata(name: str) -> None:
    artifact = load_artifact(name)
    assert (artifact.contract_name, artifact.source_name) == (name, f"contracts/{name}.sol")
    assert artifact.compiler_version == "0.8.28+commit.7893614a"
    for source_name, source in artifact.standard_json_input["sources"].items():
        path = source_path(source_name)
        if not path.exists() and not source_name.startswith("contracts/"):
            pytest.skip("node_modules is not installed")
        assert path.read_text("utf-8") == source["content"], f"{source_name} changed: run `npm run export-artifact`"
    trailer = metadata_trailer(artifact.deployed_bytecode)
    assert trailer["ipfs"] == ipfs_multihash(artifact.metadata.encode())
    assert json.loads(artifact.metadata)["settings"]["compilationTarget"] == {f"contracts/{name}.sol": name}


def test_code_with_immutables_matches_whatever_their_values_and_nothing_else() -> None:
    rewards, points = load_artifact("TallyRewards"), load_artifact("TallyPoints")
    assert points.immutables == () and points.matches_code(points.deployed_bytecode)
    # The anchor, the token and the units per point, each read where claim() and its views need it.
    assert len(rewards.immutables) >= 3 and all(length == 32 for _, length in rewards.immutables)
    code = bytearray(rewards.deployed_bytecode)
    for start, length in rewards.immutables:
        assert code[start:start + length] == bytes(length)
        code[start:start + length] = bytes([0xAB]) * length
    assert rewards.matches_code(bytes(code)) and rewards.without_immutables(bytes(code)) == rewards.deployed_bytecode
    outside = next(i for i in range(len(code)) if all(not s <= i < s + n for s, n in rewards.immutables))
    code[outside] ^= 1
    assert not rewards.matches_code(bytes(code))
    assert not rewards.matches_code(rewards.deployed_bytecode + b"\0")
