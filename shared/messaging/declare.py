"""``python -m shared.messaging.declare``: declare every exchange and queue now.

Workers declare their own queues when they start, but an event published
before its consumer ever ran would be unroutable and dropped. The deployment
runs this once before anything else (the ``rabbitmq-topology`` container in
docker-compose.yml), so every queue exists and buffers from the first event.
Idempotent. Reads ``VINCULO_AMQP_URL`` and ``VINCULO_BROKER_NAMESPACE``.
"""

from __future__ import annotations

import os
import sys

from shared.messaging.connection import connect
from shared.messaging.topology import QUEUES, Topology


def declare(amqp_url: str, namespace: str = "") -> int:
    """Declare the whole topology; returns how many work queues it has."""
    with connect(amqp_url) as conn:
        conn.ensure_connection(max_retries=10, interval_start=1, interval_step=2, interval_max=5)
        Topology(namespace).declare(conn.channel())
    return len(QUEUES)


def main() -> int:
    url = os.environ.get("VINCULO_AMQP_URL")
    if not url:
        print("vinculo: configuration error: VINCULO_AMQP_URL is required", file=sys.stderr)
        return 2
    count = declare(url, os.environ.get("VINCULO_BROKER_NAMESPACE", ""))
    print(f"vinculo: declared {count} queues (with their .retry and .dlq) and the exchanges")
    return 0


if __name__ == "__main__":
    sys.exit(main())
