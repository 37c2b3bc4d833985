// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title TestToken
/// @notice A plain ERC-20 that anyone can mint, for tests and the demo only.
contract TestToken is ERC20 {
    constructor() ERC20("Spartacus Test Token", "STT") {}

    /// @notice Mints `amount` to `to`; unrestricted, since this token exists only in tests.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }
}
