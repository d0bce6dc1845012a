"""The listener service. Listening queries, mentions with sentiment, triage and alerts."""
