"""CRM API calls per linked outcome and acknowledgment-to-CRM-write latency: the hub against a naive
per-event integration, on the same seeded mix of outcomes, against the sandbox CRM with latency.

Usage: .venv/bin/python bench/crm_calls.py [--crm zendesk|salesforce|both] [--latency-ms 150]
       [--trickle-rate 1 --trickle-seconds 20] [--burst-rate 50 --burst-seconds 10] [--check]

Per CRM and phase (trickle, burst), each side gets a fresh sandbox CRM (a SQLite file in a temp
dir) holding the same customers (Salesforce Contacts, Zendesk end users), and every request the
sandbox serves waits ``--latency-ms`` (log-normally jittered by ``--latency-jitter``, mean kept):

- **hub**: built as ``ctihub serve --sandbox`` builds it (``Settings.from_env`` with sandbox=True,
  so every ``CTIHUB_*`` setting of the environment applies, batching included), with
  ``--hub-workers`` link worker threads running ``Worker.run`` as ``EmbeddedHub`` does. Events are
  posted signed to ``POST /v1/outcomes`` through the Flask test client, open loop (event k is due
  at ``t0 + k / rate``); the acknowledgment is the moment the 202 came back, the CRM write the
  inbox row's ``linked_at`` (set right after the CRM call returned).
- **naive**: what the public Amazon Connect Salesforce Lambdas do, once per event as it arrives,
  on a pool of ``--naive-concurrency`` threads (a Lambda fleet): look the contact up, look its open
  case up, create or update the case, add the activity (Salesforce with simple-salesforce: SOQL
  Contact, SOQL Case, Case create/update, Task create; Zendesk: user search, ticket search, ticket
  create or update with the comment inline). An unknown customer costs one more call (create the
  contact). The acknowledgment is the hand-over, the CRM write the return of the last call.

CRM calls are every request the phase's sandbox served (``Sandbox.request_counts``), divided by
the outcomes linked. At the trickle both sides run side by side (they share nothing but the
process, and the load is light); at the burst one after the other (``--sequential``: always).
Targets (the hub's): at most 1.0 call per outcome at the trickle and 0.1 at the burst, p95
acknowledgment-to-write under 5 s, every outcome linked. ``--check`` exits 1 when one is missed.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import math
import random
import re
import secrets
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # works before `pip install -e .` too
    sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from adapters.sandbox import SALESFORCE_INSTANCE_URL, ZENDESK_BASE_URL, Sandbox  # noqa: E402
from hub.demo.seed import seeded_day  # noqa: E402
from hub.domain.catalog import Catalog  # noqa: E402
from hub.settings import Settings  # noqa: E402
from webhooks.generic import HEADER, sign  # noqa: E402

TARGET_TRICKLE_CALLS = 1.0  # CRM calls per linked outcome, at most
TARGET_BURST_CALLS = 0.1
TARGET_P95_SECONDS = 5.0  # acknowledgment to CRM write
POLL_SECONDS = 0.05
POSTING_THREADS = 4
ZENDESK_API = f"{ZENDESK_BASE_URL}/api/v2"
ZENDESK_AUTH = ("naive@sandbox.invalid/token", "naive-token")
SALESFORCE_ORIGINS = {"chat": "Chat", "sms": "SMS", "self_service": "Self-Service", "voice": "Phone"}

log = logging.getLogger("bench.crm_calls")


# -- the mix -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Phase:
    name: str
    rate: float  # outcomes per second offered
    seconds: float

    @property
    def count(self) -> int:
        return max(1, round(self.rate * self.seconds))


@dataclass
class Person:
    """One customer as the CRM knows them (a Contact / an end user), before the run."""

    name: str
    phone: str | None = None  # E.164
    email: str | None = None


def e164(raw: str | None) -> str | None:
    """US numbers as the platforms send them ("(415) 555-0100", "+1 415-555-0100", ...) in E.164."""
    digits = re.sub(r"\D", "", raw or "")
    if len(digits) == 10:
        return f"+1{digits}"
    if len(digits) == 11 and digits.startswith("1"):
        return f"+{digits}"
    return None


def phase_events(seed: int, phase: Phase) -> list[dict[str, Any]]:
    """The demo's seeded day (repeat customers, journeys across chat, SMS and self-service)."""
    return seeded_day(seed, phase.count, end=datetime.now(UTC), run=f"bench-{phase.name}")


