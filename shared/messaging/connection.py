"""Broker connections: the one way a part opens one for publishing, and closes one that may be broken."""

from __future__ import annotations

from kombu import Connection


def connect(amqp_url: str) -> Connection:
    """A broker connection whose channels wait for publisher confirms."""
    return Connection(amqp_url, transport_options={"confirm_publish": True}, connect_timeout=5)


def release_quietly(connection: Connection | None) -> None:
    """Release a broker connection that may already be broken."""
    if connection is None:
        return
    try:
        connection.release()
    except Exception:  # noqa: BLE001 - the connection is already broken
        pass
