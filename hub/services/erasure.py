"""Erase a customer's personal data from the hub: ``ctihub customer forget <identifier>``.

What goes (in one transaction, so an erasure is whole or nothing):

- the customer's identifiers (phone, email, platform ids; raw forms too), its name;
- every inbox payload of its events, and of any event carrying one of its identifiers (pending or
  dead ones too): cut down to what links and metrics need (``hub.store.retention.purged_payload``),
  the last error too (a CRM's error may echo an address);
- every webhook delivery carrying one of them, or one of those events' ids: body, headers, event;
- consent history, ambiguity records and shared-identifier notes about them;
- then every text column of every table is searched for the identifiers, and what is found there
  (an SLA note, a recovery plan's address, a deflection decision's phone) is replaced.

What stays, and why (``docs/retention.md``):

- one do-not-contact record per channel and address, kept as ``hub.domain.consent.erased_address``
  (a SHA-256 of the normalized address, not the address): the TCPA requires a revocation to be
  honored (47 CFR 64.1200(a)(10)) and a company's do-not-call list to be kept (64.1200(d); Canada's
  CRTC rules: 3 years and 14 days), and the person must never be contacted again; it blocks for
  good (``hub.domain.consent.standing``);
- the pseudonymous structure: customer keys, episodes, case/ticket and activity links, counters,
  so metrics and the CRM's links keep working. A new event from the same person links as new.

The CRM records that still hold the data are listed (with URLs when the CRM's address is
configured), for the admin to erase there: the hub never deletes CRM records.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import phonenumbers
from sqlalchemy import Connection, Engine, String, Text, and_, delete, or_, select, update

from hub.domain.consent import ERASURE_SOURCE, ConsentDecision, erased_address
from hub.domain.errors import HubError
from hub.domain.identity import EMAIL, EXTERNAL_PREFIX, PHONE, Identifier, normalize_email
from hub.ports import Clock
from hub.services.identity import normalize_phone
from hub.store import consent, retention
from hub.store.dedup_tables import ambiguous_matches, shared_identifiers
from hub.store.schema import metadata
from hub.store.tables import (
    consent_ledger,
    customer_identifiers,
    customers,
    episode_cases,
    episodes,
    event_links,
    inbox,
)
from hub.store.webhook_tables import webhook_deliveries

ERASED = "[erased]"
ERASED_EVENT = "erased by ctihub customer forget before it was linked"
MIN_NEEDLE = 5  # shorter values are not searched for in free text (they would hit other people's)
CHANNELS_OF = {PHONE: ("sms", "voice"), EMAIL: ("email",)}
CRM_PERSONS = {"ext:zendesk_user": ("zendesk", "user"), "ext:salesforce_contact": ("salesforce", "Contact")}


@dataclass(frozen=True)
class CrmRecord:
    crm: str
    object: str
    id: str
    url: str | None = None

    def line(self) -> str:
        return f"{self.crm} {self.object} {self.id}" + (f"  {self.url}" if self.url else "")


@dataclass
class Erasure:
    identifier: str
    customer_keys: list[str]
    erased: dict[str, int] = field(default_factory=dict)  # table -> rows erased or deleted
    blocked: list[str] = field(default_factory=list)  # "sms <hash>": do-not-contact records kept
    crm_records: list[CrmRecord] = field(default_factory=list)
    dry_run: bool = False

    @property
    def anything(self) -> bool:
        return any(self.erased.values())


def parse_identifier(text: str, default_region: str) -> Identifier | str:
    """A customer key (``cus_...``), an ``ext:<system>:<value>`` platform id, an email or a phone."""
    text = text.strip()
    if text.startswith("cus_"):
        return text
    if text.startswith(EXTERNAL_PREFIX):
        system, sep, value = text[len(EXTERNAL_PREFIX) :].partition(":")
        if sep and system and value:
            return Identifier(f"{EXTERNAL_PREFIX}{system}", value.strip(), value)
    elif "@" in text:
        email = normalize_email(text)
        if email.valid:
            return email
    else:
        phone = normalize_phone(text, default_region)
        if phone.kind == PHONE:
            return phone
    raise HubError(
        f"{text!r} is not a customer key (cus_...), an email, a phone number or ext:<system>:<value>"
    )


@dataclass
class ErasureService:
    engine: Engine
    clock: Clock
    default_region: str = "US"
    crm_settings: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def forget(self, text: str, *, dry_run: bool = False) -> Erasure:
        """Erase (or, with ``dry_run``, count what would be erased and roll back)."""
        target = parse_identifier(text, self.default_region)
        with self.engine.connect() as connection:
            transaction = connection.begin()
            try:
                erasure = self._forget(connection, text.strip(), target)
                erasure.dry_run = dry_run
            except BaseException:
                transaction.rollback()
                raise
            if dry_run:
                transaction.rollback()
            else:
                transaction.commit()
        return erasure

    def _forget(self, connection: Connection, text: str, target: Identifier | str) -> Erasure:
        now = self.clock.now()
        if isinstance(target, str):
            found = connection.execute(select(customers.c.key).where(customers.c.key == target)).scalars()
            keys = sorted(found)
            wanted: list[tuple[str, str, str]] = []
        else:
            keys = sorted(
                connection.execute(
                    select(customer_identifiers.c.customer_key).where(
                        and_(
                            customer_identifiers.c.kind == target.kind,
                            customer_identifiers.c.value == target.value,
                        )
                    )
                ).scalars()
            )
            wanted = [(target.kind, target.value, target.raw)]
        rows = connection.execute(
            select(
                customer_identifiers.c.kind, customer_identifiers.c.value, customer_identifiers.c.raw
            ).where(customer_identifiers.c.customer_key.in_(keys))
        ).all()
        known = list(dict.fromkeys([*wanted, *((r.kind, r.value, r.raw) for r in rows)]))
        forms = {v for kind, value, raw in known for v in (value, raw, *_phone_forms(kind, value))}
        needles = sorted(
            {v.strip() for v in forms if len(v.strip()) >= MIN_NEEDLE},
            key=lambda v: (-len(v), v),  # longest first: a raw form containing the value is replaced whole
        )
        erasure = Erasure(text, keys)
        count = erasure.erased
        # A name is searched for only in the customer's own rows: other people share names.
        names = list(connection.execute(select(customers.c.name).where(customers.c.key.in_(keys))).scalars())

        event_rows = self._events(connection, keys, needles)
        erasure.crm_records = self._crm_records(connection, keys, [r.id for r in event_rows], known)
        for row in event_rows:
            retention.purge_event(connection, row.id, row.payload, now)
            connection.execute(update(inbox).where(inbox.c.id == row.id).values(last_error=None))
        if event_rows:  # an event not linked yet is never linked now: nothing is left to link
            connection.execute(
                update(inbox)
                .where(inbox.c.id.in_([r.id for r in event_rows]), inbox.c.status.not_in(("linked", "dead")))
                .values(status="dead", last_error=ERASED_EVENT, lease_owner=None, lease_until=None)
            )
        count["inbox"] = len(event_rows)
        event_ids = [r.event_id for r in event_rows if len(r.event_id) >= 8]
        count["webhook_deliveries"] = self._deliveries(connection, [*needles, *event_ids], now)

        addresses = sorted({(kind, value) for kind, value, _ in known if kind in CHANNELS_OF})
        count["consent_ledger"] = self._consent(connection, keys, addresses, now, erasure)
        match_terms = [*needles, *keys]
        count["ambiguous_matches"] = _deleted(
            connection,
            delete(ambiguous_matches).where(
                or_(
                    ambiguous_matches.c.assigned_key.in_(keys),
                    *(ambiguous_matches.c.identifiers.contains(n, autoescape=True) for n in match_terms),
                )
            ),
        )
        count["shared_identifiers"] = _deleted(
            connection,
            delete(shared_identifiers).where(shared_identifiers.c.value.in_([v for _, v, _ in known])),
        )
        count["customer_identifiers"] = _deleted(
            connection,
            delete(customer_identifiers).where(
                or_(
                    customer_identifiers.c.customer_key.in_(keys),
                    *(
                        and_(customer_identifiers.c.kind == kind, customer_identifiers.c.value == value)
                        for kind, value, _ in wanted
                    ),
                )
            ),
        )
        count["customers"] = _deleted(
            connection,
            update(customers)
            .where(and_(customers.c.key.in_(keys), customers.c.name.is_not(None)))
            .values(name=None),
        )
        for table, changed in _scrub_everywhere(connection, needles).items():
            count[table] = count.get(table, 0) + changed
        names = sorted({n.strip() for n in names if n and len(n.strip()) >= 2}, key=lambda v: (-len(v), v))
        for table, changed in _scrub_everywhere(connection, names, keys=keys).items():
            count[table] = count.get(table, 0) + changed
        return erasure

    @staticmethod
    def _events(connection: Connection, keys: list[str], needles: list[str]) -> list[Any]:
        """The customer's events, and any event whose payload carries one of its identifiers (those
        not purged yet: a purged payload holds nothing personal)."""
        terms = [inbox.c.payload.contains(n, autoescape=True) for n in needles]
        return list(
            connection.execute(
                select(inbox.c.id, inbox.c.event_id, inbox.c.payload)
                .where(inbox.c.purged_at.is_(None), or_(inbox.c.customer_key.in_(keys), *terms))
                .order_by(inbox.c.id)
            ).all()
        )

    @staticmethod
    def _deliveries(connection: Connection, terms: list[str], now: Any) -> int:
        if not terms:
            return 0
        where = or_(
            *(webhook_deliveries.c.body.contains(t, autoescape=True) for t in terms),
            *(webhook_deliveries.c.event.contains(t, autoescape=True) for t in terms),
            *(webhook_deliveries.c.detail.contains(t, autoescape=True) for t in terms),
        )
        ids = connection.execute(select(webhook_deliveries.c.id).where(where)).scalars().all()
        if not ids:
            return 0
        chosen = webhook_deliveries.c.id.in_(ids)
        # a failed delivery would be processed again from its event: it is settled as ignored
        connection.execute(
            update(webhook_deliveries)
            .where(and_(chosen, webhook_deliveries.c.status == "failed"))
            .values(status="ignored")
        )
        connection.execute(
            update(webhook_deliveries)
            .where(chosen)
            .values(
                body="", headers="{}", event="{}", detail="erased by ctihub customer forget", purged_at=now
            )
        )
        return len(ids)

    @staticmethod
    def _consent(
        connection: Connection, keys: list[str], addresses: list[tuple[str, str]], now: Any, erasure: Erasure
    ) -> int:
        """Replace the consent history of each address with one do-not-contact record per channel."""
        plain = [value for _, value in addresses]
        deleted = _deleted(
            connection,
            delete(consent_ledger).where(
                or_(consent_ledger.c.address.in_(plain), consent_ledger.c.customer_key.in_(keys))
            ),
        )
        for kind, value in addresses:
            hashed = erased_address(value)
            for channel in CHANNELS_OF[kind]:
                consent.record_consent(
                    connection,
                    ConsentDecision(channel, hashed, False, now, ERASURE_SOURCE, None),
                    now=now,
                    source_ref=f"{ERASURE_SOURCE}:{channel}:{hashed}",
                )
                erasure.blocked.append(f"{channel} {hashed}")
        return deleted

    def _crm_records(
        self,
        connection: Connection,
        keys: list[str],
        inbox_ids: list[int],
        known: Iterable[tuple[str, str, str]],
    ) -> list[CrmRecord]:
        found: dict[tuple[str, str, str], None] = {}
        for kind, value, _ in known:
            if kind in CRM_PERSONS:
                crm, object_name = CRM_PERSONS[kind]
                found[(crm, object_name, value)] = None
        cases = connection.execute(
            select(episode_cases.c.crm, episode_cases.c.object, episode_cases.c.case_id)
            .join(episodes, episodes.c.id == episode_cases.c.episode_id)
            .where(episodes.c.customer_key.in_(keys))
        ).all()
        for crm, object_name, case_id in cases:
            found[(crm, object_name, case_id)] = None
        links = connection.execute(
            select(
                event_links.c.crm,
                event_links.c.case_object,
                event_links.c.case_id,
                event_links.c.activity_object,
                event_links.c.activity_id,
            ).where(event_links.c.inbox_id.in_(inbox_ids))
        ).all()
        for link in links:
            found[(link.crm, link.case_object, link.case_id)] = None
            if link.crm == "salesforce":  # a Zendesk activity is a comment on its ticket
                found[(link.crm, link.activity_object, link.activity_id)] = None
        return [CrmRecord(crm, obj, rid, self._url(crm, obj, rid)) for crm, obj, rid in sorted(found)]

    def _url(self, crm: str, object_name: str, record_id: str) -> str | None:
        settings = self.crm_settings.get(crm, {})
        if crm == "salesforce" and settings.get("instance_url"):
            return f"{settings['instance_url'].rstrip('/')}/lightning/r/{object_name}/{record_id}/view"
        if crm == "zendesk" and settings.get("subdomain"):
            kind = "users" if object_name == "user" else "tickets"
            return f"https://{settings['subdomain']}.zendesk.com/agent/{kind}/{record_id}"
        return None


def _phone_forms(kind: str, value: str) -> list[str]:
    """The ways a platform may have written an E.164 phone: +1 415-555-0100, (415) 555-0100, 4155550100."""
    if kind != PHONE:
        return []
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return []
    formats = (phonenumbers.PhoneNumberFormat.INTERNATIONAL, phonenumbers.PhoneNumberFormat.NATIONAL)
    written = [phonenumbers.format_number(number, f) for f in formats]
    return [*written, str(number.national_number), value.lstrip("+")]


def _deleted(connection: Connection, statement: Any) -> int:
    return int(connection.execute(statement).rowcount or 0)


def _scrub_everywhere(
    connection: Connection, needles: list[str], *, keys: list[str] | None = None
) -> dict[str, int]:
    """Every text column of every table (primary keys aside): what still holds a needle is replaced
    (a column holding nothing else becomes NULL when it may). JSON stays valid: the identifiers
    hold no character JSON escapes. With ``keys``, only rows whose ``customer_key`` is one of them."""
    changed: dict[str, int] = {}
    if not needles:
        return changed
    for table in metadata.sorted_tables:
        primary = list(table.primary_key.columns)
        columns = [c for c in table.columns if isinstance(c.type, String | Text) and not c.primary_key]
        if not primary or (keys is not None and "customer_key" not in table.columns):
            continue
        scope = table.columns["customer_key"].in_(keys) if keys is not None else and_(True)
        for column in columns:
            if column.name == "customer_key":
                continue
            hits = connection.execute(
                select(*primary, column).where(
                    scope, or_(*(column.contains(n, autoescape=True) for n in needles))
                )
            ).all()
            for hit in hits:
                value = hit[-1]
                if column.nullable and value.strip() in needles:
                    new: str | None = None
                else:
                    new = value
                    for needle in needles:
                        new = new.replace(needle, ERASED)
                connection.execute(
                    update(table)
                    .where(and_(*(k == hit[i] for i, k in enumerate(primary))))
                    .values({column.name: new})
                )
                changed[table.name] = changed.get(table.name, 0) + 1
    return changed


def report(erasure: Erasure) -> list[str]:
    """What ``ctihub customer forget`` prints."""
    verb = "would erase" if erasure.dry_run else "erased"
    lines = [f"{erasure.identifier}: customers {', '.join(erasure.customer_keys) or '(none known)'}"]
    rows = {t: n for t, n in sorted(erasure.erased.items()) if n}
    if not rows:
        lines.append("nothing left to erase in the hub")
    for table, count in rows.items():
        lines.append(f"  {verb} {count:6d}  {table}")
    if erasure.blocked:
        lines.append("kept: do-not-contact records (hashed address; TCPA 47 CFR 64.1200(a)(10), (d)):")
        lines += [f"  {entry}" for entry in erasure.blocked]
    if erasure.crm_records:
        lines.append("still in the CRM (erase them there):")
        lines += [f"  {record.line()}" for record in erasure.crm_records]
    return lines


def as_json(erasure: Erasure) -> str:
    return json.dumps(
        {
            "identifier": erasure.identifier,
            "customer_keys": erasure.customer_keys,
            "erased": erasure.erased,
            "do_not_contact": erasure.blocked,
            "crm_records": [record.__dict__ for record in erasure.crm_records],
            "dry_run": erasure.dry_run,
        },
        indent=2,
    )
