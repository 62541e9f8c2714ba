// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title TallyPoints
/// @notice A plain OpenZeppelin 5 ERC-20 with a fixed supply, minted once to `holder`: the token
/// `TallyRewards` pays on the embedded dev chain and in the demo. A production deployment can pay
/// in any ERC-20.
/// @dev No owner, no minting after deployment, 18 decimals.
contract TallyPoints is ERC20 {
    /// @param holder Receives the whole supply (the deployer, who then funds the rewards pool).
    /// @param supply The total supply, in the smallest units.
    constructor(address holder, uint256 supply) ERC20("Tally Points", "TALLY") {
        _mint(holder, supply);
    }
}
