"""The mailer's one question to the listener, the owner of mentions: a customer's
mentions, for the preference center's "my data" download.

Asked over the listener's HTTP API (``GET /mentions?customer_id=``, every page)
rather than kept as a copy fed by ``mention.received``: the download is rare, the
customer is waiting for it, and it must hold what the listener holds now (a mention
corrected, resolved or erased since is shown as it is), which a copy would only
approximate while storing every mention of every customer twice. A listener that
does not answer is ``ListenerError``: the page says "try again", it never hands out
a download without the mentions.
"""

from __future__ import annotations

import requests

PAGE = 200  # the listener's largest page


class ListenerError(RuntimeError):
    """The listener did not answer what was asked (down, or refused our key)."""


class Listener:
    def __init__(self, settings, timeout: float = 10.0):
        self.base = settings.listener_url.rstrip("/")
        self.headers = {"X-API-Key": settings.listener_api_key}
        self.timeout = timeout

    def mentions_of(self, customer_id) -> list[dict]:
        """Every mention linked to the customer, newest first, as the listener's API shows them."""
        items, cursor = [], None
        while True:
            params = {
                "customer_id": str(customer_id),
                "limit": PAGE,
                **({"cursor": cursor} if cursor else {}),
            }
            try:
                response = requests.get(
                    f"{self.base}/mentions", params=params, headers=self.headers, timeout=self.timeout
                )
            except requests.RequestException as exc:
                raise ListenerError(f"listener unreachable: {type(exc).__name__}") from None
            if response.status_code != 200:
                raise ListenerError(f"listener answered {response.status_code}: {response.text[:300]}")
            page = response.json()
            items += page["items"]
            cursor = page.get("next")
            if not cursor:
                return items
