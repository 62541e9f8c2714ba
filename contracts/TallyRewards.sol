// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ERC165Checker} from "@openzeppelin/contracts/utils/introspection/ERC165Checker.sol";

import {ITallyAnchor} from "./ITallyAnchor.sol";

/// @title TallyRewards
/// @notice Pays contributors in an ERC-20 token for the points `TallyAnchor` has anchored: an
/// account's claim proves its balance in the balances tree of the latest anchored epoch, and is
/// paid `(balance - claimed[account]) * unitsPerPoint` tokens out of the pool this contract holds;
/// `claimed[account]` then becomes `balance`.
/// @dev Balances are cumulative net balances (every credit minus every clawback, since the first
/// epoch): a claim is never a debit of the ledger. So `claimed[account]` is the balance last paid
/// out, and a later claim pays only what the account earned since. A clawback anchored after a
/// claim leaves the account's balance below what it was paid: its claims then pay nothing
/// (`NothingToClaim`) until its earnings pass `claimed[account]` again.
///
/// The claim takes the epoch's header, not the epoch's number: the anchor keeps only the hash of
/// each header (`headerHash(epoch)`), so the balances root can only be used once the caller gives
/// the header and the anchor's `verifyBalance` has checked that it hashes to the anchored word
/// (else it reverts `UnknownEpoch` or `HeaderMismatch`, which this contract passes on). The header
/// is in the epoch's `EpochAnchored` event and in every balance proof bundle.
///
/// Only the latest anchored epoch is accepted (`StaleEpoch` otherwise): an older epoch's tree may
/// hold a balance that a later clawback reduced, and proving it would escape the clawback.
///
/// Not upgradeable, like the anchor: it trusts one anchor and one token for its lifetime.
contract TallyRewards is Ownable2Step {
    using SafeERC20 for IERC20;

    /// @notice The anchor whose balances roots claims are proved against.
    ITallyAnchor public immutable anchor;
    /// @notice The token claims are paid in.
    IERC20 public immutable token;
    /// @notice The token's smallest units paid per point.
    uint256 public immutable unitsPerPoint;

    /// @notice The balance up to which `account` has been paid (0 before its first claim).
    mapping(address account => uint256) public claimed;

    /// @notice `account` was paid `amount` token units for its balance `balance` in epoch `epoch`.
    event Claimed(address indexed account, uint64 epoch, uint256 balance, uint256 amount);
    /// @notice The owner took `amount` token units out of the pool, to `to`.
    event Withdrawn(address indexed to, uint256 amount);

    /// @notice The constructor's anchor does not answer ERC-165 for `ITallyAnchor`.
    error InvalidAnchor(address anchor);
    /// @notice The constructor's token is not a contract.
    error InvalidToken(address token);
    /// @notice The constructor's `unitsPerPoint` is 0 or beyond `type(uint128).max`.
    error InvalidUnitsPerPoint(uint256 unitsPerPoint);
    /// @notice The claim proves a balance of epoch `epoch`, but only the latest anchored epoch,
    /// `latestEpoch`, is accepted (0: nothing is anchored yet).
    error StaleEpoch(uint64 epoch, uint64 latestEpoch);
    /// @notice The balance claimed is beyond the epoch's total points: no honest tree holds it.
    error BalanceExceedsTotal(uint256 balance, uint128 totalPoints);
    /// @notice The proof does not show `(account, balance)` in the header's balances tree.
    error InvalidBalanceProof(address account, uint256 balance);
    /// @notice `account`'s proven `balance` is not above what it was paid for, `claimed`.
    error NothingToClaim(address account, uint256 balance, uint256 claimed);
    /// @notice The pool holds `available` token units, less than the `needed` this claim pays.
    error InsufficientPool(uint256 available, uint256 needed);
    /// @notice `withdraw` to the zero address.
    error InvalidRecipient(address to);

    /// @param anchor_ The `TallyAnchor` (checked through ERC-165).
    /// @param token_ The ERC-20 token claims are paid in.
    /// @param unitsPerPoint_ Token units per point, from 1 to `type(uint128).max` (so that no
    /// payment can overflow: balances are at most the header's `uint128` total).
    /// @param admin The owner (OpenZeppelin `Ownable2Step`): the only one who may `withdraw`.
    constructor(address anchor_, address token_, uint256 unitsPerPoint_, address admin) Ownable(admin) {
        if (!ERC165Checker.supportsInterface(anchor_, type(ITallyAnchor).interfaceId)) revert InvalidAnchor(anchor_);
        if (token_.code.length == 0) revert InvalidToken(token_);
        if (unitsPerPoint_ == 0 || unitsPerPoint_ > type(uint128).max) revert InvalidUnitsPerPoint(unitsPerPoint_);
        anchor = ITallyAnchor(anchor_);
        token = IERC20(token_);
        unitsPerPoint = unitsPerPoint_;
    }

    /// @notice Pays `account` for its `balance` in the latest anchored epoch, whose header is
    /// `header`, given the OpenZeppelin StandardMerkleTree proof of `(account, balance)`. Anyone
    /// may send it; the tokens always go to `account`.
    /// @dev Refused (in this order) for an epoch other than the latest anchored one
    /// (`StaleEpoch`), a balance beyond the header's total (`BalanceExceedsTotal`), a header that
    /// is not the anchored one (the anchor's `UnknownEpoch` or `HeaderMismatch`), a wrong proof
    /// (`InvalidBalanceProof`), a balance not above `claimed[account]` (`NothingToClaim`), and a
    /// pool that cannot pay (`InsufficientPool`).
    /// @return amount The token units paid.
    function claim(ITallyAnchor.EpochHeader calldata header, address account, uint256 balance, bytes32[] calldata proof)
        external
        returns (uint256 amount)
    {
        uint64 latest = anchor.latestEpoch();
        if (header.epoch != latest) revert StaleEpoch(header.epoch, latest);
        if (balance > header.totalPoints) revert BalanceExceedsTotal(balance, header.totalPoints);
        if (!anchor.verifyBalance(header, account, balance, proof)) revert InvalidBalanceProof(account, balance);
        uint256 already = claimed[account];
        if (balance <= already) revert NothingToClaim(account, balance, already);
        // Both factors are below 2^128: balance <= totalPoints, a uint128, and unitsPerPoint by
        // the constructor.
        unchecked {
            amount = (balance - already) * unitsPerPoint;
        }
        uint256 available = token.balanceOf(address(this));
        if (available < amount) revert InsufficientPool(available, amount);
        claimed[account] = balance;
        emit Claimed(account, header.epoch, balance, amount);
        token.safeTransfer(account, amount);
    }

    /// @notice The token units the pool holds.
    function pool() external view returns (uint256) {
        return token.balanceOf(address(this));
    }

    /// @notice The owner takes `amount` token units out of the pool, to `to`.
    /// @dev What the owner is for. A pool is only ever what the operator chose to fund, and this
    /// contract trusts one anchor for ever (a new anchor needs a new rewards contract), so what a
    /// retired contract still holds must be recoverable. It is also the emergency brake: the
    /// anchor does not check a balances root against the ledger, so a stolen anchoring key could
    /// anchor a tree that pays itself; emptying the pool stops every claim at once
    /// (`InsufficientPool`), without a pause flag that every claim would pay to read. What has
    /// been claimed is the contributors' and out of reach. `renounceOwnership` gives the pool up
    /// to the claims for good.
    function withdraw(address to, uint256 amount) external onlyOwner {
        if (to == address(0)) revert InvalidRecipient(to);
        emit Withdrawn(to, amount);
        token.safeTransfer(to, amount);
    }
}
