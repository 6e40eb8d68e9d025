"""``ctihub demo``: a seeded day of outcomes replayed through the real HTTP endpoint into the sandbox."""

from __future__ import annotations

import json
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import click
import requests
from sqlalchemy import func, select

from hub.demo.seed import seeded_day
from hub.store import inbox as inbox_store
from hub.store.tables import event_links, inbox
from webhooks.generic import HEADER, sign

SETTLE_TIMEOUT_SECONDS = 120


def _post(session: requests.Session, url: str, secret: str, event: dict[str, Any]) -> int:
    body = json.dumps(event).encode()
    headers = {"Content-Type": "application/json", HEADER: sign(secret, body, int(time.time()))}
    return session.post(f"{url}/v1/outcomes", data=body, headers=headers, timeout=10).status_code


def run_demo(embedded: Any, *, events: int, seed: int) -> bool:
    """Replay the day, wait for the worker to link everything, print the summary. True when all linked."""
    hub = embedded.hub
    day = seeded_day(seed, events, end=hub.clock.now())
    # A platform that retries after a lost acknowledgment sends some events twice.
    repeats = day[:: max(1, len(day) // 10)]
    click.echo(f"CTI Hub demo: {len(day)} outcomes from a seeded day -> {hub.settings.crm} sandbox at {embedded.url}")
    statuses: Counter[int] = Counter()
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=8, pool_maxsize=8)
    session.mount("http://", adapter)
    secret = hub.settings.webhook_secret
    with ThreadPoolExecutor(max_workers=8) as pool, click.progressbar(length=len(day) + len(repeats), label="posting outcomes") as bar:
        for status in pool.map(lambda e: _post(session, embedded.url, secret, e), day + repeats):
            statuses[status] += 1
            bar.update(1)
    accepted = statuses[202]
    linked = _wait_until_settled(hub, accepted)
    return _summary(hub, embedded.url, statuses, linked, accepted, day)


def _wait_until_settled(hub: Any, accepted: int) -> int:
    deadline = time.monotonic() + SETTLE_TIMEOUT_SECONDS
    with click.progressbar(length=accepted, label="linking to CRM  ") as bar:
        done = 0
        while time.monotonic() < deadline:
            with hub.engine.connect().execution_options(readonly=True) as connection:
                counts = inbox_store.counts_by_status(connection)
            finished = counts.get("linked", 0) + counts.get("dead", 0)
            bar.update(finished - done)
            done = finished
            if finished >= accepted:
                break
            hub.wake_worker.set()
            time.sleep(0.2)
    return counts.get("linked", 0)


def _summary(hub: Any, url: str, statuses: Counter[int], linked: int, accepted: int, day: list[dict[str, Any]]) -> bool:
    with hub.engine.connect().execution_options(readonly=True) as connection:
        counts = inbox_store.counts_by_status(connection)
        created = dict(connection.execute(select(event_links.c.case_created, func.count()).group_by(event_links.c.case_created)).all())
        dispositions = connection.execute(
            select(inbox.c.disposition, func.count()).where(inbox.c.status == "linked").group_by(inbox.c.disposition).order_by(func.count().desc())
        ).all()
        dead = inbox_store.dead_letters(connection, limit=5)
    noun = "tickets" if hub.settings.crm == "zendesk" else "cases"
    customers = len({(e["customer"].get("phone"), e["customer"].get("email")) for e in day})
    click.echo("")
    click.echo("Summary")
    click.echo(f"  outcomes posted        {len(day)} (+{statuses[200]} repeats answered 'duplicate')")
    click.echo(f"  accepted (202)         {accepted}")
    click.echo(f"  linked                 {linked}")
    click.echo(f"  {noun} created        {created.get(True, 0):>5}")
    click.echo(f"  {noun} attached to    {created.get(False, 0):>5}  (same customer and problem, any channel)")
    click.echo(f"  not linked             {accepted - linked}  {json.dumps({k: v for k, v in counts.items() if k != 'linked'})}")
    rejected = {s: n for s, n in statuses.items() if s not in (200, 202)}
    if rejected:
        click.echo(f"  rejected               {rejected}")
    click.echo("  activities by disposition:")
    for code, count in dispositions:
        click.echo(f"    {code:<22} {count}")
    for row in dead:
        click.echo(f"  dead: {row['source']}:{row['event_id']}: {row['last_error']}")
    example = day[0]
    click.echo("")
    click.echo("Look at it")
    click.echo(f"  event status   curl -H 'Authorization: Bearer <CTIHUB_API_TOKEN from var/dev-secrets.env>' {url}/v1/outcomes/{example['source']}/{example['event_id']}")
    if hub.settings.crm == "zendesk":
        click.echo(f"  sandbox        curl -u hub@sandbox.invalid/token:x {url}/sandbox/zendesk/api/v2/tickets.json")
    else:
        click.echo(f"  sandbox        curl -H 'Authorization: Bearer x' '{url}/sandbox/salesforce/services/data/v59.0/query?q=SELECT+Id,Subject,Status+FROM+Case'")
    click.echo(f"  catalog        {url}/v1/catalog   schema {url}/v1/schemas/outcome-event   health {url}/readyz")
    click.echo(f"  (the database is {hub.settings.database_url}; run `ctihub serve --sandbox --crm {hub.settings.crm}` to keep browsing)")
    return linked == accepted and not rejected
