"""What every ``ctihub`` command does before its work: settings, the database schema, the hub.

Shared by ``hub.cli`` and the area commands in ``hub.commands``; a failure here prints the
problem (each at its file and line for the admin documents) and exits 2.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import click

from hub.domain.errors import ConfigError
from hub.settings import Settings

log = logging.getLogger("ctihub")


def load_settings(**overrides: Any) -> Settings:
    try:
        return Settings.from_env(**{k: v for k, v in overrides.items() if v is not None})
    except ConfigError as exc:
        fail_config(exc)
        raise  # unreachable


def fail_config(exc: ConfigError) -> None:
    click.echo(f"error: {exc.message}", err=True)
    for problem in exc.problems:
        click.echo(f"  {problem.path}: {problem.message}", err=True)
    sys.exit(2)


DEMO_DATABASE = Path("var/demo.db")


def is_embedded_sqlite(settings: Settings) -> bool:
    return settings.database_url in (Settings.database_url, f"sqlite:///{DEMO_DATABASE}")


def prepare_schema(settings: Settings, engine: Any) -> None:
    """Embedded SQLite migrates itself; any other database must be migrated by `ctihub db upgrade`."""
    from hub.store import migrate

    if migrate.is_current(engine):
        return
    if is_embedded_sqlite(settings):
        log.info("migrating the embedded database %s", settings.database_url)
        migrate.upgrade(engine)
        return
    current = migrate.current_revision(engine) or "empty"
    click.echo(
        f"error: the database schema is at {current}, not {migrate.head_revision()}.\n"
        f"  run: CTIHUB_DATABASE_URL=... ctihub db upgrade",
        err=True,
    )
    sys.exit(2)


def open_engine(settings: Settings) -> Any:
    from hub.store.db import make_engine

    return make_engine(settings.database_url, **settings.engine_options())


def build_for_command(settings: Settings) -> Any:
    from hub.bootstrap import build_hub, ensure_dev_secrets

    if settings.sandbox:
        settings = ensure_dev_secrets(settings)
    engine = open_engine(settings)
    prepare_schema(settings, engine)
    try:
        hub = build_hub(settings, engine=engine)
    except ConfigError as exc:
        fail_config(exc)
    refuse_invalid_documents(hub)
    return hub


def refuse_invalid_documents(hub: Any) -> None:
    """Stop before serving when any admin document has a problem, listing each as
    ``ctihub mappings validate`` does: the web workers would otherwise fail one by one, later."""
    from hub.mappings import validate_mappings

    problems = validate_mappings(hub.settings.mappings_dir)
    if not problems:
        return
    hub.close()
    count = len(problems)
    fail_config(
        ConfigError(
            f"{count} problem{'s' if count != 1 else ''} in the admin documents "
            f"({hub.settings.mappings_dir}); nothing was started",
            problems,
        )
    )
