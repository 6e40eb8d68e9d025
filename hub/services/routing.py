"""Route a new case: the rule of ``routing.yaml`` that matches the event, and its target's CRM id.

``Router.decide`` runs where the Linker plans the create write (``Linker.prepare``), so the
decision travels in ``CaseWrite.routing`` to the adapter and to the admin preview alike. Appends
never ask: a case that exists is never reassigned.

Names are resolved through ``TargetDirectory``: the CRM's whole list of groups/queues
(``hub.ports.RoutingSource``), fetched once and kept for ``ttl`` per process (and again when a name
is missing from a list older than ``miss_refresh``, so a group created a minute ago is found), so
linking costs no call per outcome. When a target cannot be resolved (it does not exist, a queue does
not take Cases, the CRM refuses the listing) the case is created unassigned and a warning is logged
(rule and target names only, never the event's data): routing must not lose or delay the outcome,
and ``ctihub crm check`` lists the same target as a problem with its fix. A listing that fails for
a passing reason (``CrmRetryable``: a timeout, a 5xx, a rate limit) with nothing cached raises, so
the event is retried like the create itself would be, rather than landing unassigned.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from hub.domain.errors import CrmError, CrmRetryable
from hub.domain.outcome import Outcome
from hub.domain.routing import LANGUAGE_KEY, Route, RoutingConfig, normalize_language
from hub.ports import Clock, Routing, RoutingTarget

log = logging.getLogger(__name__)
DEFAULT_TTL = timedelta(minutes=5)
MISS_REFRESH = timedelta(minutes=1)
SALESFORCE_QUEUE_PREFIX = "00G"
WARN_EVERY_SECONDS = 300.0  # one warning per unresolvable target per five minutes and process


def route_for(config: RoutingConfig, crm: str, outcome: Outcome) -> Route:
    return config.route(
        crm,
        intent=outcome.intent,
        priority=outcome.priority,
        channel=outcome.channel,
        language=normalize_language(outcome.metadata.get(LANGUAGE_KEY)),
    )


def find_target(
    crm: str, wanted: str, targets: list[RoutingTarget]
) -> tuple[RoutingTarget | None, str | None]:
    """The target ``wanted`` names (Zendesk: group id or name; Salesforce: queue Id or
    DeveloperName), or None with the reason and a hint."""
    if crm == "salesforce":
        if wanted.startswith(SALESFORCE_QUEUE_PREFIX) and len(wanted) in (15, 18):
            found = next((t for t in targets if t.id[:15] == wanted[:15]), None)
        else:
            found = next((t for t in targets if (t.developer_name or "").lower() == wanted.lower()), None)
        if found is None:
            by_label = next((t for t in targets if t.name.lower() == wanted.lower()), None)
            hint = (
                f"; its label matches queue {by_label.developer_name!r}: use that DeveloperName"
                if by_label
                else ""
            )
            return None, f"no queue {wanted!r} in Salesforce{hint}"
        if not found.accepts_cases:
            return None, f"queue {wanted!r} does not support Cases"
        return found, None
    found = next((t for t in targets if t.id == wanted), None)
    if found is None:
        exact = [t for t in targets if t.name == wanted]
        loose = exact or [t for t in targets if t.name.lower() == wanted.lower()]
        if len(loose) > 1:
            ids = ", ".join(t.id for t in loose)
            return None, f"{len(loose)} groups are named {wanted!r} (ids {ids}); name it by id"
        found = loose[0] if loose else None
    if found is None:
        return None, f"no group {wanted!r} in Zendesk"
    return found, None


@dataclass
class TargetDirectory:
    """The CRM's groups/queues, listed once per ``ttl`` (per process; thread-safe)."""

    list_targets: Callable[[], list[RoutingTarget]]
    clock: Clock
    ttl: timedelta = DEFAULT_TTL
    miss_refresh: timedelta = MISS_REFRESH
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _targets: list[RoutingTarget] | None = field(default=None, repr=False)
    _fetched_at: datetime | None = field(default=None, repr=False)
    _refused: CrmError | None = field(default=None, repr=False)  # the last listing's lasting refusal

    def targets(self, *, max_age: timedelta | None = None) -> list[RoutingTarget]:
        """The cached list, fetched again when older than ``max_age`` (default ``ttl``). A failed
        refresh keeps a cached list (logged); with none cached, the ``CrmError`` is raised."""
        max_age = self.ttl if max_age is None else max_age
        with self._lock:
            now = self.clock.now()
            if (
                self._targets is not None
                and self._fetched_at is not None
                and now - self._fetched_at < max_age
            ):
                return self._targets
            refused_lately = (
                self._refused is not None
                and self._fetched_at is not None
                and now - self._fetched_at < self.miss_refresh
            )
            if self._targets is None and refused_lately:
                raise self._refused  # refused (403 ...) a moment ago: not one call per new case
            try:
                self._targets, self._refused = list(self.list_targets()), None
            except CrmError as exc:
                if self._targets is None:
                    if not isinstance(exc, CrmRetryable):  # passing: the next event may list again
                        self._refused, self._fetched_at = exc, now
                    raise
                log.warning(
                    "routing: could not list the CRM's groups/queues again (%s); using the last list",
                    exc.describe(),
                )
            self._fetched_at = now
            return self._targets

    def resolve(self, crm: str, wanted: str) -> tuple[RoutingTarget | None, str | None]:
        found, problem = find_target(crm, wanted, self.targets())
        if found is None:  # created since the list was fetched? look once more (at most every minute)
            found, problem = find_target(crm, wanted, self.targets(max_age=self.miss_refresh))
        return found, problem


