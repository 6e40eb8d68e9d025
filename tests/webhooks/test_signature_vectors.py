"""Every published signature vector, written here as facts (crm-facts §4 and §7.3).

Twilio: twilio/twilio-python tests/unit/test_request_validator.py @ 306691e7 (MIT) and the worked
examples of twilio.com/docs/usage/webhooks/webhooks-security. Zendesk: aaronellington/zendesk-go
Test_WebhookVerifySignature_200 (MIT), with Zendesk's static test secret. When ../shared is present,
the facts are also checked against the vector files they were copied from.
"""

from __future__ import annotations

import json

import pytest

from tests.webhooks.conftest import shared_file
from webhooks import twilio_sms, zendesk

TOKEN = "12345"
URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
    "Caller": "+14158675309",
}
DOCS_OLD = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+12349013030",
    "Digits": "1234",
    "From": "+12349013030",
    "To": "+18005551212",
}
DOCS_NEW = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+14158675310",
    "Digits": "1234",
    "From": "+14158675310",
    "To": "+18005551212",
}
DUPLICATES = [
    ("Sid", "CA123"),
    ("SidAccount", "AC123"),
    ("Digits", "5678"),
    ("Digits", "1234"),
    ("Digits", "1234"),
]
JSON_BODY = b'{"property": "value", "boolean": true}'
JSON_HASH = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"

# (id, URL as requested, params, signature Twilio sent)
TWILIO_VECTORS = [
    ("tp-base", URL, PARAMS, "RSOYDt4T1cUTdK1PDd93/VVr8B8="),
    ("tp-https-443", URL, PARAMS, "kvajT1Ptam85bY51eRf/AJRuM3w="),
    ("tp-http-80", "http://mycompany.com/myapp.php?foo=1&bar=2", PARAMS, "0ZXoZLH/DfblKGATFgpif+LLRf4="),
    (
        "tp-https-port-removed",
        "https://mycompany.com:1234/myapp.php?foo=1&bar=2",
        PARAMS,
        "RSOYDt4T1cUTdK1PDd93/VVr8B8=",
    ),
    (
        "tp-http-port-1234",
        "http://mycompany.com:1234/myapp.php?foo=1&bar=2",
        PARAMS,
        "Zmvh+3yNM1Phv2jhDCwEM3q5ebU=",
    ),
    ("tp-duplicate-params", URL, DUPLICATES, "IK+Dwps556ElfBT0I3Rgjkr1wJU="),
    ("docs-old", URL, DOCS_OLD, "0/KCTR6DLpKmkAf8muzZqo1nDgQ="),
    ("docs-new", URL, DOCS_NEW, "GvWf1cFY/Q7PnoempGyD5oXAezc="),
]


@pytest.mark.parametrize(
    ("name", "url", "params", "signature"), TWILIO_VECTORS, ids=[v[0] for v in TWILIO_VECTORS]
)
def test_every_published_twilio_vector_validates(name, url, params, signature):
    assert twilio_sms.validate(TOKEN, url, signature, params=params)


def test_the_string_twilio_signs_is_the_url_then_sorted_names_and_values():
    signed = (
        "https://mycompany.com/myapp.php?foo=1&bar=2"
        "CallSidCA1234567890ABCDECaller+14158675309Digits1234From+14158675309To+18005551212"
    )
    import base64
    import hashlib
    import hmac

    expected = base64.b64encode(hmac.new(b"12345", signed.encode(), hashlib.sha1).digest()).decode()
    assert expected == "RSOYDt4T1cUTdK1PDd93/VVr8B8=" == twilio_sms.compute_signature(TOKEN, URL, PARAMS)


def test_port_variants_are_computed_on_the_form_twilio_signed():
    assert twilio_sms.compute_signature(TOKEN, "https://mycompany.com:443/myapp.php?foo=1&bar=2", PARAMS) == (
        "kvajT1Ptam85bY51eRf/AJRuM3w="
    )
    assert twilio_sms.compute_signature(TOKEN, "http://mycompany.com:80/myapp.php?foo=1&bar=2", PARAMS) == (
        "0ZXoZLH/DfblKGATFgpif+LLRf4="
    )
    assert twilio_sms.url_variants("https://mycompany.com:1234/myapp.php?foo=1&bar=2") == (
        "https://mycompany.com/myapp.php?foo=1&bar=2",
        "https://mycompany.com:1234/myapp.php?foo=1&bar=2",
    )


