"""Sandboxes: isolated chains on demand, each with the Segell contracts deployed and its owner admitted."""
