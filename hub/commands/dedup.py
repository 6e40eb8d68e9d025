"""``ctihub dedup``: find and repair parallel cases/tickets.

    ctihub dedup scan [--dry-run] [--apply] [--yes] [--customer KEY] [--crm ..] [--sandbox]
    ctihub dedup undo PLAN_ID
    ctihub dedup ambiguous            identity matches waiting for an agent
    ctihub dedup counters             duplicates prevented, repaired, ambiguous (JSON)

``scan`` prints a plan per customer and intent family with parallel open cases/tickets: the master
and why, the duplicates, what applying does, and whether the CRM part is irreversible (a Zendesk
merge). It records the shared identifiers it discovers (one phone on several CRM people), which then
join no one. ``--apply`` runs the plans, each audited before and after; a plan flagged irreversible
runs only after a yes at the prompt, or with ``--yes``; without a terminal it is skipped. ``--dry-run``
prints what ``--apply`` would do and writes nothing anywhere. ``undo`` restores the hub's links as they
were and undoes in the CRM what can be undone, listing what cannot.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

CRMS = click.Choice(["zendesk", "salesforce"])


@click.group()
def dedup() -> None:
    """Parallel cases/tickets: scan, repair, undo."""


def repair_for(hub: Any) -> Any:
    """The ``CaseRepair`` of the hub's CRM (entry point group ``cti_hub.repair``).

    With the sandbox, the sandbox's own settings and session are used; ``CTIHUB_<CRM>_DEDUP_*``
    options (e.g. ``CTIHUB_SALESFORCE_DEDUP_CLOSED_STATUS``) still apply.
    """
    from hub.bootstrap import load_plugin, sandbox_crm_settings
    from hub.ports import AdapterConfig

    crm = hub.settings.crm
    settings = dict(hub.settings.crm_settings.get(crm, {}))
    session = None
    if hub.sandbox is not None:
        options = {k: v for k, v in settings.items() if k.startswith("dedup_")}
        settings = {**sandbox_crm_settings(crm), **options}
        session = hub.sandbox.session()
    factory = load_plugin("cti_hub.repair", crm)
    return factory(
        AdapterConfig(
            settings=settings,
            mapping=hub.mappings.crm(crm),
            session=session,
            connect_timeout=hub.settings.crm_connect_timeout,
            read_timeout=hub.settings.crm_read_timeout,
        )
    )


def _service(crm: str | None, sandbox: bool) -> Any:
    from hub.commands.startup import build_for_command, load_settings
    from hub.services.dedup import DedupService

    hub = build_for_command(load_settings(crm=crm, sandbox=sandbox or None))
    return hub, DedupService(hub.engine, repair_for(hub), hub.mappings.catalog, hub.clock)


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


@dedup.command()
@click.option("--dry-run", is_flag=True, help="Show what --apply would do; write nothing anywhere.")
@click.option("--apply", "apply_plans", is_flag=True, help="Run the plans (each audited).")
@click.option("--yes", is_flag=True, help="Also run plans that are irreversible in the CRM, without asking.")
@click.option("--customer", help="Only this customer key.")
@click.option("--crm", type=CRMS, help="Which CRM (default: CTIHUB_CRM).")
@click.option("--sandbox", is_flag=True, help="Scan the built-in sandbox CRM.")
def scan(
    dry_run: bool, apply_plans: bool, yes: bool, customer: str | None, crm: str | None, sandbox: bool
) -> None:
    """Find open parallel cases/tickets per customer and intent family; plan, and apply."""
    from hub.domain.errors import ConfigError, CrmError

    hub, service = _service(crm, sandbox)
    try:
        result = service.scan(customer_key=customer, record=not dry_run)
    except (CrmError, ConfigError) as exc:
        _fail(exc.describe() if isinstance(exc, CrmError) else exc.message)
        return
    for note in result.shared:
        click.echo(f"shared identifier (never joins, never merges): {note}")
    for skipped in result.skipped:
        click.echo(f"note: {skipped.customer_key} {skipped.family}: {skipped.reason}")
    for plan in result.plans:
        click.echo("\n".join(plan.lines()))
    click.echo(f"{len(result.plans)} plan{'s' if len(result.plans) != 1 else ''}")
    if dry_run:
        click.echo("dry run: nothing was written" + (" and nothing applied" if apply_plans else ""))
        return
    if not apply_plans:
        if result.plans:
            click.echo("run again with --apply to carry them out")
        return
    failed = False
    for plan in result.plans:
        confirmed = yes
        if plan.irreversible and not yes:
            if sys.stdin.isatty():
                confirmed = click.confirm(f"plan {plan.id}: {plan.what}. This cannot be undone. Run it?")
            else:
                click.echo(f"plan {plan.id}: skipped, irreversible in {plan.crm} (confirm with --yes)")
        outcome = service.apply(plan, confirmed=confirmed)
        problems = "; ".join(f"{k}: {v}" for k, v in outcome.failed.items())
        done = ", ".join(outcome.done) or "nothing"
        click.echo(
            f"plan {plan.id}: {outcome.state}; done: {done}" + (f"; not done: {problems}" if problems else "")
        )
        failed = failed or outcome.state == "failed"
    hub.close()
    sys.exit(1 if failed else 0)


@dedup.command()
@click.argument("plan_id")
@click.option("--crm", type=CRMS, help="Which CRM (default: CTIHUB_CRM).")
@click.option("--sandbox", is_flag=True, help="The plan ran on the built-in sandbox CRM.")
def undo(plan_id: str, crm: str | None, sandbox: bool) -> None:
    """Undo an applied plan: the hub's links as they were; the CRM part where it can be undone."""
    from hub.domain.errors import HubError

    hub, service = _service(crm, sandbox)
    try:
        outcome = service.undo(plan_id)
    except HubError as exc:
        _fail(exc.message)
        return
    click.echo(f"plan {plan_id}: {outcome.state}; hub links restored")
    if outcome.done:
        click.echo(f"  undone in the CRM: {', '.join(outcome.done)}")
    for case_id, why in outcome.failed.items():
        click.echo(f"  not undone in the CRM: {case_id}: {why}")
    hub.close()


@dedup.command()
@click.option("--all", "include_resolved", is_flag=True, help="Include the resolved ones.")
def ambiguous(include_resolved: bool) -> None:
    """Identity matches the hub refused to make (an agent chooses)."""
    from hub.commands.startup import build_for_command, load_settings
    from hub.store import dedup as store

    hub = build_for_command(load_settings())
    with hub.engine.connect() as connection:
        rows = store.ambiguous(connection, include_resolved=include_resolved)
    for row in rows:
        identifiers = ", ".join(f"{i['kind']}={i['value']}" for i in row["identifiers"]) or "-"
        click.echo(
            f"{row['at']:%Y-%m-%d %H:%M}  {row['reason']}  event {row['event_ref']}  [{identifiers}]  "
            f"given {row['assigned_key']}; candidates: {', '.join(row['candidates'])}"
        )
    click.echo(f"{len(rows)} ambiguous match{'es' if len(rows) != 1 else ''}")
    hub.close()


@dedup.command()
def counters() -> None:
    """Duplicates prevented, repaired and ambiguous, as JSON."""
    from hub.commands.startup import build_for_command, load_settings
    from hub.services.dedup_metrics import dedup_counters

    hub = build_for_command(load_settings())
    click.echo(json.dumps(dedup_counters(hub.engine), indent=2, sort_keys=True))
    hub.close()
