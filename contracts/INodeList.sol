// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title INodeList: the types, events, errors and Torus-compatible reads of the node registry.
/// @dev Node workers follow the events; every refusal is one of the custom errors, with the values that caused it.
interface INodeList {
    /// @notice Lifecycle of an epoch. Registering: whitelisting and listing are open. Ready: the list is full and
    /// (n, k, t, list) never change again. Current: the epoch serves users. Transitioning: the epoch still serves while
    /// it hands every key over to its successor. Retired: the handover completed. Cancelled: never became current.
    enum EpochState {
        None,
        Registering,
        Ready,
        Current,
        Transitioning,
        Retired,
        Cancelled
    }

    /// @notice Status of the handover from an old epoch to a new one, as `getPssStatus` returns it (Torus used 1 for
    /// a running handover, which is kept).
    enum PssStatus {
        None,
        Running,
        Completed,
        Aborted
    }

    /// @notice What a node declared when it listed in an epoch. `declaredIp` is `host:port` of the node's JSON-RPC
    /// API; clients call `http(s)://<declaredIp>/jrpc`. `p2pListenAddress` is the node's libp2p multiaddr.
    struct NodeDetails {
        string declaredIp;
        uint256 position;
        uint256 pubKx;
        uint256 pubKy;
        string tmP2PListenAddress;
        string p2pListenAddress;
    }

    event EpochCreated(uint256 indexed epoch, uint256 n, uint256 k, uint256 t, uint256 prevEpoch);
    event WhitelistUpdated(uint256 indexed epoch, address indexed node, bool allowed);
    /// @dev Same signature as the Torus NodeList event.
    event NodeListed(address publicKey, uint256 epoch, uint256 position);
    event NodeEndpointsUpdated(
        uint256 indexed epoch,
        address indexed node,
        string declaredIp,
        string tmP2PListenAddress,
        string p2pListenAddress
    );
    event EpochReady(uint256 indexed epoch);
    event EpochActivated(uint256 indexed epoch);
    event EpochCancelled(uint256 indexed epoch);
    event TransitionStarted(uint256 indexed oldEpoch, uint256 indexed newEpoch, uint256 attempt);
    event TransitionAborted(uint256 indexed oldEpoch, uint256 indexed newEpoch, uint256 attempt);
    event HandoverConfirmed(uint256 indexed newEpoch, address indexed node, bytes32 digest, uint256 confirmations);
    event TransitionCompleted(uint256 indexed oldEpoch, uint256 indexed newEpoch, bytes32 digest);
    /// @dev Same signature as the Torus NodeListProxy event; emitted whenever `currentEpoch` moves.
    event EpochChanged(uint256 oldEpoch, uint256 newEpoch);

    error InvalidThresholds(uint256 n, uint256 k, uint256 t);
    error SuccessorExists(uint256 epoch, uint256 successor);
    error InvalidEpochState(uint256 epoch, EpochState state, EpochState expected);
    error ZeroAddress();
    error NotWhitelisted(uint256 epoch, address node);
    error KeyNotOwned(address sender, address keyAddress);
    error NodeAlreadyListed(uint256 epoch, address node);
    error NotListed(uint256 epoch, address node);
    error InvalidEndpoint(string field, uint256 length);
    error NotGenesis(uint256 epoch, uint256 prevEpoch);
    error NotSuccessor(uint256 epoch, uint256 currentEpoch);
    error NoRunningTransition(uint256 currentEpoch, uint256 newEpoch);
    error TransitionRunning(uint256 oldEpoch, uint256 newEpoch);
    error AlreadyConfirmed(uint256 epoch, address node, bytes32 digest);
    error RenounceDisabled();

    /// @notice Registers the caller, a whitelisted node key, in an epoch that is registering. The caller proves the key
    /// is its own: msg.sender must be the address of (pubKx, pubKy). Its position is the 1-based order of listing.
    function listNode(
        uint256 epoch,
        string calldata declaredIp,
        uint256 pubKx,
        uint256 pubKy,
        string calldata tmP2PListenAddress,
        string calldata p2pListenAddress
    ) external;

    /// @notice The epoch that serves users now (0 before the genesis epoch is activated).
    function currentEpoch() external view returns (uint256);

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
        );

    function getNodes(uint256 epoch) external view returns (address[] memory);

    /// @notice The details of the latest epoch the node listed in.
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
        );

    function isWhitelisted(uint256 epoch, address node) external view returns (bool);

    function nodeRegistered(uint256 epoch, address node) external view returns (bool);

    /// @notice A `PssStatus` as a number: 0 none, 1 running, 2 completed, 3 aborted.
    function getPssStatus(uint256 oldEpoch, uint256 newEpoch) external view returns (uint256);
}
