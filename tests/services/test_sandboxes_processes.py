"""A sandbox's node when several API processes serve it (`segell up --workers N`): one process runs it, the others
reach it, a revert asked of any process reverts it for all, and when its process is gone another one runs it.

Two `SandboxManager`s over one SEGELL_HOME are what two processes have: the node's state lock and the sandbox's
lock are `flock`s, held per open file, and the anvil a revert kills is found in /proc, as between processes.
"""

from pathlib import Path

import pytest
from eth_account import Account

from segell.chain.anvil import find_anvil
from segell.chain.nodes import AnvilNotFound
from segell.chain.transactions import send_transaction
from segell.services.sandboxes.manager import SandboxManager

CHAIN_ID = 0x5E6E_0000_1234


@pytest.mark.anvil
def test_sandbox_node_is_shared_reverted_and_taken_over_between_processes(tmp_path: Path) -> None:
    try:
        find_anvil(None)
    except AnvilNotFound:
        pytest.skip("anvil not installed (make setup installs it from npm)")
    funded = Account.create()
    first = SandboxManager(tmp_path, shared=True)
    second = SandboxManager(tmp_path, shared=True)
    try:
        running = first.start("sbx_shared", "anvil", chain_id=CHAIN_ID, genesis_accounts={funded.address: 10**20})
        reached = second.open("sbx_shared", "anvil", chain_id=CHAIN_ID)
        assert (running.owned, reached.owned) == (True, False)
        assert second.runs_elsewhere("sbx_shared") and not first.runs_elsewhere("sbx_shared")

        # What one process does, the other sees.
        send_transaction(reached.node.w3, funded, {"to": Account.create().address, "value": 1})
        head = running.node.w3.eth.block_number
        assert head == reached.node.w3.eth.block_number == 1
        first.save_state(running, "one-block")

        # A revert asked of the process that does not run the node reverts it for both.
        for _ in range(3):
            send_transaction(running.node.w3, funded, {"to": Account.create().address, "value": 1})
        assert reached.node.w3.eth.block_number == 4
        second.restore_state(reached, "one-block")
        assert reached.node.w3.eth.block_number == 1
        assert running.node.w3.eth.block_number == 1
        assert reached.owned is False  # the process that runs it started it again

        # Its process gone (its node stopped with it), the next process that needs it runs it.
        first.stop("sbx_shared")
        assert not second.runs_elsewhere("sbx_shared")
        taken = second.open("sbx_shared", "anvil", chain_id=CHAIN_ID)
        assert taken.owned is True
        assert taken.node.w3.eth.block_number == 1
        assert taken.node.w3.eth.get_transaction_count(funded.address) == 1
    finally:
        first.stop_all()
        second.stop_all()