def _family(catalog: Catalog, intent: str) -> str:
    found = catalog.intents.get(intent)
    return found.family if found else intent


def _identifiers(event: dict[str, Any]) -> list[str]:
    customer = event["customer"]
    phone, email = e164(customer.get("phone")), (customer.get("email") or "").lower()
    return [*([f"p:{phone}"] if phone else []), *([f"e:{email}"] if email else [])]


def people_in(events: Sequence[dict[str, Any]]) -> tuple[list[Person], list[int]]:
    """The customers behind the events (identifiers seen together in one event are one person, as
    the hub resolves them), and each event's customer as an index into that list."""
    parent: dict[str, str] = {}

    def root(key: str) -> str:
        while parent.setdefault(key, key) != key:
            key = parent[key]
        return key

    names: dict[str, str] = {}
    for event in events:
        keys = _identifiers(event)
        for key in keys:
            names.setdefault(key, event["customer"].get("name") or "Customer")
            parent[root(key)] = root(keys[0])
    people: list[Person] = []
    index: dict[str, int] = {}
    for key in sorted(parent):
        top = root(key)
        if top not in index:
            index[top] = len(people)
            people.append(Person(names[top]))
        person = people[index[top]]
        if key.startswith("p:"):
            person.phone = key[2:]
        else:
            person.email = key[2:]
    return people, [index[root(_identifiers(event)[0])] for event in events]


# -- the sandbox ----------------------------------------------------------------------------------


def prepare_sandbox(sandbox: Sandbox, crm: str, people: Sequence[Person], args: argparse.Namespace) -> None:
    """Seed the customers (no latency, not counted), then switch the per-request latency on."""
    session = sandbox.session()
    for person in people:
        first, _, last = person.name.partition(" ")
        if crm == "salesforce":
            response = session.post(
                f"{SALESFORCE_INSTANCE_URL}/services/data/v59.0/sobjects/Contact/",
                json={
                    "FirstName": first,
                    "LastName": last or first,
                    "Phone": person.phone,
                    "Email": person.email,
                },
                headers={"Authorization": "Bearer seed"},
            )
        else:
            user = {"name": person.name, "role": "end-user", "phone": person.phone, "email": person.email}
            response = session.post(
                f"{ZENDESK_API}/users.json",
                json={"user": {k: v for k, v in user.items() if v}},
                auth=ZENDESK_AUTH,
            )
        response.raise_for_status()
    sandbox.clear_log()
    sandbox.latency_seconds = args.latency_ms / 1000
    jitter = random.Random(args.seed)
    lock = threading.Lock()
    sigma = args.latency_jitter

    def sleep(seconds: float) -> None:
        if sigma > 0:
            with lock:
                seconds *= jitter.lognormvariate(-sigma * sigma / 2, sigma)  # mean stays `seconds`
        time.sleep(seconds)

    sandbox.sleep = sleep


def cases_in(sandbox: Sandbox, crm: str) -> int:
    return len(sandbox.records(crm, "Case" if crm == "salesforce" else "ticket"))


# -- results --------------------------------------------------------------------------------------


