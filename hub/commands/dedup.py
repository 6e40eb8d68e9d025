"""``ctihub dedup``: find and repair parallel cases/tickets."""

from __future__ import annotations

import click


@click.group()
def dedup() -> None:
    """Parallel cases/tickets: scan, repair, undo."""