def test_repeated_names_contribute_each_distinct_value_sorted():
    assert twilio_sms.compute_signature(TOKEN, URL, DUPLICATES) == "IK+Dwps556ElfBT0I3Rgjkr1wJU="
    assert twilio_sms.compute_signature(
        TOKEN, URL, {"Sid": "CA123", "SidAccount": "AC123", "Digits": ["5678", "1234"]}
    ) == ("IK+Dwps556ElfBT0I3Rgjkr1wJU=")


def test_a_json_body_is_signed_through_its_sha256_in_the_url():
    url = f"{URL}&bodySHA256={JSON_HASH}"
    assert twilio_sms.validate(TOKEN, url, "a9nBmqA0ju/hNViExpshrM61xv4=", body=JSON_BODY)
    assert not twilio_sms.validate(TOKEN, url, "a9nBmqA0ju/hNViExpshrM61xv4=", body=JSON_BODY + b" ")


def test_negative_cases_fail():
    http_no_port = "http://mycompany.com/myapp.php?foo=1&bar=2"
    assert twilio_sms.compute_signature(TOKEN, http_no_port, PARAMS) == "OyGYPqTF6ztdbRNCvuQO/oPvqQ4="
    assert not twilio_sms.validate(TOKEN, http_no_port, "RSOYDt4T1cUTdK1PDd93/VVr8B8=", params=PARAMS)
    assert not twilio_sms.validate(
        TOKEN, URL, "RSOYDt4T1cUTdK1PDd93/VVr8B8=", params={**PARAMS, "Digits": "1235"}
    )
    assert not twilio_sms.validate("54321", URL, "RSOYDt4T1cUTdK1PDd93/VVr8B8=", params=PARAMS)
    assert not twilio_sms.validate(TOKEN, URL, "RSOYDt4T1cUTdK1PDd93/VVr8B8=", params={**PARAMS, "Extra": ""})
    assert not twilio_sms.validate(TOKEN, URL, "ñ-not-base64", params=PARAMS)


def test_the_facts_match_the_shared_twilio_vector_file():
    data = json.loads(shared_file("fixtures/vectors/twilio_request_validation_vectors.json").read_text())
    assert data["auth_token"] == TOKEN
    published = {v["id"]: v for v in data["vectors"]}
    ours = {name: (url, params, signature) for name, url, params, signature in TWILIO_VECTORS}
    assert set(published) == set(ours) | {"tp-json-body"}
    for name, (url, params, signature) in ours.items():
        vector = published[name]
        assert (vector["url"], vector["expected_signature"]) == (url, signature)
        expected_params = (
            [tuple(p) for p in vector["params_multi"]] if "params_multi" in vector else vector["params"]
        )
        assert expected_params == params
    assert published["tp-json-body"]["body"].encode() == JSON_BODY
    assert published["tp-json-body"]["expected_signature"] == "a9nBmqA0ju/hNViExpshrM61xv4="


# --- Zendesk --------------------------------------------------------------------------------------

ZENDESK_TEST_SECRET = (
    "dGhpc19zZWNyZXRfaXNfZm9yX3Rlc3Rpbmdfb25seQ=="  # base64 of this_secret_is_for_testing_only
)
# zendesk-go zendesk/test_files/requests/webhook/user/group_membership_created.json: 534 bytes, tabs.
ZENDESK_VECTOR_BODY = (
    b"{\n"
    b'\t"type": "zen:event-type:user.group_membership_created",\n'
    b'\t"account_id": 12514403,\n'
    b'\t"id": "6b9bbadf-5725-4e92-bebe-7b71011bf5f1",\n'
    b'\t"subject": "zen:user:6596848315901",\n'
    b'\t"time": "2099-07-04T05:33:18Z",\n'
    b'\t"zendesk_event_version": "2022-06-20",\n'
    b'\t"detail": {\n'
    b'\t\t"created_at": "2099-07-04T05:27:58Z",\n'
    b'\t\t"default_group_id": "0",\n'
    b'\t\t"email": "user.name@example.com",\n'
    b'\t\t"external_id": "",\n'
    b'\t\t"id": "6596848315901",\n'
    b'\t\t"organization_id": "0",\n'
    b'\t\t"role": "end-user",\n'
    b'\t\t"updated_at": "2099-07-04T05:33:18Z"\n'
    b"\t},\n"
    b'\t"event": { "group": { "id": "1" } }\n'
    b"}\n"
)
ZENDESK_VECTOR_SIGNATURE = "10IqYzYTLHRftNsNE+im0DeOM6/JactIRuy0XCHJ9B8="


