"""One message for one recipient: render in their locale, add tracking and
unsubscribe, hand it to the channel's transport."""

from __future__ import annotations

import unicodedata

from services.mailer import email_message
from services.mailer.rendering import customer_context, pick_locale
from services.mailer.templates import Pack
from services.mailer.tracking import Links


def message_id(settings, delivery_id: str) -> str:
    """Stable per delivery: a copy resent after a crash carries the same id."""
    return f"<{delivery_id}@{settings.from_address.partition('@')[2] or 'vinculo.invalid'}>"


def verp(settings, delivery_id: str) -> str:
    return f"bounces+{delivery_id}@{settings.bounce_domain}"


def render_for(
    pack: Pack,
    customer: dict,
    links: Links,
    *,
    customer_id: str,
    channel: str,
    topic: str,
    delivery_id: str | None,
    extra: dict | None = None,
) -> tuple[str, dict, str]:
    """(locale, rendered fields, the unsubscribe token)."""
    locale = pick_locale(pack.variants, customer.get("locale"), pack.fallback)
    token = links.unsubscribe_token(customer_id, channel, topic, delivery_id)
    unsubscribe_url = links.unsubscribe_url(token)
    preferences_url = f"{links.public_url}/p/{links.tokens.sign('preferences', {'c': customer_id})}"
    context = customer_context(
        customer, {"unsubscribe_url": unsubscribe_url, "preferences_url": preferences_url, **(extra or {})}
    )
    wanted = customer.get("locale") or locale
    # format dates and money as the customer's own locale (es-MX) when the variant is their language
    context["locale"] = wanted if wanted.split("-")[0] == locale.split("-")[0] else locale
    rendered = pack.variants[locale].render(context)
    return locale, rendered, token


def email_bytes(
    settings,
    pack: Pack,
    customer: dict,
    links: Links,
    *,
    to: str,
    customer_id: str,
    topic: str,
    delivery_id: str,
    track: bool = True,
    extra_headers: dict | None = None,
    extra: dict | None = None,
) -> bytes:
    locale, rendered, token = render_for(
        pack,
        customer,
        links,
        customer_id=customer_id,
        channel="email",
        topic=topic,
        delivery_id=delivery_id,
        extra=extra,
    )
    html = rendered.get("html")
    text = rendered.get("text")
    if track:
        html = links.track_html(html, delivery_id) if html is not None else None
        text = links.track_text(text, delivery_id) if text is not None else None
    to_name = " ".join(filter(None, (customer.get("first_name"), customer.get("last_name"))))
    return email_message.build(
        from_name=pack.variants[locale].from_name or settings.from_name,
        from_address=settings.from_address,
        to_name=to_name,
        to_address=to,
        subject=rendered["subject"],
        text=text,
        html=html,
        message_id=message_id(settings, delivery_id),
        unsubscribe_url=links.unsubscribe_url(token),
        unsubscribe_mailto=links.unsubscribe_mailto_target(token),
        extra_headers=extra_headers,
    )


def sms_text(
    pack: Pack,
    customer: dict,
    links: Links,
    *,
    customer_id: str,
    topic: str,
    delivery_id: str | None,
    extra: dict | None = None,
) -> str:
    # SMS links are not rewritten: a signed tracking URL would cost a segment or two.
    _, rendered, _ = render_for(
        pack,
        customer,
        links,
        customer_id=customer_id,
        channel="sms",
        topic=topic,
        delivery_id=delivery_id,
        extra=extra,
    )
    return sms_body(rendered["text"])


def sms_body(text: str) -> str:
    """The SMS as it travels: NFC, since a decomposed "é" (e + U+0301, pasted from a PDF) is
    outside the GSM alphabet and turns the message into UCS-2: 70 characters a part, not 160."""
    return unicodedata.normalize("NFC", text)
