"""What campaigns needs to know about a template, asked of its owner, the mailer.

The mailer owns templates (ARCHITECTURE.md); campaigns checks one when a campaign
is created, edited or scheduled: it exists, is on the campaign's channel and is not
archived. That check goes to the mailer's HTTP API (``GET /templates/<id>``) rather
than to a copy fed by events because the marketer is waiting for the answer, it must
be the mailer's current one (a template archived a second ago is refused, a template
created a second ago is accepted: no copy lagging behind), and the mailer already
serves that read. A mailer that does not answer is ``Unavailable`` (a 503 in the shared error shape),
never a guess; a campaign already stored is not checked again, so sending never
depends on this call.
"""

from __future__ import annotations

import requests

from shared.errors import Unavailable


class MailerUnavailable(Unavailable):
    """The mailer did not answer (down, or refused our key): nothing is decided."""

    def __init__(self, reason: str):
        super().__init__(
            "The mailer service is not answering, so the template cannot be checked; try again",
            service="mailer",
            reason=reason,
        )


class Templates:
    """``lookup(id)``: the template's ``channel`` and ``archived``, or None when the mailer has none."""

    def __init__(self, base_url: str, api_key: str, timeout: float = 5.0):
        self.base = base_url.rstrip("/")
        self.headers = {"X-API-Key": api_key}
        self.timeout = timeout
        self.session = requests.Session()

    def lookup(self, template_id: str) -> dict | None:
        try:
            response = self.session.get(
                f"{self.base}/templates/{template_id}", headers=self.headers, timeout=self.timeout
            )
        except requests.RequestException as exc:
            raise MailerUnavailable(f"unreachable: {type(exc).__name__}") from None
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise MailerUnavailable(f"answered {response.status_code}")
        body = response.json()
        return {"channel": body.get("channel"), "archived": bool(body.get("archived"))}