@dataclass
class SideResult:
    crm: str
    phase: str
    side: str
    rate: float
    outcomes: int
    customers: int  # distinct customers in the mix
    problems: int  # distinct (customer, intent family): the cases a deduplicating integration makes
    linked: int = 0
    calls: int = 0
    latencies: list[float | None] = field(default_factory=list)  # None: never written
    cases: int = 0
    breakdown: dict[str, int] = field(default_factory=dict)
    notes: dict[str, int] = field(default_factory=dict)  # hub: events that waited, by reason; naive: errors
    setup: str = ""
    verdict: str = ""

    @property
    def calls_per_outcome(self) -> float:
        return self.calls / self.linked if self.linked else math.inf

    def percentile(self, p: float) -> float:
        """Nearest rank over every outcome, an unwritten one counting as infinitely late."""
        values = sorted(math.inf if v is None else v for v in self.latencies)
        if not values:
            return math.inf
        return values[max(0, math.ceil(p * len(values)) - 1)]

    def judge(self, burst: bool) -> str:
        if self.side != "hub":
            return "-"
        target = TARGET_BURST_CALLS if burst else TARGET_TRICKLE_CALLS
        misses = []
        if self.calls_per_outcome > target:
            misses.append(f"calls/outcome {self.calls_per_outcome:.2f} > {target}")
        if not self.percentile(0.95) < TARGET_P95_SECONDS:
            misses.append(f"p95 {_seconds(self.percentile(0.95))} >= {TARGET_P95_SECONDS:.0f} s")
        if self.linked < self.outcomes:
            misses.append(f"{self.outcomes - self.linked} not linked")
        self.verdict = "PASS" if not misses else "FAIL: " + "; ".join(misses)
        return self.verdict

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("latencies")
        data.update(
            calls_per_outcome=None if self.linked == 0 else round(self.calls_per_outcome, 3),
            p50_seconds=_finite(self.percentile(0.5)),
            p95_seconds=_finite(self.percentile(0.95)),
            max_seconds=_finite(self.percentile(1.0)),
        )
        return data


def _finite(value: float) -> float | None:
    return round(value, 3) if math.isfinite(value) else None


def _seconds(value: float) -> str:
    return f"{value:.2f}" if math.isfinite(value) else "unlinked"


# -- the two sides --------------------------------------------------------------------------------


class Side(Protocol):
    name: str

    def offer(self, event: dict[str, Any]) -> None: ...

    def settle(self, deadline: float) -> None: ...

    def result(self, result: SideResult) -> None: ...

    def close(self) -> None: ...


class HubSide:
    """The hub as ``ctihub serve --sandbox`` builds it, fed through its signed HTTP endpoint."""

    name = "hub"

    def __init__(self, crm: str, workdir: Path, people: Sequence[Person], args: argparse.Namespace) -> None:
        from hub.bootstrap import build_hub
        from hub.store import migrate
        from hub.store.db import make_engine
        from hub.web import create_app

        workdir.mkdir(parents=True, exist_ok=True)
        overrides: dict[str, Any] = {
            "database_url": f"sqlite:///{workdir / 'hub.db'}",
            "sandbox": True,
            "crm": crm,
            "webhook_secret": secrets.token_hex(16),
            "api_token": secrets.token_hex(16),
        }
        if not Settings.from_env().environment.get("CTIHUB_MAPPINGS"):
            overrides["mappings_dir"] = ROOT / "mappings"
        self.settings = Settings.from_env(**overrides)
        engine = make_engine(self.settings.database_url)
        migrate.upgrade(engine)
        self.hub = build_hub(self.settings, engine=engine)
        self.sandbox: Sandbox = self.hub.sandbox
        self.crm = crm
        prepare_sandbox(self.sandbox, crm, people, args)
        self.app = create_app(hub=self.hub)
        self.local = threading.local()
        self.posting = ThreadPoolExecutor(POSTING_THREADS, thread_name_prefix="post")
        self.acks: dict[str, float] = {}
        self.rejected: Counter[int] = Counter()
        self.posts: list[Future[None]] = []
        self.waited: dict[int, str] = {}  # inbox id -> why it waited (seen while polling)
        self.counts: Counter[str] | None = None
        self.stop = threading.Event()
        self.workers = [
            threading.Thread(
                target=self.hub.new_worker().run,
                args=(self.stop, self.hub.wake_worker, self.settings.worker_poll_seconds),
                name=f"worker-{n}",
                daemon=True,
            )
            for n in range(args.hub_workers)
        ]
        for worker in self.workers:
            worker.start()

    def describe(self) -> str:
        window = getattr(self.settings, "link_batch_window_seconds", None)
        size = getattr(self.settings, "link_batch_size", None)
        batching = "no batch settings" if window is None else f"batch window {window:g} s, batch size {size}"
        return (
            f"{len(self.workers)} worker thread(s), poll {self.settings.worker_poll_seconds:g} s, {batching}"
        )

    def offer(self, event: dict[str, Any]) -> None:
        self.posts.append(self.posting.submit(self._post, event))

    def _post(self, event: dict[str, Any]) -> None:
        client = getattr(self.local, "client", None)
        if client is None:
            client = self.local.client = self.app.test_client()
        body = json.dumps(event).encode()
        headers = {
            "Content-Type": "application/json",
            HEADER: sign(self.settings.webhook_secret or "", body, int(time.time())),
        }
        response = client.post("/v1/outcomes", data=body, headers=headers)
        if response.status_code == 202:
            self.acks[event["event_id"]] = time.time()
        else:
            self.rejected[response.status_code] += 1

    def settle(self, deadline: float) -> None:
        from hub.store.tables import inbox

        wait(self.posts)
        while True:
            with self.hub.engine.connect() as connection:
                rows = connection.execute(select(inbox.c.id, inbox.c.status, inbox.c.last_error)).all()
            for row_id, status, error in rows:
                if status in ("pending", "failed") and error:
                    self.waited.setdefault(row_id, _reason(error))
            done = sum(1 for _id, status, _e in rows if status in ("linked", "dead"))
            if done >= len(self.acks) or time.monotonic() > deadline:
                break
            time.sleep(POLL_SECONDS)
        self.counts = self.sandbox.request_counts()  # the calls it took to link them all

    def result(self, result: SideResult) -> None:
        from hub.store.tables import inbox

        with self.hub.engine.connect() as connection:
            linked_at = dict(
                connection.execute(
                    select(inbox.c.event_id, inbox.c.linked_at).where(inbox.c.status == "linked")
                ).all()
            )
        result.linked = len(linked_at)
        result.latencies = [
            linked_at[event_id].timestamp() - acked if event_id in linked_at else None
            for event_id, acked in self.acks.items()
        ]
        result.latencies += [None] * sum(self.rejected.values())
        counts = self.counts if self.counts is not None else self.sandbox.request_counts()
        result.calls, result.breakdown = sum(counts.values()), dict(counts.most_common())
        result.cases = cases_in(self.sandbox, self.crm)
        result.setup = self.describe()
        result.notes = dict(Counter(self.waited.values()).most_common())
        result.notes.update({f"HTTP {status}": n for status, n in self.rejected.items()})

    def close(self) -> None:
        self.posting.shutdown(wait=True)
        self.stop.set()
        self.hub.wake_worker.set()
        for worker in self.workers:
            worker.join(timeout=30)
        self.hub.close()


