"""``ctihub customer forget`` and ``ctihub retention purge``: erasure and retention (docs/retention.md).

    ctihub customer forget IDENTIFIER [--yes] [--dry-run] [--json]
    ctihub retention purge [--dry-run]

``forget`` takes a phone number, an email, ``ext:<system>:<value>`` (a platform id) or a customer
key; shows what it would erase, asks for confirmation (unless ``--yes``), erases in one
transaction, prints what it erased by table and the CRM records that still hold the data. Running
it again erases nothing more and says so.
"""

from __future__ import annotations

from typing import Any

import click

from hub.domain.errors import HubError


def _hub() -> Any:
    from hub.commands.startup import build_for_command, load_settings

    return build_for_command(load_settings())


@click.group()
def customer() -> None:
    """A customer's personal data in the hub."""


@customer.command("forget")
@click.argument("identifier")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--dry-run", is_flag=True, help="Show what would be erased; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def forget(identifier: str, yes: bool, dry_run: bool, as_json: bool) -> None:
    """Erase a customer's personal data (identifiers, payloads, transcripts, summaries)."""
    from hub.services import erasure

    hub = _hub()
    service = erasure.ErasureService(
        hub.engine, hub.clock, hub.settings.default_region, hub.settings.crm_settings
    )
    try:
        preview = service.forget(identifier, dry_run=True)
        if dry_run or (not yes and not preview.anything):
            click.echo(erasure.as_json(preview) if as_json else "\n".join(erasure.report(preview)))
            return
        if not yes:
            click.echo("\n".join(erasure.report(preview)))
            click.confirm("Erase this customer's personal data? This cannot be undone", abort=True)
        done = service.forget(identifier)
    except HubError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(erasure.as_json(done) if as_json else "\n".join(erasure.report(done)))


@click.group()
def retention() -> None:
    """Raw payloads and webhook bodies past CTIHUB_RETENTION_DAYS."""


@retention.command("purge")
@click.option("--dry-run", is_flag=True, help="Count what would be purged; change nothing.")
def purge(dry_run: bool) -> None:
    """Purge inbox payloads and webhook bodies older than CTIHUB_RETENTION_DAYS (the scheduler's
    ``retention`` tick does the same, a bounded amount at a time)."""
    hub = _hub()
    result = hub.retention().purge(dry_run=dry_run)
    verb = "would purge" if dry_run else "purged"
    click.echo(f"received before {result.cutoff} (CTIHUB_RETENTION_DAYS={hub.settings.retention_days:g}):")
    for table, count in result.counts.items():
        click.echo(f"  {verb} {count:6d}  {table}")
