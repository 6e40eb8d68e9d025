"""What linking an event would write under a configuration version, without writing anything.

The preview runs the Linker's own ``prepare`` (customer, episode, case or the claim to create it,
the mapped case and activity fields, SLA fields) with the version's mappings, inside a database
transaction that is rolled back, against a CRM stand-in that refuses writes (reads such as a case
hint's lookup go to the real CRM). So the preview is the write the worker would send, by
construction: the same functions, the same inputs. The recovery plan the event would get comes from
the real recovery engine run on the event alone (``hub.services.recovery_plan_preview``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine

from hub.domain.errors import CrmError
from hub.domain.outcome import Outcome
from hub.mappings import Mappings, load_mappings
from hub.ports import CRM, RoutingTarget
from hub.services import config_docs
from hub.services.link import Linker
from hub.services.recovery_plan_preview import recovery_plan, standing_consent
from hub.services.routing import Router, TargetDirectory, router_for
from hub.services.sla import SlaService, SlaSettings
from hub.services.validation import OutcomeValidator, load_outcome_schema
from hub.store import inbox
from hub.store import sla as sla_store


class _RolledBack:
    """An Engine stand-in: every ``begin()`` is a savepoint in one outer transaction, rolled back."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.dialect = connection.dialect

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        with self.connection.begin_nested():
            yield self.connection

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        yield self.connection


@dataclass
class _NoWrites:
    """The CRM for a preview: reads go to the real CRM; a write would be a bug, so it raises."""

    real: CRM

    @property
    def name(self) -> str:
        return self.real.name

    def get_case(self, case_id: str) -> Any:
        return self.real.get_case(case_id)

    def __getattr__(self, attribute: str) -> Any:
        raise AttributeError(f"a preview never calls CRM.{attribute}")


def _json(value: Any) -> Any:
    return json.loads(
        json.dumps(value, default=lambda v: v.isoformat() if isinstance(v, datetime) else str(v))
    )


def preview_event(
    *,
    linker: Linker,
    mappings: Mappings,
    payload: Mapping[str, Any],
    sla_settings: SlaSettings | None = None,
    episode_id: str | None = None,
) -> dict[str, Any]:
    """The write linking ``payload`` would make with ``mappings`` (nothing is stored or sent)."""
    outcome = Outcome.from_payload(dict(payload))
    engine: Engine = linker.engine
    crm_name = linker.crm.name
    router = _router(linker, mappings)
    if router is not None and router.directory is not None:
        # List the groups/queues before the rolled-back transaction: a sandbox CRM on the same
        # SQLite database could not answer while it is open. The decision is still prepare's own.
        # A failure is prepare's to report (unassigned with the problem, or retryable) from a
        # directory that answers with it: never a second listing inside the transaction.
        try:
            router.directory.targets(max_age=router.directory.miss_refresh)
        except CrmError as exc:
            router = replace(router, directory=TargetDirectory(_failing_listing(exc), linker.clock))
    with engine.connect() as connection, connection.begin() as outer:
        shim: Any = _RolledBack(connection)
        sla = (
            SlaService(
                engine=shim,
                config=mappings.sla,
                clock=linker.clock,
                crm=None,
                settings=sla_settings or SlaSettings(),
            )
            if mappings.sla is not None
            else None
        )
        trial = replace(
            linker,
            engine=shim,
            crm=_NoWrites(linker.crm),
            mapping=mappings.crm(crm_name),
            catalog=mappings.catalog,
            sla_fields=(lambda connection, episode: sla.case_fields_on(connection, episode, crm_name))
            if sla
            else None,
            make_episode_id=(lambda: episode_id) if episode_id else linker.make_episode_id,
            router=router,
        )
        row = inbox.InboxRow(
            id=0,
            source=outcome.source,
            event_id=outcome.event_id,
            payload=json.dumps(dict(payload)),
            attempts=1,
            status="processing",
        )
        prepared = trial.prepare(row, owner="preview")
        policy = _sla_policy(connection, mappings, prepared.episode.id)
        consent = standing_consent(connection, prepared.identifiers)  # the ledger, with this event's
        outer.rollback()
    write = prepared.write
    disposition = prepared.disposition
    case = (
        {
            "action": "create",
            "key": write.case.key,
            "fields": _json(dict(write.case.fields)),
            "routing": write.case.routing.as_dict() if write.case.routing is not None else None,
        }
        if write.case is not None
        else {"action": "append", "id": write.case_id, "fields": _json(dict(write.activity.case_fields))}
    )
    return {
        "crm": crm_name,
        "event": {"source": outcome.source, "event_id": outcome.event_id},
        "customer_key": prepared.customer_key,
        "episode_id": prepared.episode.id,
        "case": case,
        "activity": {
            "key": write.activity.key,
            "body": write.activity.body,
            "fields": _json(dict(write.activity.fields)),
            "case_fields": _json(dict(write.activity.case_fields)),
        },
        "disposition": {
            "code": disposition.code,
            "label": disposition.label,
            "values": dict(disposition.crm_values),
            "tags": {crm: list(tags) for crm, tags in disposition.crm_tags.items()},
        },
        "sla_policy": policy,
        "recovery": recovery_plan(
            mappings,
            payload,
            crm=crm_name,
            default_region=linker.default_region,
            episode_window=linker.window,
            consent=consent,
        ),
    }


