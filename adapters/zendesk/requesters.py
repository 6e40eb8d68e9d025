"""Phone-only customers as Zendesk requesters, without a second user for someone Zendesk knows.

A ticket names its requester inline only by email or user id. For a customer the hub knows only by
phone, the user must be found or made first. Talk and Text create end users with a ``phone_number``
identity and no external_id, so ``users/create_or_update`` (which matches on external_id and email
only) would make a second user. Before making one, the hub searches for the phone the way Talk's
own integration guide does::

    GET /api/v2/users/search.json?query=role:end-user phone:14155550100 phone:14155550101 ...

(digits only, no ``+``). Every returned user is checked here: its ``phone`` (digits) must be one we
asked for and it must be an active end user; of several, the oldest (lowest id) is adopted. Up to
``PHONES_PER_SEARCH`` (30) phones go in one search, so a burst of new customers costs a few calls.

Each customer's user id is then recorded in the hub's ``crm_requesters`` table (the
``RequesterDirectory`` port): shared by every process, surviving restarts. The search happens once
per customer, never per outcome. The table is also the claim: of two workers meeting a new
customer at once, one looks up (and makes, if needed) the user; the other's write is answered
``CrmWriteNotSent`` and comes back a few seconds later to find the id recorded.

Known limit: Zendesk's search index lags (minutes) behind a user's creation, so a user Talk made
moments before the customer's first outcome may not be found, and a second user is made; that is
what ``ctihub dedup`` exists for. Whether repeated ``phone:`` terms are ORed is from the search
reference's treatment of repeated keywords, not verified against a live account: if they were
ANDed, a search of several phones would find nobody and the hub would make users as before
(never adopt a wrong one, since every match is checked).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hub.domain.errors import CrmWriteNotSent
from hub.ports import CustomerProfile, RequesterDirectory

from .errors import CRM

PHONES_PER_SEARCH = 30  # a query of about 560 characters
BUSY_RETRY_SECONDS = 3.0  # another worker is resolving the customer's user: look again this soon
log = logging.getLogger(__name__)

GetJson = Callable[[str, dict[str, str]], dict[str, Any]]


def phone_digits(phone: str | None) -> str:
    return "".join(ch for ch in str(phone or "") if ch.isdigit())


def search_query(phones: Iterable[str]) -> str:
    return " ".join(["role:end-user", *(f"phone:{phone_digits(p)}" for p in phones)])


def find_by_phones(get_json: GetJson, phones: Iterable[str]) -> dict[str, int]:
    """User ids of active end users whose phone is one of ``phones`` (by digits), oldest first."""
    wanted = {phone_digits(p): p for p in phones if phone_digits(p)}
    digits = sorted(wanted)
    found: dict[str, int] = {}
    for start in range(0, len(digits), PHONES_PER_SEARCH):
        chunk = digits[start : start + PHONES_PER_SEARCH]
        answer = get_json("/users/search.json", {"query": search_query(chunk)})
        for user in answer.get("users") or ():
            if not isinstance(user, dict) or not str(user.get("id") or "").isdigit():
                continue
            if (
                user.get("role") not in (None, "end-user")
                or user.get("suspended")
                or user.get("active") is False
            ):
                continue
            number = phone_digits(user.get("phone"))
            if number in chunk and (number not in found or int(user["id"]) < found[number]):
                found[number] = int(user["id"])
    return {wanted[number]: user_id for number, user_id in found.items()}


@dataclass
class Resolution:
    """Per customer key: the user id known or adopted, a reason to come back, or nothing yet (the
    caller holds the claim and must make the user, then ``made`` it)."""

    ids: dict[str, int] = field(default_factory=dict)
    busy: dict[str, CrmWriteNotSent] = field(default_factory=dict)
    to_make: list[CustomerProfile] = field(default_factory=list)


class Requesters:
    """The directory (when the hub gives one) around the in-memory cache of one account."""

    def __init__(
        self,
        directory: RequesterDirectory | None,
        remember: Callable[[str, int], None],
        recall: Callable[[str], int | None],
    ) -> None:
        self.directory = directory
        self.remember = remember
        self.recall = recall

    def preload(self, keys: Iterable[str]) -> None:
        """Bring recorded ids into memory for customers not there yet (one query for many)."""
        missing = [key for key in keys if self.recall(key) is None]
        if self.directory is not None and missing:
            for key, user_id in self.directory.known(CRM, missing).items():
                self.remember(key, user_id)

    def resolve(self, customers: Mapping[str, CustomerProfile], get_json: GetJson) -> Resolution:
        """Known ids; for the rest, claim each, then one search for every claimed phone."""
        result = Resolution()
        self.preload(customers)
        claimed: dict[str, CustomerProfile] = {}
        unknown = {key: c for key, c in customers.items() if self.recall(key) is None}
        result.ids.update({key: known for key in customers if (known := self.recall(key)) is not None})
        claims = self.directory.claim(CRM, list(unknown)) if self.directory is not None and unknown else {}
        for key, customer in unknown.items():
            claim = claims.get(key) if self.directory is not None else None
            if (claim is None and self.directory is None) or (claim is not None and claim.mine):
                claimed[key] = customer
            elif claim is not None and claim.user_id is not None:
                self.remember(key, claim.user_id)
                result.ids[key] = claim.user_id
            else:
                result.busy[key] = CrmWriteNotSent(
                    "the customer's Zendesk user is being looked up by another worker",
                    crm=CRM,
                    crm_code="RequesterBeingResolved",
                    retry_after=BUSY_RETRY_SECONDS,
                )
        phones = {c.phone: key for key, c in claimed.items() if c.phone}
        try:
            adopted = find_by_phones(get_json, phones) if phones else {}
        except Exception:
            self.release(claimed)
            raise
        found = {phones[phone]: user_id for phone, user_id in adopted.items()}
        self.made(found, how="adopted")
        result.ids.update(found)
        result.to_make = [c for key, c in claimed.items() if key not in result.ids]
        if adopted:
            log.info("adopted %d existing Zendesk user(s) found by phone", len(adopted))
        return result

    def made(self, user_ids: Mapping[str, int], *, how: str = "created") -> None:
        for key, user_id in user_ids.items():
            self.remember(key, user_id)
        if self.directory is not None and user_ids:
            self.directory.record(CRM, user_ids, how=how)

    def release(self, keys: Iterable[str]) -> None:
        if self.directory is not None:
            self.directory.release(CRM, list(keys))
