"""Identity: the sandbox certificate authority, document signing and validation."""
