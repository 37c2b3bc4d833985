// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

/**
 * @title DataExchange
 * @notice Escrow for Spartacus data deals (protocol spartacus-v1): a buyer locks a maximum
 * price, the seller's oracle quotes a price and commits to an encrypted release, the buyer
 * accepts, the seller reveals the key, and a one-chunk proof of misbehaviour (FairSwap,
 * Dziembowski, Eckey and Faust, CCS 2018) refunds the buyer. The contract also keeps each
 * dataset's public privacy ledger in thousandths of epsilon.
 *
 * @dev Value only leaves through {withdraw} (pull payments): no state transition makes an
 * external call except {openDeal}, which pulls an ERC-20 after its effects and then checks
 * that exactly `maxPrice` arrived. For each token, the balance equals the locked `maxPrice`
 * of unsettled deals plus all credits (rule 8).
 *
 * Storage is packed so that an honest deal writes as few fresh slots as possible: the
 * deal keeps only the current phase's deadline, a 32-bit dataset index instead of the
 * seller and dataset id, its terms hash, and the key commitment, which the reveal
 * overwrites with the key itself. The one hash of both Merkle roots lives in the pair's
 * record, which the quote writes anyway to mark the pair used (rule 2). Events carry
 * everything an auditor needs.
 *
 * WARNING: The balance rule (rule 8) holds only for tokens whose balances change by
 * transfers alone. A rebasing token (whose balances shrink or grow by themselves), a token
 * that can blocklist or pause accounts, or any other non-standard ERC-20 can break it after
 * the deposit: a negative rebase leaves too little for the last withdrawals, which then
 * revert; a blocklisted seller or buyer can never withdraw. The contract cannot detect
 * this (it only refuses a deposit that does not arrive in full). Hubs and terms must
 * accept only tokens from a list of plain ERC-20s; see docs/protocol-notes.md.
 */
