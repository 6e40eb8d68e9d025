"""Deflection decisions and context carry-over: the use cases behind ``/v1/deflection`` and ``/v1/context``.

``offer`` gathers the facts the rules need, from the hub's own records rather than the caller's word
wherever the hub has them:

- eligible channels: the intent taxonomy (``mappings/intents.yaml``);
- the caller: phone -> E.164 -> the customer key, read-only (an unknown caller is not created);
- earlier attempts: the linked events of the customer's open episode for the intent's family; the
  caller's ``attempts`` are used only when the hub knows no open episode (a first-time caller, or
  events the worker has not linked yet);
- SMS consent: the standing decision of the consent ledger for that number (never the caller's word);
- business hours: the configured schedule at the hub's clock.

Then it decides (``hub.domain.deflection.decide``), signs one context token for the decision, and
records the decision (inputs, offers with reasons, the token's jti) in one transaction.

``trail`` verifies a context token and returns what the receiving channel or agent needs: the
intent, the customer key, the episode and its outcomes with their CRM links. No phone or email.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError
from sqlalchemy import Engine

from hub.domain import business_hours
from hub.domain.body import parse_json
from hub.domain.business_hours import Schedule
from hub.domain.catalog import Catalog
from hub.domain.deflection import (
    OFFER_CHANNELS,
    SENTIMENTS,
    Attempt,
    Decision,
    DeflectionConfig,
    DeflectionRequest,
    Hours,
    decide,
)
from hub.domain.errors import AuthError, Problem, ValidationFailed
from hub.domain.identity import PHONE
from hub.domain.outcome import CHANNELS, OUTCOMES, parse_timestamp
from hub.ports import Clock
from hub.services.context_token import ContextTokens
from hub.services.identity import mask_phone, normalize_phone
from hub.services.validation import MalformedBody
from hub.store import deflection as store
from hub.store.consent import standing_consent
from hub.store.episodes import get_episode

MAX_ATTEMPTS = 50

OFFER_REQUEST_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Deflection offer request",
    "type": "object",
    "required": ["intent", "estimated_wait_seconds", "agents_available"],
    "additionalProperties": False,
    "properties": {
        "intent": {"type": "string", "minLength": 1, "maxLength": 100},
        "phone": {"type": "string", "minLength": 1, "maxLength": 40, "description": "The caller's number."},
        "region": {"type": "string", "pattern": "^[A-Za-z]{2}$", "description": "For a national number."},
        "estimated_wait_seconds": {"type": "integer", "minimum": 0, "maximum": 86400},
        "agents_available": {"type": "integer", "minimum": 0, "maximum": 100000},
        "service_level": {"type": "number", "minimum": 0, "maximum": 1},
        "preference": {"enum": list(OFFER_CHANNELS)},
        "attempts": {
            "type": "array",
            "maxItems": MAX_ATTEMPTS,
            "description": "Earlier attempts in this episode; used only when the hub knows no open episode.",
            "items": {
                "type": "object",
                "required": ["channel", "outcome"],
                "additionalProperties": False,
                "properties": {
                    "channel": {"enum": list(CHANNELS)},
                    "outcome": {"enum": list(OUTCOMES)},
                    "at": {"type": "string", "format": "date-time"},
                },
            },
        },
        "sentiment": {"enum": list(SENTIMENTS)},
        "metadata": {"type": "object", "maxProperties": 50, "description": "Recorded with the decision."},
    },
}

_formats = FormatChecker(formats=())


@_formats.checks("date-time", raises=ValueError)
def _aware_datetime(value: object) -> bool:
    if isinstance(value, str):
        parse_timestamp(value)  # ValueError for a naive or malformed time
    return True


_validator = Draft202012Validator(OFFER_REQUEST_SCHEMA, format_checker=_formats)


def _problems(error: ValidationError) -> list[Problem]:
    path = error.json_path
    if error.validator == "required":
        return [
            Problem(f"{path}.{name}", "is required")
            for name in error.validator_value
            if name not in error.instance
        ]
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        return [Problem(f"{path}.{name}", "is not a known property") for name in extra]
    if error.validator == "format":
        return [Problem(path, f"{error.instance!r} is not a valid {error.validator_value}: {error.cause}")]
    return [Problem(path, error.message)]


@dataclass(frozen=True)
class OfferRequest:
    intent: str
    estimated_wait_seconds: int
    agents_available: int
    phone: str | None = None
    region: str | None = None
    service_level: float | None = None
    preference: str | None = None
    attempts: tuple[Attempt, ...] = ()
    sentiment: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)


def parse_offer_request(body: bytes, catalog: Catalog) -> OfferRequest:
    """The validated request, or ``ValidationFailed`` listing every problem with its JSON path."""
    payload = parse_json(body, MalformedBody)  # 400 when unreadable; 422 for NUL / lone surrogates
    problems = [p for error in _validator.iter_errors(payload) for p in _problems(error)]
    if isinstance(payload, dict):
        intent = payload.get("intent")
        if isinstance(intent, str) and intent and intent not in catalog.intents:
            known = ", ".join(sorted(catalog.intents))
            problems.append(Problem("$.intent", f"unknown intent {intent!r}; configured intents: {known}"))
    if problems:
        count = len(problems)
        raise ValidationFailed(
            f"the offer request has {count} problem{'s' if count > 1 else ''}",
            sorted(problems, key=lambda p: p.path),
        )
    return OfferRequest(
        intent=payload["intent"],
        estimated_wait_seconds=payload["estimated_wait_seconds"],
        agents_available=payload["agents_available"],
        phone=payload.get("phone"),
        region=payload.get("region"),
        service_level=payload.get("service_level"),
        preference=payload.get("preference"),
        attempts=tuple(
            Attempt(a["channel"], a["outcome"], parse_timestamp(a["at"]) if a.get("at") else None)
            for a in payload.get("attempts", ())
        ),
        sentiment=payload.get("sentiment"),
        metadata=payload.get("metadata", {}),
    )


def new_decision_id() -> str:
    """The decision's id and its context token's ``jti``: ``dfl_`` + 24 random hex digits."""
    return f"dfl_{secrets.token_hex(12)}"


@dataclass(frozen=True)
class OfferResult:
    decision: Decision
    decision_id: str
    decided_at: datetime
    intent: str
    customer_key: str | None
    episode_id: str | None
    token: str
    token_expires_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "decision_id": self.decision_id,
            "decided_at": self.decided_at.isoformat(),
            "intent": self.intent,
            "customer_key": self.customer_key,
            "episode_id": self.episode_id,
            "mode": self.decision.mode,
            "summary": self.decision.summary,
            "offers": offers_as_dicts(self.decision, with_token=True),
            "withheld": [{"channel": w.channel, "reason": w.reason} for w in self.decision.withheld],
            "context_token": self.token,
            "context_token_expires_at": self.token_expires_at.isoformat(),
        }


def offers_as_dicts(decision: Decision, *, with_token: bool) -> list[dict[str, Any]]:
    offers = []
    for rank, offer in enumerate(decision.offers, start=1):
        item: dict[str, Any] = {
            "rank": rank,
            "channel": offer.channel,
            "reason": offer.reason,
            "expected_response": offer.expected_response,
            "expected_by": offer.expected_by.isoformat() if offer.expected_by else None,
        }
        if with_token:
            item["context_token"] = offer.context_token
        offers.append(item)
    return offers


@dataclass
class DeflectionService:
    engine: Engine
    catalog: Catalog
    config: DeflectionConfig
    clock: Clock
    tokens: ContextTokens
    schedule: Schedule | None = None
    default_region: str = "US"
    new_id: Callable[[], str] = new_decision_id

    def hours(self, now: datetime) -> Hours:
        schedule = self.schedule
        if schedule is None:
            return Hours()
        if business_hours.is_open(schedule, now):
            return Hours(open=True, schedule=schedule.name)
        opens = business_hours.next_open(schedule, now).astimezone(ZoneInfo(schedule.time_zone))
        return Hours(open=False, next_open=opens, schedule=schedule.name)

    def offer(self, request: OfferRequest) -> OfferResult:
        now = self.clock.now()
        intent = self.catalog.intents[request.intent]
        phone = (
            normalize_phone(request.phone, request.region or self.default_region) if request.phone else None
        )
        e164 = phone.value if phone is not None and phone.valid else None
        hours = self.hours(now)
        decision_id = self.new_id()
        with self.engine.begin() as connection:
            customer_key = store.customer_key_by_identifier(connection, PHONE, e164) if e164 else None
            episode = (
                store.open_episode(connection, customer_key, intent.family, now) if customer_key else None
            )
            if episode is not None:
                attempts, attempts_from = tuple(store.episode_attempts(connection, episode.id)), "hub"
            else:
                attempts, attempts_from = request.attempts, "caller" if request.attempts else "none"
            consent = standing_consent(connection, "sms", e164) if e164 else None
            decision = decide(
                DeflectionRequest(
                    intent=intent.code,
                    eligible_channels=intent.channels,
                    estimated_wait_seconds=request.estimated_wait_seconds,
                    agents_available=request.agents_available,
                    now=now,
                    service_level=request.service_level,
                    preference=request.preference,
                    attempts=attempts,
                    sentiment=request.sentiment,
                    sms_consent=None if consent is None else consent.granted,
                    hours=hours,
                    thresholds=self.config.thresholds,
                )
            )
            episode_id = episode.id if episode else None
            token, expires_at = self.tokens.issue(
                jti=decision_id, intent=intent.code, customer_key=customer_key, episode_id=episode_id, now=now
            )
            decision = decision.with_context_token(token)
            inputs = {
                "intent": intent.code,
                "intent_family": intent.family,
                "eligible_channels": sorted(intent.channels),
                "phone": mask_phone(phone.value) if phone is not None else None,
                "phone_valid": phone.valid if phone is not None else None,
                "estimated_wait_seconds": request.estimated_wait_seconds,
                "agents_available": request.agents_available,
                "service_level": request.service_level,
                "preference": request.preference,
                "sentiment": request.sentiment,
                "attempts_from": attempts_from,
                "attempts": [
                    {"channel": a.channel, "outcome": a.outcome, "at": a.at.isoformat() if a.at else None}
                    for a in attempts
                ],
                "sms_consent": "none" if consent is None else ("granted" if consent.granted else "revoked"),
                "business_hours": {
                    "schedule": hours.schedule,
                    "open": hours.open,
                    "next_open": hours.next_open.isoformat() if hours.next_open else None,
                },
                "thresholds": {
                    "wait_threshold_seconds": self.config.thresholds.wait_threshold_seconds,
                    "idle_agents": self.config.thresholds.idle_agents,
                    "service_level_target": self.config.thresholds.service_level_target,
                    "self_service_failures": self.config.thresholds.self_service_failures,
                },
                "metadata": dict(request.metadata),
            }
            store.record_decision(
                connection,
                store.DecisionRecord(
                    jti=decision_id,
                    decided_at=now,
                    intent=intent.code,
                    customer_key=customer_key,
                    episode_id=episode_id,
                    mode=decision.mode,
                    inputs=inputs,
                    offers={
                        "summary": decision.summary,
                        "offers": offers_as_dicts(decision, with_token=False),
                        "withheld": [{"channel": w.channel, "reason": w.reason} for w in decision.withheld],
                    },
                    token_expires_at=expires_at,
                ),
            )
        return OfferResult(
            decision=decision,
            decision_id=decision_id,
            decided_at=now,
            intent=intent.code,
            customer_key=customer_key,
            episode_id=episode_id,
            token=token,
            token_expires_at=expires_at,
        )

    def trail(self, token: str) -> dict[str, Any]:
        """The context behind a valid token; ``AuthError`` when it is expired, tampered or unknown."""
        claims = self.tokens.verify(token, now=self.clock.now())
        with self.engine.connect().execution_options(readonly=True) as connection:
            decision = store.get_decision(connection, claims.jti)
            if decision is None or (decision.intent, decision.customer_key, decision.episode_id) != (
                claims.intent,
                claims.customer_key,
                claims.episode_id,
            ):
                raise AuthError("the context token is not valid")
            episode = get_episode(connection, claims.episode_id) if claims.episode_id else None
            outcomes = store.episode_outcomes(connection, episode.id) if episode else []
            cases = store.episode_case_links(connection, episode.id) if episode else []
        intent = self.catalog.intents.get(claims.intent)
        reported = (
            decision.inputs.get("attempts", []) if decision.inputs.get("attempts_from") == "caller" else []
        )
        return {
            "intent": {
                "code": claims.intent,
                "label": intent.label if intent else claims.intent,
                "family": intent.family if intent else claims.intent,
            },
            "customer_key": claims.customer_key,
            "episode": None
            if episode is None
            else {
                "id": episode.id,
                "intent": episode.intent,
                "intent_family": episode.intent_family,
                "status": episode.status,
                "opened_at": episode.opened_at.isoformat(),
                "last_event_at": episode.last_event_at.isoformat(),
                "summary": episode_summary(outcomes),
            },
            "outcomes": [o.as_dict() for o in outcomes],
            "cases": cases,
            "reported_attempts": reported,
            "decision": {
                "id": decision.jti,
                "decided_at": decision.decided_at.isoformat(),
                "mode": decision.mode,
                "summary": decision.offers.get("summary"),
                "offers": [
                    {"rank": o["rank"], "channel": o["channel"], "reason": o["reason"]}
                    for o in decision.offers.get("offers", [])
                ],
                "sentiment": decision.inputs.get("sentiment"),
            },
            "token_expires_at": claims.expires_at.isoformat(),
        }


def episode_summary(outcomes: list[store.TrailOutcome]) -> str:
    """``3 contacts: self_service failed (2), chat abandoned (1)``, in the order they first happened."""
    if not outcomes:
        return "no contacts linked yet"
    counts = Counter((o.channel, o.outcome) for o in outcomes)
    parts = [f"{channel} {outcome} ({count})" for (channel, outcome), count in counts.items()]
    return f"{len(outcomes)} contact{'s' if len(outcomes) != 1 else ''}: {', '.join(parts)}"
