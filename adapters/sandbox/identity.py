"""The sandbox's sign-in side: its users, an RSA key, and the one-time codes and tokens it issued.

Zendesk signs an app's signed-URL token with the installation's private key; Salesforce signs ID
tokens with keys published at ``/id/keys``. The sandbox does both with one RSA key made when the
process first needs it (nothing is written to disk), so the hub verifies sandbox tokens with exactly
the code that verifies real ones, given this key.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

SALESFORCE_ORG_ID = "00D000000000001EAA"
SALESFORCE_CLIENT_ID = "sandbox-connected-app-consumer-key"
SALESFORCE_CLIENT_SECRET = "sandbox-connected-app-consumer-secret"  # noqa: S105 (a fixed sandbox value)
ZENDESK_APP_INSTALLATION_ID = 360000000001
CODE_LIFETIME = timedelta(minutes=15)  # Salesforce: an authorization code is valid for 15 minutes
TOKEN_LIFETIME = timedelta(hours=2)
KEY_ID = "sandbox-1"


@dataclass(frozen=True)
class SandboxUser:
    role: str  # the hub role this sandbox user is made for
    name: str
    email: str
    salesforce_id: str
    zendesk_id: int
    zendesk_role: str
    custom_permissions: dict[str, bool] = field(default_factory=dict)
    time_zone: str = "America/New_York"

    @property
    def username(self) -> str:
        return self.email


USERS = {
    "agent": SandboxUser(
        "agent",
        "Sam Agent",
        "agent@sandbox.invalid",
        "005000000000001AAA",
        9001,
        "agent",
        {"CTI_Hub_Agent": True, "CTI_Hub_Operations": False, "CTI_Hub_Admin": False},
    ),
    "operations": SandboxUser(
        # Zendesk has no operations role of its own: the sandbox's operations user is a Zendesk admin.
        "operations",
        "Olivia Operations",
        "operations@sandbox.invalid",
        "005000000000002AAA",
        9002,
        "admin",
        {"CTI_Hub_Agent": True, "CTI_Hub_Operations": True, "CTI_Hub_Admin": False},
    ),
    "admin": SandboxUser(
        "admin",
        "Ada Admin",
        "admin@sandbox.invalid",
        "005000000000003AAA",
        9003,
        "admin",
        {"CTI_Hub_Agent": True, "CTI_Hub_Operations": True, "CTI_Hub_Admin": True},
    ),
}


def user_for_hint(hint: str | None) -> SandboxUser:
    """The user a ``login_hint`` names (username or role); the agent without one."""
    wanted = (hint or "").strip().lower()
    for user in USERS.values():
        if wanted in (user.username, user.role):
            return user
    return USERS["agent"]


def s256(verifier: str) -> str:
    """RFC 7636 S256: BASE64URL(SHA256(ASCII(code_verifier))) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass
class Grant:
    user: SandboxUser
    client_id: str
    redirect_uri: str
    code_challenge: str
    scope: str
    nonce: str | None
    expires: datetime


class SandboxIdentity:
    """Keys, issued codes and access tokens. Thread-safe; state lives as long as the process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: Any = None
        self._codes: dict[str, Grant] = {}
        self._tokens: dict[str, tuple[SandboxUser, datetime, str]] = {}

    # -- keys ----------------------------------------------------------------------------------

    def private_key(self) -> Any:
        from cryptography.hazmat.primitives.asymmetric import rsa

        with self._lock:
            if self._key is None:
                self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            return self._key

    def public_key_pem(self) -> str:
        from cryptography.hazmat.primitives import serialization

        return (
            self.private_key()
            .public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode()
        )

    def jwks(self) -> dict[str, Any]:
        numbers = self.private_key().public_key().public_numbers()

        def b64(value: int) -> str:
            raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
            return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

        return {
            "keys": [
                {
                    "kty": "RSA",
                    "alg": "RS256",
                    "use": "sig",
                    "kid": KEY_ID,
                    "n": b64(numbers.n),
                    "e": b64(numbers.e),
                }
            ]
        }

    def sign(self, claims: dict[str, Any], *, kid: str | None = None) -> str:
        import jwt

        headers = {"kid": kid} if kid else None
        return jwt.encode(claims, self.private_key(), algorithm="RS256", headers=headers)

    # -- Zendesk: the app's signed-URL token ------------------------------------------------------

    def zendesk_app_token(self, user: SandboxUser, now: datetime, subdomain: str) -> str:
        """What Zendesk POSTs as ``token`` to a ``signedUrls`` app location (see docs/sign-in.md)."""
        issued = int(now.timestamp())
        return self.sign(
            {
                "iss": f"{subdomain}.zendesk.com",
                "aud": f"https://{subdomain}.zendesk.com/api/v2/apps/installations/"
                f"{ZENDESK_APP_INSTALLATION_ID}.json",
                "iat": issued,
                "exp": issued + 300,
                "sub": str(user.zendesk_id),
                "name": user.name,
                "email": user.email,
                "role": user.zendesk_role,
                "time_zone": user.time_zone,
                "context": {"product": "support", "location": "ticket_sidebar"},
            }
        )

    # -- Salesforce: codes and tokens ---------------------------------------------------------------

    def issue_code(self, grant: Grant) -> str:
        code = "aPrx" + secrets.token_urlsafe(24)
        with self._lock:
            self._codes[code] = grant
        return code

    def take_code(self, code: str) -> Grant | None:
        """The grant of ``code``, once: a code is spent by its first use, right or wrong."""
        with self._lock:
            return self._codes.pop(code, None)

    def issue_token(self, user: SandboxUser, now: datetime, scope: str) -> str:
        token = f"{SALESFORCE_ORG_ID}!" + secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token] = (user, now + TOKEN_LIFETIME, scope)
        return token

    def user_of_token(self, token: str, now: datetime) -> tuple[SandboxUser, str] | None:
        with self._lock:
            found = self._tokens.get(token)
        if found is None or found[1] <= now:
            return None
        return found[0], found[2]
