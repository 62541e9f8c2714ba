// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title Tally's public root of trust: one anchored header per epoch
/// @notice Each epoch anchors the root of Tally's append-only contribution log (an RFC 9162 Merkle
/// tree over SHA-256) and the root of its balances tree (an OpenZeppelin StandardMerkleTree over
/// `(address account, uint256 balance)`). The contract keeps one word per epoch, the hash of its
/// header; the header itself is in the epoch's `EpochAnchored` event and in every proof bundle.
/// Anyone can check a contribution, a balance or the append-only history with the `verify*`
/// views, giving them the header: a header that is not the anchored one reverts with
/// `HeaderMismatch`, so that "this is not the anchored header" is never mistaken for "wrong proof".
interface ITallyAnchor {
    /// @notice One epoch's header, as the ledger sealed it.
    /// @param epoch The epoch's number, from 1.
    /// @param logSize The number of leaves of the contribution log (RFC 9162 §2.1.1 tree size).
    /// @param logRoot The RFC 9162 §2.1.1 root of the contribution log (the Merkle Tree Hash).
    /// @param balancesRoot The OpenZeppelin StandardMerkleTree root of the balances.
    /// @param totalPoints The sum of all balances.
    /// @dev Its hash is `keccak256(abi.encode(epoch, logSize, logRoot, balancesRoot, totalPoints))`:
    /// five 32-byte words. Epoch 0 is never anchored; its header, the one epoch 1 extends, is
    /// `(0, 0, SHA-256(""), 0, 0)`: the empty log of RFC 9162 §2.1.1 and no balances.
    struct EpochHeader {
        uint64 epoch;
        uint64 logSize;
        bytes32 logRoot;
        bytes32 balancesRoot;
        uint128 totalPoints;
    }

    /// @notice Epoch `epoch` was anchored with the header `(epoch, logSize, logRoot, balancesRoot,
    /// totalPoints)`. The manifest (every new leaf, the journal and every balance of the epoch) is
    /// the IPFS object `manifestCid`; only this event records it.
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
    /// @notice The header given for epoch `epoch` hashes to `given`, but the one anchored (for
    /// epoch 0: the empty log's) hashes to `anchored`.
    error HeaderMismatch(uint64 epoch, bytes32 anchored, bytes32 given);
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

    /// @notice Anchors `header`: epoch `header.epoch`, its log of `header.logSize` leaves with
    /// RFC 9162 root `header.logRoot`, and its balances tree with root `header.balancesRoot`
    /// summing to `header.totalPoints`.
    /// @dev Refused unless `header.epoch` is the latest epoch plus one (the first is 1), its roots
    /// are not zero, `previous` is the latest epoch's header (for epoch 1: epoch 0's, the empty
    /// log), the log did not shrink, and `consistencyProof` is an RFC 9162 §2.1.4 consistency proof
    /// from `previous`'s log to the new one, checked with the algorithm of RFC 9162 §2.1.4.2. Only
    /// holders of `ANCHOR_ROLE` may call it. Stores the hash of `header` and emits `EpochAnchored`.
    /// @param previous The header of the latest anchored epoch, as its `EpochAnchored` event gave it.
    /// @param manifestCid The IPFS CID of the epoch's manifest, recorded in `EpochAnchored` only.
    function anchor(
        EpochHeader calldata previous,
        EpochHeader calldata header,
        string calldata manifestCid,
        bytes32[] calldata consistencyProof
    ) external;

    /// @notice The number of the last anchored epoch; 0 before the first anchor. The next `anchor`
    /// must extend its log (RFC 9162 §2.1.4), or the empty tree before the first.
    function latestEpoch() external view returns (uint64);

    /// @notice The hash of the header anchored for `epoch`: `keccak256(abi.encode(epoch, logSize,
    /// logRoot, balancesRoot, totalPoints))`; zero for an epoch not anchored (epoch 0 never is).
    function headerHash(uint64 epoch) external view returns (bytes32);

    /// @notice Whether the contribution `(index, contributor, contentHash, acceptedAt, points)` is
    /// leaf `index` of the log of `header`, given its RFC 9162 §2.1.3 inclusion proof (audit path).
    /// @dev The leaf hash is `SHA-256(0x00 || abi.encode(index, contributor, contentHash,
    /// acceptedAt, points))` (RFC 9162 §2.1.1), checked with the algorithm of RFC 9162 §2.1.3.2
    /// against the header's log size and root. A wrong proof or `index >= logSize` gives false; an
    /// epoch not anchored reverts with `UnknownEpoch`, a header that is not the anchored one with
    /// `HeaderMismatch`.
    function verifyContribution(
        EpochHeader calldata header,
        uint64 index,
        address contributor,
        bytes32 contentHash,
        uint64 acceptedAt,
        uint128 points,
        bytes32[] calldata proof
    ) external view returns (bool);

    /// @notice Whether `account` had `balance` in the balances tree of `header`, given its
    /// OpenZeppelin StandardMerkleTree proof (the tree Tally publishes with each manifest).
    /// @dev The leaf is `keccak256(bytes.concat(keccak256(abi.encode(account, balance))))`, checked
    /// with OpenZeppelin's `MerkleProof`. An epoch not anchored reverts with `UnknownEpoch`, a
    /// header that is not the anchored one with `HeaderMismatch`. (This tree is not an RFC 9162
    /// tree; the RFC's sections do not apply to it.)
    function verifyBalance(EpochHeader calldata header, address account, uint256 balance, bytes32[] calldata proof)
        external
        view
        returns (bool);

    /// @notice Whether `proof` is an RFC 9162 §2.1.4 consistency proof from the log of `from` to
    /// the log of `to`, checked with the algorithm of RFC 9162 §2.1.4.2.
    /// @dev `from.epoch > to.epoch` gives false; equal epochs need an empty proof; an epoch not
    /// anchored reverts with `UnknownEpoch`, a header that is not the anchored one with
    /// `HeaderMismatch`.
    function verifyConsistency(EpochHeader calldata from, EpochHeader calldata to, bytes32[] calldata proof)
        external
        view
        returns (bool);
}
