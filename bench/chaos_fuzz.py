"""Fuzz the five public endpoints with generated and mutated bodies (issue 11, item 14(c)).

For each endpoint (``POST /v1/outcomes``, ``/webhooks/twilio/sms``, ``/webhooks/zendesk``,
``/webhooks/sunshine``, ``/webhooks/salesforce/outbound``) it sends ``--per-endpoint`` requests built
from valid seed bodies by structural mutations (hostile values at random JSON paths: deep nesting,
integers over 4,300 digits, NUL, lone surrogates, over-long strings, wrong types; XML DTDs, internal
and external entities, billion laughs; form fields with ``%00``, bad escapes and over-long SIDs) and
byte mutations (flips, insertions, truncation, re-encoding as UTF-16/UTF-32, a byte-order mark).
About 70 % are signed correctly over the mutated body (so the parsers see them), 15 % unsigned and
15 % tampered (a signature of another body, or a malformed signature header).

It prints one line of figures: requests, 5xx answers (target 0), unsigned/tampered requests accepted
(target 0), DTD-bearing bodies accepted (target 0, i.e. no DTD was ever parsed), then by endpoint.
The seed is fixed and printed; the same seed sends the same requests.

    python bench/chaos_fuzz.py --backend sqlite --per-endpoint 10000
    python bench/chaos_fuzz.py --backend postgresql --admin-url postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import secrets
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from hub.bootstrap import Hub, build_hub
from hub.settings import Settings
from hub.store import migrate
from hub.store.db import make_engine
from hub.web import create_app
from webhooks import generic, twilio_sms, zendesk
from webhooks.common import MalformedPayload

DEFAULT_SEED = 20261207
PUBLIC_URL = "https://hub.example.com"
ORG_ID = "00De0000000pmu1EAA"
SECRETS = {
    "CTIHUB_WEBHOOK_SECRET": "fuzz-webhook-secret-0123456789abcdef",
    "CTIHUB_API_TOKEN": "fuzz-api-token-0123456789abcdef-0123",
    "CTIHUB_CONTEXT_TOKEN_SECRET": "fuzz-context-token-secret-0123456789",
    "CTIHUB_TWILIO_AUTH_TOKEN": "fuzz-twilio-auth-token-0123456789ab",
    "CTIHUB_ZENDESK_WEBHOOK_SECRET": "fuzz-zendesk-signing-secret-0123456789",
    "CTIHUB_SUNSHINE_API_KEY": "fuzz-sunshine-api-key-0123456789",
    "CTIHUB_SALESFORCE_OUTBOUND_TOKEN": "fuzz-salesforce-outbound-token-0123",
}
ENDPOINTS = ("outcomes", "twilio", "zendesk", "sunshine", "salesforce")
SIGNED, UNSIGNED, TAMPERED = "signed", "unsigned", "tampered"


# --- seed bodies ----------------------------------------------------------------------------------


def outcome_seed(rng: random.Random, n: int) -> dict[str, Any]:
    return {
        "event_id": f"fz-{n}",
        "source": rng.choice(["web-chat", "ivr", "generic"]),
        "occurred_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60)),
        "channel": rng.choice(["chat", "sms", "self_service", "voice"]),
        "customer": {"phone": "(415) 555-0100", "email": "jo@example.com", "name": "Jo"},
        "intent": "billing",
        "outcome": rng.choice(["failed", "resolved", "abandoned"]),
        "summary": "Charged twice.",
        "transcript": [{"from": "customer", "text": "hi", "at": "2026-11-23T14:55:00Z"}],
        "case_hint": {"crm": "zendesk", "id": "12345"},
        "metadata": {"k": "v"},
    }


def zendesk_seed(rng: random.Random, n: int) -> dict[str, Any]:
    kind = rng.choice(["status_changed", "merged", "comment_added", "user.created"])
    return {
        "id": f"zd-{n}",
        "type": f"zen:event-type:ticket.{kind}" if kind != "user.created" else "zen:event-type:user.created",
        "account_id": 1,
        "time": "2026-11-23T14:55:00Z",
        "subject": "zen:ticket:35436",
        "detail": {"id": "35436", "status": "OPEN", "via": {"channel": "web_form"}},
        "event": {
            "current": "SOLVED",
            "previous": "OPEN",
            "target_ticket_id": "35437",
            "comment": {"id": "1", "is_public": True, "body": "hello", "author": {"is_staff": False}},
        },
    }


def sunshine_seed(rng: random.Random, n: int) -> dict[str, Any]:
    return {
        "app": {"id": "app1"},
        "webhook": {"id": "wh1", "version": "v2"},
        "events": [
            {
                "id": f"ss-{n}",
                "type": "conversation:message",
                "createdAt": "2026-11-23T14:55:00.000Z",
                "payload": {
                    "conversation": {"id": "c1", "metadata": {"intent": "billing"}},
                    "message": {
                        "id": f"m-{n}",
                        "received": "2026-11-23T14:55:00.000Z",
                        "author": {
                            "type": rng.choice(["user", "business"]),
                            "userId": "u1",
                            "displayName": "Jo",
                            "user": {"id": "u1", "externalId": "x1", "profile": {"email": "jo@example.com"}},
                        },
                        "content": {"type": "text", "text": "hello"},
                        "source": {"type": "web"},
                    },
                },
            }
        ],
    }


def twilio_seed(rng: random.Random, n: int) -> list[tuple[str, str]]:
    if rng.random() < 0.2:
        return [("MessageSid", f"SM{n:032x}"), ("MessageStatus", "delivered"), ("To", "+14155550100")]
    return [
        ("MessageSid", f"SM{n:032x}"),
        ("AccountSid", "AC" + "a" * 32),
        ("From", rng.choice(["+14155550100", "whatsapp:+14155550100", "12345"])),
        ("To", "+12028831111"),
        ("Body", rng.choice(["hello", "STOP", "START", "HELP", "stop."])),
        ("NumMedia", "0"),
    ]


def salesforce_seed(rng: random.Random, n: int) -> str:
    kind = rng.choice(["Case", "Contact"])
    fields = (
        "<sf:IsClosed>true</sf:IsClosed><sf:Status>Closed</sf:Status>"
        if kind == "Case"
        else "<sf:Phone>+14155550100</sf:Phone><sf:DoNotCall>true</sf:DoNotCall>"
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        '<soapenv:Body><notifications xmlns="http://soap.sforce.com/2005/09/outbound">'
        f"<OrganizationId>{ORG_ID}</OrganizationId><ActionId>04k5g000000Aaaa</ActionId>"
        '<SessionId xsi:nil="true"/><EnterpriseUrl>https://x</EnterpriseUrl><PartnerUrl>https://x</PartnerUrl>'
        f"<Notification><Id>04l{n:015d}</Id>"
        f'<sObject xsi:type="sf:{kind}" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">'
        f"<sf:Id>5005g00000{n:08d}</sf:Id>{fields}</sObject></Notification>"
        "</notifications></soapenv:Body></soapenv:Envelope>"
    )


# --- mutations ------------------------------------------------------------------------------------

HOSTILE_VALUES: list[Callable[[random.Random], Any]] = [
    lambda r: "a\u0000b",
    lambda r: "\ud800",
    lambda r: "x\udfffy",
    lambda r: "x" * r.choice([199, 200, 201, 320, 5000, 70000]),
    lambda r: 10 ** r.choice([18, 19, 20, 300]),
    lambda r: -1,
    lambda r: 1.5e308,
    lambda r: None,
    lambda r: True,
    lambda r: [],
    lambda r: {},
    lambda r: "²",
    lambda r: "..",
    lambda r: "../../users",
    lambda r: "١٢٣",
    lambda r: "🙂" * r.randint(1, 300),
    lambda r: "<!DOCTYPE x [<!ENTITY a 'b'>]>",
    lambda r: '" OR role:admin',
    lambda r: "2026-11-23T14:55:00",
    lambda r: "1526-01-01T00:00:00Z",
    lambda r: "9999-12-31T23:59:59+23:59",
]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))


def _set(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    target = document
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return document


def mutate_json(rng: random.Random, document: Any) -> bytes:
    """A JSON body: the document with hostile values at random paths, or hostile raw text (a fifth
    are left valid, so the storing paths are exercised too)."""
    roll = rng.random()
    if roll < 0.2:
        return json.dumps(document).encode()
    roll = rng.random()
    if roll < 0.08:
        depth = rng.choice([100, 2000, 100_000])
        return b"[" * depth + b"]" * depth
    if roll < 0.12:
        return b'{"id": ' + b"7" * rng.choice([4301, 5000]) + b"}"
    document = json.loads(json.dumps(document))
    for _ in range(rng.randint(1, 4)):
        paths = list(_paths(document))
        path = rng.choice(paths[1:] or paths)
        value = rng.choice(HOSTILE_VALUES)(rng)
        if rng.random() < 0.1 and isinstance(document, dict):
            document[rng.choice(["\u0000", "\ud800key", "k" * 300])] = value
        else:
            document = _set(document, path, value)
    text = json.dumps(document, ensure_ascii=rng.random() < 0.5)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")  # invalid UTF-8 on purpose


XML_ATTACKS = [
    '<!DOCTYPE soapenv:Envelope [<!ENTITY a "Closed">]>',
    '<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>',
    '<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
    '<!DOCTYPE x SYSTEM "http://127.0.0.1:1/evil.dtd">',
    '<!DOCTYPE x [<!ENTITY % p SYSTEM "http://127.0.0.1:1/x"> %p;]>',
]


def mutate_xml(rng: random.Random, text: str) -> tuple[bytes, bool]:
    """(body, carries a DTD)."""
    dtd = False
    roll = rng.random()
    if roll < 0.35:
        attack = rng.choice(XML_ATTACKS)
        body = text.replace("?>", "?>" + attack, 1)
        reference = rng.choice(["&a;", "&lol3;", "&xxe;", ""])
        body = body.replace("<sf:Status>Closed", f"<sf:Status>{reference}", 1)
        dtd = True
    elif roll < 0.6:
        body = text
        for _ in range(rng.randint(1, 3)):
            target = rng.choice(["Closed", ORG_ID, "04l", "+14155550100", "true", "Case"])
            replacement = rng.choice(
                [
                    "&#0;",
                    "&#xD800;",
                    "x" * 300,
                    "",
                    "]]>",
                    "<",
                    "&amp;",
                    "\u00e9",
                    "a" * 70000,
                    "00D000000000002",
                ]
            )
            body = body.replace(target, replacement, 1)
    else:
        body = text
    encoding = rng.choice(["utf-8"] * 6 + ["utf-16", "utf-16-le", "utf-32"])
    if encoding != "utf-8":
        body = body.replace('encoding="UTF-8"', f'encoding="{encoding.upper()}"')
    elif rng.random() < 0.1:  # a declaration naming an unknown, non-text or exotic codec
        declared = rng.choice(["UTF-Q", "rot13", "bz2", "EBCDIC-CP-US", "euc-jp", "utf-7"])
        body = body.replace('encoding="UTF-8"', f'encoding="{declared}"')
    try:
        return body.encode(encoding), dtd
    except UnicodeEncodeError:
        return body.encode("utf-8", "surrogatepass"), dtd


FORM_VALUES = [
    "%00",
    "%ff%fe",
    "%ED%A0%80",
    "%",
    "%zz",
    "x" * 300,
    "S" * 201,
    "²",
    "-1",
    "9" * 5000,
    "&&",
    "==",
]


def mutate_form(rng: random.Random, params: list[tuple[str, str]]) -> bytes:
    pairs = [(quote(k, safe=""), quote(v, safe="")) for k, v in params]
    for _ in range(rng.randint(1, 3)):
        roll = rng.random()
        raw = rng.choice(FORM_VALUES)
        if roll < 0.5 and pairs:
            index = rng.randrange(len(pairs))
            pairs[index] = (pairs[index][0], raw)
        elif roll < 0.7:
            pairs.append((rng.choice(["MessageSid", "NumMedia", "Body", "%00", "MediaUrl0"]), raw))
        elif pairs:
            pairs.pop(rng.randrange(len(pairs)))
    return "&".join(f"{k}={v}" for k, v in pairs).encode("latin-1", "replace")


def mutate_bytes(rng: random.Random, body: bytes) -> bytes:
    data = bytearray(body)
    roll = rng.random()
    if roll < 0.3 and data:
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    elif roll < 0.5:
        data[rng.randint(0, len(data)) : rng.randint(0, len(data))] = bytes(
            rng.randrange(256) for _ in range(8)
        )
    elif roll < 0.65:
        data = data[: rng.randint(0, len(data))]
    elif roll < 0.8:
        with contextlib.suppress(UnicodeDecodeError):
            data = bytearray(
                bytes(data).decode("utf-8").encode(rng.choice(["utf-16", "utf-32", "utf-16-be"]))
            )
    else:
        data = bytearray(b"\xef\xbb\xbf" + bytes(data))
    return bytes(data)


# --- requests -------------------------------------------------------------------------------------


@dataclass
class Request:
    path: str
    body: bytes
    headers: dict[str, str]
    auth: str  # signed | unsigned | tampered
    dtd: bool = False


def _auth_mode(rng: random.Random) -> str:
    roll = rng.random()
    return SIGNED if roll < 0.7 else UNSIGNED if roll < 0.85 else TAMPERED


def build_request(endpoint: str, rng: random.Random, n: int, now: int) -> Request:
    mode = _auth_mode(rng)
    dtd = False
    if endpoint == "salesforce":
        body, dtd = mutate_xml(rng, salesforce_seed(rng, n))
        if rng.random() < 0.2:
            body = mutate_bytes(rng, body)
            dtd = dtd or b"<!DOCTYPE" in body.replace(b"\x00", b"")
        token = SECRETS["CTIHUB_SALESFORCE_OUTBOUND_TOKEN"]
        query = {
            SIGNED: f"?token={token}",
            UNSIGNED: "",
            TAMPERED: rng.choice(["?token=x", f"?token={token[:-1]}"]),
        }
        content_type = rng.choice(
            ["text/xml; charset=utf-8"] * 5 + ["application/xml", "text/xml; charset=utf-16"]
        )
        return Request(
            f"/webhooks/salesforce/outbound{query[mode]}", body, {"Content-Type": content_type}, mode, dtd
        )
    if endpoint == "twilio":
        params = twilio_seed(rng, n)
        body = (
            mutate_form(rng, params) if rng.random() < 0.8 else mutate_bytes(rng, urlencode(params).encode())
        )
        path = "/webhooks/twilio/sms"
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        token = SECRETS["CTIHUB_TWILIO_AUTH_TOKEN"]
        try:
            parsed = twilio_sms.parse_form(body)
        except MalformedPayload:  # an unparseable form cannot be signed over its fields; sign nothing
            parsed = []
        if mode == SIGNED:
            headers[twilio_sms.HEADER] = twilio_sms.compute_signature(token, PUBLIC_URL + path, parsed)
        elif mode == TAMPERED:
            headers[twilio_sms.HEADER] = rng.choice(
                [
                    twilio_sms.compute_signature(token, PUBLIC_URL + path, [("x", "y")]),
                    "é" * 28,
                    "A" * 5000,
                    "==",
                ]
            )
        return Request(path, body, headers, mode)
    seeds = {"outcomes": outcome_seed, "zendesk": zendesk_seed, "sunshine": sunshine_seed}
    document = seeds[endpoint](rng, n)
    body = (
        mutate_json(rng, document)
        if rng.random() < 0.75
        else mutate_bytes(rng, json.dumps(document).encode())
    )
    headers = {"Content-Type": "application/json"}
    if endpoint == "outcomes":
        secret = SECRETS["CTIHUB_WEBHOOK_SECRET"]
        if mode == SIGNED:
            headers[generic.HEADER] = generic.sign(secret, body, now)
        elif mode == TAMPERED:
            good = generic.sign(secret, body + b" ", now)
            headers[generic.HEADER] = rng.choice(
                [
                    good,
                    f"t=²,v1={'a' * 64}",
                    f"t={now},v1={'é' * 64}",
                    f"t={'9' * 20},v1={'a' * 64}",
                    "t=,v1=",
                ]
            )
        return Request("/v1/outcomes", body, headers, mode)
    if endpoint == "zendesk":
        secret = SECRETS["CTIHUB_ZENDESK_WEBHOOK_SECRET"]
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
        if mode == SIGNED:
            headers[zendesk.SIGNATURE_HEADER] = zendesk.sign(secret, stamp, body)
            headers[zendesk.TIMESTAMP_HEADER] = stamp
        elif mode == TAMPERED:
            headers[zendesk.TIMESTAMP_HEADER] = rng.choice([stamp, "9" * 20, "²", "2026-13-45T99:99:99Z"])
            headers[zendesk.SIGNATURE_HEADER] = rng.choice(
                [zendesk.sign(secret, stamp, body + b"x"), "é" * 44, "A" * 43 + "=", ""]
            )
        return Request("/webhooks/zendesk", body, headers, mode)
    key = SECRETS["CTIHUB_SUNSHINE_API_KEY"]
    if mode == SIGNED:
        headers["X-API-Key"] = key
    elif mode == TAMPERED:
        headers["X-API-Key"] = rng.choice([key[:-1], key + "x", "é" * 30, "k" * 10000])
    return Request("/webhooks/sunshine", body, headers, mode)


# --- the run --------------------------------------------------------------------------------------


@dataclass
class Figures:
    requests: int = 0
    server_errors: int = 0
    unauthenticated_accepted: int = 0
    dtd_accepted: int = 0
    by_endpoint: dict[str, dict[str, int]] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)

    def line(self, backend: str, seed: int) -> str:
        parts = [
            f"backend={backend} seed={seed} requests={self.requests} 5xx={self.server_errors}",
            f"unsigned_or_tampered_accepted={self.unauthenticated_accepted} dtd_parsed={self.dtd_accepted}",
        ]
        for name, counts in self.by_endpoint.items():
            parts.append(
                f"{name}:{counts['requests']}/5xx={counts['5xx']}/forged_ok={counts['forged_ok']}"
                f"/dtd_ok={counts['dtd_ok']}/2xx={counts['2xx']}/4xx={counts['4xx']}"
            )
        return " | ".join(parts)


def channel_environment() -> dict[str, str]:
    return {
        **SECRETS,
        "CTIHUB_PUBLIC_URL": PUBLIC_URL,
        "CTIHUB_SALESFORCE_ORG_IDS": ORG_ID,
    }


def fuzz(hub: Hub, *, per_endpoint: int, seed: int) -> Figures:
    """Send ``per_endpoint`` requests to each endpoint of a hub; the figures of what came back."""
    app = create_app(hub=hub)
    app.testing = False  # an unhandled exception must become the 500 a real server would send
    client = app.test_client()
    figures = Figures()
    for endpoint in ENDPOINTS:
        rng = random.Random(f"{seed}:{endpoint}")
        counts = {"requests": 0, "5xx": 0, "forged_ok": 0, "dtd_ok": 0, "2xx": 0, "4xx": 0}
        for n in range(per_endpoint):
            request = build_request(endpoint, rng, n, int(time.time()))
            response = client.post(request.path, data=request.body, headers=request.headers)
            status = response.status_code
            counts["requests"] += 1
            if status >= 500:
                counts["5xx"] += 1
                if len(figures.examples) < 20:
                    figures.examples.append(f"{endpoint} {request.auth} {status} {request.body[:120]!r}")
            elif status < 300:
                counts["2xx"] += 1
                if request.auth != SIGNED:
                    counts["forged_ok"] += 1
                if request.dtd:
                    counts["dtd_ok"] += 1
            else:
                counts["4xx"] += 1
        figures.by_endpoint[endpoint] = counts
        figures.requests += counts["requests"]
        figures.server_errors += counts["5xx"]
        figures.unauthenticated_accepted += counts["forged_ok"]
        figures.dtd_accepted += counts["dtd_ok"]
    return figures


@contextlib.contextmanager
def database(backend: str, admin_url: str) -> Iterator[str]:
    if backend == "sqlite":
        directory = tempfile.mkdtemp(prefix="ctihub-fuzz-")
        try:
            yield f"sqlite:///{directory}/fuzz.db"
        finally:
            shutil.rmtree(directory, ignore_errors=True)
        return
    import psycopg

    name = f"fuzz_{secrets.token_hex(4)}"
    plain = admin_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(plain, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{admin_url.rpartition('/')[0]}/{name}"
    finally:
        with psycopg.connect(plain, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--per-endpoint", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--admin-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args(argv)
    from pathlib import Path

    mappings = Path(__file__).resolve().parents[1] / "mappings"
    print(f"chaos_fuzz: seed={args.seed} per_endpoint={args.per_endpoint} backend={args.backend}", flush=True)
    with database(args.backend, args.admin_url) as url:
        engine = make_engine(url)
        migrate.upgrade(engine)
        settings = Settings.from_env(
            {**channel_environment(), "CTIHUB_DATABASE_URL": url, "CTIHUB_MAPPINGS": str(mappings)},
            sandbox=True,
        )
        hub = build_hub(settings, engine=engine)
        started = time.monotonic()
        try:
            figures = fuzz(hub, per_endpoint=args.per_endpoint, seed=args.seed)
        finally:
            hub.close()
    for example in figures.examples:
        print("  5xx:", example)
    print(figures.line(args.backend, args.seed) + f" | seconds={time.monotonic() - started:.0f}")
    ok = figures.server_errors == 0 and figures.unauthenticated_accepted == 0 and figures.dtd_accepted == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