def _failing_listing(error: CrmError) -> Callable[[], list[RoutingTarget]]:
    def listing() -> list[RoutingTarget]:
        raise error

    return listing


def _router(linker: Linker, mappings: Mappings) -> Router | None:
    """The version's routing rules over the running linker's directory of groups/queues (its cache),
    so the preview's decision is the one linking would make, without a listing of its own."""
    if mappings.routing is None:
        return None
    if linker.router is not None and linker.router.directory is not None:
        return Router(config=mappings.routing, crm=linker.crm.name, directory=linker.router.directory)
    return router_for(mappings.routing, linker.crm, linker.clock)


def _sla_policy(connection: Connection, mappings: Mappings, episode_id: str) -> str | None:
    """The SLA policy in force after this event (attributes carried forward, as the SLA service does)."""
    if mappings.sla is None:
        return None
    attributes: dict[str, str | None] = {}
    for stored in sla_store.episode_events(connection, episode_id):
        attributes.update({k: v for k, v in stored.attributes.items() if v is not None})
    applied = mappings.sla.apply(attributes)
    return applied.title if applied else None


def mappings_of(documents: Mapping[str, str]) -> Mappings:
    """A version's documents, loaded (raises ConfigError listing the problems)."""
    return load_mappings(config_docs.materialize(documents))


def checked_payload(mappings: Mappings, body: bytes) -> dict[str, Any]:
    """The pasted event, validated like an inbound one against the version's catalog."""
    return OutcomeValidator(load_outcome_schema(), mappings.catalog).parse(body)


def stored_payload(engine: Engine, source: str, event_id: str) -> dict[str, Any] | None:
    """A stored event's payload, by source and event id."""
    from sqlalchemy import select

    from hub.store.tables import inbox as inbox_table

    with engine.connect() as connection:
        found = connection.execute(
            select(inbox_table.c.payload).where(
                inbox_table.c.source == source, inbox_table.c.event_id == event_id
            )
        ).scalar_one_or_none()
    return json.loads(found) if found is not None else None


def compare(hub: Any, versions: Any, payload: Mapping[str, Any], draft: int | None) -> dict[str, Any]:
    """The event under the published version and under version ``draft`` (if given), side by side.

    ``hub`` is the running ``hub.bootstrap.Hub`` (its linker's settings, engine and CRM);
    ``versions`` a ``ConfigVersions``. A version that does not load gives its problems instead.
    """
    from hub.domain.errors import ConfigError

    sla_settings = SlaSettings.from_settings(hub.settings)
    episode_id = hub.linker.make_episode_id()  # one new episode id for both sides, so they compare
    result: dict[str, Any] = {}
    published = versions.published()
    targets = {"published": published}
    if draft is not None:
        targets["draft"] = versions.get(draft)
    for label, version in targets.items():
        if version is None:
            result[label] = None
            continue
        try:
            mappings = mappings_of(version.documents)
        except ConfigError as exc:
            result[label] = {"version": version.id, "problems": [p.as_dict() for p in exc.problems]}
            continue
        body = json.dumps(dict(payload)).encode()
        checked = checked_payload(mappings, body)
        result[label] = {
            "version": version.id,
            **preview_event(
                linker=hub.linker,
                mappings=mappings,
                payload=checked,
                sla_settings=sla_settings,
                episode_id=episode_id,
            ),
        }
    return result


def crm_check(crm: Any, documents: Mapping[str, str]) -> dict[str, Any]:
    """The version's field mapping for the hub's CRM checked against the CRM's live schema
    (``hub.services.crm_check``, as ``ctihub crm check``), each finding placed at its
    ``fields.<crm>.yaml:<line>``, and routing.yaml's groups/queues against the CRM's list
    (``hub.services.routing_check``, at ``routing.yaml:<line>``). Raises ``CrmError`` when the
    schema or the list cannot be read."""
    import re

    from hub.mappings.yaml_lines import load_with_lines
    from hub.services.crm_check import check_mapping

    mappings = mappings_of(documents)
    name = f"fields.{crm.name}.yaml"
    report = check_mapping(mappings.crm(crm.name), mappings.catalog, crm.metadata()).as_dict()
    lined = load_with_lines(documents[name])
    for finding in report["findings"]:
        path: list[str | int] = []
        for key, index in re.findall(r"([A-Za-z_]+)(?:\[(\d+)\])?", finding.get("rule") or ""):
            path.append(key)
            if index:
                path.append(int(index))
        line = lined.line_of(path) if path else None
        finding["path"] = f"{name}:{line}" if line else name
    if mappings.routing is not None and callable(getattr(crm, "routing_targets", None)):
        from hub.services.routing_check import check_routing

        routing = check_routing(mappings.routing, crm.name, crm.routing_targets())
        for routed in routing:
            report["findings"].append({**routed.as_dict(), "path": routed.rule})
        report["errors"] += len(routing)
        report["ok"] = report["ok"] and not routing
        report["routing_checked"] = len(mappings.routing.targets(crm.name))
    return report
