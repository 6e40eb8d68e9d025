"""``ctihub sla``: SLA clocks."""

from __future__ import annotations

import click


@click.group()
def sla() -> None:
    """SLA policies and clocks."""
