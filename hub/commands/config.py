"""``ctihub mappings export|import``: configuration versions to and from a directory of files.

    ctihub mappings export DIR [--version N]        the published version (or N) as YAML files
    ctihub mappings import DIR [--note TEXT] [--publish]

``import`` stores the directory's documents as a new draft based on the published version (and
publishes it with ``--publish``, which validates first); both are in the audit log. ``validate``
(in ``hub.cli``) stays offline and reads a directory only.
"""

from __future__ import annotations

import getpass
import sys
from pathlib import Path

import click

DIRECTORY = click.Path(file_okay=False, path_type=Path)


def _versions() -> object:
    """The versions of the configured database (migrated like ``ctihub serve`` does; seeded from
    the mappings directory when it holds no version yet, as on the hub's first start)."""
    from hub.commands.startup import load_settings, prepare_schema
    from hub.live_config import config_versions, published_settings
    from hub.store.db import make_engine

    settings = load_settings()
    engine = make_engine(settings.database_url)
    prepare_schema(settings, engine)
    published_settings(settings, engine)
    return config_versions(settings, engine)


def _fail(exc: Exception) -> None:
    click.echo(f"error: {exc}", err=True)
    for problem in getattr(exc, "problems", []):
        click.echo(f"  {problem.path}: {problem.message}", err=True)
    sys.exit(1)


@click.command("export")
@click.argument("directory", type=DIRECTORY)
@click.option("--version", "version_id", type=int, help="Default: the published version.")
def mappings_export(directory: Path, version_id: int | None) -> None:
    """Write a configuration version's documents into DIRECTORY (for review in git)."""
    from hub.services import config_docs
    from hub.services.config_versions import ConfigVersions, VersionError

    versions = _versions()
    assert isinstance(versions, ConfigVersions)
    try:
        version = versions.get(version_id) if version_id is not None else versions.published()
    except VersionError as exc:
        _fail(exc)
        return
    if version is None:
        click.echo("error: no version is published yet (start the hub once, or import one)", err=True)
        sys.exit(1)
    config_docs.write_directory(version.documents, directory)
    click.echo(f"version {version.id} ({version.state}): {len(version.documents)} documents -> {directory}")


@click.command("import")
@click.argument("directory", type=DIRECTORY)
@click.option("--note", default="", help="Why: shown in the history and the audit log.")
@click.option("--publish", is_flag=True, help="Publish it at once (refused when it has problems).")
def mappings_import(directory: Path, note: str, publish: bool) -> None:
    """Store DIRECTORY's documents as a new draft version (published with --publish)."""
    from hub.services import config_docs
    from hub.services.config_versions import Actor, ConfigVersions, VersionError

    versions = _versions()
    assert isinstance(versions, ConfigVersions)
    documents = config_docs.read_directory(directory)
    actor = Actor(f"cli:{getpass.getuser()}", getpass.getuser())
    try:
        version, problems = versions.import_documents(documents, actor=actor, note=note, publish=publish)
    except VersionError as exc:
        _fail(exc)
        return
    for problem in problems:
        click.echo(f"{problem.path}: {problem.message}")
    click.echo(f"version {version.id} ({version.state}) from {directory}")


@click.command("preview")
@click.argument("event_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--draft", "draft", type=int, help="A version to compare with the published one.")
def mappings_preview(event_file: Path, draft: int | None) -> None:
    """What linking EVENT_FILE (an outcome event, JSON) would write, under the published version and
    under --draft N; nothing is written to the database or the CRM. Prints JSON."""
    import json

    from hub.commands.startup import build_for_command, load_settings
    from hub.domain.errors import ValidationFailed
    from hub.live_config import config_versions
    from hub.services.config_preview import compare
    from hub.services.config_versions import VersionError

    try:
        event = json.loads(event_file.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        click.echo(f"error: {event_file} is not JSON: {exc}", err=True)
        sys.exit(1)
    hub = build_for_command(load_settings())
    try:
        result = compare(hub, config_versions(hub.settings, hub.engine, hub.clock), event, draft)
    except (VersionError, ValidationFailed) as exc:
        _fail(exc)
        return
    finally:
        hub.close()
    click.echo(json.dumps(result, indent=2, ensure_ascii=False))
