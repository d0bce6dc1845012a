"""HTTP API blueprints of the listener service."""
