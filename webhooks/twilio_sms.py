"""Twilio inbound SMS: ``X-Twilio-Signature`` exactly as Twilio computes it, and the opt-out keywords.

Signature (crm-facts §7.2, the same as twilio-python's ``RequestValidator``):
``base64(HMAC-SHA1(auth token, URL + name1 + value1 + name2 + value2 ...))`` where URL is the full
public URL Twilio requested (scheme, host, path and query string, as configured in Twilio; behind a
proxy it is rebuilt from ``CTIHUB_PUBLIC_URL``), the form parameter names are sorted, and a repeated
name contributes each of its distinct values, sorted. Like twilio-python, a URL is accepted with its
port removed or with the scheme's default port added (Twilio's own requests differ on this). A JSON
body is signed through ``bodySHA256=<hex sha256(body)>`` in the URL instead of the parameters.
Twilio sends no timestamp: a replay is harmless because deliveries are idempotent by MessageSid.

Keywords (crm-facts §8): the whole message, trimmed and case-insensitive, must be one keyword;
"STOP PLEASE" is not a keyword. Opt-out also tolerates punctuation around the word ("Stop.",
"STOP!"): a missed opt-out breaks the law, a missed opt-in does not, so opt-in and help stay exact.
When Twilio's Advanced Opt-Out matched a keyword of its own (``OptOutType``), that decides.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import string
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import parse_qs, parse_qsl, urlsplit

from hub.domain.body import forbidden_character
from hub.domain.errors import AuthError, Problem
from webhooks.common import DeliveryItem, bounded, invalid, malformed

HEADER = "X-Twilio-Signature"
KEPT_HEADERS = ("Content-Type", "User-Agent", HEADER, "I-Twilio-Idempotency-Token")

OPT_OUT_WORDS = ("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT")
OPT_IN_WORDS = ("START", "YES", "UNSTOP")
HELP_WORDS = ("HELP", "INFO")
OPT_OUT, OPT_IN, HELP = "opt_out", "opt_in", "help"
_OPT_OUT_TYPES = {"STOP": OPT_OUT, "START": OPT_IN, "HELP": HELP}
_AROUND_A_WORD = string.whitespace + string.punctuation + "\u00a1\u00bf\u2018\u2019\u201c\u201d\u2026"

# The base64 of an HMAC-SHA1 digest (20 bytes): anything else is refused before any work.
_SIGNATURE = re.compile(r"[A-Za-z0-9+/]{27}=")
MAX_SID_LENGTH = 64  # Twilio's SIDs are 34 characters; the delivery's id column holds 200
Params = Sequence[tuple[str, str]] | Mapping[str, str | Sequence[str]]


# --- signature ------------------------------------------------------------------------------------


def _grouped(params: Params) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    items = params.items() if isinstance(params, Mapping) else params
    for name, value in items:
        values = [value] if isinstance(value, str) else list(value)
        grouped.setdefault(name, []).extend(values)
    return grouped


def compute_signature(auth_token: str, url: str, params: Params = ()) -> str:
    """The ``X-Twilio-Signature`` Twilio sends for ``url`` and form ``params``."""
    data = url
    for name, values in sorted(_grouped(params).items()):
        for value in sorted(set(values)):
            data += name + value
    digest = hmac.new(auth_token.encode("utf-8"), data.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def _with_netloc(url: str, scheme: str, netloc: str, new_netloc: str) -> str:
    prefix = f"{scheme}://"
    if not url.lower().startswith(prefix.lower()):
        return url
    rest = url[len(prefix) :]
    return prefix + new_netloc + rest[len(netloc) :] if rest.startswith(netloc) else url


def url_variants(url: str) -> tuple[str, str]:
    """(the URL without its port, the URL with a port): the two forms twilio-python accepts."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        return url, url
    netloc = parts.netloc
    if port is None:
        default = 443 if parts.scheme.lower() == "https" else 80
        return url, _with_netloc(url, parts.scheme, netloc, f"{netloc}:{default}")
    return _with_netloc(url, parts.scheme, netloc, netloc[: netloc.rfind(":")]), url


def validate(
    auth_token: str, url: str, signature: str, *, params: Params = (), body: bytes | None = None
) -> bool:
    """True when ``signature`` is what Twilio sends for this request. Constant-time comparisons.

    ``body`` is needed only for a JSON request, whose URL carries ``bodySHA256``.
    """
    if not _SIGNATURE.fullmatch(signature):
        return False
    body_valid = True
    if body is not None:
        claimed = parse_qs(urlsplit(url).query).get("bodySHA256")
        if claimed:
            expected_hash = hashlib.sha256(body).hexdigest()
            body_valid = hmac.compare_digest(expected_hash.encode(), claimed[0].encode("utf-8", "replace"))
            params = ()
    given = signature.encode("ascii")
    valid = False
    for candidate in url_variants(url):
        valid |= hmac.compare_digest(compute_signature(auth_token, candidate, params).encode(), given)
    return body_valid and valid


# --- keywords -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Keyword:
    kind: str  # opt_out | opt_in | help
    word: str  # the keyword as Twilio lists it (e.g. "STOP"), or OptOutType's value


def classify(body: str, opt_out_type: str | None = None) -> Keyword | None:
    """The keyword this whole message is, if any."""
    if opt_out_type and opt_out_type.strip().upper() in _OPT_OUT_TYPES:
        kind = _OPT_OUT_TYPES[opt_out_type.strip().upper()]
        return Keyword(kind, opt_out_type.strip().upper())
    text = unicodedata.normalize("NFKC", body).strip().upper()
    for words, kind in ((OPT_OUT_WORDS, OPT_OUT), (OPT_IN_WORDS, OPT_IN), (HELP_WORDS, HELP)):
        if text in words:
            return Keyword(kind, text)
    word = text.strip(_AROUND_A_WORD)
    if word in OPT_OUT_WORDS:
        return Keyword(OPT_OUT, word)
    return None


