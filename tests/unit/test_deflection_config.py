"""``mappings/deflection.yaml``: defaults, the shipped file, and every problem as file:line."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from hub.domain.deflection import DeflectionConfig, ResponseTime
from hub.domain.errors import ConfigError
from hub.mappings.deflection import deflection_problems, load_deflection_config

SHIPPED = Path(__file__).resolve().parents[2] / "mappings"

SLA = """\
schedules:
  - name: london
    time_zone: Europe/London
    intervals:
      - {start_time: 1980, end_time: 2460}
    holidays:
      - {name: Boxing Day, start_date: 2026-12-26, end_date: 2026-12-26}
policies: []
"""


def write(directory: Path, text: str, name: str = "deflection.yaml") -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def line_of(path: Path, needle: str) -> str:
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if needle in line:
            return f"{path}:{number}"
    raise AssertionError(needle)


def test_without_the_file_the_built_in_defaults_apply(tmp_path):
    assert load_deflection_config(tmp_path) == DeflectionConfig()
    assert deflection_problems(tmp_path) == []


def test_a_file_of_comments_only_means_every_default(tmp_path):
    write(tmp_path, "# nothing yet\n")
    assert load_deflection_config(tmp_path) == DeflectionConfig()


def test_the_shipped_file_is_valid_and_names_the_new_york_schedule_of_sla_yaml():
    config = load_deflection_config(SHIPPED)
    assert deflection_problems(SHIPPED) == []
    assert config.thresholds.wait_threshold_seconds == 120
    assert config.thresholds.response_times["sms"] == ResponseTime(10, 60)
    assert config.schedule_name == "new-york"
    assert config.token_lifetime == timedelta(minutes=15)


def test_every_knob_is_read(tmp_path):
    write(
        tmp_path,
        "queue:\n"
        "  wait_threshold_seconds: 300\n"
        "  idle: {agents_available: 2}\n"
        "  service_level_target: 0.8\n"
        "escape: {self_service_failures: 3}\n"
        "expected_response:\n"
        "  chat: {in_hours_minutes: 1}\n"
        "context_token: {lifetime_minutes: 5}\n",
    )
    config = load_deflection_config(tmp_path)
    t = config.thresholds
    assert (t.wait_threshold_seconds, t.idle_agents, t.service_level_target, t.self_service_failures) == (
        300,
        2,
        0.8,
        3,
    )
    assert t.response_times["chat"] == ResponseTime(1, 30)  # the unset key keeps its default
    assert config.token_lifetime == timedelta(minutes=5)


def test_schema_problems_name_the_file_and_line(tmp_path):
    path = write(
        tmp_path,
        "queue:\n  wait_threshold_seconds: soon\n  idle: {agent: 1}\nexpected_response:\n  email: {}\n",
    )
    problems = deflection_problems(tmp_path)
    assert [p.path for p in problems] == [
        line_of(path, "wait_threshold_seconds"),
        line_of(path, "idle"),
        line_of(path, "email"),
    ]
    assert "expected an integer, got text" in problems[0].message
    assert "unknown key 'agent'" in problems[1].message
    assert "unknown key 'email'" in problems[2].message
    with pytest.raises(ConfigError) as raised:
        load_deflection_config(tmp_path)
    assert raised.value.problems == problems
    assert "3 problems" in raised.value.message


def test_a_yaml_syntax_error_is_reported_at_its_line(tmp_path):
    write(tmp_path, "queue:\n  idle: [1\n")
    [problem] = deflection_problems(tmp_path)
    assert problem.path.startswith(f"{tmp_path / 'deflection.yaml'}:")
    assert "YAML syntax error" in problem.message


def test_a_duplicate_key_is_reported(tmp_path):
    path = write(
        tmp_path,
        "business_hours: a\nbusiness_hours: b\n",
    )
    [problem] = deflection_problems(tmp_path)
    assert problem.path == f"{path}:2"
    assert "duplicate key 'business_hours' (first at line 1)" in problem.message


def test_a_schedule_name_of_sla_yaml_is_accepted(tmp_path):
    write(tmp_path, SLA, "sla.yaml")
    write(tmp_path, "business_hours: london\n")
    config = load_deflection_config(tmp_path)
    assert config.schedule_name == "london"


def test_a_schedule_name_missing_from_sla_yaml_is_a_problem_at_its_line(tmp_path):
    write(tmp_path, SLA, "sla.yaml")
    path = write(tmp_path, "queue: {wait_threshold_seconds: 60}\nbusiness_hours: paris\n")
    [problem] = deflection_problems(tmp_path)
    assert problem.path == f"{path}:2"
    assert problem.message == "business_hours: no schedule 'paris' in sla.yaml (schedules: london)"


def test_a_schedule_name_without_sla_yaml_is_a_problem(tmp_path):
    write(tmp_path, "business_hours: london\n")
    [problem] = deflection_problems(tmp_path)
    assert "schedule 'london' is not defined: there is no sla.yaml" in problem.message


def test_the_schemas_ship_with_the_code_so_a_copied_directory_validates(tmp_path):
    for name in ("deflection.yaml", "sla.yaml"):
        shutil.copy(SHIPPED / name, tmp_path / name)
    assert deflection_problems(tmp_path) == []


def test_validate_mappings_reports_deflection_problems_too(tmp_path):
    from hub.mappings import validate_mappings

    for source in SHIPPED.glob("*.yaml"):
        shutil.copy(source, tmp_path / source.name)
    assert validate_mappings(tmp_path) == []
    path = write(tmp_path, "business_hours: tokyo\n")
    [problem] = validate_mappings(tmp_path)
    assert problem.path == f"{path}:1"
    assert problem.message.startswith("business_hours: no schedule 'tokyo' in sla.yaml")
