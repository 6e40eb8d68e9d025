"""Two ``ctihub scheduler`` processes on one database: one runs the ticks; kill -9 it, the other
takes over within one interval. Real processes, on SQLite (lease row) and PostgreSQL (advisory lock)."""

from __future__ import annotations

import itertools
import signal
import subprocess
import time
from datetime import datetime
from pathlib import Path

import pytest

from tests.serving.helpers import ctihub, hub_env, json_lines, started, wait_for

INTERVAL = 3.0
TICK = "scheduler tick close_elapsed_episodes ran"


def ticks(log: Path) -> list[float]:
    lines = json_lines(log)
    return [datetime.fromisoformat(line["ts"]).timestamp() for line in lines if TICK in line["message"]]


def became_leader(log: Path) -> list[float]:
    return [
        datetime.fromisoformat(line["ts"]).timestamp()
        for line in json_lines(log)
        if "became the scheduler leader" in line["message"]
    ]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'shared.db'}"
        env = hub_env(tmp_path, CTIHUB_DATABASE_URL=url)
        subprocess.run(ctihub("db", "upgrade"), env=env, cwd=tmp_path, check=True, capture_output=True)
        return url
    request.getfixturevalue("postgres_engine")  # migrated
    return request.getfixturevalue("postgres_url")


def test_one_leader_ticks_and_a_killed_leader_is_replaced_within_one_interval(tmp_path, database_url):
    env = hub_env(
        tmp_path,
        CTIHUB_DATABASE_URL=database_url,
        CTIHUB_SANDBOX="true",
        CTIHUB_SCHEDULER_INTERVAL_SECONDS=str(INTERVAL),
        CTIHUB_LOG_FORMAT="json",
        CTIHUB_LOG_LEVEL="DEBUG",
    )
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    with started(ctihub("scheduler"), env, tmp_path, first_log) as first:
        wait_for(lambda: became_leader(first_log), deadline=120, what="the first scheduler to lead")
        with started(ctihub("scheduler"), env, tmp_path, second_log) as second:
            wait_for(
                lambda: any("started (every" in line["message"] for line in json_lines(second_log)),
                deadline=120,
                what="the second scheduler to start",
            )
            seen = len(ticks(first_log))
            wait_for(lambda: len(ticks(first_log)) >= seen + 3, deadline=60, what="three more ticks")
            assert ticks(second_log) == [] and became_leader(second_log) == []
            led = ticks(first_log)[-3:]
            assert all(b - a >= INTERVAL * 0.5 for a, b in itertools.pairwise(led))  # once per interval

            first.send_signal(signal.SIGKILL)
            first.wait(timeout=30)
            killed_at = time.time()
            [took_over] = wait_for(lambda: became_leader(second_log), deadline=60, what="a new leader")
            backend = database_url.split(":")[0]
            print(f"leader replaced {took_over - killed_at:.2f} s after kill -9 ({backend})")
            assert took_over - killed_at <= INTERVAL, f"took {took_over - killed_at:.2f} s"
            wait_for(lambda: ticks(second_log), deadline=30, what="the new leader's ticks")
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=60) == 0
    assert "left the scheduler role" in second_log.read_text()
