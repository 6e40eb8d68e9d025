"""``ctihub demo``: a seeded day of outcomes replayed through the real HTTP endpoint into the sandbox."""

from __future__ import annotations

import json
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import click
import requests
from sqlalchemy import Connection, func, select

from hub.demo.seed import seeded_day
from hub.store.tables import event_links, inbox
from webhooks.generic import HEADER, sign

SETTLE_TIMEOUT_SECONDS = 120
POSTING_THREADS = 8


def _post(session: requests.Session, url: str, secret: str, event: dict[str, Any]) -> int:
    body = json.dumps(event).encode()
    headers = {"Content-Type": "application/json", HEADER: sign(secret, body, int(time.time()))}
    return session.post(f"{url}/v1/outcomes", data=body, headers=headers, timeout=10).status_code


def _this_run(run: str) -> Any:
    return inbox.c.event_id.like(f"{run}-%")


def _counts(connection: Connection, run: str) -> dict[str, int]:
    query = select(inbox.c.status, func.count()).where(_this_run(run)).group_by(inbox.c.status)
    return dict(connection.execute(query).all())  # type: ignore[arg-type]


def run_demo(embedded: Any, *, events: int, seed: int) -> bool:
    """Replay the day, wait for the worker to link it, print the summary. True when all were linked."""
    hub = embedded.hub
    run = f"demo-{hub.clock.now():%Y%m%d%H%M%S}"
    day = seeded_day(seed, events, end=hub.clock.now(), run=run)
    repeats = day[:: max(1, len(day) // 10)]  # a platform retrying after a lost acknowledgment
    click.echo(
        f"CTI Hub demo: {len(day)} outcomes of a seeded day -> {hub.settings.crm} sandbox at {embedded.url}"
    )
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=POSTING_THREADS))
    secret = hub.settings.webhook_secret
    statuses: Counter[int] = Counter()
    with (
        ThreadPoolExecutor(max_workers=POSTING_THREADS) as pool,
        click.progressbar(length=len(day) + len(repeats), label="posting outcomes") as bar,
    ):
        for status in pool.map(lambda event: _post(session, embedded.url, secret, event), day + repeats):
            statuses[status] += 1
            bar.update(1)
    _wait_until_settled(hub, run, statuses[202])
    return _summary(hub, embedded.url, run, statuses, day)


def _wait_until_settled(hub: Any, run: str, accepted: int) -> None:
    deadline = time.monotonic() + SETTLE_TIMEOUT_SECONDS
    done = 0
    with click.progressbar(length=accepted, label="linking to the CRM") as bar:
        while done < accepted and time.monotonic() < deadline:
            with hub.engine.connect().execution_options(readonly=True) as connection:
                counts = _counts(connection, run)
            finished = counts.get("linked", 0) + counts.get("dead", 0)
            bar.update(finished - done)
            done = finished
            hub.wake_worker.set()
            time.sleep(0.1)


def _summary(hub: Any, url: str, run: str, statuses: Counter[int], day: list[dict[str, Any]]) -> bool:
    with hub.engine.connect().execution_options(readonly=True) as connection:
        counts = _counts(connection, run)
        joined = select(event_links.c.case_created, func.count()).join(
            inbox, inbox.c.id == event_links.c.inbox_id
        )
        created = dict(
            connection.execute(joined.where(_this_run(run)).group_by(event_links.c.case_created)).all()
        )
        by_disposition = connection.execute(
            select(inbox.c.disposition, func.count())
            .where(_this_run(run), inbox.c.status == "linked")
            .group_by(inbox.c.disposition)
            .order_by(func.count().desc(), inbox.c.disposition)
        ).all()
        dead = connection.execute(
            select(inbox.c.event_id, inbox.c.last_error)
            .where(_this_run(run), inbox.c.status == "dead")
            .limit(5)
        ).all()
    accepted, linked = statuses[202], counts.get("linked", 0)
    unlinked = {status: n for status, n in counts.items() if status != "linked"}
    rejected = {status: n for status, n in statuses.items() if status not in (200, 202)}
    noun = "tickets" if hub.settings.crm == "zendesk" else "cases"
    lines = [
        "",
        "Summary",
        f"  outcomes posted      {len(day)}  (+{statuses[200]} repeats, answered 'duplicate')",
        f"  accepted (202)       {accepted}",
        f"  linked               {linked}",
        f"  {noun + ' created':<20} {created.get(True, 0)}",
        f"  {noun + ' attached':<20} {created.get(False, 0)}  (same customer and problem, any channel)",
        f"  not linked           {accepted - linked}  {json.dumps(unlinked) if unlinked else ''}",
    ]
    if rejected:
        lines.append(f"  rejected             {json.dumps(rejected)}")
    lines.append("  activities by disposition:")
    lines += [f"    {code:<22} {count}" for code, count in by_disposition]
    lines += [f"  dead: {event_id}: {error}" for event_id, error in dead]
    example = day[0]
    auth_hint = "Authorization: Bearer $CTIHUB_API_TOKEN   (see var/dev-secrets.env)"
    if hub.settings.crm == "zendesk":
        sandbox = f"curl -u hub@sandbox.invalid/token:x {url}/sandbox/zendesk/api/v2/tickets.json"
    else:
        sandbox = (
            "curl -H 'Authorization: Bearer x' "
            f"'{url}/sandbox/salesforce/services/data/v59.0/query?q=SELECT+Id,Subject,Status+FROM+Case'"
        )
    lines += [
        "",
        "Look at it (while `ctihub demo --keep-running --port 8080` serves)",
        f"  an event   {url}/v1/outcomes/{example['source']}/{example['event_id']}",
        f"             with {auth_hint}",
        f"  sandbox    {sandbox}",
        f"  catalog    {url}/v1/catalog    schema {url}/v1/schemas/outcome-event    ready {url}/readyz",
        f"  database   {hub.settings.database_url}",
    ]
    panel = _panel_url(hub, url, run)
    if panel:
        lines += [
            "",
            "The agent panel of one of them, to open in a browser while the demo serves",
            "(`ctihub demo --keep-running --port 8080`; the sandbox signs you in as an agent):",
            f"  {panel}",
        ]
    click.echo("\n".join(lines))
    return accepted == len(day) and linked == accepted and not rejected


def _panel_url(hub: Any, url: str, run: str) -> str | None:
    """The panel of the case/ticket with the most events of this run (the richest trail to look at)."""
    crm = hub.settings.crm
    with hub.engine.connect().execution_options(readonly=True) as connection:
        row = connection.execute(
            select(event_links.c.case_id, func.count().label("events"))
            .join(inbox, inbox.c.id == event_links.c.inbox_id)
            .where(_this_run(run), event_links.c.crm == crm)
            .group_by(event_links.c.case_id)
            .order_by(func.count().desc(), event_links.c.case_id)
            .limit(1)
        ).first()
    if row is None:
        return None
    return f"{url}/panel/{crm}/{'tickets' if crm == 'zendesk' else 'cases'}/{row.case_id}"
