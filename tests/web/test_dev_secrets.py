"""Sandbox mode generates the session secret beside the other dev secrets, once, and keeps it."""

from __future__ import annotations

import stat

from hub.bootstrap import ensure_dev_secrets
from hub.settings import Settings


def test_sandbox_generates_a_session_secret_into_the_dev_secrets_file_and_reuses_it(tmp_path):
    path = tmp_path / "var" / "dev-secrets.env"
    first = ensure_dev_secrets(Settings(sandbox=True), path)
    assert first.session_secret and len(first.session_secret) >= 48
    assert f"CTIHUB_SESSION_SECRET={first.session_secret}\n" in path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ensure_dev_secrets(Settings(sandbox=True), path).session_secret == first.session_secret


def test_a_configured_session_secret_wins_and_is_not_in_repr(tmp_path):
    settings = ensure_dev_secrets(Settings(sandbox=True, session_secret="mine"), tmp_path / "s.env")
    assert settings.session_secret == "mine"
    assert "mine" not in repr(settings)


def test_the_session_secret_comes_from_the_environment_or_a_file(tmp_path):
    secret_file = tmp_path / "secret"
    secret_file.write_text("from-a-file\n")
    assert Settings.from_env({"CTIHUB_SESSION_SECRET": "env"}).session_secret == "env"
    assert Settings.from_env({"CTIHUB_SESSION_SECRET_FILE": str(secret_file)}).session_secret == "from-a-file"
