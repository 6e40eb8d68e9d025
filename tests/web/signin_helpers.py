"""Helpers for the sign-in tests: RSA keys, Zendesk-style app tokens, the sandbox's auto-posted form."""

from __future__ import annotations

import html
import re
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

SUBDOMAIN = "acme"
INSTALLATION_ID = "360001234567"
ISSUER = f"{SUBDOMAIN}.zendesk.com"
AUDIENCE = f"https://{SUBDOMAIN}.zendesk.com/api/v2/apps/installations/{INSTALLATION_ID}.json"


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def app_claims(now: int, **changes: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 300,
        "sub": "381",
        "name": "Ana Agent",
        "email": "ana@acme.example",
        "role": "agent",
        "time_zone": "Europe/Paris",
        "context": {"product": "support", "location": "ticket_sidebar"},
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def app_token(key: rsa.RSAPrivateKey, now: int, **changes: Any) -> str:
    return jwt.encode(app_claims(now, **changes), key, algorithm="RS256")


def autosubmit_form(page: str) -> tuple[str, dict[str, str]]:
    """The action and hidden fields of the page's ``data-autosubmit`` form (what hub.js posts)."""
    form = re.search(r'<form method="post" action="([^"]+)" data-autosubmit>(.*?)</form>', page, re.S)
    assert form, "no auto-submitted form on the page"
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form.group(2)))
    return html.unescape(form.group(1)), {k: html.unescape(v) for k, v in fields.items()}
