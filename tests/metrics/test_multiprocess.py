"""Multiprocess mode: several processes (gunicorn workers, ``ctihub worker``, ``ctihub scheduler``)
write to ``PROMETHEUS_MULTIPROC_DIR`` and one scrape adds them up. Each process is a real Python
process, because prometheus-client chooses its storage when it is first imported."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]

COUNT = """
import os
from hub.services import telemetry
telemetry.event_received("accepted")
telemetry.instruments().link_seconds.observe(0.2)
print(os.getpid())
"""

SCRAPE = """
import sys
from datetime import UTC, datetime
from sqlalchemy.pool import StaticPool
from hub.services.scrape import exposition
from hub.store.db import make_engine
from hub.store.schema import metadata
from hub.web.prometheus import child_exit

class Worker:
    pid = int(sys.argv[1])

child_exit(None, Worker())  # what gunicorn's hook does when a worker exits
engine = make_engine("sqlite://", poolclass=StaticPool)
metadata.create_all(engine)
body, _ = exposition(engine, lambda: datetime.now(UTC))
sys.stdout.write(body.decode())
"""


def run(code: str, directory: Path, *args: str) -> str:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    done = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_one_scrape_adds_up_every_process(tmp_path: Path) -> None:
    pids = [run(COUNT, tmp_path).strip() for _ in range(3)]
    assert len(set(pids)) == 3
    text = run(SCRAPE, tmp_path, pids[0])
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }
    assert samples[("ctihub_events_received_total", (("reason", ""), ("result", "accepted")))] == 3
    assert samples[("ctihub_link_duration_seconds_count", ())] == 3
    assert ("ctihub_inbox_events", (("status", "pending"),)) in samples  # the database part is there too
