"""The mailer's store: the only code touching the mailer's collections, one module per area."""
