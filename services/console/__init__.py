"""The web console: server-rendered pages over the four services' HTTP APIs."""
