"""Administrations (the consortium's members), their chain accounts and API keys."""
