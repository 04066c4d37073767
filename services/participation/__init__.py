"""The participation domain: citizens' ideas, supports and votes, with tallies anyone can recount."""
