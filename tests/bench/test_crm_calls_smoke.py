"""``bench/crm_calls.py`` runs end to end with tiny parameters (no timing assertions)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "crm_calls.py"


def load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_crm_calls", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("crm", ["zendesk", "salesforce"])
def test_both_sides_link_every_outcome(
    crm: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CTIHUB_DATABASE_URL", raising=False)
    bench = load_bench()
    results = tmp_path / "results.json"
    tiny = [
        "--trickle-rate",
        "10",
        "--trickle-seconds",
        "0.3",
        "--burst-rate",
        "10",
        "--burst-seconds",
        "0.3",
    ]
    code = bench.main(
        ["--crm", crm, *tiny, "--latency-ms", "0", "--settle-timeout", "20", "--json", str(results)]
    )

    assert code == 0  # without --check, missed targets do not fail the run
    out = capsys.readouterr().out
    rows = json.loads(results.read_text())
    assert [(r["phase"], r["side"]) for r in rows] == [
        ("trickle", "hub"),
        ("trickle", "naive"),
        ("burst", "hub"),
        ("burst", "naive"),
    ]
    for row in rows:
        assert row["outcomes"] == 3
        assert row["linked"] == 3, row
        assert row["calls"] >= 1 and sum(row["breakdown"].values()) == row["calls"]
        assert row["p95_seconds"] is not None
    naive = [r for r in rows if r["side"] == "naive"]
    assert all(r["calls_per_outcome"] >= 3 for r in naive)  # look up, look up, write (Salesforce: + Task)
    printed = [line.split()[:5] for line in out.splitlines()]
    for phase in ("trickle", "burst"):
        for side in ("hub", "naive"):
            assert [phase, side, "10", "3", "3"] in printed  # phase, side, offered/s, outcomes, linked


def test_hub_targets() -> None:
    bench = load_bench()
    result = bench.SideResult("zendesk", "burst", "hub", 50.0, outcomes=2, customers=1, problems=1)
    result.linked, result.calls, result.latencies = 2, 2, [0.5, None]
    assert result.judge(burst=True).startswith("FAIL: calls/outcome 1.00 > 0.1; p95 unlinked")
    result.calls, result.latencies = 0, [0.5, 1.0]
    assert result.judge(burst=True) == "PASS"
