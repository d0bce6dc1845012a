"""Prometheus metrics every part of every service exposes.

* HTTP (api): requests by endpoint (the URL rule, so ids do not explode the
  label set), method and status; latency by endpoint and method.
* Messages (worker): consumed, handled, duplicates, failed, retried and
  dead-lettered per queue (plain name, without the broker namespace), the
  time a handler takes, and the messages waiting (ready) in each consumed
  queue: the queue lag, sampled by the worker itself.
* Publishing: events published by type, and events kept in the outbox
  because the broker could not take them.

Services add their own (``vinculo_mailer_sends_total``...) with ``counter``
and friends below, so every name starts with ``vinculo_``.

The api runs under gunicorn with several processes: ``shared.entry`` sets
``PROMETHEUS_MULTIPROC_DIR`` before anything imports prometheus_client, and
``exposition()`` then sums every process's values (prometheus_client's
multiprocess mode). Workers, schedulers and pollers are one process each and
serve the default registry with ``serve(port)``.
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    start_http_server,
)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def counter(name: str, doc: str, labels=()) -> Counter:
    return Counter(f"vinculo_{name}", doc, list(labels))


def histogram(name: str, doc: str, labels=(), buckets=LATENCY_BUCKETS) -> Histogram:
    return Histogram(f"vinculo_{name}", doc, list(labels), buckets=buckets)


def gauge(name: str, doc: str, labels=(), multiprocess_mode: str = "livesum") -> Gauge:
    return Gauge(f"vinculo_{name}", doc, list(labels), multiprocess_mode=multiprocess_mode)


# HTTP
HTTP_REQUESTS = counter(
    "http_requests_total", "HTTP requests answered", ("service", "endpoint", "method", "status")
)
HTTP_LATENCY = histogram(
    "http_request_duration_seconds", "Time to answer an HTTP request", ("service", "endpoint", "method")
)

# Messages
CONSUMED = counter("messages_consumed_total", "Messages taken from a queue", ("queue",))
HANDLED = counter("messages_handled_total", "Messages whose handler succeeded (acked)", ("queue",))
DUPLICATES = counter("messages_duplicates_total", "Redelivered message ids acked without work", ("queue",))
FAILED = counter("messages_failed_total", "Handler failures (transient or poison)", ("queue",))
RETRIED = counter("messages_retried_total", "Messages sent to <queue>.retry for a delayed retry", ("queue",))
DEAD_LETTERED = counter(
    "messages_dead_lettered_total",
    "Messages moved to <queue>.dlq, by cause: malformed, poison or exhausted",
    ("queue", "cause"),
)
HANDLING = histogram("message_handling_seconds", "Time a handler takes per message", ("queue",))
QUEUE_READY = gauge("queue_messages_ready", "Messages waiting in a consumed queue (the lag)", ("queue",))

# Publishing
PUBLISHED = counter("messages_published_total", "Events confirmed by the broker, by type", ("type",))
OUTBOXED = counter(
    "messages_outboxed_total", "Events kept in the outbox while the broker was down", ("type",)
)


def dead_letter_cause(reason: str) -> str:
    """The cause label from the consumer base's reason text."""
    if reason.startswith("malformed"):
        return "malformed"
    if reason.startswith("poison"):
        return "poison"
    if reason.startswith("unexpected"):
        return "unexpected"
    return "exhausted"


def exposition() -> tuple[bytes, str]:
    """The text Prometheus scrapes, summed over gunicorn processes when there are several."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def serve(port: int, addr: str = "0.0.0.0") -> None:
    """Serve /metrics on ``port`` from a background thread (workers, schedulers, pollers)."""
    start_http_server(port, addr=addr)
