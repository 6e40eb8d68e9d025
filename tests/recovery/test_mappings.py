"""``mappings/recovery.yaml``: the shipped defaults, and every problem named by file and line."""

from __future__ import annotations

import shutil
from datetime import date, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from hub.domain.errors import ConfigError
from hub.mappings import validate_mappings
from hub.mappings.recovery import load_recovery_config, recovery_problems
from hub.store.schema import metadata
from tests.conftest import MAPPINGS


def test_the_shipped_defaults(shipped_recovery):
    assert recovery_problems(MAPPINGS) == []
    policy = shipped_recovery.policy_for(channel="self_service", intent="billing", outcome="failed")
    assert [(s.action, s.delay) for s in policy.steps] == [
        ("sms", timedelta(minutes=10)),
        ("callback", timedelta(hours=3)),
    ]
    chat = shipped_recovery.policy_for(channel="chat", intent="order_status", outcome="abandoned")
    assert [(s.action, s.delay) for s in chat.steps] == [("callback", timedelta(hours=2))]
    assert shipped_recovery.max_attempts_per_episode == 3
    generic = [(c.limit, c.window) for c in shipped_recovery.customer_caps if c.jurisdiction == "*"]
    assert generic == [(3, timedelta(hours=24)), (7, timedelta(days=7))]
    assert {c.jurisdiction for c in shipped_recovery.customer_caps} >= {
        "US-FL",
        "US-OK",
        "US-MD",
        "US-ME",
        "FR",
    }


def test_without_the_file_there_is_no_recovery(tmp_path):
    assert load_recovery_config(tmp_path) is None
    assert recovery_problems(tmp_path) == []


@pytest.fixture
def broken(tmp_path):
    directory = tmp_path / "mappings"
    shutil.copytree(MAPPINGS, directory)
    return directory


def write(directory, text):
    (directory / "recovery.yaml").write_text(text)
    return str(directory / "recovery.yaml")


BAD = """\
enabled: true
caps:
  max_attempts_per_episode: 2
sms:
  body: "Hi {name}, continue at {link}"
policies:
  - name: One
    match: {channel: [chat], intent: [billing, weather], outcome: [abandoned]}
    steps:
      - {action: sms, after_minutes: 30}
      - {action: callback, after_minutes: 10}
      - {action: callback, after_minutes: 5000}
  - name: One
    match: {outcome: [failed]}
    steps:
      - {action: fax, after_minutes: 1}
contact_windows:
  extra_rules:
    - jurisdiction: "*"
      days: {monday: ["09:00-08:00"], tuesday: [], wednesday: [], thursday: [], friday: [], saturday: [],
             sunday: []}
"""


def test_schema_problems_come_first_with_their_lines(broken):
    path = write(broken, BAD)
    problems = [(p.path, p.message) for p in recovery_problems(broken)]
    assert problems == [(f"{path}:16", "policies[1].steps[0].action: unknown action 'fax'; expected one of: "
                                       "sms, callback, email")]  # fmt: skip


def test_every_other_problem_is_named_by_line(broken):
    path = write(broken, BAD.replace("action: fax", "action: sms"))
    problems = [(p.path, p.message) for p in recovery_problems(broken)]
    assert problems == [
        (f"{path}:5", "sms.body: unknown placeholder {name}; use {intent}, {link}"),
        (f"{path}:5", "sms.body: say how to opt out (e.g. 'Reply STOP to opt out.')"),
        (
            f"{path}:8",
            "policies[0].match.intent[1]: unknown intent 'weather'; expected one of: "
            "account_update, appointment, billing, cancellation, delivery_update, general_inquiry, "
            'order_status, password_reset, plan_change, technical_support or "*"',
        ),
        (
            f"{path}:9",
            "policies[0].steps: 3 steps, but caps.max_attempts_per_episode is 2: "
            "step 3 would always be blocked",
        ),
        (
            f"{path}:11",
            "policies[0].steps[1]: after_minutes 10 is earlier than the step before (30); "
            "list the steps in time order",
        ),
        (
            f"{path}:12",
            "policies[0].steps[2]: after_minutes 5000 is after the policy's ttl_hours (72 h): "
            "it would never be made",
        ),
        (f"{path}:13", "policies[1].name: duplicate policy 'One' (first at line 7)"),
        (f"{path}:20", "contact_windows.extra_rules[0].days.monday[0]: '09:00-08:00' ends before it starts"),
    ]