@dataclass
class Router:
    """``routing.yaml``'s rules for one CRM, with the directory that resolves their targets."""

    config: RoutingConfig
    crm: str
    directory: TargetDirectory | None  # None: the adapter cannot list groups/queues
    _warned: dict[tuple[str, str | None, str], float] = field(default_factory=dict, repr=False)

    def decide(self, outcome: Outcome) -> Routing:
        route = route_for(self.config, self.crm, outcome)
        decided = Routing(kind=route.kind, target=route.target, id=None, rule=route.rule, line=route.line)
        if route.target is None:
            return decided
        if self.directory is None:
            return self._unresolved(decided, f"the {self.crm} adapter cannot list its {route.kind}s")
        try:
            found, problem = self.directory.resolve(self.crm, route.target)
        except CrmRetryable:
            raise  # nothing cached and the CRM is briefly away: retry the event, do not lose the route
        except CrmError as exc:
            return self._unresolved(decided, f"could not list the {route.kind}s: {exc.describe()}")
        if found is None:
            return self._unresolved(decided, problem or "not found")
        return replace(decided, id=found.id)

    def _unresolved(self, decided: Routing, problem: str) -> Routing:
        key = (decided.rule, decided.target, problem)
        now = time.monotonic()
        if now - self._warned.get(key, -WARN_EVERY_SECONDS) >= WARN_EVERY_SECONDS:  # not per new case
            self._warned[key] = now
            log.warning(
                "routing: %s %r of routing.yaml %s cannot be assigned (%s); new cases are left unassigned",
                decided.kind,
                decided.target,
                decided.rule,
                problem,
            )
        return replace(decided, problem=problem)


def router_for(
    config: RoutingConfig | None, crm: object, clock: Clock, *, ttl: timedelta = DEFAULT_TTL
) -> Router | None:
    """The Linker's router for ``crm`` (None without routing.yaml)."""
    if config is None:
        return None
    name = str(getattr(crm, "name", ""))
    listing = getattr(crm, "routing_targets", None)
    directory = TargetDirectory(listing, clock, ttl=ttl) if callable(listing) else None
    return Router(config=config, crm=name, directory=directory)
