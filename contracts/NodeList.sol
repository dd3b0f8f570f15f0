// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";

import {INodeList} from "./INodeList.sol";

/// @title NodeList: the registry of a threshold key network's node sets (epochs) and their lifecycle.
/// @notice Governance (the owner) creates epochs with their thresholds and whitelists node keys; each whitelisted node
/// lists itself with its endpoints and public key; governance activates the genesis epoch and starts the transition to
/// a successor, which completes without governance once n - t nodes of the successor confirm the same handover digest.
/// @dev The read API (`currentEpoch`, `getEpochInfo`, `getNodeDetails`, `getNodes`, `isWhitelisted`,
/// `nodeRegistered`, `getPssStatus`) is ABI-compatible with the Torus NodeList and NodeListProxy, so existing tooling
/// such as fetch-node-details 4.x reads it. Unlike Torus, node details are kept per epoch and a node must
/// prove that the listed public key is its own (the key's address sends the transaction).
///
/// Lifecycle: Registering -> Ready (list full) -> Current -> Transitioning -> Retired, with Cancelled for an epoch that
/// never became current. Epoch 0 is a virtual root whose `nextEpoch` is the genesis epoch.
contract NodeList is INodeList, Ownable2Step {
    /// @notice Largest node count of an epoch; keeps every per-epoch loop of a client bounded.
    uint256 public constant MAX_NODES = 256;
    /// @notice Largest byte length of an endpoint string (API host:port, libp2p multiaddr).
    uint256 public constant MAX_ENDPOINT_LENGTH = 256;

    struct Epoch {
        uint256 id;
        uint256 n;
        uint256 k;
        uint256 t;
        address[] nodeList;
        uint256 prevEpoch;
        uint256 nextEpoch;
        EpochState state;
        // Incremented by every startTransition into this epoch, so that confirmations of an aborted attempt never
        // count towards a retry.
        uint256 transitionAttempt;
        // block.timestamp at which the epoch became current (0 before).
        uint256 activatedAt;
        // The handover digest confirmed by n - t of this epoch's nodes (0 for the genesis epoch).
        bytes32 handoverDigest;
    }

    /// @inheritdoc INodeList
    uint256 public currentEpoch;
    /// @notice Number of epochs created; epoch ids are 1..epochCount.
    uint256 public epochCount;
    /// @notice The block this contract was deployed in. With the chain id, this address and that block's hash it names
    /// one deployment: a local chain repeats the chain id, the address and the block number, never the block hash.
    /// Nodes bind their data to it, so that no node reads another deployment's data.
    // A getter named like the other reads of the ABI, not like a constant: clients call `deploymentBlock()`.
    // solhint-disable-next-line immutable-vars-naming
    uint256 public immutable deploymentBlock;

    mapping(uint256 epoch => Epoch) private _epochs;
    mapping(uint256 epoch => mapping(address node => bool)) private _whitelist;
    mapping(uint256 epoch => mapping(address node => NodeDetails)) private _details;
    mapping(address node => uint256 epoch) private _latestEpochOf;
    mapping(uint256 oldEpoch => mapping(uint256 newEpoch => PssStatus)) private _pssStatus;
    // Handover confirmations per (new epoch, transition attempt): each node's digest, and the count per digest.
    mapping(uint256 epoch => mapping(uint256 attempt => mapping(address node => bytes32))) private _confirmation;
    mapping(uint256 epoch => mapping(uint256 attempt => mapping(bytes32 digest => uint256))) private _confirmations;

    constructor(address governance) Ownable(governance) {
        deploymentBlock = block.number;
    }

    // ------------------------------------------------------------------------------------------------------------
    // Governance
    // ------------------------------------------------------------------------------------------------------------

    /// @notice Creates the successor of the current epoch (the genesis epoch while none is current).
    /// @dev Thresholds: n >= 4t + 1 (key generation needs more than 3/4 honest nodes), k = floor(n/2) + 1
    /// (reconstruction needs more than half) and k <= n - 2t (the dual-threshold condition of the AVSS).
    function createEpoch(uint256 n, uint256 k, uint256 t) external onlyOwner returns (uint256 epoch) {
        if (n == 0 || n > MAX_NODES || n < 4 * t + 1 || k != n / 2 + 1 || k > n - 2 * t) {
            revert InvalidThresholds(n, k, t);
        }
        uint256 prev = currentEpoch;
        uint256 existing = _epochs[prev].nextEpoch;
        if (existing != 0) revert SuccessorExists(prev, existing);

        epoch = ++epochCount;
        Epoch storage e = _epochs[epoch];
        e.id = epoch;
        e.n = n;
        e.k = k;
        e.t = t;
        e.prevEpoch = prev;
        e.state = EpochState.Registering;
        _epochs[prev].nextEpoch = epoch;
        emit EpochCreated(epoch, n, k, t, prev);
    }

    /// @notice Allows or disallows a node key to list itself in an epoch that is still registering.
    /// @dev A key that has listed cannot be removed: the list of a registering epoch only grows.
    function updateWhitelist(uint256 epoch, address node, bool allowed) public onlyOwner {
        _requireState(epoch, EpochState.Registering);
        if (node == address(0)) revert ZeroAddress();
        if (_whitelist[epoch][node] == allowed) return;
        if (!allowed && _details[epoch][node].position != 0) revert NodeAlreadyListed(epoch, node);
        _whitelist[epoch][node] = allowed;
        emit WhitelistUpdated(epoch, node, allowed);
    }

    /// @notice Whitelists several node keys at once.
    function whitelistNodes(uint256 epoch, address[] calldata nodes) external onlyOwner {
        for (uint256 i = 0; i < nodes.length; ++i) {
            updateWhitelist(epoch, nodes[i], true);
        }
    }

    /// @notice Makes the genesis epoch current once its list is full.
    function activateEpoch(uint256 epoch) external onlyOwner {
        if (_epochs[epoch].prevEpoch != 0) revert NotGenesis(epoch, _epochs[epoch].prevEpoch);
        _requireState(epoch, EpochState.Ready);
        _makeCurrent(0, epoch);
        emit EpochActivated(epoch);
    }

    /// @notice Starts (or retries) the handover from the current epoch to its full successor.
    function startTransition(uint256 newEpoch) external onlyOwner {
        uint256 old = currentEpoch;
        if (old == 0 || _epochs[old].nextEpoch != newEpoch) revert NotSuccessor(newEpoch, old);
        _requireState(old, EpochState.Current);
        _requireState(newEpoch, EpochState.Ready);
        _epochs[old].state = EpochState.Transitioning;
        _pssStatus[old][newEpoch] = PssStatus.Running;
        uint256 attempt = ++_epochs[newEpoch].transitionAttempt;
        emit TransitionStarted(old, newEpoch, attempt);
    }

    /// @notice Aborts a transition that does not complete; the old epoch keeps serving and may retry later.
    function abortTransition(uint256 newEpoch) external onlyOwner {
        uint256 old = _requireRunningTransition(newEpoch);
        _epochs[old].state = EpochState.Current;
        _pssStatus[old][newEpoch] = PssStatus.Aborted;
        emit TransitionAborted(old, newEpoch, _epochs[newEpoch].transitionAttempt);
    }

    /// @notice Cancels an epoch that never became current, so that another successor can be created.
    function cancelEpoch(uint256 epoch) external onlyOwner {
        EpochState state = _epochs[epoch].state;
        if (state != EpochState.Registering && state != EpochState.Ready) {
            revert InvalidEpochState(epoch, state, EpochState.Ready);
        }
        uint256 prev = _epochs[epoch].prevEpoch;
        if (_pssStatus[prev][epoch] == PssStatus.Running) revert TransitionRunning(prev, epoch);
        _epochs[epoch].state = EpochState.Cancelled;
        _epochs[prev].nextEpoch = 0;
        emit EpochCancelled(epoch);
    }

    /// @dev Governance is what moves epochs forward; renouncing it would freeze the network's lifecycle.
    function renounceOwnership() public view override onlyOwner {
        revert RenounceDisabled();
    }

    // ------------------------------------------------------------------------------------------------------------
    // Nodes
    // ------------------------------------------------------------------------------------------------------------

    /// @inheritdoc INodeList
    function listNode(
        uint256 epoch,
        string calldata declaredIp,
        uint256 pubKx,
        uint256 pubKy,
        string calldata tmP2PListenAddress,
        string calldata p2pListenAddress
    ) external {
        _requireState(epoch, EpochState.Registering);
        if (!_whitelist[epoch][msg.sender]) revert NotWhitelisted(epoch, msg.sender);
        address keyAddress = address(uint160(uint256(keccak256(abi.encodePacked(pubKx, pubKy)))));
        if (keyAddress != msg.sender) revert KeyNotOwned(msg.sender, keyAddress);
        if (_details[epoch][msg.sender].position != 0) revert NodeAlreadyListed(epoch, msg.sender);
        _checkEndpoints(declaredIp, tmP2PListenAddress, p2pListenAddress);

        Epoch storage e = _epochs[epoch];
        e.nodeList.push(msg.sender);
        uint256 position = e.nodeList.length;
        _details[epoch][msg.sender] =
            NodeDetails(declaredIp, position, pubKx, pubKy, tmP2PListenAddress, p2pListenAddress);
        _latestEpochOf[msg.sender] = epoch;
        emit NodeListed(msg.sender, epoch, position);
        if (position == e.n) {
            e.state = EpochState.Ready;
            emit EpochReady(epoch);
        }
    }

    /// @notice Lets a listed node move its endpoints (its key and position stay).
    function updateEndpoints(
        uint256 epoch,
        string calldata declaredIp,
        string calldata tmP2PListenAddress,
        string calldata p2pListenAddress
    ) external {
        NodeDetails storage d = _details[epoch][msg.sender];
        if (d.position == 0) revert NotListed(epoch, msg.sender);
        EpochState state = _epochs[epoch].state;
        if (state == EpochState.Retired || state == EpochState.Cancelled) {
            revert InvalidEpochState(epoch, state, EpochState.Current);
        }
        _checkEndpoints(declaredIp, tmP2PListenAddress, p2pListenAddress);
        d.declaredIp = declaredIp;
        d.tmP2PListenAddress = tmP2PListenAddress;
        d.p2pListenAddress = p2pListenAddress;
        emit NodeEndpointsUpdated(epoch, msg.sender, declaredIp, tmP2PListenAddress, p2pListenAddress);
    }

    /// @notice A node of the successor epoch confirms that it holds verified shares of every moved key.
    /// @dev The handover completes when n - t nodes of the new epoch confirmed the same digest of (mapping root, key
    /// count, root of the key commitments); each node confirms once per transition attempt.
    function confirmHandover(uint256 newEpoch, bytes32 mappingRoot, uint256 keyCount, bytes32 commitmentsRoot)
        external
    {
        uint256 old = _requireRunningTransition(newEpoch);
        if (_details[newEpoch][msg.sender].position == 0) revert NotListed(newEpoch, msg.sender);
        Epoch storage e = _epochs[newEpoch];
        uint256 attempt = e.transitionAttempt;
        bytes32 previous = _confirmation[newEpoch][attempt][msg.sender];
        if (previous != bytes32(0)) revert AlreadyConfirmed(newEpoch, msg.sender, previous);

        bytes32 digest = handoverDigestOf(mappingRoot, keyCount, commitmentsRoot);
        _confirmation[newEpoch][attempt][msg.sender] = digest;
        uint256 count = ++_confirmations[newEpoch][attempt][digest];
        emit HandoverConfirmed(newEpoch, msg.sender, digest, count);

        if (count == e.n - e.t) {
            e.handoverDigest = digest;
            _pssStatus[old][newEpoch] = PssStatus.Completed;
            _epochs[old].state = EpochState.Retired;
            _makeCurrent(old, newEpoch);
            emit TransitionCompleted(old, newEpoch, digest);
        }
    }

    // ------------------------------------------------------------------------------------------------------------
    // Reads
    // ------------------------------------------------------------------------------------------------------------

    /// @inheritdoc INodeList
    function getEpochInfo(uint256 epoch)
        external
        view
        returns (
            uint256 id,
            uint256 n,
            uint256 k,
            uint256 t,
            address[] memory nodeList,
            uint256 prevEpoch,
            uint256 nextEpoch
        )
    {
        Epoch storage e = _epochs[epoch];
        return (e.id, e.n, e.k, e.t, e.nodeList, e.prevEpoch, e.nextEpoch);
    }

    /// @notice The lifecycle state of an epoch, with its transition attempt, activation time and handover digest.
    function getEpochStatus(uint256 epoch)
        external
        view
        returns (EpochState state, uint256 transitionAttempt, uint256 activatedAt, bytes32 handoverDigest)
    {
        Epoch storage e = _epochs[epoch];
        return (e.state, e.transitionAttempt, e.activatedAt, e.handoverDigest);
    }

    /// @inheritdoc INodeList
    function getNodes(uint256 epoch) external view returns (address[] memory) {
        return _epochs[epoch].nodeList;
    }

    /// @inheritdoc INodeList
    function getNodeDetails(address node)
        external
        view
        returns (
            string memory declaredIp,
            uint256 position,
            uint256 pubKx,
            uint256 pubKy,
            string memory tmP2PListenAddress,
            string memory p2pListenAddress
        )
    {
        NodeDetails storage d = _details[_latestEpochOf[node]][node];
        return (d.declaredIp, d.position, d.pubKx, d.pubKy, d.tmP2PListenAddress, d.p2pListenAddress);
    }

    /// @notice The details a node listed in one epoch (its position is per epoch).
    function getNodeDetailsForEpoch(uint256 epoch, address node) external view returns (NodeDetails memory) {
        return _details[epoch][node];
    }

    /// @inheritdoc INodeList
    function isWhitelisted(uint256 epoch, address node) external view returns (bool) {
        return _whitelist[epoch][node];
    }

    /// @inheritdoc INodeList
    function nodeRegistered(uint256 epoch, address node) external view returns (bool) {
        return _details[epoch][node].position != 0;
    }

    /// @inheritdoc INodeList
    function getPssStatus(uint256 oldEpoch, uint256 newEpoch) external view returns (uint256) {
        return uint256(_pssStatus[oldEpoch][newEpoch]);
    }

    /// @notice The digest a node confirmed in the current transition attempt into `newEpoch` (0 if none).
    function getHandoverConfirmation(uint256 newEpoch, address node) external view returns (bytes32) {
        return _confirmation[newEpoch][_epochs[newEpoch].transitionAttempt][node];
    }

    /// @notice How many nodes confirmed `digest` in the current transition attempt into `newEpoch`.
    function getHandoverConfirmations(uint256 newEpoch, bytes32 digest) external view returns (uint256) {
        return _confirmations[newEpoch][_epochs[newEpoch].transitionAttempt][digest];
    }

    /// @notice The digest that `confirmHandover` computes, for nodes and tools that compare confirmations.
    function handoverDigestOf(bytes32 mappingRoot, uint256 keyCount, bytes32 commitmentsRoot)
        public
        pure
        returns (bytes32)
    {
        return keccak256(abi.encode(mappingRoot, keyCount, commitmentsRoot));
    }

    // ------------------------------------------------------------------------------------------------------------
    // Internal
    // ------------------------------------------------------------------------------------------------------------

    function _makeCurrent(uint256 old, uint256 epoch) private {
        _epochs[epoch].state = EpochState.Current;
        _epochs[epoch].activatedAt = block.timestamp;
        currentEpoch = epoch;
        emit EpochChanged(old, epoch);
    }

    function _requireState(uint256 epoch, EpochState expected) private view {
        EpochState state = _epochs[epoch].state;
        if (state != expected) revert InvalidEpochState(epoch, state, expected);
    }

    /// @return old the current epoch, which is transitioning into `newEpoch`.
    function _requireRunningTransition(uint256 newEpoch) private view returns (uint256 old) {
        old = currentEpoch;
        if (old == 0 || _pssStatus[old][newEpoch] != PssStatus.Running) revert NoRunningTransition(old, newEpoch);
    }

    function _checkEndpoints(string calldata declaredIp, string calldata tmP2P, string calldata p2p) private pure {
        _checkEndpoint("declaredIp", declaredIp, false);
        _checkEndpoint("tmP2PListenAddress", tmP2P, true);
        _checkEndpoint("p2pListenAddress", p2p, false);
    }

    function _checkEndpoint(string memory field, string calldata value, bool mayBeEmpty) private pure {
        uint256 length = bytes(value).length;
        if ((length == 0 && !mayBeEmpty) || length > MAX_ENDPOINT_LENGTH) revert InvalidEndpoint(field, length);
    }
}
