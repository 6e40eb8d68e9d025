"""routing.yaml's semantics: ordered rules, first match wins per CRM, the default, 'unassigned', BCP 47
language prefixes; and the resolution of a target to the CRM's id through a cached directory."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path

import pytest

from hub.domain.errors import CrmRecordRejected, CrmRetryable
from hub.domain.outcome import Outcome
from hub.domain.routing import language_matches, normalize_language
from hub.mappings import load_mappings
from hub.ports import RoutingTarget
from hub.services.routing import Router, TargetDirectory, find_target, route_for
from tests.conftest import MAPPINGS

ROUTING = """\
rules:
  - name: urgent
    when: {priority: [urgent]}
    zendesk: {group: Escalations}
  - name: spanish billing
    when: {intent: [billing], language: [es]}
    zendesk: {group: Facturación}
    salesforce: {queue: Billing_ES}
  - name: billing
    when: {intent: [billing, plan_change]}
    zendesk: {group: Billing}
    salesforce: unassigned
  - name: sms
    when: {channel: [sms]}
    salesforce: {queue: SMS_Queue}
default:
  zendesk: {group: Support}
"""


def outcome(intent: str = "order_status", priority: str = "normal", channel: str = "chat", **metadata: str):
    return Outcome.from_payload(
        {
            "event_id": "e-1",
            "occurred_at": "2026-11-23T14:30:00Z",
            "channel": channel,
            "customer": {"email": "someone@example.com"},
            "intent": intent,
            "outcome": "failed",
            "priority": priority,
            "metadata": metadata,
        }
    )


@pytest.fixture
def config(tmp_path: Path):
    for source in MAPPINGS.glob("*.yaml"):
        (tmp_path / source.name).write_text(source.read_text())
    (tmp_path / "routing.yaml").write_text(ROUTING)
    return load_mappings(tmp_path).routing


def route(config, crm: str, **event):
    """The rule's decision alone (no lookup in the CRM)."""
    return route_for(config, crm, outcome(**event))


def test_first_matching_rule_wins_in_file_order(config) -> None:
    # urgent billing in Spanish: rules 0, 1 and 2 all match; the first in the file wins
    first = route(config, "zendesk", intent="billing", priority="urgent", language="es-MX")
    assert (first.target, first.rule, first.name) == ("Escalations", "rules[0]", "urgent")
    assert first.line == 2
    assert route(config, "zendesk", intent="billing", language="es-MX").target == "Facturación"
    assert route(config, "zendesk", intent="billing", language="en-US").target == "Billing"
    assert route(config, "zendesk", intent="plan_change").rule == "rules[2]"


def test_a_rule_naming_no_target_for_a_crm_is_skipped_for_it(config) -> None:
    # rules[0] names only zendesk: an urgent Salesforce case falls through to the next rules
    urgent = route(config, "salesforce", priority="urgent", channel="sms")
    assert (urgent.target, urgent.rule, urgent.kind) == ("SMS_Queue", "rules[3]", "queue")
    # rules[3] names only salesforce: a Zendesk sms ticket takes the default
    assert route(config, "zendesk", channel="sms").target == "Support"


def test_unassigned_is_a_decision_and_stops_the_search(config) -> None:
    billing = route(config, "salesforce", intent="billing", channel="sms")  # rules[3] would match too
    assert (billing.target, billing.rule) == (None, "rules[2]")


def test_nothing_matching_takes_the_default_or_leaves_it_unassigned(config) -> None:
    assert route(config, "zendesk").rule == "default" and route(config, "zendesk").target == "Support"
    nothing = route(config, "salesforce")  # the default names no queue
    assert (nothing.target, nothing.rule, nothing.line) == (None, "default", None)


@pytest.mark.parametrize(
    ("wanted", "tag", "matches"),
    [
        ("es", "es", True),
        ("es", "es-mx", True),
        ("es", "es-419", True),
        ("es", "est", False),
        ("es-mx", "es", False),
        ("es-mx", "es-mx", True),
        ("ES-MX", "es-mx", True),
        ("es", None, False),
    ],
)
def test_languages_match_as_rfc_4647_basic_filtering(wanted: str, tag: str | None, matches: bool) -> None:
    assert language_matches(wanted, tag) is matches


def test_an_event_language_is_read_from_metadata_in_either_spelling(config) -> None:
    assert normalize_language(" pt_BR ") == "pt-br"
    assert normalize_language(7) is None
    assert route(config, "zendesk", intent="billing", language="ES_mx").target == "Facturación"
    assert route(config, "zendesk", intent="billing").target == "Billing"  # no language: no match


# -- resolving targets --------------------------------------------------------------------------------


class Listing:
    """The CRM's groups/queues, counting how often they are listed."""

    def __init__(self, *targets: RoutingTarget) -> None:
        self.targets = list(targets)
        self.calls = 0
        self.failure: Exception | None = None

    def __call__(self) -> list[RoutingTarget]:
        self.calls += 1
        if self.failure is not None:
            raise self.failure
        return list(self.targets)


