"""Several threads and processes on one SQLite file: unique keys still give one record."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from adapters.sandbox import Sandbox

from .conftest import sqlite_engine
from .scenarios import (
    concurrent_salesforce_upserts,
    concurrent_zendesk_idempotent_creates,
    concurrent_zendesk_users,
)


@pytest.fixture(params=["hub-style", "plain"])
def file_sandbox(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """A sandbox on a SQLite file, with the hub's engine settings and with pysqlite's defaults."""
    engine = sqlite_engine(str(tmp_path / "race.db"), hub_style=request.param == "hub-style")
    sandbox = Sandbox(engine)
    sandbox.ensure_schema()
    yield sandbox
    engine.dispose()


def test_concurrent_upserts_of_one_external_id(file_sandbox: Sandbox) -> None:
    concurrent_salesforce_upserts(file_sandbox)


def test_concurrent_idempotent_ticket_creates(file_sandbox: Sandbox) -> None:
    concurrent_zendesk_idempotent_creates(file_sandbox)


def test_concurrent_create_or_update_user(file_sandbox: Sandbox) -> None:
    concurrent_zendesk_users(file_sandbox)


WORKER = textwrap.dedent(
    """
    import json, sys
    from sqlalchemy import create_engine
    import simple_salesforce
    from adapters.sandbox import SALESFORCE_INSTANCE_URL, Sandbox
    engine = create_engine("sqlite:///" + sys.argv[1], connect_args={"timeout": 30})
    sb = Sandbox(engine)
    sb.ensure_schema()
    sf = simple_salesforce.Salesforce(
        instance_url=SALESFORCE_INSTANCE_URL, session_id="x", session=sb.session()
    )
    out = []
    for i in range(5):
        r = sf.Case.upsert("CTI_Hub_Key__c/shared", {"Subject": sys.argv[2] + str(i)}, raw_response=True)
        out.append([r.status_code, r.json()["id"]])
    print(json.dumps(out))
    """
)


def test_processes_share_records_and_unique_keys(tmp_path: Path) -> None:
    db = tmp_path / "procs.db"
    root = Path(__file__).resolve().parents[2]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(db), f"p{n}-"],
            cwd=root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(3)
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        results.extend(json.loads(out))
    assert sorted(status for status, _ in results).count(201) == 1
    assert len({record_id for _, record_id in results}) == 1
    engine = sqlite_engine(str(db))
    try:
        assert len(Sandbox(engine).records("salesforce", "Case")) == 1
    finally:
        engine.dispose()
