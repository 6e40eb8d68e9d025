"""The embedded SQLite store: durable by default (synchronous=FULL), writers queued on a file lock."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from hub.domain.errors import ConfigError
from hub.settings import Settings
from hub.store.db import make_engine
from hub.store.sqlite_gate import gate_path


def synchronous_of(url: str, **kwargs: str) -> int:
    engine = make_engine(url, **kwargs)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text("PRAGMA synchronous")).scalar_one())
    finally:
        engine.dispose()


def test_full_is_the_default_and_normal_is_an_opt_out(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    assert synchronous_of(url) == 2  # FULL: the WAL is synced at every commit
    assert synchronous_of(url, sqlite_synchronous="normal") == 1
    assert Settings.from_env({}).sqlite_synchronous == "full"
    assert Settings.from_env({"CTIHUB_SQLITE_SYNCHRONOUS": "NORMAL"}).sqlite_synchronous == "normal"
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"CTIHUB_SQLITE_SYNCHRONOUS": "off"})
    assert caught.value.problems[0].path == "CTIHUB_SQLITE_SYNCHRONOUS"


def gate_is_free(database: Path) -> bool:
    fd = os.open(gate_path(str(database)), os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # closing drops a lock taken here
    return True


def test_a_write_transaction_holds_the_gate_until_commit_or_rollback(tmp_path: Path):
    database = tmp_path / "hub.db"
    engine = make_engine(f"sqlite:///{database}")
    with engine.connect() as connection:
        connection.execute(text("CREATE TABLE t (x INTEGER)"))
        connection.commit()
    try:
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO t VALUES (1)"))
            assert not gate_is_free(database)
        assert gate_is_free(database)
        with pytest.raises(RuntimeError), engine.begin() as connection:
            connection.execute(text("INSERT INTO t VALUES (2)"))
            raise RuntimeError("rolled back")
        assert gate_is_free(database)
        with engine.connect().execution_options(readonly=True) as connection, connection.begin():
            connection.execute(text("SELECT count(*) FROM t"))
            assert gate_is_free(database)  # readers never queue
    finally:
        engine.dispose()


def test_threads_writing_at_once_all_commit(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'hub.db'}", pool_size=8)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (x INTEGER)"))

    def write(start: int) -> None:
        for n in range(start, start + 50):
            with engine.begin() as connection:
                connection.execute(text("INSERT INTO t VALUES (:n)"), {"n": n})

    threads = [threading.Thread(target=write, args=(k * 1000,)) for k in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM t")).scalar_one() == 300
    engine.dispose()


def test_a_killed_writer_leaves_the_gate_free(tmp_path: Path):
    database = tmp_path / "hub.db"
    code = (
        "import os, signal, sys\n"
        "from sqlalchemy import text\n"
        "from hub.store.db import make_engine\n"
        f"engine = make_engine('sqlite:///{database}')\n"
        "connection = engine.connect()\n"
        "connection.begin()\n"
        "connection.execute(text('CREATE TABLE t (x INTEGER)'))\n"
        "print('holding', flush=True)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == -9 and "holding" in result.stdout
    assert gate_is_free(database)
    engine = make_engine(f"sqlite:///{database}")
    with engine.begin() as connection:  # and the database lock went with the process
        connection.execute(text("CREATE TABLE t (x INTEGER)"))
    engine.dispose()
