"""The notary: documents accepted, batched into Merkle trees, anchored on chain, revoked by their issuer."""
