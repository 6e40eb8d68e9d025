"""``ctihub``: run the hub, its worker and scheduler, the demo, migrations and admin checks."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import sys
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from hub.commands import register as register_area_commands
from hub.commands.startup import (
    DEMO_DATABASE,
    build_for_command,
    load_settings,
)
from hub.domain.errors import ConfigError, HubError
from hub.settings import Settings

log = logging.getLogger("ctihub")


def _setup_logging(verbose: bool) -> None:
    """The one logging setup (``hub.logs``), from CTIHUB_LOG_FORMAT / CTIHUB_LOG_LEVEL; settings a
    command cannot use are reported by the command itself, so logging falls back to the defaults."""
    from hub.logs import setup_logging

    try:
        settings = Settings.from_env()
        level, log_format, environment = settings.log_level, settings.log_format, settings.environment
    except ConfigError:
        from hub.settings import collect_environment

        level, log_format = Settings.log_level, Settings.log_format
        try:
            environment = collect_environment(os.environ)
        except ConfigError:
            environment = {}
    setup_logging(level="DEBUG" if verbose else level, log_format=log_format, environment=environment)


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log at DEBUG level.")
def main(verbose: bool) -> None:
    """CTI Hub: links chat, SMS and self-service outcomes to the right Salesforce Case or Zendesk ticket."""
    _setup_logging(verbose)


def _scheduler(hub: Any) -> tuple[Any, Any]:
    """The ticks, run only while this process leads (``hub.services.leader``)."""
    from hub.live_config import CurrentTicks, follow
    from hub.services.leader import leadership_for
    from hub.services.scheduler import build_scheduler

    interval = hub.settings.scheduler_interval_seconds
    leadership = leadership_for(hub.engine, hub.clock, interval)
    # CurrentTicks: after a newly published configuration is applied, each tick uses its services.
    ticker = build_scheduler(CurrentTicks(hub).all(), every_seconds=interval, leadership=leadership)
    follow(ticker, hub)  # a newly published configuration applies here too, within seconds
    return ticker, leadership


class EmbeddedHub:
    """Web server, worker thread and scheduler in one process (the embedded default)."""

    def __init__(self, hub: Any, host: str, port: int) -> None:
        from werkzeug.serving import make_server

        from hub.serving.access import DevRequestHandler
        from hub.web import create_app

        self.hub = hub
        self.stop = threading.Event()
        self.server = make_server(
            host, port, create_app(hub=hub), threaded=True, request_handler=DevRequestHandler
        )
        self.worker = hub.new_worker()
        self.scheduler, self.leadership = _scheduler(hub)
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
        self.leadership.release()
        self.hub.close()


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=int)
@click.option("--sandbox", is_flag=True, help="Link into the built-in sandbox CRM (no credentials needed).")
@click.option("--crm", type=click.Choice(["zendesk", "salesforce"]), help="Which CRM to link into.")
@click.option("--dev", is_flag=True, help="One process: Werkzeug's server, a worker thread, the scheduler.")
@click.option("--web-workers", type=click.IntRange(1, 64), help="gunicorn worker processes [cores + 1].")
@click.option("--link-workers", type=click.IntRange(0, 64), default=1, show_default=True)
@click.option("--scheduler/--no-scheduler", "with_scheduler", default=True, show_default=True)
@click.option("--access-log/--no-access-log", default=True, show_default=True, help="gunicorn's access log.")
def serve(
    host: str,
    port: int,
    sandbox: bool,
    crm: str | None,
    dev: bool,
    web_workers: int | None,
    link_workers: int,
    with_scheduler: bool,
    access_log: bool,
) -> None:
    """Run the hub: gunicorn web workers, link workers and the scheduler (--dev: one process)."""
    settings = load_settings(crm=crm, sandbox=sandbox or None)
    if dev:
        _serve_dev(settings, host, port)
        return
    from hub.serving import supervisor as sv

    # Prepare once, here: the schema (embedded SQLite), the sandbox's secrets and tables.
    hub = build_for_command(settings)
    overrides = {
        "CTIHUB_CRM": hub.settings.crm,
        "CTIHUB_SANDBOX": "true" if hub.settings.sandbox else "false",
        "CTIHUB_DATABASE_URL": hub.settings.database_url,
    }
    if hub.settings.sandbox:  # generated into var/dev-secrets.env: hand them to every part
        overrides["CTIHUB_WEBHOOK_SECRET"] = hub.settings.webhook_secret or ""
        overrides["CTIHUB_API_TOKEN"] = hub.settings.api_token or ""
    hub.close()
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Several processes serve one /metrics: each writes its counters here, the scrape sums them.
        overrides["PROMETHEUS_MULTIPROC_DIR"] = str(sv.fresh_directory(Path("var") / f"prometheus-{port}"))
    workers = web_workers or (os.cpu_count() or 1) + 1
    web = sv.gunicorn_command(host=host, port=port, workers=workers, access_log=access_log)
    specs = [sv.PartSpec("web", web)]
    specs += [sv.PartSpec(f"worker-{n + 1}", sv.hub_command("worker")) for n in range(link_workers)]
    if with_scheduler:
        specs.append(sv.PartSpec("scheduler", sv.hub_command("scheduler")))
    supervisor = sv.Supervisor(specs, env=sv.child_environment(os.environ, overrides))
    sv.install_stop_signals(supervisor)
    supervisor.start()
    click.echo(
        f"CTI Hub listening on http://{host}:{port} ({hub.settings.crm}"
        f"{' sandbox' if hub.settings.sandbox else ''}): {workers} web workers, "
        f"{link_workers} link workers, {'a' if with_scheduler else 'no'} scheduler"
    )
    if hub.settings.sandbox:
        click.echo(f"  secrets: var/dev-secrets.env   sandbox: http://{host}:{port}/sandbox/")
    sys.exit(supervisor.run())


def _serve_dev(settings: Settings, host: str, port: int) -> None:
    embedded = EmbeddedHub(build_for_command(settings), host, port).start()
    click.echo(
        f"CTI Hub listening on {embedded.url} ({settings.crm}{' sandbox' if settings.sandbox else ''}; "
        "development server, one process)"
    )
    if settings.sandbox:
        click.echo("  secrets: var/dev-secrets.env   sandbox: " + embedded.url + "/sandbox/")
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    with contextlib.suppress(KeyboardInterrupt):
        done.wait()
    embedded.shutdown()


METRICS_PORT = click.option(
    "--metrics-port",
    type=int,
    help="Serve this process's GET /metrics on this port (for a host of its own; docs/metrics.md).",
)
METRICS_HOST = click.option(
    "--metrics-host", default="127.0.0.1", show_default=True, help="Address for --metrics-port."
)


def _serve_metrics(hub: Any, port: int | None, host: str) -> None:
    if port is not None:
        from hub.web.prometheus import serve_metrics

        serve_metrics(hub, port, host)


@main.command()
@click.option("--once", is_flag=True, help="Process what is due, then exit.")
@METRICS_PORT
@METRICS_HOST
def worker(once: bool, metrics_port: int | None, metrics_host: str) -> None:
    """Run a link worker (several may run against PostgreSQL)."""
    hub = build_for_command(load_settings())
    link_worker = hub.new_worker()
    if once:
        click.echo(f"processed {link_worker.drain()} events")
        return
    _serve_metrics(hub, metrics_port, metrics_host)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: (stop.set(), hub.wake_worker.set()))
    with contextlib.suppress(KeyboardInterrupt):
        link_worker.run(stop, hub.wake_worker, hub.settings.worker_poll_seconds)
    hub.close()


@main.command()
@METRICS_PORT
@METRICS_HOST
def scheduler(metrics_port: int | None, metrics_host: str) -> None:
    """Run the scheduler's ticks; several may run (one leads, the others stand by)."""
    hub = build_for_command(load_settings())
    _serve_metrics(hub, metrics_port, metrics_host)
    ticker, leadership = _scheduler(hub)
    ticker.start()
    log.info("scheduler %s started (every %g s)", leadership.owner, hub.settings.scheduler_interval_seconds)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    with contextlib.suppress(KeyboardInterrupt):
        done.wait()
    ticker.shutdown()  # waits for a running tick to finish
    leadership.release()
    hub.close()


