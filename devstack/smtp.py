"""A real SMTP server (aiosmtpd) on loopback that keeps what it receives.

Tests use it in process (messages in memory); the local run and the
benchmark start it as a process (``python -m devstack.smtp``) that writes
each message to ``<folder>/<n>.eml`` like a maildrop, or with
``--count-only`` just logs one line per accepted message (time and
recipient) for the benchmark. Like a delivery agent it prepends
``Return-Path: <envelope sender>`` to what it stores.

It offers SMTPUTF8 (internationalised addresses) unless told not to.
``delay`` slows every answer to DATA (a slow relay, so that a test can kill
a worker in the middle of a batch). ``rules`` makes chosen recipients fail: {"x@example.com": "550 5.1.1 no such user"}
(or "451 4.3.0 try later") answered at RCPT time.

aiosmtpd's Controller cannot bind port 0 (it connects to itself on the
port it was given), so a free port is picked first.
"""

from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from aiosmtpd.controller import Controller

from devstack.procs import free_port


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list
    data: bytes
    at: float

    def parsed(self):
        return email.message_from_bytes(self.data, policy=email.policy.default)


@dataclass
class Mailbox:
    keep: bool = True
    folder: Path | None = None
    arrivals_path: Path | None = None
    rules: dict = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering DATA: a slow relay, for crash tests
    messages: list = field(default_factory=list)
    count: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self):
        self._arrivals = open(self.arrivals_path, "a", buffering=1) if self.arrivals_path else None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        rule = self.rules.get(address.lower())
        if rule:
            return rule
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8")
        stored = b"Return-Path: <" + envelope.mail_from.encode("utf-8") + b">\r\n" + data
        now = time.time()
        with self.lock:
            self.count += 1
            n = self.count
            if self.keep:
                self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), stored, now))
        if self.folder is not None:
            (self.folder / f"{int(now * 1000)}-{n:06d}.eml").write_bytes(stored)
        if self._arrivals is not None:
            self._arrivals.write(f"{now:.6f} {' '.join(envelope.rcpt_tos)}\n")
        return "250 2.0.0 Message accepted"

    def to(self, address: str) -> list:
        with self.lock:
            return [m for m in self.messages if address.lower() in (r.lower() for r in m.rcpt_tos)]

    def snapshot(self) -> list:
        with self.lock:
            return list(self.messages)


class SmtpServer:
    """Start/stop an aiosmtpd server on 127.0.0.1; ``mailbox`` holds what arrived."""

    def __init__(
        self,
        port: int | None = None,
        *,
        folder: str | Path | None = None,
        keep: bool = True,
        arrivals_path: str | Path | None = None,
        smtputf8: bool = True,
    ):
        self.port = port or free_port()
        folder = Path(folder) if folder else None
        if folder:
            folder.mkdir(parents=True, exist_ok=True)
        self.mailbox = Mailbox(
            keep=keep, folder=folder, arrivals_path=Path(arrivals_path) if arrivals_path else None
        )
        # SMTPUTF8 offered, as Postfix and every large mailbox provider do (RFC 6531:
        # ñandú@ejemplo.es); smtputf8=False plays an old relay without it.
        self.controller = Controller(
            self.mailbox,
            hostname="127.0.0.1",
            port=self.port,
            data_size_limit=10 * 1024 * 1024,
            enable_SMTPUTF8=smtputf8,
        )

    def start(self) -> SmtpServer:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="A local SMTP server that keeps what it receives.")
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one, printed)")
    parser.add_argument("--folder", help="write each message to FOLDER/<time>-<n>.eml")
    parser.add_argument("--no-smtputf8", action="store_true", help="do not offer SMTPUTF8 (an old relay)")
    parser.add_argument("--arrivals", help="append '<unix time> <recipients>' per message to this file")
    args = parser.parse_args(argv)
    server = SmtpServer(
        args.port or None,
        folder=args.folder,
        keep=False,
        arrivals_path=args.arrivals,
        smtputf8=not args.no_smtputf8,
    ).start()
    print(f"smtp listening on 127.0.0.1:{server.port}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
