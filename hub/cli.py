"""``ctihub``: run the hub, its worker and scheduler, the demo, migrations and admin checks."""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import sys
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from hub.commands import register as register_area_commands
from hub.domain.errors import ConfigError, HubError
from hub.settings import Settings

log = logging.getLogger("ctihub")


def _settings(**overrides: Any) -> Settings:
    try:
        return Settings.from_env(**{k: v for k, v in overrides.items() if v is not None})
    except ConfigError as exc:
        _fail_config(exc)
        raise  # unreachable


def _fail_config(exc: ConfigError) -> None:
    click.echo(f"error: {exc.message}", err=True)
    for problem in exc.problems:
        click.echo(f"  {problem.path}: {problem.message}", err=True)
    sys.exit(2)


DEMO_DATABASE = Path("var/demo.db")


def _is_embedded_sqlite(settings: Settings) -> bool:
    return settings.database_url in (Settings.database_url, f"sqlite:///{DEMO_DATABASE}")


def _prepare_schema(settings: Settings, engine: Any) -> None:
    """Embedded SQLite migrates itself; any other database must be migrated by `ctihub db upgrade`."""
    from hub.store import migrate

    if migrate.is_current(engine):
        return
    if _is_embedded_sqlite(settings):
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


def _build(settings: Settings) -> Any:
    from hub.bootstrap import build_hub, ensure_dev_secrets
    from hub.store.db import make_engine

    if settings.sandbox:
        settings = ensure_dev_secrets(settings)
    engine = make_engine(settings.database_url)
    _prepare_schema(settings, engine)
    try:
        return build_hub(settings, engine=engine)
    except ConfigError as exc:
        _fail_config(exc)


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log at DEBUG level.")
def main(verbose: bool) -> None:
    """CTI Hub: links chat, SMS and self-service outcomes to the right Salesforce Case or Zendesk ticket."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)


class EmbeddedHub:
    """Web server, worker thread and scheduler in one process (the embedded default)."""

    def __init__(self, hub: Any, host: str, port: int) -> None:
        from werkzeug.serving import make_server

        from hub.services.scheduler import build_scheduler
        from hub.web import create_app

        self.hub = hub
        self.stop = threading.Event()
        self.server = make_server(host, port, create_app(hub=hub), threaded=True)
        self.worker = hub.new_worker()
        from hub.live_config import CurrentTicks, follow

        self.scheduler = build_scheduler(CurrentTicks(hub).all())
        follow(self.scheduler, hub)  # applies a newly published configuration even when idle
        self.threads = [
            threading.Thread(target=self.server.serve_forever, name="web", daemon=True),
            threading.Thread(
                target=self.worker.run,
                args=(self.stop, hub.wake_worker, hub.settings.worker_poll_seconds),
                name="worker",
                daemon=True,
            ),
        ]

    @property
    def url(self) -> str:
        return f"http://{self.server.host}:{self.server.port}"

    def start(self) -> EmbeddedHub:
        for thread in self.threads:
            thread.start()
        self.scheduler.start()
        return self

    def shutdown(self) -> None:
        self.stop.set()
        self.hub.wake_worker.set()
        self.scheduler.shutdown(wait=False)
        self.server.shutdown()
        for thread in self.threads:
            thread.join(timeout=10)
        self.hub.close()


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--sandbox", is_flag=True, help="Link into the built-in sandbox CRM (no credentials needed).")
@click.option("--crm", type=click.Choice(["zendesk", "salesforce"]), help="Which CRM to link into.")
def serve(host: str, port: int, sandbox: bool, crm: str | None) -> None:
    """Run the web server, a worker thread and the scheduler in one process."""
    settings = _settings(crm=crm, sandbox=sandbox or None)
    embedded = EmbeddedHub(_build(settings), host, port).start()
    click.echo(
        f"CTI Hub listening on {embedded.url} ({settings.crm}{' sandbox' if settings.sandbox else ''})"
    )
    if settings.sandbox:
        click.echo("  secrets: var/dev-secrets.env   sandbox: " + embedded.url + "/sandbox/")
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    with contextlib.suppress(KeyboardInterrupt):
        done.wait()
    embedded.shutdown()


@main.command()
@click.option("--once", is_flag=True, help="Process what is due, then exit.")
def worker(once: bool) -> None:
    """Run a link worker (several may run against PostgreSQL)."""
    hub = _build(_settings())
    link_worker = hub.new_worker()
    if once:
        click.echo(f"processed {link_worker.drain()} events")
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: (stop.set(), hub.wake_worker.set()))
    with contextlib.suppress(KeyboardInterrupt):
        link_worker.run(stop, hub.wake_worker, hub.settings.worker_poll_seconds)


@main.command()
def scheduler() -> None:
    """Run the scheduler's ticks (one process is enough)."""
    from hub.live_config import CurrentTicks, follow
    from hub.services.scheduler import build_scheduler

    hub = _build(_settings())
    ticker = build_scheduler(CurrentTicks(hub).all())
    follow(ticker, hub)  # a newly published configuration applies here too, within seconds
    ticker.start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    with contextlib.suppress(KeyboardInterrupt):
        done.wait()
    ticker.shutdown()