def _reason(error: str) -> str:
    """``zendesk CaseBeingCreated: the case of ...`` -> ``zendesk CaseBeingCreated``."""
    return error.partition(":")[0].strip()[:60]


class NaiveSide:
    """A per-event integration: look up the contact, look up its open case, create or update the
    case, add the activity; every event on its own, as a Lambda invocation would."""

    name = "naive"

    def __init__(
        self, crm: str, workdir: Path, people: Sequence[Person], catalog: Catalog, args: argparse.Namespace
    ) -> None:
        from hub.store.db import make_engine

        self.crm = crm
        self.catalog = catalog
        workdir.mkdir(parents=True, exist_ok=True)
        self.engine = make_engine(
            f"sqlite:///{workdir / 'naive.db'}", pool_size=args.naive_concurrency + 2, max_overflow=4
        )
        self.sandbox = Sandbox(self.engine)
        self.sandbox.ensure_schema()
        prepare_sandbox(self.sandbox, crm, people, args)
        self.local = threading.local()
        self.pool = ThreadPoolExecutor(args.naive_concurrency, thread_name_prefix="naive")
        self.futures: list[Future[None]] = []
        self.latencies: dict[str, float] = {}
        self.offered: list[str] = []
        self.errors: Counter[str] = Counter()
        self.lock = threading.Lock()

    def offer(self, event: dict[str, Any]) -> None:
        self.offered.append(event["event_id"])
        self.futures.append(self.pool.submit(self._handle, event, time.time()))

    def _handle(self, event: dict[str, Any], handed_over: float) -> None:
        try:
            if self.crm == "salesforce":
                self._salesforce(event)
            else:
                self._zendesk(event)
        except Exception as exc:  # a Lambda without retries: the outcome is lost, counted
            with self.lock:
                self.errors[f"{type(exc).__name__}: {str(exc)[:60]}"] += 1
            return
        with self.lock:
            self.latencies[event["event_id"]] = time.time() - handed_over

    def _facts(self, event: dict[str, Any]) -> tuple[str | None, str | None, str, str, str]:
        """Phone, email, intent family and label, disposition code: what the integration writes."""
        customer = event["customer"]
        intent = self.catalog.intents.get(event["intent"])
        disposition = event.get("disposition") or self.catalog.derive_disposition(
            event["channel"], event["outcome"]
        )
        code = disposition if isinstance(disposition, str) else disposition.code if disposition else "UNKNOWN"
        return (
            e164(customer.get("phone")),
            (customer.get("email") or "").lower() or None,
            intent.family if intent else event["intent"],
            intent.label if intent else event["intent"],
            code,
        )

    def _salesforce(self, event: dict[str, Any]) -> None:
        import simple_salesforce

        sf = getattr(self.local, "sf", None)
        if sf is None:
            sf = self.local.sf = simple_salesforce.Salesforce(
                instance_url=SALESFORCE_INSTANCE_URL, session_id="naive", session=self.sandbox.session()
            )
        phone, email, family, label, disposition = self._facts(event)
        where = f"Phone = {_soql(phone)}" if phone else f"Email = {_soql(email)}"
        found = sf.query(f"SELECT Id FROM Contact WHERE {where} LIMIT 1")["records"]  # noqa: S608
        if found:
            contact = found[0]["Id"]
        else:
            name = event["customer"].get("name") or "Customer"
            contact = sf.Contact.create({"LastName": name, "Phone": phone, "Email": email})["id"]
        open_case = sf.query(
            f"SELECT Id FROM Case WHERE ContactId = {_soql(contact)} AND IsClosed = false "  # noqa: S608
            f"AND Reason = {_soql(family)} ORDER BY CreatedDate DESC LIMIT 1"
        )["records"]
        if open_case:
            case = open_case[0]["Id"]
            sf.Case.update(
                case, {"CTI_Hub_Last_Disposition__c": disposition, "CTI_Hub_Channel__c": event["channel"]}
            )
        else:
            case = sf.Case.create(
                {
                    "ContactId": contact,
                    "Subject": label,
                    "Reason": family,
                    "Origin": SALESFORCE_ORIGINS.get(event["channel"], "Web"),
                    "Description": event["summary"],
                    "CTI_Hub_Last_Disposition__c": disposition,
                    "CTI_Hub_Channel__c": event["channel"],
                }
            )["id"]
        sf.Task.create(
            {
                "WhatId": case,
                "WhoId": contact,
                "Subject": f"{label}: {event['outcome']}",
                "Description": event["summary"],
                "Status": "Completed",
                "CallDisposition": disposition,
                "ActivityDate": event["occurred_at"][:10],
            }
        )

    def _zendesk(self, event: dict[str, Any]) -> None:
        session = getattr(self.local, "session", None)
        if session is None:
            session = self.local.session = self.sandbox.session()
            session.auth = ZENDESK_AUTH
        phone, email, family, label, disposition = self._facts(event)

        def call(method: str, path: str, **kwargs: Any) -> dict[str, Any]:
            response = session.request(method, f"{ZENDESK_API}{path}", timeout=30, **kwargs)
            response.raise_for_status()
            return response.json()

        query = f"phone:{phone}" if phone else f"email:{email}"
        users = call("GET", "/users/search.json", params={"query": query})["users"]
        if users:
            user_id = users[0]["id"]
        else:
            user = {"name": event["customer"].get("name") or "Customer", "phone": phone, "email": email}
            user_id = call("POST", "/users/create_or_update.json", json={"user": user})["user"]["id"]
        open_tickets = call(
            "GET",
            "/search.json",
            params={
                "query": f"type:ticket status<solved requester:{user_id} tags:{family}",
                "sort_by": "created_at",
                "sort_order": "desc",
            },
        )["results"]
        comment = {
            "body": f"{label}: {event['outcome']} ({disposition})\n\n{event['summary']}",
            "public": False,
        }
        if open_tickets:
            ticket = {"comment": comment, "additional_tags": [disposition.lower()]}
            call("PUT", f"/tickets/{open_tickets[0]['id']}.json", json={"ticket": ticket})
        else:
            ticket = {
                "requester_id": user_id,
                "subject": label,
                "comment": comment,
                "tags": [family, disposition.lower()],
            }
            call("POST", "/tickets.json", json={"ticket": ticket})

    def settle(self, deadline: float) -> None:
        wait(self.futures, timeout=max(0.0, deadline - time.monotonic()))

    def result(self, result: SideResult) -> None:
        with self.lock:
            result.latencies = [self.latencies.get(event_id) for event_id in self.offered]
            result.linked = len(self.latencies)
            result.notes = dict(self.errors.most_common())
        counts = self.sandbox.request_counts()
        result.calls, result.breakdown = sum(counts.values()), dict(counts.most_common())
        result.cases = cases_in(self.sandbox, self.crm)

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.engine.dispose()


