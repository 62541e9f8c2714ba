// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Merkle tree proofs of RFC 9162 (Certificate Transparency 2.0), §2.1, with SHA-256
/// @notice Verifies audit paths (inclusion proofs, RFC 9162 §2.1.3.2) and consistency proofs
/// (RFC 9162 §2.1.4.2) for the append-only log whose tree shape RFC 9162 §2.1.1 defines:
/// leaves are `SHA-256(0x00 || data)`, interior nodes `SHA-256(0x01 || left || right)`, and the
/// empty tree's root is `SHA-256("")`.
/// @dev Sizes and indexes are `uint256` so that callers need no casts; both algorithms consume at
/// most one proof element per bit of the tree size, so an over-long proof is refused, never looped on.
library RFC9162 {
    /// @notice The root of the empty tree, `SHA-256("")` (RFC 9162 §2.1.1).
    bytes32 internal constant EMPTY_ROOT = 0xe3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855;

    /// @notice The leaf hash of RFC 9162 §2.1.1: `SHA-256(0x00 || data)`.
    function hashLeaf(bytes memory data) internal pure returns (bytes32) {
        return sha256(bytes.concat(bytes1(0x00), data));
    }

    /// @notice The interior node hash of RFC 9162 §2.1.1: `SHA-256(0x01 || left || right)`.
    /// @dev `view`, not `pure`, only because Solidity counts any `staticcall` as reading state,
    /// even one to the SHA-256 precompile. Written in assembly because proofs hash up to two nodes
    /// per element, and `sha256(abi.encodePacked(...))` would allocate fresh memory for each.
    function hashChildren(bytes32 left, bytes32 right) internal view returns (bytes32 node) {
        assembly ("memory-safe") {
            // The 65 bytes after the free memory pointer are scratch: nothing keeps them.
            let buffer := mload(0x40)
            mstore8(buffer, 0x01)
            mstore(add(buffer, 0x01), left)
            mstore(add(buffer, 0x21), right)
            // The precompile at address 2 is SHA-256; it fails only when out of gas.
            if iszero(staticcall(gas(), 0x02, buffer, 0x41, 0x00, 0x20)) { revert(0, 0) }
            node := mload(0x00)
        }
    }

    /// @notice Whether `proof` is the audit path that places the leaf hash `leaf` at `index` in the
    /// tree of `size` leaves whose root is `root` (RFC 9162 §2.1.3.2).
    /// @dev Returns false, never reverts, for any malformed input, including `index >= size`.
    function verifyInclusion(uint256 index, uint256 size, bytes32 leaf, bytes32[] memory proof, bytes32 root)
        internal
        view
        returns (bool)
    {
        if (index >= size) return false;
        uint256 fn = index;
        uint256 sn = size - 1;
        bytes32 r = leaf;
        for (uint256 i = 0; i < proof.length; ++i) {
            if (sn == 0) return false;
            if (fn & 1 == 1 || fn == sn) {
                r = hashChildren(proof[i], r);
                // The leaf's ancestor is the last node of its level and has no right sibling:
                // climb the levels where it is promoted unchanged (RFC 9162 §2.1.3.2 step 4).
                while (fn & 1 == 0 && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
            } else {
                r = hashChildren(r, proof[i]);
            }
            fn >>= 1;
            sn >>= 1;
        }
        return sn == 0 && r == root;
    }

    /// @notice Whether `proof` shows that the tree of `first` leaves with root `firstRoot` is a
    /// prefix of the tree of `second` leaves with root `secondRoot` (RFC 9162 §2.1.4.2).
    /// @dev RFC 9162 §2.1.4.1 proves nothing for `first == second` or `first == 0`, where the proof
    /// is empty: equal sizes need equal roots, and the empty tree (whose root must be
    /// `SHA-256("")`) is a prefix of every tree. Returns false, never reverts, for malformed input.
    function verifyConsistency(
        uint256 first,
        uint256 second,
        bytes32 firstRoot,
        bytes32 secondRoot,
        bytes32[] memory proof
    ) internal view returns (bool ok) {
        if (first > second) return false;
        if (first == second) return proof.length == 0 && firstRoot == secondRoot;
        if (first == 0) return proof.length == 0 && firstRoot == EMPTY_ROOT;
        if (proof.length == 0) return false;

        // The loop of §2.1.4.2, in assembly because it is most of what `anchor` executes: this
        // saves ~200 gas per element (~4,600 on a 22-element proof). No bounds or overflow checks
        // are needed: each element is read once, in order, and `fn`, `sn` only ever shift right.
        // The preimage is built in place, as in `hashChildren`.
        assembly ("memory-safe") {
            // The 65 bytes after the free memory pointer are the preimage `0x01 || left || right`.
            let buffer := mload(0x40)
            mstore8(buffer, 0x01)
            let element := add(proof, 0x20)
            let end := add(element, shl(5, mload(proof)))
            // When the first tree is a perfect subtree of the second, its root is the proof's
            // implicit first element (RFC 9162 §2.1.4.2 step 2).
            let fr := firstRoot
            if and(first, sub(first, 1)) {
                fr := mload(element)
                element := add(element, 0x20)
            }
            let sr := fr
            let fn := sub(first, 1)
            let sn := sub(second, 1)
            for {} and(fn, 1) {} {
                fn := shr(1, fn)
                sn := shr(1, sn)
            }
            ok := 1
            for {} lt(element, end) { element := add(element, 0x20) } {
                if iszero(sn) {
                    ok := 0
                    break
                }
                let c := mload(element)
                switch or(and(fn, 1), eq(fn, sn))
                case 0 {
                    // sr = HASH(0x01 || sr || c)
                    mstore(add(buffer, 0x01), sr)
                    mstore(add(buffer, 0x21), c)
                    if iszero(staticcall(gas(), 0x02, buffer, 0x41, 0x00, 0x20)) { revert(0, 0) }
                    sr := mload(0x00)
                }
                default {
                    // fr = HASH(0x01 || c || fr), then sr = HASH(0x01 || c || sr): c stays on the left.
                    mstore(add(buffer, 0x01), c)
                    mstore(add(buffer, 0x21), fr)
                    if iszero(staticcall(gas(), 0x02, buffer, 0x41, 0x00, 0x20)) { revert(0, 0) }
                    fr := mload(0x00)
                    mstore(add(buffer, 0x21), sr)
                    if iszero(staticcall(gas(), 0x02, buffer, 0x41, 0x00, 0x20)) { revert(0, 0) }
                    sr := mload(0x00)
                    // Climb the levels where the first tree's last node is promoted unchanged.
                    for {} iszero(or(and(fn, 1), iszero(fn))) {} {
                        fn := shr(1, fn)
                        sn := shr(1, sn)
                    }
                }
                fn := shr(1, fn)
                sn := shr(1, sn)
            }
            ok := and(ok, and(iszero(sn), and(eq(fr, firstRoot), eq(sr, secondRoot))))
        }
    }
}
