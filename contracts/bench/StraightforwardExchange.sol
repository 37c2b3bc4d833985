// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";

/// @title StraightforwardExchange
/// @notice Benchmark baseline only: the honest path and the complaint of the protocol's
/// interface written the plain way (one field per slot, a deadline per phase, both roots
/// and the key stored, a storage reentrancy guard), so `make bench` can show what the packed
/// DataExchange saves. ETH only; never deployed outside benchmarks.
contract StraightforwardExchange is ReentrancyGuard {
    uint8 constant OPEN = 1;
    uint8 constant QUOTED = 2;
    uint8 constant ACCEPTED = 3;
    uint8 constant REVEALED = 4;
    uint8 constant SETTLED = 5;
    uint8 constant REFUNDED = 6;

    struct Deal {
        address buyer;
        address seller;
        bytes32 datasetId;
        bytes32 termsHash;
        address token;
        uint256 maxPrice;
        uint256 quoteFee;
        uint256 price;
        uint32 epsilonMilli;
        bytes32 dataRoot;
        bytes32 cipherRoot;
        bytes32 keyCommit;
        bytes32 key;
        uint64 size;
        uint64 quoteDeadline;
        uint64 acceptDeadline;
        uint64 revealDeadline;
        uint64 disputeDeadline;
        uint8 state;
    }

    uint64 public quoteWindow;
    uint64 public acceptWindow;
    uint64 public revealWindow;
    uint64 public disputeWindow;
    uint256 public dealCount;
    mapping(address => address) public oracles;
    mapping(address => mapping(bytes32 => bool)) public registered;
    mapping(address => mapping(bytes32 => uint32)) public caps;
    mapping(address => mapping(bytes32 => uint32)) public spent;
    mapping(bytes32 => bool) public used;
    mapping(uint256 => Deal) internal deals;
    mapping(address => mapping(address => uint256)) public credit;

    event DealOpened(uint256 indexed dealId, address indexed buyer, address indexed seller, bytes32 datasetId,
        bytes32 termsHash, address token, uint256 maxPrice, uint256 quoteFee, uint64 quoteDeadline);
    event Quoted(uint256 indexed dealId, uint256 price, uint32 epsilonMilli, bytes32 dataRoot, bytes32 cipherRoot,
        bytes32 keyCommit, uint64 size, uint64 acceptDeadline);
    event Accepted(uint256 indexed dealId, uint64 revealDeadline);
    event KeyRevealed(uint256 indexed dealId, bytes32 key, uint64 disputeDeadline);
    event Complained(uint256 indexed dealId, uint64 index);
    event Settled(uint256 indexed dealId, uint256 price, uint256 refund);
    event Refunded(uint256 indexed dealId, uint256 toBuyer, uint256 toSeller);
    event Withdrawn(address indexed account, address indexed token, uint256 amount);

    constructor(uint64 q, uint64 a, uint64 r, uint64 d) {
        quoteWindow = q;
        acceptWindow = a;
        revealWindow = r;
        disputeWindow = d;
    }

    function registerSeller(address oracle) external {
        oracles[msg.sender] = oracle;
    }

    function registerDataset(bytes32 datasetId, uint32 cap) external {
        require(oracles[msg.sender] != address(0), "not seller");
        registered[msg.sender][datasetId] = true;
        caps[msg.sender][datasetId] = cap;
    }

    function openDeal(address seller, bytes32 datasetId, bytes32 termsHash, address token, uint256 maxPrice,
        uint256 quoteFee) external payable nonReentrant returns (uint256 dealId) {
        require(maxPrice > 0 && quoteFee <= maxPrice && token == address(0) && msg.value == maxPrice, "bad");
        require(registered[seller][datasetId], "dataset");
        bytes32 k = keccak256(abi.encode(seller, datasetId, termsHash));
        require(!used[k], "used");
        used[k] = true;
        dealCount += 1;
        dealId = dealCount;
        Deal storage d = deals[dealId];
        d.buyer = msg.sender;
        d.seller = seller;
        d.datasetId = datasetId;
        d.termsHash = termsHash;
        d.token = token;
        d.maxPrice = maxPrice;
        d.quoteFee = quoteFee;
        d.quoteDeadline = uint64(block.timestamp) + quoteWindow;
        d.state = OPEN;
        emit DealOpened(dealId, msg.sender, seller, datasetId, termsHash, token, maxPrice, quoteFee, d.quoteDeadline);
    }

    function postQuote(uint256 dealId, uint256 price, uint32 eps, bytes32 dataRoot, bytes32 cipherRoot,
        bytes32 keyCommit, uint64 size) external {
        Deal storage d = deals[dealId];
        require(d.state == OPEN && msg.sender == oracles[d.seller] && block.timestamp < d.quoteDeadline, "quote");
        require(price > 0 && price <= d.maxPrice && size > 0, "args");
        require(spent[d.seller][d.datasetId] + eps <= caps[d.seller][d.datasetId], "budget");
        spent[d.seller][d.datasetId] += eps;
        d.price = price;
        d.epsilonMilli = eps;
        d.dataRoot = dataRoot;
        d.cipherRoot = cipherRoot;
        d.keyCommit = keyCommit;
        d.size = size;
        d.acceptDeadline = uint64(block.timestamp) + acceptWindow;
        d.state = QUOTED;
        emit Quoted(dealId, price, eps, dataRoot, cipherRoot, keyCommit, size, d.acceptDeadline);
    }

    function accept(uint256 dealId) external {
        Deal storage d = deals[dealId];
        require(d.state == QUOTED && msg.sender == d.buyer && block.timestamp < d.acceptDeadline, "accept");
        d.revealDeadline = uint64(block.timestamp) + revealWindow;
        d.state = ACCEPTED;
        emit Accepted(dealId, d.revealDeadline);
    }

    function revealKey(uint256 dealId, bytes32 key) external {
        Deal storage d = deals[dealId];
        require(d.state == ACCEPTED && block.timestamp < d.revealDeadline, "reveal");
        require(msg.sender == d.seller || msg.sender == oracles[d.seller], "who");
        require(keccak256(abi.encodePacked(bytes1(0x00), key)) == d.keyCommit, "key");
        d.key = key;
        d.disputeDeadline = uint64(block.timestamp) + disputeWindow;
        d.state = REVEALED;
        emit KeyRevealed(dealId, key, d.disputeDeadline);
    }

    function complain(uint256 dealId, uint64 index, bytes calldata chunk, bytes32[] calldata cipherProof,
        bytes32 plainLeaf, bytes32[] calldata dataProof) external {
        Deal storage d = deals[dealId];
        require(d.state == REVEALED && msg.sender == d.buyer && block.timestamp < d.disputeDeadline, "complain");
        require(chunk.length == 1024, "chunk");
        uint256 n = (uint256(d.size) + 1023) / 1024;
        require(index < n, "index");
        uint256 depth = 0;
        while ((uint256(1) << depth) < n) depth++;
        require(cipherProof.length == depth && dataProof.length == depth, "depth");
        require(_root(keccak256(chunk), index, cipherProof) == d.cipherRoot, "cipher proof");
        require(_root(plainLeaf, index, dataProof) == d.dataRoot, "data proof");
        require(_leaf(chunk, d.key, index) != plainLeaf, "honest");
        d.state = REFUNDED;
        credit[d.buyer][d.token] += d.maxPrice;
        emit Complained(dealId, index);
        emit Refunded(dealId, d.maxPrice, 0);
    }

    function confirm(uint256 dealId) external {
        Deal storage d = deals[dealId];
        require(d.state == REVEALED && msg.sender == d.buyer, "confirm");
        d.state = SETTLED;
        credit[d.seller][d.token] += d.price;
        credit[d.buyer][d.token] += d.maxPrice - d.price;
        emit Settled(dealId, d.price, d.maxPrice - d.price);
    }

    function withdraw(address token) external nonReentrant {
        uint256 amount = credit[msg.sender][token];
        require(amount > 0, "nothing");
        credit[msg.sender][token] = 0;
        emit Withdrawn(msg.sender, token, amount);
        (bool ok, ) = payable(msg.sender).call{value: amount}("");
        require(ok, "send");
    }

    function _leaf(bytes calldata chunk, bytes32 key, uint64 index) private pure returns (bytes32) {
        bytes memory plain = new bytes(1024);
        for (uint256 j = 0; j < 32; j++) {
            bytes32 word = keccak256(abi.encodePacked(bytes1(0x02), key, uint256(index) * 32 + j));
            bytes32 p = bytes32(chunk[j * 32:j * 32 + 32]) ^ word;
            assembly { mstore(add(add(plain, 32), mul(j, 32)), p) }
        }
        bytes32 salt = keccak256(abi.encodePacked(bytes1(0x01), key));
        return keccak256(abi.encodePacked(salt, index, plain));
    }

    function _root(bytes32 h, uint256 index, bytes32[] calldata proof) private pure returns (bytes32) {
        for (uint256 i = 0; i < proof.length; i++) {
            h = index & 1 == 0 ? keccak256(abi.encodePacked(h, proof[i])) : keccak256(abi.encodePacked(proof[i], h));
            index >>= 1;
        }
        return h;
    }
}
