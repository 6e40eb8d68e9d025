"""``ctihub crm``: the CRM the hub links into.

    ctihub crm check [--crm zendesk|salesforce] [--sandbox] [--json]

``check`` reads the live schema (Salesforce describe of the mapped objects, Zendesk ticket_fields)
through the configured adapter and checks ``fields.<crm>.yaml`` and the catalog against it
(``hub.services.crm_check``), and every group/queue ``routing.yaml`` names against the CRM's list
(``hub.services.routing_check``): one line per problem with its fix, a summary, exit 1 when there is
an error, 0 when the mappings fit (warnings allowed), 2 when the schema cannot be read. With
``--sandbox`` (or ``CTIHUB_SANDBOX=true``) it checks against the sandbox's own schema.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

CRMS = click.Choice(["zendesk", "salesforce"])


@click.group()
def crm() -> None:
    """The CRM: check the mappings against its live schema."""


def adapter_for(settings: Any) -> tuple[Any, Any, Any]:
    """(mappings, the configured CRM adapter, the engine to dispose of or None), as the composition
    root builds them, but without the hub's store: checking needs no migrated database. With the
    sandbox, the adapter talks to the sandbox (its tables live in the configured database)."""
    from hub.bootstrap import load_plugin, sandbox_crm_settings
    from hub.commands.startup import fail_config
    from hub.domain.errors import ConfigError
    from hub.mappings import load_mappings
    from hub.ports import AdapterConfig

    try:
        mappings = load_mappings(settings.mappings_dir)
        crm_settings = dict(settings.crm_settings.get(settings.crm, {}))
        session = engine = None
        if settings.sandbox:
            from adapters.sandbox import Sandbox
            from hub.store.db import make_engine

            engine = make_engine(settings.database_url, **settings.engine_options())
            box = Sandbox(engine)
            box.ensure_schema()
            session = box.session()
            crm_settings = sandbox_crm_settings(settings.crm)
        factory = load_plugin("cti_hub.adapters", settings.crm)
        adapter = factory(
            AdapterConfig(
                settings=crm_settings,
                mapping=mappings.crm(settings.crm),
                session=session,
                connect_timeout=settings.crm_connect_timeout,
                read_timeout=settings.crm_read_timeout,
            )
        )
    except ConfigError as exc:
        fail_config(exc)
    return mappings, adapter, engine


@crm.command()
@click.option("--crm", "crm_name", type=CRMS, help="Which CRM (default: CTIHUB_CRM).")
@click.option("--sandbox", is_flag=True, help="Check against the built-in sandbox CRM.")
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
def check(crm_name: str | None, sandbox: bool, as_json: bool) -> None:
    """Validate the field mappings against the CRM's live metadata."""
    from hub.commands.startup import load_settings
    from hub.domain.errors import CrmError
    from hub.services.crm_check import check_mapping, render

    settings = load_settings(crm=crm_name, sandbox=sandbox or None)
    mappings, adapter, engine = adapter_for(settings)
    try:
        if not callable(getattr(adapter, "metadata", None)):
            click.echo(f"error: the {settings.crm} adapter cannot describe its schema", err=True)
            sys.exit(2)
        try:
            metadata = adapter.metadata()
        except CrmError as exc:
            click.echo(f"error: could not read the {settings.crm} schema: {exc.describe()}", err=True)
            sys.exit(2)
        routing = _routing_findings(mappings, adapter, settings.crm)
    finally:
        if engine is not None:
            engine.dispose()
    report = check_mapping(mappings.crm(settings.crm), mappings.catalog, metadata)
    if as_json:
        answer = report.as_dict()
        if routing is not None:
            answer["routing"] = {"checked": routing[1], "findings": [f.as_dict() for f in routing[0]]}
        click.echo(json.dumps(answer, indent=2))
    else:
        for line in render(report, where="sandbox" if settings.sandbox else ""):
            click.echo(line)
        if routing is not None:
            from hub.services.routing_check import render_routing

            for line in render_routing(routing[0], checked=routing[1]):
                click.echo(line)
    sys.exit(0 if report.ok and not (routing and routing[0]) else 1)


def _routing_findings(mappings: Any, adapter: Any, crm_name: str) -> tuple[list[Any], int] | None:
    """routing.yaml's targets against the CRM's groups/queues (None without routing.yaml); exit 2
    when the list cannot be read."""
    from hub.domain.errors import CrmError
    from hub.services.routing_check import check_routing

    if mappings.routing is None:
        return None
    if not callable(getattr(adapter, "routing_targets", None)):
        click.echo(f"error: the {crm_name} adapter cannot list its groups/queues", err=True)
        sys.exit(2)
    try:
        targets = adapter.routing_targets()
    except CrmError as exc:
        click.echo(f"error: could not list the {crm_name} groups/queues: {exc.describe()}", err=True)
        sys.exit(2)
    return check_routing(mappings.routing, crm_name, targets), len(mappings.routing.targets(crm_name))