contract DataExchange is ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice Deal states, as returned by {state} and carried by {DealWrongState}: 0 None (never
    /// opened), 1 Open, 2 Quoted, 3 Accepted, 4 Revealed, 5 Settled, 6 Refunded.
    enum State {
        None,
        Open,
        Quoted,
        Accepted,
        Revealed,
        Settled,
        Refunded
    }

    /// @notice Epsilon cap meaning "no budget: exact releases allowed"; as an epsilon, an exact release.
    uint32 public constant EXACT = type(uint32).max;
    /// @notice Bytes per delivery chunk.
    uint256 public constant CHUNK = 1024;
    /// @notice The longest phase window the constructor accepts, in seconds (about 136 years):
    /// deadlines are stored in 40 bits, and `block.timestamp + window` must fit them.
    uint64 public constant MAX_WINDOW = 2 ** 32;

    // ---------------------------------------------------------------- events

    /// @notice `seller` registered or rotated its oracle key to `oracle`.
    event SellerRegistered(address indexed seller, address indexed oracle);
    /// @notice `seller` registered `datasetId`, or lowered its cap, to `epsilonCapMilli`.
    event DatasetRegistered(address indexed seller, bytes32 indexed datasetId, uint32 epsilonCapMilli);
    /// @notice A buyer locked `maxPrice` of `token` for a release of `datasetId` under `termsHash`.
    event DealOpened(
        uint256 indexed dealId,
        address indexed buyer,
        address indexed seller,
        bytes32 datasetId,
        bytes32 termsHash,
        address token,
        uint256 maxPrice,
        uint256 quoteFee,
        uint64 quoteDeadline
    );
    /// @notice The oracle priced the release and committed to it; `epsilonMilli` is now spent for good.
    event Quoted(
        uint256 indexed dealId,
        uint256 price,
        uint32 epsilonMilli,
        bytes32 dataRoot,
        bytes32 cipherRoot,
        bytes32 keyCommit,
        uint64 size,
        uint64 acceptDeadline
    );
    /// @notice The seller or its oracle declined an open deal (a {Refunded} follows).
    event Declined(uint256 indexed dealId);
    /// @notice The buyer accepted the quote; the seller must reveal before `revealDeadline`.
    event Accepted(uint256 indexed dealId, uint64 revealDeadline);
    /// @notice The buyer rejected the quote (a {Refunded} follows, paying the seller the quote fee).
    event Rejected(uint256 indexed dealId);
    /// @notice The seller revealed the release key; complaints are open until `disputeDeadline`.
    event KeyRevealed(uint256 indexed dealId, bytes32 key, uint64 disputeDeadline);
    /// @notice The buyer proved that chunk `index` does not decrypt to its committed leaf.
    event Complained(uint256 indexed dealId, uint64 index);
    /// @notice The deal settled: the seller is credited `price`, the buyer `refund`.
    event Settled(uint256 indexed dealId, uint256 price, uint256 refund);
    /// @notice The deal ended without a sale: credits of `toBuyer` and `toSeller`.
    event Refunded(uint256 indexed dealId, uint256 toBuyer, uint256 toSeller);
    /// @notice `account` withdrew `amount` of `token` (address(0) is ETH).
    event Withdrawn(address indexed account, address indexed token, uint256 amount);

    // ---------------------------------------------------------------- errors

    /// @notice Window `which` (0 quote, 1 accept, 2 reveal, 3 dispute) is `window` seconds;
    /// it must satisfy `0 < window <= maxWindow` ({MAX_WINDOW}).
    error WindowOutOfRange(uint8 which, uint64 window, uint64 maxWindow);
    /// @notice The oracle address must not be zero.
    error InvalidOracle(address oracle);
    /// @notice `caller` has not called {registerSeller}.
    error SellerNotRegistered(address caller);
    /// @notice A dataset's cap may only be lowered.
    error CapRaised(bytes32 datasetId, uint32 currentCapMilli, uint32 requestedCapMilli);
    /// @notice Too many datasets for the 32-bit dataset index.
    error TooManyDatasets();
    /// @notice `seller` has not registered `datasetId`.
    error DatasetNotRegistered(address seller, bytes32 datasetId);
    /// @notice Rule 2: a deal with these terms on this dataset was already quoted; they can never be opened again.
    error TermsAlreadyUsed(address seller, bytes32 datasetId, bytes32 termsHash);
    /// @notice Rule 2: another deal with deal `dealId`'s `(seller, datasetId, termsHash)` was quoted
    /// first; this one can only be declined or refunded.
    error TermsAlreadyQuoted(uint256 dealId, bytes32 termsHash);
    /// @notice `maxPrice` must be positive.
    error ZeroMaxPrice();
    /// @notice `quoteFee` must not exceed `maxPrice`.
    error QuoteFeeTooHigh(uint256 quoteFee, uint256 maxPrice);
    /// @notice Amounts are kept in 128 bits.
    error AmountTooLarge(uint256 amount);
    /// @notice `msg.value` must be `maxPrice` for ETH deals and zero for token deals.
    error WrongPayment(uint256 sent, uint256 expected);
    /// @notice The token delivered a different amount than `maxPrice` (e.g. a fee-on-transfer token).
    error TransferAmountMismatch(address token, uint256 expected, uint256 received);
    /// @notice The deal is not in the state this function needs; `state` is numbered as
    /// {state} returns it: 0 None (never opened), 1 Open, 2 Quoted, 3 Accepted, 4 Revealed,
    /// 5 Settled, 6 Refunded.
    error DealWrongState(uint256 dealId, State state);
    /// @notice Only the deal's buyer may call this.
    error NotBuyer(uint256 dealId, address caller);
    /// @notice Only the seller's current oracle may call this.
    error NotOracle(uint256 dealId, address caller);
    /// @notice Only the seller or its oracle may call this.
    error NotSellerOrOracle(uint256 dealId, address caller);
    /// @notice The current phase ended at `deadline`.
    error DeadlinePassed(uint256 dealId, uint64 deadline);
    /// @notice The current phase lasts until `deadline`.
    error DeadlineNotReached(uint256 dealId, uint64 deadline);
    /// @notice A quote needs `0 < price <= maxPrice`.
    error InvalidPrice(uint256 price, uint256 maxPrice);
    /// @notice A quote needs a positive release size.
    error ZeroSize();
    /// @notice A quote must spend a positive epsilon ({EXACT} for an exact release).
    error ZeroEpsilon(uint256 dealId);
    /// @notice The quote's epsilon does not fit in the dataset's remaining budget.
    error BudgetExceeded(uint256 dealId, uint32 spentMilli, uint32 requestedMilli, uint32 capMilli);
    /// @notice An exact release needs a dataset registered with the EXACT cap.
    error ExactReleaseNotAllowed(uint256 dealId, uint32 capMilli);
    /// @notice `keccak256(0x00 ‖ key)` is not the committed `keyCommit`.
    error KeyMismatch(uint256 dealId);
    /// @notice The complained chunk index is not below the number of chunks.
    error ChunkIndexOutOfRange(uint256 dealId, uint64 index, uint256 chunks);
    /// @notice A cipher chunk must be exactly CHUNK bytes; it was `chunkLength`.
    error BadChunkLength(uint256 chunkLength);
    /// @notice Each Merkle proof must have exactly the tree's depth.
    error BadProofLength(uint256 cipherProofLength, uint256 dataProofLength, uint256 depth);
    /// @notice The chunk or the leaf is not under the committed roots.
    error ProofMismatch(uint256 dealId, uint64 index);
    /// @notice The chunk decrypts to its committed leaf: the seller delivered honestly.
    error ComplaintUnfounded(uint256 dealId, uint64 index);
    /// @notice The caller has no credit in `token`.
    error NothingToWithdraw(address account, address token);
    /// @notice Sending ETH to `to` failed; the credit is kept.
    error EthTransferFailed(address to, uint256 amount);

    // ---------------------------------------------------------------- state

    /// @dev One slot per dataset: its seller, cap and spent budget.
    struct Ledger {
        address seller;
        uint32 capMilli;
        uint32 spentMilli;
    }

    /// @dev A deal in six slots; `token` is written only for ERC-20 deals.
    struct Deal {
        // slot 0: written at open, updated at each transition
        address buyer;
        State state;
        uint40 deadline; // the current phase's deadline
        uint32 dataset; // index into _ledgers
        // slot 1: written at open
        uint128 maxPrice;
        uint128 quoteFee;
        // slot 2: written at open for ERC-20 deals only
        address token;
        // slot 3: written at quote
        uint128 price;
        uint64 size;
        // slot 4: written at open; with the dataset index it names the pair's record (rule 2)
        bytes32 termsHash;
        // slot 5: written at quote as keyCommit, overwritten with the key at reveal
        bytes32 keyOrCommit;
    }

    uint64 private immutable _quoteWindow;
    uint64 private immutable _acceptWindow;
    uint64 private immutable _revealWindow;
    uint64 private immutable _disputeWindow;

    /// @dev The next deal id; starts at 1 so that opening a deal never writes a fresh slot for it.
    uint256 private _nextDealId = 1;
    /// @dev The next dataset index; 0 means "not registered".
    uint32 private _nextDataset = 1;

    mapping(address seller => address oracle) private _oracles;
    mapping(address seller => mapping(bytes32 datasetId => uint32 index)) private _datasetIndex;
    mapping(uint32 index => Ledger) private _ledgers;
    /// @dev Rule 2's record of a (dataset index, termsHash) pair: zero until the pair is quoted,
    /// then `keccak256(dataRoot ‖ cipherRoot)` of its one quote, which {complain} checks against.
    mapping(bytes32 pairKey => bytes32 rootsHash) private _pairRoots;
    mapping(uint256 dealId => Deal) private _deals;
    mapping(address account => mapping(address token => uint256)) private _credits;

    /// @param quoteWindow seconds the oracle has to quote after a deal opens
    /// @param acceptWindow seconds the buyer has to accept or reject a quote
    /// @param revealWindow seconds the seller has to reveal the key after acceptance
    /// @param disputeWindow seconds the buyer has to complain after the reveal
    /// @dev Reverts with {WindowOutOfRange} unless `0 < window <= MAX_WINDOW` for each window.
    constructor(uint64 quoteWindow, uint64 acceptWindow, uint64 revealWindow, uint64 disputeWindow) {
        _requireWindow(0, quoteWindow);
        _requireWindow(1, acceptWindow);
        _requireWindow(2, revealWindow);
        _requireWindow(3, disputeWindow);
        _quoteWindow = quoteWindow;
        _acceptWindow = acceptWindow;
        _revealWindow = revealWindow;
        _disputeWindow = disputeWindow;
    }

    // ---------------------------------------------------------------- sellers and datasets

    /**
     * @notice Makes the caller a seller whose quotes `oracle` signs; call again to rotate the key.
     * @dev Emits a {SellerRegistered} event.
     */
    function registerSeller(address oracle) external {
        if (oracle == address(0)) revert InvalidOracle(oracle);
        _oracles[msg.sender] = oracle;
        emit SellerRegistered(msg.sender, oracle);
    }

    /**
     * @notice Registers `datasetId` with a total privacy budget of `epsilonCapMilli` thousandths
     * of epsilon ({EXACT}: no budget, exact releases allowed); a second call may only lower the cap.
     * @dev Emits a {DatasetRegistered} event.
     */
    function registerDataset(bytes32 datasetId, uint32 epsilonCapMilli) external {
        if (_oracles[msg.sender] == address(0)) revert SellerNotRegistered(msg.sender);
        uint32 index = _datasetIndex[msg.sender][datasetId];
        if (index == 0) {
            index = _nextDataset;
            if (index == type(uint32).max) revert TooManyDatasets();
            _nextDataset = index + 1;
            _datasetIndex[msg.sender][datasetId] = index;
            _ledgers[index] = Ledger({seller: msg.sender, capMilli: epsilonCapMilli, spentMilli: 0});
        } else {
            Ledger storage ledger = _ledgers[index];
            if (epsilonCapMilli > ledger.capMilli) revert CapRaised(datasetId, ledger.capMilli, epsilonCapMilli);
            ledger.capMilli = epsilonCapMilli;
        }
        emit DatasetRegistered(msg.sender, datasetId, epsilonCapMilli);
    }

    // ---------------------------------------------------------------- the deal

    /**
     * @notice Opens a deal for a release of `seller`'s `datasetId` under `termsHash`, locking
     * exactly `maxPrice` of `token` (address(0): ETH, sent as `msg.value`). A quote costs the
     * buyer `quoteFee` if it then rejects it or lets it lapse.
     * @dev Rule 2: a `(seller, datasetId, termsHash)` that was quoted once can never be opened
     * again ({TermsAlreadyUsed}); one only opened (then declined or refunded unquoted) can, so a
     * stranger who copies a buyer's `termsHash` first cannot burn it. For an ERC-20 the
     * contract's balance must grow by exactly `maxPrice`.
     *
     * WARNING: Only plain ERC-20s keep rule 8: a rebasing, blocklisting, pausable or
     * otherwise non-standard token can leave the contract unable to pay credits out after
     * the deposit. The contract cannot tell; hubs and terms must accept only listed tokens.
     *
     * Emits a {DealOpened} event.
     * @return dealId the new deal's id (1, 2, 3, ...)
     */
    function openDeal(
        address seller,
        bytes32 datasetId,
        bytes32 termsHash,
        address token,
        uint256 maxPrice,
        uint256 quoteFee
    ) external payable nonReentrant returns (uint256 dealId) {
        if (maxPrice == 0) revert ZeroMaxPrice();
        if (maxPrice > type(uint128).max) revert AmountTooLarge(maxPrice);
        if (quoteFee > maxPrice) revert QuoteFeeTooHigh(quoteFee, maxPrice);
        uint32 index = _datasetIndex[seller][datasetId];
        if (index == 0) revert DatasetNotRegistered(seller, datasetId);
        if (_pairRoots[_pairKey(index, termsHash)] != 0) revert TermsAlreadyUsed(seller, datasetId, termsHash);
        uint256 expectedValue = token == address(0) ? maxPrice : 0;
        if (msg.value != expectedValue) revert WrongPayment(msg.value, expectedValue);

        dealId = _nextDealId;
        _nextDealId = dealId + 1;
        uint64 quoteDeadline = uint64(block.timestamp) + _quoteWindow;
        Deal storage deal = _deals[dealId];
        deal.buyer = msg.sender;
        deal.state = State.Open;
        deal.deadline = uint40(quoteDeadline);
        deal.dataset = index;
        deal.maxPrice = uint128(maxPrice);
        deal.quoteFee = uint128(quoteFee);
        if (token != address(0)) deal.token = token;
        deal.termsHash = termsHash;
        emit DealOpened(dealId, msg.sender, seller, datasetId, termsHash, token, maxPrice, quoteFee, quoteDeadline);

        if (token != address(0)) {
            uint256 before = IERC20(token).balanceOf(address(this));
            IERC20(token).safeTransferFrom(msg.sender, address(this), maxPrice);
            uint256 received = IERC20(token).balanceOf(address(this)) - before;
            if (received != maxPrice) revert TransferAmountMismatch(token, maxPrice, received);
        }
    }

    /**
     * @notice The seller's oracle prices the release and commits to it. The quote spends
     * `epsilonMilli` from the dataset's budget at once and for good ({EXACT}: an exact release,
     * allowed only on an EXACT dataset, which the ledger then shows as fully spent).
     * @dev Requires `epsilonMilli > 0`. Marks the deal's `(seller, datasetId, termsHash)` used
     * for good (rule 2): no deal with it can be quoted or opened again ({TermsAlreadyQuoted},
     * {TermsAlreadyUsed}). Emits a {Quoted} event.
     */
    function postQuote(
        uint256 dealId,
        uint256 price,
        uint32 epsilonMilli,
        bytes32 dataRoot,
        bytes32 cipherRoot,
        bytes32 keyCommit,
        uint64 size
    ) external {
        Deal storage deal = _deals[dealId];
        _requireState(dealId, deal, State.Open);
        Ledger storage ledger = _ledgers[deal.dataset];
        if (msg.sender != _oracles[ledger.seller]) revert NotOracle(dealId, msg.sender);
        _requireBefore(dealId, deal);
        uint256 maxPrice = deal.maxPrice;
        if (price == 0 || price > maxPrice) revert InvalidPrice(price, maxPrice);
        if (size == 0) revert ZeroSize();
        if (epsilonMilli == 0) revert ZeroEpsilon(dealId);
        bytes32 termsHash = deal.termsHash;
        bytes32 pairKey = _pairKey(deal.dataset, termsHash);
        if (_pairRoots[pairKey] != 0) revert TermsAlreadyQuoted(dealId, termsHash);
        _spend(dealId, ledger, epsilonMilli);

        _pairRoots[pairKey] = _hashPair(dataRoot, cipherRoot);
        uint64 acceptDeadline = uint64(block.timestamp) + _acceptWindow;
        deal.state = State.Quoted;
        deal.deadline = uint40(acceptDeadline);
        deal.price = uint128(price);
        deal.size = size;
        deal.keyOrCommit = keyCommit;
        emit Quoted(dealId, price, epsilonMilli, dataRoot, cipherRoot, keyCommit, size, acceptDeadline);
    }

    /**
     * @notice The seller or its oracle declines an open deal; the buyer is refunded in full.
     * @dev Emits {Declined} and {Refunded} events.
     */
    function decline(uint256 dealId) external {
        Deal storage deal = _deals[dealId];
        _requireState(dealId, deal, State.Open);
        _requireSellerOrOracle(dealId, deal);
        emit Declined(dealId);
        _refund(dealId, deal, deal.maxPrice, 0);
    }

    /**
     * @notice The buyer accepts the quote, having checked the downloaded ciphertext against the roots.
     * @dev Emits an {Accepted} event.
     */
    function accept(uint256 dealId) external {
        Deal storage deal = _deals[dealId];
        _requireBuyerInTime(dealId, deal, State.Quoted);
        uint64 revealDeadline = uint64(block.timestamp) + _revealWindow;
        deal.state = State.Accepted;
        deal.deadline = uint40(revealDeadline);
        emit Accepted(dealId, revealDeadline);
    }

    /**
     * @notice The buyer rejects the quote: the seller is credited the quote fee, the buyer the rest.
     * @dev Emits {Rejected} and {Refunded} events.
     */
    function reject(uint256 dealId) external {
        Deal storage deal = _deals[dealId];
        _requireBuyerInTime(dealId, deal, State.Quoted);
        emit Rejected(dealId);
        _refundQuoteFee(dealId, deal);
    }

    /**
     * @notice The seller or its oracle reveals the release key, opening the dispute window.
     * @dev Requires `keccak256(0x00 ‖ key) == keyCommit`. Emits a {KeyRevealed} event.
     */
    function revealKey(uint256 dealId, bytes32 key) external {
        Deal storage deal = _deals[dealId];
        _requireState(dealId, deal, State.Accepted);
        _requireSellerOrOracle(dealId, deal);
        _requireBefore(dealId, deal);
        if (_keyCommit(key) != deal.keyOrCommit) revert KeyMismatch(dealId);
        uint64 disputeDeadline = uint64(block.timestamp) + _disputeWindow;
        deal.state = State.Revealed;
        deal.deadline = uint40(disputeDeadline);
        deal.keyOrCommit = key;
        emit KeyRevealed(dealId, key, disputeDeadline);
    }

    /**
     * @notice The buyer proves that cipher chunk `index` does not decrypt to its committed plain
     * leaf, and is refunded in full.
     * @dev Checks `cipherChunk` against the cipher root and `plainLeaf` against the data root
     * (proofs of exactly the tree's depth, siblings from the leaf up), decrypts the chunk with
     * the revealed key, and succeeds only if `keccak(salt ‖ uint64(index) ‖ chunk) != plainLeaf`.
     * Emits {Complained} and {Refunded} events.
     */
    function complain(
        uint256 dealId,
        uint64 index,
        bytes calldata cipherChunk,
        bytes32[] calldata cipherProof,
        bytes32 plainLeaf,
        bytes32[] calldata dataProof
    ) external {
        Deal storage deal = _deals[dealId];
        _requireBuyerInTime(dealId, deal, State.Revealed);
        _requireMisbehaviour(dealId, deal, index, cipherChunk, cipherProof, plainLeaf, dataProof);
        emit Complained(dealId, index);
        _refund(dealId, deal, deal.maxPrice, 0);
    }

    /**
     * @notice The buyer settles a revealed deal now: the seller is credited the price, the buyer the rest.
     * @dev Emits a {Settled} event.
     */
    function confirm(uint256 dealId) external {
        Deal storage deal = _deals[dealId];
        _requireState(dealId, deal, State.Revealed);
        _requireBuyer(dealId, deal);
        _settle(dealId, deal);
    }

    /**
     * @notice Anyone settles a revealed deal once its dispute window is over.
     * @dev Emits a {Settled} event.
     */
    function finalize(uint256 dealId) external {
        Deal storage deal = _deals[dealId];
        _requireState(dealId, deal, State.Revealed);
        _requireAfter(dealId, deal);
        _settle(dealId, deal);
    }

    /**
     * @notice Anyone ends a deal whose current phase's deadline has passed: the buyer gets
     * everything back when the seller is at fault (no quote or no reveal in time); a lapsed
     * quote pays the seller the quote fee as {reject} does.
     * @dev A revealed deal is settled by {finalize}, not refunded. Emits a {Refunded} event.
     */
    function refund(uint256 dealId) external {
        Deal storage deal = _deals[dealId];
        State current = deal.state;
        if (current != State.Open && current != State.Quoted && current != State.Accepted) {
            revert DealWrongState(dealId, current);
        }
        _requireAfter(dealId, deal);
        if (current == State.Quoted) _refundQuoteFee(dealId, deal);
        else _refund(dealId, deal, deal.maxPrice, 0);
    }

    /**
     * @notice Pays the caller everything it was credited in `token` (address(0): ETH).
     * @dev The credit is cleared before the transfer; a failed ETH transfer reverts and keeps it.
     * Emits a {Withdrawn} event.
     */
    function withdraw(address token) external nonReentrant {
        uint256 amount = _credits[msg.sender][token];
        if (amount == 0) revert NothingToWithdraw(msg.sender, token);
        _credits[msg.sender][token] = 0;
        emit Withdrawn(msg.sender, token, amount);
        if (token == address(0)) {
            (bool ok, ) = payable(msg.sender).call{value: amount}("");
            if (!ok) revert EthTransferFailed(msg.sender, amount);
        } else {
            IERC20(token).safeTransfer(msg.sender, amount);
        }
    }

    // ---------------------------------------------------------------- views

    /**
     * @notice The deal's state as a number: 0 None (never opened), 1 Open, 2 Quoted,
     * 3 Accepted, 4 Revealed, 5 Settled, 6 Refunded. 5 and 6 are final.
     */
    function state(uint256 dealId) external view returns (uint8) {
        return uint8(_deals[dealId].state);
    }

    /// @notice The current phase's deadline (Open: quote, Quoted: accept, Accepted: reveal,
    /// Revealed: dispute); 0 for a deal never opened or already ended (Settled, Refunded).
    function deadline(uint256 dealId) external view returns (uint64) {
        Deal storage deal = _deals[dealId];
        State current = deal.state;
        if (current == State.None || current == State.Settled || current == State.Refunded) return 0;
        return deal.deadline;
    }

    /// @notice The phase windows this contract was deployed with, in seconds.
    function windows()
        external
        view
        returns (uint64 quoteWindow, uint64 acceptWindow, uint64 revealWindow, uint64 disputeWindow)
    {
        return (_quoteWindow, _acceptWindow, _revealWindow, _disputeWindow);
    }

    /// @notice `seller`'s current oracle; address(0) if `seller` never called {registerSeller}.
    function oracleOf(address seller) external view returns (address) {
        return _oracles[seller];
    }

    /// @notice What `account` may withdraw in `token`.
    function credit(address account, address token) external view returns (uint256) {
        return _credits[account][token];
    }

    /// @notice Privacy budget consumed by quotes on `seller`'s `datasetId`, in thousandths of epsilon.
    function epsilonSpent(address seller, bytes32 datasetId) external view returns (uint32) {
        return _ledgers[_datasetIndex[seller][datasetId]].spentMilli;
    }

    /// @notice Number of deals opened so far (the last deal id).
    function dealCount() external view returns (uint256) {
        return _nextDealId - 1;
    }

    // ---------------------------------------------------------------- internal

    function _requireWindow(uint8 which, uint64 window) private pure {
        if (window == 0 || window > MAX_WINDOW) revert WindowOutOfRange(which, window, MAX_WINDOW);
    }

    /// @dev The key of rule 2's record: the dataset index stands for `(seller, datasetId)`.
    function _pairKey(uint32 dataset, bytes32 termsHash) private pure returns (bytes32) {
        return _hashPair(bytes32(uint256(dataset)), termsHash);
    }

    function _requireState(uint256 dealId, Deal storage deal, State expected) private view {
        State current = deal.state;
        if (current != expected) revert DealWrongState(dealId, current);
    }

    function _requireBuyer(uint256 dealId, Deal storage deal) private view {
        if (msg.sender != deal.buyer) revert NotBuyer(dealId, msg.sender);
    }

    /// @dev The buyer's own actions (accept, reject, complain): right state, right caller, before the deadline.
    function _requireBuyerInTime(uint256 dealId, Deal storage deal, State expected) private view {
        _requireState(dealId, deal, expected);
        _requireBuyer(dealId, deal);
        _requireBefore(dealId, deal);
    }

    function _requireSellerOrOracle(uint256 dealId, Deal storage deal) private view {
        address seller = _ledgers[deal.dataset].seller;
        if (msg.sender != seller && msg.sender != _oracles[seller]) revert NotSellerOrOracle(dealId, msg.sender);
    }

    /// @dev The phase's action is allowed strictly before its deadline ...
    function _requireBefore(uint256 dealId, Deal storage deal) private view {
        uint40 due = deal.deadline;
        if (block.timestamp >= due) revert DeadlinePassed(dealId, due);
    }

    /// @dev ... and its timeout (refund, finalize) from the deadline on.
    function _requireAfter(uint256 dealId, Deal storage deal) private view {
        uint40 due = deal.deadline;
        if (block.timestamp < due) revert DeadlineNotReached(dealId, due);
    }

    /// @dev Spends `epsilonMilli` from `ledger` under rule 3.
    function _spend(uint256 dealId, Ledger storage ledger, uint32 epsilonMilli) private {
        uint32 cap = ledger.capMilli;
        uint32 spent = ledger.spentMilli;
        if (epsilonMilli == EXACT) {
            if (cap != EXACT) revert ExactReleaseNotAllowed(dealId, cap);
            ledger.spentMilli = EXACT;
            return;
        }
        uint256 total = uint256(spent) + epsilonMilli;
        if (cap != EXACT && total > cap) revert BudgetExceeded(dealId, spent, epsilonMilli, cap);
        // On an EXACT dataset the ledger saturates just below EXACT, which marks an exact release.
        uint32 updated = total >= EXACT ? EXACT - 1 : uint32(total);
        if (updated != spent && spent != EXACT) ledger.spentMilli = updated;
    }

    function _settle(uint256 dealId, Deal storage deal) private {
        uint256 price = deal.price;
        uint256 rest = uint256(deal.maxPrice) - price;
        address token = deal.token;
        deal.state = State.Settled;
        _credits[_ledgers[deal.dataset].seller][token] += price;
        if (rest != 0) _credits[deal.buyer][token] += rest;
        emit Settled(dealId, price, rest);
    }

    function _refundQuoteFee(uint256 dealId, Deal storage deal) private {
        uint256 fee = deal.quoteFee;
        _refund(dealId, deal, uint256(deal.maxPrice) - fee, fee);
    }

    function _refund(uint256 dealId, Deal storage deal, uint256 toBuyer, uint256 toSeller) private {
        address token = deal.token;
        deal.state = State.Refunded;
        if (toBuyer != 0) _credits[deal.buyer][token] += toBuyer;
        if (toSeller != 0) _credits[_ledgers[deal.dataset].seller][token] += toSeller;
        emit Refunded(dealId, toBuyer, toSeller);
    }

    /// @dev Reverts unless the complaint's chunk and leaf are committed and the chunk decrypts to another leaf.
    function _requireMisbehaviour(
        uint256 dealId,
        Deal storage deal,
        uint64 index,
        bytes calldata cipherChunk,
        bytes32[] calldata cipherProof,
        bytes32 plainLeaf,
        bytes32[] calldata dataProof
    ) private view {
        if (cipherChunk.length != CHUNK) revert BadChunkLength(cipherChunk.length);
        uint256 depth = _depthFor(dealId, deal.size, index);
        if (cipherProof.length != depth || dataProof.length != depth) {
            revert BadProofLength(cipherProof.length, dataProof.length, depth);
        }
        bytes32 roots = _hashPair(
            _rootFromProof(plainLeaf, index, dataProof),
            _rootFromProof(keccak256(cipherChunk), index, cipherProof)
        );
        if (roots != _pairRoots[_pairKey(deal.dataset, deal.termsHash)]) revert ProofMismatch(dealId, index);
        if (_decryptedLeaf(cipherChunk, deal.keyOrCommit, index) == plainLeaf) revert ComplaintUnfounded(dealId, index);
    }

    /// @dev The Merkle depth for a release of `size` bytes, after checking that `index` is a chunk of it.
    function _depthFor(uint256 dealId, uint64 size, uint64 index) private pure returns (uint256) {
        uint256 chunks = (uint256(size) + CHUNK - 1) / CHUNK;
        if (index >= chunks) revert ChunkIndexOutOfRange(dealId, index, chunks);
        return Math.log2(chunks, Math.Rounding.Ceil);
    }

    function _keyCommit(bytes32 key) private pure returns (bytes32 commit) {
        assembly ("memory-safe") {
            mstore8(0x00, 0x00)
            mstore(0x01, key)
            commit := keccak256(0x00, 0x21)
        }
    }

    function _hashPair(bytes32 left, bytes32 right) private pure returns (bytes32 h) {
        assembly ("memory-safe") {
            mstore(0x00, left)
            mstore(0x20, right)
            h := keccak256(0x00, 0x40)
        }
    }

    /// @dev Walks `proof` (siblings from the leaf up) from `leaf` at `index` to the root.
    function _rootFromProof(bytes32 leaf, uint256 index, bytes32[] calldata proof) private pure returns (bytes32 h) {
        h = leaf;
        uint256 length = proof.length;
        for (uint256 i; i < length; ++i) {
            bytes32 sibling = proof[i];
            h = index & 1 == 0 ? _hashPair(h, sibling) : _hashPair(sibling, h);
            index >>= 1;
        }
    }

    /**
     * @dev The plain leaf that cipher chunk `index` decrypts to under `key`:
     * `keccak(salt ‖ uint64(index) ‖ (c XOR keystream words 32·index … 32·index+31))`, with
     * `salt = keccak(0x01 ‖ key)` and word `w = keccak(0x02 ‖ key ‖ uint256(w))`.
     * Uses memory past the free memory pointer as scratch and leaves the pointer alone.
     */
    function _decryptedLeaf(bytes calldata cipherChunk, bytes32 key, uint256 index) private pure returns (bytes32 leaf) {
        uint256 preimageLength = CHUNK + 40; // salt (32 bytes) ‖ uint64 index (8 bytes) ‖ chunk
        assembly ("memory-safe") {
            let ks := mload(0x40) // keystream input: tag(1) ‖ key(32) ‖ w(32)
            let buf := add(ks, 0x60) // leaf preimage: salt(32) ‖ index(8) ‖ chunk(CHUNK)
            mstore(add(ks, 0x01), key)
            mstore8(ks, 0x01)
            mstore(buf, keccak256(ks, 0x21))
            mstore(add(buf, 0x20), shl(192, index))
            mstore8(ks, 0x02)
            let base := shl(5, index)
            let dst := add(buf, 0x28)
            let src := cipherChunk.offset
            for { let j := 0 } lt(j, 0x20) { j := add(j, 1) } {
                mstore(add(ks, 0x21), add(base, j))
                let off := shl(5, j)
                mstore(add(dst, off), xor(calldataload(add(src, off)), keccak256(ks, 0x41)))
            }
            leaf := keccak256(buf, preimageLength)
        }
    }
}
