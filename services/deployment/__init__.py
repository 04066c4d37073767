"""What a deployment publishes about itself (`/.well-known/segell.json`), so that verifiers can pin it."""
