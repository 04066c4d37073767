"""Liveness and what a running Segell is connected to."""