def _soql(value: str | None) -> str:
    if value is None:
        return "null"
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


# -- driving a phase ------------------------------------------------------------------------------


def drive(sides: Sequence[Side], events: Sequence[dict[str, Any]], rate: float) -> None:
    """Open loop: event k is offered at ``t0 + k / rate``, whatever happened to the earlier ones."""
    t0 = time.monotonic()
    for k, event in enumerate(events):
        delay = t0 + k / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        for side in sides:
            side.offer(event)


def run_phase(
    crm: str,
    phase: Phase,
    makers: Sequence[Callable[[], Side]],
    events: Sequence[dict[str, Any]],
    mix: tuple[int, int],
    args: argparse.Namespace,
    *,
    burst: bool,
) -> list[SideResult]:
    """Build the sides, offer the events, wait until every outcome is written (or the timeout)."""
    sides: list[Side] = []
    try:
        for make in makers:
            sides.append(make())
        drive(sides, events, phase.rate)
        deadline = time.monotonic() + args.settle_timeout
        results = []
        for side in sides:
            side.settle(deadline)
        for side in sides:
            result = SideResult(crm, phase.name, side.name, phase.rate, len(events), *mix)
            side.result(result)
            result.judge(burst)
            results.append(result)
        return results
    finally:
        for side in sides:
            side.close()


