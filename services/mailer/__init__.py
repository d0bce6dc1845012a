"""The mailer service. Templates, consent-respecting email and SMS delivery, unsubscribe, tracking, preference center."""
