"""The supervisor of ``ctihub serve``: restarts a part that died, stops every part, kills stragglers."""

from __future__ import annotations

import sys
from pathlib import Path

from hub.serving.supervisor import PartSpec, Supervisor, gunicorn_command
from tests.serving.helpers import wait_for

SLEEPER = "import time; time.sleep(600)"


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_a_part_that_exits_is_restarted_after_its_backoff(tmp_path: Path):
    marker = tmp_path / "runs"
    code = f"open({str(marker)!r}, 'a').write('x')"
    supervisor = Supervisor([PartSpec("flaky", python(code))], env={}).start()
    try:
        [part] = supervisor.parts
        assert part.process is not None
        part.process.wait(timeout=30)
        supervisor.watch_once(now=part.started_at + 1)  # noticed: restart due in 1 s
        assert part.restart_at == part.started_at + 2 and part.restarts == 0
        supervisor.watch_once(now=part.started_at + 1.5)
        assert part.restarts == 0
        supervisor.watch_once(now=part.restart_at)
        assert part.restarts == 1 and part.backoff == 2
        wait_for(lambda: marker.exists() and marker.read_text() == "xx", deadline=30, what="the second run")
    finally:
        supervisor.stop()


def test_stop_sends_sigterm_and_kills_a_part_that_ignores_it(tmp_path: Path):
    ready = tmp_path / "ready"
    stubborn = (
        "import signal, time, pathlib; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        f"pathlib.Path({str(ready)!r}).touch(); time.sleep(600)"
    )
    supervisor = Supervisor(
        [PartSpec("polite", python(SLEEPER)), PartSpec("stubborn", python(stubborn))], env={}, stop_timeout=1
    ).start()
    wait_for(ready.exists, deadline=30, what="the stubborn part to ignore SIGTERM")
    assert supervisor.stop() == 1  # the stubborn part had to be killed
    polite, stubborn_part = (part.process for part in supervisor.parts)
    assert polite is not None and polite.returncode == -15
    assert stubborn_part is not None and stubborn_part.returncode == -9


def test_a_stopping_supervisor_restarts_nothing():
    supervisor = Supervisor([PartSpec("quick", python("pass"))], env={}).start()
    [part] = supervisor.parts
    assert part.process is not None
    part.process.wait(timeout=30)
    supervisor.stopping.set()
    supervisor.watch_once(now=part.started_at + 100)
    supervisor.watch_once(now=part.started_at + 200)
    assert part.restarts == 0
    assert supervisor.stop() == 0


def test_the_web_tier_command_uses_the_hub_gunicorn_settings():
    command = gunicorn_command(host="127.0.0.1", port=8080, workers=3, access_log=False)
    assert command[1:5] == ["-m", "gunicorn", "-c", "python:hub.serving.gunicorn_conf"]
    assert command[-1] == "hub.web:create_app()" and "--access-logfile" not in command
    assert command[5:7] == ["-w", "3"]