# --- the canonical message ------------------------------------------------------------------------


@dataclass(frozen=True)
class InboundSms:
    """One inbound message, or a delivery-status callback of a text the hub sent (``status_callback``
    is its MessageStatus, ``error_code`` its ErrorCode; sender, recipient and body may be empty)."""

    message_sid: str
    account_sid: str | None
    sender: str  # From: E.164, a short code, or a channel address such as "whatsapp:+1..."
    recipient: str  # To
    body: str
    num_media: int = 0
    media_urls: tuple[str, ...] = ()
    messaging_service_sid: str | None = None
    opt_out_type: str | None = None
    keyword: str | None = None  # e.g. "STOP" when the whole message is a keyword
    keyword_kind: str | None = None  # opt_out | opt_in | help
    status_callback: str | None = None  # MessageStatus, when this is a status callback
    error_code: str | None = None  # ErrorCode of a status callback (e.g. 30003, 21610)

    @property
    def kind(self) -> str:
        if self.status_callback:
            return f"status:{self.status_callback}"
        return f"keyword:{self.keyword}" if self.keyword else "sms"


def parse_form(body: bytes) -> list[tuple[str, str]]:
    """The form parameters in order, empty values kept (they are signed too)."""
    try:
        text = body.decode("utf-8")
        return parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text))
    except (UnicodeDecodeError, ValueError) as exc:
        raise malformed(
            "the body is not application/x-www-form-urlencoded UTF-8", [Problem("$", str(exc))]
        ) from exc


def message_from(params: Sequence[tuple[str, str]]) -> InboundSms:
    """The canonical message; InvalidPayload (422) naming the parameter when one cannot be stored."""
    bad = [
        Problem(name if not forbidden_character(name) else "(a parameter name)", problem)
        for name, value in params
        for problem in (forbidden_character(name), forbidden_character(value))
        if problem
    ]
    if bad:
        raise invalid("the Twilio request holds characters no store can keep", bad)
    first: dict[str, str] = {}
    for name, value in params:
        first.setdefault(name, value)
    sid = first.get("MessageSid") or first.get("SmsMessageSid") or first.get("SmsSid")
    status = first.get("MessageStatus") if "Body" not in first else None
    required = (
        {"MessageSid": sid}
        if status
        else {"MessageSid": sid, "From": first.get("From"), "To": first.get("To")}
    )
    missing = [Problem(name, "is required") for name, value in required.items() if not value]
    if missing:
        raise invalid("the Twilio request lacks required parameters", missing)
    assert sid is not None
    bounded(sid, "MessageSid", MAX_SID_LENGTH)
    if status:
        bounded(status, "MessageStatus", 40)
        bounded(first.get("ErrorCode") or "", "ErrorCode", 20)
    try:
        num_media = int(first.get("NumMedia") or 0)
        if not 0 <= num_media <= 100:
            raise ValueError("out of range")
    except ValueError as exc:
        raise invalid("NumMedia is not a number", [Problem("NumMedia", repr(first["NumMedia"]))]) from exc
    media = tuple(first[f"MediaUrl{i}"] for i in range(max(num_media, 0)) if f"MediaUrl{i}" in first)
    body = first.get("Body", "")
    keyword = None if status else classify(body, first.get("OptOutType"))
    return InboundSms(
        message_sid=sid,
        account_sid=first.get("AccountSid"),
        sender=first.get("From", ""),
        recipient=first.get("To", ""),
        body=body,
        num_media=num_media,
        media_urls=media,
        messaging_service_sid=first.get("MessagingServiceSid"),
        opt_out_type=first.get("OptOutType"),
        keyword=keyword.word if keyword else None,
        keyword_kind=keyword.kind if keyword else None,
        status_callback=status.lower() if status else None,
        error_code=(first.get("ErrorCode") or "").strip() or None,
    )


@dataclass(frozen=True)
class TwilioSmsSource:
    """Entry point ``twilio-sms`` (group ``cti_hub.webhooks``)."""

    name: str = "twilio-sms"
    kept_headers: tuple[str, ...] = KEPT_HEADERS

    def verify(
        self, headers: Mapping[str, str], body: bytes, *, secret: str, now: datetime, url: str | None = None
    ) -> None:
        """Raise AuthError unless the request carries Twilio's signature for ``url`` (the public URL)."""
        if url is None:
            raise AuthError("the public URL Twilio called is needed to check X-Twilio-Signature")
        signature = headers.get(HEADER)
        if not signature:
            raise AuthError(f"missing {HEADER} header")
        if not _SIGNATURE.fullmatch(signature):
            raise AuthError(f"{HEADER} is not the base64 of an HMAC-SHA1 digest")
        if not validate(secret, url, signature, params=parse_form(body)):
            raise AuthError(
                f"{HEADER} does not match the request (is the public URL {url!r} what Twilio calls?)"
            )

    def parse(self, body: bytes) -> DeliveryItem:
        message = message_from(parse_form(body))
        provider_id = message.message_sid
        if message.status_callback:
            # One delivery per status and error: Twilio may report "failed" twice with different
            # ErrorCodes (a rate limit, then 21610), and the second must not pass for a redelivery.
            provider_id = f"{message.message_sid}:{message.status_callback}"
            if message.error_code:
                provider_id += f":{message.error_code}"
        return DeliveryItem(
            provider_id=provider_id, kind=message.kind, body=body.decode("utf-8"), event=message
        )


SOURCE = TwilioSmsSource()
