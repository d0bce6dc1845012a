"""HTTP API blueprints of the segments service."""
