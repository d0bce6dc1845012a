"""The operator's dead-letter command: list, inspect, replay or drop what a queue refused.

    python -m shared.messaging.deadletters list
    python -m shared.messaging.deadletters show mailer.send.requested [--limit 20]
    python -m shared.messaging.deadletters replay mailer.send.requested [--id MESSAGE_ID] [--limit N]
    python -m shared.messaging.deadletters drop mailer.send.requested --id MESSAGE_ID [--limit N] --yes

It reads ``VINCULO_AMQP_URL`` and ``VINCULO_BROKER_NAMESPACE`` like the services.
Queues are named as in ``shared.messaging.topology`` (without the namespace).
Every dead-lettered message carries why (``x-vinculo-reason``), where it failed
(``x-vinculo-queue``) and how often (``x-vinculo-attempts``): ``show`` prints them.
``replay`` puts messages back on their queue with their message id, so a consumer
that handled one already drops it as a duplicate; the reason headers are removed.

Built on pika's blocking connection: one message at a time with ``basic_get`` and
an explicit ack, which is what an operator's tool needs (kombu is for the services'
long-running consumers). Messages ``show`` reads are returned to the queue unchanged.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass

import pika

from shared.messaging.topology import QUEUES, Topology

REASON_HEADERS = (
    "x-vinculo-reason",
    "x-vinculo-queue",
    "x-vinculo-routing-key",
    "x-vinculo-attempts",
    "x-vinculo-failed-at",
    "x-vinculo-attempt",
    "x-death",
)


@dataclass
class DeadLetter:
    delivery_tag: int
    message_id: str | None
    type: str | None
    reason: str
    attempts: int | None
    failed_at: str | None
    body: bytes
    properties: pika.BasicProperties

    def summary(self) -> dict:
        return {
            "message_id": self.message_id,
            "type": self.type,
            "reason": self.reason,
            "attempts": self.attempts,
            "failed_at": self.failed_at,
            "size": len(self.body),
        }


class DeadLetters:
    def __init__(self, amqp_url: str, namespace: str = ""):
        self.topology = Topology(namespace)
        self.connection = pika.BlockingConnection(parameters(amqp_url))
        self.channel = self.connection.channel()
        self.channel.confirm_delivery()

    def close(self) -> None:
        if self.connection.is_open:
            self.connection.close()

    def _dlq(self, plain: str) -> str:
        if plain not in QUEUES:
            raise SystemExit(f"unknown queue {plain!r}; one of: {', '.join(sorted(QUEUES))}")
        return self.topology.name(f"{plain}.dlq")

    def counts(self) -> dict[str, int]:
        """Messages waiting in each queue's DLQ (queues not declared yet count 0)."""
        out = {}
        for plain in sorted(QUEUES):
            try:
                out[plain] = self.channel.queue_declare(
                    self.topology.name(f"{plain}.dlq"), passive=True
                ).method.message_count
            except pika.exceptions.ChannelClosedByBroker:
                self.channel = self.connection.channel()
                self.channel.confirm_delivery()
                out[plain] = 0
        return out

    def _take(self, plain: str, limit: int, message_id: str | None) -> tuple[list[DeadLetter], list[int]]:
        """Up to ``limit`` matching messages, unacked; and the tags of the others read on the way."""
        queue = self._dlq(plain)
        total = self.channel.queue_declare(queue, passive=True).method.message_count
        wanted, others = [], []
        for _ in range(total):
            if len(wanted) >= limit:
                break
            method, properties, body = self.channel.basic_get(queue, auto_ack=False)
            if method is None:
                break
            headers = properties.headers or {}
            envelope = _envelope_of(body)
            letter = DeadLetter(
                method.delivery_tag,
                properties.message_id or envelope.get("message_id"),
                envelope.get("type"),
                str(headers.get("x-vinculo-reason", "(no reason recorded)")),
                headers.get("x-vinculo-attempts"),
                headers.get("x-vinculo-failed-at"),
                body,
                properties,
            )
            if message_id is None or letter.message_id == message_id:
                wanted.append(letter)
            else:
                others.append(method.delivery_tag)
        return wanted, others

    def _give_back(self, tags: list[int]) -> None:
        for tag in tags:
            self.channel.basic_nack(tag, requeue=True)

    def show(self, plain: str, limit: int = 20, message_id: str | None = None) -> list[dict]:
        letters, others = self._take(plain, limit, message_id)
        self._give_back([letter.delivery_tag for letter in letters] + others)
        return [letter.summary() for letter in letters]

    def replay(self, plain: str, limit: int, message_id: str | None = None) -> int:
        """Back onto the queue they failed on, same body and message id, without the reason headers."""
        letters, others = self._take(plain, limit, message_id)
        target = self.topology.name(plain)
        for letter in letters:
            headers = {k: v for k, v in (letter.properties.headers or {}).items() if k not in REASON_HEADERS}
            properties = pika.BasicProperties(
                content_type=letter.properties.content_type,
                content_encoding=letter.properties.content_encoding,
                message_id=letter.message_id,
                delivery_mode=2,
                headers=headers or None,
            )
            self.channel.basic_publish("", target, letter.body, properties, mandatory=True)
            self.channel.basic_ack(letter.delivery_tag)
        self._give_back(others)
        return len(letters)

    def drop(self, plain: str, limit: int, message_id: str | None = None) -> int:
        letters, others = self._take(plain, limit, message_id)
        for letter in letters:
            self.channel.basic_ack(letter.delivery_tag)
        self._give_back(others)
        return len(letters)


