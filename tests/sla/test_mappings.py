"""``mappings/sla.yaml``: the shipped file, an absent file, and every problem as file:line."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from hub.domain.business_hours import Holiday
from hub.domain.errors import ConfigError
from hub.domain.sla import METRICS, Condition, SlaConfig
from hub.mappings import load_mappings, validate_mappings
from tests.conftest import MAPPINGS


class Copy:
    """The shipped YAML files in a temporary directory; ``replace`` edits sla.yaml one line at a time."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        for source in MAPPINGS.glob("*.yaml"):
            shutil.copy(source, directory / source.name)
        self.sla = directory / "sla.yaml"

    def replace(self, old: str, new: str) -> int:
        """Replace the first ``old``; returns its line."""
        text = self.sla.read_text()
        assert old in text, old
        line = text[: text.index(old)].count("\n") + 1
        self.sla.write_text(text.replace(old, new, 1))
        return line

    def problems(self) -> list[tuple[str, str]]:
        return [(p.path, p.message) for p in validate_mappings(self.directory)]

    def expect(self, line: int, *words: str) -> None:
        problems = self.problems()
        where = f"{self.sla}:{line}"
        assert any(path == where and all(w in message for w in words) for path, message in problems), problems


@pytest.fixture
def copy(tmp_path: Path) -> Copy:
    return Copy(tmp_path)


def test_the_shipped_file_loads_with_its_schedules_policies_and_crm_fields():
    sla = load_mappings(MAPPINGS).sla
    assert isinstance(sla, SlaConfig)
    assert list(sla.schedules) == ["new-york", "new-york-extended"]
    new_york = sla.schedules["new-york"]
    assert new_york.time_zone == "America/New_York"
    assert new_york.intervals[0] == (1980, 2460)
    assert Holiday("Thanksgiving", date(2026, 11, 26), date(2026, 11, 27)) in new_york.holidays
    assert len(new_york.holidays) == 19
    assert [p.title for p in sla.policies] == [
        "Urgent and high priority",
        "Chat and messaging customers",
        "Everyone else",
    ]
    chat = sla.policies[1]
    assert chat.filter.all == (Condition("channel", "includes", ("chat", "messaging")),)
    assert chat.warn_before_minutes == 10
    assert {m.metric for p in sla.policies for m in p.metrics} == set(METRICS)
    assert sla.crm["zendesk"].due_field == "custom_fields.360000000005"
    assert sla.crm["salesforce"].breach.activity_fields == {"Status": "Not Started", "Priority": "High"}


def test_without_sla_yaml_there_is_no_sla(copy):
    copy.sla.unlink()
    (copy.directory / "deflection.yaml").unlink()  # it names a schedule of sla.yaml
    assert copy.problems() == []
    assert load_mappings(copy.directory).sla is None


def test_an_unknown_schedule(copy):
    line = copy.replace("schedule: new-york-extended", "schedule: chicago")
    copy.expect(line, "policies[1].schedule", "unknown schedule 'chicago'", "new-york, new-york-extended")


def test_a_bad_time_zone_and_zendesk_names_for_common_zones(copy):
    line = copy.replace("time_zone: America/New_York", "time_zone: America/Gotham")
    copy.expect(line, "schedules[0].time_zone", "unknown time zone 'America/Gotham'")
    copy.replace("time_zone: America/Gotham", 'time_zone: "Eastern Time (US & Canada)"')
    assert load_mappings(copy.directory).sla.schedules["new-york"].time_zone == "America/New_York"


def test_intervals_outside_the_week_backwards_or_overlapping(copy):
    line = copy.replace("{start_time: 1980, end_time: 2460}", "{start_time: 1980, end_time: 10081}")
    copy.expect(line, "schedules[0].intervals[0].end_time")
    copy.replace("end_time: 10081", "end_time: 1900")
    copy.expect(line, "schedules[0].intervals[0]", "start_time 1980 must be before end_time 1900")
    copy.replace("{start_time: 1980, end_time: 1900}", "{start_time: 1980, end_time: 2460}")
    overlap = copy.replace("{start_time: 3420, end_time: 3900}", "{start_time: 2400, end_time: 3900}")
    copy.expect(
        overlap, "schedules[0].intervals[1]", "Monday 16:00-Tuesday 17:00 overlaps Monday 09:00-17:00"
    )


