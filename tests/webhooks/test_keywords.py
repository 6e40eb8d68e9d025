"""The opt-out, opt-in and help keywords (crm-facts §8): whole message, trimmed, case-insensitive."""

from __future__ import annotations

import pytest

from webhooks.twilio_sms import HELP, OPT_IN, OPT_OUT, Keyword, classify

OPT_OUTS = ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"]


@pytest.mark.parametrize("word", OPT_OUTS)
def test_every_opt_out_keyword_in_any_case_and_padding(word):
    for text in (word, word.lower(), word.title(), f"  {word}\n", f"\t{word.lower()} "):
        assert classify(text) == Keyword(OPT_OUT, word)


@pytest.mark.parametrize("word", ["START", "YES", "UNSTOP"])
def test_opt_in_keywords(word):
    assert classify(word) == Keyword(OPT_IN, word)
    assert classify(f" {word.lower()} ") == Keyword(OPT_IN, word)


@pytest.mark.parametrize("word", ["HELP", "INFO"])
def test_help_keywords(word):
    assert classify(word.lower()) == Keyword(HELP, word)


@pytest.mark.parametrize(
    "text", ["Stop.", "STOP!", "stop!!", "'stop'", "¡Stop!", "STOP…", "\uff53\uff54\uff4f\uff50"]
)
def test_opt_out_tolerates_punctuation_and_full_width_letters(text):
    assert classify(text) == Keyword(OPT_OUT, "STOP")


@pytest.mark.parametrize(
    "text",
    [
        "STOP PLEASE",  # the reference: extra words are not a keyword
        "please stop",
        "stop texting me",
        "STOP ALL",
        "STOPP",
        "S T O P",
        "",
        "Yes!",  # opt-in stays exact: "Yes!" answering an agent must not re-grant consent
        "yes please",
        "Start.",
        "help me",
        "HELP?",
    ],
)
def test_anything_else_is_a_message(text):
    assert classify(text) is None


def test_twilio_advanced_opt_out_decides_when_it_matched():
    assert classify("ARRET", "STOP") == Keyword(OPT_OUT, "STOP")
    assert classify("SI", "START") == Keyword(OPT_IN, "START")
    assert classify("AYUDA", "HELP") == Keyword(HELP, "HELP")
    assert classify("hello", "") is None
