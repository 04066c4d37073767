"""The chain, read-only, as JSON-RPC at /rpc: stock Ethereum tools read contracts, blocks, receipts and logs."""
