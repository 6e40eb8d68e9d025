"""``ctihub report deflection``: the deflection figures of docs/metrics.md, as JSON or CSV.

    ctihub report deflection --from 2026-11-01 --to 2026-11-30 [--group-by day|channel|intent]
                             [--channel chat] [--intent billing] [--csv]

It first brings the metrics rollup up to date (what the scheduler's ``metrics_rollup`` tick does;
a progress bar on stderr when many events are new, e.g. the first run on a full database), then
prints the same answer as ``GET /v1/metrics/deflection``.
"""

from __future__ import annotations

import csv
import json
import sys
from typing import Any

import click

from hub.domain.errors import ConfigError, ValidationFailed

PROGRESS_FROM = 20_000  # events to read before a progress bar is worth showing


@click.group()
def report() -> None:
    """Operations reports."""


def _fail(error: ConfigError | ValidationFailed) -> None:
    click.echo(f"error: {error.message}", err=True)
    for problem in error.problems:
        name = {"from": "--from", "to": "--to", "group_by": "--group-by"}.get(problem.path, problem.path)
        click.echo(f"  {name}: {problem.message}", err=True)
    sys.exit(2)


class _Bar:
    """A click progress bar opened on the first report of a long read."""

    def __init__(self) -> None:
        self.bar: Any = None
        self.shown = 0

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            if total < PROGRESS_FROM:
                return
            self.bar = click.progressbar(length=total, label="reading linked events", file=sys.stderr)
            self.bar.__enter__()
        self.bar.update(done - self.shown)
        self.shown = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


@report.command("deflection")
@click.option("--from", "first", required=True, help="First day, YYYY-MM-DD (UTC, inclusive).")
@click.option("--to", "last", required=True, help="Last day, YYYY-MM-DD (UTC, inclusive).")
@click.option("--group-by", type=click.Choice(["day", "channel", "intent"]), help="One row per group.")
@click.option("--channel", help="Only inquiries whose first contact was on this channel.")
@click.option("--intent", help="Only inquiries whose first contact had this intent.")
@click.option("--with-recovery", is_flag=True, help="Add the figures of GET /v1/metrics/recovery.")
@click.option(
    "--csv", "as_csv", is_flag=True, help="CSV (one row per group, then the totals) instead of JSON."
)
def deflection(
    first: str,
    last: str,
    group_by: str | None,
    channel: str | None,
    intent: str | None,
    with_recovery: bool,
    as_csv: bool,
) -> None:
    """Deflection, containment, recontact-adjusted deflection and the rest, over a range of days."""
    from hub.mappings import load_mappings
    from hub.mappings.metrics import load_metrics_config
    from hub.services.clock import SystemClock
    from hub.services.deflection_metrics import Query, deflection_report
    from hub.services.deflection_rollup import DeflectionRollup
    from hub.settings import Settings
    from hub.store.db import make_engine

    try:
        query = Query.parse(
            {"from": first, "to": last, "group_by": group_by, "channel": channel, "intent": intent}
        )
        settings = Settings.from_env()
        mappings = load_mappings(settings.mappings_dir)
        config = load_metrics_config(settings.mappings_dir)
    except (ConfigError, ValidationFailed) as error:
        _fail(error)
        return
    engine = make_engine(settings.database_url)
    rollup = DeflectionRollup(
        engine=engine,
        catalog=mappings.catalog,
        clock=SystemClock(),
        window_hours=config.recontact_window_hours,
    )
    bar = _Bar()
    try:
        rollup.tick(progress=bar)
    finally:
        bar.close()
    answer = deflection_report(engine, query, window_hours=config.recontact_window_hours)
    if as_csv:
        write_csv(answer, sys.stdout)
    else:
        click.echo(json.dumps(answer, indent=2, sort_keys=True))


def write_csv(answer: dict[str, Any], out: Any) -> None:
    """One row per group and a last row of totals; only the scalar figures (rates and counts)."""
    key = answer["group_by"] or "range"
    totals = {name: value for name, value in answer["totals"].items() if not isinstance(value, dict)}
    writer = csv.writer(out)
    writer.writerow([key, *totals])
    for group in answer["groups"]:
        writer.writerow([group[key], *(_cell(group.get(name)) for name in totals)])
    writer.writerow([f"{answer['from']}..{answer['to']}", *(_cell(value) for value in totals.values())])


def _cell(value: Any) -> Any:
    return "" if value is None else value
