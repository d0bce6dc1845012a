"""Building and sending email: MIME, headers, DKIM, and SMTP with connection reuse.

* ``email.policy.SMTP`` encodes non-ASCII subjects and display names as
  RFC 2047 encoded words ("Sofía Núñez", "¡Últimas ofertas para ti, Íñigo!").
* List-Unsubscribe carries an https URL (RFC 8058 one-click POST) and a
  mailto. Those two header lines are written as they are, unfolded (within
  RFC 5322's 998 characters), in front of what the policy serialises: the
  policy would fold or encode a long URL, which has broken one-click
  unsubscribe elsewhere. Everything else keeps the 78-column folding.
* Message-ID is derived from the delivery id, so a message resent after a
  crash carries the same id as the first copy.
* DKIM (when a key is configured) signs From, To, Subject, Date, Message-ID,
  MIME-Version, Content-Type, List-Unsubscribe and List-Unsubscribe-Post.
"""

from __future__ import annotations

import email.policy
import email.utils
import smtplib
import socket
import ssl
from email.headerregistry import Address
from email.message import EmailMessage

from services.mailer.transport import PermanentFailure, TransientFailure

POLICY = email.policy.SMTP
DKIM_HEADERS = [b"From", b"To", b"Subject", b"Date", b"Message-ID", b"MIME-Version", b"Content-Type",
                b"List-Unsubscribe", b"List-Unsubscribe-Post"]


def build(*, from_name: str, from_address: str, to_name: str, to_address: str, subject: str,
          text: str | None, html: str | None, message_id: str, unsubscribe_url: str | None = None,
          unsubscribe_mailto: str | None = None, extra_headers: dict | None = None) -> bytes:
    """The message as bytes with CRLF line ends, ready for DKIM and SMTP."""
    msg = EmailMessage(policy=POLICY)
    local, _, domain = from_address.partition("@")
    msg["From"] = Address(display_name=from_name or "", username=local, domain=domain)
    to_local, _, to_domain = to_address.partition("@")
    msg["To"] = Address(display_name=to_name or "", username=to_local, domain=to_domain)
    msg["Subject"] = subject
    msg["Date"] = email.utils.formatdate(usegmt=True)
    msg["Message-ID"] = message_id
    for name, value in (extra_headers or {}).items():
        msg[name] = value
    if text is None and html is not None:
        text = ""
    msg.set_content(text or "", charset="utf-8")
    if html is not None:
        msg.add_alternative(html, subtype="html", charset="utf-8")
    raw = msg.as_bytes(policy=POLICY)
    if unsubscribe_url:
        targets = [f"<{unsubscribe_url}>"]
        if unsubscribe_mailto:
            targets.append(f"<mailto:{unsubscribe_mailto}>")
        lines = (f"List-Unsubscribe: {', '.join(targets)}\r\n"
                 "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n")
        raw = lines.encode("ascii") + raw
    return raw


class DkimSigner:
    def __init__(self, domain: str, selector: str, key_path: str):
        with open(key_path, "rb") as handle:
            self.key = handle.read()
        self.domain = domain.encode()
        self.selector = selector.encode()

    def sign(self, raw: bytes) -> bytes:
        import dkim

        signature = dkim.sign(raw, self.selector, self.domain, self.key, include_headers=DKIM_HEADERS)
        return signature + raw


class SmtpTransport:
    """One SMTP connection reused across messages; reconnects when dropped."""

    name = "email"

    def __init__(self, settings):
        self.host = settings.smtp_host
        self.port = settings.smtp_port
        self.starttls = settings.smtp_starttls
        self.user = settings.smtp_user
        self.password = settings.smtp_password
        self.timeout = settings.smtp_timeout
        self.signer = (DkimSigner(settings.dkim_domain, settings.dkim_selector, settings.dkim_key_path)
                       if settings.dkim_domain and settings.dkim_key_path else None)
        self._smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        smtp.ehlo()
        if self.starttls:
            smtp.starttls(context=ssl.create_default_context())
            smtp.ehlo()
        if self.user:
            smtp.login(self.user, self.password)
        return smtp

    def finish(self, raw: bytes) -> bytes:
        """DKIM-sign when a key is configured."""
        return self.signer.sign(raw) if self.signer else raw

    def send(self, envelope_from: str, to: str, raw: bytes) -> None:
        """Hand one message to the relay; raise Transient/PermanentFailure."""
        for attempt in (1, 2):
            try:
                if self._smtp is None:
                    self._smtp = self._connect()
                self._smtp.sendmail(envelope_from, [to], raw)
                return
            except smtplib.SMTPRecipientsRefused as exc:
                code, reply = next(iter(exc.recipients.values()))
                self._reset_transaction()
                raise (PermanentFailure if code >= 500 else TransientFailure)(
                    f"SMTP {code} {reply.decode(errors='replace')}") from None
            except (smtplib.SMTPDataError, smtplib.SMTPSenderRefused) as exc:
                self._reset_transaction()
                raise (PermanentFailure if exc.smtp_code >= 500 else TransientFailure)(
                    f"SMTP {exc.smtp_code} {exc.smtp_error.decode(errors='replace')}") from None
            except (smtplib.SMTPServerDisconnected, ConnectionError, socket.timeout) as exc:
                # A reused connection the server closed: reconnect once, then give up for now.
                self.close()
                if attempt == 2:
                    raise TransientFailure(f"SMTP connection: {type(exc).__name__}: {exc}") from None
            except (smtplib.SMTPException, OSError) as exc:
                self.close()
                raise TransientFailure(f"SMTP: {type(exc).__name__}: {exc}") from None

    def _reset_transaction(self) -> None:
        try:
            if self._smtp is not None:
                self._smtp.rset()
        except (smtplib.SMTPException, OSError):
            self.close()

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                pass
            self._smtp = None
