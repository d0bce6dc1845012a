"""HTTP pieces every service API shares: error shape, auth, health, app base."""