@contextmanager
def workdir(keep: bool) -> Iterator[Path]:
    if keep:
        path = Path(tempfile.mkdtemp(prefix="crm_calls_"))
        print(f"keeping the databases in {path}", file=sys.stderr)
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="crm_calls_") as name:
        yield Path(name)


def run_crm(crm: str, args: argparse.Namespace, catalog: Catalog) -> list[SideResult]:
    phases = [
        (Phase("trickle", args.trickle_rate, args.trickle_seconds), False),
        (Phase("burst", args.burst_rate, args.burst_seconds), True),
    ]
    results: list[SideResult] = []
    with workdir(args.keep) as root:
        for phase, burst in phases:
            events = phase_events(args.seed, phase)
            people, owners = people_in(events)
            problems = len(
                {(owner, _family(catalog, e["intent"])) for owner, e in zip(owners, events, strict=True)}
            )
            mix = (len(people), problems)
            base = root / f"{crm}-{phase.name}"

            makers: list[Callable[[], Side]] = [
                functools.partial(HubSide, crm, base / "hub", people, args),
                functools.partial(NaiveSide, crm, base / "naive", people, catalog, args),
            ]
            log.info(
                "%s %s: %d outcomes at %g/s, %d customers", crm, phase.name, len(events), phase.rate, *mix[:1]
            )
            if burst or args.sequential:
                for make in makers:
                    results += run_phase(crm, phase, [make], events, mix, args, burst=burst)
            else:
                results += run_phase(crm, phase, makers, events, mix, args, burst=burst)
    return results


# -- output ---------------------------------------------------------------------------------------

COLUMNS = [
    ("phase", "<"),
    ("side", "<"),
    ("offered/s", ">"),
    ("outcomes", ">"),
    ("linked", ">"),
    ("CRM calls", ">"),
    ("calls/outcome", ">"),
    ("p50 s", ">"),
    ("p95 s", ">"),
    ("max s", ">"),
    ("cases", ">"),
    ("target", "<"),
]


