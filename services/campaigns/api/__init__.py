"""HTTP API blueprints of the campaigns service."""
