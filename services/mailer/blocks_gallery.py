"""Starting templates a marketer copies and edits: newsletter, offer, welcome and event
invitation, each in Spanish and English, built from blocks (with the unsubscribe footer).

Images and links point at example.com: the marketer replaces them with their own."""

from __future__ import annotations

import copy

IMG = "https://www.example.com/imagenes"
SHOP = "https://www.example.com"
SOCIAL = [
    {"network": "instagram", "url": "https://www.instagram.com/"},
    {"network": "facebook", "url": "https://www.facebook.com/"},
]
FOOTER = {
    "es": {"type": "footer", "text": "Tu Empresa S.L. · Calle Mayor 1, 28013 Madrid"},
    "en": {"type": "footer", "text": "Your Company Ltd · 1 High Street, London"},
}


def _newsletter(lang: str) -> dict:
    es = lang == "es"
    return {
        "subject": "Novedades de este mes, {{ first_name }}" if es else "This month's news, {{ first_name }}",
        "preheader": "Lo último, en dos minutos" if es else "The latest, in two minutes",
        "blocks": [
            {
                "type": "image",
                "src": f"{IMG}/cabecera.png",
                "alt": "Tu Empresa" if es else "Your Company",
                "width": 600,
            },
            {"type": "heading", "text": "Hola, {{first_name}}" if es else "Hello, {{first_name}}"},
            {
                "type": "text",
                "text": (
                    "Esto es lo que ha pasado este mes. Cuéntanos qué te parece: responde a este correo."
                )
                if es
                else "Here is what happened this month. Tell us what you think: reply to this e-mail.",
            },
            {
                "type": "columns",
                "columns": [
                    [
                        {
                            "type": "image",
                            "src": f"{IMG}/noticia-1.png",
                            "alt": "Primera noticia" if es else "First story",
                        },
                        {"type": "heading", "level": 3, "text": "Primera noticia" if es else "First story"},
                        {"type": "text", "text": "Un resumen breve." if es else "A short summary."},
                        {
                            "type": "button",
                            "text": "Leer más" if es else "Read more",
                            "url": f"{SHOP}/blog/1",
                        },
                    ],
                    [
                        {
                            "type": "image",
                            "src": f"{IMG}/noticia-2.png",
                            "alt": "Segunda noticia" if es else "Second story",
                        },
                        {"type": "heading", "level": 3, "text": "Segunda noticia" if es else "Second story"},
                        {"type": "text", "text": "Otro resumen breve." if es else "Another short summary."},
                        {
                            "type": "button",
                            "text": "Leer más" if es else "Read more",
                            "url": f"{SHOP}/blog/2",
                        },
                    ],
                ],
            },
            {"type": "divider"},
            {"type": "social", "links": SOCIAL},
            FOOTER[lang],
        ],
    }


def _offer(lang: str) -> dict:
    es = lang == "es"
    return {
        "subject": "{{ first_name }}, un 20 % para ti esta semana"
        if es
        else "{{ first_name }}, 20% off for you this week",
        "preheader": "Solo hasta el domingo" if es else "Until Sunday only",
        "blocks": [
            {
                "type": "image",
                "src": f"{IMG}/oferta.png",
                "alt": "20 % de descuento" if es else "20% off",
                "href": f"{SHOP}/ofertas",
                "width": 600,
            },
            {"type": "heading", "text": "Un 20 % en toda la tienda" if es else "20% off everything"},
            {
                "type": "text",
                "text": ("{{first_name}}, usa el código HOLA20 al pagar. Válido hasta el domingo.")
                if es
                else "{{first_name}}, use the code HELLO20 at checkout. Valid until Sunday.",
            },
            {
                "type": "button",
                "text": "Ver las ofertas" if es else "See the offers",
                "url": f"{SHOP}/ofertas",
            },
            {"type": "spacer", "height": 16},
            FOOTER[lang],
        ],
    }


def _welcome(lang: str) -> dict:
    es = lang == "es"
    return {
        "subject": "Te damos la bienvenida, {{ first_name }}" if es else "Welcome, {{ first_name }}",
        "blocks": [
            {
                "type": "heading",
                "text": "¡Te damos la bienvenida, {{first_name}}!" if es else "Welcome, {{first_name}}!",
            },
            {
                "type": "text",
                "text": (
                    "Gracias por unirte. Estos son tres pasos para empezar:\n"
                    "1. Completa tu perfil.\n2. Elige qué correos quieres.\n"
                    "3. Descubre la tienda."
                )
                if es
                else (
                    "Thank you for joining. Three steps to start:\n1. Complete your profile.\n"
                    "2. Choose the e-mails you want.\n3. Discover the shop."
                ),
            },
            {"type": "button", "text": "Empezar" if es else "Get started", "url": f"{SHOP}/empezar"},
            {"type": "divider"},
            {
                "type": "text",
                "text": ("¿Dudas? Responde a este correo y te ayudamos.")
                if es
                else "Questions? Reply to this e-mail and we will help.",
            },
            FOOTER[lang],
        ],
    }


def _event(lang: str) -> dict:
    es = lang == "es"
    return {
        "subject": "{{ first_name }}, te invitamos" if es else "{{ first_name }}, you are invited",
        "preheader": "Jueves 12, 19:00, en Madrid" if es else "Thursday 12th, 7 pm, in London",
        "blocks": [
            {
                "type": "image",
                "src": f"{IMG}/evento.png",
                "alt": "Invitación" if es else "Invitation",
                "width": 600,
            },
            {
                "type": "heading",
                "text": "Te invitamos a nuestra presentación" if es else "Join us at our launch",
            },
            {
                "type": "columns",
                "columns": [
                    [
                        {"type": "heading", "level": 3, "text": "Cuándo" if es else "When"},
                        {"type": "text", "text": "Jueves 12, a las 19:00" if es else "Thursday 12th, 7 pm"},
                    ],
                    [
                        {"type": "heading", "level": 3, "text": "Dónde" if es else "Where"},
                        {"type": "text", "text": "Calle Mayor 1, Madrid" if es else "1 High Street, London"},
                    ],
                ],
            },
            {
                "type": "button",
                "text": "Confirmar asistencia" if es else "Reply yes",
                "url": f"{SHOP}/evento",
            },
            FOOTER[lang],
        ],
    }


GALLERY = {
    "newsletter": {
        "name": "Boletín / Newsletter",
        "topic": "newsletter",
        "description": "Boletín mensual con dos noticias / Monthly newsletter with two stories",
        "variants": {"es": _newsletter("es"), "en": _newsletter("en")},
    },
    "offer": {
        "name": "Oferta / Offer",
        "topic": "promotions",
        "description": "Una oferta con código y botón / An offer with a code and a button",
        "variants": {"es": _offer("es"), "en": _offer("en")},
    },
    "welcome": {
        "name": "Bienvenida / Welcome",
        "topic": "newsletter",
        "description": "Bienvenida con primeros pasos / Welcome with first steps",
        "variants": {"es": _welcome("es"), "en": _welcome("en")},
    },
    "event": {
        "name": "Invitación a un evento / Event invitation",
        "topic": "newsletter",
        "description": "Invitación con cuándo y dónde / Invitation with when and where",
        "variants": {"es": _event("es"), "en": _event("en")},
    },
}


def variants(key: str) -> dict:
    """A copy of a gallery template's variants, to be edited."""
    return copy.deepcopy(GALLERY[key]["variants"])
