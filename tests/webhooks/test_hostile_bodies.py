"""Hostile bodies and malformed credentials on every channel webhook: 4xx with the error body (or a
SOAP fault), nothing stored, never a 5xx. SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest

from tests.webhooks.conftest import ZENDESK_SECRET, deliveries, ticket_event
from tests.webhooks.test_parsing import SALESFORCE_STATE, SUNSHINE_MESSAGE
from tests.webhooks.test_salesforce_endpoint import assert_fault
from tests.webhooks.test_salesforce_endpoint import post as post_salesforce
from tests.webhooks.test_sunshine_endpoint import post as post_sunshine
from webhooks import zendesk

STATUS = ticket_event("status_changed", "35436", {"current": "SOLVED", "previous": "OPEN"})

# --- XML: every DTD refused, whatever the encoding -----------------------------------------------

INTERNAL_ENTITY = SALESFORCE_STATE.decode().replace(
    "?>", '?><!DOCTYPE soapenv:Envelope [<!ENTITY s "Closed">]>', 1
)
BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">'
        for i in range(1, 10)
    )
    + "]><lolz>&lol9;</lolz>"
)
EXTERNAL_ENTITY = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><x>&xxe;</x>'
EXTERNAL_DTD = '<?xml version="1.0"?><!DOCTYPE x SYSTEM "http://127.0.0.1:1/evil.dtd"><x/>'


@pytest.fixture
def crm_name() -> str:
    return "salesforce"


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        (INTERNAL_ENTITY, "utf-8"),
        (INTERNAL_ENTITY.replace('encoding="UTF-8"', 'encoding="UTF-16"'), "utf-16"),
        (INTERNAL_ENTITY.replace('encoding="UTF-8"', 'encoding="UTF-16"'), "utf-16-le"),
        (BILLION_LAUGHS, "utf-8"),
        (BILLION_LAUGHS, "utf-16"),
        (EXTERNAL_ENTITY, "utf-8"),
        (EXTERNAL_ENTITY, "utf-16"),
        (EXTERNAL_DTD, "utf-8"),
    ],
    ids=[
        "entity-utf8",
        "entity-utf16",
        "entity-utf16le",
        "laughs-utf8",
        "laughs-utf16",
        "xxe-utf8",
        "xxe-utf16",
        "dtd",
    ],
)
def test_a_document_type_declaration_is_400_in_any_encoding_and_nothing_happens(client, hub, text, encoding):
    """A byte regex cannot see ``<!DOCTYPE`` in UTF-16; the parser does. No entity ever reaches a Case."""
    assert "<!DOCTYPE" in text
    response = post_salesforce(client, text.encode(encoding))
    assert_fault(response, 400, "soapenv:Client", "document type declaration")
    assert deliveries(hub.engine) == []


@pytest.mark.parametrize("encoding", ["UTF-Q", "rot13", "bz2"])
def test_an_unknown_or_non_text_encoding_declaration_is_400(client, hub, encoding):
    """Found by bench/chaos_fuzz.py: expat asks Python for the codec, which raised LookupError (500)."""
    body = SALESFORCE_STATE.decode().replace('encoding="UTF-8"', f'encoding="{encoding}"').encode()
    assert_fault(post_salesforce(client, body), 400, "soapenv:Client", "not well-formed")
    assert deliveries(hub.engine) == []


def test_a_utf16_message_without_a_dtd_is_still_read(client, hub):
    body = SALESFORCE_STATE.decode().replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16")
    assert post_salesforce(client, body).status_code == 200
    assert len(deliveries(hub.engine)) == 1


# --- Zendesk --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (json.dumps(STATUS).encode("utf-16"), 400),  # json.loads(bytes) accepted UTF-16
        (b"\xef\xbb\xbf" + json.dumps(STATUS).encode(), 400),
        (b"[" * 50_000 + b"]" * 50_000, 400),
        (b'{"id": ' + b"1" * 5000 + b"}", 400),
        (json.dumps({**STATUS, "id": "a\u0000b"}).encode(), 422),
        (json.dumps({**STATUS, "id": "\ud800"}).encode(), 422),
        (json.dumps({**STATUS, "id": "x" * 201}).encode(), 422),
    ],
    ids=["utf16", "bom", "deep", "huge-int", "nul", "surrogate", "long-id"],
)
def test_zendesk_hostile_bodies_signed_correctly_are_4xx(zendesk_hook, hub, body, status):
    response = zendesk_hook.post(body)
    assert response.status_code == status, response.json
    assert set(response.json["error"]) == {"code", "message", "details"}
    assert deliveries(hub.engine) == []


@pytest.mark.parametrize(
    "headers",
    [
        {zendesk.TIMESTAMP_HEADER: "²"},  # "²".isdigit() is True
        {zendesk.TIMESTAMP_HEADER: "9" * 20},  # overflowed datetime.fromtimestamp
        {zendesk.TIMESTAMP_HEADER: "x" * 5000},
        {zendesk.SIGNATURE_HEADER: "é" * 44},  # non-ASCII made compare_digest raise
        {zendesk.SIGNATURE_HEADER: "A" * 5000},
    ],
)
def test_zendesk_malformed_signature_headers_are_401(zendesk_hook, hub, headers):
    response = zendesk_hook.post(STATUS, headers=headers)
    assert response.status_code == 401
    assert deliveries(hub.engine) == []


def test_zendesk_unix_seconds_timestamps_still_work(zendesk_hook, hub, clock):
    stamp = str(int(clock.now().timestamp()))
    body = json.dumps(STATUS).encode()
    headers = {
        zendesk.TIMESTAMP_HEADER: stamp,
        zendesk.SIGNATURE_HEADER: zendesk.sign(ZENDESK_SECRET, stamp, body),
    }
    assert zendesk_hook.post(body, headers=headers).status_code == 200


# --- Sunshine -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (json.dumps(SUNSHINE_MESSAGE).encode("utf-16"), 400),
        (b"[" * 50_000 + b"]" * 50_000, 400),
        (json.dumps({"events": [{"id": "e\u0000", "type": "x"}]}).encode(), 422),
        (json.dumps({"events": [{"id": "e", "type": "\udc80"}]}).encode(), 422),
        (json.dumps({"events": [{"id": "e" * 201, "type": "x"}]}).encode(), 422),
    ],
)
def test_sunshine_hostile_bodies_are_4xx(client, hub, body, status):
    assert post_sunshine(client, body).status_code == status
    assert deliveries(hub.engine) == []


@pytest.mark.parametrize("key", ["é" * 30, "k" * 10_000])
def test_sunshine_malformed_keys_are_401(client, hub, key):
    assert post_sunshine(client, SUNSHINE_MESSAGE, key=key).status_code == 401
    assert deliveries(hub.engine) == []


# --- Twilio ---------------------------------------------------------------------------------------


def test_twilio_overlong_sid_and_nul_are_422_not_a_column_overflow(twilio, hub):
    response = twilio.post(twilio.form("hello", sid="SM" + "a" * 250))
    assert (response.status_code, response.json["error"]["details"][0]["path"]) == (422, "MessageSid")
    response = twilio.post(twilio.form("a\u0000b"))
    assert (response.status_code, response.json["error"]["details"][0]["path"]) == (422, "Body")
    assert deliveries(hub.engine) == []


@pytest.mark.parametrize("signature", ["é" * 28, "A" * 5000, "==", ""])
def test_twilio_malformed_signatures_are_401(twilio, hub, signature):
    assert twilio.post(twilio.form("hello"), signature=signature).status_code == 401
    assert deliveries(hub.engine) == []