ZENDESK_GROUPS = (
    RoutingTarget("501", "Support"),
    RoutingTarget("502", "Billing"),
    RoutingTarget("503", "Escalations"),
)


def test_targets_are_listed_once_per_ttl_not_once_per_outcome(config, clock) -> None:
    listing = Listing(*ZENDESK_GROUPS)
    router = Router(config, "zendesk", TargetDirectory(listing, clock, ttl=timedelta(minutes=5)))
    decisions = [router.decide(outcome(intent="billing")) for _ in range(50)]
    assert {(d.target, d.id) for d in decisions} == {("Billing", "502")}
    assert listing.calls == 1
    clock.advance(minutes=5)
    assert router.decide(outcome()).id == "501"
    assert listing.calls == 2


def test_a_group_created_since_the_listing_is_found_after_a_minute(config, clock) -> None:
    listing = Listing(*ZENDESK_GROUPS)
    router = Router(config, "zendesk", TargetDirectory(listing, clock))
    assert router.decide(outcome(intent="billing", language="es")).id is None  # no Facturación yet
    listing.targets.append(RoutingTarget("504", "Facturación"))
    assert router.decide(outcome(intent="billing", language="es")).id is None  # not asked again at once
    assert listing.calls == 1
    clock.advance(seconds=61)
    assert router.decide(outcome(intent="billing", language="es")).id == "504"
    assert listing.calls == 2


def test_an_unknown_target_leaves_the_case_unassigned_with_a_warning(config, clock, caplog) -> None:
    router = Router(config, "zendesk", TargetDirectory(Listing(RoutingTarget("501", "Support")), clock))
    with caplog.at_level(logging.WARNING, logger="hub.services.routing"):
        decided = router.decide(outcome(intent="billing"))
    assert (decided.target, decided.id, decided.rule) == ("Billing", None, "rules[2]")
    assert decided.problem == "no group 'Billing' in Zendesk"
    [record] = [r for r in caplog.records if r.name == "hub.services.routing"]
    assert "rules[2]" in record.getMessage() and "unassigned" in record.getMessage()
    assert "someone@example.com" not in record.getMessage()


def test_a_listing_refused_for_good_leaves_it_unassigned_but_a_passing_failure_retries(config, clock) -> None:
    listing = Listing()
    router = Router(config, "zendesk", TargetDirectory(listing, clock))
    listing.failure = CrmRecordRejected("Forbidden", crm="zendesk", status=403)
    refused = router.decide(outcome())
    assert refused.id is None and "could not list the groups" in (refused.problem or "")
    assert router.decide(outcome()).problem == refused.problem
    assert listing.calls == 1  # a refusal is remembered for a minute: not one listing per new case
    clock.advance(minutes=1)
    listing.failure = CrmRetryable("timed out", crm="zendesk")
    with pytest.raises(CrmRetryable):
        router.decide(outcome())  # nothing cached: the event is retried, like the create would be


def test_a_failed_refresh_keeps_the_last_list(config, clock) -> None:
    listing = Listing(*ZENDESK_GROUPS)
    router = Router(config, "zendesk", TargetDirectory(listing, clock))
    assert router.decide(outcome()).id == "501"
    clock.advance(minutes=10)
    listing.failure = CrmRetryable("timed out", crm="zendesk")
    assert router.decide(outcome()).id == "501"


def test_targets_by_name_or_id_as_each_crm_names_them() -> None:
    groups = [RoutingTarget("501", "Support"), RoutingTarget("502", "Tier 2"), RoutingTarget("503", "tier 2")]
    assert find_target("zendesk", "501", groups)[0] == groups[0]
    assert find_target("zendesk", "support", groups)[0] == groups[0]  # one loose match: fine
    assert find_target("zendesk", "Tier 2", groups)[0] == groups[1]  # the exact spelling first
    found, problem = find_target("zendesk", "TIER 2", groups)
    assert found is None and "2 groups are named 'TIER 2'" in (problem or "")
    queue_id = "00G5g000004AbCdEAK"
    queues = [
        RoutingTarget(queue_id, "Billing", "Billing_Queue"),
        RoutingTarget("00G5g000004LeAdEAK", "Leads", "Leads_Queue", accepts_cases=False),
    ]
    assert find_target("salesforce", "billing_queue", queues)[0] == queues[0]
    assert find_target("salesforce", queue_id[:15], queues)[0] == queues[0]
    assert find_target("salesforce", "Leads_Queue", queues) == (
        None,
        "queue 'Leads_Queue' does not support Cases",
    )
    found, problem = find_target("salesforce", "Billing", queues)
    assert (
        found is None and "use that DeveloperName" in (problem or "") and "Billing_Queue" in (problem or "")
    )
