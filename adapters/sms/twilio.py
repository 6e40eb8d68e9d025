"""``TwilioSms``: the hub's ``SmsSender`` port over the Twilio Messages API (requests).

    send   POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json
                form: To, Body, From (or MessagingServiceSid), StatusCallback (optional)
    find   GET  {base}/2010-04-01/Accounts/{AccountSid}/Messages.json
                ?To=<to>&DateSent>=<YYYY-MM-DD>&PageSize=50   (our outbound message, same body)

Authentication is HTTP basic: the Account SID and Auth Token, or an API key (``SK...``) and its
secret; the URL always names the account. Every request has a (connect, read) timeout.

Twilio has no idempotency key: sending twice sends twice. The recovery engine sends only while it
holds the attempt's claim and calls ``find`` before sending again after a claim that may have sent.

Errors (``hub.domain.errors``), by what the caller should do:

    connection not established (connect timeout, DNS)     OutreachRetryable   nothing was sent
    read timeout, connection lost after sending, 5xx      OutreachUncertain   look before resending
    429 / 20429 / 14107 (rate limits)                     OutreachRetryable   honor Retry-After
    401 / 403 / 20003 (authentication)                    OutreachAuthFailed
    21610 (the recipient replied STOP)                    OutreachRejected(opted_out=True)
    other 4xx (21211 invalid To, 21614 not mobile, ...)   OutreachRejected
"""

from __future__ import annotations

import email.utils
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests

from hub.domain.errors import (
    ConfigError,
    OutreachAuthFailed,
    OutreachError,
    OutreachRejected,
    OutreachRetryable,
    OutreachUncertain,
    Problem,
)
from hub.ports import OutreachConfig, SmsMessage, SmsReceipt

PROVIDER = "twilio"
API_BASE_URL = "https://api.twilio.com"
OPTED_OUT = 21610
RATE_LIMITED = frozenset({20429, 14107})
AUTH_CODES = frozenset({20003, 20005})
MAX_PAGES = 5


@dataclass(frozen=True)
class TwilioSettings:
    """``CTIHUB_TWILIO_*`` (prefix removed, lowercased): the account, its credentials, the sender."""

    account_sid: str
    auth_token: str | None = field(default=None, repr=False)
    api_key_sid: str | None = None
    api_key_secret: str | None = field(default=None, repr=False)
    from_number: str | None = None
    messaging_service_sid: str | None = None
    status_callback_url: str | None = None
    api_base_url: str = API_BASE_URL

    @classmethod
    def from_settings(cls, values: Any) -> TwilioSettings:
        """Check and build; a ConfigError names every missing or malformed setting."""
        get = {key: (str(value).strip() if value else None) for key, value in dict(values).items()}
        problems: list[Problem] = []

        def problem(name: str, message: str) -> None:
            problems.append(Problem(f"CTIHUB_TWILIO_{name.upper()}", message))

        sid = get.get("account_sid") or ""
        if not (sid.startswith("AC") and len(sid) == 34):
            problem("account_sid", "must be the account's SID (AC followed by 32 hex digits)")
        key_sid, key_secret = get.get("api_key_sid"), get.get("api_key_secret")
        if key_sid or key_secret:
            if not (key_sid and key_sid.startswith("SK") and key_secret):
                problem(
                    "api_key_sid", "an API key needs both its SID (SK...) and CTIHUB_TWILIO_API_KEY_SECRET"
                )
        elif not get.get("auth_token"):
            problem("auth_token", "set the Auth Token, or an API key (CTIHUB_TWILIO_API_KEY_SID and _SECRET)")
        service = get.get("messaging_service_sid")
        if not (get.get("from_number") or service):
            problem("from_number", "set the sending number (E.164) or CTIHUB_TWILIO_MESSAGING_SERVICE_SID")
        if service and not service.startswith("MG"):
            problem("messaging_service_sid", "must start with MG")
        base = get.get("api_base_url") or API_BASE_URL
        if not base.startswith("https://"):
            problem("api_base_url", "must be an https URL")
        if problems:
            raise ConfigError("invalid Twilio settings", problems)
        return cls(
            account_sid=sid,
            auth_token=get.get("auth_token"),
            api_key_sid=key_sid,
            api_key_secret=key_secret,
            from_number=get.get("from_number"),
            messaging_service_sid=service,
            status_callback_url=get.get("status_callback_url"),
            api_base_url=base.rstrip("/"),
        )

    @property
    def auth(self) -> tuple[str, str]:
        if self.api_key_sid and self.api_key_secret:
            return self.api_key_sid, self.api_key_secret
        return self.account_sid, self.auth_token or ""

    @property
    def messages_url(self) -> str:
        return f"{self.api_base_url}/2010-04-01/Accounts/{self.account_sid}/Messages.json"


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def _error(response: requests.Response, *, sending: bool) -> OutreachError:
    """The hub's error for a Twilio error answer (JSON ``{code, message, more_info, status}``)."""
    try:
        body = response.json()
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    code = body.get("code")
    message = str(body.get("message") or response.reason or "Twilio error")
    details: dict[str, Any] = {
        "provider": PROVIDER,
        "provider_code": str(code) if code is not None else None,
        "status": response.status_code,
    }
    status = response.status_code
    if status == 429 or code in RATE_LIMITED:
        return OutreachRetryable(message, retry_after=_retry_after(response), **details)
    if status in (401, 403) or code in AUTH_CODES:
        return OutreachAuthFailed(message, **details)
    if status >= 500:
        if sending:
            return OutreachUncertain(message, **details)
        return OutreachRetryable(message, retry_after=_retry_after(response), **details)
    return OutreachRejected(message, opted_out=code == OPTED_OUT, **details)


