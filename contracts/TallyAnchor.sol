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

    /// @dev One epoch's header in three storage slots: the three integers share the first.
    struct Header {
        uint64 logSize;
        uint128 totalPoints;
        uint64 anchoredAt;
        bytes32 logRoot;
        bytes32 balancesRoot;
    }

    /// @dev The latest epoch and its log size, in one slot so that `anchor` finds both with one
    /// cold read (the size is also in the epoch's header; reading it there would cost another).
    struct Head {
        uint64 epoch;
        uint64 logSize;
    }

    Head private _head;
    mapping(uint64 epoch => Header) private _headers;

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
        uint64 epoch,
        uint64 logSize,
        bytes32 logRoot,
        bytes32 balancesRoot,
        uint128 totalPoints,
        string calldata manifestCid,
        bytes32[] calldata consistencyProof
    ) external onlyRole(ANCHOR_ROLE) {
        Head memory head = _head;
        if (epoch != head.epoch + 1) revert UnexpectedEpoch(head.epoch + 1, epoch);
        if (logRoot == bytes32(0) || balancesRoot == bytes32(0)) revert EmptyRoot();
        if (bytes(manifestCid).length == 0) revert EmptyManifestCid();
        if (logSize < head.logSize) revert LogShrank(head.logSize, logSize);

        // Before epoch 1 the log is the empty tree, so the first header is checked like any other.
        bytes32 previousRoot = head.epoch == 0 ? RFC9162.EMPTY_ROOT : _headers[head.epoch].logRoot;
        if (!RFC9162.verifyConsistency(head.logSize, logSize, previousRoot, logRoot, consistencyProof)) {
            revert InvalidConsistencyProof();
        }

        _headers[epoch] = Header({
            logSize: logSize,
            totalPoints: totalPoints,
            anchoredAt: uint64(block.timestamp),
            logRoot: logRoot,
            balancesRoot: balancesRoot
        });
        _head = Head({epoch: epoch, logSize: logSize});
        emit EpochAnchored(epoch, logSize, logRoot, balancesRoot, totalPoints, manifestCid);
    }

    /// @notice ERC-165: also answers for `ITallyAnchor`, so that a contract built on the anchored
    /// roots (a claim contract, say) can check what it was given.
    function supportsInterface(bytes4 interfaceId) public view override returns (bool) {
        return interfaceId == type(ITallyAnchor).interfaceId || super.supportsInterface(interfaceId);
    }

    /// @inheritdoc ITallyAnchor
    function latestEpoch() external view returns (uint64) {
        return _head.epoch;
    }

    /// @inheritdoc ITallyAnchor
    function epochs(uint64 epoch)
        external
        view
        returns (uint64 logSize, bytes32 logRoot, bytes32 balancesRoot, uint128 totalPoints, uint64 anchoredAt)
    {
        Header storage header = _headers[epoch];
        return (header.logSize, header.logRoot, header.balancesRoot, header.totalPoints, header.anchoredAt);
    }

    /// @inheritdoc ITallyAnchor
    function verifyContribution(
        uint64 epoch,
        uint64 index,
        address contributor,
        bytes32 contentHash,
        uint64 acceptedAt,
        uint128 points,
        bytes32[] calldata proof
    ) external view returns (bool) {
        Header storage header = _anchored(epoch);
        bytes32 leaf = RFC9162.hashLeaf(abi.encode(index, contributor, contentHash, acceptedAt, points));
        return RFC9162.verifyInclusion(index, header.logSize, leaf, proof, header.logRoot);
    }

    /// @inheritdoc ITallyAnchor
    function verifyBalance(uint64 epoch, address account, uint256 balance, bytes32[] calldata proof)
        external
        view
        returns (bool)
    {
        bytes32 root = _anchored(epoch).balancesRoot;
        // The double hash is StandardMerkleTree's leaf: no 64-byte leaf preimage can pass for an
        // interior node.
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(account, balance))));
        return MerkleProof.verifyCalldata(proof, root, leaf);
    }

    /// @inheritdoc ITallyAnchor
    function verifyConsistency(uint64 fromEpoch, uint64 toEpoch, bytes32[] calldata proof)
        external
        view
        returns (bool)
    {
        Header storage from = _anchored(fromEpoch);
        Header storage to = _anchored(toEpoch);
        return RFC9162.verifyConsistency(from.logSize, to.logSize, from.logRoot, to.logRoot, proof);
    }

    function _anchored(uint64 epoch) private view returns (Header storage) {
        uint64 latest = _head.epoch;
        if (epoch == 0 || epoch > latest) revert UnknownEpoch(epoch, latest);
        return _headers[epoch];
    }
}
