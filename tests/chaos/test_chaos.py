"""The chaos runs of ``make chaos`` at a size CI can afford (a couple of minutes): the same scripts,
the same figures, the same targets (``bench/chaos_faults.py``, ``bench/chaos_kill.py``)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("crm", ["zendesk", "salesforce"])
def test_thirty_percent_crm_faults_lose_duplicate_undercut_and_dead_letter_nothing(crm: str) -> None:
    chaos = load("chaos_faults")
    # Offered at 1/s, so batches are small and the calls (hence the faults) many.
    figures = chaos.run(crm, outcomes=100, rate=0.3, seed=11, offered=1.0, database_url=None)
    print(figures.line())
    assert figures.faults >= 15  # the faults did happen, of several kinds
    assert len(figures.faults_by_kind) >= 3, figures.faults_by_kind
    assert figures.missed() == [], figures.line()


@pytest.mark.postgres
def test_kill_9_of_workers_and_web_processes_loses_and_duplicates_nothing(postgres_url: str) -> None:
    """SIGKILLs of ``ctihub worker`` and ``ctihub serve`` processes during a replay on PostgreSQL."""
    del postgres_url  # only for its skip (or CI failure) when the server is unreachable
    chaos = load("chaos_kill")
    args = chaos.parse_args(
        [
            *("--events", "150", "--kills", "6", "--workers", "2", "--webs", "1"),
            *("--min-age", "4", "--lease", "30", "--seed", "3"),
        ]
    )
    figures = chaos.run("salesforce", args)
    print(figures.line())
    assert figures.missed(6) == [], figures.line()
