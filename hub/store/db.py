"""Engine construction: SQLite in WAL mode for the embedded default, PostgreSQL when configured."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from hub.store.sqlite_gate import GatedConnection, gate_path

SYNCHRONOUS = {"full": "FULL", "normal": "NORMAL"}


def make_engine(
    url: str,
    *,
    sqlite_synchronous: str = "full",
    pool_size: int = 5,
    max_overflow: int = 5,
    statement_timeout_ms: int = 30_000,
    **kwargs: Any,
) -> Engine:
    """Build the engine for ``url``; creates the SQLite file's directory when needed.

    ``sqlite_synchronous`` (``CTIHUB_SQLITE_SYNCHRONOUS``): ``full`` (default) syncs the WAL at
    every commit, so a committed event survives a power loss; ``normal`` only survives a crash of
    the process. It has no effect on PostgreSQL (configure ``synchronous_commit`` there).
    ``pool_size``, ``max_overflow`` and ``statement_timeout_ms`` (0: the server's) apply to
    PostgreSQL, per process.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if sqlite_synchronous not in SYNCHRONOUS:
            raise ValueError(f"sqlite_synchronous must be full or normal, not {sqlite_synchronous!r}")
        gate = None
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            gate = gate_path(parsed.database)
        connect_args = {"check_same_thread": False, "timeout": 30, "factory": GatedConnection}
        kwargs.setdefault("hide_parameters", True)
        engine = create_engine(parsed, connect_args=connect_args, **kwargs)
        event.listen(engine, "connect", partial(_sqlite_pragmas, SYNCHRONOUS[sqlite_synchronous], gate))
        # pysqlite's own transaction handling defers BEGIN; we emit it ourselves so that a
        # transaction that will write takes the lock at its start instead of failing on upgrade.
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    # No pre-ping: it costs a SELECT 1 round trip per transaction on the ingest path. A connection
    # the server dropped fails its request once (nothing was acknowledged, the platform retries) and
    # SQLAlchemy then discards the pool's stale connections; recycling bounds their age.
    kwargs.setdefault("hide_parameters", True)  # bound values (phones, emails) stay out of errors and logs
    kwargs.setdefault("pool_pre_ping", False)
    kwargs.setdefault("pool_recycle", 1800)
    kwargs.setdefault("pool_size", pool_size)
    kwargs.setdefault("max_overflow", max_overflow)
    if statement_timeout_ms and "connect_args" not in kwargs:
        kwargs["connect_args"] = {"options": f"-c statement_timeout={int(statement_timeout_ms)}"}
    return create_engine(parsed, **kwargs)


def _sqlite_pragmas(synchronous: str, gate: str | None, dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # autocommit at the driver; SQLAlchemy issues BEGIN
    if gate is not None:
        dbapi_connection.open_gate(gate)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA synchronous={synchronous}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    """Writers take SQLite's write lock when they begin; read-only connections don't need it.

    Mark a read-only connection with ``connection.execution_options(readonly=True)``.
    """
    readonly = connection.get_execution_options().get("readonly", False)
    if not readonly:
        connection.connection.dbapi_connection.enter_gate()  # see hub.store.sqlite_gate
    connection.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")


@contextmanager
def write_transaction(engine: Engine, statement: str, *, single: bool = False) -> Iterator[Any]:
    """A DBAPI connection in a write transaction, committed on exit: for the ingest's one insert.

    SQLAlchemy's Connection costs about 0.2 ms of CPU per transaction on the ingest path (events,
    the BEGIN it emits, result set-up), as much as the rest of the request. This goes to the driver
    with the same pool, the same SQLite gate and ``BEGIN IMMEDIATE``, and raises SQLAlchemy's own
    exceptions (``statement`` names the statement in them; parameters are never shown).

    ``single``: the caller runs exactly one statement. On PostgreSQL it then runs in autocommit, as
    its own transaction, committed (``synchronous_commit`` as the server has it) before execute
    returns: one round trip instead of BEGIN, the statement and COMMIT. The connection goes back to
    the pool as it came (autocommit off).
    """
    pooled = engine.raw_connection()
    dbapi_connection: Any = pooled.dbapi_connection
    sqlite = engine.dialect.name == "sqlite"
    autocommit = single and engine.dialect.name == "postgresql"
    try:
        if sqlite:
            dbapi_connection.enter_gate()
            dbapi_connection.execute("BEGIN IMMEDIATE")
        elif autocommit:
            dbapi_connection.autocommit = True
        yield dbapi_connection
        dbapi_connection.commit()  # a no-op in autocommit
    except engine.dialect.loaded_dbapi.Error as exc:
        with suppress(Exception):
            dbapi_connection.rollback()
        if engine.dialect.is_disconnect(exc, dbapi_connection, None):
            pooled.invalidate(exc)
        base = engine.dialect.loaded_dbapi.Error
        raise DBAPIError.instance(
            statement, None, exc, base, hide_parameters=True, dialect=engine.dialect
        ) from exc
    except BaseException:
        with suppress(Exception):
            dbapi_connection.rollback()
        raise
    finally:
        if autocommit and pooled.dbapi_connection is not None:  # not already invalidated above
            try:
                dbapi_connection.autocommit = False
            except Exception as exc:  # a broken connection: never back to the pool in autocommit
                pooled.invalidate(exc)
        pooled.close()


def driver_datetime(value: datetime, dialect: str) -> Any:
    """An aware datetime as the driver takes it for a ``UTCDateTime`` column, for statements sent to
    the driver directly: naive UTC, and on SQLite the text SQLAlchemy stores."""
    naive = value.astimezone(UTC).replace(tzinfo=None)
    return naive.strftime("%Y-%m-%d %H:%M:%S.%f") if dialect == "sqlite" else naive


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"
