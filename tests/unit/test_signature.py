import hashlib
import hmac
from datetime import UTC, datetime

import pytest

from hub.domain.errors import AuthError
from webhooks.generic import HEADER, SOURCE, sign

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SECRET = "s3cret"
BODY = b'{"event_id":"e1"}'


def headers(value: str) -> dict[str, str]:
    return {HEADER: value}


def test_signature_is_hmac_sha256_of_timestamp_dot_raw_body():
    t = int(NOW.timestamp())
    expected = hmac.new(SECRET.encode(), f"{t}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, BODY, t) == f"t={t},v1={expected}"
    SOURCE.verify(headers(f"t={t},v1={expected}"), BODY, secret=SECRET, now=NOW)


@pytest.mark.parametrize("skew", [-299, 299])
def test_timestamp_within_300_seconds_is_accepted(skew):
    t = int(NOW.timestamp()) + skew
    SOURCE.verify(headers(sign(SECRET, BODY, t)), BODY, secret=SECRET, now=NOW)


@pytest.mark.parametrize("skew", [-301, 301])
def test_timestamp_beyond_300_seconds_is_rejected(skew):
    t = int(NOW.timestamp()) + skew
    with pytest.raises(AuthError, match="300 s"):
        SOURCE.verify(headers(sign(SECRET, BODY, t)), BODY, secret=SECRET, now=NOW)


def test_any_change_to_body_or_secret_is_rejected():
    t = int(NOW.timestamp())
    with pytest.raises(AuthError, match="does not match"):
        SOURCE.verify(headers(sign(SECRET, BODY, t)), BODY + b" ", secret=SECRET, now=NOW)
    with pytest.raises(AuthError, match="does not match"):
        SOURCE.verify(headers(sign("other", BODY, t)), BODY, secret=SECRET, now=NOW)


def test_one_valid_signature_among_several_is_enough_for_secret_rotation():
    t = int(NOW.timestamp())
    good = sign(SECRET, BODY, t).split("v1=")[1]
    SOURCE.verify(headers(f"t={t},v1={'0' * 64},v1={good}"), BODY, secret=SECRET, now=NOW)


@pytest.mark.parametrize("value", ["", "v1=abc", "t=notanumber,v1=abc", "t=1700000000"])
def test_missing_or_malformed_header_is_rejected(value):
    with pytest.raises(AuthError):
        SOURCE.verify(headers(value) if value else {}, BODY, secret=SECRET, now=NOW)
