"""Bulk loading for the benchmarks' generated histories: COPY on PostgreSQL, one executemany in one
transaction on SQLite (the hub's SQLite driver autocommits, so without BEGIN each row would be its
own transaction). Times are written as the hub's ``UTCDateTime`` columns store them."""

from __future__ import annotations

import io
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Engine

from hub.store.db import driver_datetime


def _copy_value(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, datetime):
        return driver_datetime(value, "sqlite")  # the same text: PostgreSQL parses it as UTC
    if isinstance(value, bool):
        return "t" if value else "f"
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


def bulk_insert(engine: Engine, table: str, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    if not rows:
        return
    raw = engine.raw_connection()
    try:
        if engine.dialect.name == "postgresql":
            buffer = io.StringIO()
            for row in rows:
                buffer.write("\t".join(_copy_value(v) for v in row) + "\n")
            with (
                raw.cursor() as cursor,
                cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
            ):
                copy.write(buffer.getvalue())
        else:
            marks = ", ".join("?" for _ in columns)
            cursor = raw.cursor()
            cursor.execute("BEGIN")
            cursor.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",  # noqa: S608 (our names)
                [
                    tuple(driver_datetime(v, "sqlite") if isinstance(v, datetime) else v for v in row)
                    for row in rows
                ],
            )
        raw.commit()
    finally:
        raw.close()


class Buffers:
    """Rows buffered per table, written ``batch`` at a time. Every flush writes every table in the
    order of ``tables`` (parents first), so foreign keys hold at each flush."""

    def __init__(self, engine: Engine, tables: Mapping[str, tuple[str, ...]], batch: int = 20_000) -> None:
        self.engine = engine
        self.tables = tables
        self.batch = batch
        self.rows: dict[str, list[tuple[Any, ...]]] = {name: [] for name in tables}

    def add(self, table: str, row: tuple[Any, ...]) -> bool:
        """Buffer a row; True when the buffers were flushed."""
        rows = self.rows[table]
        rows.append(row)
        if len(rows) >= self.batch:
            self.flush()
            return True
        return False

    def flush(self) -> None:
        for table, rows in self.rows.items():
            bulk_insert(self.engine, table, self.tables[table], rows)
            rows.clear()
