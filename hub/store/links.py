"""What the hub wrote to the CRM: the case of each episode and the records of each event.

The case of an episode is created by one worker only: ``claim_case_creation`` inserts the episode's
``case_claims`` row, and whoever inserted it creates (or adopts) the case; every other worker linking
an event of the same episode meanwhile is told to come back once it is recorded. The claim expires,
so a creator that died is taken over, and the taker knows an earlier attempt may have reached the
CRM (``CaseClaim.takeover``: create with ``retrying=True``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, and_, or_, select, update

from hub.ports import LinkResult, RecordRef
from hub.store.dedup_tables import case_claims, dedup_links
from hub.store.sql import insert_ignoring_conflicts
from hub.store.tables import episode_cases, event_links

CREATING = "creating"
DONE = "done"


@dataclass(frozen=True)
class CaseClaim:
    """What ``claim_case_creation`` found.

    ``mine``: this worker creates the case. ``takeover``: it does so after another attempt (its own
    earlier try, a dead worker's, a failed one) that may have reached the CRM. ``case``: the case was
    recorded meanwhile; use it. Otherwise another worker is creating it until ``expires_at``.
    """

    mine: bool
    takeover: bool = False
    case: RecordRef | None = None
    holder: str | None = None
    expires_at: datetime | None = None


def episode_case(connection: Connection, episode_id: str, crm: str) -> RecordRef | None:
    row = connection.execute(
        select(episode_cases).where(
            and_(episode_cases.c.episode_id == episode_id, episode_cases.c.crm == crm)
        )
    ).first()
    return (
        RecordRef(crm=row.crm, object=row.object, id=row.case_id, created=row.created_by_hub) if row else None
    )


def claim_case_creation(
    connection: Connection,
    episode_id: str,
    crm: str,
    *,
    inbox_id: int,
    owner: str,
    now: datetime,
    ttl: timedelta,
) -> CaseClaim:
    """Become the one worker that creates the episode's case/ticket, or learn who is.

    Call it inside the transaction that found no case for the episode. On PostgreSQL a concurrent
    claimer's INSERT waits for ours to commit and then inserts nothing; on SQLite writers are
    serialized. Claims are never deleted (only taken over), so a claimer that read "no case" just
    before the creator recorded it still finds the claim and then the recorded case.
    """
    claim = {
        "episode_id": episode_id,
        "crm": crm,
        "state": CREATING,
        "inbox_id": inbox_id,
        "owner": owner,
        "claimed_at": now,
        "expires_at": now + ttl,
    }
    if insert_ignoring_conflicts(connection, case_claims, claim, ["episode_id", "crm"]):
        return CaseClaim(mine=True)
    recorded = episode_case(connection, episode_id, crm)
    if recorded is not None:
        return CaseClaim(mine=False, case=recorded)
    key = and_(case_claims.c.episode_id == episode_id, case_claims.c.crm == crm)
    takeover = {
        "state": CREATING,
        "inbox_id": inbox_id,
        "owner": owner,
        "claimed_at": now,
        "expires_at": now + ttl,
        "takeovers": case_claims.c.takeovers + 1,
    }
    # Ours from an earlier attempt of the same event, released after a failure, or expired (its
    # worker died): take it over. (PostgreSQL re-checks these conditions after waiting for a
    # concurrent creator, so a claim that just became done is not taken.)
    creating = and_(
        case_claims.c.state == CREATING,
        or_(case_claims.c.inbox_id == inbox_id, case_claims.c.expires_at <= now),
    )
    if connection.execute(update(case_claims).where(key, creating).values(**takeover)).rowcount == 1:
        return CaseClaim(mine=True, takeover=True)
    row = connection.execute(
        select(case_claims.c.state, case_claims.c.owner, case_claims.c.expires_at).where(key)
    ).first()
    if row is not None and row.state == DONE:
        # Done since we looked: the case is recorded now. Done without a case (removed by hand):
        # create again, as a takeover.
        recorded = episode_case(connection, episode_id, crm)
        if recorded is not None:
            return CaseClaim(mine=False, case=recorded)
        done = case_claims.c.state == DONE
        if connection.execute(update(case_claims).where(key, done).values(**takeover)).rowcount == 1:
            return CaseClaim(mine=True, takeover=True)
    return CaseClaim(
        mine=False, holder=row.owner if row else None, expires_at=row.expires_at if row else None
    )


def release_case_claim(
    connection: Connection, episode_id: str, crm: str, *, inbox_id: int, now: datetime
) -> None:
    """The creator failed: let the next worker take the claim over at once (as a takeover)."""
    _expire_claim(connection, episode_id, crm, inbox_id=inbox_id, at=now)


def hold_case_claim(
    connection: Connection, episode_id: str, crm: str, *, inbox_id: int, until: datetime
) -> None:
    """The creator's write may still land: nobody else creates the case before ``until`` (the
    creator's own retry takes the claim over whenever it comes, as a takeover)."""
    _expire_claim(connection, episode_id, crm, inbox_id=inbox_id, at=until)


def _expire_claim(connection: Connection, episode_id: str, crm: str, *, inbox_id: int, at: datetime) -> None:
    connection.execute(
        update(case_claims)
        .where(
            case_claims.c.episode_id == episode_id,
            case_claims.c.crm == crm,
            case_claims.c.inbox_id == inbox_id,
            case_claims.c.state == CREATING,
        )
        .values(expires_at=at)
    )


def master_of(connection: Connection, crm: str, case_id: str) -> str | None:
    """The master a duplicate case/ticket was linked to by ``ctihub dedup``, if any."""
    return connection.execute(
        select(dedup_links.c.master_id).where(dedup_links.c.crm == crm, dedup_links.c.duplicate_id == case_id)
    ).scalar()


def record_episode_case(connection: Connection, episode_id: str, case: RecordRef, now: datetime) -> RecordRef:
    """Remember the episode's case; if another worker recorded one first, theirs is returned.

    The episode's creation claim, if any, is done from now on.
    """
    insert_ignoring_conflicts(
        connection,
        episode_cases,
        {
            "episode_id": episode_id,
            "crm": case.crm,
            "object": case.object,
            "case_id": case.id,
            "created_by_hub": case.created,
            "linked_at": now,
        },
        ["episode_id", "crm"],
    )
    connection.execute(
        update(case_claims)
        .where(case_claims.c.episode_id == episode_id, case_claims.c.crm == case.crm)
        .values(state=DONE)
    )
    recorded = episode_case(connection, episode_id, case.crm)
    assert recorded is not None
    return recorded


def record_event_links(connection: Connection, inbox_id: int, result: LinkResult, now: datetime) -> None:
    insert_ignoring_conflicts(
        connection,
        event_links,
        {
            "inbox_id": inbox_id,
            "crm": result.case.crm,
            "case_object": result.case.object,
            "case_id": result.case.id,
            "case_created": result.case.created,
            "activity_object": result.activity.object,
            "activity_id": result.activity.id,
            "activity_created": result.activity.created,
            "linked_at": now,
        },
        ["inbox_id", "crm"],
    )
