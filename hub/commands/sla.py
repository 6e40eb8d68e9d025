"""``ctihub sla``: SLA clocks.

    ctihub sla explain <episode id> [--at 2026-03-09T16:00:00Z]

prints each clock of the episode: the policy and target in force, when it started, its pauses, and
the business-hours arithmetic behind its due time (every open span counted, with a running total).
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import click

from hub.domain.business_hours import open_spans
from hub.domain.sla import MetricClock

if TYPE_CHECKING:
    from hub.services.sla import EpisodeSla
    from hub.store.episodes import Episode


@click.group()
def sla() -> None:
    """SLA policies and clocks."""


def _parse_at(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 time") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@sla.command("explain")
@click.argument("episode_id")
@click.option("--at", "at", help="Explain the clocks as of this time (ISO 8601; default: now).")
def explain(episode_id: str, at: str | None) -> None:
    """Print each clock of an episode with its pauses and the arithmetic behind its due time."""
    from hub.commands.startup import build_for_command, load_settings
    from hub.services.sla import SlaService
    from hub.store import episodes

    moment = _parse_at(at)
    hub = build_for_command(load_settings())
    service = SlaService.for_hub(hub)
    now = moment or hub.clock.now()
    with hub.engine.connect() as connection:
        episode = episodes.get_episode(connection, episode_id)
    if episode is None:
        click.echo(f"error: no episode {episode_id!r}", err=True)
        sys.exit(1)
    derived = service.episode(episode_id, now)
    for line in explain_lines(episode, derived, now):
        click.echo(line)


def _local(moment: datetime | None, zone: str) -> str:
    if moment is None:
        return "-"
    local = moment.astimezone(ZoneInfo(zone))
    return f"{local:%a %Y-%m-%d %H:%M} {local.tzname()}"


def _utc(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment is not None else "-"


def _both(moment: datetime | None, zone: str) -> str:
    return f"{_local(moment, zone)} ({_utc(moment)})" if moment is not None else "-"


def _minutes(value: float) -> str:
    value = round(value, 2)
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def explain_lines(episode: Episode, derived: EpisodeSla, now: datetime) -> list[str]:
    """The text of ``sla explain``."""
    lines = [
        f"episode {episode.id} ({episode.status})  intent {episode.intent} "
        f"(family {episode.intent_family})  customer {episode.customer_key}",
        f"as of {_utc(now)}",
    ]
    events = derived.events
    if not events:
        return [*lines, "no SLA history: nothing has been recorded for this episode yet"]
    lines.append("")
    lines.append("history (the policy in force from each event on):")
    for stored, applied in events:
        what = stored.kind
        if stored.kind == "agent_reply":
            what += " (public)" if stored.public else " (private note)"
        if stored.status:
            what += f" -> {stored.status}"
        if stored.merged_into:
            what += f" into {stored.merged_into}"
        attributes = " ".join(
            f"{key}={value}" for key, value in stored.attributes.items() if value is not None
        )
        source = "" if stored.episode_id == episode.id else f"  [merged from {stored.episode_id}]"
        policy = f'"{applied.title}" ({applied.priority})' if applied else "no policy"
        lines.append(f"  {_utc(stored.at)}  {what:<28} {attributes}  -> {policy}{source}")
    clocks = derived.clocks
    if not clocks:
        lines += ["", "no clocks: no policy with a target for this episode's priority applies"]
    for clock in clocks:
        lines.append("")
        lines += clock_lines(clock, now)
    return lines


def clock_lines(clock: MetricClock, now: datetime) -> list[str]:
    zone = clock.schedule.time_zone if clock.business_hours else "UTC"
    hours = (
        f"business minutes on schedule {clock.schedule.name} ({clock.schedule.time_zone})"
        if clock.business_hours
        else "calendar minutes"
    )
    lines = [
        f"{clock.metric} #{clock.instance}: {clock.status}",
        f"  policy     {clock.policy} (priority {clock.priority})",
        f"  target     {_minutes(clock.target_minutes)} {hours}",
        f"  started    {_both(clock.started_at, zone)}",
    ]
    if len(clock.changes) > 1:
        for change in clock.changes:
            target = "no target" if change.minutes is None else f"{_minutes(change.minutes)} min"
            lines.append(
                f"  from       {_utc(change.at)}: {target} ({change.policy or 'no policy'}), "
                f"due {_utc(change.due_at)}"
            )
    if not clock.pauses:
        lines.append("  pauses     none")
    for pause in clock.pauses:
        until = _both(pause.end, zone) if pause.end else "still paused"
        lines.append(f"  paused     {_both(pause.start, zone)} -> {until} ({pause.status})")
    lines += _arithmetic(clock, now, zone)
    if clock.ended_at is not None:
        lines.append(f"  met        {_both(clock.ended_at, zone)}")
    if clock.breached_at is not None:
        lines.append(f"  breached   {_both(clock.breached_at, zone)}")
    if clock.warn_at is not None and clock.status == "active":
        lines.append(f"  warning at {_both(clock.warn_at, zone)}")
    return lines


def _arithmetic(clock: MetricClock, now: datetime, zone: str) -> list[str]:
    """Each open span counted toward the target, with a running total, up to the due time."""
    limit = clock.due_at or clock.ended_at or now
    lines: list[str] = []
    total = 0.0
    for lo, hi in clock.running:
        stop = min(hi, limit) if hi is not None else limit
        for start, end in open_spans(clock.schedule, lo, stop):
            pieces = [(start, end)] if not start < now < end else [(start, now), (now, end)]
            for piece_start, piece_end in pieces:
                total += (piece_end - piece_start).total_seconds() / 60
                lines.append(_span_line(clock, zone, piece_start, piece_end, total, past=piece_end <= now))
    if clock.due_at is not None:
        lines.append(
            f"  due        {_both(clock.due_at, zone)} = started + {_minutes(clock.target_minutes)} "
            f"{'business' if clock.business_hours else 'calendar'} minutes"
            + (" + pauses" if clock.pauses else "")
        )
    else:
        remaining = max(clock.target_minutes - clock.elapsed_minutes, 0)
        lines.append(f"  due        - (paused; {_minutes(remaining)} minutes left when it resumes)")
    return lines


def _span_line(
    clock: MetricClock, zone: str, start: datetime, end: datetime, total: float, *, past: bool
) -> str:
    local_start, local_end = start.astimezone(ZoneInfo(zone)), end.astimezone(ZoneInfo(zone))
    end_text = (
        f"{local_end:%H:%M}" if local_end.date() == local_start.date() else f"{local_end:%a %Y-%m-%d %H:%M}"
    )
    minutes = (end - start).total_seconds() / 60
    label = "counted" if past else "to count"
    return (
        f"  {label:<10} {local_start:%a %Y-%m-%d %H:%M}-{end_text} {local_end.tzname()}"
        f"  {_minutes(minutes)} min  (total {_minutes(total)} of {_minutes(clock.target_minutes)})"
    )
