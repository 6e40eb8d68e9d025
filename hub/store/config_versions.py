"""Reading and writing configuration versions and the audit log (``hub.store.config_tables``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from hub.store.config_tables import config_audit, config_versions

DRAFT, PUBLISHED, SUPERSEDED = "draft", "published", "superseded"


@dataclass(frozen=True)
class Version:
    id: int
    state: str
    documents: Mapping[str, str]
    based_on: int | None
    note: str
    created_by: str
    created_by_name: str
    created_at: datetime
    published_by: str | None
    published_at: datetime | None

    def summary(self) -> dict[str, Any]:
        """The version without its documents (for lists)."""
        return {
            "version": self.id,
            "state": self.state,
            "based_on": self.based_on,
            "note": self.note,
            "created_by": self.created_by,
            "created_by_name": self.created_by_name,
            "created_at": self.created_at.isoformat(),
            "published_by": self.published_by,
            "published_at": self.published_at.isoformat() if self.published_at else None,
            "documents": sorted(self.documents),
        }


def _version(row: Any) -> Version:
    return Version(
        id=row.id,
        state=row.state,
        documents=json.loads(row.documents),
        based_on=row.based_on,
        note=row.note,
        created_by=row.created_by,
        created_by_name=row.created_by_name,
        created_at=row.created_at,
        published_by=row.published_by,
        published_at=row.published_at,
    )


def published_id(connection: Connection) -> int | None:
    """The published version's id: the cheap check every process makes every few seconds."""
    return connection.execute(
        select(config_versions.c.id).where(config_versions.c.state == PUBLISHED)
    ).scalar_one_or_none()


def get(connection: Connection, version_id: int) -> Version | None:
    row = connection.execute(select(config_versions).where(config_versions.c.id == version_id)).first()
    return _version(row) if row else None


def published(connection: Connection) -> Version | None:
    row = connection.execute(select(config_versions).where(config_versions.c.state == PUBLISHED)).first()
    return _version(row) if row else None


def list_versions(connection: Connection, limit: int = 200) -> list[Version]:
    rows = connection.execute(
        select(config_versions).order_by(config_versions.c.id.desc()).limit(limit)
    ).all()
    return [_version(row) for row in rows]


def insert_version(
    connection: Connection,
    *,
    documents: Mapping[str, str],
    state: str,
    based_on: int | None,
    note: str,
    actor: str,
    actor_name: str,
    now: datetime,
    version_id: int | None = None,
) -> int:
    """Add a version with the next id (max + 1). A concurrent insert of the same id fails with
    IntegrityError, which rolls the caller's transaction back; callers retry the whole transaction."""
    new_id = version_id or (
        connection.execute(select(func.coalesce(func.max(config_versions.c.id), 0))).scalar_one() + 1
    )
    connection.execute(
        insert(config_versions).values(
            id=new_id,
            state=state,
            documents=json.dumps(dict(documents), sort_keys=True),
            based_on=based_on,
            note=note,
            created_by=actor,
            created_by_name=actor_name,
            created_at=now,
            published_by=actor if state == PUBLISHED else None,
            published_at=now if state == PUBLISHED else None,
        )
    )
    return new_id


def supersede(connection: Connection, expected: int | None) -> bool:
    """Retire the published version, but only if it is still ``expected``: the race-safe step of a
    publish. On PostgreSQL a concurrent publisher blocks on the row lock and then finds the row no
    longer published; SQLite serializes writers. With ``expected=None``, nothing may be published."""
    if expected is None:
        return published_id(connection) is None
    result = connection.execute(
        update(config_versions)
        .where(config_versions.c.id == expected, config_versions.c.state == PUBLISHED)
        .values(state=SUPERSEDED)
    )
    return result.rowcount == 1


def mark_published(connection: Connection, version_id: int, *, actor: str, now: datetime) -> bool:
    """A draft becomes the published version (after ``supersede``)."""
    result = connection.execute(
        update(config_versions)
        .where(config_versions.c.id == version_id, config_versions.c.state == DRAFT)
        .values(state=PUBLISHED, published_by=actor, published_at=now)
    )
    return result.rowcount == 1


def audit(
    connection: Connection,
    *,
    action: str,
    actor: str,
    actor_name: str,
    now: datetime,
    version: int | None,
    previous: int | None,
    summary: str,
) -> None:
    connection.execute(
        insert(config_audit).values(
            at=now,
            actor=actor,
            actor_name=actor_name,
            action=action,
            version=version,
            previous_version=previous,
            summary=summary,
        )
    )


def audit_log(connection: Connection, limit: int = 200) -> list[dict[str, Any]]:
    rows = connection.execute(select(config_audit).order_by(config_audit.c.id.desc()).limit(limit)).all()
    return [
        {
            "id": row.id,
            "at": row.at.isoformat(),
            "actor": row.actor,
            "actor_name": row.actor_name,
            "action": row.action,
            "version": row.version,
            "previous_version": row.previous_version,
            "summary": row.summary,
        }
        for row in rows
    ]


__all__ = [
    "DRAFT",
    "PUBLISHED",
    "SUPERSEDED",
    "Version",
    "audit",
    "audit_log",
    "get",
    "insert_version",
    "list_versions",
    "mark_published",
    "published",
    "published_id",
    "supersede",
]
