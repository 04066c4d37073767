"""Which node-administration JSON-RPC methods a sandbox's node may be sent, and with which params.

A sandbox created with ``node_admin`` lets its owner mine, move time, set balances, code and storage, take
snapshots and trace, on its own chain. Nothing more: anvil also answers methods that make the node reach out
(``anvil_reset`` with ``forking`` and ``anvil_setRpcUrl`` fetch from any URL, so a node could read another
sandbox's node or scan the machine's ports), decompress whatever it is sent (``anvil_loadState``), change what
the sandbox is (``anvil_setChainId``) or take keys (``anvil_setExecutor``). So this is an allow-list: a method
not named here is refused, including those a future anvil adds, and the params of the allowed ones that could
carry a URL or code to run are checked.

    refusal = refuse_node_admin("anvil_reset", [{"forking": {"jsonRpcUrl": "http://10.0.0.7:8545"}}])
    refusal.code, refusal.message   # -32602, "invalid params: anvil_reset takes no forking: ..."
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final, NamedTuple

__all__ = ["MAX_MINED_BLOCKS", "NODE_ADMIN_METHODS", "NODE_ADMIN_PREFIXES", "NodeAdminRefusal", "refuse_node_admin"]

#: Most blocks one mining call may ask for: anvil takes 0.7 s for 1,000 and over a minute for 10,000, and goes on
#: mining after the caller gave up.
MAX_MINED_BLOCKS: Final = 1_000

#: Prefixes of the methods that administer a node rather than read or transact on its chain.
NODE_ADMIN_PREFIXES: Final = ("anvil_", "evm_", "hardhat_", "ganache_", "debug_", "miner_", "txpool_", "trace_", "ots_")

#: Every node-administration method a sandbox passes to its node (anvil names and their aliases).
NODE_ADMIN_METHODS: Final[frozenset[str]] = frozenset(
    {
        # Mining and the transaction pool.
        "anvil_mine",
        "hardhat_mine",
        "evm_mine",
        "anvil_mine_detailed",
        "evm_mine_detailed",
        "anvil_getAutomine",
        "hardhat_getAutomine",
        "anvil_setAutomine",
        "evm_setAutomine",
        "anvil_setIntervalMining",
        "evm_setIntervalMining",
        "anvil_getIntervalMining",
        "anvil_dropTransaction",
        "hardhat_dropTransaction",
        "anvil_dropAllTransactions",
        "hardhat_dropAllTransactions",
        "anvil_removePoolTransactions",
        "txpool_status",
        "txpool_inspect",
        "txpool_content",
        # Accounts, code and storage.
        "anvil_setBalance",
        "hardhat_setBalance",
        "anvil_addBalance",
        "anvil_dealERC20",
        "anvil_setERC20Allowance",
        "anvil_setCode",
        "hardhat_setCode",
        "anvil_setNonce",
        "hardhat_setNonce",
        "evm_setAccountNonce",
        "anvil_setStorageAt",
        "hardhat_setStorageAt",
        "anvil_setCoinbase",
        "hardhat_setCoinbase",
        "anvil_impersonateAccount",
        "hardhat_impersonateAccount",
        "anvil_stopImpersonatingAccount",
        "hardhat_stopImpersonatingAccount",
        "anvil_autoImpersonateAccount",
        "hardhat_autoImpersonateAccount",
        # Fees, gas and time.
        "anvil_setMinGasPrice",
        "hardhat_setMinGasPrice",
        "anvil_setNextBlockBaseFeePerGas",
        "hardhat_setNextBlockBaseFeePerGas",
        "anvil_setBlockGasLimit",
        "evm_setBlockGasLimit",
        "anvil_setTime",
        "evm_setTime",
        "anvil_increaseTime",
        "evm_increaseTime",
        "anvil_setNextBlockTimestamp",
        "evm_setNextBlockTimestamp",
        "anvil_setBlockTimestampInterval",
        "anvil_removeBlockTimestampInterval",
        # State: snapshots in the node, a reset without forking, the state as data (never a file).
        "anvil_snapshot",
        "evm_snapshot",
        "anvil_revert",
        "evm_revert",
        "anvil_rollback",
        "anvil_reset",
        "hardhat_reset",
        "anvil_dumpState",
        "hardhat_dumpState",
        "anvil_nodeInfo",
        "anvil_metadata",
        "hardhat_metadata",
        # Tracing, with the built-in tracers only.
        "debug_traceTransaction",
        "debug_traceCall",
        "debug_getRawTransaction",
        "trace_transaction",
        "trace_block",
        "trace_filter",
        # Otterscan.
        "ots_getApiLevel",
        "ots_getInternalOperations",
        "ots_hasCode",
        "ots_traceTransaction",
        "ots_getTransactionError",
        "ots_getBlockDetails",
        "ots_getBlockDetailsByHash",
        "ots_getBlockTransactions",
        "ots_searchTransactionsBefore",
        "ots_searchTransactionsAfter",
        "ots_getTransactionBySenderAndNonce",
        "ots_getContractCreator",
    }
)

# Why the best-known methods left out are, for a message that says so.
_REFUSED_BECAUSE: Final[Mapping[str, str]] = {
    "anvil_setRpcUrl": "it points the node at a URL, and a sandbox's node reaches nothing outside itself",
    "anvil_loadState": "it unpacks whatever it is sent into the node; revert to a snapshot of the sandbox instead",
    "hardhat_loadState": "it unpacks whatever it is sent into the node; revert to a snapshot of the sandbox instead",
    "anvil_setChainId": "the sandbox's chain id is what keeps its transactions from being replayed elsewhere",
    "anvil_setLoggingEnabled": "the node's log is the server's, not the sandbox's",
    "hardhat_setLoggingEnabled": "the node's log is the server's, not the sandbox's",
    "anvil_setExecutor": "it hands the node a private key, and a sandbox's node holds none",
}

# geth's built-in tracers as anvil implements them; any other `tracer` is JavaScript the node would run.
_TRACERS: Final = frozenset(
    {"callTracer", "flatCallTracer", "prestateTracer", "4byteTracer", "noopTracer", "muxTracer"}
)
# Mining methods whose first param is a block count, and those whose first param is an object with `blocks`.
_MINE_COUNT: Final = frozenset({"anvil_mine", "hardhat_mine"})
_MINE_OPTIONS: Final = frozenset({"evm_mine", "anvil_mine_detailed", "evm_mine_detailed"})
# Where each tracing method takes its options object.
_TRACER_OPTIONS_AT: Final[Mapping[str, int]] = {"debug_traceTransaction": 1, "debug_traceCall": 2}


class NodeAdminRefusal(NamedTuple):
    """A JSON-RPC error for a node-administration request: ``code`` (-32601 or -32602) and ``message``."""

    code: int
    message: str


def refuse_node_admin(method: str, params: Sequence[object]) -> NodeAdminRefusal | None:
    """Why ``method`` with ``params`` may not reach a sandbox's node, or None when it may.

    Args:
        method: the JSON-RPC method, a node-administration one (see `NODE_ADMIN_PREFIXES`).
        params: its positional params.

    Example:
        >>> refuse_node_admin("anvil_mine", ["0x3"]) is None
        True
        >>> refuse_node_admin("anvil_setRpcUrl", ["http://127.0.0.1:8545"]).code
        -32601
    """
    if method not in NODE_ADMIN_METHODS:
        reason = _REFUSED_BECAUSE.get(method, "it is not among the node-administration methods a sandbox answers")
        return NodeAdminRefusal(
            -32601, f"{method} is refused: {reason}. docs/sandboxes.md lists the node-administration methods allowed."
        )
    if method in ("anvil_reset", "hardhat_reset") and any(param is not None for param in params):
        return NodeAdminRefusal(
            -32602,
            f"invalid params: {method} takes no forking: a sandbox's node forks no other chain. Call it without "
            "params to empty the chain, or revert to a snapshot of the sandbox.",
        )
    if params and (method in _MINE_COUNT or method in _MINE_OPTIONS):
        first = params[0]
        blocks = first.get("blocks") if method in _MINE_OPTIONS and isinstance(first, dict) else None
        if method in _MINE_COUNT:
            blocks = first
        if blocks is not None and not 0 <= _quantity(blocks) <= MAX_MINED_BLOCKS:
            return NodeAdminRefusal(
                -32602,
                f"invalid params: {method} mines at most {MAX_MINED_BLOCKS} blocks per call, given as a number or "
                "0x-hex; call it again for more",
            )
    position = _TRACER_OPTIONS_AT.get(method)
    if position is not None and len(params) > position:
        options = params[position]
        tracer = options.get("tracer") if isinstance(options, dict) else None
        if tracer is not None and tracer not in _TRACERS:
            return NodeAdminRefusal(
                -32602,
                f"invalid params: {method} runs only the built-in tracers ({', '.join(sorted(_TRACERS))}), "
                f"not {str(tracer)[:40]!r}",
            )
    return None


def _quantity(value: object) -> int:
    """A JSON-RPC number (integer, 0x-hex or decimal string) as an int; -1 for anything else."""
    if isinstance(value, bool):
        return -1
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value, 16) if value[:2].lower() == "0x" else int(value, 10)
        except ValueError:
            return -1
    return -1
