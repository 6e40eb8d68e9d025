"""What counts as personal data or a secret in free text, and how it is masked before it is logged.

Used by the logging filter every process installs (``hub.logs``) and by anything that writes a
message about a customer (the sandbox SMS sender). Masking is deliberately eager: a long run of
digits is treated as a phone number even when it is an id, because a leaked phone number costs more
than an id missing from a log line (correlate with the event, episode and delivery ids instead).

- phone numbers: ``+`` and 8 to 15 digits (spaces, dots, dashes, parentheses allowed), national
  forms such as ``(415) 555-0100`` or ``415.555.0100``, bare runs of 10 to 15 digits, and the
  URL-encoded ``%2B`` form;
- email addresses, plain and URL-encoded (``%40``);
- secrets: the exact values the caller registers (the configured secret settings).

Nothing here reads settings: the caller passes the secret values in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

PHONE_MASK = "[phone]"
EMAIL_MASK = "[email]"
SECRET_MASK = "[secret]"  # noqa: S105 - the mask, not a secret
MIN_SECRET_LENGTH = 8  # shorter values ("true", "secret") would mask ordinary words

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+(?:@|%40)[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
_PHONES = (
    # +1 415 555 0100, +44 (0)20 7946 0018, %2B14155550100
    re.compile(r"(?:\+|%2[Bb])\d(?:[\s().\-]{0,2}\d){7,14}"),
    # (415) 555-0100, 415-555-0100, 415.555.0100, 415 555 0100
    re.compile(r"(?<![\w.])\(?\d{3}\)?[\s.\-]\d{3}[\s.\-]\d{4}(?![\w])"),
    # 4155550100, 14155550100, 447700900123
    re.compile(r"(?<![\w.])\d{10,15}(?![\w])"),
)


def mask_phones(text: str) -> str:
    for pattern in _PHONES:
        text = pattern.sub(PHONE_MASK, text)
    return text


def mask_emails(text: str) -> str:
    return _EMAIL.sub(EMAIL_MASK, text)


@dataclass
class Redactor:
    """Masks phone numbers, emails and the registered secret values in a text."""

    secrets: set[str] = field(default_factory=set)

    def add_secrets(self, values: Iterable[str | None]) -> None:
        self.secrets.update(v for v in values if v and len(v) >= MIN_SECRET_LENGTH)

    def mask(self, text: str) -> str:
        # Longest first, so a secret that contains another is masked whole.
        for secret in sorted(self.secrets, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, SECRET_MASK)
        return mask_phones(mask_emails(text))


def mask(text: str) -> str:
    """Phones and emails masked (no secrets known): for code that has no Redactor at hand."""
    return mask_phones(mask_emails(text))
