"""Local infrastructure for the run command and the tests: the MongoDB
wire-protocol stand-in, RabbitMQ start-up, a loopback SMTP server.

Nothing here is imported by the services in production.
"""
