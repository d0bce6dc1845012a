"""HTTP API blueprints of the mailer service."""
