// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {RFC9162} from "../RFC9162.sol";

/// @dev Test-only: exposes the RFC9162 library, and checks many proofs per eth_call so that the
/// exhaustive tests stay fast (one call per few thousand proofs instead of one each).
contract RFC9162Harness {
    struct InclusionCase {
        uint256 index;
        uint256 size;
        bytes32 leaf;
        bytes32 root;
        bytes32[] proof;
    }

    struct ConsistencyCase {
        uint256 first;
        uint256 second;
        bytes32 firstRoot;
        bytes32 secondRoot;
        bytes32[] proof;
    }

    /// @dev Appended to proofs by the mutation batches; any constant hash will do.
    bytes32 private constant EXTRA = keccak256("tally: appended proof element");

    function hashLeaf(bytes calldata data) external pure returns (bytes32) {
        return RFC9162.hashLeaf(data);
    }

    function hashChildren(bytes32 left, bytes32 right) external view returns (bytes32) {
        return RFC9162.hashChildren(left, right);
    }

    function verifyInclusion(uint256 index, uint256 size, bytes32 leaf, bytes32[] calldata proof, bytes32 root)
        external
        view
        returns (bool)
    {
        return RFC9162.verifyInclusion(index, size, leaf, proof, root);
    }

    function verifyConsistency(
        uint256 first,
        uint256 second,
        bytes32 firstRoot,
        bytes32 secondRoot,
        bytes32[] calldata proof
    ) external view returns (bool) {
        return RFC9162.verifyConsistency(first, second, firstRoot, secondRoot, proof);
    }

    /// @return results One bit per case, bit i set when case i verified.
    function verifyInclusionBatch(InclusionCase[] calldata cases) external view returns (bytes memory results) {
        results = new bytes((cases.length + 7) / 8);
        for (uint256 i = 0; i < cases.length; ++i) {
            InclusionCase calldata c = cases[i];
            if (RFC9162.verifyInclusion(c.index, c.size, c.leaf, c.proof, c.root)) _set(results, i);
        }
    }

    /// @return results One bit per case, bit i set when case i verified.
    function verifyConsistencyBatch(ConsistencyCase[] calldata cases) external view returns (bytes memory results) {
        results = new bytes((cases.length + 7) / 8);
        for (uint256 i = 0; i < cases.length; ++i) {
            ConsistencyCase calldata c = cases[i];
            if (RFC9162.verifyConsistency(c.first, c.second, c.firstRoot, c.secondRoot, c.proof)) _set(results, i);
        }
    }

    /// @notice Checks every mutation of valid inclusion proofs that no verifier may accept: each
    /// element with one bit flipped, each element dropped, one element appended, the leaf or the
    /// root with a bit flipped, and indexes `size`, `size + 1`, 2^64 - 1 and 2^256 - 1.
    /// @return tried The number of mutations checked.
    /// @return accepted One bit per case, set when any mutation of case i was accepted.
    function mutateInclusionBatch(InclusionCase[] calldata cases, uint256 seed)
        external
        view
        returns (uint256 tried, bytes memory accepted)
    {
        accepted = new bytes((cases.length + 7) / 8);
        uint256 freeMemory = _freeMemory();
        for (uint256 i = 0; i < cases.length; ++i) {
            InclusionCase calldata c = cases[i];
            bytes32[] memory proof = c.proof;
            bool any;
            for (uint256 j = 0; j < proof.length; ++j) {
                bytes32 original = proof[j];
                proof[j] = _flip(original, seed, i, j);
                any = any || RFC9162.verifyInclusion(c.index, c.size, c.leaf, proof, c.root);
                proof[j] = original;
                any = any || RFC9162.verifyInclusion(c.index, c.size, c.leaf, _without(proof, j), c.root);
            }
            any = any || RFC9162.verifyInclusion(c.index, c.size, c.leaf, _appended(proof), c.root);
            any = any || RFC9162.verifyInclusion(c.index, c.size, _flip(c.leaf, seed, i, 99), proof, c.root);
            any = any || RFC9162.verifyInclusion(c.index, c.size, c.leaf, proof, _flip(c.root, seed, i, 98));
            any = any || RFC9162.verifyInclusion(c.size, c.size, c.leaf, proof, c.root);
            any = any || RFC9162.verifyInclusion(c.size + 1, c.size, c.leaf, proof, c.root);
            any = any || RFC9162.verifyInclusion(type(uint64).max, c.size, c.leaf, proof, c.root);
            any = any || RFC9162.verifyInclusion(type(uint256).max, c.size, c.leaf, proof, c.root);
            tried += 2 * proof.length + 7;
            if (any) _set(accepted, i);
            _resetMemory(freeMemory);
        }
    }

    /// @notice Checks every mutation of valid consistency proofs that no verifier may accept: each
    /// element with one bit flipped, each element dropped, one element appended, and either root
    /// with a bit flipped (except the second root when the first tree is empty: every tree extends
    /// the empty one, so nothing is claimed about it).
    /// @return tried The number of mutations checked.
    /// @return accepted One bit per case, set when any mutation of case i was accepted.
    function mutateConsistencyBatch(ConsistencyCase[] calldata cases, uint256 seed)
        external
        view
        returns (uint256 tried, bytes memory accepted)
    {
        accepted = new bytes((cases.length + 7) / 8);
        uint256 freeMemory = _freeMemory();
        for (uint256 i = 0; i < cases.length; ++i) {
            ConsistencyCase calldata c = cases[i];
            bytes32[] memory proof = c.proof;
            bool any;
            for (uint256 j = 0; j < proof.length; ++j) {
                bytes32 original = proof[j];
                proof[j] = _flip(original, seed, i, j);
                any = any || RFC9162.verifyConsistency(c.first, c.second, c.firstRoot, c.secondRoot, proof);
                proof[j] = original;
                any = any
                    || RFC9162.verifyConsistency(c.first, c.second, c.firstRoot, c.secondRoot, _without(proof, j));
            }
            any = any || RFC9162.verifyConsistency(c.first, c.second, c.firstRoot, c.secondRoot, _appended(proof));
            bytes32 badFirst = _flip(c.firstRoot, seed, i, 97);
            any = any || RFC9162.verifyConsistency(c.first, c.second, badFirst, c.secondRoot, proof);
            tried += 2 * proof.length + 2;
            if (c.first != 0 || c.second == 0) {
                bytes32 badSecond = _flip(c.secondRoot, seed, i, 96);
                any = any || RFC9162.verifyConsistency(c.first, c.second, c.firstRoot, badSecond, proof);
                tried += 1;
            }
            if (any) _set(accepted, i);
            _resetMemory(freeMemory);
        }
    }

    /// @dev A different bit for every element of every case, so that all 256 positions are hit.
    function _flip(bytes32 h, uint256 seed, uint256 i, uint256 j) private pure returns (bytes32) {
        return h ^ bytes32(uint256(1) << ((seed + i * 31 + j * 7) % 256));
    }

    function _without(bytes32[] memory proof, uint256 j) private pure returns (bytes32[] memory shorter) {
        shorter = new bytes32[](proof.length - 1);
        for (uint256 k = 0; k < shorter.length; ++k) {
            shorter[k] = proof[k < j ? k : k + 1];
        }
    }

    function _appended(bytes32[] memory proof) private pure returns (bytes32[] memory longer) {
        longer = new bytes32[](proof.length + 1);
        for (uint256 k = 0; k < proof.length; ++k) {
            longer[k] = proof[k];
        }
        longer[proof.length] = EXTRA;
    }

    function _set(bytes memory bits, uint256 i) private pure {
        bits[i / 8] |= bytes1(uint8(1 << (i % 8)));
    }

    function _freeMemory() private pure returns (uint256 pointer) {
        assembly {
            pointer := mload(0x40)
        }
    }

    /// @dev Memory costs grow quadratically within a call: drop each case's scratch arrays once
    /// the case is done, or a batch would run out of gas on memory alone.
    function _resetMemory(uint256 pointer) private pure {
        assembly {
            mstore(0x40, pointer)
        }
    }
}
