"""Talking to an EVM: nodes, compiling, deploying, contract clients, keys."""