def test_validate_mappings_reports_them_and_loading_refuses(broken):
    write(broken, BAD.replace("action: fax", "action: sms"))
    assert any("recovery.yaml:13" in p.path for p in validate_mappings(broken))
    with pytest.raises(ConfigError):
        load_recovery_config(broken)


def test_missing_recovery_dispositions_are_reported(broken):
    text = (broken / "dispositions.yaml").read_text()
    (broken / "dispositions.yaml").write_text(text.replace("code: RECOVERY_FAILED", "code: RECOVERY_FAILS"))
    [problem] = recovery_problems(broken)
    assert problem.path.endswith("recovery.yaml:1") and "RECOVERY_FAILED" in problem.message


def test_extra_rules_and_caps_narrow_the_built_in_ones(broken):
    text = (MAPPINGS / "recovery.yaml").read_text()
    text = text.replace(
        "  extra_rules: []",
        '  extra_rules:\n    - jurisdiction: "*"\n      citation: house\n'
        '      days: {monday: ["10:00-18:00"], tuesday: [], wednesday: [], thursday: [], friday: [], '
        "saturday: [], sunday: []}",
    )
    text = text.replace(
        "caps:\n",
        'caps:\n  jurisdictions:\n    - {jurisdiction: US-NY, limit: 1, window_hours: 24, citation: "x"}\n',
    )
    write(broken, text)
    config = load_recovery_config(broken)
    assert config.windows[-1].citation == "house" and config.windows[-1].days[1] == ()
    assert config.customer_caps[-1].jurisdiction == "US-NY"


def test_the_migration_creates_exactly_the_tables_the_metadata_describes(engine):
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), metadata)
    assert [d for d in differences if "recovery" in repr(d)] == []


def with_blocked_dates(block: str) -> str:
    text = (MAPPINGS / "recovery.yaml").read_text()
    assert "  blocked_dates: []\n" in text
    return text.replace("  blocked_dates: []\n", "  blocked_dates:\n" + block)


def line_of(path, needle):
    return next(n for n, line in enumerate(open(path).read().splitlines(), 1) if needle in line)


def test_blocked_dates_become_rules_quoted_or_not(broken):
    write(
        broken,
        with_blocked_dates(
            "    - jurisdiction: US-AL\n      citation: counsel 2026-11\n"
            '      dates: ["2026-12-25", 2027-01-01]\n'
        ),
    )
    config = load_recovery_config(broken)
    rule = config.windows[-1]
    assert (rule.jurisdiction, rule.citation, rule.verified) == ("US-AL", "counsel 2026-11", False)
    assert sorted(rule.closed_dates) == [date(2026, 12, 25), date(2027, 1, 1)]
    assert rule.describe() == "US-AL no contact on 2026-12-25, 2027-01-01"


def test_a_blocked_date_that_is_no_calendar_day_is_named_by_line(broken):
    path = write(
        broken,
        with_blocked_dates(
            '    - jurisdiction: US-LA\n      dates:\n        - "2026-12-25"\n        - "2026-02-30"\n'
            '        - "2026-12-25"\n'
        ),
    )
    problems = [(p.path, p.message) for p in recovery_problems(broken)]
    first = line_of(path, '- "2026-12-25"')
    assert problems == [
        (
            f"{path}:{first + 1}",
            "contact_windows.blocked_dates[0].dates[1]: '2026-02-30' is not a calendar date (YYYY-MM-DD)",
        ),
        (
            f"{path}:{first + 2}",
            f"contact_windows.blocked_dates[0].dates[2]: 2026-12-25 is listed twice (first at line {first})",
        ),
    ]


def test_an_unquoted_impossible_date_is_named_by_line_too(broken):
    path = write(broken, with_blocked_dates("    - jurisdiction: US-MS\n      dates: [2026-02-30]\n"))
    [problem] = recovery_problems(broken)
    assert problem.path == f"{path}:{line_of(path, '2026-02-30')}"
    assert problem.message.startswith("2026-02-30 is not a calendar date")


def test_a_blocked_date_in_another_shape_is_a_schema_problem(broken):
    path = write(broken, with_blocked_dates('    - jurisdiction: Alabama\n      dates: ["25/12/2026"]\n'))
    problems = [(p.path, p.message) for p in recovery_problems(broken)]
    assert [p for p, _ in problems] == [
        f"{path}:{line_of(path, 'Alabama')}",
        f"{path}:{line_of(path, '25/12')}",
    ]