def test_the_zendesk_vector_body_is_534_bytes():
    assert len(ZENDESK_VECTOR_BODY) == 534


def test_the_published_zendesk_vector_validates():
    assert zendesk.sign(ZENDESK_TEST_SECRET, "1234", ZENDESK_VECTOR_BODY) == ZENDESK_VECTOR_SIGNATURE
    assert zendesk.signature_matches(
        ZENDESK_TEST_SECRET, "1234", ZENDESK_VECTOR_BODY, ZENDESK_VECTOR_SIGNATURE
    )


@pytest.mark.parametrize(
    ("what", "secret", "timestamp", "body", "signature"),
    [
        # the same body signed with the base64-DECODED secret: the key is the string's own bytes
        (
            "decoded key",
            ZENDESK_TEST_SECRET,
            "1234",
            ZENDESK_VECTOR_BODY,
            "Yf7IAOoYEOP2aa2bTuGgwtjXxRn64WFzCqoDmC9HkBs=",
        ),
        # the trailing newline is part of the signed bytes
        (
            "no trailing newline",
            ZENDESK_TEST_SECRET,
            "1234",
            ZENDESK_VECTOR_BODY[:-1],
            ZENDESK_VECTOR_SIGNATURE,
        ),
        # body then timestamp is the wrong order
        (
            "body+timestamp",
            ZENDESK_TEST_SECRET,
            "1234",
            ZENDESK_VECTOR_BODY,
            "WHhU2hknfW1vFYDeyBej6fyUygiNG1bjwEGcrNjc2fc=",
        ),
        ("other timestamp", ZENDESK_TEST_SECRET, "1235", ZENDESK_VECTOR_BODY, ZENDESK_VECTOR_SIGNATURE),
        # Zendesk's older docs example signs BODY+TIMESTAMP: it must fail under the current order
        (
            "legacy docs example",
            "HRkRd4BeOAoUkfZr-mhauJT64rvBASlJRoIyPsd3zeA=",
            "2021-07-25T10:00:00Z",
            b'{"say": "hello"}',
            "tRDSF7URY8BLCDlaBcQ7FHu051Zk+aAB0NKMP53teMw=",
        ),
    ],
)
def test_zendesk_negative_cases_fail(what, secret, timestamp, body, signature):
    assert not zendesk.signature_matches(secret, timestamp, body, signature)


def test_negative_signatures_are_what_the_research_recomputed():
    assert zendesk.sign(ZENDESK_TEST_SECRET, "1234", ZENDESK_VECTOR_BODY[:-1]) == (
        "kvWjaewTmBsDVRjQ3UaEiTsGMU5eeIv33St++Kl9z+Q="
    )
    assert zendesk.sign(
        "HRkRd4BeOAoUkfZr-mhauJT64rvBASlJRoIyPsd3zeA=", "2021-07-25T10:00:00Z", b'{"say": "hello"}'
    ) == ("Rry/4TtIdFyawtXXp8QdI6tlAUUQ/5kL1OTp5qo/ZIk=")


def test_the_facts_match_the_shared_zendesk_vector_file_and_body():
    data = json.loads(shared_file("fixtures/vectors/zendesk_webhook_signature_vectors.json").read_text())
    [positive, legacy] = data["vectors"]
    assert (positive["secret"], positive["timestamp"], positive["expected_signature"]) == (
        ZENDESK_TEST_SECRET,
        "1234",
        ZENDESK_VECTOR_SIGNATURE,
    )
    assert (
        positive["derived_negative"]["body_then_timestamp_signature"]
        == "WHhU2hknfW1vFYDeyBej6fyUygiNG1bjwEGcrNjc2fc="
    )
    assert legacy["expected_signature_from_doc"] == "tRDSF7URY8BLCDlaBcQ7FHu051Zk+aAB0NKMP53teMw="
    body = shared_file("fixtures/payloads/zendesk_event_user.group_membership_created.zendesk-go.json")
    assert body.read_bytes() == ZENDESK_VECTOR_BODY


def test_the_hub_recognizes_its_own_zendesk_comments_by_the_adapters_marker():
    from adapters.zendesk.crm import MARKER

    assert zendesk.OWN_COMMENT_MARKER == MARKER
