// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {AccessControlDefaultAdminRules} from
    "@openzeppelin/contracts/access/extensions/AccessControlDefaultAdminRules.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

import {ITallyAnchor} from "./ITallyAnchor.sol";
import {RFC9162} from "./RFC9162.sol";

/// @title TallyAnchor
/// @notice Anchors one header per epoch of Tally's contribution log and balances, and refuses any
/// header whose log is not an append-only extension of the previous one (RFC 9162 §2.1.4).
/// @dev Deliberately not upgradeable: a contract that could be swapped could forget its history.
/// A new version is a new deployment. The default admin (OpenZeppelin
/// `AccessControlDefaultAdminRules`) only manages `ANCHOR_ROLE`, and handing over the admin role
/// takes a delay that everyone can watch on-chain.
contract TallyAnchor is ITallyAnchor, AccessControlDefaultAdminRules {
    /// @notice The role of the service key that may call `anchor`.
    bytes32 public constant ANCHOR_ROLE = keccak256("ANCHOR_ROLE");

    /// @dev The hash of epoch 0's header `(0, 0, SHA-256(""), 0, 0)`: the empty log, which epoch 1
    /// extends. Epoch 0 is never anchored, so its hash is a constant rather than a stored word.
    bytes32 private constant GENESIS_HASH = keccak256(abi.encode(uint64(0), uint64(0), RFC9162.EMPTY_ROOT, 0, 0));

    /// @dev The only word `anchor` rewrites: the latest epoch's number (each epoch's header is a
    /// new word). Everything else `anchor` needs of the previous epoch comes in its header, which
    /// is checked against that epoch's hash.
    uint64 private _latestEpoch;
    /// @dev One word per epoch: the hash of its header (see `_hash`).
    mapping(uint64 epoch => bytes32) private _headerHashes;

    /// @param admin The default admin, who grants and revokes `ANCHOR_ROLE`.
    /// @param anchorer The first holder of `ANCHOR_ROLE`: the anchoring service's key.
    /// @param adminTransferDelay Seconds between scheduling and accepting a new default admin.
    constructor(address admin, address anchorer, uint48 adminTransferDelay)
        AccessControlDefaultAdminRules(adminTransferDelay, admin)
    {
        if (anchorer == address(0)) revert InvalidAnchorer(anchorer);
        _grantRole(ANCHOR_ROLE, anchorer);
    }

    /// @inheritdoc ITallyAnchor
    function anchor(
        EpochHeader calldata previous,
        EpochHeader calldata header,
        string calldata manifestCid,
        bytes32[] calldata consistencyProof
    ) external onlyRole(ANCHOR_ROLE) {
        uint64 latest = _latestEpoch;
        if (header.epoch != latest + 1) revert UnexpectedEpoch(latest + 1, header.epoch);
        if (header.logRoot == bytes32(0) || header.balancesRoot == bytes32(0)) revert EmptyRoot();
        if (bytes(manifestCid).length == 0) revert EmptyManifestCid();
        // `previous` is trusted only once it hashes to what the latest epoch stored.
        bytes32 anchored = latest == 0 ? GENESIS_HASH : _headerHashes[latest];
        bytes32 given = _hash(previous);
        if (given != anchored) revert HeaderMismatch(latest, anchored, given);
        if (header.logSize < previous.logSize) revert LogShrank(previous.logSize, header.logSize);
        if (
            !RFC9162.verifyConsistency(
                previous.logSize, header.logSize, previous.logRoot, header.logRoot, consistencyProof
            )
        ) {
            revert InvalidConsistencyProof();
        }
        // `_hash` reads the words as they are. Solidity's decoder reverts on an integer of
        // `header` with bits beyond its type wherever it reads one (the tests send such words),
        // and every member is read here or in the event, so the hash stored is that of the
        // header the event announces.
        _headerHashes[header.epoch] = _hash(header);
        _latestEpoch = header.epoch;
        emit EpochAnchored(
            header.epoch, header.logSize, header.logRoot, header.balancesRoot, header.totalPoints, manifestCid
        );
    }

    /// @notice ERC-165: also answers for `ITallyAnchor`, so that a contract built on the anchored
    /// roots (a claim contract, say) can check what it was given.
    function supportsInterface(bytes4 interfaceId) public view override returns (bool) {
        return interfaceId == type(ITallyAnchor).interfaceId || super.supportsInterface(interfaceId);
    }

    /// @inheritdoc ITallyAnchor
    function latestEpoch() external view returns (uint64) {
        return _latestEpoch;
    }

    /// @inheritdoc ITallyAnchor
    function headerHash(uint64 epoch) external view returns (bytes32) {
        return _headerHashes[epoch];
    }

    /// @inheritdoc ITallyAnchor
    function verifyContribution(
        EpochHeader calldata header,
        uint64 index,
        address contributor,
        bytes32 contentHash,
        uint64 acceptedAt,
        uint128 points,
        bytes32[] calldata proof
    ) external view returns (bool) {
        _checkAnchored(header);
        bytes32 leaf = RFC9162.hashLeaf(abi.encode(index, contributor, contentHash, acceptedAt, points));
        return RFC9162.verifyInclusion(index, header.logSize, leaf, proof, header.logRoot);
    }

    /// @inheritdoc ITallyAnchor
    function verifyBalance(EpochHeader calldata header, address account, uint256 balance, bytes32[] calldata proof)
        external
        view
        returns (bool)
    {
        _checkAnchored(header);
        // The double hash is StandardMerkleTree's leaf: no 64-byte leaf preimage can pass for an
        // interior node.
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(account, balance))));
        return MerkleProof.verifyCalldata(proof, header.balancesRoot, leaf);
    }

    /// @inheritdoc ITallyAnchor
    function verifyConsistency(EpochHeader calldata from, EpochHeader calldata to, bytes32[] calldata proof)
        external
        view
        returns (bool)
    {
        _checkAnchored(from);
        _checkAnchored(to);
        if (from.epoch > to.epoch) return false;
        return RFC9162.verifyConsistency(from.logSize, to.logSize, from.logRoot, to.logRoot, proof);
    }

    /// @dev Reverts unless `header` is the header anchored for its epoch: `UnknownEpoch` when none
    /// is, `HeaderMismatch` when another one is.
    function _checkAnchored(EpochHeader calldata header) private view {
        bytes32 anchored = _headerHashes[header.epoch];
        if (anchored == bytes32(0)) revert UnknownEpoch(header.epoch, _latestEpoch);
        bytes32 given = _hash(header);
        if (given != anchored) revert HeaderMismatch(header.epoch, anchored, given);
    }

    /// @dev `keccak256(abi.encode(epoch, logSize, logRoot, balancesRoot, totalPoints))`, hashed
    /// straight from calldata: a static struct is encoded as exactly those five words. A word with
    /// bits beyond its type's range hashes to something no clean header has, so it never matches.
    function _hash(EpochHeader calldata header) private pure returns (bytes32 h) {
        assembly ("memory-safe") {
            let m := mload(0x40)
            calldatacopy(m, header, 0xa0)
            h := keccak256(m, 0xa0)
        }
    }
}
