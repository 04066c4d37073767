"""Citizen authentication: one-time codes by SMS, TOTP as the stronger factor, and short-lived signed tokens."""
