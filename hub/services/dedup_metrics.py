"""Dedup counters, for the metrics to come (and ``GET /v1/metrics/dedup`` now).

    duplicates_prevented   events attached to their episode's existing case/ticket instead of
                           creating one (``event_links.case_created`` false), race losers included
    duplicates_repaired    duplicates handled by applied ``ctihub dedup`` plans not undone, by policy
    duplicates_merged      the ``merge`` part of that
    ambiguous              identity matches waiting for an agent (``ambiguous_matches``), by reason

Prometheus (later): a custom collector registered once per process, e.g.
``REGISTRY.register(DedupCollector(engine))`` whose ``collect()`` calls ``dedup_counters`` and yields
``CounterMetricFamily("ctihub_duplicates_prevented", ...)``, ``CounterMetricFamily(
"ctihub_duplicates_repaired", ..., labels=["policy"])`` and ``GaugeMetricFamily("ctihub_ambiguous_matches",
..., labels=["reason"])``: the numbers are read from the database at scrape time, so every web, worker
and scheduler process reports the same totals and no in-process counter can drift. (Repaired counts can
go down after an undo: expose them as gauges, or count ``dedup_audit`` rows by state for counters.)
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from hub.store import dedup


def dedup_counters(engine: Engine) -> dict[str, Any]:
    with engine.connect().execution_options(readonly=True) as connection:
        return dedup.counters(connection)
