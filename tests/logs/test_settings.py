"""The logging settings, and what the ``ctihub`` command does with them."""

from __future__ import annotations

import json
import logging

import pytest
from click.testing import CliRunner

from hub.cli import main
from hub.domain.errors import ConfigError
from hub.logs import RedactingFilter
from hub.settings import Settings
from tests.conftest import MAPPINGS


@pytest.mark.parametrize(
    ("name", "value"),
    [("CTIHUB_LOG_FORMAT", "xml"), ("CTIHUB_LOG_LEVEL", "LOUD"), ("CTIHUB_SCHEDULER_INTERVAL_SECONDS", "0")],
)
def test_bad_logging_and_scheduler_settings_are_named(name, value):
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({name: value})
    assert [problem.path for problem in caught.value.problems] == [name]


def test_the_command_logs_json_and_masks_the_configured_secrets(tmp_path, monkeypatch, capfd):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CTIHUB_LOG_FORMAT", "json")
    monkeypatch.setenv("CTIHUB_MAPPINGS", str(MAPPINGS))
    monkeypatch.setenv("CTIHUB_ZENDESK_API_TOKEN", "cli-configured-zendesk-token")
    monkeypatch.setenv("CTIHUB_DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    root = logging.getLogger()
    before = list(root.handlers)
    try:
        assert CliRunner().invoke(main, ["db", "upgrade"]).exit_code == 0
        ours = [h for h in root.handlers if h not in before]
        assert len(ours) == 1 and any(isinstance(f, RedactingFilter) for f in ours[0].filters)
        logging.getLogger("hub.test").warning("token cli-configured-zendesk-token for +14155550123")
        line = capfd.readouterr().err.strip().splitlines()[-1]
    finally:
        for handler in root.handlers[:]:
            if handler not in before:
                root.removeHandler(handler)
    entry = json.loads(line)
    assert entry["message"] == "token [secret] for [phone]" and entry["level"] == "WARNING"