@main.command()
@click.option("--crm", type=click.Choice(["zendesk", "salesforce"]), default="zendesk", show_default=True)
@click.option("--events", default=400, show_default=True, help="How many outcomes the seeded day has.")
@click.option("--seed", default=7, show_default=True, help="Random seed of the seeded day.")
@click.option("--port", default=0, type=int, help="Port to serve on (0: any free port).")
@click.option("--keep-running", is_flag=True, help="Keep serving after the summary, to browse the sandbox.")
def demo(crm: str, events: int, seed: int, port: int, keep_running: bool) -> None:
    """Serve the hub on the sandbox, replay a seeded day of outcomes over HTTP, print a summary."""
    from hub.demo import run_demo

    settings = load_settings(crm=crm, sandbox=True)
    if settings.database_url == Settings.database_url:
        # A fresh database each run, so the summary shows this run's day and nothing else.
        for leftover in DEMO_DATABASE.parent.glob(f"{DEMO_DATABASE.name}*"):
            leftover.unlink()
        settings = replace(settings, database_url=f"sqlite:///{DEMO_DATABASE}")
    # The summary is the demo's output, not each request or the processes' comings and goings.
    for noisy in ("werkzeug", "ctihub.access", "hub.services.worker", "hub.services.leader"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    embedded = EmbeddedHub(build_for_command(settings), "127.0.0.1", port).start()
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

    settings = load_settings()
    # No statement timeout: a migration may build an index on a large table.
    engine = make_engine(settings.database_url, **{**settings.engine_options(), "statement_timeout_ms": 0})
    migrate.upgrade(engine)
    click.echo(f"database at revision {migrate.current_revision(engine)}")


@db.command("current")
def db_current() -> None:
    """Show the schema revision and whether it is the latest."""
    from hub.store import migrate
    from hub.store.db import make_engine

    settings = load_settings()
    engine = make_engine(settings.database_url, **settings.engine_options())
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

    directory = directory or load_settings().mappings_dir
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

    settings = load_settings()
    engine = make_engine(settings.database_url, **settings.engine_options())
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

    settings = load_settings()
    engine = make_engine(settings.database_url, **settings.engine_options())
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