@main.command()
@click.option("--crm", type=click.Choice(["zendesk", "salesforce"]), default="zendesk", show_default=True)
@click.option("--events", default=400, show_default=True, help="How many outcomes the seeded day has.")
@click.option("--seed", default=7, show_default=True, help="Random seed of the seeded day.")
@click.option("--port", default=0, type=int, help="Port to serve on (0: any free port).")
@click.option("--keep-running", is_flag=True, help="Keep serving after the summary, to browse the sandbox.")
def demo(crm: str, events: int, seed: int, port: int, keep_running: bool) -> None:
    """Serve the hub on the sandbox, replay a seeded day of outcomes over HTTP, print a summary."""
    from hub.demo import run_demo

    settings = _settings(crm=crm, sandbox=True)
    if settings.database_url == Settings.database_url:
        # A fresh database each run, so the summary shows this run's day and nothing else.
        for leftover in DEMO_DATABASE.parent.glob(f"{DEMO_DATABASE.name}*"):
            leftover.unlink()
        settings = replace(settings, database_url=f"sqlite:///{DEMO_DATABASE}")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    embedded = EmbeddedHub(_build(settings), "127.0.0.1", port).start()
    try:
        ok = run_demo(embedded, events=events, seed=seed)
        if keep_running:
            click.echo("Serving until Ctrl-C.")
            threading.Event().wait()
    except KeyboardInterrupt:
        ok = True
    finally:
        embedded.shutdown()
    sys.exit(0 if ok else 1)


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database to the latest schema."""
    from hub.store import migrate
    from hub.store.db import make_engine

    settings = _settings()
    engine = make_engine(settings.database_url)
    migrate.upgrade(engine)
    click.echo(f"database at revision {migrate.current_revision(engine)}")


@db.command("current")
def db_current() -> None:
    """Show the schema revision and whether it is the latest."""
    from hub.store import migrate
    from hub.store.db import make_engine

    engine = make_engine(_settings().database_url)
    current, head = migrate.current_revision(engine), migrate.head_revision()
    click.echo(f"current: {current or 'empty'}  latest: {head}")
    sys.exit(0 if current == head else 1)


@main.group()
def mappings() -> None:
    """Admin configuration files."""


@mappings.command("validate")
@click.argument("directory", required=False, type=click.Path(path_type=Path))
def mappings_validate(directory: Path | None) -> None:
    """Check every mapping file offline; print each problem as file:line and exit non-zero."""
    from hub.mappings import validate_mappings

    directory = directory or _settings().mappings_dir
    problems = validate_mappings(directory)
    for problem in problems:
        click.echo(f"{problem.path}: {problem.message}")
    if problems:
        click.echo(f"{len(problems)} problem{'s' if len(problems) != 1 else ''} in {directory}", err=True)
        sys.exit(1)
    click.echo(f"{directory}: OK")


@main.group()
def inbox() -> None:
    """Accepted events and the dead-letter."""


@inbox.command("status")
def inbox_status() -> None:
    """Count events by status and list the dead-letter."""
    from hub.store import inbox as inbox_store
    from hub.store.db import make_engine

    engine = make_engine(_settings().database_url)
    with engine.connect().execution_options(readonly=True) as connection:
        counts = inbox_store.counts_by_status(connection)
        dead = inbox_store.dead_letters(connection)
    click.echo(json.dumps(counts, sort_keys=True))
    for row in dead:
        click.echo(
            f"dead {row['source']}:{row['event_id']} after {row['attempts']} attempts: {row['last_error']}"
        )


@inbox.command("replay")
@click.option("--source", help="Only events from this source.")
@click.option("--event-id", help="Only this event.")
def inbox_replay(source: str | None, event_id: str | None) -> None:
    """Queue dead-lettered events again, after the cause was fixed."""
    from hub.services.clock import SystemClock
    from hub.store import inbox as inbox_store
    from hub.store.db import make_engine

    engine = make_engine(_settings().database_url)
    with engine.begin() as connection:
        count = inbox_store.replay_dead(connection, now=SystemClock().now(), source=source, event_id=event_id)
    click.echo(f"queued {count} dead-lettered event{'s' if count != 1 else ''} again")


register_area_commands(main)


def run() -> None:  # pragma: no cover - console entry point
    try:
        main()
    except HubError as exc:
        click.echo(f"error: {exc.message}", err=True)
        sys.exit(2)


if __name__ == "__main__":  # pragma: no cover
    run()