class TwilioSms:
    """One Twilio account. Sends nothing when built."""

    name = PROVIDER

    def __init__(
        self,
        settings: TwilioSettings,
        *,
        session: requests.Session | None = None,
        timeout: tuple[float, float] = (5.0, 15.0),
    ) -> None:
        self.settings = settings
        self.timeout = timeout
        self._session = session or requests.Session()

    def __repr__(self) -> str:
        return f"TwilioSms({self.settings.account_sid!r})"

    def send(self, message: SmsMessage) -> SmsReceipt:
        form = {"To": message.to, "Body": message.body}
        if self.settings.messaging_service_sid:
            form["MessagingServiceSid"] = self.settings.messaging_service_sid
        else:
            form["From"] = self.settings.from_number or ""
        if self.settings.status_callback_url:
            form["StatusCallback"] = self.settings.status_callback_url
        answer = self._call("POST", self.settings.messages_url, sending=True, data=form)
        sid = answer.get("sid")
        if not isinstance(sid, str) or not sid:
            raise OutreachUncertain("Twilio answered without a message SID", provider=PROVIDER)
        return SmsReceipt(provider=PROVIDER, id=sid, status=str(answer.get("status") or "queued"))

    def find(self, message: SmsMessage) -> SmsReceipt | None:
        since = (message.not_before or datetime.now(UTC)).astimezone(UTC)
        params: dict[str, str] | None = {
            "To": message.to,
            "DateSent>": (since - timedelta(days=1)).date().isoformat(),
            "PageSize": "50",
        }
        url: str | None = self.settings.messages_url
        for _ in range(MAX_PAGES):
            if url is None:
                return None
            answer = self._call("GET", url, sending=False, params=params)
            for item in answer.get("messages") or ():
                if isinstance(item, dict) and self._same(item, message, since):
                    return SmsReceipt(
                        provider=PROVIDER,
                        id=str(item["sid"]),
                        status=str(item.get("status") or ""),
                        found=True,
                    )
            url = self._next_page(answer.get("next_page_uri"))
            params = None  # the next page's URI carries the query
        return None

    def _next_page(self, next_uri: object) -> str | None:
        """The next page's URL on the configured Twilio host, or None on the last page.

        ``next_page_uri`` must be a relative path under this account's Messages resource: an
        absolute URL (another host would get the account's credentials), a ``//host`` path, a
        backslash or a ``..`` segment is refused as an answer the hub cannot trust.
        """
        if next_uri is None or next_uri == "":
            return None
        prefix = f"/2010-04-01/Accounts/{self.settings.account_sid}/Messages"
        parts = urlsplit(next_uri) if isinstance(next_uri, str) else None
        if (
            parts is None
            or parts.scheme
            or parts.netloc
            or not parts.path.startswith(prefix)
            or "\\" in next_uri
            or ".." in parts.path.split("/")
            or not next_uri.isascii()
        ):
            raise OutreachRetryable(
                "Twilio's next_page_uri is not a path under this account's messages; not followed",
                provider=PROVIDER,
            )
        return self.settings.api_base_url + next_uri

    @staticmethod
    def _same(item: dict[str, Any], message: SmsMessage, since: datetime) -> bool:
        if item.get("to") != message.to or str(item.get("direction", "")).startswith("inbound"):
            return False
        if (item.get("body") or "").strip() != message.body.strip():
            return False
        created = item.get("date_created")
        if not isinstance(created, str):
            return True
        try:
            moment = email.utils.parsedate_to_datetime(created)
        except (TypeError, ValueError):
            return True
        return moment >= since - timedelta(minutes=5)  # clocks differ a little

    def _call(self, method: str, url: str, *, sending: bool, **kwargs: Any) -> dict[str, Any]:
        try:
            response = self._session.request(
                method, url, auth=self.settings.auth, timeout=self.timeout, **kwargs
            )
        except requests.ConnectTimeout as exc:
            raise OutreachRetryable(f"could not connect to Twilio: {exc}", provider=PROVIDER) from exc
        except (requests.ReadTimeout, requests.ConnectionError) as exc:
            if sending and not _never_connected(exc):
                raise OutreachUncertain(f"no answer from Twilio: {exc}", provider=PROVIDER) from exc
            raise OutreachRetryable(f"could not reach Twilio: {exc}", provider=PROVIDER) from exc
        except requests.RequestException as exc:
            raise OutreachRetryable(f"could not call Twilio: {exc}", provider=PROVIDER) from exc
        if response.status_code >= 300:
            raise _error(response, sending=sending)
        try:
            answer = response.json()
        except ValueError as exc:
            error = OutreachUncertain if sending else OutreachRetryable
            raise error("Twilio answered with a body that is not JSON", provider=PROVIDER) from exc
        if not isinstance(answer, dict):
            raise (OutreachUncertain if sending else OutreachRetryable)(
                "Twilio answered with an unexpected body", provider=PROVIDER
            )
        return answer


def _never_connected(exc: requests.RequestException) -> bool:
    """A connection error raised before the request left (refused, DNS): nothing was sent."""
    text = str(exc).lower()
    return any(
        marker in text
        for marker in ("connection refused", "name or service not known", "failed to resolve", "nodename")
    )


def build_sender(config: OutreachConfig) -> TwilioSms:
    """The ``cti_hub.outreach`` entry point ``twilio``: checks the settings (ConfigError), sends nothing."""
    return TwilioSms(
        TwilioSettings.from_settings(config.settings),
        session=config.session,
        timeout=(config.connect_timeout, config.read_timeout),
    )
