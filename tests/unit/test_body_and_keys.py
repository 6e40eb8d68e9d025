"""The one JSON decoder of untrusted bodies, and the parsing of ``CTIHUB_WEBHOOK_KEYS``."""

from __future__ import annotations

import json

import pytest

from hub.domain.body import MAX_DEPTH, Unparseable, parse_json, text_problems
from hub.domain.errors import ConfigError, ValidationFailed
from hub.domain.signing_keys import SigningKey, allowed_by, parse_keys
from hub.settings import Settings

SECRET = "k" * 32


@pytest.mark.parametrize(
    "body",
    [b"{", b"[" * 200_000, b"1" * 5000, '{"a": 1}'.encode("utf-16"), b"\xef\xbb\xbf{}", b'"\xc3"'],
)
def test_unreadable_bodies_are_unparseable(body):
    with pytest.raises(Unparseable):
        parse_json(body)


def test_strings_no_store_can_keep_are_named_by_path():
    with pytest.raises(ValidationFailed) as caught:
        parse_json(json.dumps({"a": ["ok", "x\u0000"], "b\ud800": 1, "c": {"d": "\udfff"}}).encode())
    assert not isinstance(caught.value, Unparseable)
    paths = [p.path for p in caught.value.problems]
    assert sorted(paths) == sorted(["$.a[1]", '$["b\\\\ud800"]', "$.c.d"])


def test_nesting_beyond_the_limit_is_a_problem_not_a_crash():
    deep: object = "x"
    for _ in range(MAX_DEPTH + 5):
        deep = [deep]
    assert [p.message for p in text_problems(deep)] == [f"is nested more than {MAX_DEPTH} levels deep"]
    with pytest.raises(ValidationFailed) as caught:  # through the decoder too (its quick check)
        parse_json(json.dumps({"a": deep}).encode())
    assert [p.message for p in caught.value.problems] == [f"is nested more than {MAX_DEPTH} levels deep"]
    assert parse_json(json.dumps({"a": [[["fine"]]]}).encode()) == {"a": [[["fine"]]]}


@pytest.mark.parametrize(
    "escape",
    ["\\u0000", "\\uD800", "\\udbff", "\\uDC00", "\\udfff"],
    ids=["nul", "D800", "dbff", "DC00", "dfff"],
)
def test_a_forbidden_character_is_found_whatever_the_case_of_its_escape(escape):
    """The decoder skips its walk of the value only when the text holds no escape that could make
    one: every spelling of a NUL or a lone surrogate escape still ends as a 422 naming the path."""
    body = ('{"event_id": "e1", "customer": {"name": "x' + escape + '"}}').encode()
    with pytest.raises(ValidationFailed) as caught:
        parse_json(body)
    assert [p.path for p in caught.value.problems] == ["$.customer.name"]


def test_text_that_only_looks_like_an_escape_is_kept():
    """An escaped backslash before "u0000" is text, not a NUL: the walk runs and finds nothing."""
    assert parse_json(b'{"note": "C:\\\\u0000 \\u00e9"}') == {"note": "C:\\u0000 \u00e9"}


def test_keys_bound_to_sources_with_prefixes():
    keys = parse_keys(json.dumps({"chat": {"secret": SECRET, "sources": ["web-chat", "ivr-*"]}}), "X")
    assert keys == (SigningKey("chat", SECRET, ("web-chat", "ivr-*")),)
    assert allowed_by(keys, "web-chat") and allowed_by(keys, "ivr-east")
    assert not allowed_by(keys, "web-chat-2") and not allowed_by(keys, "ivr") and not allowed_by((), "x")
    assert SECRET not in repr(keys)


@pytest.mark.parametrize(
    ("value", "path"),
    [
        ("not json", "X"),
        ("{}", "X"),
        (json.dumps({"a": {"secret": "short", "sources": ["x"]}}), "X.a.secret"),
        (json.dumps({"a": {"secret": SECRET, "sources": []}}), "X.a.sources"),
        (json.dumps({"a": {"secret": SECRET, "sources": ["a b"]}}), "X.a.sources"),
        (json.dumps({"a": {"secret": SECRET, "sources": ["x"], "extra": 1}}), "X.a"),
        (json.dumps({"webhook-secret": {"secret": SECRET, "sources": ["x"]}}), "X.webhook-secret"),
    ],
)
def test_a_bad_keys_value_names_what_is_wrong(value, path):
    with pytest.raises(ConfigError) as caught:
        parse_keys(value, "X")
    assert path in [p.path for p in caught.value.problems]
    assert SECRET not in str([p.message for p in caught.value.problems])


def test_the_keys_are_checked_at_start_and_the_legacy_secret_signs_for_every_source():
    with pytest.raises(ConfigError):
        Settings.from_env({"CTIHUB_WEBHOOK_KEYS": '{"a": {"secret": "short", "sources": ["x"]}}'})
    settings = Settings.from_env(
        {
            "CTIHUB_WEBHOOK_KEYS": json.dumps({"a": {"secret": SECRET, "sources": ["x"]}}),
            "CTIHUB_WEBHOOK_SECRET": "w" * 32,
        }
    )
    assert [k.key_id for k in settings.signing_keys] == ["a", "webhook-secret"]
    assert allowed_by(settings.signing_keys[1:], "anything")
