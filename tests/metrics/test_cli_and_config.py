"""``mappings/metrics.yaml`` is checked like the other admin files, and ``ctihub report deflection``
prints what the API answers (JSON or CSV), bringing the rollup up to date first."""

from __future__ import annotations

import csv
import io
import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from hub.cli import main
from hub.domain.errors import ConfigError
from hub.mappings.metrics import MetricsConfig, load_metrics_config, metrics_problems
from hub.store import migrate
from hub.store.db import make_engine
from tests.conftest import MAPPINGS


def test_the_shipped_file_sets_r_to_72_hours_and_no_file_means_the_default(tmp_path: Path) -> None:
    assert load_metrics_config(MAPPINGS) == MetricsConfig(recontact_window_hours=72.0)
    assert load_metrics_config(tmp_path) == MetricsConfig()
    (tmp_path / "metrics.yaml").write_text("recontact_window_hours: 48\n")
    assert load_metrics_config(tmp_path).recontact_window_hours == 48.0


def test_problems_name_file_and_line(tmp_path: Path) -> None:
    broken = tmp_path / "m"
    shutil.copytree(MAPPINGS, broken)
    (broken / "metrics.yaml").write_text("# R\n\nrecontact_window_hours: 0\nrecontact_window: 3\n")
    found = [(p.path, p.message) for p in metrics_problems(broken)]
    assert found[0][0] == f"{broken / 'metrics.yaml'}:3" and "minimum" in found[0][1]
    assert found[1][0] == f"{broken / 'metrics.yaml'}:4" and "unknown key 'recontact_window'" in found[1][1]
    with pytest.raises(ConfigError):
        load_metrics_config(broken)
    runner = CliRunner()
    result = runner.invoke(main, ["mappings", "validate", str(broken)])
    assert result.exit_code == 1
    assert f"{broken / 'metrics.yaml'}:3: " in result.output


@pytest.fixture
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    from tests.browser.test_dashboard import load_bench

    end = datetime.now(UTC) - timedelta(days=5)
    load_bench().seed_history(engine, events=400, days=10, end=end)
    engine.dispose()
    monkeypatch.setenv("CTIHUB_DATABASE_URL", url)
    monkeypatch.setenv("CTIHUB_MAPPINGS", str(MAPPINGS))
    return end.date().isoformat()


def test_report_prints_the_api_answer_as_json_and_csv(database: str) -> None:
    last = database
    first = (datetime.fromisoformat(last) - timedelta(days=9)).date().isoformat()
    runner = CliRunner()
    result = runner.invoke(
        main, ["report", "deflection", "--from", first, "--to", last, "--group-by", "channel"]
    )
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    assert (answer["from"], answer["to"], answer["recontact_window_hours"]) == (first, last, 72.0)
    assert answer["totals"]["inquiries"] > 0
    assert sum(group["inquiries"] for group in answer["groups"]) == answer["totals"]["inquiries"]

    result = runner.invoke(
        main, ["report", "deflection", "--from", first, "--to", last, "--group-by", "day", "--csv"]
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.output)))
    assert rows[0][:3] == ["day", "inquiries", "automated_inquiries"]
    assert len(rows) == 1 + 10 + 1  # header, every day, the totals
    assert rows[-1][0] == f"{first}..{last}" and int(rows[-1][1]) == answer["totals"]["inquiries"]


def test_report_names_the_bad_option(database: str) -> None:
    result = CliRunner().invoke(main, ["report", "deflection", "--from", "2026-12-10", "--to", "2026-12-01"])
    assert result.exit_code == 2
    assert "--to: 2026-12-01 is before from (2026-12-10)" in result.output