def test_holidays_ending_before_they_start_or_not_dates(copy):
    line = copy.replace(
        'start_date: "2026-11-26", end_date: "2026-11-27"', 'start_date: "2026-11-27", end_date: "2026-11-26"'
    )
    copy.expect(line, "holidays[7]", "ends 2026-11-26 before it starts 2026-11-27")
    bad = copy.replace('start_date: "2026-12-25"', 'start_date: "2026-02-30"')
    copy.expect(bad, "holidays[8].start_date", "'2026-02-30' is not a calendar date")


def test_unknown_metrics_filter_fields_operators_and_values(copy):
    metric = copy.replace("metric: first_reply_time, target: 30", "metric: first_response_time, target: 30")
    copy.expect(metric, "unknown metric 'first_response_time'", "first_reply_time")
    field = copy.replace(
        "{field: priority, operator: is, value: urgent}", "{field: group, operator: is, value: x}"
    )
    copy.expect(field, "unknown filter field 'group'")
    operator = copy.replace(
        "{field: priority, operator: is, value: high}", "{field: priority, operator: equals, value: high}"
    )
    copy.expect(operator, "unknown operator 'equals'")
    channel = copy.replace("value: [chat, messaging]", "value: [chat, fax]")
    copy.expect(channel, "policies[1].filter.all[0]", "unknown channel 'fax'")


def test_intent_values_are_checked_against_the_catalog_and_lists_need_includes(copy):
    line = copy.replace(
        "all:\n        - {field: channel",
        "all:\n        - {field: intent, operator: is, value: biling}\n        - {field: channel",
    )
    copy.expect(line + 1, "unknown intent 'biling'")
    listed = copy.replace(
        "{field: intent, operator: is, value: biling}", "{field: intent, operator: is, value: [billing]}"
    )
    copy.expect(listed, "operator is takes one value; use includes for a list")


def test_duplicates(copy):
    title = copy.replace("title: Everyone else", "title: Urgent and high priority")
    copy.expect(title, "duplicate policy title 'Urgent and high priority'")
    schedule = copy.replace("name: new-york-extended", "name: new-york")
    copy.expect(schedule, "duplicate schedule 'new-york'")
    metric = copy.replace(
        "{priority: low, metric: first_reply_time, target: 240, business_hours: true}",
        "{priority: normal, metric: first_reply_time, target: 240, business_hours: true}",
    )
    copy.expect(metric, "first_reply_time for priority normal is already set")


def test_crm_fields(copy):
    tags = copy.replace(
        "raise_priority_to: high\n      activity_fields",
        "raise_priority_to: high\n      tags: [x]\n      activity_fields",
    )
    copy.expect(tags + 1, "crm.salesforce.warning.tags", "salesforce records have no tags")
    values = copy.replace("priority_values: {low: Low", "priority_values: {lowest: Low")
    copy.expect(values, "unknown priority 'lowest'")


def test_target_in_seconds_is_accepted_as_zendesk_exports_it(copy):
    copy.replace(
        "metric: first_reply_time, target: 30,", "metric: first_reply_time, target_in_seconds: 1800,"
    )
    urgent = load_mappings(copy.directory).sla.policies[0]
    assert urgent.metrics[0].target == 30


def test_load_refuses_a_broken_file_with_every_problem(copy):
    copy.replace("schedule: new-york-extended", "schedule: chicago")
    copy.replace("time_zone: America/New_York", "time_zone: Nowhere/Land")
    with pytest.raises(ConfigError) as caught:
        load_mappings(copy.directory)
    assert len(caught.value.problems) == 2