def parameters(amqp_url: str) -> pika.ConnectionParameters:
    """The services' URL (kombu's form: ``amqp://user:pass@host:5672//`` is the vhost "/")."""
    from kombu.utils.url import parse_url

    parts = parse_url(amqp_url)
    return pika.ConnectionParameters(
        host=parts.get("hostname") or "localhost",
        port=parts.get("port") or 5672,
        virtual_host=parts.get("virtual_host") or "/",
        credentials=pika.PlainCredentials(parts.get("userid") or "guest", parts.get("password") or "guest"),
    )


def _envelope_of(body: bytes) -> dict:
    """The envelope's fields when the body is one (a malformed body has none)."""
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return {}
    return value if isinstance(value, dict) else {}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m shared.messaging.deadletters",
        description="List, inspect, replay or drop dead-lettered messages.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="messages waiting in each queue's dead-letter queue")
    for name in ("show", "replay", "drop"):
        command = sub.add_parser(name)
        command.add_argument("queue", help="a queue as named in shared/messaging/topology.py")
        command.add_argument("--id", dest="message_id", help="only the message with this message id")
        command.add_argument(
            "--limit",
            type=int,
            default=20 if name == "show" else 1,
            help="at most this many messages (default: 20 shown, 1 replayed or dropped)",
        )
        if name == "drop":
            command.add_argument("--yes", action="store_true", help="really drop them")
    args = parser.parse_args(argv)
    amqp_url = os.environ.get("VINCULO_AMQP_URL")
    if not amqp_url:
        print("error: VINCULO_AMQP_URL is required", file=sys.stderr)
        return 2
    tool = DeadLetters(amqp_url, os.environ.get("VINCULO_BROKER_NAMESPACE", ""))
    try:
        if args.command == "list":
            for plain, count in tool.counts().items():
                print(f"{count:8d}  {plain}")
        elif args.command == "show":
            for letter in tool.show(args.queue, args.limit, args.message_id):
                print(json.dumps(letter, ensure_ascii=False))
        elif args.command == "replay":
            print(f"replayed {tool.replay(args.queue, args.limit, args.message_id)} onto {args.queue}")
        else:
            if not args.yes:
                print("error: drop removes messages for good; add --yes", file=sys.stderr)
                return 2
            print(f"dropped {tool.drop(args.queue, args.limit, args.message_id)} from {args.queue}.dlq")
    finally:
        tool.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
