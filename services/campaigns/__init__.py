"""The campaigns service. Campaigns, schedules, A/B tests, journeys and results."""
