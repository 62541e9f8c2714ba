// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Tally's public root of trust: one anchored header per epoch
/// @notice Each epoch anchors the root of Tally's append-only contribution log (an RFC 9162 Merkle
/// tree over SHA-256) and the root of its balances tree (an OpenZeppelin StandardMerkleTree over
/// `(address account, uint256 balance)`). Anyone can check a contribution, a balance or the
/// append-only history against these headers with the `verify*` views.
interface ITallyAnchor {
    /// @notice Epoch `epoch` was anchored. The manifest (every new leaf, the journal and every
    /// balance of the epoch) is the IPFS object `manifestCid`; only this event records it.
    event EpochAnchored(
        uint64 indexed epoch,
        uint64 logSize,
        bytes32 logRoot,
        bytes32 balancesRoot,
        uint128 totalPoints,
        string manifestCid
    );

    /// @notice `anchor` was called for `given` while the only epoch it accepts is `expected`.
    error UnexpectedEpoch(uint64 expected, uint64 given);
    /// @notice The new log has fewer leaves than the last anchored one: a log never shrinks.
    error LogShrank(uint64 previousSize, uint64 newSize);
    /// @notice The consistency proof does not show the last anchored log to be a prefix of the new
    /// one (RFC 9162 §2.1.4.2): the new log would rewrite history.
    error InvalidConsistencyProof();
    /// @notice A zero log root or balances root: the value of an uninitialised variable, never a
    /// hash, and unfixable once anchored.
    error EmptyRoot();
    /// @notice An empty manifest CID: the epoch would be anchored without its audit trail.
    error EmptyManifestCid();
    /// @notice The constructor was given the zero address as the anchoring key.
    error InvalidAnchorer(address anchorer);
    /// @notice `epoch` has not been anchored (epochs are numbered from 1 to `latestEpoch`).
    error UnknownEpoch(uint64 epoch, uint64 latestEpoch);

    /// @notice Anchors epoch `epoch`: its log of `logSize` leaves with RFC 9162 root `logRoot`, and
    /// its balances tree with root `balancesRoot` summing to `totalPoints`.
    /// @dev Refused unless `epoch` is the latest epoch plus one (the first is 1), the log did not
    /// shrink, and `consistencyProof` is an RFC 9162 §2.1.4 consistency proof from the previous
    /// epoch's log (for epoch 1: the empty log, with an empty proof) to the new one, checked with
    /// the algorithm of RFC 9162 §2.1.4.2. Only holders of `ANCHOR_ROLE` may call it.
    /// @param manifestCid The IPFS CID of the epoch's manifest, recorded in `EpochAnchored` only.
    function anchor(
        uint64 epoch,
        uint64 logSize,
        bytes32 logRoot,
        bytes32 balancesRoot,
        uint128 totalPoints,
        string calldata manifestCid,
        bytes32[] calldata consistencyProof
    ) external;

    /// @notice The number of the last anchored epoch; 0 before the first anchor. The next `anchor`
    /// must extend its log (RFC 9162 §2.1.4), or the empty tree before the first.
    function latestEpoch() external view returns (uint64);

    /// @notice The header anchored for `epoch`; all zero for an epoch not anchored (epoch 0 never is).
    /// @return logSize The number of leaves of the contribution log (RFC 9162 §2.1.1 tree size).
    /// @return logRoot The RFC 9162 §2.1.1 root of the contribution log.
    /// @return balancesRoot The OpenZeppelin StandardMerkleTree root of the balances.
    /// @return totalPoints The sum of all balances.
    /// @return anchoredAt The timestamp of the block that anchored the epoch.
    function epochs(uint64 epoch)
        external
        view
        returns (uint64 logSize, bytes32 logRoot, bytes32 balancesRoot, uint128 totalPoints, uint64 anchoredAt);

    /// @notice Whether the contribution `(index, contributor, contentHash, acceptedAt, points)` is
    /// leaf `index` of epoch `epoch`'s log, given its RFC 9162 §2.1.3 inclusion proof (audit path).
    /// @dev The leaf hash is `SHA-256(0x00 || abi.encode(index, contributor, contentHash,
    /// acceptedAt, points))` (RFC 9162 §2.1.1), checked with the algorithm of RFC 9162 §2.1.3.2
    /// against the epoch's log size and root. A wrong proof or `index >= logSize` gives false; an
    /// epoch not anchored reverts with `UnknownEpoch`.
    function verifyContribution(
        uint64 epoch,
        uint64 index,
        address contributor,
        bytes32 contentHash,
        uint64 acceptedAt,
        uint128 points,
        bytes32[] calldata proof
    ) external view returns (bool);

    /// @notice Whether `account` had `balance` in epoch `epoch`'s balances tree, given its
    /// OpenZeppelin StandardMerkleTree proof (the tree Tally publishes with each manifest).
    /// @dev The leaf is `keccak256(bytes.concat(keccak256(abi.encode(account, balance))))`, checked
    /// with OpenZeppelin's `MerkleProof`. An epoch not anchored reverts with `UnknownEpoch`. (This
    /// tree is not an RFC 9162 tree; the RFC's sections do not apply to it.)
    function verifyBalance(uint64 epoch, address account, uint256 balance, bytes32[] calldata proof)
        external
        view
        returns (bool);

    /// @notice Whether `proof` is an RFC 9162 §2.1.4 consistency proof from the log of `fromEpoch`
    /// to the log of `toEpoch`, checked with the algorithm of RFC 9162 §2.1.4.2.
    /// @dev `fromEpoch > toEpoch` gives false; equal epochs need an empty proof; an epoch not
    /// anchored reverts with `UnknownEpoch`.
    function verifyConsistency(uint64 fromEpoch, uint64 toEpoch, bytes32[] calldata proof)
        external
        view
        returns (bool);
}
