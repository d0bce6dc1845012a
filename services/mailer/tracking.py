"""Tracked links, the open pixel and the unsubscribe URL of one delivery.

Every http(s) link of a rendered message (``href`` in HTML, bare URLs in
text) becomes ``<public>/t/c/<token>`` where the token signs (delivery id,
original URL) for the purpose "click". The redirect endpoint only follows a
URL inside a valid click token, and such a token only comes from a message
we rendered. Only URLs written in the template are signed: a URL whose
scheme or host a merge field printed (a customer named
``https://evil.example/phish``) is left as it is, untracked, so our domain
never redirects to where a customer's data points
(``rendering.Rendered.data_spans`` say which characters merge fields printed;
a body without them tracks nothing). Links into the mailer itself
(unsubscribe, preferences) are left as they are.
"""

from __future__ import annotations

import html as html_lib
import re

from services.mailer.tokens import Tokens

HREF_RE = re.compile(r"""(href\s*=\s*)(["'])(https?://[^"']+)\2""", re.IGNORECASE)
TEXT_URL_RE = re.compile(r"""https?://[^\s<>"')\]]+""")
# scheme://authority: what decides where a link goes
ORIGIN_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/?#\\]*")


def written_in_template(body: str, start: int, url: str) -> bool:
    """True when the template itself wrote the scheme and host of the URL at ``start`` of ``body``."""
    spans = getattr(body, "from_data", None)
    if spans is None:
        return False  # not a rendered field: nothing says where it came from, so track nothing
    origin = ORIGIN_RE.match(url)
    end = start + (origin.end() if origin else len(url))
    # data printed right after the host ("x.example{{ '.evil.example' }}") is part of the host: refused too
    return not spans(start, end)


class Links:
    def __init__(self, tokens: Tokens, public_url: str, unsubscribe_mailto: str):
        self.tokens = tokens
        self.public_url = public_url.rstrip("/")
        self.unsubscribe_mailto = unsubscribe_mailto

    def unsubscribe_token(self, customer_id: str, channel: str, topic: str, delivery_id: str | None) -> str:
        return self.tokens.sign(
            "unsubscribe", {"c": customer_id, "ch": channel, "t": topic, "d": delivery_id}
        )

    def unsubscribe_url(self, token: str) -> str:
        return f"{self.public_url}/u/{token}"

    def unsubscribe_mailto_target(self, token: str) -> str:
        """The mailto: target of List-Unsubscribe: the unsubscribe mailbox, with the signed token
        in the subject so a reply proves what it unsubscribes (services/mailer/unsubscribe.py)."""
        return f"{self.unsubscribe_mailto}?subject=unsubscribe%20{token}"

    def click_url(self, delivery_id: str, url: str) -> str:
        return f"{self.public_url}/t/c/{self.tokens.sign('click', [delivery_id, url])}"

    def open_url(self, delivery_id: str) -> str:
        return f"{self.public_url}/t/o/{self.tokens.sign('open', delivery_id)}.gif"

    def _ours(self, url: str) -> bool:
        return url.startswith(self.public_url + "/")

    def track_html(self, body: str, delivery_id: str) -> str:
        def swap(match):
            url = html_lib.unescape(match.group(3))
            if self._ours(url) or not written_in_template(body, match.start(3), match.group(3)):
                return match.group(0)
            return f"{match.group(1)}{match.group(2)}{self.click_url(delivery_id, url)}{match.group(2)}"

        body = HREF_RE.sub(swap, body)
        pixel = f'<img src="{self.open_url(delivery_id)}" width="1" height="1" alt="" style="display:none">'
        if "</body>" in body:
            return body.replace("</body>", pixel + "</body>", 1)
        return body + pixel

    def track_text(self, body: str, delivery_id: str) -> str:
        def swap(match):
            url = match.group(0)
            if self._ours(url) or not written_in_template(body, match.start(), url):
                return url
            return self.click_url(delivery_id, url)

        return TEXT_URL_RE.sub(swap, body)


class _NoTokens:
    """Signs nothing: every token of a preview is the word ``sample``, which no public page accepts."""

    def sign(self, purpose: str, data) -> str:
        return "sample"


class PreviewLinks(Links):
    """The links of a preview: inert samples, never a live token.

    A preview is read by people who may not act for the customer (an analyst,
    anyone looking over a marketer's shoulder): a live unsubscribe or
    preference-center link in it would let them revoke consents, download or
    erase the profile. Every link points at ``https://example.invalid``
    (RFC 2606: it resolves nowhere), and its token is ``sample``, which the
    public pages refuse like any forged token."""

    SAMPLE_URL = "https://example.invalid"

    def __init__(self):
        super().__init__(_NoTokens(), self.SAMPLE_URL, "mailto:unsubscribe@example.invalid")

    def click_url(self, delivery_id: str, url: str) -> str:
        return f"{self.public_url}/t/c/sample"

    def open_url(self, delivery_id: str) -> str:
        return f"{self.public_url}/t/o/sample.gif"
