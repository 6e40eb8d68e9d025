"""``ctihub`` command groups, one module per area; ``register`` adds them to the main group."""

from __future__ import annotations

import click


def register(main: click.Group) -> None:
    from hub.commands import crm, dedup, panel, privacy, recovery, report, sla

    main.add_command(sla.sla)
    main.add_command(dedup.dedup)
    main.add_command(crm.crm)
    main.add_command(recovery.recovery)
    main.add_command(panel.panel)
    main.add_command(report.report)
    main.add_command(privacy.customer)
    main.add_command(privacy.retention)
    register_mappings(main)


def register_mappings(main: click.Group) -> None:
    """``ctihub mappings export|import`` join ``validate`` in the ``mappings`` group."""
    from hub.commands import config

    group = main.commands["mappings"]
    assert isinstance(group, click.Group)
    group.add_command(config.mappings_export)
    group.add_command(config.mappings_import)
    group.add_command(config.mappings_preview)
