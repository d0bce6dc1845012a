"""Vínculo's common package: settings, store connection, the customer profile
documents, message contracts, publisher and consumer base, HTTP errors, auth,
logging and health. No business logic lives here."""
