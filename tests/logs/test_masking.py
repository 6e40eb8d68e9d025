"""What the logs may never carry: phone numbers, emails, configured secrets; and the JSON format."""

from __future__ import annotations

import io
import json
import logging

import pytest

from hub.domain.redaction import EMAIL_MASK, PHONE_MASK, SECRET_MASK, Redactor, mask
from hub.logs import JsonFormatter, RedactingFilter, protect_handler, secret_values
from hub.services.log_context import log_ids


@pytest.mark.parametrize(
    "phone",
    [
        "+14155550123",
        "+1 415 555 0123",
        "+1 (415) 555-0123",
        "+44 20 7946 0018",
        "(415) 555-0123",
        "415-555-0123",
        "415.555.0123",
        "4155550123",
        "14155550123",
        "%2B14155550123",
    ],
)
def test_every_usual_phone_format_is_masked(phone):
    assert mask(f"customer {phone} called") == f"customer {PHONE_MASK} called"


@pytest.mark.parametrize("email", ["ada@example.com", "a.b+tag@mail.example.co.uk", "ada%40example.com"])
def test_emails_are_masked_plain_and_url_encoded(email):
    assert mask(f"to {email}.") == f"to {EMAIL_MASK}."


@pytest.mark.parametrize(
    "text",
    [
        "inbox 1234 claimed by vm:4242:17",
        "2026-11-23T10:00:00+00:00 took 12.5 ms",
        "Case 500Hp00001XyZ2AAA and ticket 98765",
        "listening on 127.0.0.1:5432",
    ],
)
def test_ordinary_ids_times_and_addresses_survive(text):
    assert mask(text) == text


def test_registered_secrets_are_masked_and_short_values_ignored():
    redactor = Redactor()
    redactor.add_secrets(["a-long-webhook-secret", "abcdefg", None])
    assert redactor.mask("sig a-long-webhook-secret abcdefg") == f"sig {SECRET_MASK} abcdefg"


def test_secret_values_come_from_secret_named_settings_and_pem_lines():
    pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----"
    values = secret_values(
        {
            "CTIHUB_WEBHOOK_SECRET": "w" * 32,
            "CTIHUB_ZENDESK_API_TOKEN": "z" * 20,
            "CTIHUB_SALESFORCE_PRIVATE_KEY": pem,
            "CTIHUB_CRM": "zendesk",
        },
        "generated-api-token",
    )
    assert {"w" * 32, "z" * 20, pem, "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC", "generated-api-token"} <= set(values)
    assert "zendesk" not in values


def _record(message: str, *args: object, exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc else None
    return logging.LogRecord("hub.test", logging.ERROR, __file__, 1, message, args, exc_info)


def test_the_filter_masks_message_arguments_and_exception_text():
    try:
        raise ValueError("duplicate key value (phone)=(+14155550123) for ada@example.com")
    except ValueError as caught:
        record = _record("linking %s failed", "+14155550123", exc=caught)
    assert RedactingFilter().filter(record)
    text = logging.Formatter("%(message)s").format(record)
    assert "+1415" not in text and "ada@" not in text
    assert "linking [phone] failed" in text and "(phone)=([phone]) for [email]" in text


def test_json_lines_carry_the_ids_in_play_and_no_personal_data():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    protect_handler(handler, "json")
    logger = logging.getLogger("hub.test.json")
    logger.addHandler(handler)
    try:
        with log_ids(event="web-chat:evt-1", inbox_id=7, episode_id="ep_1"):
            logger.info("linked %s", "+14155550123")
        logger.warning("no ids here")
    finally:
        logger.removeHandler(handler)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["level"] == "INFO" and first["logger"] == "hub.test.json"
    assert first["message"] == "linked [phone]"
    assert (first["event"], first["inbox_id"], first["episode_id"]) == ("web-chat:evt-1", "7", "ep_1")
    assert {"ts", "level", "logger", "message"} == set(second)


def test_an_unknown_log_id_is_refused():
    with pytest.raises(ValueError, match="customer"), log_ids(customer="+14155550123"):
        pass


def test_a_json_record_with_a_traceback_keeps_it_masked():
    try:
        raise RuntimeError("CRM said: user ada@example.com exists")
    except RuntimeError as caught:
        record = _record("failed", exc=caught)
    RedactingFilter().filter(record)
    entry = json.loads(JsonFormatter().format(record))
    assert "RuntimeError: CRM said: user [email] exists" in entry["exc"]


def test_the_leak_check_catches_a_phone_that_was_not_masked(no_personal_data_in_logs):
    capture = no_personal_data_in_logs
    capture.mask = None  # a handler someone forgot to protect
    logging.getLogger("hub.test").info("texting %s", "+14155550199")
    leaks = capture.leaks()
    assert len(leaks) == 1 and "+14155550199" in leaks[0]
    capture.texts.clear()  # the deliberate leak must not fail this test


def test_the_leak_check_catches_a_configured_secret(no_personal_data_in_logs):
    capture = no_personal_data_in_logs
    capture.mask = None
    logging.getLogger("hub.test").warning("signature made with %s", "zendesk-signing-secret")
    assert any(leak.startswith("secret zend") for leak in capture.leaks())
    capture.texts.clear()


def test_a_masked_phone_passes_the_leak_check(no_personal_data_in_logs):
    logging.getLogger("hub.test").info("texting %s and %s", "+14155550199", "ada@example.com")
    assert no_personal_data_in_logs.leaks() == []
    assert "texting [phone] and [email]" in no_personal_data_in_logs.texts[-1]