def table(results: Sequence[SideResult]) -> str:
    rows = [
        [
            r.phase,
            r.side,
            f"{r.rate:g}",
            str(r.outcomes),
            str(r.linked),
            str(r.calls),
            f"{r.calls_per_outcome:.2f}" if r.linked else "-",
            _seconds(r.percentile(0.5)),
            _seconds(r.percentile(0.95)),
            _seconds(r.percentile(1.0)),
            str(r.cases),
            r.verdict,
        ]
        for r in results
    ]
    widths = [max(len(name), *(len(row[i]) for row in rows)) for i, (name, _a) in enumerate(COLUMNS)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(f"{c:{a}{w}}" for c, (_n, a), w in zip(cells, COLUMNS, widths, strict=True)).rstrip()

    return "\n".join([line([name for name, _a in COLUMNS]), *(line(row) for row in rows)])


def report(crm: str, results: Sequence[SideResult], args: argparse.Namespace) -> str:
    jitter = f", jitter {args.latency_jitter:g}" if args.latency_jitter and args.latency_ms else ""
    lines = [
        f"{crm} sandbox: {args.latency_ms:g} ms per request{jitter}; seed {args.seed}; "
        f"hub: {next((r.setup for r in results if r.side == 'hub'), '-')}; "
        f"naive: {args.naive_concurrency} threads",
    ]
    mixes = {r.phase: r for r in results}.values()
    lines.append(
        "mix: "
        + "; ".join(
            f"{r.phase} {r.outcomes} outcomes, {r.customers} customers, {r.problems} problems" for r in mixes
        )
        + " (a problem is a customer + intent family: one case each is right)"
    )
    lines += [table(results), "CRM calls by kind:"]
    for r in results:
        kinds = ", ".join(f"{kind} {n}" for kind, n in r.breakdown.items()) or "none"
        lines.append(f"  {r.phase:<8} {r.side:<6} {kinds}")
    for r in results:
        if r.notes:
            what = "waited (inbox last_error while pending)" if r.side == "hub" else "errors"
            notes = ", ".join(f"{reason} x{n}" for reason, n in r.notes.items())
            lines.append(f"  {r.phase:<8} {r.side:<6} {what}: {notes}")
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--crm", choices=["zendesk", "salesforce", "both"], default="both")
    parser.add_argument(
        "--latency-ms", type=float, default=150.0, help="sandbox wait per request (default 150)"
    )
    parser.add_argument(
        "--latency-jitter", type=float, default=0.25, help="log-normal sigma around it, mean kept (0: fixed)"
    )
    parser.add_argument("--trickle-rate", type=float, default=1.0, help="outcomes/s (default 1)")
    parser.add_argument("--trickle-seconds", type=float, default=20.0)
    parser.add_argument("--burst-rate", type=float, default=50.0, help="outcomes/s (default 50)")
    parser.add_argument("--burst-seconds", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=7, help="the seeded mix (hub.demo.seed)")
    parser.add_argument(
        "--hub-workers", type=int, default=1, help="link worker threads (default 1, as serve)"
    )
    parser.add_argument(
        "--naive-concurrency", type=int, default=64, help="naive handler threads (default 64)"
    )
    parser.add_argument(
        "--settle-timeout",
        type=float,
        default=60.0,
        help="seconds after the last event to wait for the writes",
    )
    parser.add_argument(
        "--sequential", action="store_true", help="run hub and naive one after the other always"
    )
    parser.add_argument("--check", action="store_true", help="exit 1 when a hub target is missed")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--keep", action="store_true", help="keep the SQLite files")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    if min(args.trickle_rate, args.burst_rate, args.trickle_seconds, args.burst_seconds) <= 0:
        parser.error("rates and durations must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    from hub.mappings import load_mappings

    mappings_dir = Settings.from_env().environment.get("CTIHUB_MAPPINGS") or ROOT / "mappings"
    catalog = load_mappings(Path(mappings_dir)).catalog
    crms = ["zendesk", "salesforce"] if args.crm == "both" else [args.crm]
    everything: list[SideResult] = []
    for crm in crms:
        results = run_crm(crm, args, catalog)
        everything += results
        print(report(crm, results, args), end="\n\n", flush=True)
    if args.json:
        args.json.write_text(json.dumps([r.as_json() for r in everything], indent=2) + "\n")
    missed = [r for r in everything if r.side == "hub" and r.verdict != "PASS"]
    print(f"hub targets: {'all met' if not missed else f'{len(missed)} missed'}")
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
