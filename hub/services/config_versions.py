"""Admin configuration versions: save drafts, publish (race-safe), roll back, import, audit.

Every change is one transaction that also appends to ``config_audit``. Publishing validates first
(a draft may be invalid; a published version never is) and names the version it was based on: if
another admin published meanwhile, ``ConfigConflict`` names the version to rebase on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError

from hub.domain.errors import Problem
from hub.ports import Clock
from hub.services import config_docs
from hub.store import config_versions as store
from hub.store.config_versions import Version

T = TypeVar("T")
ID_RETRIES = 5


@dataclass(frozen=True)
class Actor:
    subject: str
    name: str = ""


SEED_ACTOR = Actor("hub:seed", "mappings/ files")


class VersionError(Exception):
    """A refused configuration change; ``status`` is its HTTP status, ``problems`` name file:line."""

    status = 400
    code = "config_error"

    def __init__(self, message: str, problems: Iterable[Problem] = (), **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.problems = list(problems)
        self.details = details


class ConfigNotFound(VersionError):
    status = 404
    code = "not_found"


class ConfigInvalid(VersionError):
    status = 422
    code = "invalid_configuration"


class ConfigConflict(VersionError):
    status = 409
    code = "conflict"


@dataclass
class ConfigVersions:
    engine: Engine
    clock: Clock
    secrets: list[str] = field(default_factory=list)

    # --- reading ----------------------------------------------------------------------------

    def versions(self) -> list[Version]:
        with self.engine.connect() as connection:
            return store.list_versions(connection)

    def get(self, version_id: int) -> Version:
        with self.engine.connect() as connection:
            found = store.get(connection, version_id)
        if found is None:
            raise ConfigNotFound(f"configuration version {version_id} does not exist")
        return found

    def published(self) -> Version | None:
        with self.engine.connect() as connection:
            return store.published(connection)

    def problems(self, documents: Mapping[str, str]) -> list[Problem]:
        return config_docs.validate_documents(documents, self.secrets)

    def diff(self, a: int, b: int) -> dict[str, str]:
        return config_docs.diff(self.get(a).documents, self.get(b).documents, f"v{a}", f"v{b}")

    def audit_log(self) -> list[dict[str, Any]]:
        with self.engine.connect() as connection:
            return store.audit_log(connection)

    # --- writing ----------------------------------------------------------------------------

    def seed(self, documents: Mapping[str, str]) -> int | None:
        """Version 1, published, from the files, when the database holds no version yet."""
        with self.engine.connect() as connection:
            if store.published_id(connection) is not None or store.get(connection, 1) is not None:
                return None
        try:
            with self.engine.begin() as connection:
                store.insert_version(
                    connection,
                    documents=documents,
                    state=store.PUBLISHED,
                    based_on=None,
                    note="seeded from the mappings directory",
                    actor=SEED_ACTOR.subject,
                    actor_name=SEED_ACTOR.name,
                    now=self.clock.now(),
                    version_id=1,
                )
                self._audit(connection, "seed", SEED_ACTOR, 1, None, f"{len(documents)} documents")
        except IntegrityError:
            return None  # another process seeded it first
        return 1

    def save_draft(
        self,
        documents: Mapping[str, str],
        *,
        actor: Actor,
        based_on: int | None = None,
        note: str = "",
        action: str = "save-draft",
    ) -> tuple[int, list[Problem]]:
        """Store a draft (invalid content is allowed; limits and credentials are not)."""
        refused = config_docs.safety_problems(documents, self.secrets)
        if refused:
            raise ConfigInvalid("the documents cannot be stored", refused)
        base = self.get(based_on) if based_on is not None else None

        def write(connection: Connection) -> int:
            new_id = store.insert_version(
                connection,
                documents=documents,
                state=store.DRAFT,
                based_on=based_on,
                note=note,
                actor=actor.subject,
                actor_name=actor.name,
                now=self.clock.now(),
            )
            summary = config_docs.change_summary(base.documents if base else {}, documents)
            self._audit(connection, action, actor, new_id, based_on, summary)
            return new_id

        return self._with_new_id(write), self.problems(documents)

    def publish(self, version_id: int, *, base_version: int | None, actor: Actor) -> Version:
        """Publish a draft in place of ``base_version`` (the published version the admin saw)."""
        draft = self.get(version_id)
        if draft.state != store.DRAFT:
            raise ConfigConflict(
                f"version {version_id} is {draft.state}; only a draft can be published (roll back to "
                "republish an earlier version)",
                current_version=self._published_id(),
            )
        problems = self.problems(draft.documents)
        if problems:
            raise ConfigInvalid(
                f"version {version_id} has {len(problems)} problem(s); fix them first", problems
            )
        current = self.published()
        try:
            with self.engine.begin() as connection:
                self._supersede(connection, base_version)
                if not store.mark_published(
                    connection, version_id, actor=actor.subject, now=self.clock.now()
                ):
                    raise ConfigConflict(
                        f"version {version_id} was published meanwhile",
                        current_version=store.published_id(connection),
                    )
                summary = config_docs.change_summary(current.documents if current else {}, draft.documents)
                self._audit(connection, "publish", actor, version_id, base_version, summary)
        except IntegrityError:  # two first publishes at once: the unique index let one through
            current_id = self._published_id()
            raise ConfigConflict(
                f"version {current_id} was published meanwhile; rebase on it", current_version=current_id
            ) from None
        return self.get(version_id)

    def rollback(
        self, version_id: int, *, actor: Actor, base_version: int | None = None, note: str = ""
    ) -> Version:
        """Publish the content of an earlier version again, as a new version."""
        target = self.get(version_id)
        problems = self.problems(target.documents)
        if problems:
            raise ConfigInvalid(
                f"version {version_id} no longer validates; it cannot be republished", problems
            )
        current = self.published()
        expected = base_version if base_version is not None else (current.id if current else None)

        def write(connection: Connection) -> int:
            self._supersede(connection, expected)
            new_id = store.insert_version(
                connection,
                documents=target.documents,
                state=store.PUBLISHED,
                based_on=version_id,
                note=note or f"rollback to version {version_id}",
                actor=actor.subject,
                actor_name=actor.name,
                now=self.clock.now(),
            )
            summary = config_docs.change_summary(current.documents if current else {}, target.documents)
            self._audit(
                connection, "rollback", actor, new_id, expected, f"to version {version_id}: {summary}"
            )
            return new_id

        return self.get(self._with_new_id(write))

    def import_documents(
        self, documents: Mapping[str, str], *, actor: Actor, note: str = "", publish: bool = False
    ) -> tuple[Version, list[Problem]]:
        """A directory's documents as a new draft (based on the published version), published if asked."""
        current = self._published_id()
        new_id, problems = self.save_draft(
            documents, actor=actor, based_on=current, note=note or "imported", action="import"
        )
        if publish:
            return self.publish(new_id, base_version=current, actor=actor), []
        return self.get(new_id), problems

    # --- helpers ----------------------------------------------------------------------------

    def _published_id(self) -> int | None:
        with self.engine.connect() as connection:
            return store.published_id(connection)

    def _supersede(self, connection: Connection, expected: int | None) -> None:
        if not store.supersede(connection, expected):
            current = store.published_id(connection)
            raise ConfigConflict(
                f"version {current} was published since version {expected}; rebase on version {current}",
                current_version=current,
            )

    def _with_new_id(self, write: Callable[[Connection], T]) -> T:
        """Run ``write`` in a transaction, again when a concurrent writer took the same new id (or,
        for a publish, the published slot: that one ends as a conflict on the retry)."""
        for attempt in range(ID_RETRIES):
            try:
                with self.engine.begin() as connection:
                    return write(connection)
            except IntegrityError:
                if attempt == ID_RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    def _audit(
        self,
        connection: Connection,
        action: str,
        actor: Actor,
        version: int | None,
        previous: int | None,
        summary: str,
    ) -> None:
        store.audit(
            connection,
            action=action,
            actor=actor.subject,
            actor_name=actor.name,
            now=self.clock.now(),
            version=version,
            previous=previous,
            summary=summary,
        )
