"""Record ids and search values checked before any CRM call names them."""

from __future__ import annotations

import pytest

from hub.domain.crm_ids import (
    salesforce_id_problem,
    salesforce_id_suffix,
    zendesk_id_problem,
    zendesk_search_value,
)


def test_salesforce_ids_of_15_and_18_characters_with_their_checksum():
    assert salesforce_id_suffix("00De0000000pmu1") == "EAA"  # the published outbound message's org
    assert salesforce_id_problem("00De0000000pmu1") is None
    assert salesforce_id_problem("00De0000000pmu1EAA") is None
    assert salesforce_id_problem("00De0000000pmu1eaa") is None  # Salesforce reads the suffix either case
    assert "do not match" in salesforce_id_problem("00De0000000pmu1EAB")


@pytest.mark.parametrize(
    "value", ["..", "", "500e0000000AAA", "500e0000000AAAA/x", "500e0000000AAAAé", "5" * 16]
)
def test_what_is_not_a_salesforce_id(value):
    assert salesforce_id_problem(value) is not None


@pytest.mark.parametrize("value", ["0", "-1", "01", "1.0", "..", "1 ", "١٢", "9223372036854775808", "1" * 20])
def test_what_is_not_a_zendesk_id(value):
    assert zendesk_id_problem(value) is not None


def test_zendesk_ids():
    assert zendesk_id_problem("1") is None
    assert zendesk_id_problem("9223372036854775807") is None


def test_zendesk_search_values_are_quoted_or_never_searched():
    assert zendesk_search_value("jo@example.com") == '"jo@example.com"'
    assert zendesk_search_value("(415) 555-0100") == '"(415) 555-0100"'
    for hostile in ('jo@example.com" OR role:admin', "a\\b", "a\nb", ""):
        assert zendesk_search_value(hostile) is None
