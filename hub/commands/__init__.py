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
