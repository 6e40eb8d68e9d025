"""``ctihub recovery``: outbound recovery policies, their preview, state and metrics.

    ctihub recovery simulate --events day.jsonl --from 2026-11-23T00:00:00Z --to 2026-11-26T00:00:00Z
    ctihub recovery status
    ctihub recovery metrics [--since 2026-11-01T00:00:00Z]

``simulate`` reads outcome events (JSON lines, contract v1) and prints, as JSON lines, every attempt
the policies of ``mappings/recovery.yaml`` would make: ``{event_id, episode_id, attempt, action,
channel, at, status, reason}`` (``at`` in UTC; status planned, rescheduled or blocked). It sends
nothing and never opens the configured database (see ``hub.services.recovery_preview``).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path

import click


@click.group()
def recovery() -> None:
    """Outbound recovery: capped, consent-checked follow-ups after failed interactions."""


def _moment(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 time", param_hint=name) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _fail(message: str, problems: list | None = None) -> None:
    click.echo(f"error: {message}", err=True)
    for problem in problems or []:
        click.echo(f"  {problem.path}: {problem.message}", err=True)
    sys.exit(2)


@recovery.command("simulate")
@click.option(
    "--events", "events_file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--from", "start", required=True, help="Start of the simulated span (ISO 8601; UTC if naive).")
@click.option("--to", "end", required=True, help="End of the simulated span (ISO 8601; UTC if naive).")
@click.option(
    "--mappings", "mappings_dir", type=click.Path(file_okay=False, path_type=Path), help="Default: settings."
)
@click.option("--crm", type=click.Choice(["zendesk", "salesforce"]), help="Whose field mapping to use.")
@click.option("--only-enabled", is_flag=True, help="Leave out disabled policies (default: simulate all).")
def simulate(
    events_file: Path, start: str, end: str, mappings_dir: Path | None, crm: str | None, only_enabled: bool
) -> None:
    """Print every attempt the recovery policies would make for these events; send nothing."""
    from hub.commands.startup import load_settings
    from hub.domain.errors import ConfigError, ValidationFailed
    from hub.mappings import load_mappings
    from hub.mappings.recovery import load_recovery_config
    from hub.services.recovery_preview import as_json_lines, read_events, simulate, validator_for

    logging.getLogger("hub.services.recovery").setLevel(logging.WARNING)  # no per-tick lines
    settings = load_settings()
    directory = mappings_dir or settings.mappings_dir
    begin, finish = _moment(start, "--from"), _moment(end, "--to")
    assert begin is not None and finish is not None
    if finish < begin:
        _fail("--to is before --from")
    try:
        mappings = load_mappings(directory)
        config = load_recovery_config(directory)
        if config is None:
            _fail(f"{directory / 'recovery.yaml'} does not exist: no recovery policies to simulate")
        assert config is not None
        events = read_events(
            events_file.read_text(encoding="utf-8").splitlines(),
            validator_for(mappings),
            display=str(events_file),
        )
        lines = simulate(
            mappings,
            config,
            events,
            begin,
            finish,
            crm=crm or (settings.crm if settings.crm in mappings.crms else mappings.crms[0]),
            default_region=settings.default_region,
            only_enabled=only_enabled,
        )
    except (ConfigError, ValidationFailed) as exc:
        _fail(exc.message, exc.problems)
        return
    click.echo(as_json_lines(lines), nl=False)


@recovery.command("status")
def status() -> None:
    """Plans and attempts by status, what is due now, and the CRM notes waiting to be written."""
    from sqlalchemy import func, select

    from hub.commands.startup import load_settings
    from hub.services.clock import SystemClock
    from hub.store import recovery as store
    from hub.store.db import make_engine
    from hub.store.recovery_tables import recovery_attempts, recovery_plans, recovery_writebacks

    settings = load_settings()
    engine = make_engine(settings.database_url, **settings.engine_options())
    now = SystemClock().now()
    with engine.connect().execution_options(readonly=True) as connection:
        due = connection.execute(
            select(func.count(), func.min(recovery_attempts.c.due_at)).where(
                recovery_attempts.c.status == "pending", recovery_attempts.c.due_at <= now
            )
        ).one()
        report = {
            "plans": store.count_by(connection, recovery_plans, "status"),
            "attempts": store.count_by(connection, recovery_attempts, "status"),
            "due_now": due[0],
            "oldest_due": due[1].isoformat() if due[1] else None,
            "writebacks": store.count_by(connection, recovery_writebacks, "status"),
        }
    click.echo(json.dumps(report, sort_keys=True))


@recovery.command("metrics")
@click.option("--since", help="Only attempts created from then on (ISO 8601).")
def metrics(since: str | None) -> None:
    """Attempts by result, blocked by reason, connect rate, touches per resolution, opt-out rate."""
    from hub.commands.startup import load_settings
    from hub.services.recovery_metrics import recovery_metrics
    from hub.store.db import make_engine

    settings = load_settings()
    engine = make_engine(settings.database_url, **settings.engine_options())
    click.echo(json.dumps(recovery_metrics(engine, since=_moment(since, "--since")), sort_keys=True))
