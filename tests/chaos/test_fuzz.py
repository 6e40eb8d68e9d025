"""The reduced form of ``bench/chaos_fuzz.py`` that runs in CI: 500 bodies per public endpoint, on
SQLite and PostgreSQL. Targets: no 5xx, no unsigned or tampered request accepted, no DTD parsed."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from hub.bootstrap import build_hub
from hub.settings import Settings
from tests.conftest import MAPPINGS
from tests.fakes import FakeCRM

BENCH = Path(__file__).resolve().parents[2] / "bench" / "chaos_fuzz.py"
PER_ENDPOINT = 500


def load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_chaos_fuzz", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_hostile_bodies_never_get_a_5xx_and_forgeries_never_pass(engine, capsys):
    bench = load_bench()
    environment = bench.channel_environment()
    settings = Settings(
        webhook_secret=environment["CTIHUB_WEBHOOK_SECRET"],
        api_token=environment["CTIHUB_API_TOKEN"],
        mappings_dir=MAPPINGS,
        crm="zendesk",
        environment=environment,
    )
    settings.check()  # the fuzzer's secrets meet every minimum
    hub = build_hub(settings, crm=FakeCRM(), engine=engine)  # the system clock: signatures are fresh
    figures = bench.fuzz(hub, per_endpoint=PER_ENDPOINT, seed=bench.DEFAULT_SEED)
    line = figures.line(engine.dialect.name, bench.DEFAULT_SEED)
    print(line)
    assert figures.requests == PER_ENDPOINT * len(bench.ENDPOINTS)
    assert (figures.server_errors, figures.unauthenticated_accepted, figures.dtd_accepted) == (0, 0, 0), (
        line,
        figures.examples,
    )
    # The run exercised the storing paths too, not only the refusals.
    assert all(counts["2xx"] > 0 and counts["4xx"] > 0 for counts in figures.by_endpoint.values()), line
